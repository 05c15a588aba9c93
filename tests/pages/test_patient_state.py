"""The patient page keeps each ticket's token by ticket id, forgets it only when the ticket
is over or the hub refuses it, keeps the public view live with a bad token, shows "your
turn" as a modal dialog, and does not rewrite live regions that did not change.
Real Chromium against a real hub; staff act through the HTTP API."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
from playwright.async_api import Browser, Page, expect

from tests.conftest import HubProcess, make_facility, staff_headers, start_hub
from tests.pages.test_patient import TICKET_URL, call_next, take_on_page


async def staff_act(client: httpx.AsyncClient, info: str, ticket_id: str, action: str) -> None:
    facility = info.split("-")[0]
    r = await client.post(
        f"/v1/queues/{info}/tickets/{ticket_id}/{action}", headers=staff_headers(facility)
    )
    assert r.status_code == 200, r.text


async def test_absent_keeps_the_ticket_until_it_is_over(
    page: Page, hub: HubProcess, client: httpx.AsyncClient
) -> None:
    """Absent is not final: the token stays, /q/{info} still leads to the ticket, no "take a
    new ticket" offer; requeued and called again, the page follows; done forgets it."""
    facility = await make_facility(client)
    info = f"{facility}-01"
    ticket_id = await take_on_page(page, hub, info)
    await call_next(client, info, "1")
    await expect(page.locator("#called")).to_be_visible()
    await staff_act(client, info, ticket_id, "absent")
    await expect(page.locator("#ticket-status")).to_contain_text("受付にお声がけください")
    await expect(page.locator("#again-link")).to_be_hidden()
    await page.goto(f"{hub.base_url}/q/{info}", wait_until="commit")
    await page.wait_for_url(re.compile(f"/t/{ticket_id}$"))  # still this browser's ticket
    await expect(page.locator("#ticket-status")).to_contain_text("受付にお声がけください")
    await staff_act(client, info, ticket_id, "requeue")
    await expect(page.locator("#ticket-number")).to_have_text("1")
    await expect(page.locator("#cancel-btn")).to_be_visible()  # waiting again
    await call_next(client, info, "4")
    await expect(page.locator("#called-room")).to_contain_text("4番診察室")
    await page.locator("#called-ok").click()
    await staff_act(client, info, ticket_id, "complete")
    await expect(page.locator("#again-link")).to_be_visible()
    await page.goto(f"{hub.base_url}/q/{info}")  # over: forgotten, the form is offered
    await expect(page.locator("#take-btn")).to_be_enabled()
    assert page.url.endswith(f"/q/{info}")


async def test_tokens_are_kept_per_ticket(
    page: Page, hub: HubProcess, client: httpx.AsyncClient
) -> None:
    """One browser, two tickets of one queue (one taken here, one from a paper QR) and a
    stale page of a ticket that no longer exists: none of them wipes another's token."""
    facility = await make_facility(client)
    info = f"{facility}-01"
    mine = await take_on_page(page, hub, info)
    await expect(page.locator("#ticket-number")).to_have_text("1")
    paper = (await client.post(f"/v1/queues/{info}/tickets")).json()  # a family member's
    await page.goto(f"{hub.base_url}{paper['url']}#token={paper['token']}")
    await expect(page.locator("#ticket-number")).to_have_text("2")
    # a stale tab (yesterday's ticket, say) the hub refuses: only that one is forgotten
    await page.goto(f"{hub.base_url}/q/{info}/t/doesNotExist1#token={paper['token']}")
    await expect(page.locator("#ticket-status")).to_contain_text(
        re.compile("見つかりません|受付票のQRコード")
    )
    await page.goto(f"{hub.base_url}/q/{info}/t/{mine}")
    await expect(page.locator("#ticket-number")).to_have_text("1")
    await page.goto(f"{hub.base_url}/q/{info}/t/{paper['ticket']['id']}")
    await expect(page.locator("#ticket-number")).to_have_text("2")
    # the newest ticket of the queue is the one /q/{info} leads to
    await page.goto(f"{hub.base_url}/q/{info}", wait_until="commit")
    await page.wait_for_url(re.compile(f"/t/{paper['ticket']['id']}$"))
    stored = await page.evaluate(
        "() => Object.keys(localStorage).filter((k) => k.startsWith('junban.ticket.')).sort()"
    )
    assert stored == sorted([f"junban.ticket.{mine}", f"junban.ticket.{paper['ticket']['id']}"])


async def test_old_storage_is_moved_over(
    page: Page, hub: HubProcess, client: httpx.AsyncClient
) -> None:
    """A ticket stored by the previous page version (`junban.tickets`, one per queue) still
    opens after an update."""
    facility = await make_facility(client)
    info = f"{facility}-01"
    taken = (await client.post(f"/v1/queues/{info}/tickets")).json()
    await page.goto(f"{hub.base_url}/healthz")
    old = {info: {"id": taken["ticket"]["id"], "token": taken["token"], "number": 1}}
    await page.evaluate("(old) => localStorage.setItem('junban.tickets', JSON.stringify(old))", old)
    await page.goto(f"{hub.base_url}/q/{info}", wait_until="commit")
    await page.wait_for_url(TICKET_URL)
    await expect(page.locator("#ticket-number")).to_have_text("1")
    assert await page.evaluate("() => localStorage.getItem('junban.tickets')") is None


