"""Property tests of the facility calendar: business days and server operating hours."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from hub.queue import calendar
from tests import strategies as S

ZONES = st.sampled_from([S.TOKYO, S.BERLIN, "America/New_York", "UTC"])
DAY_SECONDS = st.floats(min_value=0, max_value=86_399.999, allow_nan=False)


def local(day: date, minute: int, tz: str, second: float = 0.0) -> float:
    """The instant ``minute`` minutes (wall clock) into ``day`` in ``tz``."""
    hour, minute = divmod(minute, 60)
    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(tz)).timestamp() + second


def wall_minute(at: float, tz: str) -> float:
    t = datetime.fromtimestamp(at, ZoneInfo(tz))
    return t.hour * 60 + t.minute + (t.second + t.microsecond / 1e6) / 60


@given(day=S.dates(), tz=ZONES)
def test_the_business_day_changes_exactly_at_local_midnight(day: date, tz: str) -> None:
    midnight = S.local_midnight(day, tz)
    assert calendar.business_day(midnight, tz) == day.isoformat()
    assert calendar.business_day(midnight - 0.001, tz) == (day - timedelta(days=1)).isoformat()


@given(day=S.dates(), tz=ZONES, fraction=st.floats(min_value=0, max_value=1, exclude_max=True))
def test_every_instant_between_two_local_midnights_is_the_same_business_day(
    day: date, tz: str, fraction: float
) -> None:
    """Holds on 23- and 25-hour days too (Europe/Berlin, America/New_York switch DST)."""
    start, end = S.local_midnight(day, tz), S.local_midnight(day + timedelta(days=1), tz)
    at = start + fraction * (end - start)
    assume(at < end)
    assert calendar.business_day(at, tz) == day.isoformat()


@pytest.mark.parametrize(
    ("day", "hours"),
    [(date(2025, 3, 30), 23), (date(2025, 10, 26), 25), (date(2025, 6, 1), 24)],
)
def test_berlin_business_days_last_23_or_25_hours_across_dst(day: date, hours: int) -> None:
    length = S.local_midnight(day + timedelta(days=1), S.BERLIN) - S.local_midnight(day, S.BERLIN)
    assert length == hours * 3600
    last = S.local_midnight(day + timedelta(days=1), S.BERLIN) - 1
    assert calendar.business_day(last, S.BERLIN) == day.isoformat()


@given(day=S.dates(), tz=ZONES)
def test_service_hours_06_to_24_start_at_six_and_end_at_midnight(day: date, tz: str) -> None:
    hours = S.SERVICE_HOURS
    assert not calendar.in_hours(local(day, 5 * 60 + 59, tz), tz, hours)
    assert not calendar.in_hours(local(day, 5 * 60 + 59, tz, second=59.9), tz, hours)
    assert calendar.in_hours(local(day, 6 * 60, tz), tz, hours)
    assert calendar.in_hours(local(day, 23 * 60 + 59, tz), tz, hours)
    assert calendar.in_hours(local(day, 23 * 60 + 59, tz, second=59.9), tz, hours)
    assert not calendar.in_hours(local(day, 0, tz), tz, hours)


@given(day=S.dates(), tz=ZONES, second=DAY_SECONDS)
def test_service_hours_06_to_24_are_exactly_the_wall_clock_hours_from_six(
    day: date, tz: str, second: float
) -> None:
    at = S.local_midnight(day, tz) + second
    hour = datetime.fromtimestamp(at, ZoneInfo(tz)).hour
    assert calendar.in_hours(at, tz, S.SERVICE_HOURS) == (hour >= 6)


@given(
    start=st.integers(0, 24 * 60),
    end=st.integers(0, 24 * 60),
    day=S.dates(),
    tz=ZONES,
    second=DAY_SECONDS,
)
def test_a_window_is_start_inclusive_end_exclusive_and_may_run_past_midnight(
    start: int, end: int, day: date, tz: str, second: float
) -> None:
    at = S.local_midnight(day, tz) + second
    now = wall_minute(at, tz)
    expected = start <= now < end if start <= end else now >= start or now < end
    assert calendar.in_hours(at, tz, (S.hhmm(start), S.hhmm(end))) == expected


@given(start=st.integers(0, 24 * 60 - 1), end=st.integers(0, 24 * 60 - 1), at=st.floats(1e9, 2e9))
def test_a_window_and_its_complement_split_the_day(start: int, end: int, at: float) -> None:
    """[start, end) and [end, start) never overlap and cover the day (unless start == end)."""
    assume(start != end)
    window, complement = (S.hhmm(start), S.hhmm(end)), (S.hhmm(end), S.hhmm(start))
    inside = calendar.in_hours(at, S.TOKYO, window)
    assert inside != calendar.in_hours(at, S.TOKYO, complement)


@given(day=S.dates(), minute=st.integers(0, 24 * 60 - 1))
def test_a_night_window_22_to_02_covers_late_evening_and_small_hours(
    day: date, minute: int
) -> None:
    at = local(day, minute, S.TOKYO)
    assert calendar.in_hours(at, S.TOKYO, ("22:00", "02:00")) == (
        minute >= 22 * 60 or minute < 2 * 60
    )


@given(hour=st.integers(0, 23), minute=st.integers(0, 59))
def test_minute_of_day_reads_hh_mm(hour: int, minute: int) -> None:
    assert calendar.minute_of_day(f"{hour:02d}:{minute:02d}") == hour * 60 + minute


def test_minute_of_day_reads_24_00_as_the_end_of_the_day() -> None:
    assert calendar.minute_of_day("24:00") == 24 * 60


@pytest.mark.parametrize("text", S.MALFORMED_TIMES)
def test_minute_of_day_rejects_malformed_times(text: str) -> None:
    with pytest.raises(ValueError):
        calendar.minute_of_day(text)


ACCEPTABLE = re.compile(r"[0-9]+:[0-5][0-9]")


@given(text=st.one_of(st.text(max_size=8), st.from_regex(r"\A[0-9０-９٠-٩]{1,3}:[0-9]{1,3}\Z")))
def test_minute_of_day_accepts_only_ascii_digits_within_the_day(text: str) -> None:
    """Anything else is a ValueError, never a wrong minute or another exception."""
    try:
        value = calendar.minute_of_day(text)
    except ValueError:
        return
    assert ACCEPTABLE.fullmatch(text)
    hours, minutes = text.split(":")
    assert value == int(hours) * 60 + int(minutes) <= 24 * 60


@pytest.mark.parametrize("tz", ["", "Mars/Olympus", "Asia", "asia/tokyo", "../etc/passwd"])
def test_unknown_time_zones_are_a_value_error(tz: str) -> None:
    with pytest.raises(ValueError):
        calendar.zone(tz)
