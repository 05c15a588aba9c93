"""The patient page tells the truth about its live link, offers "I'm here" and "I'll be late"
where the clinic allows them, opens on another device, and finds a ticket again by number and
phone: real Chromium against a real hub."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import httpx
from playwright.async_api import Browser, Page, WebSocketRoute, expect

from tests.conftest import HubProcess, bearer, make_facility, staff_headers, start_hub
from tests.pages.conftest import Opener, screenshot, staff_user

LIVE = "リアルタイム更新中"
STALE = re.compile(r"再接続中…（\d\d:\d\d:\d\d 時点の情報）")


async def take(client: httpx.AsyncClient, info: str, **body: object) -> dict[str, Any]:
    r = await client.post(f"/v1/queues/{info}/tickets", json=body or None)
    assert r.status_code == 201, r.text
    answer: dict[str, Any] = r.json()
    return answer


async def configure(client: httpx.AsyncClient, info: str, **config: object) -> None:
    facility = info.split("-")[0]
    r = await client.put(f"/v1/queues/{info}/config", json=config, headers=staff_headers(facility))
    assert r.status_code == 200, r.text


async def open_ticket(page: Page, hub: HubProcess, ticket: dict[str, Any]) -> None:
    await page.goto(f"{hub.base_url}{ticket['url']}#token={ticket['token']}")
    await expect(page.locator("#ticket-number")).to_have_text(str(ticket["ticket"]["number"]))
    await expect(page.locator("#net")).to_have_text(LIVE)


async def test_offline_shows_reconnecting_at_once_and_live_again_with_fresh_data(
    browser: Browser, hub: HubProcess, client: httpx.AsyncClient
) -> None:
    """The network goes: within seconds the page says it is reconnecting, with the time of
    the last update, and greys the numbers; a patient is called meanwhile; the network comes
    back: live again at once, with the call shown."""
    facility = await make_facility(client, ("01",))
    info = f"{facility}-01"
    ahead = await take(client, info)
    mine = await take(client, info)
    ctx = await browser.new_context(locale="ja-JP", viewport={"width": 390, "height": 844})
    errors: list[str] = []
    try:
        page = await ctx.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await open_ticket(page, hub, mine)
        await expect(page.locator("#ahead")).to_have_text("1人")
        await ctx.set_offline(True)
        went = time.monotonic()
        await expect(page.locator("#net")).to_have_text(STALE, timeout=5000)
        assert time.monotonic() - went < 5
        await expect(page.locator("#net")).to_have_attribute("data-online", "false")
        await expect(page.locator("body")).to_have_attribute("data-live", "false")
        await screenshot(page, "patient-reconnecting")
        r = await client.post(f"/v1/queues/{info}/call-next", headers=staff_headers(facility))
        assert r.status_code == 200 and r.json()["called"]["id"] == ahead["ticket"]["id"]
        await asyncio.sleep(1)
        await expect(page.locator("#ahead")).to_have_text("1人")  # stale, and says so
        await expect(page.locator("#net")).to_have_text(STALE)
        await ctx.set_offline(False)
        back = time.monotonic()
        await expect(page.locator("#net")).to_have_text(LIVE, timeout=5000)
        await expect(page.locator("#ahead")).to_have_text("0人", timeout=5000)
        assert time.monotonic() - back < 5
        await expect(page.locator("body")).to_have_attribute("data-live", "true")
    finally:
        await ctx.close()
    assert errors == []


async def test_a_silently_dead_link_is_noticed_by_the_ping(
    browser: Browser, hub: HubProcess, client: httpx.AsyncClient
) -> None:
    """No offline event, no close: the hub just stops answering (a half-open connection).
    The page's ping goes unanswered and it says so within seconds, then reconnects."""
    facility = await make_facility(client, ("01",))
    info = f"{facility}-01"
    mine = await take(client, info)
    ctx = await browser.new_context(locale="ja-JP")
    mute = {"on": False}

    async def relay(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()
        muted_here = mute["on"]  # a socket opened while muted gets nothing at all

        def down(message: str | bytes) -> None:
            if not mute["on"] and not muted_here:
                ws.send(message)

        server.on_message(down)
        ws.on_message(lambda message: server.send(message))

    try:
        await ctx.route_web_socket(re.compile(r".*/v1/ws$"), relay)
        page = await ctx.new_page()
        await open_ticket(page, hub, mine)
        # on the WebSocket (a loaded machine may have fallen back to SSE, which no mute stops)
        await expect(page.locator("#net")).to_have_attribute("data-transport", "ws", timeout=15_000)
        # Record every text #net shows: after the dead link is dropped the page may reconnect
        # at once (full jitter from 0 ms) through the relay, which accepts the handshake, so
        # the reconnecting text can be on screen for less than one poll of `expect`.
        await page.evaluate(
            """() => {
              const net = document.getElementById("net");
              window.__netSeen = [];
              const seen = () => window.__netSeen.push([performance.now(), net.textContent]);
              const what = { childList: true, characterData: true, subtree: true };
              new MutationObserver(seen).observe(net, what);
              window.__mutedAt = performance.now();
            }"""
        )
        mute["on"] = True
        stale = await page.wait_for_function(
            """(pattern) => {
              const re = new RegExp(pattern);
              const hit = window.__netSeen.find(([, text]) => re.test(text));
              return hit ? hit[0] - window.__mutedAt : null;
            }""",
            arg=STALE.pattern,
            timeout=10_000,
        )
        assert await stale.json_value() < 9000  # one ping interval (4 s) + its deadline (3 s)
        mute["on"] = False
        # the socket opened while muted dies at its first ping; the next one carries the call
        r = await client.post(f"/v1/queues/{info}/call-next", headers=staff_headers(facility))
        assert r.status_code == 200 and r.json()["called"]["id"] == mine["ticket"]["id"]
        await expect(page.locator("#called")).to_be_visible(timeout=15_000)
        await expect(page.locator("#net")).to_have_text(LIVE, timeout=15_000)
    finally:
        await ctx.close()


async def test_a_hub_restart_shows_reconnecting_then_live(redis_url: str, browser: Browser) -> None:
    """The hub process stops: the page says it is reconnecting at once (the socket closes);
    it starts again on the same port: live again by itself."""
    own = start_hub(redis_url)
    ctx = await browser.new_context(locale="ja-JP")
    try:
        async with httpx.AsyncClient(base_url=own.base_url) as c:
            facility = await make_facility(c, ("01",))
            mine = await take(c, f"{facility}-01")
        page = await ctx.new_page()
        await open_ticket(page, own, mine)
        own.stop()
        await expect(page.locator("#net")).to_have_text(STALE, timeout=5000)
        own.start()
        await expect(page.locator("#net")).to_have_text(LIVE, timeout=30_000)
    finally:
        await ctx.close()
        own.stop()


async def test_check_in_and_late_buttons_only_where_the_clinic_allows_them(
    browser: Browser, hub: HubProcess, client: httpx.AsyncClient
) -> None:
    facility = await make_facility(client, ("01",))
    info = f"{facility}-01"
    mine = await take(client, info)
    for _ in range(4):
        await take(client, info)
    ctx = await browser.new_context(locale="ja-JP", viewport={"width": 390, "height": 844})
    errors: list[str] = []
    try:
        page = await ctx.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await open_ticket(page, hub, mine)
        await expect(page.locator("#ahead")).to_have_text("0人")
        await expect(page.locator("#here-btn")).to_be_hidden()
        await expect(page.locator("#late-btn")).to_be_hidden()

        await configure(client, info, allow_checkin=True, allow_postpone=True, requeue_offset=2)
        # live, no reload needed (a generous wait: CI machines are busy)
        await expect(page.locator("#here-btn")).to_be_visible(timeout=10_000)
        await expect(page.locator("#late-btn")).to_be_visible()
        await page.locator("#here-btn").click()
        await expect(page.locator("#arrived-note")).to_be_visible()
        await expect(page.locator("#here-btn")).to_be_hidden()
        staff = await client.get(f"/v1/queues/{info}/staff", headers=staff_headers(facility))
        arrived = {t["number"]: t["arrived_at"] for t in staff.json()["tickets"]}
        assert arrived[1] is not None and arrived[2] is None
        await screenshot(page, "patient-arrived")

        await page.locator("#late-btn").click()
        await expect(page.locator("#late-dialog")).to_be_visible()
        await page.locator("#late-yes").click()
        await expect(page.locator("#ahead")).to_have_text("2人")
        await expect(page.locator("#arrived-note")).to_be_hidden()  # late: not here any more
        await expect(page.locator("#here-btn")).to_be_visible()
        view = (await client.get(f"/v1/queues/{info}")).json()
        assert view["waiting"] == [2, 3, 1, 4, 5]

        await configure(client, info)  # both off again
        await expect(page.locator("#here-btn")).to_be_hidden()
        await expect(page.locator("#late-btn")).to_be_hidden()
    finally:
        await ctx.close()
    assert errors == []


async def test_open_on_another_device_shows_the_link_and_its_qr(
    browser: Browser, hub: HubProcess, client: httpx.AsyncClient
) -> None:
    facility = await make_facility(client, ("01",))
    info = f"{facility}-01"
    mine = await take(client, info)
    phone = await browser.new_context(locale="ja-JP")
    other = await browser.new_context(locale="ja-JP")
    try:
        page = await phone.new_page()
        await open_ticket(page, hub, mine)
        await page.locator("#link-btn").click()
        await expect(page.locator("#link-dialog")).to_be_visible()
        await expect(page.locator("#link-qr")).to_be_visible()
        assert await page.locator("#link-qr").evaluate("img => img.naturalWidth") > 0
        href = await page.locator("#link-url").get_attribute("href")
        assert href and href.startswith(hub.base_url)
        await screenshot(page, "patient-link")
        second = await other.new_page()
        await second.goto(href)
        await expect(second.locator("#ticket-number")).to_have_text("1")
        await expect(second.locator("#net")).to_have_text(LIVE)
    finally:
        await phone.close()
        await other.close()


async def test_a_ticket_is_found_again_on_a_second_browser_by_number_and_phone(
    browser: Browser, hub: HubProcess, client: httpx.AsyncClient
) -> None:
    facility = await make_facility(client, ("01",))
    info = f"{facility}-01"
    await take(client, info)
    mine = await take(client, info, name="Sato", phone="090-1234-5678")
    ctx = await browser.new_context(
        locale="ja-JP", extra_http_headers={"X-Forwarded-For": "198.18.7.7"}
    )
    errors: list[str] = []
    try:
        page = await ctx.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(f"{hub.base_url}/q/{info}")
        await expect(page.locator("#recover")).to_be_visible()
        await page.locator("#recover summary").click()
        await page.locator("#recover-number").fill("2")
        await page.locator("#recover-phone").fill("090-1234-0000")
        await page.locator("#recover-btn").click()
        await expect(page.locator("#recover-error")).to_contain_text("見つかりません")
        await page.locator("#recover-phone").fill("09012345678")
        await page.locator("#recover-btn").click()
        await page.wait_for_url(re.compile(rf"/q/{info}/t/{mine['ticket']['id']}$"))
        await expect(page.locator("#ticket-number")).to_have_text("2")
        await expect(page.locator("#ahead")).to_have_text("1人")
        await expect(page.locator("#net")).to_have_text(LIVE)
        await screenshot(page, "patient-recovered")
        # the first device keeps its ticket too
        own = await client.get(
            f"/v1/queues/{info}/tickets/{mine['ticket']['id']}", headers=bearer(mine["token"])
        )
        assert own.status_code == 200
    finally:
        await ctx.close()
    assert errors == []


async def test_the_page_follows_a_ticket_transferred_to_another_counter(
    browser: Browser, hub: HubProcess, client: httpx.AsyncClient
) -> None:
    """Staff move the ticket from counter 01 to 02: the page opens the ticket's page at 02
    by itself (with a token for that queue) and follows it there live."""
    facility = await make_facility(client, ("01", "02"))
    mine = await take(client, f"{facility}-01")
    ticket_id = mine["ticket"]["id"]
    ctx = await browser.new_context(locale="ja-JP")
    errors: list[str] = []
    try:
        page = await ctx.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await open_ticket(page, hub, mine)
        r = await client.post(
            f"/v1/queues/{facility}-01/tickets/{ticket_id}/transfer",
            json={"to": "02"},
            headers=staff_headers(facility),
        )
        assert r.status_code == 200, r.text
        await page.wait_for_url(re.compile(rf"/q/{facility}-02/t/{ticket_id}$"), timeout=10_000)
        await expect(page.locator("#ticket-number")).to_have_text(str(mine["ticket"]["number"]))
        await expect(page.locator("#net")).to_have_text(LIVE)
        await expect(page.locator("#ticket-status")).to_contain_text("次があなたの番です")
        r = await client.post(
            f"/v1/queues/{facility}-02/call-next",
            json={"room": "3"},
            headers=staff_headers(facility),
        )
        assert r.status_code == 200, r.text
        await expect(page.locator("#called")).to_be_visible()
    finally:
        await ctx.close()
    assert errors == []


async def test_the_console_marks_a_checked_in_ticket(
    client: httpx.AsyncClient, consoles: Opener
) -> None:
    facility = await make_facility(client, ("01",))
    info = f"{facility}-01"
    await configure(client, info, allow_checkin=True)
    mine = await take(client, info)
    await take(client, info)
    console = await consoles(facility, await staff_user(client, facility))
    row = console.locator(f'li.con-ticket[data-id="{mine["ticket"]["id"]}"]')
    await expect(row).to_be_visible()
    await expect(row.locator(".con-flag-arrived")).to_have_count(0)
    path = f"/v1/queues/{info}/tickets/{mine['ticket']['id']}/arrived"
    r = await client.post(path, headers=bearer(mine["token"]))
    assert r.status_code == 200, r.text
    await expect(row.locator(".con-flag-arrived")).to_have_text("来院済")
