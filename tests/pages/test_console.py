"""The staff console /console/{facility} in real headless Chromium against a real hub."""

from __future__ import annotations

import itertools
import random
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Locator, Page, expect

from tests.conftest import OPERATOR, TOKENS, HubProcess, make_facility, staff_headers
from tests.pages.conftest import screenshot
from tests.pages.test_monitor import TV, monitor_token

DESK = {"width": 1440, "height": 960}
PASSWORD = "correct-horse-battery"
_addresses = itertools.count(random.randint(1, 150) * 250)

Opener = Callable[[str, str], Awaitable[Page]]


async def staff_user(client: httpx.AsyncClient, facility: str) -> str:
    name = f"staff-{secrets.token_hex(4)}"
    body = {"user": name, "password": PASSWORD, "role": "staff", "facility": facility}
    r = await client.post("/v1/admin/users", json=body, headers=OPERATOR)
    assert r.status_code == 201, r.text
    return name


@pytest.fixture
async def consoles(browser: Browser, hub: HubProcess) -> AsyncIterator[Opener]:
    """Opens logged-in consoles, each in its own browser (own session, own client address, so
    the login rate limit of one never spends another's); fails on uncaught page errors."""
    contexts: list[BrowserContext] = []
    errors: list[str] = []

    async def open_console(facility: str, user: str) -> Page:
        n = next(_addresses)
        ctx = await browser.new_context(
            locale="ja-JP",
            viewport=DESK,
            extra_http_headers={"X-Forwarded-For": f"172.16.{n // 250 % 250}.{n % 250 + 1}"},
        )
        contexts.append(ctx)
        page = await ctx.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(f"{hub.base_url}/console/{facility}")
        await page.fill("#login-form [name=user]", user)
        await page.fill("#login-form [name=password]", PASSWORD)
        await page.click("#login-form button")
        await expect(page.locator("#app")).to_be_visible()
        await expect(page.locator("#waiting-count")).to_have_text(
            str(await waiting(facility, "01")), timeout=5000
        )
        return page

    async def waiting(facility: str, counter: str) -> int:
        async with httpx.AsyncClient(base_url=hub.base_url) as c:
            return int((await c.get(f"/v1/queues/{facility}-{counter}")).json()["waiting_count"])

    yield open_console
    for ctx in contexts:
        await ctx.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def row(page: Page, list_id: str, number: int) -> Locator:
    return page.locator(f'#{list_id} li[data-number="{number}"]')


async def take(client: httpx.AsyncClient, info: str, **body: object) -> dict:  # type: ignore[type-arg]
    r = await client.post(f"/v1/queues/{info}/tickets", json=body or None)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_console_call_reaches_patient_page_and_monitor(
    hub: HubProcess, client: httpx.AsyncClient, consoles: Opener, browser: Browser
) -> None:
    """A patient takes a web ticket; staff call it with the button, the next with N; each
    patient's ticket page shows "your turn" within 1 s and the monitor shows the number."""
    facility = await make_facility(client)
    info = f"{facility}-01"
    first = await take(client, info, name="佐藤 花子", phone="090-1111-2222", note="発熱")
    second = await take(client, info, name="鈴木 一郎")
    user = await staff_user(client, facility)
    console = await consoles(facility, user)
    await expect(row(console, "waiting", 1)).to_contain_text("佐藤 花子 · 090-1111-2222 · 発熱")
    await expect(row(console, "waiting", 1).locator(".con-chan")).to_have_text("Web")
    await expect(row(console, "waiting", 1)).to_contain_text("受付 · 待ち 0 分")
    await expect(console.locator("#service-hours")).to_have_text("00:00–24:00")

    ctx = await browser.new_context(locale="ja-JP")
    tv_ctx = await browser.new_context(locale="ja-JP", viewport=TV)
    try:
        patient = await ctx.new_page()
        await patient.goto(f"{hub.base_url}{first['url']}#token={first['token']}")
        await expect(patient.locator("#called")).to_be_hidden()
        tv = await tv_ctx.new_page()
        await tv.goto(f"{hub.base_url}/monitor/{facility}#token={monitor_token(facility)}")
        number = tv.locator(f'article[data-info="{info}"] .mon-now-number')
        await expect(number).to_have_text("—")
        await patient.wait_for_timeout(300)  # the patient page has subscribed by now

        await console.fill("#room", "3")
        await console.click("#call-next")
        await expect(patient.locator("#called")).to_be_visible(timeout=1000)
        await expect(number).to_have_text("1", timeout=1000)
        await expect(row(console, "calling", 1)).to_contain_text("3番")

        patient2 = await ctx.new_page()
        await patient2.goto(f"{hub.base_url}{second['url']}#token={second['token']}")
        await expect(patient2.locator("#called")).to_be_hidden()
        await patient2.wait_for_timeout(300)
        await console.locator("body").press("n")
        await expect(patient2.locator("#called")).to_be_visible(timeout=1000)
        await expect(number).to_have_text("2", timeout=1000)
    finally:
        await ctx.close()
        await tv_ctx.close()
    await take(client, info, name="高橋 三郎", note="再診")
    await console.locator("body").press("d")
    await console.fill("#issue-form [name=name]", "田中 四郎")
    await console.check("#issue-form [value=phone]")
    await console.fill("#issue-form [name=note]", "電話予約")
    await console.click("#issue")
    await expect(console.locator("#issued")).to_contain_text("4番を発券しました（電話）")
    await screenshot(console, "console")


