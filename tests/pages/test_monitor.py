"""The waiting-room monitor /monitor/{facility} in real headless Chromium against a real hub."""

from __future__ import annotations

import httpx
from playwright.async_api import Browser, Page, expect

from tests.conftest import TOKENS, HubProcess, make_facility, staff_headers
from tests.pages.conftest import TV, monitor_token, screenshot


async def staff_post(client: httpx.AsyncClient, facility: str, path: str, **body: object) -> dict:  # type: ignore[type-arg]
    r = await client.post(path, json=body or None, headers=staff_headers(facility))
    assert r.status_code in (200, 201), r.text
    return r.json()  # type: ignore[no-any-return]


def card(page: Page, info: str):  # type: ignore[no-untyped-def]
    return page.locator(f'article.mon-counter[data-info="{info}"]')


async def test_monitor_shows_calls_waiting_and_message_and_announces_once(
    hub: HubProcess, client: httpx.AsyncClient, tv: Page
) -> None:
    """Token from the fragment is kept and removed from the URL; each counter shows the newest
    call large with its room, older calls, the waiting count and the i-message; each new call
    is logged for screen readers and spoken once in Japanese, never cancelling another."""
    facility = await make_facility(client)
    await tv.goto(f"{hub.base_url}/monitor/{facility}#token={monitor_token(facility)}")
    await expect(tv.locator("#clinic-name")).to_have_text(f"Clinic {facility}")
    assert "#token" not in tv.url and "token=" not in tv.url
    stored = await tv.evaluate(f"localStorage.getItem('junban.monitor.token.{facility}')")
    assert stored and TOKENS.verify(stored).role == "monitor"
    info1, info2 = f"{facility}-01", f"{facility}-02"
    await expect(card(tv, info1)).to_be_visible()
    await expect(card(tv, info2)).to_be_visible()
    await tv.click("#speech-toggle")
    await expect(tv.locator("#speech-toggle")).to_have_attribute("aria-pressed", "true")

    for _ in range(4):
        await staff_post(client, facility, f"/v1/queues/{info1}/tickets", channel="desk")
    await expect(card(tv, info1).locator(".mon-waiting")).to_contain_text("4")
    await staff_post(client, facility, f"/v1/queues/{info1}/call-next", room="1")
    await expect(card(tv, info1).locator(".mon-now-number")).to_have_text("1", timeout=1000)
    await expect(card(tv, info1).locator(".mon-now-room")).to_have_text("1番診察室へ")
    await staff_post(client, facility, f"/v1/queues/{info1}/call-next", room="2")
    await staff_post(client, facility, f"/v1/queues/{info1}/call-next", room="3")
    await expect(card(tv, info1).locator(".mon-now-number")).to_have_text("3")
    earlier = card(tv, info1).locator(".mon-recent-item")
    await expect(earlier.locator(".mon-chip-num")).to_have_text(["2番", "1番"])
    await expect(earlier.locator(".mon-chip-room")).to_have_text(["2診", "1診"])
    await expect(card(tv, info1).locator(".mon-waiting")).to_contain_text("1")
    await expect(card(tv, info2).locator(".mon-now-number")).to_have_text("—")

    r = await client.put(
        f"/v1/facilities/{facility}/message",
        json={"text": "本日は午後休診です"},
        headers=staff_headers(facility),
    )
    assert r.status_code == 200
    await expect(tv.locator("#message")).to_have_text("本日は午後休診です")

    log = tv.locator("#announcements p")
    await expect(log).to_have_text(
        [
            "1番の方、1番診察室へお入りください",
            "2番の方、2番診察室へお入りください",
            "3番の方、3番診察室へお入りください",
        ]
    )
    await tv.wait_for_function("() => window.__spoken.length >= 3", timeout=15000)
    spoken = await tv.evaluate("window.__spoken")
    assert [s["text"] for s in spoken] == [
        "1番の方、1番診察室へお入りください",
        "2番の方、2番診察室へお入りください",
        "3番の方、3番診察室へお入りください",
    ]
    assert all(s["lang"] == "ja-JP" for s in spoken)
    assert await tv.evaluate("window.__cancelled") == 0
    await screenshot(tv, "monitor")


