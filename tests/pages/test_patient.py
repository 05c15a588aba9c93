"""The patient page /q/{info} and /q/{info}/t/{id}, and the paper ticket /print/{info}/{id}:
real Chromium against a real hub; staff act through the HTTP API."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, Request, Route, expect

from tests.conftest import OPERATOR, HubProcess, bearer, make_facility, staff_headers, start_hub
from tests.pages.conftest import screenshot

Setup = Callable[[httpx.AsyncClient, str, str], Awaitable[None]]
TICKET_URL = re.compile(r"/q/\d+-\d\d/t/[A-Za-z0-9_-]+$")


def console_errors(page: Page) -> list[str]:
    """Console errors (CSP or CORS violations, failed module loads) collected from now on."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return errors


async def take_on_page(page: Page, hub: HubProcess, info: str, name: str = "") -> str:
    """Open /q/{info}, take a ticket (with a name: with consent) and return the ticket id."""
    await page.goto(f"{hub.base_url}/q/{info}")
    button = page.locator("#take-btn")
    await expect(button).to_be_enabled()
    if name:
        await page.locator("#name").fill(name)
        await page.locator("#consent").check()
    await button.click()
    await page.wait_for_url(TICKET_URL)
    return page.url.rsplit("/", 1)[1]


async def call_next(client: httpx.AsyncClient, info: str, room: str) -> dict[str, object]:
    facility = info.split("-")[0]
    r = await client.post(
        f"/v1/queues/{info}/call-next", json={"room": room}, headers=staff_headers(facility)
    )
    assert r.status_code == 200, r.text
    called: dict[str, object] = r.json()["called"]
    return called


async def test_take_ticket_shows_number_then_your_turn_when_called(
    page: Page, hub: HubProcess, client: httpx.AsyncClient
) -> None:
    """Take a ticket → number, people ahead, estimate; staff call-next → full-screen turn."""
    facility = await make_facility(client)
    info = f"{facility}-01"
    first = await client.post(f"/v1/queues/{info}/tickets")
    assert first.status_code == 201
    errors = console_errors(page)
    await page.goto(f"{hub.base_url}/q/{info}")
    await expect(page.locator("#clinic-name")).to_have_text(f"Clinic {facility}")
    await expect(page.locator("#waiting-count")).to_have_text("1人")
    await expect(page.locator("html")).to_have_attribute("lang", "ja")
    await screenshot(page, "patient-take")

    ticket_id = await take_on_page(page, hub, info, name="山田 花子")
    await expect(page.locator("#ticket-number")).to_have_text("2")
    await expect(page.locator("#ahead")).to_have_text("1人")
    await expect(page.locator("#estimate")).to_have_text(re.compile(r"約\d+〜\d+分"))
    await expect(page.locator("#called")).to_be_hidden()
    staff = await client.get(f"/v1/queues/{info}/staff", headers=staff_headers(facility))
    names = {t["id"]: t["name"] for t in staff.json()["tickets"]}
    assert names[ticket_id] == "山田 花子"  # sent only because consent was ticked
    await screenshot(page, "patient-waiting")

    await call_next(client, info, "1")
    await expect(page.locator("#ahead")).to_have_text("0人")
    await expect(page.locator("#ticket-status")).to_contain_text("次があなたの番です")
    await expect(page.locator("#calling")).to_contain_text("1")

    called = await call_next(client, info, "3")
    assert called["id"] == ticket_id
    overlay = page.locator("#called")
    await expect(overlay).to_be_visible()
    await expect(page.locator("#called-number")).to_have_text("2")
    await expect(page.locator("#called-room")).to_have_text("3番診察室へお入りください")
    await expect(page.locator("html")).to_have_attribute("data-alerted", re.compile(ticket_id))
    await screenshot(page, "patient-called")
    await page.locator("#called-ok").click()
    await expect(overlay).to_be_hidden()
    await expect(page.locator("#ticket-status")).to_contain_text("3番診察室")
    assert errors == []


async def test_name_without_consent_is_not_sent(
    page: Page, hub: HubProcess, client: httpx.AsyncClient
) -> None:
    facility = await make_facility(client)
    info = f"{facility}-01"
    await page.goto(f"{hub.base_url}/q/{info}")
    await page.locator("#phone").fill("090-0000-0000")
    await page.locator("#take-btn").click()
    await expect(page.locator("#form-error")).to_contain_text("同意")
    view = (await client.get(f"/v1/queues/{info}")).json()
    assert view["last_number"] == 0


