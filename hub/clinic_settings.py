"""The clinic's own settings (the settings page): its profile (name, address, hours,
counters and their labels, rooms), display language, i-message templates, weekly
web-reception schedule, closed days and public holidays.

A change is validated as a whole before anything is stored (``apply_change`` is pure), then
written in one optimistic transaction on the facility record, and then shown live: each
queue gets the new name, label, rooms and language in its public view (``SetProfile``, as
the i-message travels with ``SetMessage``). A new counter gets its queue; a counter with
tickets waiting or called today is not removed (409 ``counter_busy``); a removed counter's
queue stays (its history), with reception closed so it takes no more tickets.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from hub.errors import Conflict, NotFound, Unprocessable
from hub.queue import calendar, rules, schedule, views
from hub.queue.events import QueueCreated
from hub.queue.facilities import Facility, FacilityStore
from hub.queue.model import CloseReception, CloseWeb, QueueConfig, QueueState, SetProfile
from hub.queue.profile import Profile
from hub.queue.schedule import Session
from hub.queue.service import QueueService
from hub.queue.store import QueueStore

LANGS = ("ja", "en", "ja+en")
MAX_TEMPLATES = 20
MAX_CLOSED_DAYS = 400
MAX_ROOMS = 30


@dataclass(frozen=True, slots=True)
class ProfileChange:
    """What to change; None leaves a field as it is (PATCH), PUT sends every field."""

    name: str | None = None
    address: str | None = None
    hours: str | None = None
    counters: Mapping[str, str] | None = None
    rooms: Mapping[str, Mapping[str, str]] | None = None
    lang: str | None = None
    templates: tuple[str, ...] | None = None
    schedule: Mapping[str, tuple[Session, ...]] | None = None
    closed_days: tuple[str, ...] | None = None
    holidays_closed: bool | None = None


def _invalid(message: str) -> Unprocessable:
    return Unprocessable(message, code="invalid_body")


def apply_change(record: Facility, change: ProfileChange) -> Facility:
    """The record with ``change`` applied; 422 ``invalid_body`` naming the first problem
    (nothing is applied then)."""
    updates: dict[str, Any] = {
        f.name: getattr(change, f.name)
        for f in dataclasses.fields(change)
        if getattr(change, f.name) is not None
    }
    if "name" in updates and not updates["name"].strip():
        raise _invalid("name: the clinic needs a name")
    if "counters" in updates:
        updates["counters"] = dict(updates["counters"])
        if not updates["counters"]:
            raise _invalid("counters: a facility needs at least one counter")
    if "lang" in updates and updates["lang"] not in LANGS:
        raise _invalid(f"lang: one of {', '.join(LANGS)}")
    if "templates" in updates:
        updates["templates"] = tuple(t for t in updates["templates"] if t.strip())
        if len(updates["templates"]) > MAX_TEMPLATES:
            raise _invalid(f"templates: at most {MAX_TEMPLATES}")
    if "schedule" in updates:
        try:
            schedule.check_week(updates["schedule"])
        except ValueError as exc:
            raise _invalid(f"schedule: {exc}") from exc
        updates["schedule"] = {
            day: tuple(sorted(sessions, key=lambda s: s.start))
            for day, sessions in updates["schedule"].items()
            if sessions
        }
    if "closed_days" in updates:
        try:
            days = sorted({schedule.check_day(d) for d in updates["closed_days"]})
        except ValueError as exc:
            raise _invalid(f"closed_days: {exc}") from exc
        if len(days) > MAX_CLOSED_DAYS:
            raise _invalid(f"closed_days: at most {MAX_CLOSED_DAYS}")
        updates["closed_days"] = tuple(d.isoformat() for d in days)
    counters = updates.get("counters", record.counters)
    rooms = {c: dict(r) for c, r in updates.get("rooms", record.rooms).items() if c in counters}
    for counter, named in rooms.items():
        if len(named) > MAX_ROOMS:
            raise _invalid(f"rooms: at most {MAX_ROOMS} rooms for counter {counter}")
    if "rooms" in updates:
        stray = sorted(set(updates["rooms"]) - set(counters))
        if stray:
            raise _invalid(f"rooms: no counter {stray[0]}")
    updates["rooms"] = {c: r for c, r in rooms.items() if r}
    return replace(record, **updates)


def profile_of(record: Facility, counter: str) -> Profile:
    """What the public view of ``counter``'s queue shows of the facility."""
    rooms = tuple((r["room"], r["label"]) for r in record.room_list(counter))
    return Profile(
        name=record.name,
        label=record.counters.get(counter, ""),
        lang=record.lang,
        rooms=rooms,
        counters=tuple(sorted(record.counters)),
    )


