"""The console's 予約 page /console/{facility}/bookings and the settings page's 時間帯予約
editor in real headless Chromium against a real hub (a facility at clinic noon whose counter
01 takes bookings: tests/booking/helpers.py): staff see the day's bands and bookings, check
a booking in (its ticket number on the row, then 予約 and the band on the console's waiting
row), book by phone and cancel, see a full band's refusal and a counter without bookings;
the settings editor saves bands and a bad band (overlap) shows the hub's reason and changes
nothing."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.booking.helpers import booking_facility, hhmm, local, noon_zone, today
from tests.conftest import HubProcess, staff_headers
from tests.pages.conftest import DESK, PASSWORD, screenshot, staff_user

ALL_DAYS = [1, 2, 3, 4, 5, 6, 7]
_addresses = itertools.count(1)


@pytest.fixture
async def desk(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A staff PC's browser (its own client address: its logins are its own)."""
    n = next(_addresses)
    ctx = await browser.new_context(
        locale="ja-JP",
        viewport=DESK,
        extra_http_headers={"X-Forwarded-For": f"172.25.{n // 250 % 250}.{n % 250 + 1}"},
    )
    yield ctx
    await ctx.close()


@pytest.fixture
def errors() -> list[str]:
    return []


async def open_page(
    ctx: BrowserContext, base_url: str, path: str, user: str, errors: list[str]
) -> Page:
    """A staff sub-page, logged in through its own form; its uncaught errors in ``errors``."""
    page = await ctx.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(f"{base_url}{path}")
    await page.fill("#login-form [name=user]", user)
    await page.fill("#login-form [name=password]", PASSWORD)
    await page.click("#login-form button")
    await expect(page.locator("#app")).to_be_visible()
    return page


async def book(client: httpx.AsyncClient, info: str, band: str, name: str, **extra: Any) -> str:
    staff = staff_headers(info.split("-")[0])
    body = {"date": today(extra.pop("tz")), "band": band, "name": name, **extra}
    r = await client.post(f"/v1/queues/{info}/bookings", json=body, headers=staff)
    assert r.status_code == 201, r.text
    return str(r.json()["booking"]["id"])


async def bookings_config(client: httpx.AsyncClient, info: str) -> Any:
    staff = staff_headers(info.split("-")[0])
    r = await client.get(f"/v1/queues/{info}/staff", headers=staff)
    assert r.status_code == 200, r.text
    return r.json()["config"]["bookings"]


