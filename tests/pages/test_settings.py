"""The settings page /console/{facility}/settings in real headless Chromium against a real
hub: a saved profile shows live on the monitor and the patient page, a bad session is a
clear message that changes nothing, and a session set to start at the next minute opens web
reception at that minute (on a hub whose scheduler ticks every 0.5 s)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.conftest import HubProcess, make_facility, staff_headers, start_hub
from tests.pages.conftest import DESK, PASSWORD, monitor_token, screenshot, staff_user

TOKYO = ZoneInfo("Asia/Tokyo")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_addresses = itertools.count(1)


@pytest.fixture
async def desk(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A staff PC's browser (its own client address: its logins are its own)."""
    n = next(_addresses)
    ctx = await browser.new_context(
        locale="ja-JP",
        viewport=DESK,
        extra_http_headers={"X-Forwarded-For": f"172.31.{n // 250 % 250}.{n % 250 + 1}"},
    )
    yield ctx
    await ctx.close()


async def open_settings(
    ctx: BrowserContext, base_url: str, facility: str, user: str
) -> tuple[Page, list[str]]:
    """The settings page, logged in through its own form; and its uncaught errors."""
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(f"{base_url}/console/{facility}/settings")
    await page.fill("#login-form [name=user]", user)
    await page.fill("#login-form [name=password]", PASSWORD)
    await page.click("#login-form button")
    await expect(page.locator("#app")).to_be_visible()
    await expect(page.locator("#name")).to_have_value(f"Clinic {facility}")
    return page, errors


async def test_a_saved_profile_shows_live_on_the_monitor_and_the_patient_page(
    hub: HubProcess, client: httpx.AsyncClient, desk: BrowserContext, tv: Page, page: Page
) -> None:
    facility = await make_facility(client, ("01", "02"))
    user = await staff_user(client, facility)
    await tv.goto(f"{hub.base_url}/monitor/{facility}#token={monitor_token(facility)}")
    await expect(tv.locator("#clinic-name")).to_have_text(f"Clinic {facility}")
    await page.goto(f"{hub.base_url}/q/{facility}-01")
    await expect(page.locator("#clinic-name")).to_have_text(f"Clinic {facility}")

    settings, errors = await open_settings(desk, hub.base_url, facility, user)
    await settings.fill("#name", "さくら内科クリニック")
    label = settings.locator("#counters .se-counter").first.locator("[name=label]")
    await label.fill("内科")
    await settings.click("#save")
    await expect(settings.locator("#save-status")).to_contain_text("保存しました")

    # live: neither page is reloaded
    await expect(tv.locator("#clinic-name")).to_have_text("さくら内科クリニック", timeout=5000)
    await expect(page.locator("#clinic-name")).to_have_text("さくら内科クリニック", timeout=5000)
    await expect(page.locator("#counter-label")).to_contain_text("内科")
    await screenshot(settings, "settings-saved")

    # a session that ends before it starts: a clear message, and nothing is stored
    monday = settings.locator('#schedule .se-sessions[data-day="mon"]')
    await settings.click('#schedule .se-day[data-day="mon"] .se-add-session')
    await monday.locator("[name=start]").fill("12:00")
    await monday.locator("[name=end]").fill("09:00")
    await settings.fill("#name", "Not saved")
    await settings.click("#save")
    error = settings.locator("#save-status")
    await expect(error).to_be_visible()
    await expect(error).to_have_attribute("role", "alert")
    await expect(error).to_contain_text("Web受付の時間")
    await expect(error).to_contain_text("ends before it starts")
    stored = await client.get(
        f"/v1/facilities/{facility}/settings", headers=staff_headers(facility)
    )
    assert stored.json()["name"] == "さくら内科クリニック"
    assert stored.json()["schedule"]["mon"] == []
    await screenshot(settings, "settings-invalid-session")
    assert not errors, errors


