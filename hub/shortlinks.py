"""Short links to a ticket's live page, for paper and QR codes: ``/t/{facility}/{code}``.

The patient page of a ticket needs the ticket's token, and a URL that carries a whole token
makes a dense QR code that cheap receipt printers blur. A short link carries instead a
random code (``CODE_LENGTH`` characters of a 32-letter alphabet: 50 bits, drawn with
``secrets``) that maps, in Redis under the facility's hash tag, to the ticket. Opening it
answers a redirect to ``/q/{info}/t/{id}#token=…`` with a fresh patient token in the
fragment (which browsers never send to a server). One code per ticket: asking again for the
same ticket answers the same code.

A code lives until the end of its ticket's business day (midnight, clinic time) plus
``GRACE_S``; after that, and for any code never issued, the page is a readable 404. Guessing
is pointless (a facility has at most a few thousand live codes among 2^50) and is bounded
anyway: each client network may open ``OPEN_LIMIT_PER_IP`` links per minute at a facility.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import cast

from redis.asyncio import Redis

from hub import keys
from hub.auth import Tokens
from hub.errors import NotFound, Unavailable
from hub.queue import calendar
from hub.queue.actions import QueueActions
from hub.ratelimit import RateLimiter

ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
"""Crockford's base32, lower case: no i, l, o, u (nothing to misread when typed)."""
CODE_LENGTH = 10
"""10 characters of 32: 50 bits of ``secrets`` randomness per code."""
CODE_RE = re.compile(rf"^[{ALPHABET}]{{{CODE_LENGTH}}}\Z")
GRACE_S = 3 * 3600
"""A link outlives its ticket's day by this much (a patient opening it just after midnight
sees the page say the ticket is gone, not a 404)."""
OPEN_LIMIT_PER_IP = (60, 60.0)
"""Short links one client network may open per minute at one facility (a burst of 60)."""


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def lifetime_s(now: float, tz: str) -> int:
    """Seconds from ``now`` to the end of its business day in ``tz``, plus ``GRACE_S``."""
    local = calendar.local_time(now, tz)
    midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=local.tzinfo)
    return max(1, int(midnight.timestamp() - now)) + GRACE_S


@dataclass(frozen=True, slots=True)
class ShortLink:
    facility: str
    code: str

    @property
    def path(self) -> str:
        return f"/t/{self.facility}/{self.code}"


class ShortLinkStore:
    """Codes -> ``info/ticket id``, and each ticket's code, in Redis with a TTL."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def code_of(self, info: str, ticket_id: str) -> str | None:
        found = cast(bytes | None, await self.redis.get(keys.ticket_short_link(info, ticket_id)))
        return found.decode() if found is not None else None

    async def add(self, facility: str, code: str, info: str, ticket_id: str, ttl_s: int) -> bool:
        """Store a new code (False when that code is taken already)."""
        key = keys.short_link(facility, code)
        return bool(await self.redis.set(key, f"{info}/{ticket_id}", ex=ttl_s, nx=True))

    async def bind(self, info: str, ticket_id: str, code: str, ttl_s: int) -> str:
        """Make ``code`` the ticket's code unless it has one already; the ticket's code."""
        key = keys.ticket_short_link(info, ticket_id)
        if await self.redis.set(key, code, ex=ttl_s, nx=True):
            return code
        return await self.code_of(info, ticket_id) or code

    async def drop(self, facility: str, code: str) -> None:
        await self.redis.delete(keys.short_link(facility, code))

    async def target(self, facility: str, code: str) -> tuple[str, str] | None:
        found = cast(bytes | None, await self.redis.get(keys.short_link(facility, code)))
        if found is None:
            return None
        info, _, ticket_id = found.decode().partition("/")
        return info, ticket_id


class ShortLinkService:
    """Give a ticket its short link; open a short link."""

    def __init__(
        self, store: ShortLinkStore, queues: QueueActions, limiter: RateLimiter, tokens: Tokens
    ) -> None:
        self.store = store
        self.queues = queues
        self.limiter = limiter
        self.tokens = tokens

    async def for_ticket(self, info: str, ticket_id: str, now: float) -> ShortLink:
        """The ticket's short link (made on first ask); 404 ``unknown_queue`` /
        ``unknown_ticket`` unless the ticket is in today's queue."""
        state = await self.queues.ticket_today(info, ticket_id, now)
        facility = info.partition("-")[0]
        existing = await self.store.code_of(info, ticket_id)
        if existing is not None:
            return ShortLink(facility, existing)
        ttl = lifetime_s(now, state.config.tz)
        for _ in range(8):  # a clash is as likely as guessing a code: never, in practice
            code = new_code()
            if await self.store.add(facility, code, info, ticket_id, ttl):
                kept = await self.store.bind(info, ticket_id, code, ttl)
                if kept != code:  # another request gave the ticket its code meanwhile
                    await self.store.drop(facility, code)
                return ShortLink(facility, kept)
        raise Unavailable("could not allocate a short link, retry", code="busy")

    async def open(self, facility: str, code: str, client_ip: str) -> str:
        """Where the short link leads: the ticket's page with a patient token in the
        fragment. 404 (``not_found``) for a malformed, unknown or expired code; 429
        ``rate_limited`` past the client network's limit."""
        code = code.lower()
        if not CODE_RE.match(code):
            raise NotFound("no such link")
        limit = ("short-ip", keys.client_network(client_ip), OPEN_LIMIT_PER_IP)
        await self.limiter.hit([limit], facility)
        found = await self.store.target(facility, code)
        if found is None:
            raise NotFound("no such link, or it has expired")
        info, ticket_id = found
        return f"/q/{info}/t/{ticket_id}#token={self.tokens.patient(info, ticket_id)}"
