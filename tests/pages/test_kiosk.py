"""The reception kiosk /kiosk/{facility} and the entrance poster /poster/{facility} in real
headless Chromium against a real hub: pairing from a console code, a tap that takes a
ticket, the printed paper ticket with the ticket's short QR link, and the poster's QR codes."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, expect

from hub.qr import qr_svg
from tests.conftest import TOKENS, HubProcess, make_facility, staff_headers
from tests.pages.conftest import Opener, screenshot, staff_user

PORTRAIT: ViewportSize = {"width": 1080, "height": 1920}
LANDSCAPE: ViewportSize = {"width": 1920, "height": 1080}
MM = 96 / 25.4
"""CSS pixels per millimetre."""

# window.print() opens a dialog a headless test cannot answer: record each call instead, with
# what the paper ticket holds at that moment.
PRINT_RECORDER = """
window.__printed = [];
window.print = () => {
  const slip = document.getElementById("slip");
  window.__printed.push({
    number: document.getElementById("slip-number")?.textContent,
    text: slip ? slip.textContent : "",
    qr: slip?.querySelector("svg path")?.getAttribute("d") || "",
  });
};
"""


def modules(svg: str) -> str:
    """The QR code's modules as segno draws them (the one path of its SVG)."""
    found = re.search(r'<path[^>]* d="([^"]+)"', svg)
    assert found, svg[:200]
    return found.group(1)


async def drawn(page: Page, selector: str) -> str:
    """The modules of the QR code drawn in ``selector`` (an inline <svg>)."""
    d: str = await page.locator(f"{selector} svg path").get_attribute("d") or ""
    return d


@pytest.fixture
async def kiosk_context(browser: Browser) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context(locale="ja-JP", viewport=PORTRAIT)
    await ctx.add_init_script(PRINT_RECORDER)
    yield ctx
    await ctx.close()


async def kiosk_code(client: httpx.AsyncClient, facility: str) -> str:
    r = await client.post(
        f"/v1/facilities/{facility}/kiosk-pairings", headers=staff_headers(facility)
    )
    assert r.status_code == 201, r.text
    code: str = r.json()["code"]
    return code


