"""The booking book of one queue and date: bookings, their events and the commands on them.
Plain data, no behaviour (the rules: ``hub/booking/rules.py``)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

import msgspec

from hub.booking.config import BookingConfig

BookingStatus = ("booked", "cancelled", "checked_in", "no_show")
BOOKING_ID_RE = re.compile(r"^R([0-9]{8})[A-Za-z0-9_-]{8}\Z")


def new_booking_id(day: str) -> str:
    """``R`` + the date's digits + 8 random characters: the booking names its book."""
    return f"R{day.replace('-', '')}{secrets.token_urlsafe(6)}"


def day_of(booking_id: str) -> str | None:
    """The date of a booking id (``R20261207…`` -> ``2026-12-07``); None if it is none."""
    match = BOOKING_ID_RE.match(booking_id)
    if match is None:
        return None
    digits = match.group(1)
    return f"{digits[:4]}-{digits[4:6]}-{digits[6:]}"


class Booking(msgspec.Struct, frozen=True, omit_defaults=True):
    """One patient's place in one band; ``id`` is the id its ticket will have."""

    id: str
    band: str
    """The band's start, local ``"HH:MM"``."""
    band_end: str
    channel: str
    """``web`` (the patient page), ``desk`` or ``phone`` (staff)."""
    booked_at: float
    name: str = ""
    phone: str = ""
    patient_ref: str | None = None
    phone_consent: tuple[float, str, str] | None = None
    status: str = "booked"
    changed_at: float | None = None
    by: str = ""
    """Who cancelled it: ``patient`` or ``staff``."""


class Book(msgspec.Struct):
    """The bookings of one queue on one date (the fold of its events)."""

    info: str
    day: str
    version: int = 0
    bookings: dict[str, Booking] = msgspec.field(default_factory=dict)

    def copy(self) -> Book:
        return Book(self.info, self.day, self.version, dict(self.bookings))

    def taken(self, band: str) -> int:
        """Places of the band starting at ``band`` that are taken (not cancelled)."""
        return sum(1 for b in self.bookings.values() if b.band == band and b.status != "cancelled")


# ---- events ---------------------------------------------------------------------------------


class BookingMade(msgspec.Struct, frozen=True, tag="made"):
    at: float
    booking: Booking


class BookingCancelled(msgspec.Struct, frozen=True, tag="cancelled"):
    at: float
    booking_id: str
    by: str


class BookingCheckedIn(msgspec.Struct, frozen=True, tag="checked_in"):
    at: float
    booking_id: str


class BookingNoShow(msgspec.Struct, frozen=True, tag="no_show"):
    at: float
    booking_id: str


BookEvent = BookingMade | BookingCancelled | BookingCheckedIn | BookingNoShow


# ---- commands -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BookCommand:
    at: float


@dataclass(frozen=True, slots=True)
class MakeBooking(BookCommand):
    """Book a place; the rules check the date, the band, its capacity and, for patients
    (``staff`` False), that the band has not started and the service hours."""

    booking_id: str
    band: str
    config: BookingConfig
    tz: str
    channel: str = "web"
    staff: bool = False
    name: str = ""
    phone: str = ""
    patient_ref: str | None = None
    phone_consent: tuple[float, str, str] | None = None
    service_hours: tuple[str, str] | None = None
    suspended: bool = False


@dataclass(frozen=True, slots=True)
class CancelBooking(BookCommand):
    booking_id: str
    staff: bool = False
    tz: str = "Asia/Tokyo"


@dataclass(frozen=True, slots=True)
class MarkCheckedIn(BookCommand):
    booking_id: str
    admitted: bool = False
    """The queue holds the booking's ticket: recorded even over a cancel that raced it."""


@dataclass(frozen=True, slots=True)
class MarkNoShow(BookCommand):
    booking_id: str
