"""Business day and server operating hours in a facility's time zone. Pure: time is an argument."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import cache, lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

NOT_A_PLACE = frozenset({"localtime", "posixrules", "Factory"})
"""Files of the zone database that name no place: the server's own setting ("localtime",
changed with the machine), a template ("posixrules"), an unset zone ("Factory")."""


@cache
def _places() -> frozenset[str]:
    """The IANA zone names (``Asia/Tokyo``, ``UTC``, ``Japan``…) of the installed database,
    without ``NOT_A_PLACE`` and without the ``posix/`` and ``right/`` copies."""
    return frozenset(available_timezones() - NOT_A_PLACE)


@lru_cache(maxsize=256)
def zone(tz: str) -> ZoneInfo:
    """The ZoneInfo for ``tz``, an IANA zone name; ValueError for any other name (unknown,
    a directory such as "Asia", a path, "localtime", "posixrules", "Factory"). Validates a
    facility's or a contract's time zone before it is stored."""
    if tz not in _places():
        raise ValueError(f"unknown time zone {tz!r}")
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(f"unknown time zone {tz!r}") from exc


@lru_cache(maxsize=256)
def _stored_zone(tz: str) -> ZoneInfo:
    """The ZoneInfo of a queue's stored time zone, ``zone`` or, for a name stored before
    ``zone`` refused it (e.g. "localtime"), whatever the database holds under it, so such
    a queue keeps working until its facility is given a real zone."""
    try:
        return zone(tz)
    except ValueError:
        try:
            return ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
            raise ValueError(f"unknown time zone {tz!r}") from exc


def local_time(at: float, tz: str) -> datetime:
    return datetime.fromtimestamp(at, _stored_zone(tz))


def business_day(at: float, tz: str) -> str:
    """The facility-local date of the instant ``at``: numbering restarts when it changes."""
    return local_time(at, tz).date().isoformat()


def minute_of_day(hhmm: str) -> int:
    """``"07:30"`` -> 450; ``"24:00"`` -> 1440. ValueError when malformed."""
    hours, sep, minutes = hhmm.partition(":")
    well_formed = hhmm.isascii() and hours.isdigit() and minutes.isdigit() and len(minutes) == 2
    if not sep or not well_formed:
        raise ValueError(f"not a HH:MM time: {hhmm!r}")
    value = int(hours) * 60 + int(minutes)
    if int(minutes) > 59 or value > 24 * 60:
        raise ValueError(f"not a HH:MM time: {hhmm!r}")
    return value


def at_local(day: str, hhmm: str, tz: str) -> float:
    """The instant of local time ``hhmm`` on ``day`` (ISO date) in ``tz``, epoch seconds."""
    midnight = datetime.combine(date.fromisoformat(day), time(0), _stored_zone(tz))
    return (midnight + timedelta(minutes=minute_of_day(hhmm))).timestamp()


def local_minute(at: float, tz: str) -> float:
    """Minutes since local midnight (with fractions) of the instant ``at``."""
    t = local_time(at, tz)
    return t.hour * 60 + t.minute + t.second / 60 + t.microsecond / 60e6


def in_hours(at: float, tz: str, hours: tuple[str, str]) -> bool:
    """True when ``at`` lies in [start, end) local time (Table 2: 06:00–24:00 by default).

    ``end`` before ``start`` means the window runs past midnight (e.g. 22:00–02:00).
    """
    start, end = minute_of_day(hours[0]), minute_of_day(hours[1])
    now = local_minute(at, tz)
    if start <= end:
        return start <= now < end
    return now >= start or now < end
