"""Property tests of the weekly web-reception schedule (hub.queue.schedule): which state web
reception should be in, and which transition is due, at any time."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from hub.queue import schedule
from hub.queue.schedule import WEEKDAYS, Session, Transition
from tests import strategies as S

ZONES = st.sampled_from([S.TOKYO, "UTC"])
"""Zones without daylight saving: every local minute exists exactly once."""


def hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@st.composite
def days_sessions(draw: st.DrawFn) -> tuple[Session, ...]:
    """Non-overlapping sessions of one day, in any order."""
    points = sorted(draw(st.sets(st.integers(0, 1440), max_size=2 * schedule.MAX_SESSIONS)))
    points = points[: len(points) // 2 * 2]
    sessions = [Session(hhmm(a), hhmm(b)) for a, b in zip(points[::2], points[1::2], strict=True)]
    return tuple(draw(st.permutations(sessions)))


weeks = st.dictionaries(st.sampled_from(WEEKDAYS), days_sessions(), max_size=7)


def local(day: date, minute: float, tz: str) -> float:
    return datetime.combine(day, time(), tzinfo=ZoneInfo(tz)).timestamp() + minute * 60


def replayed(transitions: list[Transition], at: float) -> bool:
    """Web reception as the transitions up to ``at`` leave it, from closed."""
    state = False
    for t in sorted(transitions, key=lambda t: t.at):
        if t.at <= at:
            state = t.action == "open"
    return state


@given(week=weeks)
def test_a_week_of_non_overlapping_sessions_is_accepted(
    week: dict[str, tuple[Session, ...]],
) -> None:
    schedule.check_week(week)


@given(start=st.integers(0, 1439), length=st.integers(1, 600), shift=st.integers(-599, 599))
def test_overlapping_sessions_are_refused(start: int, length: int, shift: int) -> None:
    end = min(1440, start + length)
    other_start = max(0, min(1439, start + shift))
    other_end = min(1440, other_start + length)
    assume(other_start < end and start < other_end)  # they overlap
    week = {"mon": (Session(hhmm(start), hhmm(end)), Session(hhmm(other_start), hhmm(other_end)))}
    with pytest.raises(ValueError, match="overlap"):
        schedule.check_week(week)


@given(start=st.integers(0, 1440), end=st.integers(0, 1440))
def test_a_session_must_end_after_it_starts(start: int, end: int) -> None:
    assume(end <= start)
    with pytest.raises(ValueError, match="ends before it starts"):
        schedule.check_week({"tue": (Session(hhmm(start), hhmm(end)),)})


@pytest.mark.parametrize(
    "week",
    [{"someday": ()}, {"mon": (Session("9:00", "12:00"),)}, {"mon": (Session("24:00", "24:00"),)}],
)
def test_malformed_weeks_are_refused(week: dict[str, tuple[Session, ...]]) -> None:
    with pytest.raises(ValueError):
        schedule.check_week(week)


@given(week=weeks, day=S.dates(), tz=ZONES, minute=st.floats(0, 1439.999))
def test_the_transitions_replayed_give_the_state_the_schedule_says(
    week: dict[str, tuple[Session, ...]], day: date, tz: str, minute: float
) -> None:
    """Following the day's (and the day before's) transitions from closed lands on exactly
    ``should_be_open`` at every instant: no transition is missing or extra."""
    at = local(day, minute, tz)
    both = schedule.transitions(week, day - timedelta(days=1), tz) + schedule.transitions(
        week, day, tz
    )
    assert replayed(both, at) == schedule.should_be_open(week, at, tz)


@given(week=weeks, day=S.dates(), tz=ZONES)
def test_a_days_transitions_alternate_and_have_unique_keys(
    week: dict[str, tuple[Session, ...]], day: date, tz: str
) -> None:
    found = schedule.transitions(week, day, tz)
    assert [t.action for t in found] == ["open", "close"] * (len(found) // 2)
    assert [t.at for t in found] == sorted(t.at for t in found)
    assert len({t.key for t in found}) == len(found)
    assert all(t.day == day.isoformat() for t in found)


@given(
    week=weeks,
    day=S.dates(),
    tz=ZONES,
    pick=st.integers(0, 100),
    offset_ms=st.integers(-300_000, 300_000),
    window=st.floats(60, 180),
)
def test_a_transition_is_due_only_within_its_window(
    week: dict[str, tuple[Session, ...]],
    day: date,
    tz: str,
    pick: int,
    offset_ms: int,
    window: float,
) -> None:
    found = schedule.transitions(week, day, tz)
    assume(found)
    transition = found[pick % len(found)]
    now = transition.at + offset_ms / 1000
    due = schedule.due(week, now, tz, window_s=window)
    assert (transition in due) == (0 <= offset_ms < window * 1000)
    for other in due:
        assert other.at <= now < other.at + window


@given(week=weeks, day=S.dates(), tz=ZONES, minute=st.floats(0, 1439.999))
def test_a_closed_day_opens_nothing(
    week: dict[str, tuple[Session, ...]], day: date, tz: str, minute: float
) -> None:
    closed = (day.isoformat(),)
    assert schedule.transitions(week, day, tz, closed) == []
    assert not schedule.should_be_open(week, local(day, minute, tz), tz, closed)


@settings(deadline=None)  # the first look at a year builds its holiday table (~0.3 s)
@given(week=weeks, year=st.integers(2024, 2030), pick=st.integers(0, 30))
def test_a_japanese_holiday_is_closed_only_when_the_clinic_says_so(
    week: dict[str, tuple[Session, ...]], year: int, pick: int
) -> None:
    holidays = sorted(d for d, _, _ in schedule.upcoming_holidays(date(year, 1, 1), 30))
    day = holidays[pick % len(holidays)]
    assert schedule.transitions(week, day, S.TOKYO, holidays_closed=True) == []
    plain = schedule.transitions(week, day, S.TOKYO, holidays_closed=False)
    assert plain == schedule.transitions(week, day, S.TOKYO)


def test_sessions_that_touch_run_as_one() -> None:
    week = {"wed": (Session("12:00", "15:00"), Session("09:00", "12:00", "午前"))}
    day = date(2027, 1, 6)  # a Wednesday
    found = schedule.transitions(week, day, S.TOKYO)
    assert [(t.action, t.minute) for t in found] == [("open", "09:00"), ("close", "15:00")]


def test_a_session_ending_at_midnight_closes_at_the_next_days_start() -> None:
    week = {"fri": (Session("20:00", "24:00"),)}
    friday = date(2027, 1, 8)
    close = schedule.transitions(week, friday, S.TOKYO)[-1]
    assert close.key == "2027-01-08:24:00:close"
    assert close.at == local(friday + timedelta(days=1), 0, S.TOKYO)
    assert close in schedule.due(week, close.at + 5, S.TOKYO)


def test_upcoming_holidays_are_sorted_named_and_from_today() -> None:
    found = schedule.upcoming_holidays(date(2027, 1, 2), 4)
    assert [d.isoformat() for d, _, _ in found] == [
        "2027-01-11",
        "2027-02-11",
        "2027-02-23",
        "2027-03-21",
    ]
    assert found[0][1] == "成人の日" and found[0][2] == "Coming of Age Day"


@given(text=st.text(max_size=12))
def test_check_day_takes_only_iso_dates(text: str) -> None:
    try:
        day = schedule.check_day(text)
    except ValueError:
        return
    assert day.isoformat() == text
