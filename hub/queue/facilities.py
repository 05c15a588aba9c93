"""Facilities (事業所) and their counters (業務): the record behind the partner API."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

import msgspec
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from hub import keys
from hub.queue.model import Notice
from hub.queue.schedule import Session


@dataclass(frozen=True, slots=True)
class Facility:
    """One clinic site. Its queues are ``{number}-{counter}`` for each counter."""

    number: str
    name: str
    address: str = ""
    hours: str = ""
    """Consultation hours as the clinic words them, e.g. "Mon–Fri 9:00–12:00 / 15:00–18:00"."""
    tz: str = "Asia/Tokyo"
    message: str = ""
    suspended: bool = False
    suspended_reason: str = ""
    counters: dict[str, str] = field(default_factory=dict)
    """counter number -> label (e.g. "01" -> "内科")."""
    contract: str = ""
    """The id of the contract that covers this facility; "" when the operator set it up by
    hand (admin API, ``--demo`` without contract), which then has every option."""
    options: tuple[str, ...] | None = None
    """The options contracted now (``emr``, ``phone``, ``api``); None = all (no contract)."""
    rate: tuple[int, float] | None = None
    """Operator-set limit (Art. 37) on web tickets per window; None = JUNBAN_RATE_FACILITY."""
    rate_ip: tuple[int, float] | None = None
    """Operator-set limit per client address at this facility; None = JUNBAN_RATE_IP."""
    rate_key: tuple[int, float] | None = None
    """Operator-set limit of each partner API key of this facility; None = 600 a minute."""
    notices: tuple[Notice, ...] = ()
    """Interruptions and discontinuations announced to this facility's patients."""
    lang: str = "ja"
    """Monitor display and voice language: "ja", "en" or "ja+en" (both)."""
    rooms: dict[str, dict[str, str]] = field(default_factory=dict)
    """counter -> room id -> label (e.g. "01" -> {"1": "診察室1"}); none = rooms "1", "2"…"""
    templates: tuple[str, ...] = ()
    """Ready-made i-messages the console offers."""
    schedule: dict[str, tuple[Session, ...]] = field(default_factory=dict)
    """Weekly web-reception sessions: weekday ("mon"…"sun") -> sessions (hub.queue.schedule);
    the same for every counter. Empty = no automatic opening or closing."""
    closed_days: tuple[str, ...] = ()
    """Dates ("YYYY-MM-DD", local) on which the schedule opens nothing."""
    holidays_closed: bool = False
    """Japanese public holidays are closed days too."""

    def has_option(self, option: str) -> bool:
        return self.options is None or option in self.options

    def current_notices(self, now: float) -> list[dict[str, object]]:
        """The notices not yet over at ``now`` (active or upcoming), soonest first."""
        live = [n for n in self.notices if n.ends_at is None or n.ends_at > now]
        return [n.public() for n in sorted(live, key=lambda n: n.starts_at)]

    def infos(self) -> list[str]:
        return [f"{self.number}-{c}" for c in sorted(self.counters)]

    def public(self) -> dict[str, object]:
        return {
            "facility": self.number,
            "name": self.name,
            "address": self.address,
            "hours": self.hours,
            "tz": self.tz,
            "message": self.message,
            "suspended": self.suspended,
            "counters": [
                {"counter": c, "label": self.counters[c], "rooms": self.room_list(c)}
                for c in sorted(self.counters)
            ],
            "lang": self.lang,
        }

    def room_list(self, counter: str) -> list[dict[str, str]]:
        rooms = self.rooms.get(counter, {})
        return [{"room": r, "label": rooms[r]} for r in sorted(rooms, key=_room_order)]


def _room_order(room: str) -> tuple[int, str]:
    """Rooms "1", "2", "10" in number order, named ones after."""
    return (int(room), room) if room.isdigit() else (1 << 30, room)


_decoder = msgspec.msgpack.Decoder(Facility)
log = logging.getLogger("junban")


def _log_failure(task: asyncio.Task[Facility | None]) -> None:
    """A background refresh that failed: the stale record stays; the next request retries."""
    if not task.cancelled() and task.exception() is not None:
        log.warning("could not refresh a facility record: %s", task.exception())


CACHE_S = 2.0
"""How long ``FacilityStore.cached`` trusts a record read by this process."""