async def test_the_page_speaks_english_with_lang_en(
    hub: HubProcess, client: httpx.AsyncClient, desk: BrowserContext
) -> None:
    facility = await make_facility(client, ("01",))
    user = await staff_user(client, facility)
    page = await desk.new_page()
    await page.goto(f"{hub.base_url}/console/{facility}/settings?lang=en")
    await expect(page.locator("#login-title")).to_have_text("Staff login")
    await page.fill("#login-form [name=user]", user)
    await page.fill("#login-form [name=password]", PASSWORD)
    await page.click("#login-form button")
    await expect(page.locator("#profile-title")).to_have_text("Profile")
    await expect(page.locator("#holidays")).not_to_be_empty()
    card = page.locator(".se-queue").first
    await expect(card).to_contain_text("Places a re-queued patient")
    await card.locator("[name=web_daily_cap]").fill("40")
    await card.locator("[name=close_web_at]").fill("11:30")
    await card.locator("[name=requeue_offset]").fill("5")
    await card.locator("button[type=submit]").click()
    await expect(card.locator(".jb-notice")).to_have_text("Counter 01 saved.")
    r = await client.get(f"/v1/queues/{facility}-01/staff", headers=staff_headers(facility))
    config = r.json()["config"]
    assert (config["web_daily_cap"], config["close_web_at"], config["requeue_offset"]) == (
        40,
        "11:30",
        5,
    )
    await card.locator("[name=default_minutes]").fill("500")  # over 120: the API refuses
    await card.locator("button[type=submit]").click()
    await expect(card.locator(".jb-notice")).to_contain_text("Minutes per patient")
    await expect(card.locator(".jb-notice")).to_have_attribute("role", "alert")
    await screenshot(page, "settings-en")


@pytest.fixture(scope="module")
def quick_hub(redis_url: str) -> Iterator[HubProcess]:
    """A hub whose scheduler ticks every 0.5 s (JUNBAN_SCHEDULE_TICK)."""
    process = start_hub(redis_url, JUNBAN_SCHEDULE_TICK="0.5")
    yield process
    process.stop()


async def test_a_session_starting_at_the_next_minute_opens_web_reception_then(
    quick_hub: HubProcess, desk: BrowserContext, page: Page
) -> None:
    async with httpx.AsyncClient(base_url=quick_hub.base_url, timeout=20) as client:
        facility = await make_facility(client, ("01",), open_all=False)
        user = await staff_user(client, facility)
    now = datetime.now(TOKYO)
    if now.second >= 50:  # leave time to save before the minute
        await page.wait_for_timeout((61 - now.second) * 1000)
        now = datetime.now(TOKYO)
    start = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    end = min(start + timedelta(minutes=30), start.replace(hour=23, minute=59))
    if end <= start:
        pytest.skip("the session would cross midnight")
    day = WEEKDAYS[start.weekday()]

    await page.goto(f"{quick_hub.base_url}/q/{facility}-01")
    await expect(page.locator("#clinic-name")).to_have_text(f"Clinic {facility}")
    await expect(page.locator("#take")).to_be_hidden()  # reception closed

    settings, errors = await open_settings(desk, quick_hub.base_url, facility, user)
    sessions = settings.locator(f'#schedule .se-sessions[data-day="{day}"]')
    await settings.click(f'#schedule .se-day[data-day="{day}"] .se-add-session')
    await sessions.locator("[name=start]").fill(start.strftime("%H:%M"))
    await sessions.locator("[name=end]").fill(end.strftime("%H:%M"))
    await sessions.locator("[name=label]").fill("午前")
    await settings.click("#save")
    await expect(settings.locator("#save-status")).to_contain_text("保存しました")
    assert datetime.now(TOKYO) < start, "saved after the minute began: the test proves nothing"
    if (start - datetime.now(TOKYO)).total_seconds() > 3:
        await page.wait_for_timeout(1500)  # three ticks: nothing opens before the minute
        await expect(page.locator("#take")).to_be_hidden()

    # at the minute (plus a tick), the patient page may take a ticket: live, no reload
    await expect(page.locator("#take")).to_be_visible(timeout=75_000)
    await expect(page.locator("#take-btn")).to_be_enabled()
    opened_at = datetime.now(TOKYO)
    assert start <= opened_at < start + timedelta(seconds=10), opened_at
    await screenshot(page, "settings-session-opened")
    assert not errors, errors
