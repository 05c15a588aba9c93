"""The phone call-out option in the staff console and its call history page
(/console/{facility}/calls), in real headless Chromium against a real hub with the demo
provider (``dev``: no network; it reports a call answered when reconciled): the desk form
records the patient's spoken consent, 「電話で呼び出す」 places a call that the history page
shows live (then its CSV: BOM, Japanese header), a call outside the calling hours is refused
with a clear message, the settings save, the page speaks English, and a facility without the
option shows none of it."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Locator, Page, expect

from tests.conftest import (
    OPERATOR,
    WITH_PHONE,
    HubProcess,
    make_facility,
    new_facility_number,
    staff_headers,
    start_hub,
)
from tests.pages.conftest import DESK, PASSWORD, screenshot, staff_user

_addresses = itertools.count(1)
TOKYO = ZoneInfo("Asia/Tokyo")


@pytest.fixture(scope="module")
def phone_hub(redis_url: str) -> Iterator[HubProcess]:
    """A hub whose silent calls are reconciled within a second (the demo provider then says
    answered), so the history changes live while the page is open. Reconciled on a pass of
    the phone group: a queue change brings one, and the outbox sweep (every 30 s by default)
    could too, before the page has shown the call placed; so no sweep after the first."""
    process = start_hub(
        redis_url, JUNBAN_RETRY_SCALE="0.005", JUNBAN_OUTBOX_SWEEP="3600", **WITH_PHONE
    )
    yield process
    process.stop()


@pytest.fixture
async def api(phone_hub: HubProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=phone_hub.base_url, timeout=20) as c:
        yield c


@pytest.fixture
async def desk(browser: Browser) -> AsyncIterator[BrowserContext]:
    n = next(_addresses)
    ctx = await browser.new_context(
        locale="ja-JP",
        viewport=DESK,
        accept_downloads=True,
        extra_http_headers={"X-Forwarded-For": f"172.31.{n // 250 % 250}.{n % 250 + 1}"},
    )
    yield ctx
    await ctx.close()


async def log_in(ctx: BrowserContext, url: str, user: str, errors: list[str]) -> Page:
    """A staff page (console or call history) logged in through its own form."""
    page = await ctx.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(url)
    await page.fill("#login-form [name=user]", user)
    await page.fill("#login-form [name=password]", PASSWORD)
    await page.click("#login-form button")
    await expect(page.locator("#app")).to_be_visible()
    return page


def outside_now() -> list[str]:
    """A calling window that excludes the present moment (facility time, Tokyo)."""
    hour = datetime.now(TOKYO).hour
    return ["22:00", "23:00"] if hour < 12 else ["01:00", "02:00"]


def row(page: Page, number: int) -> Locator:
    return page.locator(f'#waiting li[data-number="{number}"]')


async def test_a_consented_desk_ticket_is_called_by_phone_and_the_history_shows_it(
    phone_hub: HubProcess, api: httpx.AsyncClient, desk: BrowserContext
) -> None:
    facility = await make_facility(api, ("01",))  # set up by hand: every option
    info = f"{facility}-01"
    user = await staff_user(api, facility)
    errors: list[str] = []
    console = await log_in(desk, f"{phone_hub.base_url}/console/{facility}", user, errors)

    # the header links to the history; the desk form offers the consent box
    link = console.locator("#calls-link")
    await expect(link).to_be_visible()
    await expect(link).to_have_text("通話履歴")
    await expect(link).to_have_attribute("href", f"/console/{facility}/calls")
    consent = console.locator("#issue-form [name=phone_consent]")
    await expect(consent).to_be_visible()
    await expect(consent).not_to_be_checked()

    # the history page, open beside the console; its settings: calls all day, manual only
    # (no automatic near call, so the one call below is the button's)
    calls = await log_in(desk, f"{phone_hub.base_url}/console/{facility}/calls", user, errors)
    await expect(calls.locator("#calls-empty")).to_have_text("この日の通話はありません。")
    await expect(calls.locator("#day")).to_have_value(datetime.now(TOKYO).strftime("%Y-%m-%d"))
    await calls.fill("#settings-form [name=window_from]", "00:00")
    await calls.fill("#settings-form [name=window_to]", "23:59")
    await calls.fill("#settings-form [name=threshold]", "2")
    await calls.uncheck("#settings-form [name=on_near]")
    await calls.fill("#settings-form [name=caller]", "03-1234-5678")
    await calls.click("#settings-save")
    await expect(calls.locator("#notice")).to_have_text("電話呼出しの設定を保存しました。")

    # ticked without a number: refused on the page, nothing issued
    await consent.check()
    await console.click("#issue")
    await expect(console.locator("#error")).to_contain_text("電話番号が必要")
    assert (await api.get(f"/v1/queues/{info}")).json()["last_number"] == 0

    # No. 1: the patient said yes at the desk; No. 2: a web ticket with a number, no consent
    await console.fill("#issue-form [name=phone]", "090-1234-5678")
    await consent.check()
    await console.click("#issue")
    await expect(row(console, 1)).to_be_visible()
    r = await api.post(f"/v1/queues/{info}/tickets", json={"phone": "090-1111-2222"})
    assert r.status_code == 201, r.text
    await expect(row(console, 2)).to_be_visible()
    staff = (await api.get(f"/v1/queues/{info}/staff", headers=staff_headers(facility))).json()
    by_number = {t["number"]: t for t in staff["tickets"]}
    assert by_number[1]["phone_consent"]["by"] == user  # recorded with this staff login
    assert by_number[2]["phone_consent"] is None
    await expect(row(console, 1).locator('[data-phone="consent"]')).to_have_text("☎ 同意")
    await expect(row(console, 2).locator('[data-action="phone"]')).to_have_count(0)

    # 「電話で呼び出す」: placed; the row's mark follows the call live. First the phone
    # group's passes that the tickets woke are let finish: one now and one a gap later (1 s,
    # or 5 s while its last pass found nothing to do: hub/outbox/runner.py), else the later
    # one would find the call placed and reconcile it before the page has shown it placed
    await console.wait_for_timeout(6000)
    button = row(console, 1).locator('[data-action="phone"]')
    await expect(button).to_have_text("電話で呼び出す")
    await button.click()
    await expect(console.locator("#moved")).to_have_text("1番に電話をかけています。")
    await expect(console.locator("#error")).to_be_hidden()
    await expect(row(console, 1).locator(".con-phone")).to_have_attribute("data-phone", "initiated")

    # the history shows it without a reload (it refreshes every 5 s) and its answer later
    first = calls.locator("#calls tr").first
    await expect(first).to_be_visible(timeout=8000)
    await expect(calls.locator("#calls tr")).to_have_count(1)
    await expect(first).to_contain_text("1番")
    await expect(first).to_contain_text(info)
    await expect(first).to_contain_text("090-****-5678")
    await expect(first).to_contain_text("手動")
    await expect(first).to_contain_text(user)
    await expect(first.locator(".ca-status")).to_have_text("発信中")
    # the demo provider sends no callback: the call is reconciled (answered) on the phone
    # worker's next pass, which the next queue change brings
    await calls.wait_for_timeout(1000)
    r = await api.post(f"/v1/queues/{info}/tickets", json={})
    assert r.status_code == 201, r.text
    await expect(first.locator(".ca-status")).to_have_text("応答", timeout=15_000)
    await expect(row(console, 1).locator(".con-phone")).to_have_text("☎ 応答")
    await screenshot(console, "console-phone")
    assert "5678" in (await first.text_content() or "")
    assert "1234-5678" not in (await first.text_content() or "")  # masked
    await screenshot(calls, "console-calls")

    # its CSV: BOM, the Japanese header, the call
    async with calls.expect_download() as info_dl:
        await calls.click("#calls-csv")
    download = await info_dl.value
    data = (await download.path()).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf"), data[:20]
    lines = data.decode("utf-8-sig").splitlines()
    assert lines[0].split(",")[:4] == ["日時", "情報番号", "受付番号", "電話番号"], lines[0]
    assert len(lines) == 2 and "手動" in lines[1] and "090-****-5678" in lines[1], lines

    # outside the calling hours: refused, said in words
    window = outside_now()
    r = await api.put(
        f"/v1/facilities/{facility}/phone/settings",
        json={"window_from": window[0], "window_to": window[1], "triggers": []},
        headers=staff_headers(facility),
    )
    assert r.status_code == 200, r.text
    await row(console, 1).locator('[data-action="phone"]').click()
    await expect(console.locator("#error")).to_contain_text("電話できる時間帯の外です")
    await expect(console.locator("#error")).to_contain_text("outside_call_hours")
    await calls.wait_for_timeout(5500)  # one more refresh: still the one call
    await expect(calls.locator("#calls tr")).to_have_count(1)

    # a day without calls; then back to today
    await calls.fill("#day", "2020-01-01")
    await expect(calls.locator("#calls-empty")).to_be_visible()
    await calls.click("#today")
    await expect(calls.locator("#calls tr")).to_have_count(1)

    # English
    await calls.goto(f"{phone_hub.base_url}/console/{facility}/calls?lang=en")
    await expect(calls.locator("h1")).to_have_text("Call history")
    first = calls.locator("#calls tr").first
    await expect(first).to_contain_text("Manual")
    await expect(first).to_contain_text("Answered")
    await expect(first).to_contain_text("No. 1")
    await expect(calls.locator("#calls-csv")).to_have_text("Download CSV")
    await expect(calls.locator("#settings-title")).to_have_text("Phone call-out settings")
    assert not errors, errors


async def without_phone(api: httpx.AsyncClient) -> str:
    """A facility under contract with the API option only (no phone option), open."""
    body = {"applicant": "No Phone", "items": ["reservation"], "options": ["api"],
            "fees": {"monthly": {"reservation": 9000, "api": 3000}}}  # fmt: skip
    r = await api.post("/v1/admin/contracts", json=body, headers=OPERATOR)
    assert r.status_code == 201, r.text
    number = new_facility_number()
    approve = {"facility": number, "name": "No Phone", "counters": {"01": "内科"}}
    r = await api.post(
        f"/v1/admin/contracts/{r.json()['id']}/approve", json=approve, headers=OPERATOR
    )
    assert r.status_code == 200, r.text
    for action in ("open", "web/open"):
        r = await api.post(f"/v1/queues/{number}-01/{action}", headers=staff_headers(number))
        assert r.status_code == 200, r.text
    return number


async def test_without_the_option_the_console_shows_no_phone_parts(
    phone_hub: HubProcess, api: httpx.AsyncClient, desk: BrowserContext
) -> None:
    facility = await without_phone(api)
    info = f"{facility}-01"
    user = await staff_user(api, facility)
    r = await api.post(
        f"/v1/queues/{info}/tickets",
        json={"channel": "desk", "phone": "090-1234-5678"},
        headers=staff_headers(facility),
    )
    assert r.status_code == 201, r.text
    errors: list[str] = []
    console = await log_in(desk, f"{phone_hub.base_url}/console/{facility}", user, errors)
    await expect(row(console, 1)).to_be_visible()
    await expect(console.locator("#integrations-link")).to_be_visible()
    await console.wait_for_timeout(500)  # the probe of the call history answered 403
    await expect(console.locator("#calls-link")).to_be_hidden()
    await expect(console.locator("#issue-form [name=phone_consent]")).to_be_hidden()
    await expect(row(console, 1).locator('[data-action="phone"]')).to_have_count(0)

    # the page itself says why
    calls = await log_in(desk, f"{phone_hub.base_url}/console/{facility}/calls", user, errors)
    await expect(calls.locator("#notice")).to_contain_text("電話呼出オプションを契約していません")
    assert not errors, errors
