"""The monitor and the patient page survive a hub restart by themselves (same Redis, same port)."""

from __future__ import annotations

import httpx
from playwright.async_api import Browser, expect

from tests.conftest import HubProcess, make_facility, staff_headers, start_hub
from tests.pages.conftest import TV, monitor_token


async def test_monitor_and_patient_page_recover_after_a_hub_restart(
    redis_url: str, hub: HubProcess, browser: Browser
) -> None:
    """Stop the hub the pages use: the monitor shows its offline mark; a patient is called
    meanwhile (through another hub on the same Redis); start the hub again on the same port:
    both pages reconnect alone and show the current state, and the mark goes away."""
    own = start_hub(redis_url)
    tv_ctx = await browser.new_context(locale="ja-JP", viewport=TV)
    phone_ctx = await browser.new_context(locale="ja-JP")
    errors: list[str] = []
    try:
        async with httpx.AsyncClient(base_url=own.base_url) as c:
            facility = await make_facility(c, ("01",))
            info = f"{facility}-01"
            r = await c.post(f"/v1/queues/{info}/tickets", json={"name": "伊藤"})
            assert r.status_code == 201
            ticket = r.json()
        tv = await tv_ctx.new_page()
        tv.on("pageerror", lambda exc: errors.append(str(exc)))
        await tv.goto(f"{own.base_url}/monitor/{facility}#token={monitor_token(facility)}")
        card = tv.locator(f'article[data-info="{info}"]')
        await expect(card.locator(".mon-waiting")).to_contain_text("1")
        await expect(card.locator(".mon-now-number")).to_have_text("—")
        await expect(tv.locator("#offline")).to_be_hidden()
        phone = await phone_ctx.new_page()
        phone.on("pageerror", lambda exc: errors.append(str(exc)))
        await phone.goto(f"{own.base_url}{ticket['url']}#token={ticket['token']}")
        await expect(phone.locator("#called")).to_be_hidden()

        own.stop()
        await expect(tv.locator("#offline")).to_be_visible(timeout=10_000)
        await expect(tv.locator("#board")).to_have_class("mon-board is-stale")

        async with httpx.AsyncClient(base_url=hub.base_url) as other:  # same Redis
            r = await other.post(
                f"/v1/queues/{info}/call-next", json={"room": "2"}, headers=staff_headers(facility)
            )
            assert r.status_code == 200, r.text

        own.start()  # same port, same Redis
        await expect(card.locator(".mon-now-number")).to_have_text("1", timeout=40_000)
        await expect(tv.locator("#offline")).to_be_hidden()
        await expect(card.locator(".mon-waiting")).to_contain_text("0")
        await expect(phone.locator("#called")).to_be_visible(timeout=40_000)
    finally:
        await tv_ctx.close()
        await phone_ctx.close()
        own.stop()
    assert not errors, f"uncaught errors in the pages: {errors}"