async def test_reload_keeps_tracking_the_same_ticket(
    page: Page, hub: HubProcess, client: httpx.AsyncClient
) -> None:
    """Reload the ticket page, or come back to /q/{info}: same ticket, still live."""
    facility = await make_facility(client)
    info = f"{facility}-01"
    ticket_id = await take_on_page(page, hub, info)
    await expect(page.locator("#ticket-number")).to_have_text("1")
    await page.reload()
    await expect(page.locator("#ticket-number")).to_have_text("1")
    # the page moves on by itself, maybe before its load event: wait for the commit only
    await page.goto(f"{hub.base_url}/q/{info}", wait_until="commit")
    await page.wait_for_url(re.compile(f"/t/{ticket_id}$"))
    await expect(page.locator("#ticket-number")).to_have_text("1")
    await call_next(client, info, "2")
    await expect(page.locator("#called")).to_be_visible()
    await expect(page.locator("#called-room")).to_contain_text("2番診察室")


async def test_flaky_network_retry_never_makes_two_tickets(
    page: Page, hub: HubProcess, client: httpx.AsyncClient
) -> None:
    """The first POST reaches the hub but its answer is lost: the page retries with the same
    Idempotency-Key and gets the same ticket."""
    facility = await make_facility(client)
    info = f"{facility}-01"
    keys: list[str] = []

    async def lose_first_answer(route: Route, request: Request) -> None:
        keys.append(request.headers.get("idempotency-key", ""))
        if len(keys) == 1:
            await route.fetch()  # the hub issues the ticket…
            await route.abort("connectionreset")  # …and the answer never arrives
        else:
            await route.continue_()

    await page.route(f"**/v1/queues/{info}/tickets", lose_first_answer)
    await take_on_page(page, hub, info)
    await expect(page.locator("#ticket-number")).to_have_text("1")
    assert len(keys) == 2 and keys[0] == keys[1] and keys[0]
    view = (await client.get(f"/v1/queues/{info}")).json()
    assert view["last_number"] == 1 and view["waiting_count"] == 1


async def test_cancel_asks_first_then_cancels(
    page: Page, hub: HubProcess, client: httpx.AsyncClient
) -> None:
    facility = await make_facility(client)
    info = f"{facility}-01"
    await take_on_page(page, hub, info)
    await expect(page.locator("#ticket-number")).to_have_text("1")
    dialog = page.locator("#cancel-dialog")
    await page.locator("#cancel-btn").click()
    await expect(dialog).to_be_visible()
    await screenshot(page, "patient-cancel-confirm")
    await page.locator("#cancel-no").click()
    await expect(dialog).to_be_hidden()
    assert (await client.get(f"/v1/queues/{info}")).json()["waiting_count"] == 1

    await page.locator("#cancel-btn").click()
    await page.locator("#cancel-yes").click()
    await expect(page.locator("#ticket-status")).to_have_text("この受付は取り消されました。")
    await expect(page.locator("#cancel-btn")).to_be_hidden()
    await expect(page.locator("#again-link")).to_be_visible()
    assert (await client.get(f"/v1/queues/{info}")).json()["waiting_count"] == 0
    await screenshot(page, "patient-cancelled")
    await page.goto(f"{hub.base_url}/q/{info}")  # the cancelled ticket is forgotten
    await expect(page.locator("#take-btn")).to_be_enabled()


async def test_absent_tells_what_to_do(
    page: Page, hub: HubProcess, client: httpx.AsyncClient
) -> None:
    facility = await make_facility(client)
    info = f"{facility}-01"
    ticket_id = await take_on_page(page, hub, info)
    await call_next(client, info, "1")
    await expect(page.locator("#called")).to_be_visible()
    r = await client.post(
        f"/v1/queues/{info}/tickets/{ticket_id}/absent", headers=staff_headers(facility)
    )
    assert r.status_code == 200
    await expect(page.locator("#called")).to_be_hidden()
    await expect(page.locator("#ticket-status")).to_contain_text("受付にお声がけください")
    await screenshot(page, "patient-absent")


async def _closed_reception(client: httpx.AsyncClient, facility: str, info: str) -> None:
    await client.post(f"/v1/queues/{info}/close", headers=staff_headers(facility))


async def _cap_reached(client: httpx.AsyncClient, facility: str, info: str) -> None:
    r = await client.put(
        f"/v1/queues/{info}/config", json={"web_daily_cap": 1}, headers=staff_headers(facility)
    )
    assert r.status_code == 200, r.text
    assert (await client.post(f"/v1/queues/{info}/tickets")).status_code == 201


async def _web_closed(client: httpx.AsyncClient, facility: str, info: str) -> None:
    await client.post(f"/v1/queues/{info}/web/close", headers=staff_headers(facility))