async def test_staff_check_a_booking_in_and_the_console_shows_it_reserved(
    hub: HubProcess, client: httpx.AsyncClient, desk: BrowserContext, errors: list[str]
) -> None:
    tz = noon_zone()
    start, end, later = hhmm(local(tz, -5)), hhmm(local(tz, 60)), hhmm(local(tz, 120))
    bands = [{"from": start, "to": end, "capacity": 5}, {"from": end, "to": later, "capacity": 3}]
    info, _ = await booking_facility(client, bands=bands, tz=tz)
    facility = info.split("-")[0]
    await book(client, info, start, "山田 花子", tz=tz, phone="090-1234-5678",
               patient_ref="A-1001", channel="desk")  # fmt: skip
    await book(client, info, start, "佐藤 次郎", tz=tz, phone="080-2222-3333", channel="phone")
    gone = await book(client, info, start, "鈴木 三郎", tz=tz, channel="phone")
    r = await client.delete(f"/v1/queues/{info}/bookings/{gone}", headers=staff_headers(facility))
    assert r.status_code == 200, r.text
    await book(client, info, end, "高橋 四郎", tz=tz, phone="070-4444-5555", channel="phone")
    user = await staff_user(client, facility)

    page = await open_page(desk, hub.base_url, f"/console/{facility}/bookings", user, errors)
    await expect(page.locator("#date")).to_have_value(today(tz))
    first = page.locator(f'.bk-band[data-band="{start}"]')
    await expect(first.locator("h2")).to_have_text(f"{start}〜{end}")
    await expect(first.locator(".bk-count")).to_have_text("予約 2 / 5")
    await expect(first.locator(".bk-band-head")).to_contain_text("残り 3")
    second = page.locator(f'.bk-band[data-band="{end}"]')
    await expect(second.locator(".bk-count")).to_have_text("予約 1 / 3")
    await expect(second.locator(".bk-band-head")).to_contain_text("Web 予約受付中")
    row = first.locator(".bk-booking", has_text="山田 花子")
    for text in ("090-1234-5678", "診察券 A-1001", "窓口", "予約済み"):
        await expect(row).to_contain_text(text)
    await expect(first.locator(".bk-booking", has_text="佐藤 次郎")).to_contain_text("電話")
    cancelled = first.locator(".bk-booking", has_text="鈴木 三郎")
    await expect(cancelled).to_contain_text("取消（スタッフ）")
    await expect(cancelled.locator("button")).to_have_count(0)

    await row.locator('[data-action="check-in"]').click()
    await expect(row.locator(".bk-ticket")).to_have_text("受付番号 1")
    await expect(row).to_contain_text("受付済み")
    await expect(row.locator("button")).to_have_count(0)
    await expect(page.locator("#notice")).to_contain_text(
        "山田 花子 さんを受付しました（受付番号 1）"
    )
    await screenshot(page, "console-bookings")

    # a fresh page finds the ticket's number in the queue
    await page.reload()
    await expect(row.locator(".bk-ticket")).to_have_text("受付番号 1")

    # the console: the reserved ticket in the waiting list, labelled 予約 with its band
    await page.goto(f"{hub.base_url}/console/{facility}")
    await expect(page.locator("#app")).to_be_visible()
    await expect(page.locator("#bookings-link")).to_have_attribute(
        "href", f"/console/{facility}/bookings"
    )
    waiting = page.locator('#waiting li[data-number="1"]')
    await expect(waiting.locator(".con-chan")).to_have_text("予約")
    await expect(waiting.locator(".con-flag-band")).to_have_text(f"{start}–{end}")
    await expect(waiting).to_contain_text("山田 花子")
    await page.locator("#bookings-link").click()
    await expect(page.locator(f'.bk-band[data-band="{start}"] .bk-count')).to_have_text(
        "予約 2 / 5"
    )
    assert not errors, errors


