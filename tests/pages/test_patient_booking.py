"""Time-band reservations on the patient page: the bands and the booking form on /q/{info},
the booking at /q/{info}/t/{booking id} (cancel, the check-in window, 「到着しました」), then
the live ticket with its 予約 label. Real Chromium against a real hub; staff act through the
HTTP API."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from playwright.async_api import Page, expect

from tests.booking.helpers import booking_facility, hhmm, local, noon_zone, today
from tests.conftest import HubProcess, make_facility, staff_headers
from tests.pages.conftest import screenshot

BOOKING_URL = re.compile(r"/q/\d+-\d\d/t/R[0-9]{8}[A-Za-z0-9_-]{8}$")


def clinic_time(iso: str, tz: str) -> str:
    """An ISO time from the hub as HH:MM on the clinic's clock."""
    return datetime.fromisoformat(iso).astimezone(ZoneInfo(tz)).strftime("%H:%M")


async def staff_booking(client: httpx.AsyncClient, info: str, day: str, band: str) -> Any:
    """A desk booking (staff may book a band that started): {booking, window, token, …}."""
    body = {"date": day, "band": band, "name": "予約 花子"}
    headers = staff_headers(info.split("-")[0])
    r = await client.post(f"/v1/queues/{info}/bookings", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


async def later_band_facility(
    client: httpx.AsyncClient, capacity: int
) -> tuple[str, str, str, str]:
    """Counter 01 with one band from an hour to 90 minutes from now: (info, tz, from, to)."""
    tz = noon_zone()
    start, end = hhmm(local(tz, 60)), hhmm(local(tz, 90))
    bands = [{"from": start, "to": end, "capacity": capacity}]
    info, _ = await booking_facility(client, bands=bands, tz=tz)
    return info, tz, start, end


async def fill_booking(page: Page, name: str = "予約 太郎", consent: bool = True) -> None:
    await page.locator("#book-name").fill(name)
    await page.locator("#book-phone").fill("090-1234-5678")
    await page.locator("#book-ref").fill("A-1234")
    if consent:
        await page.locator("#book-consent").check()


async def test_a_patient_books_a_later_band_sees_it_and_cancels_it(
    page: Page, hub: HubProcess, client: httpx.AsyncClient
) -> None:
    info, tz, start, end = await later_band_facility(client, capacity=2)
    await page.goto(f"{hub.base_url}/q/{info}")
    await expect(page.locator("#bands")).to_be_visible()
    await expect(page.locator("#band-day")).to_have_value(today(tz))
    await expect(page.locator("#band-day option").first).to_contain_text("今日")
    band = page.locator("#band-list button", has_text=f"{start}〜{end}")
    await expect(band).to_contain_text("残り2")
    await expect(page.locator("#book-form")).to_be_hidden()
    await band.click()
    await expect(band).to_have_attribute("aria-pressed", "true")
    await expect(page.locator("#book-chosen")).to_contain_text(f"{start}〜{end}")

    await fill_booking(page, consent=False)
    await page.locator("#book-btn").click()
    await expect(page.locator("#book-error")).to_contain_text("同意")  # nothing was sent
    await page.locator("#book-consent").check()
    await expect(page.locator("#book-error")).to_be_hidden()
    await screenshot(page, "patient-booking")
    await page.locator("#book-btn").click()
    await page.wait_for_url(BOOKING_URL)
    booking_id = page.url.rsplit("/", 1)[1]
    await expect(page.locator("#booking-band")).to_have_text(f"{start}〜{end}")
    await expect(page.locator("#booking-status")).to_have_text("予約済み")
    await expect(page.locator("#booking-date")).to_contain_text("今日")
    await expect(page.locator("#booking-window")).to_contain_text("受付開始は")
    await expect(page.locator("#booking-checkin")).to_be_hidden()
    await expect(page.locator("#booking-cancel")).to_be_visible()
    await expect(page.locator("#ticket")).to_be_hidden()
    await screenshot(page, "patient-booked")
    staff = await client.get(
        f"/v1/queues/{info}/bookings", headers=staff_headers(info.split("-")[0])
    )
    mine = [(b["id"], b["name"], b["phone"], b["patient_ref"]) for b in staff.json()["bookings"]]
    assert mine == [(booking_id, "予約 太郎", "090-1234-5678", "A-1234")]

    # back on the queue's page: one place left, and the booking listed
    await page.goto(f"{hub.base_url}/q/{info}")
    await expect(band).to_contain_text("残り1")
    link = page.locator("#mine-list a")
    await expect(link).to_contain_text(f"{start}〜{end}")
    await link.click()
    await page.wait_for_url(BOOKING_URL)
    await page.locator("#booking-cancel").click()
    await expect(page.locator("#booking-cancel-dialog")).to_be_visible()
    await page.locator("#booking-cancel-yes").click()
    await expect(page.locator("#booking-status")).to_have_text("取り消し済み")
    await expect(page.locator("#booking-cancel")).to_be_hidden()
    again = page.locator("#booking-link")
    await expect(again).to_have_text("もう一度予約する")
    kept = await page.evaluate(
        "Object.keys(localStorage).filter((k) => k.startsWith('junban.booking.'))"
    )
    assert kept == []  # a cancelled booking is forgotten
    await again.click()
    await expect(band).to_contain_text("残り2")


async def test_a_booked_patient_checks_in_ahead_of_earlier_walk_ins(
    page: Page, hub: HubProcess, client: httpx.AsyncClient
) -> None:
    info, tz = await booking_facility(client)  # one band from about 5 min ago, 5 places
    for _ in range(2):
        r = await client.post(f"/v1/queues/{info}/tickets")
        assert r.status_code == 201, r.text
    made = await staff_booking(client, info, today(tz), hhmm(local(tz, -5)))
    booking_id, band = made["booking"]["id"], made["booking"]["band"]

    # a new walk-in's wait counts the booking expected to check in ahead of it
    view = (await client.get(f"/v1/queues/{info}")).json()
    assert view["booked_ahead"] > 0
    wait = int((view["waiting_count"] + view["booked_ahead"]) * view["minutes_per_patient"] + 0.5)
    await page.goto(f"{hub.base_url}/q/{info}")
    await expect(page.locator("#new-wait")).to_have_text(f"約{wait}分")

    await page.goto(f"{hub.base_url}/q/{info}/t/{booking_id}#token={made['token']}")
    await expect(page.locator("#booking-status")).to_have_text("予約済み")
    await expect(page.locator("#booking-band")).to_have_text(f"{band['from']}〜{band['to']}")
    await expect(page.locator("#booking-window")).to_contain_text("到着しました")
    await expect(page.locator("#booking-cancel")).to_be_hidden()  # the band has started
    assert "#token" not in page.url
    await page.locator("#booking-checkin").click()

    await expect(page.locator("#ticket-number")).to_have_text("3")
    await expect(page.locator("#booking")).to_be_hidden()
    await expect(page.locator("#ticket-reserved")).to_contain_text("予約")
    await expect(page.locator("#ticket-band")).to_have_text(f"{band['from']}〜{band['to']}")
    await expect(page.locator("#ahead")).to_have_text("0人")  # ahead of the two walk-ins
    await expect(page.locator("#ticket-status")).to_contain_text("次があなたの番です")
    await expect(page.locator("#net")).to_have_text("リアルタイム更新中")
    await screenshot(page, "patient-reserved-ticket")

    # after a reload still the ticket (its token is a ticket's now), followed live as any
    await page.reload()
    await expect(page.locator("#ticket-number")).to_have_text("3")
    await expect(page.locator("#ticket-reserved")).to_be_visible()
    await expect(page.locator("#booking")).to_be_hidden()
    facility = info.split("-")[0]
    r = await client.post(
        f"/v1/queues/{info}/call-next", json={"room": "2"}, headers=staff_headers(facility)
    )
    assert r.status_code == 200 and r.json()["called"]["id"] == booking_id, r.text
    await expect(page.locator("#called")).to_be_visible()
    await expect(page.locator("#called-number")).to_have_text("3")
    await page.locator("#called-ok").click()
    await expect(page.locator("#ticket-status")).to_contain_text("2番診察室")


async def test_too_early_shows_when_check_in_opens_and_no_check_in_button(
    page: Page, hub: HubProcess, client: httpx.AsyncClient
) -> None:
    info, tz, start, end = await later_band_facility(client, capacity=2)
    made = await staff_booking(client, info, today(tz), start)
    opens = clinic_time(made["window"]["opens_at"], tz)
    booking_id = made["booking"]["id"]
    early = await client.post(
        f"/v1/queues/{info}/bookings/{booking_id}/check-in",
        headers={"Authorization": f"Bearer {made['token']}"},
    )
    assert early.status_code == 409 and early.json()["error"]["code"] == "too_early"

    await page.goto(f"{hub.base_url}/q/{info}/t/{booking_id}#token={made['token']}")
    await expect(page.locator("#booking-window")).to_contain_text(f"受付開始は {opens} からです")
    await expect(page.locator("#booking-band")).to_have_text(f"{start}〜{end}")
    await expect(page.locator("#booking-checkin")).to_be_hidden()
    await expect(page.locator("#booking-cancel")).to_be_visible()
    await page.locator("#lang").click()
    await expect(page.locator("#booking-window")).to_contain_text(f"Check-in opens at {opens}")
    await expect(page.locator("#booking-status")).to_have_text("Booked")
    await expect(page.locator("#booking-band")).to_have_text(f"{start}–{end}")


async def test_a_band_taken_meanwhile_says_so_and_today_follows_live(
    page: Page, hub: HubProcess, client: httpx.AsyncClient
) -> None:
    info, tz, start, end = await later_band_facility(client, capacity=1)
    tomorrow = (date.fromisoformat(today(tz)) + timedelta(days=1)).isoformat()
    await page.goto(f"{hub.base_url}/q/{info}")
    band = page.locator("#band-list button", has_text=f"{start}〜{end}")
    await expect(band).to_contain_text("残り1")
    await page.locator("#band-day").select_option(tomorrow)
    await band.click()
    await fill_booking(page)
    # someone else takes tomorrow's last place first
    other = {"date": tomorrow, "band": start, "name": "先の人", "phone": "090-0000-0000"}
    assert (await client.post(f"/v1/queues/{info}/bookings", json=other)).status_code == 201
    await page.locator("#book-btn").click()
    await expect(page.locator("#book-error")).to_contain_text("満員")
    await expect(band).to_contain_text("満")
    await expect(band).to_be_disabled()
    await expect(page.locator("#book-form")).to_be_hidden()
    assert BOOKING_URL.search(page.url) is None

    # today's places follow the queue's live view, without a reload
    await page.locator("#band-day").select_option(today(tz))
    await expect(band).to_contain_text("残り1")
    other["date"] = today(tz)
    assert (await client.post(f"/v1/queues/{info}/bookings", json=other)).status_code == 201
    await expect(band).to_contain_text("満")
    await expect(band).to_be_disabled()


async def test_no_booking_section_when_the_counter_takes_no_bookings(
    page: Page, hub: HubProcess, client: httpx.AsyncClient
) -> None:
    facility = await make_facility(client)
    await page.goto(f"{hub.base_url}/q/{facility}-01")
    await expect(page.locator("body")).to_have_attribute("data-bookings", "off")
    await expect(page.locator("#bands")).to_be_hidden()
    await expect(page.locator("#take-btn")).to_be_enabled()


async def test_a_clinic_that_checks_in_at_the_desk_offers_no_check_in_button(
    page: Page, hub: HubProcess, client: httpx.AsyncClient
) -> None:
    info, tz = await booking_facility(client, check_in="on_site")
    made = await staff_booking(client, info, today(tz), hhmm(local(tz, -5)))
    await page.goto(f"{hub.base_url}/q/{info}/t/{made['booking']['id']}#token={made['token']}")
    await expect(page.locator("#booking-status")).to_have_text("予約済み")
    await expect(page.locator("#booking-window")).to_contain_text("受付でお申し出ください")
    await expect(page.locator("#booking-checkin")).to_be_hidden()
