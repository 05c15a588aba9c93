"""A facility whose clinic time is about noon now, so today's bands fit in the day whenever
the tests run, and band times around now."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from tests.conftest import OPERATOR, new_facility_number, staff_headers


def noon_zone(now: float | None = None) -> str:
    """An ``Etc/GMT…`` zone whose local time is between 11:00 and 13:00 at ``now``."""
    hour = datetime.fromtimestamp(now or time.time(), ZoneInfo("UTC")).hour
    offset = 12 - hour  # -11 … 12
    if offset == 0:
        return "Etc/GMT"
    return f"Etc/GMT-{offset}" if offset > 0 else f"Etc/GMT+{-offset}"


def local(tz: str, minutes_from_now: float = 0) -> datetime:
    return datetime.now(ZoneInfo(tz)) + timedelta(minutes=minutes_from_now)


def hhmm(moment: datetime) -> str:
    """``moment`` rounded down to 5 minutes, as HH:MM."""
    return f"{moment.hour:02}:{moment.minute - moment.minute % 5:02}"


async def booking_facility(
    client: httpx.AsyncClient,
    bands: list[dict[str, Any]] | None = None,
    counters: tuple[str, ...] = ("01",),
    tz: str | None = None,
    **settings: Any,
) -> tuple[str, str]:
    """A fresh facility at clinic noon, its counters open, counter 01 taking bookings in
    ``bands`` (default: one band from about now to an hour later, 5 places). (info, tz)."""
    tz = tz or noon_zone()
    number = new_facility_number()
    body = {
        "number": number,
        "name": f"Clinic {number}",
        "address": "1-1 Test-cho",
        "hours": "9-18",
        "tz": tz,
        "counters": {c: f"counter {c}" for c in counters},
    }
    r = await client.post("/v1/admin/facilities", json=body, headers=OPERATOR)
    assert r.status_code == 201, r.text
    staff = staff_headers(number)
    for counter in counters:
        for action in ("open", "web/open"):
            r = await client.post(f"/v1/queues/{number}-{counter}/{action}", headers=staff)
            assert r.status_code == 200, r.text
    info = f"{number}-01"
    if bands is None:
        bands = [{"from": hhmm(local(tz, -5)), "to": hhmm(local(tz, 60)), "capacity": 5}]
    config = {"bookings": {"bands": bands, "closed_on_holidays": False, **settings}}
    r = await client.put(f"/v1/queues/{info}/config", json=config, headers=staff)
    assert r.status_code == 200, r.text
    return info, tz


def today(tz: str) -> str:
    return local(tz).date().isoformat()