async def test_recall_is_announced_again(
    hub: HubProcess, client: httpx.AsyncClient, tv: Page
) -> None:
    facility = await make_facility(client, ("01",))
    info = f"{facility}-01"
    first = await staff_post(client, facility, f"/v1/queues/{info}/tickets", channel="desk")
    await staff_post(client, facility, f"/v1/queues/{info}/tickets", channel="desk")
    await tv.goto(f"{hub.base_url}/monitor/{facility}#token={monitor_token(facility)}")
    await expect(card(tv, info)).to_be_visible()
    await staff_post(client, facility, f"/v1/queues/{info}/call-next", room="1")
    await staff_post(client, facility, f"/v1/queues/{info}/call-next", room="2")
    await expect(card(tv, info).locator(".mon-now-number")).to_have_text("2")
    await staff_post(client, facility, f"/v1/queues/{info}/tickets/{first['ticket']['id']}/recall")
    await expect(card(tv, info).locator(".mon-now-number")).to_have_text("1")
    await expect(tv.locator("#announcements p")).to_have_text(
        [
            "1番の方、1番診察室へお入りください",
            "2番の方、2番診察室へお入りください",
            "1番の方、1番診察室へお入りください",
        ]
    )


async def test_recall_of_the_number_on_screen_is_announced_again(
    hub: HubProcess, client: httpx.AsyncClient, tv: Page
) -> None:
    """Recalling the newest call changes neither the set nor the order of `calling`: the
    view's `recalls` count is what tells the screen to announce it again."""
    facility = await make_facility(client, ("01",))
    info = f"{facility}-01"
    ticket = await staff_post(client, facility, f"/v1/queues/{info}/tickets", channel="desk")
    await tv.goto(f"{hub.base_url}/monitor/{facility}#token={monitor_token(facility)}")
    await expect(card(tv, info)).to_be_visible()
    await staff_post(client, facility, f"/v1/queues/{info}/call-next", room="4")
    await expect(tv.locator("#announcements p")).to_have_count(1)
    await staff_post(client, facility, f"/v1/queues/{info}/tickets/{ticket['ticket']['id']}/recall")
    await expect(tv.locator("#announcements p")).to_have_text(
        ["1番の方、4番診察室へお入りください", "1番の方、4番診察室へお入りください"]
    )


async def test_pairing_code_connects_a_monitor_once(
    hub: HubProcess, client: httpx.AsyncClient, tv: Page, browser: Browser
) -> None:
    """Without a token the monitor asks for a code; a staff-issued code connects it; the same
    code on a second screen is refused with a clear message; a wrong format is explained."""
    facility = await make_facility(client, ("01",))
    await tv.goto(f"{hub.base_url}/monitor/{facility}")
    await expect(tv.locator("#pairing")).to_be_visible()
    await expect(tv.locator("#board")).to_be_hidden()
    await tv.fill("#pairing-code", "12a")
    await tv.click("#pairing-form button")
    await expect(tv.locator("#pairing-error")).to_contain_text("8 桁")
    code = (await staff_post(client, facility, f"/v1/facilities/{facility}/monitor-pairings"))[
        "code"
    ]
    await tv.fill("#pairing-code", f"{code[:4]} {code[4:]}")  # as the console groups it
    await tv.click("#pairing-form button")
    await expect(tv.locator("#board")).to_be_visible()
    await expect(tv.locator("#pairing")).to_be_hidden()
    await expect(card(tv, f"{facility}-01")).to_be_visible()
    stored = await tv.evaluate(f"localStorage.getItem('junban.monitor.token.{facility}')")
    assert TOKENS.verify(stored).facility == facility
    await tv.reload()  # remembered: no code asked again
    await expect(card(tv, f"{facility}-01")).to_be_visible()
    await expect(tv.locator("#pairing")).to_be_hidden()

    other = await browser.new_context(locale="ja-JP", viewport=TV)
    try:
        second = await other.new_page()
        await second.goto(f"{hub.base_url}/monitor/{facility}")
        await second.fill("#pairing-code", code)
        await second.click("#pairing-form button")
        await expect(second.locator("#pairing-error")).to_contain_text("使用済み")
        await expect(second.locator("#board")).to_be_hidden()
        await screenshot(second, "monitor-pairing")
    finally:
        await other.close()


async def test_expired_or_foreign_token_asks_for_pairing(
    hub: HubProcess, client: httpx.AsyncClient, tv: Page
) -> None:
    facility = await make_facility(client, ("01",))
    expired = TOKENS.issue("monitor", facility=facility, ttl_s=1, now=1_000_000)
    await tv.goto(f"{hub.base_url}/monitor/{facility}#token={expired}")
    await expect(tv.locator("#pairing")).to_be_visible()
    await expect(tv.locator("#pairing-error")).to_contain_text("有効期限")
    other = await make_facility(client, ("01",), open_all=False)
    await tv.goto(f"{hub.base_url}/monitor/{facility}#token={monitor_token(other)}")
    await tv.reload()
    await expect(tv.locator("#pairing")).to_be_visible()
