"""Real headless Chromium (Debian's package, driven by Playwright) against a real hub."""

from __future__ import annotations

import itertools
import os
import random
import re
import secrets
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from tests.conftest import OPERATOR, TOKENS, HubProcess

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def chromium_path() -> str:
    found = os.environ.get("JUNBAN_CHROMIUM") or next(
        (p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if shutil.which(p)), None
    )
    if not found:
        pytest.fail("no Chromium: scripts/test installs Debian's 'chromium' package")
    return found


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=chromium_path(),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--autoplay-policy=no-user-gesture-required",
            ],
        )
        yield browser
        await browser.close()


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context(locale="ja-JP", viewport={"width": 390, "height": 844})
    yield ctx
    await ctx.close()


@pytest.fixture
async def page(context: BrowserContext) -> AsyncIterator[Page]:
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    assert not errors, f"uncaught errors in the page: {errors}"


async def screenshot(page: Page, name: str) -> Path:
    """Save a screenshot under test-artifacts/screenshots/ (git-ignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


# ---- shared by the monitor, console and notice tests ----------------------------------------

TV = {"width": 1920, "height": 1080}

# Records what the page asks the speech engine to say (the engine itself stays real).
SPEECH_RECORDER = """
window.__spoken = []; window.__cancelled = 0;
if (window.speechSynthesis) {
  const speak = speechSynthesis.speak.bind(speechSynthesis);
  speechSynthesis.speak = (u) => { window.__spoken.push({text: u.text, lang: u.lang}); speak(u); };
  const cancel = speechSynthesis.cancel.bind(speechSynthesis);
  speechSynthesis.cancel = () => { window.__cancelled += 1; cancel(); };
}
"""


@pytest.fixture
async def tv(browser: Browser) -> AsyncIterator[Page]:
    """A 1920×1080 page with the speech recorder; fails the test on uncaught page errors."""
    ctx = await browser.new_context(locale="ja-JP", viewport=TV)
    await ctx.add_init_script(SPEECH_RECORDER)
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    await ctx.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def monitor_token(facility: str) -> str:
    return TOKENS.issue("monitor", subject="test-tv", facility=facility)


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
