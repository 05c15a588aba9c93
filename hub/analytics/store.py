"""Where daily summaries live and how they are written: ``SummaryStore``.

Each queue has a **cursor** (``keys.summary_cursor``): the stream id of the ``day_started``
entry of its first day not yet summarised, that entry's version and day, and the queue's
state right after it. ``catch_up`` reads the queue's stream from there; each day that ended
(another ``day_started`` follows it) is summarised, and the summary is stored with
``HSETNX`` while the cursor moves past the day, in one script call that checks the cursor
is still where the caller read it (``summary_put.lua``): two processes racing compute the
same summary and one is kept. The day still running is summarised too and returned
(``today so far``) but not stored.

Days are cut where the queue's own ``day_started`` entries are, so a queue idle for days
closes its last day at its next command (or when the day keeper rolls it). Entries missing
between the cursor and the end (the stream's ``MAXLEN`` trimmed them) make that day's
summary ``incomplete``: it counts what is there and never guesses.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from typing import Any, cast

import msgspec
from redis.asyncio import Redis

from hub import keys
from hub.analytics.summary import DaySummary, summarise
from hub.analytics.summary import known as summary_known
from hub.queue.events import DayStarted, Event, QueueCreated
from hub.queue.evolve import evolve_all
from hub.queue.model import QueueState
from hub.queue.store import decode_event, decode_state, encode_state

CHUNK = 2000
"""Stream entries read per call."""
THREAD_EVENTS = 2000
"""A day with more events than this is folded in a worker thread."""

log = logging.getLogger("junban")

_encode = msgspec.msgpack.Encoder().encode
_decode_summary = msgspec.msgpack.Decoder(DaySummary).decode


@dataclass(slots=True)
class Cursor:
    id: str
    v: int
    state: QueueState
    """The queue's state right after the ``day_started`` at ``id``."""
    stored: bool = True
    """False for a queue's first cursor, found in its stream and not yet written."""


@dataclass(slots=True)
class CaughtUp:
    stored: list[DaySummary]
    """Days this call summarised and stored."""
    running: DaySummary | None
    """The day in progress (the last ``day_started`` on), not stored."""


def encode_summary(summary: DaySummary) -> bytes:
    return _encode(summary)


def decode_summary(data: bytes) -> DaySummary:
    return _decode_summary(data)


