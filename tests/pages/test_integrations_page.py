"""The integrations page /console/{facility}/integrations in real headless Chromium against a
real hub (loopback endpoints allowed, as for every test hub of the integrations): a webhook
endpoint added on the page shows its signing secret once, a test send reaches a real
receiver and shows in the delivery log (and its CSV), a partner key is shown once and
revoked, and the page speaks English with ?lang=en."""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import httpx
import msgpack
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect
from redis.asyncio import Redis

from tests.conftest import HubProcess, bearer, make_facility, staff_headers, start_hub
from tests.pages.conftest import DESK, PASSWORD, screenshot, staff_user

_addresses = itertools.count(1)


@pytest.fixture(scope="module")
def link_hub(redis_url: str) -> Iterator[HubProcess]:
    """A hub whose endpoints may be loopback http receivers, retries scaled down."""
    process = start_hub(
        redis_url, JUNBAN_INTEGRATIONS_ALLOW_LOOPBACK="1", JUNBAN_RETRY_SCALE="0.001"
    )
    yield process
    process.stop()


@pytest.fixture
async def api(link_hub: HubProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=link_hub.base_url, timeout=20) as c:
        yield c


@dataclass
class Receiver:
    """A webhook receiver: a real HTTP/1.1 server on loopback answering 204 and keeping
    each request's head (lower-case names) and body."""

    url: str = ""
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


