"""What callers see of the booking books. Pure: ``day_bands`` and ``booking_view`` (the
patient's) carry no one's name; ``bookings_of_day`` is for staff."""

from __future__ import annotations

from typing import Any

from hub.booking import config as cfg
from hub.booking import rules
from hub.booking.model import Book, Booking
from hub.queue import calendar
from hub.queue.model import BandCount, SetBands
from hub.queue.views import iso


def day_bands(bookings: cfg.BookingConfig, book: Book, tz: str, now: float) -> dict[str, Any]:
    """One date's bands: places left and whether patients may still book them."""
    bands = []
    for band in cfg.bands_on(bookings, book.day):
        start, _ = cfg.band_times(book.day, band, tz)
        taken = book.taken(band.start)
        bands.append(
            {
                "from": band.start,
                "to": band.end,
                "capacity": band.capacity,
                "remaining": max(band.capacity - taken, 0),
                "open": now < start and taken < band.capacity,
            }
        )
    return {"date": book.day, "closed": cfg.closed(bookings, book.day), "bands": bands}


def booking_public(booking: Booking, day: str) -> dict[str, Any]:
    return {
        "id": booking.id,
        "date": day,
        "band": {"from": booking.band, "to": booking.band_end},
        "status": booking.status,
        "channel": booking.channel,
        "booked_at": iso(booking.booked_at),
        "changed_at": iso(booking.changed_at),
    }


def booking_staff(booking: Booking, day: str) -> dict[str, Any]:
    return {
        **booking_public(booking, day),
        "name": booking.name,
        "phone": booking.phone,
        "patient_ref": booking.patient_ref,
        "cancelled_by": booking.by or None,
    }


def booking_view(
    bookings: cfg.BookingConfig, book: Book, booking: Booking, tz: str, now: float, staff: bool
) -> dict[str, Any]:
    """One booking with its check-in window and what may be done now."""
    start = calendar.at_local(book.day, booking.band, tz)
    end = calendar.at_local(book.day, booking.band_end, tz)
    booked = booking.status == "booked"
    where = rules.window(bookings, book.day, booking, tz, now)
    patient_may = bookings.check_in == "anywhere" or staff
    return {
        "info": book.info,
        "booking": (booking_staff if staff else booking_public)(booking, book.day),
        "window": {
            "opens_at": iso(start - bookings.early_min * 60),
            "band_start": iso(start),
            "band_end": iso(end),
            "late_until": iso(end + bookings.late_min * 60),
        },
        "can": {
            "cancel": booked and (staff or now < start),
            "check_in": booked and patient_may and where in ("on_time", "late"),
        },
        "ticket_url": f"/q/{book.info}/t/{booking.id}" if booking.status == "checked_in" else None,
    }


def bookings_of_day(bookings: cfg.BookingConfig, book: Book, tz: str, now: float) -> dict[str, Any]:
    ordered = sorted(book.bookings.values(), key=lambda b: (b.band, b.booked_at))
    return {
        **day_bands(bookings, book, tz, now),
        "bookings": [booking_staff(b, book.day) for b in ordered],
    }


def band_counts(bookings: cfg.BookingConfig, book: Book, tz: str) -> tuple[BandCount, ...]:
    """Today's bands (those configured, and any with bookings) with their counts."""
    found: dict[str, tuple[str, int]] = {
        b.start: (b.end, b.capacity) for b in cfg.bands_on(bookings, book.day)
    }
    for b in book.bookings.values():
        found.setdefault(b.band, (b.band_end, 0))
    counts = []
    for start in sorted(found):
        end, capacity = found[start]
        mine = [b for b in book.bookings.values() if b.band == start]
        counts.append(
            BandCount(
                start=calendar.at_local(book.day, start, tz),
                end=calendar.at_local(book.day, end, tz),
                label=f"{start}-{end}",
                capacity=capacity,
                taken=sum(1 for b in mine if b.status != "cancelled"),
                expected=sum(1 for b in mine if b.status == "booked"),
            )
        )
    return tuple(counts)


def bands_command(bookings: cfg.BookingConfig, book: Book, tz: str, now: float) -> SetBands:
    """Today's counts for the queue, with the bookings still booked: the queue counts one
    it holds a ticket for as arrived (a check-in whose second step is not recorded yet)."""
    booked = frozenset(b.id for b in book.bookings.values() if b.status == "booked")
    return SetBands(at=now, bands=band_counts(bookings, book, tz), booked=booked)
