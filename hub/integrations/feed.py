"""The event feed (``GET /v1/facilities/{f}/integrations/events?after=&limit=``): the v1
integration events read straight from the facility's outbox (8 days), for an EMR behind NAT
that cannot receive webhooks; a partner key with ``events:read`` polls it (the EMR option).

A page is up to ``limit`` outbox entries (committed batches) after the stream id ``after``
(exclusive), each mapped with ``hub.integrations.events.events_of`` and ``payload(personal=
True)``: one entry may carry several events. ``next`` is the stream id to send as ``after``
next time; the events' ids (``evt_…``) are stable, so a receiver dedupes a re-read page.
"""

from __future__ import annotations

import logging
import re
from typing import Any, cast

import orjson
from redis.asyncio import Redis

from hub import keys
from hub.errors import BadRequest, Forbidden, NotFound
from hub.integrations.events import events_of, payload
from hub.outbox.entry import parse_entry
from hub.queue.facilities import FacilityStore

PAGE_MAX = 1000
PAGE_DEFAULT = 100
_ENTRY_ID = re.compile(r"[0-9]{1,19}(-[0-9]{1,19})?\Z")
"""A stream id; each part below 10^19 (< 2^64 - 1: never the last id, so ``(id`` is valid)."""
log = logging.getLogger("junban")


def check_after(after: str | None) -> str | None:
    """``after`` when it is a stream id (``1764000000000-0``); else 400 ``invalid_query``."""
    if after is not None and not _ENTRY_ID.match(after):
        raise BadRequest("after is a stream id such as 1764000000000-0", code="invalid_query")
    return after


class EventFeed:
    """Reads pages of a facility's outbox as integration events."""

    def __init__(self, redis: Redis, facilities: FacilityStore) -> None:
        self.redis = redis
        self.facilities = facilities

    async def read(self, facility: str, after: str | None, limit: int) -> dict[str, Any]:
        """Up to ``limit`` outbox entries after ``after`` (None: the oldest kept) as events;
        404 ``unknown_facility``; 403 ``option_not_contracted`` without the ``emr`` option."""
        check_after(after)
        record = await self.facilities.cached(facility)
        if record is None:
            raise NotFound("no such facility", code="unknown_facility")
        if not record.has_option("emr"):
            raise Forbidden(
                "this facility has not contracted the EMR link option (Table 1)",
                code="option_not_contracted",
            )
        start = "-" if after is None else f"({after}"
        entries = cast(
            list[tuple[bytes, dict[bytes, bytes]]],
            await self.redis.xrange(keys.outbox(facility), min=start, max="+", count=limit),
        )
        events: list[dict[str, Any]] = []
        last = after
        for entry_id, fields in entries:
            last = entry_id.decode()
            try:
                entry = parse_entry(facility, entry_id, fields)
            except ValueError as exc:  # a broken entry: skipped here, dead-lettered elsewhere
                log.warning("event feed of %s: %s", facility, exc)
                continue
            for event in events_of(entry):
                body = orjson.loads(payload(event, personal=True))
                events.append({"id": event.id, "stream_id": last, **body})
        return {
            "facility": facility,
            "events": events,
            "next": last,
            "more": len(entries) == limit,
        }
