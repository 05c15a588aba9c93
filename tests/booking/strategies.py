"""Hypothesis strategies and small helpers for time-band reservations (pure: no Redis).

One generated day: a date, a few of its bands between 08:00 and 19:00 (on a 10-minute grid,
never overlapping), the placement policy, the show rate and the check-in window."""

from __future__ import annotations

from datetime import date
from typing import Any

from hypothesis import strategies as st

from hub.booking.config import Band, BookingConfig
from hub.booking.model import Booking
from hub.queue import calendar
from hub.queue.model import QueueState, Ticket

TOKYO = "Asia/Tokyo"
INFO = "1234-01"
EPOCH = "e1"
PLACEMENTS = tuple(["band_first", *(f"interleave:{k}" for k in range(1, 5)), "target_time"])


def hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def at(day: str, time: str, seconds: float = 0.0) -> float:
    """The instant of local ``time`` (HH:MM) on ``day`` in Tokyo, plus ``seconds``."""
    return calendar.at_local(day, time, TOKYO) + seconds


def days() -> st.SearchStrategy[date]:
    return st.dates(min_value=date(2025, 1, 1), max_value=date(2028, 12, 31))


@st.composite
def band_sets(draw: st.DrawFn) -> tuple[Band, ...]:
    """One to four bands of every weekday, by start, 10 to 120 minutes, 1 to 6 places."""
    slots = sorted(draw(st.lists(st.integers(48, 102), min_size=1, max_size=4, unique=True)))
    bands = []
    for i, slot in enumerate(slots):
        limit = slots[i + 1] if i + 1 < len(slots) else 114
        end = draw(st.integers(slot + 1, min(slot + 12, limit)))
        bands.append(Band(hhmm(slot * 10), hhmm(end * 10), draw(st.integers(1, 6))))
    return tuple(bands)


def show_rates() -> st.SearchStrategy[float]:
    """In (0, 1]: the usual values, and any."""
    any_rate = st.floats(min_value=0.0, max_value=1.0, exclude_min=True, allow_nan=False)
    return st.one_of(st.sampled_from([1.0, 0.9, 0.75, 0.5]), any_rate)


def booking_configs() -> st.SearchStrategy[BookingConfig]:
    """Valid settings (``config.check`` accepts them); holidays open, so any date books."""
    return st.builds(
        BookingConfig,
        bands=band_sets(),
        placement=st.sampled_from(PLACEMENTS),
        early_min=st.sampled_from([0, 5, 15, 30]),
        late_min=st.sampled_from([0, 5, 15, 30]),
        show_rate=show_rates(),
        horizon_days=st.just(14),
        closed_on_holidays=st.just(False),
    )


def waits() -> st.SearchStrategy[float]:
    """Seconds before a command: none, whole minutes (so band edges are hit exactly), or any."""
    return st.one_of(
        st.just(0.0),
        st.integers(1, 12).map(lambda m: m * 60.0),
        st.floats(min_value=0, max_value=300, allow_nan=False),
    )


def booking_id(day: str, serial: int) -> str:
    """A well-formed, deterministic booking id (``R`` + date digits + 8 characters)."""
    return f"R{day.replace('-', '')}{serial:08d}"


def booking(band: Band, **changes: Any) -> Booking:
    fields: dict[str, Any] = {"id": "R2025030300000001", "channel": "web", "booked_at": 0.0}
    return Booking(band=band.start, band_end=band.end, **{**fields, **changes})


# ---- oracles: what placement promises, stated independently ------------------------------


def holds_place(t: Ticket) -> bool:
    """A ticket no booking may pass: priority, or a booking checked in on time, not put back."""
    return not t.requeued and (t.priority or (t.channel == "reserved" and not t.late))


def passed(booking: Ticket, walk_in: Ticket) -> bool:
    """``booking`` checked in after ``walk_in`` was issued and holds its place (ahead of it)."""
    return (
        booking.channel == "reserved" and holds_place(booking) and booking.number > walk_in.number
    )


def floor_of(s: QueueState) -> int:
    """The index after the last ticket that holds its place (0 when none)."""
    return max((i + 1 for i, t in enumerate(s.waiting) if holds_place(s.tickets[t])), default=0)


def run_ahead(s: QueueState, index: int) -> int:
    """Tickets not put back that wait directly ahead of ``index``, back to the nearest one
    that holds its place (or the head)."""
    count = 0
    for tid in reversed(s.waiting[:index]):
        if holds_place(s.tickets[tid]):
            break
        count += not s.tickets[tid].requeued
    return count


def counted(s: QueueState, ahead: int, now: float) -> dict[str, int]:
    """The bands (label: bookings expected) a walk-in with ``ahead`` before it counts: check-in
    opens before its estimated call and the band's late window is not over."""
    c = s.config.bookings
    assert c is not None
    call_at = now + (ahead + 1) * s.minutes_per_patient * 60
    early, late = c.early_min * 60, c.late_min * 60
    return {
        b.label: b.expected
        for b in s.bands
        if b.expected > 0 and b.start - early <= call_at and now <= b.end + late
    }
