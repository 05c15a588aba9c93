"""Integration endpoints: where a facility's events go, in ``jb:{F}:ep:{id}`` + ``jb:{F}:eps``.

A record is msgpack of its config; the secret (webhook signing secret, ORCA password, FHIR
token) is sealed with ``hub.secrets`` under the record's own key name as associated data, so
it opens only for that endpoint. A secret sealed under ``JUNBAN_SECRET_PREVIOUS`` is
re-sealed under the current secret when read; one no key opens reads as ``secret=None`` with
``secret_unreadable`` (the console shows 要再設定).
"""

from __future__ import annotations

import base64
import builtins
import os
import secrets as random
from dataclasses import dataclass, replace
from typing import Any, cast

import msgspec
from redis.asyncio import Redis

from hub import keys
from hub import secrets as sealing

KINDS = ("webhook", "orca", "fhir")
WEBHOOK_SECRET_PREFIX = "whsec_"


def new_webhook_secret() -> str:
    """``whsec_`` + base64 of 32 random bytes (Standard Webhooks)."""
    return WEBHOOK_SECRET_PREFIX + base64.b64encode(os.urandom(32)).decode()


def new_id() -> str:
    return "ep_" + random.token_hex(6)


@dataclass(frozen=True, slots=True)
class Endpoint:
    id: str
    facility: str
    kind: str
    """"webhook" | "orca" | "fhir": picks the sender (``SENDERS[kind]``)."""
    url: str
    events: tuple[str, ...]
    """Event types it receives (empty = all v1 types); ``ping`` always."""
    counters: tuple[str, ...] | None
    """Counter codes ("01") it covers; None = every counter."""
    personal: bool
    """Payloads carry name and phone."""
    enabled: bool
    config: dict[str, Any]
    """Kind-specific, non-secret (ORCA codes map, FHIR base …)."""
    secret: str | None
    """Decrypted, in memory only; stored sealed."""
    secret_unreadable: bool = False
    """A secret is stored but no key of this process opens it (要再設定)."""
    created_at: float = 0.0
    disabled_reason: str = ""
    """Why it was disabled by the hub ("gone": a 410 answer); "" when staff did it."""
    allow_private: bool = False
    """The operator allowed private addresses for it (an on-premises EMR over a VPN)."""
    previous_secret: str | None = None
    """A webhook's secret before a rotation: requests carry both signatures until
    ``previous_until`` (24 h), so receivers can switch without losing one."""
    previous_until: float = 0.0

    def wants(self, event_type: str, info: str) -> bool:
        """Whether an event of ``event_type`` from queue ``info`` goes to this endpoint."""
        if event_type == "ping":
            return True
        if self.events and event_type not in self.events:
            return False
        counter = info.rpartition("-")[2]
        return self.counters is None or counter in self.counters

    def public(self) -> dict[str, Any]:
        """The endpoint as staff see it: never the secret."""
        return {
            "id": self.id,
            "kind": self.kind,
            "url": self.url,
            "events": list(self.events),
            "counters": None if self.counters is None else list(self.counters),
            "personal": self.personal,
            "enabled": self.enabled,
            "config": self.config,
            "has_secret": self.secret is not None or self.secret_unreadable,
            "needs_secret": self.secret_unreadable,
            "created_at": self.created_at,
            "disabled_reason": self.disabled_reason,
            "previous_secret_until": self.previous_until if self.previous_secret else None,
        }

    def signing_secrets(self, now: float) -> list[str]:
        """The secrets requests are signed with now (the previous one during a rotation)."""
        found = [self.secret] if self.secret is not None else []
        if self.previous_secret is not None and now < self.previous_until:
            found.append(self.previous_secret)
        return found


class _Record(msgspec.Struct, omit_defaults=True):
    id: str
    facility: str
    kind: str
    url: str
    events: list[str]
    counters: list[str] | None
    personal: bool
    enabled: bool
    config: dict[str, Any] = msgspec.field(default_factory=dict)
    sealed: str | None = None
    created_at: float = 0.0
    disabled_reason: str = ""
    allow_private: bool = False
    sealed_previous: str | None = None
    previous_until: float = 0.0


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(_Record)


