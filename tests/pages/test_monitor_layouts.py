"""The monitor for ordinary clinics: a layout for 1 to 12 counters, readable, with the longest
numbers and names; per-counter and per-room screens; the next numbers; unambiguous earlier
calls; Japanese, English or both, on screen and in the voice. Real hub, real Chromium."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from tests.conftest import OPERATOR, HubProcess, new_facility_number, staff_headers
from tests.pages.conftest import SPEECH_RECORDER, TV, monitor_token, screenshot

pytestmark = pytest.mark.timeout(600)

LAYOUTS = (1, 2, 3, 4, 5, 6, 8, 12)
CLINIC = "医療法人社団さくら会 さくら内科・小児科・リハビリテーションクリニック"
# 12 full-width characters: the longest counter name a clinic would give
LABELS = [f"リハビリテーション外来{c}" for c in "ＡＢＣＤＥＦＧＨＩＪＫＬ"]
PLAIN = 1000
"""Plain tickets before the 4-digit ones: the priority tickets issued after them get
1001… and are served first."""


async def post(client: httpx.AsyncClient, facility: str, path: str, **body: object) -> Any:
    r = await client.post(path, json=body or None, headers=staff_headers(facility))
    assert r.status_code in (200, 201), r.text
    return r.json()


async def create_facility(client: httpx.AsyncClient, counters: int, **settings: object) -> str:
    """A facility with `counters` counters named LABELS, open, with `settings` applied through
    the clinic's settings route (lang, rooms)."""
    number = new_facility_number()
    body = {
        "number": number,
        "name": CLINIC,
        "address": "1-1 Test-cho",
        "hours": "9-18",
        "counters": {f"{i + 1:02d}": LABELS[i] for i in range(counters)},
    }
    r = await client.post("/v1/admin/facilities", json=body, headers=OPERATOR)
    assert r.status_code == 201, r.text
    for i in range(counters):
        for action in ("open", "web/open"):
            await post(client, number, f"/v1/queues/{number}-{i + 1:02d}/{action}")
    if settings:
        r = await client.patch(
            f"/v1/facilities/{number}/settings", json=settings, headers=staff_headers(number)
        )
        assert r.status_code == 200, r.text
    return number


async def issue(
    client: httpx.AsyncClient, facility: str, info: str, n: int, **body: object
) -> None:
    """`n` desk tickets, up to 16 requests in flight."""
    gate = asyncio.Semaphore(16)

    async def one() -> None:
        async with gate:
            await post(client, facility, f"/v1/queues/{info}/tickets", channel="desk", **body)

    await asyncio.gather(*(one() for _ in range(n)))


async def call_rooms(client: httpx.AsyncClient, facility: str, info: str, rooms: str) -> None:
    for room in rooms.split():
        await post(client, facility, f"/v1/queues/{info}/call-next", room=room)


@pytest.fixture(scope="module")
async def worst(hub: HubProcess) -> str:
    """A 12-counter facility whose every counter shows 4-digit numbers: 1000 plain tickets at
    counter 01, then 87 priority ones (1001–1087, served first); 1011–1087 are transferred,
    seven to each other counter (they keep their numbers, 4 digits, and carry `from`), and
    each counter calls four into rooms 9–12. So every card shows a 4-digit call with
    「12番診察室へ」 and a 12-character 「…から」 tag, three 4-digit earlier calls and 4-digit
    next numbers. ~1200 requests: 4-digit numbers need 1000 tickets per queue, and the
    transfers share one queue's thousand with the other eleven."""
    async with httpx.AsyncClient(base_url=hub.base_url, timeout=60) as client:
        facility = await create_facility(client, 12)
        first = f"{facility}-01"
        await issue(client, facility, first, PLAIN)
        await issue(client, facility, first, 87, priority=True)
        r = await client.get(f"/v1/queues/{first}/staff", headers=staff_headers(facility))
        ids = {t["number"]: t["id"] for t in r.json()["tickets"]}
        for k in range(2, 13):
            for number in range(1011 + (k - 2) * 7, 1011 + (k - 1) * 7):
                path = f"/v1/queues/{first}/tickets/{ids[number]}/transfer"
                await post(client, facility, path, to=f"{k:02d}")
        for k in range(1, 13):
            await call_rooms(client, facility, f"{facility}-{k:02d}", "9 10 11 12")
    return facility


