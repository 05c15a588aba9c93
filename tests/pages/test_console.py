"""The staff console /console/{facility} in real headless Chromium against a real hub."""

from __future__ import annotations

import re
import time

import httpx
from playwright.async_api import Browser, Locator, Page, Route, expect

from tests.conftest import OPERATOR, TOKENS, HubProcess, make_facility, staff_headers
from tests.pages.conftest import DESK, PASSWORD, TV, Opener, monitor_token, screenshot, staff_user


def row(page: Page, list_id: str, number: int) -> Locator:
    return page.locator(f'#{list_id} li[data-number="{number}"]')


async def press_n(console: Page) -> None:
    """N once the button is ready again (each action has a short cooldown after its answer)."""
    await expect(console.locator("#call-next")).to_be_enabled()
    await console.locator("body").press("n")


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
        await expect(patient.locator("#ticket-number")).to_have_text("1")  # then it subscribes
        await expect(patient.locator("#net")).to_have_attribute("data-online", "true")
        await expect(patient.locator("#called")).to_be_hidden()
        tv = await tv_ctx.new_page()
        await tv.goto(f"{hub.base_url}/monitor/{facility}#token={monitor_token(facility)}")
        number = tv.locator(f'article[data-info="{info}"] .mon-now-number')
        await expect(number).to_have_text("—")

        await console.fill("#room", "3")
        await console.click("#call-next")
        await expect(patient.locator("#called")).to_be_visible(timeout=1000)
        await expect(number).to_have_text("1", timeout=1000)
        await expect(row(console, "calling", 1)).to_contain_text("3番")

        patient2 = await ctx.new_page()
        await patient2.goto(f"{hub.base_url}{second['url']}#token={second['token']}")
        await expect(patient2.locator("#ticket-number")).to_have_text("2")
        await expect(patient2.locator("#net")).to_have_attribute("data-online", "true")
        await expect(patient2.locator("#called")).to_be_hidden()
        await press_n(console)
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

    await press_n(a)
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
    await press_n(a)
    await expect(row(b, "calling", 1)).to_be_visible()
    await press_n(a)
    await expect(a.locator("#error")).to_contain_text("お待ちの方はいません。 (queue_empty)")
    assert (await client.get(f"/v1/queues/{info}")).json()["waiting_count"] == 0


async def test_double_click_and_repeated_key_call_one_patient(
    client: httpx.AsyncClient, consoles: Opener
) -> None:
    facility = await make_facility(client, ("01",))
    info = f"{facility}-01"
    for _ in range(6):  # two spare: a second call by mistake would show as a higher number
        await take(client, info)
    console = await consoles(facility, await staff_user(client, facility))
    button = console.locator("#call-next")

    async def called() -> list[int]:  # the numbers ever called (a call moves the last on)
        r = await client.get(f"/v1/queues/{info}/staff", headers=staff_headers(facility))
        return sorted(t["number"] for t in r.json()["tickets"] if t["status"] != "waiting")

    # a human double-click: two raw clicks 150 ms apart (no waiting for the button)
    box = await button.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    await console.mouse.click(x, y)
    await console.wait_for_timeout(150)
    await console.mouse.click(x, y)
    await expect(row(console, "calling", 1)).to_be_visible()
    await expect(button).to_be_enabled()  # the cooldown is over; a deliberate N calls #2
    await console.locator("body").press("n")
    await expect(row(console, "calling", 2)).to_be_visible()
    await expect(button).to_be_enabled()
    assert await called() == [1, 2]  # had the double-click called twice, N would have got 3

    # a held N: one keydown, then auto-repeats (event.repeat) for longer than the cooldown
    await console.keyboard.down("n")
    for _ in range(15):
        await console.wait_for_timeout(100)
        await console.keyboard.down("n")  # Playwright sends these with repeat: true
    await console.keyboard.up("n")
    await expect(row(console, "calling", 3)).to_be_visible()
    await expect(button).to_be_enabled()
    await console.locator("body").press("n")  # the next deliberate press: number 4
    await expect(row(console, "calling", 4)).to_be_visible()
    await expect(button).to_be_enabled()
    assert await called() == [1, 2, 3, 4]
    staff = (await client.get(f"/v1/queues/{info}/staff", headers=staff_headers(facility))).json()
    assert staff["waiting_count"] == 2


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
    await expect(code).to_have_text(re.compile(r"^[0-9]{4} [0-9]{4}$"))  # read out in halves
    digits = (await code.text_content() or "").replace(" ", "")
    claimed = await client.post(
        f"/v1/facilities/{facility}/monitor-pairings/{digits}/claim",
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
        for _ in range(5):  # after the 3rd failure from here the next try must wait (429)
            await page.click("#login-form button")  # waits for the last answer (enabled)
            if "秒待って" in (await page.locator("#login-error").text_content() or ""):
                break
        await expect(page.locator("#login-error")).to_contain_text("秒待ってから")
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


async def test_offline_at_start_retries_then_runs(
    hub: HubProcess, client: httpx.AsyncClient, browser: Browser
) -> None:
    """The facility record cannot be fetched at first (network down): the console says it
    is reconnecting, retries with backoff and then runs; no uncaught rejection."""
    facility = await make_facility(client, ("01",))
    await take(client, f"{facility}-01")
    user = await staff_user(client, facility)
    ctx = await browser.new_context(
        locale="ja-JP", viewport=DESK, extra_http_headers={"X-Forwarded-For": "198.18.0.10"}
    )
    errors: list[str] = []
    failed: list[str] = []
    try:
        page = await ctx.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))

        async def flaky(route: Route) -> None:
            if len(failed) < 2:
                failed.append(route.request.url)
                await route.abort("internetdisconnected")
            else:
                await route.continue_()

        await page.route(f"**/v1/facilities/{facility}", flaky)
        await page.goto(f"{hub.base_url}/console/{facility}")
        await page.fill("#login-form [name=user]", user)
        await page.fill("#login-form [name=password]", PASSWORD)
        await page.click("#login-form button")
        await expect(page.locator("#net")).to_contain_text("再接続中")
        await expect(page.locator("#waiting-count")).to_have_text("1", timeout=10_000)
        await expect(page.locator("#net")).to_have_text("リアルタイム更新中")
        assert len(failed) == 2
    finally:
        await ctx.close()
    assert errors == []


