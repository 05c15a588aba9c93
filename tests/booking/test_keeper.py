"""The booking keeper on real Redis (the hub's own services, with an injected clock): a
booking whose time is over becomes a no-show, a check-in whose second step was lost is
recorded from the queue, and the queue's counts follow."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest

from hub.app import Services, build_services
from hub.queue.model import AdmitBooking
from hub.settings import Settings
from tests.booking.helpers import booking_facility, hhmm, local, today
from tests.conftest import bearer, staff_headers


@pytest.fixture
async def services(redis_url: str) -> AsyncIterator[Services]:
    built = build_services(Settings.from_env({"JUNBAN_REDIS_URL": redis_url}))
    yield built
    await built.redis.aclose()


async def _staff_booking(client: httpx.AsyncClient, info: str, tz: str, name: str) -> dict:
    body = {"date": today(tz), "band": hhmm(local(tz, -5)), "name": name}
    r = await client.post(
        f"/v1/queues/{info}/bookings", json=body, headers=staff_headers(info.split("-")[0])
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_the_keeper_marks_no_shows_and_repairs_a_lost_check_in(
    client: httpx.AsyncClient, services: Services
) -> None:
    info, tz = await booking_facility(client, late_min=10)
    gone = await _staff_booking(client, info, tz, "来ない人")
    came = await _staff_booking(client, info, tz, "来た人")
    # the queue admitted `came`, but the book never heard of it (a hub died in between)
    now = time.time()
    band = came["booking"]["band"]
    await services.queues.run(
        info,
        AdmitBooking(
            at=now,
            ticket_id=came["booking"]["id"],
            band=f"{band['from']}-{band['to']}",
            band_start=now - 300,
        ),
        lambda s: None,
        None,
    )
    await services.bookings.keep_queue(info, now)
    staff = staff_headers(info.split("-")[0])
    book = (await client.get(f"/v1/queues/{info}/bookings", headers=staff)).json()
    status = {b["name"]: b["status"] for b in book["bookings"]}
    assert status == {"来ない人": "booked", "来た人": "checked_in"}
    # an hour and ten minutes on, the band (to about now + 60 min) ended 10 minutes ago
    await services.bookings.keep_queue(info, now + 75 * 60)
    book = (await client.get(f"/v1/queues/{info}/bookings", headers=staff)).json()
    status = {b["name"]: b["status"] for b in book["bookings"]}
    assert status == {"来ない人": "no_show", "来た人": "checked_in"}
    view = (await client.get(f"/v1/queues/{info}")).json()
    assert view["bands"][0]["expected"] == 0
    r = await client.post(
        f"/v1/queues/{info}/bookings/{gone['booking']['id']}/check-in",
        headers=bearer(gone["token"]),
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "no_show"
    # staff may still admit a no-show: at the end of the line, marked late
    r = await client.post(
        f"/v1/queues/{info}/bookings/{gone['booking']['id']}/check-in", headers=staff
    )
    assert r.status_code == 200, r.text
    assert r.json()["ticket"]["late"] is True