async def _suspended(client: httpx.AsyncClient, facility: str, info: str) -> None:
    r = await client.post(
        f"/v1/admin/facilities/{facility}/suspend", json={"reason": "test"}, headers=OPERATOR
    )
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        (_closed_reception, "ただいま受付を行っていません"),
        (_cap_reached, "本日のWeb受付は定員に達しました"),
        (_web_closed, "ただいまWeb受付を停止しています"),
        (_suspended, "クリニックへ直接お問い合わせください"),
    ],
    ids=["reception-closed", "cap-reached", "web-closed", "suspended"],
)
async def test_refusals_are_explained(
    page: Page, hub: HubProcess, client: httpx.AsyncClient, setup: Setup, expected: str
) -> None:
    """Closed reception, cap reached, web closed, suspended: a clear message, no button."""
    facility = await make_facility(client)
    info = f"{facility}-01"
    await setup(client, facility, info)
    await page.goto(f"{hub.base_url}/q/{info}")
    await expect(page.locator("#notice")).to_contain_text(expected)
    await expect(page.locator("#take-btn")).to_be_disabled()
    await expect(page.locator("#take")).to_be_hidden()
    await screenshot(page, f"patient-refused-{setup.__name__.strip('_')}")


async def test_refusal_reaches_an_open_page_live(
    page: Page, hub: HubProcess, client: httpx.AsyncClient
) -> None:
    facility = await make_facility(client)
    info = f"{facility}-01"
    await page.goto(f"{hub.base_url}/q/{info}")
    await expect(page.locator("#take-btn")).to_be_enabled()
    await _closed_reception(client, facility, info)
    await expect(page.locator("#notice")).to_contain_text("ただいま受付を行っていません")
    await expect(page.locator("#take-btn")).to_be_disabled()
    await expect(page.locator("#open-pill")).to_have_text("受付停止中")


@pytest.fixture
async def english(browser: Browser) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context(locale="en-US", viewport={"width": 390, "height": 844})
    yield ctx
    await ctx.close()


def hours_excluding_now() -> str:
    """Service hours that have just ended in Tokyo (a two-hour window ending a minute ago)."""
    now = datetime.now(ZoneInfo("Asia/Tokyo"))
    end = now - timedelta(minutes=2)
    start = end - timedelta(hours=2)
    if start.date() != end.date():  # keep the window inside one day
        start = end.replace(hour=0, minute=0)
    if end.hour == 0 and end.minute == 0:
        end, start = now + timedelta(hours=2), now + timedelta(minutes=2)
    return f"{start:%H:%M}-{end:%H:%M}"


async def test_outside_service_hours_in_english(english: BrowserContext, redis_url: str) -> None:
    """Outside the server's operating hours; Accept-Language: en gives the English page."""
    other = start_hub(redis_url, JUNBAN_SERVICE_HOURS=hours_excluding_now())
    try:
        async with httpx.AsyncClient(base_url=other.base_url, timeout=20) as c:
            facility = await make_facility(c)
            info = f"{facility}-01"
            refused = await c.post(f"/v1/queues/{info}/tickets")
            assert refused.json()["error"]["code"] == "outside_service_hours"
        page = await english.new_page()
        await page.goto(f"{other.base_url}/q/{info}")
        await expect(page.locator("html")).to_have_attribute("lang", "en")
        await expect(page.locator("#notice")).to_contain_text("Online queueing is available from")
        await expect(page.locator("#take-btn")).to_be_disabled()
        await expect(page.locator("#take-btn")).to_have_text("Take a number")
        await screenshot(page, "patient-outside-hours-en")
        await page.locator("#lang").click()  # the switch: back to Japanese in place
        await expect(page.locator("#take-btn")).to_have_text("受付する")
        await expect(page.locator("#notice")).to_contain_text("Web受付は")
    finally:
        other.stop()


async def test_rate_limited_answer_is_explained(page: Page, redis_url: str) -> None:
    """An API refusal at POST time (429 here) becomes a clear message on the form."""
    other = start_hub(redis_url, JUNBAN_RATE_IP="1/600")
    try:
        async with httpx.AsyncClient(base_url=other.base_url, timeout=20) as c:
            facility = await make_facility(c)
            info = f"{facility}-01"
            assert (await c.post(f"/v1/queues/{info}/tickets")).status_code == 201
        await page.goto(f"{other.base_url}/q/{info}")
        await page.locator("#take-btn").click()
        await expect(page.locator("#form-error")).to_contain_text("アクセスが集中しています")
        await expect(page.locator("#take-btn")).to_be_enabled()
    finally:
        other.stop()