@pytest.fixture(scope="module")
async def plain(hub: HubProcess) -> dict[int, str]:
    """One facility per layout (1–12 counters, the longest names), a few calls each."""
    made: dict[int, str] = {}
    async with httpx.AsyncClient(base_url=hub.base_url, timeout=60) as client:
        for n in LAYOUTS:
            facility = await create_facility(client, n)
            for k in range(1, n + 1):
                await issue(client, facility, f"{facility}-{k:02d}", 3)
                await call_rooms(client, facility, f"{facility}-{k:02d}", "1 2")
            made[n] = facility
    return made


@pytest.fixture
async def screen(browser: Browser) -> AsyncIterator[Page]:
    ctx = await browser.new_context(locale="ja-JP", viewport=TV)
    await ctx.add_init_script(SPEECH_RECORDER)
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    await ctx.close()
    assert not errors, f"uncaught errors in the page: {errors}"


# Every text on the board: its glyphs' box (a Range over its contents) must lie inside the
# inner box of its slot (so inside the card, and never on a slot's separator line), no two
# may intersect, and no slot or text may scroll (scrollWidth > clientWidth: clipped).
LAYOUT_PROBLEMS = """
() => {
  const problems = [];
  const boxes = [];
  const texts = [...document.querySelectorAll(
    ".mon-counter .mon-text, #clinic-name, .mon-tools > :not([hidden])")];
  for (const e of texts) {
    if (!e.getClientRects().length) continue;
    const range = document.createRange();
    range.selectNodeContents(e);
    const b = range.getBoundingClientRect();
    if (b.width === 0 || b.height === 0) continue;
    const where = e.closest(".mon-counter")?.dataset.info || "header";
    const name = `${where} ${e.className} "${e.textContent}"`;
    const box = e.closest(".mon-slot") || e.closest(".mon-header");
    const r = box.getBoundingClientRect();
    const inner = { left: r.left + box.clientLeft, top: r.top + box.clientTop };
    inner.right = inner.left + box.clientWidth;
    inner.bottom = inner.top + box.clientHeight;
    if (b.left < inner.left - 0.5 || b.right > inner.right + 0.5 || b.top < inner.top - 0.5 ||
        b.bottom > inner.bottom + 0.5) {
      problems.push(`outside its box: ${name} ${JSON.stringify(b)} in ${JSON.stringify(inner)}`);
    }
    if (b.right > innerWidth || b.bottom > innerHeight) problems.push(`off screen: ${name}`);
    if (e.scrollWidth > e.clientWidth + 0.5 && getComputedStyle(e).display !== "inline") {
      problems.push(`clipped: ${name} ${e.scrollWidth} > ${e.clientWidth}`);
    }
    boxes.push({ name, b, e });
  }
  for (const slot of document.querySelectorAll(".mon-slot, #clinic-name")) {
    if (slot.scrollWidth > slot.clientWidth || slot.scrollHeight > slot.clientHeight) {
      const where = slot.closest(".mon-counter")?.dataset.info;
      problems.push(`overflowing: ${slot.className} of ${where}`);
    }
  }
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i].b, c = boxes[j].b;
      if (boxes[i].e.contains(boxes[j].e) || boxes[j].e.contains(boxes[i].e)) continue;
      const w = Math.min(a.right, c.right) - Math.max(a.left, c.left);
      const h = Math.min(a.bottom, c.bottom) - Math.max(a.top, c.top);
      if (w > 0.5 && h > 0.5) problems.push(`overlap: ${boxes[i].name} / ${boxes[j].name}`);
    }
  }
  return problems;
}
"""

# The least font sizes (px at 1920×1080) by layout, up to n counters, with the longest
# content: about 10 % under what the layout gives (a guard against shrinking). A 70 px font
# has digits about 3 cm high on a 50-inch screen; 12 counters on one screen is the limit.
READABLE = {
    2: {"number": 150, "label": 42, "room": 45, "earlier": 25, "next": 36},
    4: {"number": 95, "label": 36, "room": 28, "earlier": 25, "next": 25},
    8: {"number": 92, "label": 30, "room": 27, "earlier": 19, "next": 21},
    12: {"number": 64, "label": 25, "room": 19, "earlier": 22, "next": 21},
}

FONT_SIZES = """
(selector) => [...document.querySelectorAll(selector)].filter((e) => e.getClientRects().length)
  .map((e) => parseFloat(getComputedStyle(e).fontSize))
"""


def card(page: Page, info: str):  # type: ignore[no-untyped-def]
    return page.locator(f'article.mon-counter[data-info="{info}"]')


async def open_monitor(page: Page, hub: HubProcess, facility: str, query: str = "") -> None:
    await page.goto(f"{hub.base_url}/monitor/{facility}{query}#token={monitor_token(facility)}")
    await expect(page.locator("#clinic-name")).not_to_have_text("\u00a0")