async def test_a_refused_token_leaves_the_public_view_live(
    page: Page, hub: HubProcess, client: httpx.AsyncClient
) -> None:
    """A ticket page opened with a bad token says so, forgets only that token, and the queue's
    live view keeps working (the token never took the connection down)."""
    facility = await make_facility(client)
    info = f"{facility}-01"
    taken = (await client.post(f"/v1/queues/{info}/tickets")).json()
    await page.goto(f"{hub.base_url}{taken['url']}#token=not-a-jwt")
    await expect(page.locator("#ticket-status")).to_contain_text("受付票のQRコード")
    await expect(page.locator("#waiting-count")).to_have_text("1人")
    await expect(page.locator("#net")).to_have_attribute("data-online", "true")
    await client.post(f"/v1/queues/{info}/tickets")
    await expect(page.locator("#waiting-count")).to_have_text("2人")
    key = f"junban.ticket.{taken['ticket']['id']}"
    assert await page.evaluate(f"() => localStorage.getItem('{key}')") is None


async def test_your_turn_is_modal_and_gives_focus_back(
    page: Page, hub: HubProcess, client: httpx.AsyncClient
) -> None:
    facility = await make_facility(client)
    info = f"{facility}-01"
    await take_on_page(page, hub, info)
    await expect(page.locator("#ticket-number")).to_have_text("1")
    await page.locator("#lang").focus()
    await call_next(client, info, "2")
    dialog = page.locator("#called")
    await expect(dialog).to_be_visible()
    assert await dialog.evaluate("d => d.tagName === 'DIALOG' && d.open && d.matches(':modal')")
    await expect(page.locator("#called-ok")).to_be_focused()
    # the page behind is inert: nothing there takes the focus (nor a tap)
    behind = "() => { document.getElementById('lang').focus(); return document.activeElement.id; }"
    assert await page.evaluate(behind) == "called-ok"
    await page.locator("#called-ok").click()
    await expect(dialog).to_be_hidden()
    await expect(page.locator("#lang")).to_be_focused()  # back where it was
    await expect(page.locator("#ticket-status")).to_contain_text("2番診察室")


async def test_live_updates_leave_unchanged_regions_alone(
    page: Page, hub: HubProcess, client: httpx.AsyncClient
) -> None:
    """A live update that changes only the waiting count does not rebuild the called numbers
    (an aria-live list) nor rewrite the operator notices or the take-a-ticket notice."""
    facility = await make_facility(client)
    info = f"{facility}-01"
    await client.post(f"/v1/queues/{info}/tickets")
    await call_next(client, info, "1")
    await page.goto(f"{hub.base_url}/q/{info}")
    await expect(page.locator("#calling li")).to_have_text("1")
    await page.evaluate(
        """() => {
          window.__writes = 0;
          for (const id of ["calling", "op-notices", "notice", "waiting-count"]) {
            new MutationObserver((records) => {
              if (id !== "waiting-count") window.__writes += records.length;
            }).observe(document.getElementById(id),
                       {childList: true, characterData: true, subtree: true});
          }
          document.querySelector("#calling li").dataset.mark = "kept";
        }"""
    )
    await client.post(f"/v1/queues/{info}/tickets")
    await expect(page.locator("#waiting-count")).to_have_text("1人")
    await expect(page.locator("#calling li")).to_have_attribute("data-mark", "kept")
    assert await page.evaluate("() => window.__writes") == 0


async def test_the_form_appears_at_opening_time_without_a_queue_change(
    browser: Browser, redis_url: str
) -> None:
    """The service-hours refusal is rechecked on a timer: at opening time the form appears
    although nothing in the queue changed (the page's clock is moved forward)."""
    tokyo = ZoneInfo("Asia/Tokyo")
    opening = (datetime.now(tokyo) + timedelta(hours=3)).replace(second=0, microsecond=0)
    if opening.hour < 3:  # keep the window inside one day
        opening = opening.replace(hour=3, minute=0)
    hours = f"{opening:%H:%M}-{opening.replace(hour=23, minute=59):%H:%M}"
    other = start_hub(redis_url, JUNBAN_SERVICE_HOURS=hours)
    ctx = await browser.new_context(locale="ja-JP", viewport={"width": 390, "height": 844})
    try:
        async with httpx.AsyncClient(base_url=other.base_url, timeout=20) as c:
            facility = await make_facility(c)
        page = await ctx.new_page()
        await page.clock.install(time=opening - timedelta(minutes=1))
        await page.goto(f"{other.base_url}/q/{facility}-01")
        await expect(page.locator("#notice")).to_contain_text("Web受付は")
        await expect(page.locator("#take")).to_be_hidden()
        await page.clock.fast_forward(90_000)
        await expect(page.locator("#take")).to_be_visible()
        await expect(page.locator("#take-btn")).to_be_enabled()
        await expect(page.locator("#notice")).to_be_hidden()
    finally:
        await ctx.close()
        other.stop()


async def test_static_files_are_revalidated(client: httpx.AsyncClient) -> None:
    """/static says no-cache: browsers revalidate (304 when unchanged), so after an update
    no page runs yesterday's scripts."""
    r = await client.get("/static/junban.js")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-cache"
    etag = r.headers["etag"]
    again = await client.get("/static/junban.js", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.headers["cache-control"] == "no-cache"
    page = await client.get("/static/pages/patient.js")
    assert page.headers["cache-control"] == "no-cache"
