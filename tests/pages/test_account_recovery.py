"""Account recovery in real headless Chromium against a real hub: a staff user throttled in the
console is unlocked by the clinic admin on the staff page; a forgotten password is reset
there, and the user logs in with the one-time password, is made to set a new one, then uses
the console. Non-admin staff see that the staff page is for clinic admins only."""

from __future__ import annotations

import asyncio
import itertools
import random
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.conftest import OPERATOR, HubProcess, make_facility
from tests.pages.conftest import DESK, PASSWORD, screenshot

_addresses = itertools.count(random.randint(1, 150) * 250)


def new_address() -> str:
    n = next(_addresses)
    return f"10.77.{n // 250 % 250}.{n % 250 + 1}"


async def new_user(client: httpx.AsyncClient, facility: str, *, admin: bool = False) -> str:
    name = f"{'admin' if admin else 'nurse'}-{secrets.token_hex(4)}"
    body = {"user": name, "password": PASSWORD, "facility": facility, "admin": admin}
    r = await client.post("/v1/admin/users", json=body, headers=OPERATOR)
    assert r.status_code == 201, r.text
    return name


Browse = Callable[[str], Awaitable[Page]]


@pytest.fixture
async def browse(browser: Browser) -> AsyncIterator[Browse]:
    """Opens a page in its own browser (own session storage) from its own client address
    (``X-Forwarded-For``, trusted from 127.0.0.1); fails on uncaught page errors."""
    contexts: list[BrowserContext] = []
    errors: list[str] = []

    async def open_page(address: str) -> Page:
        ctx = await browser.new_context(
            locale="ja-JP", viewport=DESK, extra_http_headers={"X-Forwarded-For": address}
        )
        await ctx.grant_permissions(["clipboard-read", "clipboard-write"])
        contexts.append(ctx)
        page = await ctx.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        return page

    yield open_page
    for ctx in contexts:
        await ctx.close()
    assert not errors, f"uncaught errors in the page: {errors}"


async def log_in(page: Page, user: str, password: str) -> None:
    await page.fill("#login-form [name=user]", user)
    await page.fill("#login-form [name=password]", password)
    await page.click("#login-form button")


async def admin_page(hub: HubProcess, browse: Browse, facility: str, admin: str) -> Page:
    page = await browse(new_address())
    await page.goto(f"{hub.base_url}/console/{facility}/staff")
    await expect(page.locator("#login")).to_be_visible()
    await log_in(page, admin, PASSWORD)
    await expect(page.locator("#app")).to_be_visible()
    return page


async def test_a_throttled_user_is_unlocked_by_the_clinic_admin_and_logs_in(
    hub: HubProcess, client: httpx.AsyncClient, browse: Browse
) -> None:
    facility = await make_facility(client, ("01",))
    admin = await new_user(client, facility, admin=True)
    nurse = await new_user(client, facility)
    address = new_address()
    console = await browse(address)
    await console.goto(f"{hub.base_url}/console/{facility}")
    for _ in range(3):
        await log_in(console, nurse, "wrong password")
        await expect(console.locator("#login-error")).to_contain_text("パスワードが違います")
    await expect(console.locator("#login-help")).to_contain_text("クリニックの管理者")
    # more failures from the same address: the waits grow (1, 2, 4, 8 s) to a real lock
    wrong = {"user": nurse, "password": "wrong password"}
    for wait in (1.1, 2.1, 4.1):
        await asyncio.sleep(wait)
        r = await client.post("/v1/auth/login", json=wrong, headers={"X-Forwarded-For": address})
        assert r.status_code == 401, r.text
    await log_in(console, nurse, PASSWORD)  # the right password, but locked for 8 s
    await expect(console.locator("#login-error")).to_contain_text("秒待って")
    await expect(console.locator("#login-help")).to_contain_text("クリニックの管理者")
    await expect(console.locator("#app")).to_be_hidden()

    staff = await admin_page(hub, browse, facility, admin)
    row = staff.locator(f'#users tr[data-user="{nurse}"]')
    await expect(row.locator(".st-state")).to_contain_text("ロック中")
    await screenshot(staff, "staff-page-locked-user")
    await row.locator('[data-action="unlock"]').click()
    await expect(staff.locator("#error")).to_contain_text("ロックを解除しました")
    await expect(row.locator(".st-state")).to_contain_text("利用可")

    await log_in(console, nurse, PASSWORD)  # at once, well inside the 8 s wait
    await expect(console.locator("#app")).to_be_visible()
    await expect(console.locator("#call-next")).to_be_visible()