class FacilityStore:
    """Reads and writes facility records (one msgpack string per facility)."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._cache: dict[str, tuple[float, Facility | None]] = {}
        self._loading: dict[str, asyncio.Task[Facility | None]] = {}

    async def cached(self, number: str) -> Facility | None:
        """The record as read at most about ``CACHE_S`` ago by this process (for per-request
        checks such as the facility's rate limit; a change made in this process shows at
        once, one made in another within ``CACHE_S`` or so).

        On the hot path of "take a ticket": concurrent misses share one read (a burst of 500
        requests at 07:30:00 costs one GET, not 500), and an expired record is served while
        one background read refreshes it, so no request waits for the refresh."""
        hit = self._cache.get(number)
        if hit is not None:
            if hit[0] <= time.monotonic() and number not in self._loading:
                self._start_load(number).add_done_callback(_log_failure)
            return hit[1]
        loading = self._loading.get(number) or self._start_load(number)
        return await asyncio.shield(loading)

    def _start_load(self, number: str) -> asyncio.Task[Facility | None]:
        task = asyncio.ensure_future(self._load(number))
        self._loading[number] = task
        task.add_done_callback(
            lambda t: self._loading.pop(number) if self._loading.get(number) is t else None
        )
        return task

    async def _load(self, number: str) -> Facility | None:
        record = await self.get(number)
        if self._loading.get(number) is asyncio.current_task():  # not forgotten meanwhile
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[number] = (time.monotonic() + CACHE_S, record)
        return record

    def forget(self, number: str) -> None:
        """Drop this process's cached record (it changed here): the next read is fresh."""
        self._cache.pop(number, None)
        self._loading.pop(number, None)

    async def get(self, number: str) -> Facility | None:
        data = cast(bytes | None, await self.redis.get(keys.facility(number)))
        return None if data is None else _decoder.decode(data)

    async def create(self, facility: Facility) -> bool:
        """Store a new facility; False (nothing written) when the number is taken."""
        data = msgspec.msgpack.encode(facility)
        if not await self.redis.set(keys.facility(facility.number), data, nx=True):
            return False
        await self.redis.sadd(keys.FACILITIES, facility.number)
        self.forget(facility.number)
        return True

    async def update(self, number: str, change: Callable[[Facility], Facility]) -> Facility | None:
        """Apply ``change`` to the stored record atomically (optimistic WATCH, retried by
        redis-py's ``Redis.transaction``), so a message saved while the operator suspends
        the facility loses neither. None (nothing written) when there is no such facility."""
        key = keys.facility(number)

        async def write(pipe: Pipeline) -> Facility | None:
            data = cast(bytes | None, await pipe.get(key))
            if data is None:
                return None  # the empty MULTI writes nothing
            record = change(_decoder.decode(data))
            pipe.multi()  # type: ignore[no-untyped-call]
            pipe.set(key, msgspec.msgpack.encode(record))
            return record

        updated: Facility | None = await self.redis.transaction(
            write, key, value_from_callable=True
        )
        if updated is not None:
            self.forget(number)
        return updated

    async def next_free_number(self, tries: int = 100) -> str | None:
        """A number no facility has, from the hub's own sequence (1001, 1002, …); None when
        ``tries`` of them in a row were taken or past 8 digits."""
        for _ in range(tries):
            number = str(1000 + int(await self.redis.incr(keys.FACILITY_SEQUENCE)))
            if len(number) <= 8 and await self.get(number) is None:
                return number
        return None

    async def numbers(self) -> list[str]:
        members = cast(set[bytes], await self.redis.smembers(keys.FACILITIES))
        return sorted(m.decode() for m in members)

    async def infos(self) -> list[str]:
        """Every queue of every facility (information numbers), for the keepers' rounds."""
        found: list[str] = []
        for number in await self.numbers():
            record = await self.get(number)
            if record is not None:
                found.extend(record.infos())
        return found

    async def set_scheduled(self, number: str, scheduled: bool) -> None:
        """Index (or not) the facility among those with a web-reception schedule."""
        if scheduled:
            await self.redis.sadd(keys.SCHEDULED, number)
        else:
            await self.redis.srem(keys.SCHEDULED, number)

    async def scheduled(self) -> list[str]:
        """The facilities with a web-reception schedule (what the scheduler looks at)."""
        members = cast(set[bytes], await self.redis.smembers(keys.SCHEDULED))
        return sorted(m.decode() for m in members)

    async def mark_fired(self, number: str, transition: str, ttl_s: int = 2 * 86400) -> bool:
        """Claim a schedule transition (SET NX): True for the one caller that applies it."""
        claimed = await self.redis.set(
            keys.schedule_fired(number, transition), "1", nx=True, ex=ttl_s
        )
        return bool(claimed)

    async def unmark_fired(self, number: str, transition: str) -> None:
        """Give a claimed transition back (applying it failed): the next tick retries it."""
        await self.redis.delete(keys.schedule_fired(number, transition))
