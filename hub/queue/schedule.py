"""A facility's weekly web-reception sessions (午前 09:00–12:00, 午後 15:00–18:00), its
closed days and Japanese public holidays: which state web reception should be in at a time,
and which automatic transition (open or close) is due. Pure: time and zone are arguments.

A session opens web reception at its start minute and closes it at its end minute, on every
day that is not closed (a listed closed day, or a public holiday when ``holidays_closed``).
Sessions that touch (12:00–12:00) run as one. A transition is due only during its own minute
(``due(…, window_s=60)``): what staff do by hand in between is never undone by the schedule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Literal

import holidays

from hub.queue import calendar

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Keys of a weekly schedule, ``date.weekday()`` order."""
MAX_SESSIONS = 6
"""Sessions one weekday may hold."""

Action = Literal["open", "close"]


@dataclass(frozen=True, slots=True)
class Session:
    """Web reception is open from ``start`` to ``end`` (local ``"HH:MM"``, end after start;
    ``"24:00"`` = midnight at the end of the day)."""

    start: str
    end: str
    label: str = ""

    def minutes(self) -> tuple[int, int]:
        return calendar.minute_of_day(self.start), calendar.minute_of_day(self.end)


Week = Mapping[str, Sequence[Session]]


@dataclass(frozen=True, slots=True)
class Transition:
    """Open or close web reception at ``at`` (epoch seconds), local ``day`` and ``minute``."""

    action: Action
    day: str
    minute: str
    at: float

    @property
    def key(self) -> str:
        """Names this transition among all of its facility (``day:HH:MM:action``)."""
        return f"{self.day}:{self.minute}:{self.action}"


def check_week(week: Week) -> None:
    """ValueError naming the first problem: an unknown weekday, a malformed time, a session
    that ends before it starts, sessions that overlap, or too many of them."""
    for weekday, sessions in week.items():
        if weekday not in WEEKDAYS:
            raise ValueError(f"unknown weekday {weekday!r}: use {', '.join(WEEKDAYS)}")
        if len(sessions) > MAX_SESSIONS:
            raise ValueError(f"{weekday}: at most {MAX_SESSIONS} sessions a day")
        spans = []
        for session in sessions:
            for text in (session.start, session.end):
                if len(text) != 5:
                    raise ValueError(f"{weekday}: not a HH:MM time: {text!r}")
            start, end = session.minutes()
            if end <= start:
                raise ValueError(
                    f"{weekday}: the session {session.start}–{session.end} ends before it starts"
                )
            if start >= 24 * 60:
                raise ValueError(f"{weekday}: a session cannot start at 24:00")
            spans.append((start, end, session))
        spans.sort(key=lambda s: s[0])
        for (_, end, first), (start, _, second) in zip(spans, spans[1:], strict=False):
            if start < end:
                raise ValueError(
                    f"{weekday}: the sessions {first.start}–{first.end} and "
                    f"{second.start}–{second.end} overlap"
                )


def check_day(text: str) -> date:
    """``"2027-01-04"`` -> that date; ValueError for anything else."""
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"not a date (YYYY-MM-DD): {text!r}") from exc


@lru_cache(maxsize=64)
def _japan(year: int, language: str) -> dict[date, str]:
    return dict(holidays.country_holidays("JP", years=year, language=language).items())


def holiday_name(day: date, language: str = "ja") -> str | None:
    """The Japanese public holiday on ``day`` (its name in ``language``: ja or en_US)."""
    return _japan(day.year, language).get(day)


def upcoming_holidays(today: date, count: int = 5) -> list[tuple[date, str, str]]:
    """The next ``count`` Japanese public holidays from ``today`` on: (day, ja, en)."""
    found: list[tuple[date, str, str]] = []
    for year in (today.year, today.year + 1, today.year + 2):
        for day in sorted(_japan(year, "ja")):
            if day >= today and len(found) < count:
                found.append((day, _japan(year, "ja")[day], _japan(year, "en_US").get(day, "")))
    return found


def is_closed(day: date, closed_days: Iterable[str], holidays_closed: bool) -> bool:
    """The clinic does not open web reception on ``day`` by itself."""
    if day.isoformat() in closed_days:
        return True
    return holidays_closed and holiday_name(day) is not None


def spans(week: Week, day: date) -> list[tuple[int, int]]:
    """The day's sessions as (start, end) minutes, sorted, touching ones merged."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(s.minutes() for s in week.get(WEEKDAYS[day.weekday()], ())):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _instant(day: date, minute: int, tz: str) -> float:
    moment = datetime.combine(day, time()) + timedelta(minutes=minute)
    return moment.replace(tzinfo=calendar.zone(tz)).timestamp()


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def transitions(
    week: Week, day: date, tz: str, closed_days: Iterable[str] = (), holidays_closed: bool = False
) -> list[Transition]:
    """The day's automatic transitions in time order (none on a closed day). A session that
    ends at 24:00 closes at the next day's 00:00 (its key still names ``day``)."""
    if is_closed(day, closed_days, holidays_closed):
        return []
    found = []
    for start, end in spans(week, day):
        pair: tuple[tuple[Action, int], ...] = (("open", start), ("close", end))
        for action, minute in pair:
            at = _instant(day, minute, tz)
            found.append(Transition(action, day.isoformat(), _hhmm(minute), at))
    return found


def should_be_open(
    week: Week, at: float, tz: str, closed_days: Iterable[str] = (), holidays_closed: bool = False
) -> bool:
    """Whether ``at`` lies in one of its day's sessions (on a day that is not closed)."""
    local = calendar.local_time(at, tz)
    day = local.date()
    if is_closed(day, closed_days, holidays_closed):
        return False
    minute = calendar.local_minute(at, tz)
    return any(start <= minute < end for start, end in spans(week, day))


def due(
    week: Week,
    now: float,
    tz: str,
    closed_days: Iterable[str] = (),
    holidays_closed: bool = False,
    window_s: float = 60.0,
) -> list[Transition]:
    """The transitions whose time ``t`` has come but not passed by ``window_s``
    (``t <= now < t + window_s``): what a scheduler ticking more often than ``window_s``
    applies, each once (``Transition.key``)."""
    today = calendar.local_time(now, tz).date()
    closed = tuple(closed_days)
    found = []
    for day in (today - timedelta(days=1), today):
        for transition in transitions(week, day, tz, closed, holidays_closed):
            if transition.at <= now < transition.at + window_s:
                found.append(transition)
    return found