async def test_every_action_shows_live_on_a_second_console(
    client: httpx.AsyncClient, consoles: Opener
) -> None:
    facility = await make_facility(client)
    info = f"{facility}-01"
    user = await staff_user(client, facility)
    a = await consoles(facility, user)
    b = await consoles(facility, user)

    await a.click("#toggle-open")
    await expect(b.locator("#open-state")).to_have_text("停止中")
    await a.click("#toggle-open")
    await expect(b.locator("#open-state")).to_have_text("受付中")
    await a.click("#toggle-web")
    await expect(b.locator("#web-state")).to_have_text("停止中")
    assert (await client.get(f"/v1/queues/{info}")).json()["web_open"] is False
    await a.click("#toggle-web")
    await expect(b.locator("#web-state")).to_have_text("受付中")

    for name in ("山田", "中村", "小林"):
        await a.fill("#issue-form [name=name]", name)
        await a.click("#issue")
        await expect(a.locator("#issued")).to_contain_text("を発券しました（窓口）")
    await expect(row(b, "waiting", 1)).to_contain_text("山田")
    await expect(row(b, "waiting", 1).locator(".con-chan")).to_have_text("窓口")
    await expect(b.locator("#waiting-count")).to_have_text("3")

    await a.click("#call-next")
    await expect(row(b, "calling", 1)).to_be_visible()
    await row(a, "calling", 1).get_by_role("button", name="1番を再呼出").click()
    await expect(row(b, "calling", 1)).to_contain_text("再呼出 1")
    await row(a, "calling", 1).get_by_role("button", name="1番を不在にする").click()
    await expect(row(b, "absent", 1)).to_be_visible()
    await row(a, "absent", 1).get_by_role("button", name="1番を列に戻す").click()
    await expect(row(b, "waiting", 1)).to_be_visible()
    await expect(row(b, "absent", 1)).to_have_count(0)

    await a.locator("body").press("n")
    await expect(row(b, "calling", 2)).to_be_visible()
    await row(a, "calling", 2).get_by_role("button", name="2番を終了にする").click()
    await expect(row(b, "done", 2)).to_contain_text("終了")
    await expect(row(b, "calling", 2)).to_have_count(0)

    cancel = row(a, "waiting", 3).get_by_role("button", name="3番を取り消す")
    await cancel.click()
    await expect(a.locator("#confirm")).to_be_visible()
    await a.click("#confirm-no")  # changed my mind: nothing happens
    await expect(row(b, "waiting", 3)).to_be_visible()
    await cancel.click()
    await a.click("#confirm-yes")
    await expect(row(b, "done", 3)).to_contain_text("取消")
    await expect(row(b, "waiting", 3)).to_have_count(0)

    await a.fill("#message", "本日は混雑しています")
    await a.click("#message-form button")
    await expect(b.locator("#message")).to_have_value("本日は混雑しています")

    # empty the line, then N once more: a clear 409 queue_empty
    await a.locator("body").press("n")
    await expect(row(b, "calling", 1)).to_be_visible()
    await a.locator("body").press("n")
    await expect(a.locator("#error")).to_contain_text("お待ちの方はいません。 (queue_empty)")
    assert (await client.get(f"/v1/queues/{info}")).json()["waiting_count"] == 0


