"""The booking use cases the web layer calls, and the day keeper.

A booking is made in its date's book (``BookWriters``: group commit, version-checked). At
check-in the queue admits it as a ticket with the booking's id (``AdmitBooking``, placed by
``hub.queue.placement``; the queue refuses a second one), then the book records it. After
every change to today's book the queue gets today's counts (``SetBands``), which its
walk-in estimates count. The keeper marks no-shows, repairs a check-in whose second step
was lost, and sends the counts at day start.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import date as Date
from datetime import timedelta
from functools import partial
from typing import Any

import orjson
from redis.exceptions import RedisError

from hub.auth import Tokens
from hub.booking import config as cfg
from hub.booking import rules
from hub.booking.model import (
    Book,
    Booking,
    CancelBooking,
    MakeBooking,
    MarkCheckedIn,
    MarkNoShow,
    day_of,
    new_booking_id,
)
from hub.booking.views import bands_command, booking_view, bookings_of_day, day_bands
from hub.booking.writer import BookWriters
from hub.errors import Conflict, Forbidden, JunbanError, NotFound, Unprocessable
from hub.queue import annotate, calendar, views
from hub.queue.actions import QueueActions
from hub.queue.facilities import FacilityStore
from hub.queue.model import AdmitBooking, QueueConfig, QueueState, SetBands
from hub.queue.service import Idempotency
from hub.settings import Settings

log = logging.getLogger("junban")
CONFIG_TTL_S = 2.0
"""How long this process reuses a queue's settings it read."""
TOKEN_AFTER_S = 36 * 3600
MAX_DAYS = 62


@dataclass(frozen=True, slots=True)
class BookingOrder:
    """What a caller asks for when booking (the parsed body, and who asks)."""

    day: str
    band: str
    staff: bool
    client_ip: str
    channel: str | None = None
    name: str = ""
    phone: str = ""
    patient_ref: str | None = None


