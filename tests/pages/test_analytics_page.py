"""The analytics page /console/{facility}/analytics in real headless Chromium against a real
hub, over 90 days of made-up daily summaries of two counters
(``hub.analytics.demo.seed_history``) and one real ticket today: one bar per day with the
seeded visits, the hour profile, a 7 × 24 weekday × hour heatmap, the wait and accuracy lines
and the drop-off bars (each an SVG with its title, description and a hidden data table); the
cards for today, yesterday and the last 7 days show the seeded figures (the week's 90th
percentile from the hub's 7-day totals); a counter can be chosen; the day CSV (BOM, Japanese
header) downloads with the login; the console links here; and the page speaks English with
?lang=en."""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import msgspec
import pytest
from playwright.async_api import Browser, BrowserContext, Locator, Page, expect
from redis.asyncio import Redis

from hub.analytics.demo import seed_history, synthetic_day
from hub.analytics.store import SummaryStore
from hub.analytics.summary import DaySummary
from tests.conftest import HubProcess, make_facility, staff_headers
from tests.pages.conftest import DESK, PASSWORD, screenshot, staff_user

TZ = "Asia/Tokyo"
COUNTERS = ("01", "02")
DAYS = 90
_addresses = itertools.count(1)


@dataclass
class Seeded:
    facility: str
    today: date
    made: dict[str, list[DaySummary]]  # counter -> its summaries (no Sundays: closed)
    ticket_hour: int  # the local hour of today's one ticket (counter 01)

    def on(self, day: date, counter: str | None = None) -> list[DaySummary]:
        counters = [counter] if counter else list(self.made)
        return [s for c in counters for s in self.made[c] if s.date == day.isoformat()]

    def span(self, days: int) -> list[date]:
        """The dates of the last ``days`` days to today, oldest first."""
        return [self.today - timedelta(days=n) for n in range(days - 1, -1, -1)]


