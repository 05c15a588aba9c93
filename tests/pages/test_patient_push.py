"""Web Push, browser half (design "Tests"): real headless Chromium against a real hub. The
service worker /q-sw.js shows what the hub would push (delivered with the DevTools command
``ServiceWorker.deliverPushMessage``, the payload built by hub/notify/webpush.py), one
notification per ticket; and where push cannot work (headless Chromium's subscribe fails,
iPhone Safari outside the Home Screen, Web Push off) the page says why and offers e-mail."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from hub.notify.channels import Message
from hub.notify.webpush import payload_of
from tests.conftest import WITH_NOTIFY, HubProcess, make_facility, start_hub
from tests.pages.conftest import screenshot

IPHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
LIST_NOTIFICATIONS = """async () => {
  const reg = await navigator.serviceWorker.getRegistration('/q/');
  const shown = reg ? await reg.getNotifications() : [];
  return shown.map((n) => ({title: n.title, body: n.body, tag: n.tag,
    requireInteraction: n.requireInteraction, data: n.data}));
}"""


@pytest.fixture(scope="module")
def push_hub(redis_url: str) -> Iterator[HubProcess]:
    """A hub with Web Push on (a VAPID subject; the key pair is generated at start)."""
    process = start_hub(redis_url, JUNBAN_VAPID_SUBJECT="mailto:ops@junban.example", **WITH_NOTIFY)
    yield process
    process.stop()


async def ticket_page(hub: HubProcess) -> tuple[str, str, str]:
    """A fresh facility and a web ticket there: (info, ticket id, the page URL with token)."""
    async with httpx.AsyncClient(base_url=hub.base_url, timeout=20) as client:
        facility = await make_facility(client)
        info = f"{facility}-01"
        r = await client.post(f"/v1/queues/{info}/tickets", json={"channel": "web"})
        assert r.status_code == 201, r.text
        answer = r.json()
    ticket_id = answer["ticket"]["id"]
    url = f"{hub.base_url}/q/{info}/t/{ticket_id}#token={answer['token']}"
    return info, ticket_id, url


async def open_page(
    browser: Browser, hub: HubProcess, url: str, **options: Any
) -> tuple[BrowserContext, Page, list[str]]:
    ctx = await browser.new_context(
        locale="ja-JP", viewport={"width": 390, "height": 844}, **options
    )
    await ctx.grant_permissions(["notifications"], origin=hub.base_url)
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(url)
    await expect(page.locator("#ticket-number")).not_to_have_text("–")
    return ctx, page, errors


@pytest.fixture
async def contexts() -> AsyncIterator[list[BrowserContext]]:
    opened: list[BrowserContext] = []
    yield opened
    for ctx in opened:
        await ctx.close()


async def test_the_service_worker_is_served(push_hub: HubProcess) -> None:
    async with httpx.AsyncClient(base_url=push_hub.base_url) as client:
        r = await client.get("/q-sw.js")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    assert r.headers["service-worker-allowed"] == "/q/"
    assert "showNotification" in r.text and "notificationclick" in r.text


async def test_a_push_shows_one_notification_per_ticket(
    browser: Browser, push_hub: HubProcess, contexts: list[BrowserContext]
) -> None:
    info, ticket_id, url = await ticket_page(push_hub)
    ctx, page, errors = await open_page(browser, push_hub, url)
    contexts.append(ctx)
    scope = await page.evaluate(
        """async () => {
          const reg = await navigator.serviceWorker.register('/q-sw.js', {scope: '/q/'});
          await navigator.serviceWorker.ready;
          return reg.scope;
        }"""
    )
    assert scope == f"{push_hub.base_url}/q/"

    cdp = await ctx.new_cdp_session(page)
    registrations: dict[str, str] = {}
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda event: registrations.update(
            {r["scopeURL"]: r["registrationId"] for r in event["registrations"]}
        ),
    )
    await cdp.send("ServiceWorker.enable")
    deadline = time.monotonic() + 10
    while scope not in registrations:
        assert time.monotonic() < deadline, f"no registration for {scope}: {registrations}"
        await asyncio.sleep(0.05)

    def hub_payload(trigger: str, ahead: int | None, title: str, body: str) -> str:
        message = Message(
            facility=info.split("-")[0],
            info=info,
            ticket_id=ticket_id,
            number=1,
            trigger=trigger,
            n=0,
            ahead=ahead,
            clinic="デモクリニック",
            title=title,
            body=body,
            path=f"/q/{info}/t/{ticket_id}",
        )
        return payload_of(message).decode()

    async def deliver(data: str) -> None:
        await cdp.send(
            "ServiceWorker.deliverPushMessage",
            {"origin": push_hub.base_url, "registrationId": registrations[scope], "data": data},
        )

    async def shown(count: int, title: str) -> list[dict[str, Any]]:
        deadline = time.monotonic() + 10
        while True:
            found: list[dict[str, Any]] = await page.evaluate(LIST_NOTIFICATIONS)
            if len(found) == count and found[0]["title"] == title:
                return found
            assert time.monotonic() < deadline, f"notifications: {found}"
            await asyncio.sleep(0.1)

    await deliver(hub_payload("near", 3, "まもなく順番です（1番）", "あと3人です。"))
    near = await shown(1, "まもなく順番です（1番）")
    assert near[0]["body"] == "あと3人です。"
    assert near[0]["tag"] == ticket_id
    assert near[0]["requireInteraction"] is False
    assert near[0]["data"]["path"] == f"/q/{info}/t/{ticket_id}"

    # called: the same ticket's notification is replaced (same tag) and stays until seen
    await deliver(hub_payload("called", 0, "お呼びしています（1番）", "診察室1へお入りください"))
    called = await shown(1, "お呼びしています（1番）")
    assert called[0]["requireInteraction"] is True
    assert called[0]["body"] == "診察室1へお入りください"

    # a path that is not a ticket page is never opened from a notification
    await deliver(json.dumps({"title": "x", "path": "https://evil.example/", "ticket": "other"}))
    found = await page.evaluate(LIST_NOTIFICATIONS)
    deadline = time.monotonic() + 10
    while len(found) < 2:
        assert time.monotonic() < deadline, found
        await asyncio.sleep(0.1)
        found = await page.evaluate(LIST_NOTIFICATIONS)
    assert {n["tag"]: n["data"]["path"] for n in found}["other"] == "/q/"

    # a tap: the worker focuses the ticket's open page, else opens it. (Headless Chromium
    # cannot click a notification, so the event is dispatched in the worker with focus and
    # openWindow recorded: both need the browser's own click to be allowed.)
    worker = next(w for w in ctx.service_workers if w.url.endswith("/q-sw.js"))
    taps = await worker.evaluate(
        """async (tags) => {
          const seen = [];
          Clients.prototype.openWindow = async (url) => { seen.push(["open", url]); return null; };
          WindowClient.prototype.focus = async function () {
            seen.push(["focus", new URL(this.url).pathname]); return this;
          };
          for (const tag of tags) {
            const [n] = await self.registration.getNotifications({ tag });
            try {
              self.dispatchEvent(new NotificationEvent("notificationclick", { notification: n }));
            } catch { /* waitUntil refuses an event the browser did not send */ }
          }
          await new Promise((resolve) => setTimeout(resolve, 300));
          return seen;
        }""",
        [ticket_id, "other"],
    )
    assert sorted(taps) == [
        ["focus", f"/q/{info}/t/{ticket_id}"],  # this page is open: focused, not opened again
        ["open", f"{push_hub.base_url}/q/"],
    ]
    assert not errors


async def test_a_failed_subscribe_offers_email(
    browser: Browser, push_hub: HubProcess, contexts: list[BrowserContext]
) -> None:
    """Headless Chromium has no push service: PushManager.subscribe fails at once
    (design "Tests"), so the page says so and offers e-mail with the threshold kept."""
    _info, _ticket_id, url = await ticket_page(push_hub)
    ctx, page, errors = await open_page(browser, push_hub, url)
    contexts.append(ctx)
    await page.locator("#notify-btn").click()
    await expect(page.locator("#notify-panel")).to_be_visible()
    await expect(page.locator("#notify-threshold")).to_have_value("3")
    await expect(page.locator("#notify-threshold option")).to_have_count(10)
    await page.locator("#notify-threshold").select_option("5")
    await page.locator("#notify-push").click()
    why = page.locator("#notify-why")
    await expect(why).to_have_attribute("data-why", "n.failed")
    await expect(why).to_contain_text("通知を設定できませんでした")
    await expect(page.locator("#notify-email")).to_be_visible()
    await expect(page.locator("#notify-push")).to_be_hidden()
    await expect(page.locator("#notify-line")).to_be_hidden()  # LINE is not set up on this hub
    await expect(page.locator("#notify-threshold")).to_have_value("5")
    await screenshot(page, "patient-notify-fallback")

    await page.locator("#notify-email-btn").click()
    await expect(page.locator("#notify-status")).to_have_text("メールアドレスを確認してください。")
    requests: list[dict[str, Any]] = []
    page.on(
        "request",
        lambda r: (
            requests.append(json.loads(r.post_data or "{}"))
            if r.url.endswith("/notifications")
            else None
        ),
    )
    await page.locator("#notify-email").fill("patient@mail.example.jp")
    await page.locator("#notify-email-btn").click()
    # this hub has no SMTP relay: the hub answers channel_unavailable and the page says so
    await expect(page.locator("#notify-status")).to_have_text(
        "この方法はこのクリニックでは利用できません。"
    )
    assert requests == [
        {"channel": "email", "email": "patient@mail.example.jp", "threshold": 5, "lang": "ja"}
    ]
    assert not errors


async def test_iphone_safari_offers_email_first(
    browser: Browser, push_hub: HubProcess, contexts: list[BrowserContext]
) -> None:
    _info, _ticket_id, url = await ticket_page(push_hub)
    ctx, page, errors = await open_page(browser, push_hub, url, user_agent=IPHONE_UA)
    contexts.append(ctx)
    await page.locator("#notify-btn").click()
    why = page.locator("#notify-why")
    await expect(why).to_have_text(
        "iPhoneでは、ホーム画面に追加した場合のみ通知を受け取れます。"
        "メールかLINEでお知らせを受け取れます。"
    )
    await expect(page.locator("#notify-push")).to_be_hidden()
    await expect(page.locator("#notify-email")).to_be_visible()
    await screenshot(page, "patient-notify-iphone")
    assert not errors


async def test_without_web_push_the_page_says_so(
    browser: Browser, hub: HubProcess, contexts: list[BrowserContext]
) -> None:
    """The shared hub has no VAPID subject: GET /v1/push/key is 404 push_disabled."""
    _info, _ticket_id, url = await ticket_page(hub)
    ctx, page, errors = await open_page(browser, hub, url)
    contexts.append(ctx)
    await page.locator("#notify-btn").click()
    await page.locator("#notify-push").click()
    await expect(page.locator("#notify-why")).to_have_attribute("data-why", "n.push_off")
    await expect(page.locator("#notify-email")).to_be_visible()
    await page.locator("#lang").click()
    await expect(page.locator("#notify-threshold option").first).to_have_text("1 ahead of me")
    await expect(page.locator("#notify-why")).to_contain_text("not available at this clinic")
    assert not errors