class SummaryStore:
    """Reads and writes one Redis's daily summaries (module docstring)."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        lua = resources.files("hub.analytics").joinpath("lua")
        self._put = redis.register_script(lua.joinpath("summary_put.lua").read_text())

    async def days(self, info: str, dates: list[str]) -> dict[str, DaySummary]:
        """The stored summaries of ``dates`` (those that exist)."""
        if not dates:
            return {}
        found = cast(list[bytes | None], await self.redis.hmget(keys.summaries(info), dates))
        days = {}
        for date, data in zip(dates, found, strict=True):
            if data:
                try:
                    days[date] = decode_summary(data)
                except msgspec.ValidationError as exc:  # a shape no longer read: left out
                    log.warning("summary %s of %s does not decode: %s", date, info, exc)
        return days

    async def put(self, summary: DaySummary) -> bool:
        """Store a summary as is (demo data and tests); False when the day has one."""
        key = keys.summaries(summary.info)
        return bool(await self.redis.hsetnx(key, summary.date, encode_summary(summary)))

    async def cursor(self, info: str) -> Cursor | None:
        found = cast(
            list[bytes | None],
            await self.redis.hmget(keys.summary_cursor(info), ["id", "v", "state"]),
        )
        if found[0] is None or found[1] is None or found[2] is None:
            return None
        return Cursor(found[0].decode(), int(found[1]), decode_state(found[2]))

    async def cursor_day(self, info: str) -> str | None:
        """The day the cursor is at (cheap: for the keeper's check)."""
        day = await self.redis.hget(keys.summary_cursor(info), "day")
        return None if day is None else cast(bytes, day).decode()

    async def catch_up(self, info: str, *, running: bool = True) -> CaughtUp:
        """Summarise and store every day of the queue that ended since the cursor; the day
        still running comes back unstored (unless ``running`` is False: not even folded).
        A queue's first cursor is stored at once, so the keeper's check sees it."""
        cursor = await self.cursor(info)
        if cursor is None:
            cursor = await self._first_cursor(info)
            if cursor is None:
                return CaughtUp([], None)
            if not await self._move(info, cursor, cursor, None):
                return await self.catch_up(info, running=running)  # another went first
            cursor = Cursor(cursor.id, cursor.v, cursor.state)  # stored now
        stored: list[DaySummary] = []
        while True:
            day, boundary = await self._read_day(info, cursor)
            if boundary is None:
                if not running:
                    return CaughtUp(stored, None)
                summary = await _fold(cursor.state, day.events, day.gap)
                return CaughtUp(stored, summary)
            summary = await _fold(cursor.state, day.events, day.gap)
            started_id, started_v, started = boundary
            state = evolve_all(cursor.state, [*_known(cursor.state, day.events), started])
            state.version = started_v
            following = Cursor(started_id, started_v, state)
            if not await self._move(info, cursor, following, summary):
                found = await self.cursor(info)  # another process went first: go on from there
                if found is None or found.id == cursor.id:
                    return CaughtUp(stored, None)
                cursor = found
                continue
            stored.append(summary)
            cursor = following

    async def _move(
        self, info: str, cursor: Cursor, following: Cursor, summary: DaySummary | None
    ) -> bool:
        """Store ``summary`` (when there is one) and the cursor ``following``, if the stored
        cursor is still ``cursor`` (or there is none and ``cursor`` is a first one)."""
        moved = await self._put(
            keys=[keys.summary_cursor(info), keys.summaries(info)],
            args=[
                cursor.id if cursor.stored else "",
                following.id,
                following.v,
                following.state.day,
                encode_state(following.state),
                "" if summary is None else summary.date,
                b"" if summary is None else encode_summary(summary),
            ],
        )
        return bool(int(moved))

    async def _first_cursor(self, info: str) -> Cursor | None:
        """A queue never summarised: its state right after the first ``day_started`` left in
        its stream. Folded from the stream's start when that is the queue's creation (version
        1); else (the oldest entries were trimmed) a fresh day with the queue's current
        settings, from its snapshot."""
        prefix: list[Event] = []
        for entry_id, v, event in await self._entries(info, "-"):
            if isinstance(event, DayStarted):
                complete = bool(prefix) and isinstance(prefix[0], QueueCreated)
                base = evolve_all(QueueState(info=info), prefix) if complete else None
                if base is None:
                    base = await self._settings(info)
                state = evolve_all(base, [event])
                state.version = v
                return Cursor(entry_id, v, state, stored=False)
            prefix.append(event)
        return None

    async def _settings(self, info: str) -> QueueState:
        """A state with the queue's current settings (config, profile, range factors) and
        nothing of any day, from its snapshot."""
        snap = await self.redis.hget(keys.queue(info), "snap")
        state = QueueState(info=info)
        if snap is not None:
            current = decode_state(cast(bytes, snap))
            state.config, state.profile = current.config, current.profile
            state.range_factors = current.range_factors
            state.minutes_per_patient = current.config.default_minutes
        return state

    async def _read_day(
        self, info: str, cursor: Cursor
    ) -> tuple[_DayRead, tuple[str, int, DayStarted] | None]:
        """The events after the cursor up to the next ``day_started`` (and that entry).
        Entries missing (a version skipped: the stream's MAXLEN trimmed or lost them) end
        what is read of the day there: it is ``gap``, and what follows up to the next
        ``day_started`` may belong to days whose start is gone, so it is passed over."""
        day = _DayRead(events=[], gap=False)
        last_v, start = cursor.v, f"({cursor.id}"
        while True:
            entries = await self._entries(info, start)
            for entry_id, v, event in entries:
                if v not in (last_v, last_v + 1):
                    day.gap = True
                last_v = v
                if isinstance(event, DayStarted) and event.day > cursor.state.day:
                    return day, (entry_id, v, event)
                if not day.gap:
                    day.events.append(event)
            if len(entries) < CHUNK:
                return day, None
            start = f"({entries[-1][0]}"

    async def _entries(self, info: str, start: str) -> list[tuple[str, int, Event]]:
        raw = cast(
            list[tuple[bytes, dict[bytes, bytes]]],
            await self.redis.xrange(keys.log(info), min=start, count=CHUNK),
        )
        return list(_decoded(raw))


@dataclass(slots=True)
class _DayRead:
    events: list[Event]
    gap: bool


def _known(state: QueueState, events: list[Event]) -> list[Event]:
    """The events whose ticket the day knows (all, unless entries were lost)."""
    return [e for e in events if summary_known(state, e)]


async def _fold(start: QueueState, events: list[Event], gap: bool) -> DaySummary:
    """``summarise``; a long day in a worker thread, so the event loop is not held for it
    (the fold takes about 7 µs an event)."""
    if len(events) < THREAD_EVENTS:
        return summarise(start, events, incomplete=gap)
    return await asyncio.to_thread(summarise, start, events, incomplete=gap)


def _decoded(raw: list[tuple[bytes, dict[bytes, bytes]]]) -> Iterator[tuple[str, int, Any]]:
    for entry_id, fields in raw:
        event = decode_event(fields[b"t"].decode(), fields[b"e"])
        yield entry_id.decode(), int(fields[b"v"]), event