async def test_the_kiosk_pairs_issues_prints_and_returns_to_the_start(
    hub: HubProcess, client: httpx.AsyncClient, kiosk_context: BrowserContext
) -> None:
    facility = await make_facility(client, ("01", "02"))
    closed = await client.post(f"/v1/queues/{facility}-02/close", headers=staff_headers(facility))
    assert closed.status_code == 200
    for _ in range(2):  # two people already waiting at counter 01
        await client.post(f"/v1/queues/{facility}-01/tickets", json={"channel": "desk"},
                          headers=staff_headers(facility))  # fmt: skip
    page = await kiosk_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(f"{hub.base_url}/kiosk/{facility}?return=3")
    await expect(page.locator("#pairing")).to_be_visible()
    await page.fill("#pairing-code", "1234")
    await page.click("#pairing-form button")
    await expect(page.locator("#pairing-error")).to_have_text("8 桁の数字を入力してください。")
    code = await kiosk_code(client, facility)
    await page.fill("#pairing-code", f"{code[:4]} {code[4:]}")
    await page.click("#pairing-form button")
    await expect(page.locator("#start")).to_be_visible()
    await expect(page.locator("#clinic-name")).to_have_text(f"Clinic {facility}")
    stored = await page.evaluate(f"localStorage.getItem('junban.kiosk.token.{facility}')")
    assert (TOKENS.verify(stored).role, TOKENS.verify(stored).facility) == ("kiosk", facility)

    open_counter = page.locator('.ks-counter[data-counter="01"]')
    closed_counter = page.locator('.ks-counter[data-counter="02"]')
    await expect(open_counter).to_be_enabled()
    await expect(open_counter).to_contain_text("counter 01")
    await expect(open_counter).to_contain_text("待ち 2人")
    await expect(closed_counter).to_be_disabled()
    await expect(closed_counter).to_contain_text("受付時間外です")
    for target in (open_counter, closed_counter, page.locator("#lang")):
        box = await target.bounding_box()
        assert box and box["width"] >= 15 * MM and box["height"] >= 15 * MM, box
    await screenshot(page, "kiosk-portrait-start")

    await open_counter.click()
    await expect(page.locator("#issued")).to_be_visible()
    await expect(page.locator("#issued-number")).to_have_text("3")
    await expect(page.locator("#issued-ahead")).to_have_text("あなたの前に 2人 お待ちです")
    await expect(page.locator("#issued-qr")).to_be_visible()
    await screenshot(page, "kiosk-portrait-issued")

    printed = await page.evaluate("window.__printed")
    assert len(printed) == 1 and printed[0]["number"] == "3"
    assert f"Clinic {facility}" in printed[0]["text"] and "counter 01" in printed[0]["text"]
    short_url = await page.locator("#slip-qr").get_attribute("data-url")
    assert short_url and re.fullmatch(rf"{re.escape(hub.base_url)}/t/{facility}/[0-9a-z]{{10}}",
                                      short_url), short_url  # fmt: skip
    # the printed QR code is the short link's (segno draws a text the same way every time)
    assert printed[0]["qr"] == modules(qr_svg(short_url))
    assert await drawn(page, "#slip-qr") == await drawn(page, "#issued-qr") == printed[0]["qr"]
    assert short_url.removeprefix("http://") in printed[0]["text"]

    # on paper only the ticket shows: number, counter, time, the QR code and its help
    await page.emulate_media(media="print")
    await expect(page.locator("#slip")).to_be_visible()
    await expect(page.locator("#issued")).to_be_hidden()
    await expect(page.locator("#slip-number")).to_have_text("3")
    await expect(page.locator("#slip-time")).to_contain_text("発券")
    qr_box = await page.locator("#slip-qr").bounding_box()
    slip_box = await page.locator("#slip").bounding_box()
    assert qr_box and slip_box and qr_box["width"] >= 35 * MM
    assert slip_box["width"] <= 80 * MM + 1
    await screenshot(page, "kiosk-print-80mm")
    pdf = await page.pdf(width="80mm", height="150mm", print_background=True)
    assert pdf.startswith(b"%PDF")
    await page.emulate_media(media="screen")

    await expect(page.locator("#start")).to_be_visible(timeout=6000)  # back by itself

    staff = (await client.get(f"/v1/queues/{facility}-01/staff",
                              headers=staff_headers(facility))).json()  # fmt: skip
    issued = next(t for t in staff["tickets"] if t["number"] == 3)
    assert issued["channel"] == "kiosk"

    # the short link opens the patient's live page of that ticket
    phone = await page.context.browser.new_context(  # type: ignore[union-attr]
        locale="ja-JP", viewport={"width": 390, "height": 844}
    )
    try:
        scanned = await phone.new_page()
        await scanned.goto(short_url)
        await expect(scanned.locator("#ticket-number")).to_have_text("3")
        assert scanned.url == f"{hub.base_url}/q/{facility}-01/t/{issued['id']}"  # token: gone
    finally:
        await phone.close()

    await page.reload()  # still paired after a restart of the page
    await expect(page.locator("#start")).to_be_visible()
    await expect(page.locator("#pairing")).to_be_hidden()
    assert errors == []


async def test_the_kiosk_in_english_landscape_and_a_closed_clinic(
    hub: HubProcess, client: httpx.AsyncClient, kiosk_context: BrowserContext
) -> None:
    facility = await make_facility(client, ("01", "02", "03"))
    code = await kiosk_code(client, facility)
    page = await kiosk_context.new_page()
    await page.set_viewport_size(LANDSCAPE)
    await page.goto(f"{hub.base_url}/kiosk/{facility}?lang=en")
    await expect(page.locator("#pairing-title")).to_have_text("Pair this kiosk")
    await page.fill("#pairing-code", code)
    await page.click("#pairing-form button")
    await expect(page.locator("#start-title")).to_have_text("Please take a number")
    await expect(page.locator(".ks-counter")).to_have_count(3)
    await expect(page.locator('.ks-counter[data-counter="02"]')).to_contain_text("0 waiting")
    boxes = [await b.bounding_box() for b in await page.locator(".ks-counter").all()]
    assert all(b is not None for b in boxes)
    assert len({round(b["y"]) for b in boxes if b}) == 1  # one row in landscape
    await screenshot(page, "kiosk-landscape-en")
    await page.click("#lang")
    await expect(page.locator("#start-title")).to_have_text("番号札をお取りください")
    await page.click("#lang")

    for counter in ("01", "02", "03"):  # the clinic closes: every button says why
        r = await client.post(f"/v1/queues/{facility}-{counter}/close",
                              headers=staff_headers(facility))  # fmt: skip
        assert r.status_code == 200
    await expect(page.locator(".ks-counter:disabled")).to_have_count(3)
    await expect(page.locator('.ks-counter[data-counter="01"]')).to_contain_text(
        "Reception is closed"
    )
    await expect(page.locator("#notice")).to_be_visible()
    await client.post(f"/v1/queues/{facility}-01/open", headers=staff_headers(facility))
    await expect(page.locator('.ks-counter[data-counter="01"]')).to_be_enabled()
    await page.locator('.ks-counter[data-counter="01"]').click()
    await expect(page.locator("#issued-number")).to_have_text("1")
    await expect(page.locator("#issued-ahead")).to_have_text("You will be called shortly")
    await page.click("#done")
    await expect(page.locator("#start")).to_be_visible()
    await expect(page.locator("#start-title")).to_have_text("Please take a number")


