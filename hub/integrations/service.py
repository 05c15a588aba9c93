"""The integration use cases behind ``hub/web/integrations.py``: a facility's endpoints
(create, read, change, delete, test, replay) and its delivery log."""

from __future__ import annotations

import builtins
import re
import secrets as random
from dataclasses import dataclass, replace
from typing import Any, cast
from urllib.parse import urlsplit

from redis.asyncio import Redis

from hub import keys
from hub.errors import BadRequest, Forbidden, NotFound, Unprocessable
from hub.integrations import deliveries
from hub.integrations.dispatch import enqueue, wake
from hub.integrations.endpoints import Endpoint, EndpointStore, new_id, new_webhook_secret
from hub.integrations.events import EVENT_TYPES, IntegrationEvent, events_of, ping
from hub.integrations.guard import check_url
from hub.integrations.kinds import KINDS, Kind
from hub.outbox.entry import parse_entry
from hub.queue.facilities import Facility, FacilityStore

ENDPOINTS_MAX = 20
"""Endpoints one facility may have."""
REPLAY_MAX = 100_000
ROTATION_S = 86_400
"""After a webhook secret's rotation, requests carry both signatures this long."""
"""Events one replay may queue."""
_STREAM_ID = re.compile(r"[0-9]{1,15}(-[0-9]{1,15})?")
_COUNTER = re.compile(r"[0-9]{2}")


@dataclass(frozen=True, slots=True)
class EndpointSpec:
    """What staff set on an endpoint (POST creates with it, PUT replaces with it)."""

    kind: str
    url: str
    events: tuple[str, ...] = ()
    counters: tuple[str, ...] | None = None
    personal: bool | None = None
    enabled: bool = True
    config: dict[str, Any] | None = None
    secret: str | None = None
    """ORCA password / FHIR token (never for webhooks: the hub makes theirs)."""
    rotate_secret: bool = False
    """PUT of a webhook: make a new ``whsec_…`` (answered once)."""


