"""Pairing a waiting-room monitor with a one-time code instead of typing a token on a TV.

Staff of a facility ask for a code: six random digits, stored in Redis with a 10-minute TTL
under that facility (``keys.pairing``). The monitor page (which knows its facility from its
URL) shows a code entry; claiming the code deletes it in the same step (``GETDEL``, so a code
pairs exactly one screen) and answers a long-lived ``monitor`` token for that facility. Codes
are scoped to their facility: a claim for another facility never sees, nor spends, this one.
Claims are rate limited per client address and per facility, so guessing one of the million
codes of a facility is hopeless within its ten minutes, and a flood of guesses against one
clinic never blocks pairing at another.
"""

from __future__ import annotations

import re
import secrets
from typing import Any, cast

from redis.asyncio import Redis

from hub import keys
from hub.auth import Tokens
from hub.errors import BadRequest, NotFound, Unavailable
from hub.queue.facilities import FacilityStore
from hub.ratelimit import RateLimiter

CODE_TTL_S = 600
"""A pairing code is valid for 10 minutes."""
MONITOR_TOKEN_TTL_S = 180 * 24 * 3600
"""A paired monitor runs unattended for months; re-pair (or issue a new token) after that."""
CLAIM_LIMIT_PER_IP = (10, 60.0)
CLAIM_LIMIT_PER_FACILITY = (30, 60.0)
"""At most 300 guesses at one facility's codes within a code's 10 minutes: each live code
is hit with a chance of 3 in 10,000."""
CODE_RE = re.compile(r"^[0-9]{6}\Z")


class PairingCodes:
    """The facility's pairing codes in Redis: issued once, spent once."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def add(self, facility: str, code: str) -> bool:
        """Store a new code (False when that code is live already)."""
        return bool(await self.redis.set(keys.pairing(facility, code), "1", ex=CODE_TTL_S, nx=True))

    async def spend(self, facility: str, code: str) -> bool:
        """Delete the code; True when it was live (exactly one caller gets True)."""
        return cast(bytes | None, await self.redis.getdel(keys.pairing(facility, code))) is not None


class PairingService:
    """Issue a code to staff; trade a code for a monitor token."""

    def __init__(
        self, codes: PairingCodes, facilities: FacilityStore, limiter: RateLimiter, tokens: Tokens
    ) -> None:
        self.codes = codes
        self.facilities = facilities
        self.limiter = limiter
        self.tokens = tokens

    async def create(self, facility: str) -> dict[str, Any]:
        """A fresh 6-digit code for ``facility``; 404 ``unknown_facility``."""
        if await self.facilities.get(facility) is None:
            raise NotFound("no such facility", code="unknown_facility")
        for _ in range(8):  # a clash with a live code is rare (a handful among a million)
            code = f"{secrets.randbelow(1_000_000):06d}"
            if await self.codes.add(facility, code):
                return {"code": code, "facility": facility, "expires_in": CODE_TTL_S}
        raise Unavailable("could not allocate a pairing code, retry", code="busy")

    async def claim(self, facility: str, code: str, client_ip: str) -> dict[str, Any]:
        """Spend ``code`` of ``facility`` for a monitor token (rate limited per address and
        per facility); 404 ``unknown_pairing_code`` when wrong, used or expired."""
        if not CODE_RE.match(code):
            raise BadRequest("a pairing code is 6 digits", code="invalid_code")
        await self.limiter.hit(
            [
                ("pair-ip", client_ip, CLAIM_LIMIT_PER_IP),
                ("pair-facility", facility, CLAIM_LIMIT_PER_FACILITY),
            ],
            facility,
        )
        if not await self.codes.spend(facility, code):
            raise NotFound(
                "that pairing code is wrong, used or expired; ask staff for a new one",
                code="unknown_pairing_code",
            )
        if await self.facilities.get(facility) is None:
            raise NotFound("no such facility", code="unknown_facility")
        token = self.tokens.issue(
            "monitor", subject=f"monitor-{code}", facility=facility, ttl_s=MONITOR_TOKEN_TTL_S
        )
        return {
            "token": token,
            "role": "monitor",
            "facility": facility,
            "expires_in": MONITOR_TOKEN_TTL_S,
        }