async def test_staff_book_by_phone_cancel_and_see_a_full_band_refused(
    hub: HubProcess, client: httpx.AsyncClient, desk: BrowserContext, errors: list[str]
) -> None:
    tz = noon_zone()
    start, end = hhmm(local(tz, -5)), hhmm(local(tz, 60))
    bands = [{"from": start, "to": end, "capacity": 2}]
    info, _ = await booking_facility(client, bands=bands, counters=("01", "02"), tz=tz)
    facility = info.split("-")[0]
    user = await staff_user(client, facility)
    page = await open_page(desk, hub.base_url, f"/console/{facility}/bookings", user, errors)
    band = page.locator(f'.bk-band[data-band="{start}"]')
    await expect(band.locator(".bk-list")).to_have_text("予約はありません。")

    await band.locator(".bk-phone summary").click()
    form = band.locator(".bk-phone-form")
    await form.locator("[name=name]").fill("電話 一郎")
    await form.locator("[name=phone]").fill("03-1234-5678")
    await form.locator("[name=patient_ref]").fill("P-77")
    await form.get_by_role("button", name="予約する").click()
    await expect(form.locator(".bk-form-done")).to_have_text(
        f"電話 一郎 さんの予約を受け付けました（{start}〜{end}）。"
    )
    await expect(form.locator("[name=name]")).to_have_value("")
    row = band.locator(".bk-booking", has_text="電話 一郎")
    for text in ("03-1234-5678", "診察券 P-77", "電話", "予約済み"):
        await expect(row).to_contain_text(text)
    await expect(band.locator(".bk-count")).to_have_text("予約 1 / 2")
    staff = staff_headers(facility)
    day = (await client.get(f"/v1/queues/{info}/bookings", headers=staff)).json()
    [made] = day["bookings"]
    assert (made["name"], made["channel"], made["patient_ref"]) == ("電話 一郎", "phone", "P-77")

    # another place taken elsewhere: the band is full, and the page says so
    await book(client, info, start, "窓口 二郎", tz=tz, channel="desk")
    await form.locator("[name=name]").fill("三人目")
    await form.get_by_role("button", name="予約する").click()
    await expect(form.locator(".bk-form-error")).to_have_text(
        "この時間帯は満員です。別の時間帯を選んでください。 (band_full)"
    )
    await expect(band.locator(".bk-count")).to_have_text("予約 2 / 2")
    await expect(band.locator(".bk-band-head")).to_contain_text("満員")
    await expect(band.locator(".bk-booking", has_text="窓口 二郎")).to_be_visible()

    # cancel the phone booking, after a confirmation
    await row.locator('[data-action="cancel"]').click()
    await expect(page.locator("#confirm")).to_contain_text(f"電話 一郎 さん（{start}〜{end}）")
    await page.click("#confirm-yes")
    await expect(row).to_contain_text("取消（スタッフ）")
    await expect(band.locator(".bk-count")).to_have_text("予約 1 / 2")
    await expect(page.locator("#notice")).to_have_text("電話 一郎 さんの予約を取り消しました。")
    day = (await client.get(f"/v1/queues/{info}/bookings", headers=staff)).json()
    assert {b["name"]: b["status"] for b in day["bookings"]} == {
        "電話 一郎": "cancelled",
        "窓口 二郎": "booked",
    }

    # the next day: its own (empty) list; today again
    await page.click("#next-day")
    await expect(page.locator("#date")).to_have_value(local(tz, 24 * 60).date().isoformat())
    await expect(band.locator(".bk-list")).to_have_text("予約はありません。")
    await page.click("#today")
    await expect(band.locator(".bk-count")).to_have_text("予約 1 / 2")

    # counter 02 takes no bookings: said, with the way to the settings
    await page.select_option("#counter", "02")
    await expect(page.locator("#off")).to_contain_text("この窓口は時間帯予約を受け付けていません。")
    link = page.locator("#settings-link")
    await expect(link).to_have_attribute("href", f"/console/{facility}/settings")
    await expect(page.locator(".bk-band")).to_have_count(0)

    # in English (?lang=en), with the counter chosen last; the language button switches back
    await page.goto(f"{hub.base_url}/console/{facility}/bookings?lang=en")
    await expect(page.locator("#heading")).to_have_text("Time-band bookings")
    await expect(page.locator("#off")).to_contain_text("This counter takes no time-band bookings.")
    await page.select_option("#counter", "01")
    await expect(band.locator(".bk-count")).to_have_text("Booked 1 / 2")
    await expect(row).to_contain_text("Cancelled (staff)")
    await page.click("#lang")
    await expect(band.locator(".bk-count")).to_have_text("予約 1 / 2")
    await expect(page.locator("#heading")).to_have_text("時間帯予約")
    assert not errors, errors