async def card_boxes(page: Page) -> list[list[int]]:
    boxes: list[list[int]] = await page.locator("article.mon-counter").evaluate_all(
        "cards => cards.map((c) => { const r = c.getBoundingClientRect();"
        " return [r.left, r.top, r.width, r.height].map(Math.round); })"
    )
    return boxes


async def layout_problems(page: Page) -> list[str]:
    await page.evaluate("document.fonts.ready")
    problems: list[str] = await page.evaluate(LAYOUT_PROBLEMS)
    return problems


@pytest.mark.parametrize("lang", ["ja", "en", "ja+en"])
@pytest.mark.parametrize("n", LAYOUTS)
async def test_every_layout_fits_the_longest_numbers_and_names(
    hub: HubProcess, worst: str, plain: dict[int, str], screen: Page, n: int, lang: str
) -> None:
    """At 1920×1080 a facility with n counters gets the layout for n; with the longest
    content in every card (4-digit call, room and 「…から」 tag, three 4-digit earlier calls,
    4-digit next numbers, 12-character names; shown by choosing n counters of a facility
    whose every counter has it) no text overlaps another, none is clipped, none is on a
    separator line, and the numbers stay large enough to read from 5 m."""
    query = f"lang={lang.replace('+', '%2B')}"
    await open_monitor(screen, hub, plain[n], f"?{query}")
    await expect(screen.locator("article.mon-counter")).to_have_count(n)
    await expect(screen.locator(".mon-now-number").nth(n - 1)).to_have_text("2")
    assert await layout_problems(screen) == []
    facility_layout = await card_boxes(screen)

    chosen = ",".join(f"{k:02d}" for k in range(1, n + 1))
    await open_monitor(screen, hub, worst, f"?counter={chosen}&{query}")
    await expect(screen.locator("article.mon-counter")).to_have_count(n)
    assert await card_boxes(screen) == facility_layout  # the same layout as n counters
    for k in range(1, n + 1):
        c = card(screen, f"{worst}-{k:02d}")
        await expect(c.locator(".mon-now-number")).to_have_text(
            str(1000 + 7 * k if k > 1 else 1004)
        )
    c = card(screen, f"{worst}-{n:02d}")
    room = {"ja": "12番診察室へ", "en": "Room 12", "ja+en": "12番診察室へRoom 12"}[lang]
    await expect(c.locator(".mon-now-room")).to_have_text(room)
    if n > 1:
        tag = {"en": f"from {LABELS[0]}"}.get(lang, f"{LABELS[0]}から")
        await expect(c.locator(".mon-from")).to_have_text(tag)
    await expect(c.locator(".mon-chip-num").first).to_have_text(re.compile(r"^(No\. )?1\d{3}番?$"))
    await expect(c.locator(".mon-next-item").first).to_have_text(re.compile(r"^1\d{3}$"))
    await expect(screen.locator("html")).to_have_attribute("lang", lang[:2])
    problems = await layout_problems(screen)
    await screenshot(screen, f"monitor-{n}-counters-{lang.replace('+', '-')}")
    assert problems == []
    sizes = {
        what: await screen.evaluate(FONT_SIZES, selector)
        for what, selector in {
            "number": ".mon-now-number",
            "label": ".mon-counter-label",
            "room": ".mon-now-room",
            "earlier": ".mon-chip-num",
            "next": ".mon-next-item",
        }.items()
    }
    assert len(sizes["number"]) == n
    least = READABLE[min(k for k in READABLE if k >= n)]
    assert all(min(sizes[what]) >= px for what, px in least.items()), (least, sizes)


