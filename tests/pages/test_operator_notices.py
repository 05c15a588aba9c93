"""What the contracts module decides shows at once on every page (issue 6, "Gates"):
an announced interruption ahead of time, a suspended facility with a neutral notice, the
support desk's hours on the console, and a widget whose facility has no API option."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from playwright.async_api import Browser, Page, expect

from tests.conftest import OPERATOR, HubProcess, new_facility_number
from tests.pages.conftest import Opener, monitor_token, screenshot, staff_user
from tests.pages.test_widget import PARTNER_PAGE, PartnerSite

C = "/v1/admin/contracts"


async def contract(client: httpx.AsyncClient, options: list[str]) -> tuple[str, str]:
    """An active contract for a new facility with counter 01: (contract id, facility)."""
    body = {"applicant": "Sakura Clinic", "items": ["reservation"], "options": options,
            "fees": {"initial_fee": 30000,  # every item and option is priced
                     "monthly": {"reservation": 9000, **{o: 3000 for o in options}}}}  # fmt: skip
    r = await client.post(C, json=body, headers=OPERATOR)
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    number = new_facility_number()
    approve = {"facility": number, "name": "さくら内科", "counters": {"01": "内科"}}
    r = await client.post(f"{C}/{cid}/approve", json=approve, headers=OPERATOR)
    assert r.status_code == 200, r.text
    for path in ("open", "web/open"):
        r = await client.post(f"/v1/queues/{number}-01/{path}", headers=OPERATOR)
        assert r.status_code == 200, r.text
    return cid, number


async def test_interruption_and_suspension_show_live_on_every_page(
    client: httpx.AsyncClient, hub: HubProcess, page: Page, tv: Page, consoles: Opener
) -> None:
    cid, number = await contract(client, ["api"])
    info = f"{number}-01"
    await page.goto(f"{hub.base_url}/q/{info}")
    await expect(page.locator("#take")).to_be_visible()
    await tv.goto(f"{hub.base_url}/monitor/{number}#token={monitor_token(number)}")
    await expect(tv.locator(f'article.mon-counter[data-info="{info}"]')).to_be_visible()
    console = await consoles(number, await staff_user(client, number))
    await expect(console.locator("#support")).to_contain_text("サポート窓口")
    for p in (page, tv, console):
        await expect(p.locator("#op-notices" if p is not console else "#notices")).to_be_hidden()

    start = datetime.now().astimezone() + timedelta(days=2)
    end = start + timedelta(hours=2)
    body = {"kind": "maintenance", "starts_at": start.isoformat(), "ends_at": end.isoformat(),
            "message": "設備点検のため"}  # fmt: skip
    r = await client.post(f"{C}/{cid}/interruptions", json=body, headers=OPERATOR)
    assert r.status_code == 201, r.text
    # no reload: the notice arrives with the queue's live view
    for p, box in ((page, "#op-notices"), (tv, "#op-notices"), (console, "#notices")):
        notice = p.locator(f"{box} .jb-op-notice")
        await expect(notice).to_contain_text("設備点検のため")
        await expect(notice).to_contain_text("メンテナンス")
    await screenshot(page, "notice-patient")
    await screenshot(tv, "notice-monitor")

    r = await client.post(f"{C}/{cid}/suspend", json={"reason": "non_payment"}, headers=OPERATOR)
    assert r.status_code == 200, r.text
    await expect(page.locator("#notice")).to_be_visible()
    await expect(page.locator("#take")).to_be_hidden()
    await expect(tv.locator("#suspended")).to_be_visible()
    await expect(console.locator("#suspended-notice")).to_be_visible()
    await screenshot(console, "notice-console-suspended")
    taken = await client.post(f"/v1/queues/{info}/tickets")
    assert taken.status_code == 403 and taken.json()["error"]["code"] == "facility_suspended"

    r = await client.post(f"{C}/{cid}/resume", headers=OPERATOR)
    assert r.status_code == 200, r.text
    await expect(tv.locator("#suspended")).to_be_hidden()
    await expect(console.locator("#suspended-notice")).to_have_count(0)
    await expect(page.locator("#take")).to_be_visible()


async def test_widget_needs_the_api_option(
    client: httpx.AsyncClient, hub: HubProcess, browser: Browser
) -> None:
    """Without the API option the facility read answers 403 option_not_contracted to another
    origin, and the widget renders nothing; with it, the widget shows the live state."""
    _, without = await contract(client, [])
    _, with_api = await contract(client, ["api"])
    ctx = await browser.new_context(locale="ja-JP")
    try:
        for number, shown in ((without, False), (with_api, True)):
            html = PARTNER_PAGE.format(hub=hub.base_url, info=f"{number}-01")
            with PartnerSite(html) as site:
                partner = await ctx.new_page()
                async with partner.expect_response(f"**/v1/facilities/{number}") as answer:
                    await partner.goto(site.url)
                status = (await answer.value).status
                host = partner.locator(f'[data-junban-widget="{number}-01"]')
                if shown:
                    assert status == 200
                    await expect(host.locator("dd").first).to_have_text("0人")
                else:
                    assert status == 403
                    await expect(host).to_have_count(0)
                await partner.close()
    finally:
        await ctx.close()