async def test_the_settings_editor_saves_bands_and_refuses_an_overlap(
    hub: HubProcess, client: httpx.AsyncClient, desk: BrowserContext, errors: list[str]
) -> None:
    tz = noon_zone()
    start, end = hhmm(local(tz, -5)), hhmm(local(tz, 60))
    info, _ = await booking_facility(client, counters=("01", "02"), tz=tz)
    facility = info.split("-")[0]
    user = await staff_user(client, facility)
    page = await open_page(desk, hub.base_url, f"/console/{facility}/settings", user, errors)

    card = page.locator(f'form.se-queue[data-info="{info}"]')
    editor = card.locator(".se-bookings")
    await editor.locator("summary").click()
    await expect(editor.locator("summary")).to_contain_text("時間帯予約 1 枠")
    await expect(editor.locator("[name=bk_on]")).to_be_checked()
    first = editor.locator(".se-bk-band").first
    await expect(first.locator("[name=bk_from]")).to_have_value(start)
    await expect(first.locator("[name=bk_to]")).to_have_value(end)
    await expect(first.locator("[name=bk_capacity]")).to_have_value("5")
    await first.locator("[name=bk_capacity]").fill("8")
    await editor.locator(".se-bk-add").click()
    added = editor.locator(".se-bk-band").nth(1)
    await added.locator("[name=bk_from]").fill("14:00")
    await added.locator("[name=bk_to]").fill("15:00")
    await added.locator("[name=bk_capacity]").fill("3")
    await added.locator('[name=bk_day][value="7"]').uncheck()
    await editor.locator("[name=bk_placement]").select_option("interleave")
    await editor.locator("[name=bk_k]").fill("3")
    await editor.locator("[name=bk_early_min]").fill("20")
    await card.locator("button[type=submit]").click()
    await expect(card.locator(".jb-notice")).to_have_text("窓口 01 の設定を保存しました。")
    await expect(editor.locator("summary")).to_contain_text("2 枠")
    saved = await bookings_config(client, info)
    assert saved["bands"] == [
        {"from": start, "to": end, "capacity": 8, "days": ALL_DAYS},
        {"from": "14:00", "to": "15:00", "capacity": 3, "days": [1, 2, 3, 4, 5, 6]},
    ]
    assert (saved["placement"], saved["early_min"], saved["late_min"]) == ("interleave:3", 20, 15)
    assert saved["closed_on_holidays"] is False  # as booking_facility set it: kept

    # an overlapping band: the hub's reason, and nothing changes
    await editor.locator(".se-bk-add").click()
    bad = editor.locator(".se-bk-band").nth(2)
    await bad.locator("[name=bk_from]").fill("14:30")
    await bad.locator("[name=bk_to]").fill("15:30")
    await card.locator("button[type=submit]").click()
    notice = card.locator(".jb-notice")
    await expect(notice).to_contain_text("時間帯予約の設定を確認してください")
    await expect(notice).to_contain_text("bands 14:00-15:00 and 14:30-15:30 overlap")
    await expect(notice).to_have_attribute("role", "alert")
    assert await bookings_config(client, info) == saved
    await screenshot(page, "settings-bookings")

    # counter 02: bookings turned on with one band (the defaults for the rest)
    other = page.locator(f'form.se-queue[data-info="{facility}-02"]')
    editor = other.locator(".se-bookings")
    await editor.locator("summary").click()
    await expect(editor.locator("summary")).to_contain_text("オフ")
    await editor.locator("[name=bk_on]").check()
    await editor.locator(".se-bk-add").click()
    await editor.locator(".se-bk-band [name=bk_capacity]").fill("4")
    await other.locator("button[type=submit]").click()
    await expect(other.locator(".jb-notice")).to_have_text("窓口 02 の設定を保存しました。")
    turned_on = await bookings_config(client, f"{facility}-02")
    assert turned_on["bands"] == [{"from": "09:00", "to": "10:00", "capacity": 4, "days": ALL_DAYS}]
    assert (turned_on["placement"], turned_on["show_rate"]) == ("band_first", 0.9)
    # and off again
    await editor.locator("[name=bk_on]").uncheck()
    async with page.expect_response(lambda r: r.url.endswith("/config")) as answer:
        await other.locator("button[type=submit]").click()
    assert (await answer.value).status == 200
    await expect(editor.locator("summary")).to_contain_text("オフ")
    assert await bookings_config(client, f"{facility}-02") is None
    assert not errors, errors
