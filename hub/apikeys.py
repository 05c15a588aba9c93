"""Partner API keys (Table 1's API option, the EMR link; Art. 37 limits): per facility,
scoped, shown once, revocable, audited.

A key reads ``jbk_{facility}_{43 characters of base64url}`` (32 random bytes). Only its
SHA-256 is stored, in the hash ``jb:{F}:apikeys`` (digest -> msgpack ``KeyRecord``): a
high-entropy key needs no slow hash. Sent as ``Authorization: Bearer jbk_…``, the router
(``hub.web.routing``) asks ``ApiKeyService.verify`` for a ``partner`` principal with the
key's scopes and id, then ``ApiKeyService.admit`` on each route it opens
(``ROUTE_SCOPES``): the scope, the key's own facility, the option the scope needs, the
key's own GCRA limit, and the usage count. Records are cached per process for at most
``CACHE_S``, so a revocation acts everywhere within 2 s (at once in the revoking process).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any, cast

import msgspec
from redis.asyncio import Redis

from hub import keys
from hub.auth import Principal
from hub.errors import Conflict, Forbidden, NotFound, Unauthorized
from hub.queue.facilities import Facility, FacilityStore
from hub.ratelimit import RateLimiter

PREFIX = "jbk_"
SECRET_CHARS = 43
"""base64url of 32 random bytes, unpadded."""
KEY_RE = re.compile(r"jbk_([0-9]{1,8})_([A-Za-z0-9_-]{43})\Z")
SCOPES: dict[str, str] = {
    "public:read": "api",
    "events:read": "emr",
    "tickets:write": "emr",
}
"""scope -> the facility option (Table 1) it needs."""
ROUTE_SCOPES: dict[tuple[str, str], str] = {
    ("GET", "/v1/queues/{info}"): "public:read",
    ("GET", "/v1/queues/{info}/events"): "public:read",
    ("GET", "/v1/facilities/{facility}"): "public:read",
    ("POST", "/v1/queues/{info}/tickets"): "tickets:write",
    ("DELETE", "/v1/queues/{info}/tickets/{ticket_id}"): "tickets:write",
    ("GET", "/v1/facilities/{facility}/integrations/events"): "events:read",
}
"""The only routes a partner key may call, and the scope each needs; anything else is 403."""
DEFAULT_RATE: tuple[int, float] = (600, 60.0)
"""Requests per window of one key unless the operator set the facility's ``rate_key``."""
MAX_ACTIVE = 20
"""Keys not revoked per facility (409 ``too_many_api_keys`` past it)."""
CACHE_S = 2.0
"""How long a process trusts a key record it read (the revocation delay elsewhere)."""
USAGE_FLUSH_S = 1.0
"""A key's use count and last use are written at most this often per process."""


def parse_key(text: str) -> str | None:
    """The facility number of a well-formed key, else None (pure; never raises)."""
    match = KEY_RE.match(text)
    return None if match is None else match.group(1)


def new_key(facility: str) -> str:
    """A fresh key for ``facility``: 256 random bits."""
    return f"{PREFIX}{facility}_{secrets.token_urlsafe(32)}"


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class KeyRecord(msgspec.Struct, frozen=True, kw_only=True):
    """What is stored of one key (never the key itself)."""

    id: str
    label: str
    scopes: tuple[str, ...]
    created_by: str
    created_at: float
    hint: str
    """The key's last 4 characters, so staff can tell keys apart."""
    revoked_at: float | None = None


_decoder = msgspec.msgpack.Decoder(KeyRecord)


def key_view(record: KeyRecord, uses: int = 0, last_used_at: float | None = None) -> dict[str, Any]:
    return {
        "id": record.id,
        "label": record.label,
        "scopes": list(record.scopes),
        "created_by": record.created_by,
        "created_at": record.created_at,
        "hint": record.hint,
        "revoked": record.revoked_at is not None,
        "revoked_at": record.revoked_at,
        "uses": uses,
        "last_used_at": last_used_at,
    }