class IntegrationService:
    def __init__(
        self,
        redis: Redis,
        endpoints: EndpointStore,
        facilities: FacilityStore,
        *,
        allow_loopback: bool,
        public_url: str | None,
    ) -> None:
        self.redis = redis
        self.endpoints = endpoints
        self.facilities = facilities
        self.allow_loopback = allow_loopback
        self.own_hosts = tuple(h for h in [urlsplit(public_url or "").hostname] if h)

    async def _facility(self, number: str) -> Facility:
        record = await self.facilities.get(number)
        if record is None:
            raise NotFound("no such facility", code="unknown_facility")
        return record

    async def _endpoint(self, facility: str, endpoint_id: str) -> Endpoint:
        found = None
        if len(endpoint_id) <= 40:
            found = await self.endpoints.get(facility, endpoint_id)
        if found is None:
            raise NotFound("no such endpoint", code="unknown_endpoint")
        return found

    def _kind(self, record: Facility, name: str) -> Kind:
        kind = KINDS.get(name)
        if kind is None:
            raise Unprocessable(f"kind is one of {', '.join(KINDS)}", code="invalid_body")
        if kind.option is not None and not record.has_option(kind.option):
            raise Forbidden(
                f"{name} endpoints need the {kind.option} option (Table 1)",
                code="option_not_contracted",
            )
        return kind

    def _checked(self, record: Facility, spec: EndpointSpec, allow_private: bool) -> Kind:
        kind = self._kind(record, spec.kind)
        check_url(
            spec.url,
            allow_private=allow_private,
            allow_loopback=self.allow_loopback,
            own_hosts=self.own_hosts,
        )
        unknown = [t for t in spec.events if t not in EVENT_TYPES]
        if unknown:
            raise Unprocessable(f"unknown event types {unknown}", code="invalid_body")
        counters = spec.counters or ()
        if any(not _COUNTER.fullmatch(c) for c in counters):
            raise Unprocessable("counters are two-digit codes like 01", code="invalid_body")
        if kind.generated_secret and spec.secret is not None:
            raise Unprocessable("a webhook's secret is made by the hub", code="invalid_body")
        return kind

    async def list(self, facility: str) -> dict[str, Any]:
        await self._facility(facility)
        found = await self.endpoints.list(facility)
        return {"facility": facility, "endpoints": [e.public() for e in found]}

    async def get(self, facility: str, endpoint_id: str) -> dict[str, Any]:
        return (await self._endpoint(facility, endpoint_id)).public()

    async def create(self, facility: str, spec: EndpointSpec, now: float) -> dict[str, Any]:
        """The new endpoint; a webhook's ``secret`` is in this answer only."""
        record = await self._facility(facility)
        kind = self._checked(record, spec, allow_private=False)
        existing = await self.endpoints.list(facility)
        if len(existing) >= ENDPOINTS_MAX:
            raise Unprocessable(f"at most {ENDPOINTS_MAX} endpoints", code="invalid_body")
        secret = new_webhook_secret() if kind.generated_secret else spec.secret
        endpoint = Endpoint(
            id=new_id(),
            facility=facility,
            kind=spec.kind,
            url=spec.url,
            events=tuple(dict.fromkeys(spec.events)),
            counters=None if spec.counters is None else tuple(dict.fromkeys(spec.counters)),
            personal=kind.personal_default if spec.personal is None else spec.personal,
            enabled=spec.enabled,
            config=kind.validate_config(spec.config or {}),
            secret=secret,
            created_at=now,
        )
        await self.endpoints.put(endpoint)
        if endpoint.enabled:
            await wake(self.redis, facility)
        answer = endpoint.public()
        if kind.generated_secret:
            answer["secret"] = secret
        return answer

    async def update(
        self, facility: str, endpoint_id: str, spec: EndpointSpec, now: float
    ) -> dict[str, Any]:
        record = await self._facility(facility)
        old = await self._endpoint(facility, endpoint_id)
        if spec.kind != old.kind:
            raise Unprocessable("an endpoint's kind cannot change", code="invalid_body")
        kind = self._checked(record, spec, allow_private=old.allow_private)
        secret, unreadable = old.secret, old.secret_unreadable
        previous, previous_until = old.previous_secret, old.previous_until
        fresh = kind.generated_secret and spec.rotate_secret
        if fresh:
            previous, previous_until = old.secret, now + ROTATION_S
            secret, unreadable = new_webhook_secret(), False
        elif spec.secret is not None:
            secret, unreadable = spec.secret, False
        endpoint = replace(
            old,
            url=spec.url,
            events=tuple(dict.fromkeys(spec.events)),
            counters=None if spec.counters is None else tuple(dict.fromkeys(spec.counters)),
            personal=old.personal if spec.personal is None else spec.personal,
            enabled=spec.enabled,
            config=kind.validate_config(spec.config or {}),
            secret=secret,
            secret_unreadable=unreadable,
            previous_secret=previous if previous_until > now else None,
            previous_until=previous_until if previous_until > now else 0.0,
            disabled_reason="" if spec.enabled else old.disabled_reason,
        )
        await self.endpoints.put(endpoint)
        if endpoint.enabled and not old.enabled:
            await wake(self.redis, facility)
        answer = endpoint.public()
        if fresh:
            answer["secret"] = secret
        return answer

    async def delete(self, facility: str, endpoint_id: str) -> dict[str, Any]:
        await self._endpoint(facility, endpoint_id)
        await self.endpoints.delete(facility, endpoint_id)
        return {"deleted": endpoint_id}

    async def test(self, facility: str, endpoint_id: str, now: float) -> dict[str, Any]:
        """Queue a ``ping`` behind the endpoint's pending events (the delivery log shows
        how it went)."""
        endpoint = await self._endpoint(facility, endpoint_id)
        event = ping(facility, endpoint.id, random.token_hex(6), now)
        await enqueue(self.redis, endpoint, [event])
        return {"queued": 1, "event": event.id, "enabled": endpoint.enabled}

    async def replay(self, facility: str, endpoint_id: str, since: str | None) -> dict[str, Any]:
        """Queue again, with their original ids, the events the endpoint wants from outbox
        entries at or after ``since`` (a stream id or Unix milliseconds; the outbox keeps 8
        days)."""
        endpoint = await self._endpoint(facility, endpoint_id)
        if since is not None and not _STREAM_ID.fullmatch(since):
            raise BadRequest("since is a stream id or Unix milliseconds", code="invalid_query")
        start = since or "-"
        events: list[IntegrationEvent] = []
        while len(events) < REPLAY_MAX:
            page = cast(
                list[tuple[bytes, dict[bytes, bytes]]],
                await self.redis.xrange(keys.outbox(facility), min=start, max="+", count=500),
            )
            for entry_id, fields in page:
                try:
                    entry = parse_entry(facility, entry_id, fields)
                except ValueError:
                    continue
                events += [e for e in events_of(entry) if endpoint.wants(e.type, e.info)]
            if len(page) < 500:
                break
            start = f"({page[-1][0].decode()}"
        queued = await enqueue(self.redis, endpoint, events[:REPLAY_MAX])
        return {"queued": queued, "since": since}

    async def deliveries(
        self, facility: str, *, limit: int, endpoint_id: str | None, before: str | None
    ) -> dict[str, Any]:
        await self._facility(facility)
        if before is not None and not _STREAM_ID.fullmatch(before):
            raise BadRequest("before is a delivery id", code="invalid_query")
        rows = await deliveries.read(
            self.redis, facility, limit=limit, endpoint_id=endpoint_id, before=before
        )
        return {"facility": facility, "deliveries": rows}

    async def deliveries_csv(
        self, facility: str, *, limit: int, endpoint_id: str | None
    ) -> builtins.list[builtins.list[object]]:
        """The delivery log as CSV rows (newest first, times in the facility's zone)."""
        record = await self._facility(facility)
        rows = await deliveries.read(self.redis, facility, limit=limit, endpoint_id=endpoint_id)
        return deliveries.csv_rows(rows, record.tz)