@pytest.fixture
async def seeded(client: httpx.AsyncClient, redis_url: str) -> Seeded:
    """A facility with two counters and 90 days of history before today (yesterday open
    even when it was a Sunday, so its card has figures), plus one ticket taken today at
    counter 01."""
    facility = await make_facility(client, COUNTERS)
    today = datetime.now(ZoneInfo(TZ)).date()
    yesterday = today - timedelta(days=1)
    redis = Redis.from_url(redis_url)
    made: dict[str, list[DaySummary]] = {c: [] for c in COUNTERS}
    try:
        if yesterday.weekday() == 6:  # the made-up clinic closes on Sundays: not this one
            for c in COUNTERS:
                friday = synthetic_day(f"{facility}-{c}", str(yesterday - timedelta(days=2)), TZ)
                assert friday is not None
                sunday = msgspec.structs.replace(friday, date=yesterday.isoformat())
                assert await SummaryStore(redis).put(sunday)
                made[c].append(sunday)
        for c in COUNTERS:
            made[c] += await seed_history(redis, f"{facility}-{c}", DAYS, today.isoformat(), TZ)
    finally:
        await redis.aclose()
    assert all(len(m) >= DAYS * 6 // 7 - 1 for m in made.values()), "seed_history made too few"
    assert all(any(s.date == str(yesterday) and s.issued_total for s in m) for m in made.values())
    ticket = await client.post(f"/v1/queues/{facility}-01/tickets")
    assert ticket.status_code == 201, ticket.text
    assert ticket.json()["ticket"]["channel"] == "web", ticket.text
    return Seeded(facility, today, made, datetime.now(ZoneInfo(TZ)).hour)


@pytest.fixture
async def desk(browser: Browser) -> AsyncIterator[BrowserContext]:
    n = next(_addresses)
    ctx = await browser.new_context(
        locale="ja-JP",
        viewport=DESK,
        accept_downloads=True,
        extra_http_headers={"X-Forwarded-For": f"172.28.{n // 250 % 250}.{n % 250 + 1}"},
    )
    yield ctx
    await ctx.close()


def issued(summaries: Sequence[DaySummary]) -> int:
    return sum(s.issued_total for s in summaries)


def mean(summaries: Sequence[DaySummary], kind: str) -> float | None:
    """The mean wait or service time over the summaries (as the hub rounds it)."""
    n = sum(getattr(s, kind).n for s in summaries)
    total = round(sum(getattr(s, kind).total for s in summaries), 1)
    return round(total / n, 1) if n else None


def minutes(value: float | None) -> str:
    """The page's text for minutes (ja-JP, at most one decimal)."""
    return "–" if value is None else f"{value:,.1f}".removesuffix(".0") + " 分"


async def values(locator: Locator, attribute: str = "data-value") -> list[str]:
    return list(await locator.evaluate_all(f"els => els.map(e => e.getAttribute('{attribute}'))"))


async def open_page(
    ctx: BrowserContext, base_url: str, facility: str, user: str, errors: list[str]
) -> Page:
    """The analytics page, logged in through its own form; its uncaught errors in ``errors``."""
    page = await ctx.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(f"{base_url}/console/{facility}/analytics")
    await page.fill("#login-form [name=user]", user)
    await page.fill("#login-form [name=password]", PASSWORD)
    await page.click("#login-form button")
    await expect(page.locator("#app")).to_be_visible()
    return page


async def check_card(card: Locator, summaries: Sequence[DaySummary], extra_issued: int = 0) -> None:
    """A card's visits, mean wait, mean service, no-show rate and web share are those of
    ``summaries`` (plus ``extra_issued`` tickets of today, none of them served yet)."""
    total = issued(summaries) + extra_issued
    await expect(card.locator('[data-metric="issued"] dd')).to_have_text(f"{total:,} 人")
    wait, service = mean(summaries, "wait"), mean(summaries, "service")
    await expect(card.locator('[data-metric="wait_mean"] dd')).to_have_text(minutes(wait))
    await expect(card.locator('[data-metric="service_mean"] dd')).to_have_text(minutes(service))
    no_shows = sum(s.no_shows for s in summaries)
    rate = await card.locator('[data-metric="no_show_rate"]').get_attribute("data-value")
    web = sum(s.issued.get("web", 0) for s in summaries) + extra_issued
    share = await card.locator('[data-metric="web_share"]').get_attribute("data-value")
    if total:
        assert float(rate or "nan") == pytest.approx(no_shows / total)
        assert float(share or "nan") == pytest.approx(web / total, abs=0.0005)
    else:
        assert rate == "" and share == ""


async def test_the_analytics_page_over_90_seeded_days(
    hub: HubProcess, client: httpx.AsyncClient, seeded: Seeded, desk: BrowserContext
) -> None:
    facility, today = seeded.facility, seeded.today
    yesterday = today - timedelta(days=1)
    user = await staff_user(client, facility)
    errors: list[str] = []
    page = await open_page(desk, hub.base_url, facility, user, errors)

    # the last 30 days by default; the cards: today (the one live ticket), yesterday, 7 days
    await expect(page.locator("#chart-visits rect.ch-bar")).to_have_count(30)
    cards = page.locator("#cards")
    await expect(cards.locator("[data-period]")).to_have_count(3)
    await check_card(cards.locator('[data-period="today"]'), [], extra_issued=1)
    await check_card(cards.locator('[data-period="yesterday"]'), seeded.on(yesterday))
    week = [s for d in seeded.span(7) for s in seeded.on(d)]
    await check_card(cards.locator('[data-period="week"]'), week, extra_issued=1)
    # the week's 90th percentile: the hub's 7-day totals (merged histograms), not a mean of days
    seven = await client.get(
        f"/v1/facilities/{facility}/analytics",
        params={"from": (today - timedelta(days=6)).isoformat(), "to": today.isoformat()},
        headers=staff_headers(facility),
    )
    assert seven.status_code == 200, seven.text
    p90 = seven.json()["totals"]["wait"]["p90"]
    week_p90 = cards.locator('[data-period="week"] [data-metric="wait_p90"]')
    await expect(week_p90.locator("dd")).to_have_text(minutes(p90))

    # 90 days: one bar per day with its visits, 24 hours, 7 × 24 heatmap cells, the drop-off
    await page.select_option("#range", "90")
    bars = page.locator("#chart-visits rect.ch-bar")
    await expect(bars).to_have_count(DAYS)
    days = seeded.span(DAYS)
    expected = [issued(seeded.on(d)) + (1 if d == today else 0) for d in days]
    assert [int(v) for v in await values(bars)] == expected
    assert await values(bars, "data-label") == [f"{d.month}/{d.day}" for d in days]
    in_range = [s for d in days for s in seeded.on(d)]
    hours = page.locator("#chart-hours rect.ch-bar")
    await expect(hours).to_have_count(24)
    now_hour = seeded.ticket_hour
    by_hour = [sum(s.hour_issued[h] for s in in_range) for h in range(24)]
    got_hours = [int(v) for v in await values(hours)]
    assert sum(got_hours) == sum(by_hour) + 1
    assert [g - (h == now_hour) for h, g in enumerate(got_hours)] == by_hour
    cells = page.locator("#chart-heatmap rect.ch-cell")
    await expect(cells).to_have_count(7 * 24)
    grid = [[0] * 24 for _ in range(7)]
    for s in in_range:
        for h in range(24):
            grid[date.fromisoformat(s.date).weekday()][h] += s.hour_issued[h]
    grid[today.weekday()][now_hour] += 1
    assert [int(v) for v in await values(cells)] == [n for row in grid for n in row]
    drops = page.locator("#chart-dropoff rect.ch-bar")
    await expect(drops).to_have_count(3)
    walkouts = sum(s.walkouts for s in in_range)
    no_shows = sum(s.no_shows for s in in_range)
    after_call = sum(s.cancelled_after_call for s in in_range)
    assert [int(v) for v in await values(drops)] == [walkouts, no_shows, after_call]
    served = [d for d in days if any(s.wait.n for s in seeded.on(d))]
    waits = page.locator('#chart-wait [data-series="p90"] circle')
    await expect(waits).to_have_count(len(served))
    accurate = [d for d in days if any(s.acc_n for s in seeded.on(d))]
    accuracy = page.locator('#chart-accuracy [data-series="within"] circle')
    await expect(accuracy).to_have_count(len(accurate))
    ranged = [d for d in days if any(s.range_n for s in seeded.on(d))]
    range_dots = page.locator('#chart-accuracy [data-series="ranges"] circle')
    await expect(range_dots).to_have_count(len(ranged))
    last = seeded.on(ranged[-1])
    share = sum(s.range_in for s in last) / sum(s.range_n for s in last) * 100
    assert abs(float((await values(range_dots))[-1]) - share) < 0.05
    for chart, title in [
        ("visits", "日ごとの受付数"),
        ("hours", "時間帯ごとの受付数"),
        ("heatmap", "曜日 × 時間帯の受付数"),
        ("wait", "日ごとの待ち時間"),
        ("dropoff", "離脱の内訳"),
        ("accuracy", "表示した待ち時間の的中率"),
    ]:
        svg = page.locator(f"#chart-{chart} svg")
        await expect(svg).to_have_attribute("role", "img")
        await expect(svg.locator("title").first).to_have_text(title)
        assert (await svg.locator("desc").text_content() or "").strip()
    await expect(page.locator("#chart-visits table tbody tr")).to_have_count(DAYS)
    await expect(page.locator("#chart-heatmap table tbody tr")).to_have_count(7)
    box = await page.locator("#chart-visits .jb-visually-hidden").bounding_box()  # for AT
    assert box is not None and box["width"] <= 1 and box["height"] <= 1
    await screenshot(page, "analytics")

    # one counter: its own figures (a single day's percentile is exact)
    await expect(page.locator("#counter option")).to_have_count(3)
    await page.select_option("#counter", "02")
    mine = seeded.on(yesterday, "02")
    await check_card(cards.locator('[data-period="yesterday"]'), mine)
    (summary,) = mine
    card_p90 = cards.locator('[data-period="yesterday"] [data-metric="wait_p90"] dd')
    await expect(card_p90).to_have_text(minutes(summary.wait.p90))
    await check_card(cards.locator('[data-period="today"]'), [])
    await expect(bars).to_have_count(DAYS)
    assert [int(v) for v in await values(bars)] == [issued(seeded.on(d, "02")) for d in days]

    # the day CSV of that counter and period, through the login: BOM, Japanese header
    async with page.expect_download() as info:
        await page.click("#csv-day")
    download = await info.value
    assert download.suggested_filename == (
        f"analytics-{facility}-{days[0].isoformat()}-{today.isoformat()}-day.csv"
    )
    data = (await download.path()).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf"), data[:20]
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][:3] == ["日付", "窓口", "受付数"]
    assert [r[0] for r in rows[1:]] == [d.isoformat() for d in days]
    assert {r[1] for r in rows[1:]} == {"02"}
    assert [int(r[2]) for r in rows[1:]] == [issued(seeded.on(d, "02")) for d in days]
    async with page.expect_download() as info:
        await page.click("#csv-hour")
    hourly = await (await info.value).path()
    assert hourly.read_bytes().startswith(b"\xef\xbb\xbf\xe6\x97\xa5\xe4\xbb\x98")  # BOM 日付
    await expect(page.locator("#notice")).to_be_hidden()

    # the console links here
    console = await desk.new_page()
    await console.goto(f"{hub.base_url}/console/{facility}")
    link = console.locator("#analytics-link")
    await expect(link).to_have_text("分析")
    await expect(link).to_have_attribute("href", f"/console/{facility}/analytics")
    await console.close()

    # English (the login is kept for the tab)
    await page.goto(f"{hub.base_url}/console/{facility}/analytics?lang=en")
    await expect(page.locator("#heading")).to_have_text("Analytics")
    await expect(cards.locator('[data-period="yesterday"] h3')).to_contain_text("Yesterday")
    await expect(page.locator("#chart-heatmap svg title").first).to_have_text(
        "Visits by weekday and hour"
    )
    await expect(page.locator("#chart-visits rect.ch-bar")).to_have_count(30)
    assert not errors, errors