def week_view(week: Mapping[str, tuple[Session, ...]]) -> dict[str, list[dict[str, str]]]:
    return {
        day: [{"start": s.start, "end": s.end, "label": s.label} for s in week.get(day, ())]
        for day in schedule.WEEKDAYS
    }


class ClinicSettings:
    """Reads and changes the settings a clinic's staff edit themselves."""

    def __init__(self, facilities: FacilityStore, store: QueueStore, queues: QueueService) -> None:
        self.facilities = facilities
        self.store = store
        self.queues = queues

    async def _require(self, number: str) -> Facility:
        record = await self.facilities.get(number)
        if record is None:
            raise NotFound("no such facility", code="unknown_facility")
        return record

    async def read(self, number: str, now: float) -> dict[str, Any]:
        """The whole editable record, each counter's queue configuration and state of web
        reception, and the next Japanese public holidays."""
        record = await self._require(number)
        today = date.fromisoformat(calendar.business_day(now, record.tz))
        queues = []
        for counter in sorted(record.counters):
            state = await self.store.load(f"{number}-{counter}")
            queues.append(
                {
                    "info": f"{number}-{counter}",
                    "counter": counter,
                    "config": None if state is None else _config(state.config),
                    "open": state is not None and state.open,
                    "web_open": state is not None and state.web_open,
                }
            )
        return {
            **record.public(),
            "templates": list(record.templates),
            "schedule": week_view(record.schedule),
            "closed_days": list(record.closed_days),
            "holidays_closed": record.holidays_closed,
            "web_scheduled_open": schedule.should_be_open(
                record.schedule, now, record.tz, record.closed_days, record.holidays_closed
            ),
            "upcoming_holidays": [
                {"date": d.isoformat(), "name_ja": ja, "name_en": en}
                for d, ja, en in schedule.upcoming_holidays(today, 6)
            ],
            "queues": queues,
        }

    async def change(self, number: str, change: ProfileChange, now: float) -> dict[str, Any]:
        """Validate and store ``change``, create new counters' queues, refuse (409
        ``counter_busy``) to remove a counter with tickets waiting or called today, and
        show the new profile live in every queue; answers as ``read``."""
        before = await self._require(number)
        after = apply_change(before, change)  # 422 before anything is written
        removed = [f"{number}-{c}" for c in sorted(set(before.counters) - set(after.counters))]
        for info in removed:
            await self._check_idle(info, now)
        updated = await self.facilities.update(number, lambda r: apply_change(r, change))
        if updated is None:
            raise NotFound("no such facility", code="unknown_facility")
        await self.facilities.set_scheduled(number, bool(updated.schedule))
        for info in updated.infos():  # new queues first: the profiles announce them
            if await self.store.load_view(info) is None:
                await self._create_queue(info, updated.tz, now)
        for info in updated.infos():
            profile = profile_of(updated, info.partition("-")[2])
            await self.queues.execute(info, SetProfile(at=now, profile=profile), lambda s: None)
        for info in removed:  # its queue stays (history, audit) but takes no more tickets
            for command in (CloseWeb(at=now), CloseReception(at=now)):
                await self.queues.execute(info, command, lambda s: None)
        return await self.read(number, now)

    async def _check_idle(self, info: str, now: float) -> None:
        state = await self.store.load(info)
        if state is None or state.day != calendar.business_day(now, state.config.tz):
            return
        if state.waiting or state.calling:
            raise Conflict(
                f"counter {info.partition('-')[2]} still has tickets waiting or called today",
                code="counter_busy",
            )

    async def _create_queue(self, info: str, tz: str, now: float) -> None:
        """A new counter's queue, as the facility's first ones were created."""
        state = QueueState(info=info, epoch=secrets.token_hex(4), version=1)
        event = QueueCreated(at=now, info=info, config=QueueConfig(tz=tz))
        rules.apply_in_place(state, event)
        await self.store.append(state, [event], 0)


def _config(config: QueueConfig) -> dict[str, Any]:
    """A counter's configuration as ``PUT /v1/queues/{info}/config`` takes it."""
    shown = dataclasses.asdict(config)
    bookings = config.bookings
    shown["bookings"] = None if bookings is None else views.booking_settings(bookings)
    return shown