async def test_a_screen_per_counter_and_per_room(
    hub: HubProcess, client: httpx.AsyncClient, screen: Page
) -> None:
    """?counter=02&room=2 shows that counter alone, full width, and only that room's calls
    (and announces only those); ?counter=01,03 two counters laid out as for 2 counters."""
    facility = await create_facility(client, 3)
    info = f"{facility}-02"
    await issue(client, facility, info, 6)
    await open_monitor(screen, hub, facility, "?counter=02&room=2")
    await expect(screen.locator("article.mon-counter")).to_have_count(1)
    await expect(card(screen, info)).to_be_visible()
    assert await screen.locator("#board").get_attribute("data-programme") == "strip"
    await expect(screen.locator("#programme")).to_be_hidden()
    await post(client, facility, f"/v1/queues/{info}/call-next", room="2")
    await post(client, facility, f"/v1/queues/{info}/call-next", room="1")
    await post(client, facility, f"/v1/queues/{info}/call-next", room="2")
    await post(client, facility, f"/v1/queues/{info}/call-next", room="1")
    await expect(card(screen, info).locator(".mon-now-number")).to_have_text("3")
    await expect(card(screen, info).locator(".mon-now-room")).to_have_text("2番診察室へ")
    # a room serves one patient at a time: a room's screen has no earlier calls to show
    await expect(card(screen, info).locator(".mon-recent")).to_be_hidden()
    await expect(screen.locator("#announcements p")).to_have_text(
        ["1番の方、2番診察室へお入りください", "3番の方、2番診察室へお入りください"]
    )
    await expect(card(screen, info).locator(".mon-next-item")).to_have_text(["5", "6"])
    width = await card(screen, info).evaluate("e => e.getBoundingClientRect().width")
    assert width > 1700  # the whole screen's width
    assert await screen.evaluate(LAYOUT_PROBLEMS) == []
    await screenshot(screen, "monitor-counter-room")

    await open_monitor(screen, hub, facility, "?counter=01,03")
    await expect(screen.locator("article.mon-counter")).to_have_count(2)
    boxes = await screen.locator("article.mon-counter").evaluate_all(
        "cards => cards.map((c) => [c.dataset.info, c.getBoundingClientRect().left,"
        " c.getBoundingClientRect().top])"
    )
    assert [b[0] for b in boxes] == [f"{facility}-01", f"{facility}-03"]
    assert boxes[0][1] == boxes[1][1] and boxes[0][2] < boxes[1][2]  # one above the other
    await expect(screen.locator("#programme")).to_be_visible()  # as for 2 counters

    await open_monitor(screen, hub, facility)  # no parameter: the whole facility
    await expect(screen.locator("article.mon-counter")).to_have_count(3)
    await expect(screen.locator("#programme")).to_be_visible()


async def test_next_numbers_follow_the_line(
    hub: HubProcess, client: httpx.AsyncClient, screen: Page
) -> None:
    facility = await create_facility(client, 1)
    info = f"{facility}-01"
    await open_monitor(screen, hub, facility)
    await expect(card(screen, info).locator(".mon-next-caption")).to_have_text("次の番号")
    await expect(card(screen, info).locator(".mon-next-none")).to_have_text("なし")
    await issue(client, facility, info, 9)
    await expect(card(screen, info).locator(".mon-next-item")).to_have_text(["1", "2", "3", "4"])
    await post(client, facility, f"/v1/queues/{info}/call-next", room="1")
    await expect(card(screen, info).locator(".mon-next-item")).to_have_text(["2", "3", "4", "5"])
    await expect(card(screen, info).locator(".mon-waiting")).to_have_text("お待ち 8 人")
    # the sound hint appearing in the header leaves less room: the long name is fitted again
    assert await layout_problems(screen) == []
    await screen.evaluate("document.getElementById('sound-hint').hidden = false")
    await expect(screen.locator("#sound-hint")).to_be_visible()
    await screen.wait_for_timeout(300)
    assert await layout_problems(screen) == []


async def test_earlier_calls_are_separate_chips(
    hub: HubProcess, client: httpx.AsyncClient, screen: Page
) -> None:
    """Number 2 in room 5 and number 100 in room 1 never read as 「25番」 or 「1001番」: each
    earlier call is its own bordered chip, its number and its room apart, an arrow (an SVG,
    not a glyph a font may lack) between them."""
    facility = await create_facility(client, 1)
    info = f"{facility}-01"
    await issue(client, facility, info, 100)
    staff = (await client.get(f"/v1/queues/{info}/staff", headers=staff_headers(facility))).json()
    ids = {t["number"]: t["id"] for t in staff["tickets"]}
    await open_monitor(screen, hub, facility)
    for number, room in ((2, "5"), (100, "1"), (1, "3")):
        await post(client, facility, f"/v1/queues/{info}/tickets/{ids[number]}/call", room=room)
    chips = card(screen, info).locator(".mon-recent-item")
    await expect(card(screen, info).locator(".mon-now-number")).to_have_text("1")
    await expect(chips.locator(".mon-chip-num")).to_have_text(["100番", "2番"])
    await expect(chips.locator(".mon-chip-room")).to_have_text(["1診", "5診"])
    await expect(chips.nth(0)).to_have_attribute("aria-label", "100番 1番診察室")
    await expect(chips.locator("svg.mon-chip-arrow")).to_have_count(2)
    gaps = await chips.evaluate_all(
        """chips => chips.map((c) => {
          const num = c.querySelector(".mon-chip-num").getBoundingClientRect();
          const room = c.querySelector(".mon-chip-room").getBoundingClientRect();
          const style = getComputedStyle(c);
          const next = c.nextElementSibling?.getBoundingClientRect();
          return { inside: room.left - num.right,
            next: next ? next.left - c.getBoundingClientRect().right : null,
            border: parseFloat(style.borderLeftWidth) };
        })"""
    )
    assert all(g["inside"] >= 8 and g["border"] >= 1 for g in gaps), gaps
    assert gaps[0]["next"] >= 10, gaps
    # no emoji or dingbat anywhere on the page (they show as tofu without an emoji font)
    text = await screen.evaluate("document.body.innerText")
    assert not [c for c in text if 0x2600 <= ord(c) <= 0x27BF or ord(c) >= 0x1F000], text
    assert await screen.locator("#sound-hint svg").count() == 1
    await screenshot(screen, "monitor-earlier-calls")


