"""Pairing a waiting-room monitor or a reception kiosk with a one-time code instead of
typing a token on a TV or a touch screen.

Staff of a facility ask for a code: eight random digits, stored in Redis with a 10-minute
TTL under that facility (``keys.pairing``). The monitor page (which knows its facility from
its URL) shows a code entry; claiming the code deletes it in the same step (``GETDEL``, so a
code pairs exactly one screen) and answers a long-lived ``monitor`` token for that facility.
A kiosk is paired the same way with codes of its own (``keys.kiosk_pairing``): its claim
answers a ``kiosk`` token, which issues kiosk tickets at that facility and nothing else
(``hub.queue.actions``).
Codes are scoped to their facility and their kind: a claim for another facility, or for
the other kind of device, never sees, nor spends, this one.

Guessing is bounded without letting a flood refuse the real claim (docs/security.md, "Pairing
claims"): every claim counts against its client network's limit (``CLAIM_LIMIT_PER_IP``);
a network's first ``FREE_FAILURES`` wrong claims at a facility draw on nothing shared, so the
clinic's own monitor is always checked whatever others send; only claims from networks that
have failed more draw on the facility's shared budget (``CLAIM_FAILURES_PER_FACILITY``),
which a flood from changing addresses can spend without ever touching the real claim.
"""

from __future__ import annotations

import re
import secrets
from typing import Any, Literal, cast

from redis.asyncio import Redis

from hub import keys
from hub.auth import Tokens
from hub.errors import BadRequest, NotFound, Unavailable
from hub.queue.facilities import FacilityStore
from hub.ratelimit import RateLimiter

CODE_TTL_S = 600
"""A pairing code is valid for 10 minutes."""
CODE_DIGITS = 8
"""10^8 codes per facility: a guess hits one live code with a chance of 1 in 100 million."""
MONITOR_TOKEN_TTL_S = 180 * 24 * 3600
"""A paired monitor runs unattended for months; re-pair (or issue a new token) after that."""
CLAIM_LIMIT_PER_IP = (10, 60.0)
"""Claims one client network (an IPv4 address, an IPv6 /64) may make at one facility per
minute, right or wrong."""
FREE_FAILURES = 3
"""Wrong claims of one client network at a facility (within a code's lifetime) that draw on
no shared budget: the real monitor, even after a typo or two, is always checked."""
CLAIM_FAILURES_PER_FACILITY = (100, 600.0)
"""Claims per 10 minutes at one facility from networks past ``FREE_FAILURES`` (a burst of
100, then one every 6 s): with N attacking networks, at most 3N + 200 guesses reach the
facility's codes in a code's 10 minutes."""
CODE_RE = re.compile(r"^[0-9]{8}\Z")
KIOSK_TOKEN_TTL_S = MONITOR_TOKEN_TTL_S
"""A kiosk, like a monitor, runs unattended for months."""
Device = Literal["monitor", "kiosk"]
"""What a code pairs; also the role of the token its claim answers."""
_TTL: dict[str, int] = {"monitor": MONITOR_TOKEN_TTL_S, "kiosk": KIOSK_TOKEN_TTL_S}


def _code_key(facility: str, code: str, device: Device) -> str:
    return keys.kiosk_pairing(facility, code) if device == "kiosk" else keys.pairing(facility, code)


class PairingCodes:
    """The facility's pairing codes in Redis: issued once, spent once; and the wrong claims
    of each client network at the facility."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def add(self, facility: str, code: str, device: Device = "monitor") -> bool:
        """Store a new code (False when that code is live already)."""
        key = _code_key(facility, code, device)
        return bool(await self.redis.set(key, "1", ex=CODE_TTL_S, nx=True))

    async def spend(self, facility: str, code: str, device: Device = "monitor") -> bool:
        """Delete the code; True when it was live (exactly one caller gets True)."""
        key = _code_key(facility, code, device)
        return cast(bytes | None, await self.redis.getdel(key)) is not None

    async def reserve_failure(self, facility: str, address: str) -> int:
        """Count this claim as a wrong one of ``address``'s network at ``facility`` *before*
        the code is tried, atomically (so parallel claims each get their own number); the
        count so far, this claim included. It lives ``CODE_TTL_S`` after the last claim."""
        key = keys.pairing_failures(facility, address)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, CODE_TTL_S)
            count, _ = await pipe.execute()
        return int(count)

    async def forget_failures(self, facility: str, address: str) -> None:
        """The network's claim was right: its wrong claims are forgotten."""
        await self.redis.delete(keys.pairing_failures(facility, address))


class PairingService:
    """Issue a code to staff; trade a code for a monitor (or kiosk) token."""

    def __init__(
        self, codes: PairingCodes, facilities: FacilityStore, limiter: RateLimiter, tokens: Tokens
    ) -> None:
        self.codes = codes
        self.facilities = facilities
        self.limiter = limiter
        self.tokens = tokens

    async def create(self, facility: str, device: Device = "monitor") -> dict[str, Any]:
        """A fresh 8-digit code pairing a ``device`` of ``facility``; 404 ``unknown_facility``."""
        if await self.facilities.get(facility) is None:
            raise NotFound("no such facility", code="unknown_facility")
        for _ in range(8):  # a clash with a live code is rare (a handful among 10^8)
            code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
            if await self.codes.add(facility, code, device):
                return {"code": code, "facility": facility, "expires_in": CODE_TTL_S}
        raise Unavailable("could not allocate a pairing code, retry", code="busy")

    async def claim(
        self, facility: str, code: str, client_ip: str, device: Device = "monitor"
    ) -> dict[str, Any]:
        """Spend ``code`` of ``facility`` for a ``device`` token (role ``monitor`` or
        ``kiosk``); 404 ``unknown_pairing_code``
        when wrong, used or expired; 429 ``rate_limited`` past the client network's limit,
        or past the facility's shared budget for networks with ``FREE_FAILURES`` wrong
        claims. A live code is never refused for what other networks sent."""
        if not CODE_RE.match(code):
            raise BadRequest(f"a pairing code is {CODE_DIGITS} digits", code="invalid_code")
        network = keys.client_network(client_ip)
        await self.limiter.hit([("pair-ip", network, CLAIM_LIMIT_PER_IP)], facility)
        if await self.codes.reserve_failure(facility, client_ip) > FREE_FAILURES:
            shared = ("pair-facility", facility, CLAIM_FAILURES_PER_FACILITY)
            await self.limiter.hit([shared], facility)  # refused: it stays counted as wrong
        if not await self.codes.spend(facility, code, device):
            raise NotFound(
                "that pairing code is wrong, used or expired; ask staff for a new one",
                code="unknown_pairing_code",
            )
        await self.codes.forget_failures(facility, client_ip)
        if await self.facilities.get(facility) is None:
            raise NotFound("no such facility", code="unknown_facility")
        ttl = _TTL[device]
        token = self.tokens.issue(device, subject=f"{device}-{code}", facility=facility, ttl_s=ttl)
        return {"token": token, "role": device, "facility": facility, "expires_in": ttl}