@dataclass
class EndpointStore:
    """Endpoint records of every facility."""

    redis: Redis

    async def get(self, facility: str, endpoint_id: str) -> Endpoint | None:
        raw = cast(bytes | None, await self.redis.get(keys.endpoint(facility, endpoint_id)))
        if raw is None:
            return None
        return await self._open(_decoder.decode(raw))

    async def list(self, facility: str) -> builtins.list[Endpoint]:
        """The facility's endpoints, oldest first."""
        members = cast(set[bytes], await self.redis.smembers(keys.endpoints(facility)))
        ids = sorted(m.decode() for m in members)
        if not ids:
            return []
        raws = cast(
            list[bytes | None], await self.redis.mget([keys.endpoint(facility, i) for i in ids])
        )
        found = [await self._open(_decoder.decode(r)) for r in raws if r is not None]
        return sorted(found, key=lambda e: (e.created_at, e.id))

    async def put(self, endpoint: Endpoint) -> Endpoint:
        """Store ``endpoint`` (its secret sealed); a ``secret_unreadable`` endpoint without a
        new secret keeps the stored ciphertext."""
        key = keys.endpoint(endpoint.facility, endpoint.id)
        sealed: str | None = None
        if endpoint.secret is not None:
            sealed = sealing.seal(key, endpoint.secret)
        elif endpoint.secret_unreadable:
            raw = cast(bytes | None, await self.redis.get(key))
            sealed = _decoder.decode(raw).sealed if raw is not None else None
        sealed_previous = None
        if endpoint.previous_secret is not None:
            sealed_previous = sealing.seal(key + ":previous", endpoint.previous_secret)
        record = _Record(
            id=endpoint.id,
            facility=endpoint.facility,
            kind=endpoint.kind,
            url=endpoint.url,
            events=list(endpoint.events),
            counters=None if endpoint.counters is None else list(endpoint.counters),
            personal=endpoint.personal,
            enabled=endpoint.enabled,
            config=endpoint.config,
            sealed=sealed,
            created_at=endpoint.created_at,
            disabled_reason=endpoint.disabled_reason,
            allow_private=endpoint.allow_private,
            sealed_previous=sealed_previous,
            previous_until=endpoint.previous_until,
        )
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(key, _encoder.encode(record))
            pipe.sadd(keys.endpoints(endpoint.facility), endpoint.id)
            await pipe.execute()
        return endpoint

    async def delete(self, facility: str, endpoint_id: str) -> bool:
        """Remove the endpoint, its pending events and its dispatch state."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.srem(keys.endpoints(facility), endpoint_id)
            pipe.delete(
                keys.endpoint(facility, endpoint_id),
                keys.endpoint_queue(facility, endpoint_id),
                keys.endpoint_state(facility, endpoint_id),
            )
            removed, _ = await pipe.execute()
        return bool(removed)

    async def disable(self, facility: str, endpoint_id: str, reason: str) -> None:
        found = await self.get(facility, endpoint_id)
        if found is not None and found.enabled:
            await self.put(replace(found, enabled=False, disabled_reason=reason))

    async def _open(self, record: _Record) -> Endpoint:
        key = keys.endpoint(record.facility, record.id)
        secret: str | None = None
        unreadable = False
        if record.sealed is not None:
            secret = sealing.unseal(key, record.sealed)
            unreadable = secret is None
        endpoint = Endpoint(
            id=record.id,
            facility=record.facility,
            kind=record.kind,
            url=record.url,
            events=tuple(record.events),
            counters=None if record.counters is None else tuple(record.counters),
            personal=record.personal,
            enabled=record.enabled,
            config=record.config,
            secret=secret,
            secret_unreadable=unreadable,
            created_at=record.created_at,
            disabled_reason=record.disabled_reason,
            allow_private=record.allow_private,
            previous_secret=(
                sealing.unseal(key + ":previous", record.sealed_previous)
                if record.sealed_previous
                else None
            ),
            previous_until=record.previous_until,
        )
        if secret is not None and record.sealed and sealing.needs_reseal(record.sealed):
            await self.put(endpoint)  # read with JUNBAN_SECRET_PREVIOUS: seal it anew
        return endpoint