class BookingService:
    def __init__(
        self,
        writers: BookWriters,
        queues: QueueActions,
        facilities: FacilityStore,
        tokens: Tokens,
        settings: Settings,
    ) -> None:
        self.writers = writers
        self.store = writers.store
        self.queues = queues
        self.facilities = facilities
        self.tokens = tokens
        self.settings = settings
        self._configs: dict[str, tuple[float, int, QueueConfig]] = {}
        self._loading: dict[str, asyncio.Future[QueueState | None]] = {}
        self._synced: dict[str, int] = {}
        self._wanted: dict[str, int] = {}
        self._sync_locks: dict[str, asyncio.Lock] = {}

    # ---- reading ----------------------------------------------------------------------------

    async def config(self, info: str, now: float) -> QueueConfig:
        """The queue's settings: read at most every ``CONFIG_TTL_S``, or this process's
        writer's when they are newer (a change made through this hub applies at once, one
        made through another within ``CONFIG_TTL_S``). 404 ``unknown_queue``."""
        kept = self._configs.get(info)
        if kept is None or kept[0] <= now:
            loading = self._loading.get(info)
            if loading is None or loading.done():  # one read for the requests waiting on it
                loading = self._loading[info] = asyncio.ensure_future(self.queues.store.load(info))
            state = await asyncio.shield(loading)
            if state is None:
                raise NotFound("no such queue", code="unknown_queue")
            kept = self._configs[info] = (now + CONFIG_TTL_S, state.version, state.config)
        writer = self.queues.service.writers.get(info)
        mine = None if writer is None else writer.state
        return mine.config if mine is not None and mine.version >= kept[1] else kept[2]

    async def _bookings_on(
        self, info: str, now: float, made: bool = False
    ) -> tuple[cfg.BookingConfig, str]:
        """The counter's booking settings and zone; 404 ``bookings_off`` when it takes no
        bookings, unless ``made``: bookings already made are kept (seen, cancelled, checked
        in with the default window) after a clinic turns bookings off."""
        config = await self.config(info, now)
        if config.bookings is None and not made:
            raise NotFound("this counter takes no bookings", code="bookings_off")
        return config.bookings or cfg.BookingConfig(), config.tz

    async def bands(self, info: str, start: str | None, days: int, now: float) -> dict[str, Any]:
        """Places left in each band from ``start`` (default today) for ``days`` days, within
        the horizon: counts only, no names."""
        bookings, tz = await self._bookings_on(info, now)
        today = calendar.business_day(now, tz)
        last = _plus(today, bookings.horizon_days)
        first = min(max(start or today, today), last)
        dates = [first]
        while len(dates) < min(days, MAX_DAYS) and dates[-1] < last:
            dates.append(_plus(dates[-1], 1))
        books = await self.store.load_many(info, dates)
        return {
            "info": info,
            "tz": tz,
            "today": today,
            "horizon_days": bookings.horizon_days,
            "check_in": bookings.check_in,
            "early_min": bookings.early_min,
            "late_min": bookings.late_min,
            "days": [day_bands(bookings, book, tz, now) for book in books],
        }

    async def day_book(self, info: str, day: str | None, now: float) -> dict[str, Any]:
        """The day's bookings with names (staff), and its bands' counts."""
        bookings, tz = await self._bookings_on(info, now, made=True)
        day = day or calendar.business_day(now, tz)
        book = await self.store.load(info, day)
        return bookings_of_day(bookings, book, tz, now)

    async def get(self, info: str, booking_id: str, staff: bool, now: float) -> dict[str, Any]:
        bookings, tz = await self._bookings_on(info, now, made=True)
        book, booking = await self._find(info, booking_id)
        return booking_view(bookings, book, booking, tz, now, staff)

    async def _find(self, info: str, booking_id: str) -> tuple[Book, Booking]:
        day = day_of(booking_id)
        book = None if day is None else await self.store.load(info, day)
        booking = None if book is None else book.bookings.get(booking_id)
        if book is None or booking is None:
            raise NotFound("no such booking", code="unknown_booking")
        return book, booking

    # ---- booking and cancelling -------------------------------------------------------------

    async def book(
        self, info: str, facility: str, order: BookingOrder, idem: Idempotency | None, now: float
    ) -> dict[str, Any]:
        """Book a place in a band. Patients' bookings count against Art. 37's limits like
        web tickets. 201 ``{booking, token, url}``."""
        bookings, tz = await self._bookings_on(info, now)
        staff = order.staff
        if order.patient_ref is not None:
            annotate.check_patient_ref(order.patient_ref)
        try:
            Date.fromisoformat(order.day)
        except ValueError as exc:
            raise Unprocessable("date is not a calendar date", code="invalid_body") from exc
        channel = order.channel or ("desk" if staff else "web")
        if not staff and channel != "web":
            raise Forbidden("only staff may book for the desk or the phone")
        if idem is not None:
            first = await self.writers.replay(info, idem)
            if first is not None:
                return dict(first)
        record = await self.facilities.cached(facility)
        if not staff:
            await self.queues.count_web_request(facility, order.client_ip)
        day = order.day
        booking_id = new_booking_id(day)
        command = MakeBooking(
            at=now,
            booking_id=booking_id,
            band=order.band,
            config=bookings,
            tz=tz,
            channel=channel,
            staff=staff,
            name=order.name,
            phone=order.phone,
            patient_ref=order.patient_ref,
            service_hours=None if staff else self.settings.service_hours,
            suspended=record is not None and record.suspended,
        )

        def respond(book: Book) -> dict[str, Any]:
            view = booking_view(bookings, book, book.bookings[booking_id], tz, now, staff)
            return {
                **view,
                "token": self.booking_token(info, booking_id, tz, now),
                "url": f"/q/{info}/t/{booking_id}",
            }

        result: dict[str, Any] = await self.writers.execute(info, day, tz, command, respond, idem)
        if day == calendar.business_day(now, tz):
            await self._sync_quietly(info, now)
        return result

    def booking_token(self, info: str, booking_id: str, tz: str, now: float) -> str:
        """A patient token for the booking and the ticket it becomes: 36 h past its date."""
        day = day_of(booking_id) or calendar.business_day(now, tz)
        until = calendar.at_local(day, "00:00", tz) + 24 * 3600 + TOKEN_AFTER_S
        return self.tokens.patient(info, booking_id, ttl_s=max(int(until - now), 60))

    async def cancel(self, info: str, booking_id: str, staff: bool, now: float) -> dict[str, Any]:
        """Cancel a booking: the patient until its band starts, staff until check-in."""
        bookings, tz = await self._bookings_on(info, now, made=True)
        book, _ = await self._find(info, booking_id)
        if book.day == calendar.business_day(now, tz):
            state = await self.queues.today(info, now)
            if booking_id in state.tickets:  # checked in, the book not told yet: tell it
                await self._mark(info, book.day, tz, MarkCheckedIn(at=now, booking_id=booking_id))
        command = CancelBooking(at=now, booking_id=booking_id, staff=staff, tz=tz)

        def respond(after: Book) -> dict[str, Any]:
            return booking_view(bookings, after, after.bookings[booking_id], tz, now, staff)

        result: dict[str, Any] = await self.writers.execute(info, book.day, tz, command, respond)
        if book.day == calendar.business_day(now, tz):
            await self._sync_quietly(info, now)
        return result

    # ---- check-in ---------------------------------------------------------------------------

    async def check_in(self, info: str, booking_id: str, staff: bool, now: float) -> dict[str, Any]:
        """The booked patient is here: their booking becomes a ticket in today's line (the
        answer: the ticket's view, token and URL). Again for the same booking: the same
        ticket. 409 ``too_early`` (with ``opens_at``), ``no_show``, ``illegal_transition``
        (cancelled; a booking of another day is ``no_show`` or ``too_early`` for staff
        too); 403 ``check_in_on_site`` from the patient's phone where the clinic wants
        proof of arrival."""
        bookings, tz = await self._bookings_on(info, now, made=True)
        book, booking = await self._find(info, booking_id)
        if booking.status == "checked_in":
            return await self._ticket(info, booking_id, tz, now)
        if booking.status == "cancelled":
            raise Conflict(
                "that booking was cancelled", code="illegal_transition", status="cancelled"
            )
        if not staff and bookings.check_in == "on_site":
            raise Forbidden("check in at the reception desk", code="check_in_on_site")
        today = calendar.business_day(now, tz)
        where = "too_early" if book.day > today else "no_show" if book.day < today else None
        where = where or rules.window(bookings, book.day, booking, tz, now)
        if booking.status == "no_show":  # staff may still admit it: at the end, late
            where = "no_show"
        if where == "too_early":
            opens = calendar.at_local(book.day, booking.band, tz) - bookings.early_min * 60
            raise Conflict(
                "check-in opens before the band", code="too_early", opens_at=views.iso(opens)
            )
        if where == "no_show" and (not staff or book.day != today):
            if booking.status == "booked" and book.day == today:
                await self._mark(info, book.day, tz, MarkNoShow(at=now, booking_id=booking_id))
                await self._sync_quietly(info, now)
            raise Conflict("the booking's time is over: take a ticket", code="no_show")
        command = AdmitBooking(
            at=now,
            ticket_id=booking_id,
            band=f"{booking.band}-{booking.band_end}",
            band_start=calendar.at_local(book.day, booking.band, tz),
            name=booking.name,
            phone=booking.phone,
            patient_ref=booking.patient_ref,
            phone_consent=booking.phone_consent,
            late=where != "on_time",
            staff=staff,
        )
        view: dict[str, Any] | None = None
        try:  # the ticket's view as the admitting batch left it: no read of the queue
            view = await self.queues.run(info, command, partial(_view, booking_id), None)
        except Conflict as err:
            if err.code != "duplicate_ticket":
                raise
        marked = MarkCheckedIn(at=now, booking_id=booking_id, admitted=True)
        await self._mark(info, book.day, tz, marked)
        await self._sync_quietly(info, now)
        if view is None:  # checked in already (another request, another hub)
            return await self._ticket(info, booking_id, tz, now)
        url = f"/q/{info}/t/{booking_id}"
        return {**view, "token": self.booking_token(info, booking_id, tz, now), "url": url}

    async def _ticket(self, info: str, booking_id: str, tz: str, now: float) -> dict[str, Any]:
        view = await self.queues.ticket_answer(info, booking_id, False, now)
        return {
            **view,
            "token": self.booking_token(info, booking_id, tz, now),
            "url": f"/q/{info}/t/{booking_id}",
        }

    async def _mark(self, info: str, day: str, tz: str, command: Any) -> None:
        await self.writers.execute(info, day, tz, command, lambda b: None)

    # ---- today's counts in the queue, and the keeper ----------------------------------------

    async def _sync_quietly(self, info: str, now: float) -> None:
        """``sync_bands`` after a change that is made already: a failure is logged, not
        answered (the keeper sends the counts within ``JUNBAN_BOOKINGS_KEEP``)."""
        try:
            await self.sync_bands(info, now)
        except (JunbanError, RedisError, OSError) as exc:
            log.warning("could not give %s its band counts: %s", info, exc)

    async def sync_bands(self, info: str, now: float) -> None:
        """Give the queue today's band counts. Concurrent callers share one round: each
        returns once a round that began after its call has finished."""
        wanted = self._wanted[info] = self._wanted.get(info, 0) + 1
        lock = self._sync_locks.setdefault(info, asyncio.Lock())
        async with lock:
            if self._synced.get(info, 0) >= wanted:
                return
            target = self._wanted[info]
            config = await self.config(info, now)
            command = SetBands(at=now, bands=())
            if config.bookings is not None:
                today = calendar.business_day(now, config.tz)
                book = await self.store.load(info, today)
                command = bands_command(config.bookings, book, config.tz, now)
            await self.queues.run(info, command, lambda s: None, None)
            self._synced[info] = target

    async def keep_queue(self, info: str, now: float) -> None:
        """Today's housekeeping of one queue: no-shows past band end + ``late_min`` (and
        yesterday's still booked), a lost second step of a check-in recorded, and the
        counts sent."""
        found = await self.queues.store.load_view(info)
        if found is None or not orjson.loads(found[0]).get("bookings"):
            return  # a counter without bookings: its small view says so, no state loaded
        state: QueueState = await self.queues.today(info, now)
        bookings = state.config.bookings
        if bookings is None:
            return
        tz = state.config.tz
        today = calendar.business_day(now, tz)
        book = await self.store.load(info, today)
        for booking in book.bookings.values():
            if booking.status == "checked_in":
                continue
            if booking.id in state.tickets:  # the ticket wins (a cancel raced the check-in)
                marked = MarkCheckedIn(at=now, booking_id=booking.id, admitted=True)
                await self._mark(info, today, tz, marked)
            elif booking.status == "booked":
                if rules.window(bookings, today, booking, tz, now) == "no_show":
                    await self._mark(info, today, tz, MarkNoShow(at=now, booking_id=booking.id))
        yesterday = await self.store.load(info, _plus(today, -1))
        for booking in yesterday.bookings.values():  # its day ended while nobody marked it
            if booking.status == "booked":
                command = MarkNoShow(at=now, booking_id=booking.id)
                await self._mark(info, yesterday.day, tz, command)
        await self.sync_bands(info, now)

    async def keep_once(self) -> None:
        for info in await self.facilities.infos():
            try:
                await self.keep_queue(info, time.time())
            except (JunbanError, RedisError, OSError) as exc:
                log.warning("could not keep the bookings of %s: %s", info, exc)
            except Exception:  # one queue's trouble never stops the others
                log.exception("could not keep the bookings of %s", info)

    async def keep(self, every_s: float) -> None:
        """Run ``keep_once`` every ``every_s`` (every hub: the commands are idempotent)."""
        while True:
            await asyncio.sleep(every_s)
            try:
                await self.keep_once()
            except (JunbanError, RedisError, OSError) as exc:
                log.warning("could not keep the bookings: %s", exc)
            except Exception:
                log.exception("could not keep the bookings")


def _view(ticket_id: str, state: QueueState) -> dict[str, Any]:
    return views.ticket_view(state, ticket_id)


def _plus(day: str, days: int) -> str:
    return (Date.fromisoformat(day) + timedelta(days=days)).isoformat()
