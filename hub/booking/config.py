"""A queue's booking settings (``QueueConfig.bookings``) and the bands of a date. Pure.

A band is bookable on a date when its weekday is one of the band's ``days`` (ISO: 1 = Monday
… 7 = Sunday), the date is not one of ``closed_dates`` and, with ``closed_on_holidays``, not
a Japanese public holiday."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date as Date

from hub.queue import calendar, schedule

PLACEMENTS = ("band_first", "interleave", "target_time")
MIN_BAND_MIN = 10
MAX_CAPACITY = 500
MAX_BANDS = 48
MAX_HORIZON = 60
ALL_DAYS: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7)


@dataclass(frozen=True, slots=True)
class Band:
    """Patients come between ``start`` and ``end`` (local ``"HH:MM"``); ``capacity`` places."""

    start: str
    end: str
    capacity: int
    days: tuple[int, ...] = ALL_DAYS

    @property
    def label(self) -> str:
        return f"{self.start}-{self.end}"


@dataclass(frozen=True, slots=True)
class BookingConfig:
    """Time-band reservations of one queue (None in ``QueueConfig``: the feature is off)."""

    bands: tuple[Band, ...] = ()
    placement: str = "band_first"
    """``band_first``, ``interleave:{k}`` (k 1–20) or ``target_time``."""
    early_min: int = 15
    late_min: int = 15
    show_rate: float = 0.9
    horizon_days: int = 14
    check_in: str = "anywhere"
    """``anywhere`` (the patient's phone too) or ``on_site`` (desk and kiosk only)."""
    closed_dates: tuple[str, ...] = field(default=())
    closed_on_holidays: bool = True

    def policy(self) -> tuple[str, int]:
        """(``band_first`` | ``interleave`` | ``target_time``, k)."""
        name, _, k = self.placement.partition(":")
        return name, int(k) if k else 0


def check(config: BookingConfig, hours: tuple[str, str] | None) -> None:
    """ValueError naming the first problem: a bad policy or window, a band outside the
    server hours ``hours``, shorter than 10 minutes, with a capacity outside 1–500, or
    overlapping another band on a common weekday."""
    name, k = _policy(config.placement)
    if name == "interleave" and not 1 <= k <= 20:
        raise ValueError("placement interleave:{k} needs k from 1 to 20")
    for label, value, top in (
        ("early_min", config.early_min, 180),
        ("late_min", config.late_min, 180),
    ):
        if not 0 <= value <= top:
            raise ValueError(f"{label} must be 0 to {top}")
    if not 0 < config.show_rate <= 1 or math.isnan(config.show_rate):
        raise ValueError("show_rate must be above 0 and at most 1")
    if not 0 <= config.horizon_days <= MAX_HORIZON:
        raise ValueError(f"horizon_days must be 0 to {MAX_HORIZON}")
    if config.check_in not in ("anywhere", "on_site"):
        raise ValueError("check_in must be anywhere or on_site")
    for text in config.closed_dates:
        schedule.check_day(text)
    if len(config.bands) > MAX_BANDS:
        raise ValueError(f"at most {MAX_BANDS} bands")
    lo, hi = (0, 24 * 60) if hours is None else (_minute(hours[0]), _minute(hours[1]))
    if hi <= lo:  # server hours past midnight: a band need only lie within one day
        lo, hi = 0, 24 * 60
    spans: list[tuple[int, int, Band]] = []
    for band in config.bands:
        start, end = _minute(band.start), _minute(band.end)
        if end - start < MIN_BAND_MIN:
            raise ValueError(f"band {band.label}: at least {MIN_BAND_MIN} minutes long")
        if start < lo or end > hi:
            raise ValueError(
                f"band {band.label}: outside the service hours {lo // 60:02}:"
                f"{lo % 60:02}–{hi // 60:02}:{hi % 60:02}"
            )
        if not 1 <= band.capacity <= MAX_CAPACITY:
            raise ValueError(f"band {band.label}: capacity must be 1 to {MAX_CAPACITY}")
        if not band.days or any(d not in ALL_DAYS for d in band.days):
            raise ValueError(f"band {band.label}: days are 1 (Monday) to 7 (Sunday)")
        spans.append((start, end, band))
    spans.sort(key=lambda s: s[0])
    for i, (_, end, band) in enumerate(spans):
        for start2, _, other in spans[i + 1 :]:
            if start2 < end and set(band.days) & set(other.days):
                raise ValueError(f"bands {band.label} and {other.label} overlap")


def _policy(text: str) -> tuple[str, int]:
    name, sep, k = text.partition(":")
    if (
        name not in PLACEMENTS
        or (name == "interleave") != bool(sep)
        or (sep and not (k.isascii() and k.isdigit()))
    ):
        raise ValueError("placement must be band_first, interleave:{k} or target_time")
    return name, int(k) if k else 0


def _minute(hhmm: str) -> int:
    if len(hhmm) != 5:
        raise ValueError(f"not a HH:MM time: {hhmm!r}")
    return calendar.minute_of_day(hhmm)


def closed(config: BookingConfig, day: str) -> bool:
    """No bookings on ``day``: a closed date, or a public holiday when closed on those."""
    if day in config.closed_dates:
        return True
    return config.closed_on_holidays and schedule.holiday_name(Date.fromisoformat(day)) is not None


def bands_on(config: BookingConfig, day: str) -> list[Band]:
    """The bands bookable on ``day`` (ISO date), by start time; none on a closed day."""
    if closed(config, day):
        return []
    weekday = Date.fromisoformat(day).isoweekday()
    return sorted((b for b in config.bands if weekday in b.days), key=lambda b: b.start)


def band_of(config: BookingConfig, day: str, start: str) -> Band | None:
    """The band starting at ``start`` on ``day``, if it is bookable then."""
    return next((b for b in bands_on(config, day) if b.start == start), None)


def band_times(day: str, band: Band, tz: str) -> tuple[float, float]:
    """The band's start and end on ``day`` as epoch seconds (clinic time zone)."""
    return calendar.at_local(day, band.start, tz), calendar.at_local(day, band.end, tz)