async def test_a_forgotten_password_is_reset_and_replaced_at_the_next_login(
    hub: HubProcess, client: httpx.AsyncClient, browse: Browse
) -> None:
    facility = await make_facility(client, ("01",))
    admin = await new_user(client, facility, admin=True)
    nurse = await new_user(client, facility)

    staff = await admin_page(hub, browse, facility, admin)
    row = staff.locator(f'#users tr[data-user="{nurse}"]')
    await row.locator('[data-action="reset"]').click()
    await expect(staff.locator("#secret")).to_be_visible()
    await expect(staff.locator("#secret-for")).to_contain_text(nurse)
    temporary = (await staff.locator("#secret-value").text_content() or "").strip()
    assert len(temporary) >= 12
    await staff.click("#secret-copy")
    await expect(staff.locator("#secret-copied")).to_have_text("コピーしました")
    assert await staff.evaluate("navigator.clipboard.readText()") == temporary
    await expect(row.locator(".st-state")).to_contain_text("仮パスワード")
    await screenshot(staff, "staff-page-temporary-password")
    await staff.click("#secret-done")
    await expect(staff.locator("#secret")).to_be_hidden()
    assert await staff.locator("#secret-value").text_content() == ""  # shown once only

    console = await browse(new_address())
    await console.goto(f"{hub.base_url}/console/{facility}")
    await log_in(console, nurse, PASSWORD)  # the forgotten (old) password no longer works
    await expect(console.locator("#login-error")).to_contain_text("パスワードが違います")
    await log_in(console, nurse, temporary)
    await expect(console.locator("#pw-form")).to_be_visible()
    await expect(console.locator("#app")).to_be_hidden()
    await console.fill("#pw-new", "my own new secret")
    await console.fill("#pw-again", "my own new secret!")
    await console.click("#pw-form button")
    await expect(console.locator("#pw-error")).to_contain_text("一致しません")
    await screenshot(console, "console-set-new-password")
    await console.fill("#pw-again", "my own new secret")
    await console.click("#pw-form button")
    await expect(console.locator("#app")).to_be_visible()
    await console.click("#call-next")  # the console works: nobody waits
    await expect(console.locator("#error")).to_be_visible()

    relogin = await client.post("/v1/auth/login", json={"user": nurse, "password": temporary})
    assert relogin.status_code == 401  # the one-time password is spent
    fresh = await client.post(
        "/v1/auth/login", json={"user": nurse, "password": "my own new secret"}
    )
    assert fresh.status_code == 200 and fresh.json()["must_change_password"] is False


async def test_non_admin_staff_are_told_the_page_is_for_clinic_admins(
    hub: HubProcess, client: httpx.AsyncClient, browse: Browse
) -> None:
    facility = await make_facility(client, ("01",))
    nurse = await new_user(client, facility)
    page = await browse(new_address())
    await page.goto(f"{hub.base_url}/console/{facility}")
    await log_in(page, nurse, PASSWORD)
    await expect(page.locator("#app")).to_be_visible()
    await page.goto(f"{hub.base_url}/console/{facility}/staff?lang=en")  # the console's login
    await expect(page.locator("#denied")).to_be_visible()
    await expect(page.locator("#denied")).to_contain_text("Only clinic admins")
    await expect(page.locator("#app")).to_be_hidden()
    await screenshot(page, "staff-page-not-admin-en")
    await page.click("#lang")
    await expect(page.locator("#denied")).to_contain_text("クリニック管理者のみ")