async def test_ticket_page_without_token_says_why(
    page: Page, hub: HubProcess, client: httpx.AsyncClient
) -> None:
    facility = await make_facility(client)
    info = f"{facility}-01"
    taken = (await client.post(f"/v1/queues/{info}/tickets")).json()
    await page.goto(f"{hub.base_url}/q/{info}/t/{taken['ticket']['id']}")
    await expect(page.locator("#ticket-status")).to_contain_text("受付票のQRコード")


@pytest.mark.parametrize(
    "path",
    ["/q/abc", "/q/1234-1", "/q/99999999-42", "/q/1234-01/t/bad!id", "/q/1-01/x/y", "/print/x/y"],
)
async def test_bad_page_paths_get_a_readable_404(client: httpx.AsyncClient, path: str) -> None:
    r = await client.get(path)
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert "ページが見つかりません" in r.text and "Page not found" in r.text


async def test_page_language_from_query_cookie_and_accept_language(
    client: httpx.AsyncClient, facility: str
) -> None:
    path = f"/q/{facility}-01"
    english = {"Accept-Language": "en-US,en;q=0.9,ja;q=0.5"}
    assert '<html lang="ja">' in (await client.get(path)).text
    assert '<html lang="en">' in (await client.get(path, headers=english)).text
    jp = {"Accept-Language": "fr,ja;q=0.8,en;q=0.7"}
    assert '<html lang="ja">' in (await client.get(path, headers=jp)).text
    assert '<html lang="ja">' in (await client.get(path + "?lang=ja", headers=english)).text
    cookie = {**english, "Cookie": "junban_lang=ja"}
    r = await client.get(path, headers=cookie)
    assert '<html lang="ja">' in r.text
    assert "script-src 'self'" in r.headers["content-security-policy"]


async def test_print_page_shows_number_time_and_a_qr_of_the_live_page(
    browser: Browser, page: Page, hub: HubProcess, client: httpx.AsyncClient
) -> None:
    """A desk ticket printed with the staff token: the QR's URL opens the live ticket page on
    another device (a fresh browser context)."""
    facility = await make_facility(client)
    info = f"{facility}-01"
    staff = staff_headers(facility)
    r = await client.post(f"/v1/queues/{info}/tickets", json={"channel": "desk"}, headers=staff)
    ticket = r.json()["ticket"]
    errors = console_errors(page)
    token = staff["Authorization"].split()[1]
    await page.goto(f"{hub.base_url}/print/{info}/{ticket['id']}#token={token}")
    await expect(page.locator("body")).to_have_attribute("data-ready", "true")
    await expect(page.locator("#number")).to_have_text(str(ticket["number"]))
    await expect(page.locator("#time")).to_contain_text("発券")
    await expect(page.locator("#clinic")).to_have_text(f"Clinic {facility}")
    qr = page.locator("#qr")
    await expect(qr).to_be_visible()
    assert await qr.evaluate("img => img.naturalWidth > 0")
    await screenshot(page, "print-80mm")
    await page.locator("[data-paper='58']").click()
    await screenshot(page, "print-58mm")
    assert errors == []

    link = await client.get(f"/v1/queues/{info}/tickets/{ticket['id']}/link", headers=staff)
    url = link.json()["url"]
    assert url.startswith(f"{hub.base_url}/q/{info}/t/{ticket['id']}#token=")
    assert link.json()["qr_svg"].startswith("<svg")
    phone = await browser.new_context(locale="ja-JP", viewport={"width": 390, "height": 844})
    try:
        scanned = await phone.new_page()
        await scanned.goto(url)
        await expect(scanned.locator("#ticket-number")).to_have_text(str(ticket["number"]))
        assert "token" not in scanned.url  # the token left the address bar for localStorage
        await scanned.reload()
        await expect(scanned.locator("#ticket-number")).to_have_text(str(ticket["number"]))
    finally:
        await phone.close()


async def test_ticket_link_needs_that_tickets_token(client: httpx.AsyncClient) -> None:
    facility = await make_facility(client)
    info = f"{facility}-01"
    mine = (await client.post(f"/v1/queues/{info}/tickets")).json()
    other = (await client.post(f"/v1/queues/{info}/tickets")).json()
    path = f"/v1/queues/{info}/tickets/{mine['ticket']['id']}/link"
    assert (await client.get(path)).status_code == 401
    assert (await client.get(path, headers=bearer(other["token"]))).status_code == 403
    ok = await client.get(path, headers=bearer(mine["token"]))
    assert ok.status_code == 200
    assert ok.json()["url"].endswith(f"#token={mine['token']}")
    missing = f"/v1/queues/{info}/tickets/nope/link"
    assert (await client.get(missing, headers=staff_headers(facility))).status_code == 404