async def test_english_and_both_languages_on_screen_and_in_the_voice(
    hub: HubProcess, client: httpx.AsyncClient, screen: Page
) -> None:
    """The facility's `lang` picks the screen's language: "en" shows and says English;
    "ja+en" (changed while the screen runs) shows both and says the Japanese then the English
    sentence; ?lang= overrides it; room labels come from the facility's rooms."""
    rooms = {"01": {"1": "診察室A", "2": "処置室"}}
    facility = await create_facility(client, 2, lang="en", rooms=rooms)
    info = f"{facility}-01"
    await issue(client, facility, info, 3)
    await open_monitor(screen, hub, facility)
    await expect(card(screen, info).locator(".mon-now-caption")).to_have_text("Now calling")
    await expect(screen.locator("html")).to_have_attribute("lang", "en")
    await expect(card(screen, f"{facility}-02").locator(".mon-now-number")).to_have_text("—")
    await screen.click("#speech-toggle")
    await expect(screen.locator("#speech-toggle")).to_contain_text("Voice on")
    await post(client, facility, f"/v1/queues/{info}/call-next", room="2")
    await expect(card(screen, info).locator(".mon-now-room")).to_have_text("処置室")
    await expect(screen.locator("#announcements p")).to_have_text(
        ["Number 1, please go to 処置室."]
    )
    await post(client, facility, f"/v1/queues/{info}/call-next", room="3")
    await expect(card(screen, info).locator(".mon-now-room")).to_have_text("Room 3")
    await expect(card(screen, info).locator(".mon-waiting")).to_have_text("Waiting 1")
    await screen.wait_for_function("() => window.__spoken.length >= 2", timeout=15000)
    spoken = await screen.evaluate("window.__spoken")
    assert spoken == [
        {"text": "Number 1, please go to 処置室.", "lang": "en-US"},
        {"text": "Number 2, please go to Room 3.", "lang": "en-US"},
    ]

    r = await client.patch(
        f"/v1/facilities/{facility}/settings",
        json={"lang": "ja+en"},
        headers=staff_headers(facility),
    )
    assert r.status_code == 200, r.text  # live: the views' new `profile` tells the screen
    await expect(card(screen, info).locator(".mon-now-caption")).to_have_text(
        "お呼び出し中Now calling"
    )
    await expect(screen.locator("html")).to_have_attribute("lang", "ja")
    await post(client, facility, f"/v1/queues/{info}/call-next", room="1")
    await expect(card(screen, info).locator(".mon-now-room")).to_have_text("診察室Aへ診察室A")
    await expect(screen.locator("#announcements p")).to_have_text(
        [
            "Number 1, please go to 処置室.",
            "Number 2, please go to Room 3.",
            "3番の方、診察室Aへお入りください",
            "Number 3, please go to 診察室A.",
        ]
    )
    await screen.wait_for_function("() => window.__spoken.length >= 4", timeout=15000)
    spoken = await screen.evaluate("window.__spoken")
    assert spoken[2:] == [
        {"text": "3番の方、診察室Aへお入りください", "lang": "ja-JP"},
        {"text": "Number 3, please go to 診察室A.", "lang": "en-US"},
    ]
    assert await screen.evaluate(LAYOUT_PROBLEMS) == []
    await screenshot(screen, "monitor-ja-en")

    await open_monitor(screen, hub, facility, "?lang=ja")
    await expect(card(screen, info).locator(".mon-now-caption")).to_have_text("お呼び出し中")
    await expect(card(screen, info).locator(".mon-now-room")).to_have_text("診察室Aへ")
