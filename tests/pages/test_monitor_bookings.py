"""The monitor marks checked-in time-band bookings (real Chromium, real hub): 予約 beside
their numbers in the next list, and on the number being called."""

from __future__ import annotations

import httpx
from playwright.async_api import Page, expect

from tests.booking.helpers import booking_facility, hhmm, local, today
from tests.conftest import HubProcess, staff_headers
from tests.pages.conftest import monitor_token
from tests.pages.test_monitor import card


async def test_the_monitor_marks_booked_patients(
    hub: HubProcess, client: httpx.AsyncClient, tv: Page
) -> None:
    info, tz = await booking_facility(client)
    facility = info.split("-")[0]
    staff = staff_headers(facility)
    for _ in range(2):
        r = await client.post(f"/v1/queues/{info}/tickets", json={}, headers=staff)
        assert r.status_code == 201
    body = {"date": today(tz), "band": hhmm(local(tz, -5)), "name": "予約 花子"}
    booking = (await client.post(f"/v1/queues/{info}/bookings", json=body, headers=staff)).json()
    r = await client.post(
        f"/v1/queues/{info}/bookings/{booking['booking']['id']}/check-in", headers=staff
    )
    assert r.status_code == 200 and r.json()["ticket"]["number"] == 3
    await tv.goto(f"{hub.base_url}/monitor/{facility}#token={monitor_token(facility)}")
    next_items = card(tv, info).locator(".mon-next-item")
    await expect(next_items).to_have_text(["3予約", "1", "2"])  # band_first: before walk-ins
    await expect(next_items.first).to_have_class("mon-next-item jb-num mon-text is-reserved")
    r = await client.post(f"/v1/queues/{info}/call-next", json={"room": "1"}, headers=staff)
    assert r.status_code == 200
    await expect(card(tv, info).locator(".mon-now-number")).to_have_text("3")
    await expect(card(tv, info).locator(".mon-from")).to_have_text("予約")
    await expect(next_items).to_have_text(["1", "2"])
    r = await client.post(f"/v1/queues/{info}/call-next", json={"room": "1"}, headers=staff)
    await expect(card(tv, info).locator(".mon-now-number")).to_have_text("1")
    await expect(card(tv, info).locator(".mon-from")).to_be_hidden()