async def test_double_click_and_repeated_key_call_one_patient(
    client: httpx.AsyncClient, consoles: Opener
) -> None:
    facility = await make_facility(client, ("01",))
    info = f"{facility}-01"
    for _ in range(4):
        await take(client, info)
    console = await consoles(facility, await staff_user(client, facility))
    await console.dblclick("#call-next")
    await expect(row(console, "calling", 1)).to_be_visible()
    await console.wait_for_timeout(300)
    staff = (await client.get(f"/v1/queues/{info}/staff", headers=staff_headers(facility))).json()
    assert len(staff["calling_ids"]) == 1 and staff["waiting_count"] == 3


async def test_counters_switch_by_tab_and_digit_and_pairing_code(
    client: httpx.AsyncClient, consoles: Opener
) -> None:
    facility = await make_facility(client)
    await take(client, f"{facility}-02")
    console = await consoles(facility, await staff_user(client, facility))
    await console.locator("body").press("2")
    await expect(console.locator(f'[data-info="{facility}-02"]')).to_have_attribute(
        "aria-selected", "true"
    )
    await expect(row(console, "waiting", 1)).to_be_visible()
    await console.click(f'[data-info="{facility}-01"]')
    await expect(row(console, "waiting", 1)).to_have_count(0)

    await console.click("#pair")
    code = console.locator("#pairing-code")
    await expect(code).to_have_text(re.compile(r"^[0-9]{6}$"))
    claimed = await client.post(
        f"/v1/monitor-pairings/{await code.text_content()}/claim",
        headers={"X-Forwarded-For": "192.0.2.77"},
    )
    assert claimed.status_code == 200 and claimed.json()["facility"] == facility


async def test_login_errors_logout_and_expiry(
    hub: HubProcess, client: httpx.AsyncClient, browser: Browser, consoles: Opener
) -> None:
    facility = await make_facility(client, ("01",))
    user = await staff_user(client, facility)
    other = await make_facility(client, ("01",), open_all=False)
    foreign = await staff_user(client, other)
    ctx = await browser.new_context(
        locale="ja-JP", viewport=DESK, extra_http_headers={"X-Forwarded-For": "198.18.0.9"}
    )
    try:
        page = await ctx.new_page()
        await page.goto(f"{hub.base_url}/console/{facility}")
        await page.fill("#login-form [name=user]", user)
        await page.fill("#login-form [name=password]", "wrong-password")
        await page.click("#login-form button")
        await expect(page.locator("#login-error")).to_have_text(
            "ユーザー名またはパスワードが違います。"
        )
        await page.fill("#login-form [name=user]", foreign)
        await page.fill("#login-form [name=password]", PASSWORD)
        await page.click("#login-form button")
        await expect(page.locator("#login-error")).to_contain_text(f"施設 {other} 用")
        await expect(page.locator("#app")).to_be_hidden()

        expired = TOKENS.issue("staff", facility=facility, ttl_s=1, now=time.time() - 60)
        await page.evaluate(f"sessionStorage.setItem('junban.console.token', '{expired}')")
        await page.reload()
        await expect(page.locator("#login-error")).to_contain_text("有効期限")
        soon = TOKENS.issue("staff", facility=facility, ttl_s=3)
        await page.evaluate(f"sessionStorage.setItem('junban.console.token', '{soon}')")
        await page.reload()
        await expect(page.locator("#app")).to_be_visible()
        await expect(page.locator("#login-error")).to_contain_text("有効期限", timeout=6000)
        await expect(page.locator("#app")).to_be_hidden()
    finally:
        await ctx.close()

    console = await consoles(facility, user)
    await console.click("#logout")
    await expect(console.locator("#login")).to_be_visible()
    assert await console.evaluate("sessionStorage.getItem('junban.console.token')") is None
