"""The booking book's rules. Pure: time comes in the command.

``decide(book, command) -> events`` or a ``JunbanError`` (nothing changes); ``apply(book,
event)`` folds one event in place. No band is ever overbooked: capacity is decided here on
the book's state, and the store appends with a version check (``book_append.lua``), so two
processes deciding on the same version cannot both write.
"""

from __future__ import annotations

from datetime import date as Date
from datetime import timedelta
from typing import Literal

from msgspec.structs import replace

from hub.booking import config as cfg
from hub.booking.model import (
    Book,
    BookCommand,
    BookEvent,
    Booking,
    BookingCancelled,
    BookingCheckedIn,
    BookingMade,
    BookingNoShow,
    CancelBooking,
    MakeBooking,
    MarkCheckedIn,
    MarkNoShow,
)
from hub.errors import Conflict, Forbidden, NotFound, Unavailable, Unprocessable
from hub.queue import calendar

Window = Literal["too_early", "on_time", "late", "no_show"]


def decide(book: Book, cmd: BookCommand) -> list[BookEvent]:
    if isinstance(cmd, MakeBooking):
        return _make(book, cmd)
    if isinstance(cmd, CancelBooking):
        return _cancel(book, cmd)
    if isinstance(cmd, MarkCheckedIn):
        return _checked_in(book, cmd)
    if isinstance(cmd, MarkNoShow):
        booking = book.bookings.get(cmd.booking_id)
        if booking is None or booking.status != "booked":
            return []
        return [BookingNoShow(at=cmd.at, booking_id=cmd.booking_id)]
    raise Unprocessable(f"unknown command {type(cmd).__name__}")


def _make(book: Book, cmd: MakeBooking) -> list[BookEvent]:
    if not cmd.staff:
        if cmd.suspended:
            raise Forbidden("this facility's service is suspended", code="facility_suspended")
        hours = cmd.service_hours
        if hours is not None and not calendar.in_hours(cmd.at, cmd.tz, hours):
            raise Unavailable(
                f"bookings can be made from {hours[0]} to {hours[1]} (clinic time)",
                code="outside_service_hours",
            )
    if len(cmd.name) > 100 or len(cmd.phone) > 32:
        raise Unprocessable("name is at most 100 characters, phone 32")
    if not cmd.name.strip() or (not cmd.staff and not cmd.phone.strip()):
        raise Unprocessable("a booking needs the patient's name, and on the web a phone")
    today = calendar.business_day(cmd.at, cmd.tz)
    last = (Date.fromisoformat(today) + timedelta(days=cmd.config.horizon_days)).isoformat()
    if book.day < today:
        raise Conflict("that day is over", code="band_closed")
    if book.day > last:
        raise Conflict(
            f"bookings are taken up to {cmd.config.horizon_days} days ahead",
            code="outside_horizon",
            last_day=last,
        )
    if cfg.closed(cmd.config, book.day):
        raise Conflict("the clinic takes no bookings that day", code="band_closed")
    band = cfg.band_of(cmd.config, book.day, cmd.band)
    if band is None:
        raise NotFound("no such band that day", code="unknown_band")
    start, end = cfg.band_times(book.day, band, cmd.tz)
    if cmd.at >= (end if cmd.staff else start):
        raise Conflict("that band is closed for booking", code="band_closed")
    if cmd.booking_id in book.bookings:
        raise Conflict("that booking id is taken", code="duplicate_booking")
    if book.taken(band.start) >= band.capacity:
        raise Conflict("that band is full", code="band_full")
    booking = Booking(
        id=cmd.booking_id,
        band=band.start,
        band_end=band.end,
        channel=cmd.channel,
        booked_at=cmd.at,
        name=cmd.name,
        phone=cmd.phone,
        patient_ref=cmd.patient_ref,
        phone_consent=cmd.phone_consent,
    )
    return [BookingMade(at=cmd.at, booking=booking)]


def _cancel(book: Book, cmd: CancelBooking) -> list[BookEvent]:
    booking = _get(book, cmd.booking_id)
    if booking.status != "booked":
        raise Conflict(
            f"cannot cancel a booking that is {booking.status}",
            code="illegal_transition",
            status=booking.status,
        )
    start = calendar.at_local(book.day, booking.band, cmd.tz)
    if not cmd.staff and cmd.at >= start:
        raise Conflict("a booking can be cancelled until its band starts", code="band_closed")
    by = "staff" if cmd.staff else "patient"
    return [BookingCancelled(at=cmd.at, booking_id=cmd.booking_id, by=by)]


def _checked_in(book: Book, cmd: MarkCheckedIn) -> list[BookEvent]:
    """Records the ticket the booking became (a no-show that staff admitted after all too);
    nothing when recorded already."""
    booking = _get(book, cmd.booking_id)
    if booking.status == "checked_in":
        return []
    if booking.status == "cancelled" and not cmd.admitted:
        raise Conflict("that booking was cancelled", code="illegal_transition", status="cancelled")
    return [BookingCheckedIn(at=cmd.at, booking_id=cmd.booking_id)]


def _get(book: Book, booking_id: str) -> Booking:
    booking = book.bookings.get(booking_id)
    if booking is None:
        raise NotFound("no such booking", code="unknown_booking")
    return booking


def apply(book: Book, event: BookEvent) -> None:
    """Fold ``event`` into ``book`` (which the caller owns)."""
    if isinstance(event, BookingMade):
        book.bookings[event.booking.id] = event.booking
        return
    status = {
        BookingCancelled: "cancelled",
        BookingCheckedIn: "checked_in",
        BookingNoShow: "no_show",
    }[type(event)]
    old = book.bookings[event.booking_id]
    by = event.by if isinstance(event, BookingCancelled) else old.by
    book.bookings[old.id] = replace(old, status=status, changed_at=event.at, by=by)


def window(config: cfg.BookingConfig, day: str, booking: Booking, tz: str, at: float) -> Window:
    """Where ``at`` falls for checking in: before band start − ``early_min`` (too early), up
    to the band's end (on time: placed by the policy), up to ``late_min`` after it (late: at
    the end of the line), later (no-show)."""
    start = calendar.at_local(day, booking.band, tz)
    end = calendar.at_local(day, booking.band_end, tz)
    if at < start - config.early_min * 60:
        return "too_early"
    if at <= end:
        return "on_time"
    return "late" if at <= end + config.late_min * 60 else "no_show"