async def test_an_expired_pairing_asks_for_a_new_code(
    hub: HubProcess, client: httpx.AsyncClient, kiosk_context: BrowserContext
) -> None:
    facility = await make_facility(client, ("01",))
    old = TOKENS.issue("kiosk", subject="k", facility=facility, ttl_s=60, now=time.time() - 120)
    page = await kiosk_context.new_page()
    await page.goto(f"{hub.base_url}/kiosk/{facility}")
    await page.evaluate(f"localStorage.setItem('junban.kiosk.token.{facility}', '{old}')")
    await page.reload()
    await expect(page.locator("#pairing")).to_be_visible()
    await expect(page.locator("#pairing-error")).to_contain_text("有効期限が切れました")
    assert await page.evaluate(f"localStorage.getItem('junban.kiosk.token.{facility}')") is None
    await page.fill("#pairing-code", await kiosk_code(client, facility))
    await page.click("#pairing-form button")
    await expect(page.locator('.ks-counter[data-counter="01"]')).to_be_enabled()


async def test_the_console_pairs_a_kiosk(
    hub: HubProcess, client: httpx.AsyncClient, consoles: Opener, kiosk_context: BrowserContext
) -> None:
    facility = await make_facility(client, ("01",))
    console = await consoles(facility, await staff_user(client, facility))
    await expect(console.locator("#pair-kiosk")).to_have_text("発券機を接続")
    await console.click("#pair-kiosk")
    shown = console.locator("#kiosk-pairing-code")
    await expect(shown).to_have_text(re.compile(r"^\d{4} \d{4}$"))
    code = (await shown.text_content() or "").replace(" ", "")
    kiosk = await kiosk_context.new_page()
    await kiosk.goto(f"{hub.base_url}/kiosk/{facility}")
    await kiosk.fill("#pairing-code", code)
    await kiosk.click("#pairing-form button")
    await expect(kiosk.locator('.ks-counter[data-counter="01"]')).to_be_enabled()
    await console.click("#kiosk-pairing-close")


async def test_the_poster_has_one_big_qr_code_per_counter(
    hub: HubProcess, client: httpx.AsyncClient, browser: Browser
) -> None:
    facility = await make_facility(client, ("01", "02", "03"))
    ctx = await browser.new_context(locale="ja-JP", viewport={"width": 1000, "height": 1400})
    try:
        page = await ctx.new_page()
        await page.goto(f"{hub.base_url}/poster/{facility}")
        await expect(page.locator("body")).to_have_attribute("data-ready", "true")
        await expect(page.locator("#clinic")).to_have_text(f"Clinic {facility}")
        cards = page.locator(".po-counter")
        await expect(cards).to_have_count(3)
        for counter in ("01", "02", "03"):
            info = f"{facility}-{counter}"
            qr = f'.po-counter[data-info="{info}"] .po-qr'
            url = await page.locator(qr).get_attribute("data-url")
            assert url == f"{hub.base_url}/q/{info}"
            assert await drawn(page, qr) == modules(qr_svg(url, error="q"))
        await page.emulate_media(media="print")
        for box in [await i.bounding_box() for i in await page.locator(".po-qr").all()]:
            assert box and box["width"] >= 45 * MM, box
        await screenshot(page, "poster-a4")
        pdf = await page.pdf(format="A4", prefer_css_page_size=True)
        assert pdf.startswith(b"%PDF")
    finally:
        await ctx.close()