async def _serve(
    receiver: Receiver, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")[1:]
            headers = {
                k.strip().lower(): v.strip()
                for k, _, v in (line.partition(":") for line in lines if line)
            }
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            receiver.requests.append((headers, body))
            writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    server = await asyncio.start_server(lambda r, w: _serve(found, r, w), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    found.url = f"http://127.0.0.1:{port}/hook"
    yield found
    server.close()


@pytest.fixture
async def desk(browser: Browser) -> AsyncIterator[BrowserContext]:
    n = next(_addresses)
    ctx = await browser.new_context(
        locale="ja-JP",
        viewport=DESK,
        accept_downloads=True,
        extra_http_headers={"X-Forwarded-For": f"172.30.{n // 250 % 250}.{n % 250 + 1}"},
    )
    yield ctx
    await ctx.close()


async def open_page(
    ctx: BrowserContext, base_url: str, facility: str, user: str, query: str = ""
) -> tuple[Page, list[str]]:
    """The integrations page, logged in through its own form; and its uncaught errors."""
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(f"{base_url}/console/{facility}/integrations{query}")
    await page.fill("#login-form [name=user]", user)
    await page.fill("#login-form [name=password]", PASSWORD)
    await page.click("#login-form button")
    await expect(page.locator("#app")).to_be_visible()
    return page, errors


async def test_a_webhook_endpoint_its_secret_once_a_test_send_and_the_delivery_log(
    link_hub: HubProcess, api: httpx.AsyncClient, desk: BrowserContext, receiver: Receiver
) -> None:
    facility = await make_facility(api, ("01",))
    user = await staff_user(api, facility)
    page, errors = await open_page(desk, link_hub.base_url, facility, user)
    await expect(page.locator("#endpoints-empty")).to_have_text("接続先はまだありません。")
    await expect(page.locator("#deliveries-empty")).to_be_visible()
    await expect(page.locator("#dead-empty")).to_have_text("失敗した連携はありません。")

    # the console links here
    console = await desk.new_page()
    await console.goto(f"{link_hub.base_url}/console/{facility}")
    link = console.locator("#integrations-link")
    await expect(link).to_have_text("連携")
    await expect(link).to_have_attribute("href", f"/console/{facility}/integrations")
    await console.close()

    # a bad URL is refused on the page, nothing stored
    await page.select_option("#kind", "webhook")
    await page.fill("#endpoint-form [name=url]", "ftp://example.org/x")
    await page.click("#endpoint-save")
    await expect(page.locator("#endpoint-error")).to_contain_text("https://")
    await expect(page.locator("#endpoints tr")).to_have_count(0)

    await page.fill("#endpoint-form [name=url]", receiver.url)
    await page.uncheck('#event-choices [value="ticket.called"]')
    await page.click("#endpoint-save")
    secret = page.locator("#secret-value")
    await expect(page.locator("#secret")).to_be_visible()
    await expect(page.locator("#secret-title")).to_contain_text("一度だけ表示")
    await expect(secret).to_have_text(re.compile(r"^whsec_"))
    shown = await secret.text_content()
    assert shown and shown.startswith("whsec_") and len(shown) > 20
    await expect(page.locator("#secret-copy")).to_be_visible()
    row = page.locator("#endpoints tr").first
    await expect(row).to_contain_text(receiver.url)
    await expect(row).to_contain_text("Webhook")
    await expect(row).to_contain_text("有効")
    # every event but the unchecked 呼び出し
    events = "受付、再呼び出し、不在、順番に戻す、終了、取消、患者と連携"
    await expect(row.locator("td").nth(3)).to_have_text(events)

    # the API never answers the secret again, nor does the page once closed
    listed = await api.get(
        f"/v1/facilities/{facility}/integrations/endpoints", headers=staff_headers(facility)
    )
    assert listed.status_code == 200, listed.text
    assert shown not in listed.text
    await page.click("#secret-done")
    await expect(page.locator("#secret")).to_be_hidden()
    await page.reload()
    await expect(page.locator("#endpoints tr")).to_have_count(1)
    assert shown not in await page.content()

    # テスト送信: the receiver gets a signed ping; the delivery log shows the attempt
    await page.locator("#endpoints tr").first.locator('[data-action="test"]').click()
    await expect(page.locator("#notice")).to_contain_text(receiver.url)
    for _ in range(100):
        if receiver.requests:
            break
        await asyncio.sleep(0.05)
    assert receiver.requests, "the receiver got no test"
    headers, _body = receiver.requests[0]
    assert headers.get("webhook-id") and headers.get("webhook-signature", "").startswith("v1,")
    await page.reload()  # the log is read on load (and every 15 s)
    delivery = page.locator("#deliveries tr").first
    await expect(delivery).to_be_visible(timeout=10_000)
    await expect(delivery).to_contain_text("成功")
    await expect(delivery).to_contain_text("204")
    await expect(page.locator("#deliveries-empty")).to_be_hidden()

    # its CSV: BOM, a Japanese header
    async with page.expect_download() as info:
        await page.click("#deliveries-csv")
    download = await info.value
    path = await download.path()
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf"), data[:20]
    assert "日時" in data.decode("utf-8-sig").splitlines()[0]

    # a new signing secret (two presses): shown once, not the first one
    rotate = page.locator("#endpoints tr").first.locator('[data-action="rotate"]')
    await rotate.click()
    await rotate.click()
    await expect(page.locator("#secret")).to_be_visible()
    fresh = await page.locator("#secret-value").text_content()
    assert fresh and fresh.startswith("whsec_") and fresh != shown
    await page.click("#secret-done")

    # stop, then delete (two presses); a key minted meanwhile shows after the next action
    minted = await api.post(
        f"/v1/facilities/{facility}/api-keys",
        json={"label": "ORCA relay", "scopes": ["events:read"]},
        headers=staff_headers(facility),
    )
    assert minted.status_code == 201, minted.text
    await page.locator("#endpoints tr").first.locator('[data-action="toggle"]').click()
    await expect(page.locator("#endpoints tr").first).to_contain_text("停止中")
    await expect(page.locator("#keys tr").first).to_contain_text("ORCA relay")
    await screenshot(page, "integrations")
    remove = page.locator("#endpoints tr").first.locator('[data-action="delete"]')
    await remove.click()
    await expect(remove).to_have_text("もう一度押すと実行")
    await remove.click()
    await expect(page.locator("#endpoints-empty")).to_be_visible()
    assert not errors, errors


async def test_an_api_key_is_shown_once_and_revoked(
    link_hub: HubProcess, api: httpx.AsyncClient, desk: BrowserContext
) -> None:
    facility = await make_facility(api, ("01",))
    user = await staff_user(api, facility)
    page, errors = await open_page(desk, link_hub.base_url, facility, user)
    await expect(page.locator("#keys-empty")).to_have_text("APIキーはまだありません。")
    await page.fill("#key-form [name=label]", "カルテ中継機")
    await page.check('#key-form [value="tickets:write"]')
    await page.click("#key-mint")
    await expect(page.locator("#secret")).to_be_visible()
    key = (await page.locator("#secret-value").text_content()) or ""
    assert key.startswith(f"jbk_{facility}_"), key
    await expect(page.locator("#secret-for")).to_contain_text("カルテ中継機")
    row = page.locator("#keys tr").first
    await expect(row).to_contain_text("カルテ中継機")
    await expect(row).to_contain_text("events:read, tickets:write")
    await expect(row).to_contain_text("有効")

    # the key works (the event feed), is never listed, and is gone from the page once closed
    feed = f"/v1/facilities/{facility}/integrations/events"
    assert (await api.get(feed, headers=bearer(key))).status_code == 200
    listed = await api.get(f"/v1/facilities/{facility}/api-keys", headers=staff_headers(facility))
    assert key not in listed.text
    await page.click("#secret-done")
    assert key not in await page.content()

    revoke = row.locator('[data-action="revoke"]')
    await revoke.click()
    await revoke.click()
    await expect(page.locator("#notice")).to_contain_text("無効にしました")
    await expect(page.locator("#keys tr").first).to_contain_text("無効化済み")
    await expect(page.locator('#keys tr [data-action="revoke"]')).to_have_count(0)
    refused = 0
    for _ in range(40):  # revocation acts within 2 s on every process
        refused = (await api.get(feed, headers=bearer(key))).status_code
        if refused == 401:
            break
        await asyncio.sleep(0.1)
    assert refused == 401
    assert not errors, errors


async def test_the_page_speaks_english_with_lang_en(
    link_hub: HubProcess, api: httpx.AsyncClient, desk: BrowserContext
) -> None:
    facility = await make_facility(api, ("01",))
    user = await staff_user(api, facility)
    page = await desk.new_page()
    await page.goto(f"{link_hub.base_url}/console/{facility}/integrations?lang=en")
    await expect(page.locator("#login-title")).to_have_text("Staff login")
    page, errors = await open_page(desk, link_hub.base_url, facility, user, "?lang=en")
    await expect(page.locator("#endpoints-title")).to_have_text("Endpoints")
    await expect(page.locator("#deliveries-title")).to_have_text("Delivery log")
    await expect(page.locator("#dead-title")).to_have_text("Failed integrations")
    await expect(page.locator("#keys-title")).to_have_text("API keys")
    await expect(page.locator("#endpoint-save")).to_have_text("Save")
    await page.select_option("#kind", "orca")
    await expect(page.locator("#kind-fields")).to_contain_text("ORCA password")
    await expect(page.locator('#endpoint-form [name="personal"]')).to_be_checked()
    await page.fill("#endpoint-form [name=url]", "https://orca.example.org:8000")
    await page.fill('[name="cfg-user"]', "ormaster")
    await page.fill('[name="cfg-counters"]', "01=01")  # no physician code
    await page.click("#endpoint-save")
    await expect(page.locator("#endpoint-error")).to_contain_text("counter=department:physician")
    await page.fill('[name="cfg-counters"]', "01=01:10001")
    await page.fill('[name="cfg-secret"]', "orca-password")
    await page.click("#endpoint-save")
    row = page.locator("#endpoints tr").first
    await expect(row).to_contain_text("ORCA (JMA receipt system)")
    await expect(row).to_contain_text("Enabled")
    await expect(page.locator("#secret")).to_be_hidden()  # the staff typed this one
    stored = (
        await api.get(
            f"/v1/facilities/{facility}/integrations/endpoints", headers=staff_headers(facility)
        )
    ).text
    assert "orca-password" not in stored and "10001" in stored
    await page.locator("#endpoints tr").first.locator('[data-action="edit"]').click()
    await expect(page.locator("#endpoint-form-title")).to_have_text("Edit the endpoint")
    await expect(page.locator("#kind")).to_be_disabled()  # an endpoint's kind stays
    await expect(page.locator('[name="cfg-counters"]')).to_have_value("01=01:10001")
    await expect(page.locator('[name="cfg-secret"]')).to_have_attribute(
        "placeholder", "Leave empty to keep it"
    )
    await screenshot(page, "integrations-en")
    assert not errors, errors


async def test_a_dead_letter_is_listed_and_replayed(
    link_hub: HubProcess, api: httpx.AsyncClient, desk: BrowserContext, redis_url: str
) -> None:
    """A dead letter as the outbox consumer leaves one (an entry that kept failing, copied
    with its group, deliveries and error): listed, then 「再送」 hands it to its group, which
    handles it this time (it has no events) and the list is empty again."""
    facility = await make_facility(api, ("01",))
    user = await staff_user(api, facility)
    body = msgpack.packb({"day": "2026-12-07", "events": [], "tickets": {}})
    fields = {
        "group": "integrations",
        "deliveries": "6",
        "error": "RuntimeError: the receiver exploded",
        "entry": "1796600000000-0",
        "info": f"{facility}-01",
        "v": "7",
        "epoch": "e1",
        "kinds": "ticket_issued",
        "e": body,
    }
    redis = Redis.from_url(redis_url)
    try:
        await redis.xadd(f"jb:{{{facility}}}:outbox:dead", fields)  # type: ignore[arg-type]
    finally:
        await redis.aclose()
    page, errors = await open_page(desk, link_hub.base_url, facility, user)
    row = page.locator("#dead tr").first
    await expect(row).to_contain_text("integrations")
    await expect(row).to_contain_text("the receiver exploded")
    await expect(row).to_contain_text("6")
    await expect(page.locator("#dead-empty")).to_be_hidden()
    await row.locator('[data-action="replay"]').click()
    await expect(page.locator("#notice")).to_have_text("再送を受け付けました。")
    await expect(page.locator("#dead tr")).to_have_count(0)
    await expect(page.locator("#dead-empty")).to_be_visible()
    assert not errors, errors