async def test_a_revoked_login_returns_to_the_login_form(
    client: httpx.AsyncClient, consoles: Opener
) -> None:
    """The operator revokes the user's tokens: the live connection closes (4401
    token_revoked) and the console goes back to the login form at once."""
    facility = await make_facility(client, ("01",))
    user = await staff_user(client, facility)
    console = await consoles(facility, user)
    r = await client.post(f"/v1/admin/users/{user}/revoke", headers=OPERATOR)
    assert r.status_code == 200, r.text
    await expect(console.locator("#login")).to_be_visible(timeout=10_000)
    await expect(console.locator("#login-error")).to_contain_text("もう一度ログイン")
    assert await console.evaluate("sessionStorage.getItem('junban.console.token')") is None


async def test_a_desk_ticket_can_be_printed(client: httpx.AsyncClient, consoles: Opener) -> None:
    """After issuing a desk ticket, 「印刷」 opens its paper ticket (the ticket's own token in
    the fragment, the chosen paper, autoprint) and the token leaves the address bar."""
    facility = await make_facility(client, ("01",))
    info = f"{facility}-01"
    console = await consoles(facility, await staff_user(client, facility))
    await expect(console.locator("#print-issued")).to_be_hidden()
    await console.fill("#issue-form [name=name]", "窓口 太郎")
    await console.click("#issue")
    await expect(console.locator("#issued")).to_contain_text("1番を発券しました（窓口）")
    link = console.locator("#print-issued")
    await expect(link).to_be_visible()
    await console.select_option("#paper", "58")
    href = await link.get_attribute("href")
    assert href is not None
    assert re.search(rf"/print/{info}/[A-Za-z0-9_-]+#token=[^&]+&paper=58&autoprint=1$", href)
    async with console.context.expect_page() as opened:
        await link.click()
    paper = await opened.value
    await expect(paper.locator("body")).to_have_attribute("data-ready", "true")
    await expect(paper.locator("#number")).to_have_text("1")
    await expect(paper.locator("html")).to_have_attribute("data-paper", "58")
    assert "token" not in paper.url


async def test_focus_stays_on_a_row_button_across_live_updates(
    client: httpx.AsyncClient, consoles: Opener
) -> None:
    """Live updates patch the lists: the focused row button keeps its focus, and an
    unchanged row is not rebuilt."""
    facility = await make_facility(client, ("01",))
    info = f"{facility}-01"
    await take(client, info)
    await take(client, info)
    console = await consoles(facility, await staff_user(client, facility))
    button = row(console, "waiting", 2).get_by_role("button", name="2番を取り消す")
    await button.focus()
    await console.evaluate(
        """() => document.querySelector('#waiting li[data-number="1"]').dataset.mark = "kept" """
    )
    await take(client, info)  # a live update: a new row at the end
    await expect(row(console, "waiting", 3)).to_be_visible()
    await expect(button).to_be_focused()
    await expect(row(console, "waiting", 1)).to_have_attribute("data-mark", "kept")
    await console.locator(f'[data-info="{info}"]').focus()
    await take(client, info)
    await expect(console.locator(f'[data-info="{info}"]')).to_be_focused()  # tabs too