class ApiKeyStore:
    """The facility's key records (``keys.apikeys``) and their usage (``keys.apikeys_used``)."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def get(self, facility: str, key_digest: str) -> KeyRecord | None:
        data = cast(bytes | None, await self.redis.hget(keys.apikeys(facility), key_digest))
        return None if data is None else _decoder.decode(data)

    async def all(self, facility: str) -> dict[str, KeyRecord]:
        """digest -> record, every key of the facility (revoked ones too)."""
        raw = cast(dict[bytes, bytes], await self.redis.hgetall(keys.apikeys(facility)))
        return {d.decode(): _decoder.decode(v) for d, v in raw.items()}

    async def put(self, facility: str, key_digest: str, record: KeyRecord) -> None:
        await self.redis.hset(keys.apikeys(facility), key_digest, msgspec.msgpack.encode(record))

    async def usage(self, facility: str) -> dict[str, tuple[int, float | None]]:
        """key id -> (uses, last used at)."""
        raw = cast(dict[bytes, bytes], await self.redis.hgetall(keys.apikeys_used(facility)))
        found: dict[str, tuple[int, float | None]] = {}
        for field, value in raw.items():
            key_id, _, what = field.decode().rpartition(":")
            uses, last = found.get(key_id, (0, None))
            if what == "n":
                uses = int(value)
            elif what == "t":
                last = float(value)
            found[key_id] = (uses, last)
        return found

    async def note_use(self, facility: str, key_id: str, count: int, at: float) -> None:
        pipe = self.redis.pipeline(transaction=False)
        pipe.hincrby(keys.apikeys_used(facility), f"{key_id}:n", count)
        pipe.hset(keys.apikeys_used(facility), f"{key_id}:t", repr(at))
        await pipe.execute()


@dataclass(frozen=True, slots=True)
class Minted:
    key: str
    """Shown once, in the answer to the mint; never again."""
    record: KeyRecord


class ApiKeyService:
    """Mint, list and revoke keys; verify one on a request and admit it to a route."""

    def __init__(self, store: ApiKeyStore, facilities: FacilityStore, limiter: RateLimiter) -> None:
        self.store = store
        self.facilities = facilities
        self.limiter = limiter
        self._cache: dict[str, tuple[float, str, KeyRecord | None]] = {}
        self._pending: dict[tuple[str, str], int] = {}
        self._flushed: dict[tuple[str, str], float] = {}

    async def _require_facility(self, facility: str) -> Facility:
        record = await self.facilities.get(facility)
        if record is None:
            raise NotFound("no such facility", code="unknown_facility")
        return record

    async def mint(
        self, facility: str, label: str, scopes: tuple[str, ...], who: str, now: float
    ) -> Minted:
        """A new key with ``scopes`` (each needs its option: 403 ``option_not_contracted``);
        409 ``too_many_api_keys`` past ``MAX_ACTIVE`` keys not revoked."""
        record = await self._require_facility(facility)
        for scope in scopes:
            if not record.has_option(SCOPES[scope]):
                raise Forbidden(
                    f"scope {scope} needs the {SCOPES[scope]} option, not contracted (Table 1)",
                    code="option_not_contracted",
                )
        existing = await self.store.all(facility)
        if sum(1 for r in existing.values() if r.revoked_at is None) >= MAX_ACTIVE:
            raise Conflict(
                f"a facility holds at most {MAX_ACTIVE} keys: revoke one first",
                code="too_many_api_keys",
            )
        key = new_key(facility)
        minted = KeyRecord(
            id="ak_" + secrets.token_hex(6),
            label=label,
            scopes=tuple(sorted(set(scopes))),
            created_by=who,
            created_at=now,
            hint=key[-4:],
        )
        await self.store.put(facility, digest(key), minted)
        return Minted(key=key, record=minted)

    async def list_keys(self, facility: str) -> list[dict[str, Any]]:
        """Every key of the facility, newest first (never the key itself)."""
        await self._require_facility(facility)
        records = await self.store.all(facility)
        usage = await self.store.usage(facility)
        ordered = sorted(records.values(), key=lambda r: r.created_at, reverse=True)
        return [key_view(r, *usage.get(r.id, (0, None))) for r in ordered]

    async def revoke(self, facility: str, key_id: str, now: float) -> KeyRecord:
        """Revoke a key: refused at once in this process, within ``CACHE_S`` in others.
        404 ``unknown_api_key``; revoking a revoked key keeps its first revocation time."""
        for key_digest, record in (await self.store.all(facility)).items():
            if record.id == key_id:
                if record.revoked_at is None:
                    record = msgspec.structs.replace(record, revoked_at=now)
                    await self.store.put(facility, key_digest, record)
                self._cache.pop(key_digest, None)
                return record
        raise NotFound("no such API key at this facility", code="unknown_api_key")

    async def verify(self, key: str) -> tuple[Principal, bool]:
        """The ``partner`` principal of a key and whether it was revoked (the router refuses
        it, 401 ``token_revoked``, and audits who it was); 401 ``invalid_token`` for an
        unknown or malformed key."""
        facility = parse_key(key)
        if facility is None:
            raise Unauthorized("the API key is malformed", code="invalid_token")
        key_digest = digest(key)
        hit = self._cache.get(key_digest)
        if hit is None or hit[0] <= time.monotonic():
            record = await self.store.get(facility, key_digest)
            if len(self._cache) > 10_000:
                self._cache.clear()
            hit = (time.monotonic() + CACHE_S, facility, record)
            self._cache[key_digest] = hit
        record = hit[2]
        if record is None:
            raise Unauthorized("no such API key", code="invalid_token")
        principal = Principal(
            role="partner",
            subject=record.id,
            facility=facility,
            scopes=record.scopes,
            key_id=record.id,
        )
        return principal, record.revoked_at is not None

    async def admit(
        self, principal: Principal, method: str, path: str, facility: str | None, now: float
    ) -> None:
        """Let a key call ``method path`` on ``facility``, or refuse: 403 ``forbidden`` for a
        route keys may not call or another facility, 403 ``insufficient_scope``, 403
        ``option_not_contracted``, 429 ``rate_limited`` over the key's limit."""
        scope = ROUTE_SCOPES.get((method, path))
        if scope is None:
            raise Forbidden("a partner API key may not call this route", code="forbidden")
        if facility is None or facility != principal.facility:
            raise Forbidden("this API key belongs to another facility", code="forbidden")
        if scope not in principal.scopes:
            raise Forbidden(f"this API key lacks the scope {scope}", code="insufficient_scope")
        record = await self.facilities.cached(facility)
        if record is None:
            raise NotFound("no such facility", code="unknown_facility")
        if not record.has_option(SCOPES[scope]):
            raise Forbidden(
                f"this facility has not contracted the {SCOPES[scope]} option (Table 1)",
                code="option_not_contracted",
            )
        rate = record.rate_key or DEFAULT_RATE
        key_id = principal.key_id or principal.subject
        await self.limiter.hit([("key", key_id, rate)], facility)
        await self._note_use(facility, key_id, now)

    async def _note_use(self, facility: str, key_id: str, now: float) -> None:
        """Count a use; written at most every ``USAGE_FLUSH_S`` per key and process."""
        slot = (facility, key_id)
        self._pending[slot] = self._pending.get(slot, 0) + 1
        if time.monotonic() - self._flushed.get(slot, 0.0) < USAGE_FLUSH_S:
            return
        count = self._pending.pop(slot)
        if len(self._flushed) > 10_000:
            self._flushed.clear()
        self._flushed[slot] = time.monotonic()
        await self.store.note_use(facility, key_id, count, now)
