"""Server operating hours (Table 2) and support desk hours (Table 3). Pure: ``now`` is passed.

別表第2号: 日曜日～土曜日 6:00～24:00 (server). 別表第3号: 月曜日～金曜日 8:00～20:00,
土曜日 8:00～18:00 (support phone desk). Art. 3-1 (20): 日曜日、国民の祝祭日および年末年始
ならびに当社が別途定める日は休日 — Sundays, national holidays, the New Year holidays and
days the operator sets are closed. The terms do not date the New Year holidays:
**decided** Dec 29 – Jan 3 (as Japanese public offices). National holidays come from the
maintained ``holidays`` package (substitute and citizens' holidays included).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import holidays

from hub.queue.calendar import minute_of_day

TOKYO = "Asia/Tokyo"

SERVER_HOURS: tuple[int, int] = (6 * 60, 24 * 60)
"""Table 2: every day 06:00–24:00 facility time, as minutes of the day [start, end)."""

SUPPORT_HOURS: dict[int, tuple[int, int]] = {
    0: (8 * 60, 20 * 60),
    1: (8 * 60, 20 * 60),
    2: (8 * 60, 20 * 60),
    3: (8 * 60, 20 * 60),
    4: (8 * 60, 20 * 60),
    5: (8 * 60, 18 * 60),
}
"""Table 3 by ``date.weekday()`` (Monday 0): Mon–Fri 08:00–20:00, Sat 08:00–18:00; no Sunday."""

NEW_YEAR_CLOSED: tuple[tuple[int, int], tuple[int, int]] = ((12, 29), (1, 3))
"""decided: the 年末年始 closure, Dec 29 to Jan 3 inclusive."""

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _aware(now: datetime, tz: str) -> datetime:
    if now.tzinfo is None:
        raise ValueError("now needs a time zone")
    return now.astimezone(ZoneInfo(tz))


def _minute(local: datetime) -> float:
    return local.hour * 60 + local.minute + local.second / 60 + local.microsecond / 60e6


def hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


# ---- server ---------------------------------------------------------------------------------


def server_open(now: datetime, tz: str = TOKYO, hours: tuple[int, int] = SERVER_HOURS) -> bool:
    """Table 2: is ``now`` inside the server operating hours (facility time)?"""
    start, end = hours
    return start <= _minute(_aware(now, tz)) < end


def server_windows(
    day: date, tz: str = TOKYO, hours: tuple[int, int] = SERVER_HOURS
) -> tuple[datetime, datetime]:
    """The operating window of local ``day`` as aware instants [start, end); 24:00 is the
    next midnight (a correct instant also across a DST change elsewhere)."""
    zone = ZoneInfo(tz)
    return _at_minute(day, hours[0], zone), _at_minute(day, hours[1], zone)


def _at_minute(day: date, minute: int, zone: ZoneInfo) -> datetime:
    extra, minute = divmod(minute, 24 * 60)
    local = datetime.combine(day + timedelta(days=extra), time(minute // 60, minute % 60))
    return local.replace(tzinfo=zone)


# ---- support --------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _national(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("JP", years=year)


def support_closed_reason(day: date, extra_closed: Collection[date] = ()) -> str | None:
    """Why the support desk is closed all of ``day``; None when it opens that day."""
    if day in extra_closed:
        return "operator_holiday"
    (start_month, start_day), (end_month, end_day) = NEW_YEAR_CLOSED
    if (day.month, day.day) >= (start_month, start_day) or (day.month, day.day) <= (
        end_month,
        end_day,
    ):
        return "new_year"
    if day.weekday() not in SUPPORT_HOURS:
        return "sunday"
    if day in _national(day.year):
        return "national_holiday"
    return None


def holiday_name(day: date) -> str | None:
    """The national holiday's name (English, from ``holidays``), if ``day`` is one."""
    name = _national(day.year).get(day)
    return str(name) if name is not None else None


def support_open(now: datetime, tz: str = TOKYO, extra_closed: Collection[date] = ()) -> bool:
    """Table 3 and Art. 3-1 (20): is the support phone desk taking calls at ``now``?"""
    local = _aware(now, tz)
    if support_closed_reason(local.date(), extra_closed) is not None:
        return False
    start, end = SUPPORT_HOURS[local.weekday()]
    return start <= _minute(local) < end


def next_support_open(
    now: datetime, tz: str = TOKYO, extra_closed: Collection[date] = ()
) -> datetime:
    """``now`` when the desk is open, else the next instant it opens (facility time)."""
    local = _aware(now, tz)
    if support_open(local, tz, extra_closed):
        return local
    zone = ZoneInfo(tz)
    day = local.date()
    for _ in range(400):  # the longest closure is days, never a year
        if support_closed_reason(day, extra_closed) is None:
            opens = _at_minute(day, SUPPORT_HOURS[day.weekday()][0], zone)
            if opens > local:
                return opens
        day += timedelta(days=1)
    raise ValueError("the support desk never opens")  # only with absurd extra_closed


def describe(
    now: datetime | None = None, tz: str = TOKYO, extra_closed: Collection[date] = ()
) -> dict[str, Any]:
    """The hours as JSON for an endpoint; with ``now``, also whether each is open now."""
    info: dict[str, Any] = {
        "tz": tz,
        "server": {
            "article": "Table 2",
            "days": list(WEEKDAYS),
            "opens": hhmm(SERVER_HOURS[0]),
            "closes": hhmm(SERVER_HOURS[1]),
        },
        "support": {
            "article": "Table 3, Art. 3-1 (20)",
            "hours": [
                {"days": ["mon", "tue", "wed", "thu", "fri"], "opens": "08:00", "closes": "20:00"},
                {"days": ["sat"], "opens": "08:00", "closes": "18:00"},
            ],
            "closed": [
                "sun",
                "national_holidays",
                "new_year (12-29 to 01-03)",
                *sorted(d.isoformat() for d in extra_closed),
            ],
        },
    }
    if now is not None:
        local = _aware(now, tz)
        info["now"] = local.isoformat()
        info["server"]["open"] = server_open(local, tz)
        info["support"]["open"] = support_open(local, tz, extra_closed)
        info["support"]["next_open"] = next_support_open(local, tz, extra_closed).isoformat()
        info["support"]["closed_today"] = support_closed_reason(local.date(), extra_closed)
    return info


def service_hours(now: datetime, server_hours: tuple[str, str]) -> dict[str, Any]:
    """What ``GET /v1/service/hours`` answers: the support desk (Table 3) and the server
    hours this hub keeps (``server_hours``: ``JUNBAN_SERVICE_HOURS``, "HH:MM" each), each
    with whether it is open at ``now``."""
    described = describe(now)
    opens, closes = server_hours
    server = {**described["server"], "opens": opens, "closes": closes}
    server["open"] = server_open(now, hours=(minute_of_day(opens), minute_of_day(closes)))
    return {
        "now": described["now"],
        "tz": described["tz"],
        "support_open": described["support"]["open"],
        "next_support_open": described["support"]["next_open"],
        "support_hours": described["support"],
        "server_hours": server,
    }
