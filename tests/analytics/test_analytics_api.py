"""Daily summaries on a real Redis and through a real hub: days played through the queue
service (with past times) are summarised once, from the stream, and served by the API."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from datetime import date as Date
from datetime import timedelta

import httpx
import msgspec
import pytest
from redis.asyncio import Redis

from hub import keys
from hub.analytics.demo import play_day
from hub.analytics.store import SummaryStore, decode_summary
from hub.analytics.summary import midnight_of
from hub.app import connect_redis
from hub.queue import calendar
from hub.queue.facilities import Facility, FacilityStore
from hub.queue.model import IssueTicket, QueueConfig
from hub.queue.service import QueueService
from hub.queue.store import QueueStore
from tests.conftest import OPERATOR, new_facility_number, staff_headers, start_hub

TZ = "Asia/Tokyo"


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = connect_redis(redis_url)
    yield client
    await client.aclose()


def today() -> str:
    return calendar.business_day(time.time(), TZ)


def days_ago(n: int) -> str:
    return (Date.fromisoformat(today()) - timedelta(days=n)).isoformat()


async def clinic_with_history(redis: Redis, days: int, tickets: int = 30) -> tuple[str, str]:
    """A facility with two counters; counter 01 played ``days`` past days (09:00 on) and
    one ticket today, so every past day has ended. (facility, info of counter 01)."""
    service = QueueService(
        QueueStore(redis, stream_maxlen=100_000, idempotency_ttl_s=60), FacilityStore(redis)
    )
    number = new_facility_number()
    facility = Facility(number=number, name="Stats", counters={"01": "", "02": ""})
    await service.create_facility(facility, QueueConfig(tz=TZ), time.time() - (days + 1) * 86400)
    info = f"{number}-01"
    rng = random.Random(number)
    for n in range(days, 0, -1):
        await play_day(service, info, midnight_of(days_ago(n), TZ) + 9 * 3600, tickets, rng)
    await service.execute(info, IssueTicket(at=time.time(), ticket_id="now"), lambda s: None)
    return number, info


async def test_each_ended_day_is_summarised_once_from_the_stream(redis: Redis) -> None:
    _, info = await clinic_with_history(redis, days=3)
    store = SummaryStore(redis)
    first, second = await asyncio.gather(store.catch_up(info), store.catch_up(info))
    stored = await redis.hgetall(keys.summaries(info))
    assert sorted(k.decode() for k in stored) == [days_ago(3), days_ago(2), days_ago(1)]
    assert {s.date for s in first.stored} | {s.date for s in second.stored} == {
        days_ago(n) for n in (1, 2, 3)
    }
    for summary in [*first.stored, *second.stored]:  # racing processes computed the same
        assert stored[summary.date.encode()] == msgspec.msgpack.encode(summary)
    for data in stored.values():
        day = decode_summary(data)
        assert day.issued_total == 30 and not day.incomplete
        assert day.issued_total == (
            day.completed + day.walkouts + day.cancelled_after_call + day.no_shows + day.unfinished
        )
        assert day.wait.n > 0 and day.wait.p50 is not None and day.wait.p90 is not None
        assert len(data) <= 4096
    running = first.running or second.running
    assert running is not None and running.date == today() and running.issued_total == 1
    again = await store.catch_up(info)  # nothing new: nothing stored
    assert again.stored == [] and again.running is not None


async def test_a_day_with_entries_lost_is_marked_incomplete(redis: Redis) -> None:
    _, info = await clinic_with_history(redis, days=2)
    entries = await redis.xrange(keys.log(info))
    lost = [f[b"v"] for _, f in entries if f[b"t"] == b"ticket_called"][3]  # one batch
    await redis.xdel(keys.log(info), *[i for i, f in entries if f[b"v"] == lost])
    caught = await SummaryStore(redis).catch_up(info)
    incomplete = {s.date: s.incomplete for s in caught.stored}
    assert list(incomplete.values()).count(True) == 1 and len(incomplete) == 2


async def test_the_api_serves_days_totals_and_csv(redis: Redis, client: httpx.AsyncClient) -> None:
    number, info = await clinic_with_history(redis, days=3)
    url = f"/v1/facilities/{number}/analytics"
    r = await client.get(url, params={"from": days_ago(6)}, headers=staff_headers(number))
    assert r.status_code == 200, r.text
    body = r.json()
    assert [d["date"] for d in body["days"]] == [days_ago(n) for n in range(6, -1, -1)]
    assert [d["issued"] for d in body["days"]] == [0, 0, 0, 30, 30, 30, 1]
    assert body["days"][-1]["today"] is True and body["counters"] == ["01", "02"]
    assert body["totals"]["issued"] == 91 and len(body["heatmap"]) == 7
    assert sum(map(sum, body["heatmap"])) == 91 and len(body["by_hour"]) == 24
    stored = decode_summary(await redis.hget(keys.summaries(info), days_ago(1)))  # type: ignore[arg-type]
    yesterday = body["days"][-2]
    assert yesterday["wait"]["p90"] == stored.wait.p90 and yesterday["first_call"] is not None
    rooms = yesterday["service"]["rooms"]
    assert rooms and sum(r["n"] for r in rooms.values()) == yesterday["service"]["n"]
    only_02 = await client.get(url, params={"counter": "02"}, headers=staff_headers(number))
    assert only_02.json()["totals"]["issued"] == 0
    csv = await client.get(
        url, params={"format": "csv", "from": days_ago(3)}, headers=staff_headers(number)
    )
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    lines = csv.content.decode("utf-8").splitlines()
    assert lines[0].startswith("\ufeff日付,窓口,受付数") and len(lines) == 1 + 4 * 2
    hours = await client.get(
        url, params={"format": "csv", "grain": "hour"}, headers=staff_headers(number)
    )
    assert hours.text.startswith("\ufeff日付,窓口,時,") and hours.text.count("\r\n") > 10
    admin = await client.get("/v1/admin/analytics", params={"from": days_ago(3)}, headers=OPERATOR)
    mine = [f for f in admin.json()["facilities"] if f["facility"] == number]
    assert mine and mine[0]["issued"] == 90  # the days stored: today so far is not in it


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ({"from": "2026-13-01"}, 400, "invalid_query"),
        ({"from": "2026-12-07", "to": "2026-12-01"}, 400, "invalid_query"),
        ({"from": "2025-01-01", "to": "2026-12-01"}, 400, "invalid_query"),
        ({"counter": "1"}, 400, "invalid_query"),
        ({"counter": "07"}, 404, "unknown_queue"),
        ({"format": "xml"}, 400, "invalid_query"),
        ({"to": "0001-01-05"}, 400, "invalid_query"),
        ({"format": "csv", "grain": "minute"}, 400, "invalid_query"),
    ],
)
async def test_bad_queries_get_a_clear_error(
    client: httpx.AsyncClient, facility: str, query: dict[str, str], status: int, code: str
) -> None:
    r = await client.get(
        f"/v1/facilities/{facility}/analytics", params=query, headers=staff_headers(facility)
    )
    assert r.status_code == status and r.json()["error"]["code"] == code


async def test_only_the_facilitys_staff_see_its_numbers(
    client: httpx.AsyncClient, facility: str
) -> None:
    url = f"/v1/facilities/{facility}/analytics"
    assert (await client.get(url)).status_code == 401
    assert (await client.get(url, headers=staff_headers("1"))).status_code == 403
    assert (
        await client.get("/v1/admin/analytics", headers=staff_headers(facility))
    ).status_code == 403
    assert (await client.get(url, headers=OPERATOR)).status_code == 200


async def test_a_hub_summarises_the_day_that_ended_by_itself(redis_url: str, redis: Redis) -> None:
    hub = start_hub(redis_url, JUNBAN_ANALYTICS_KEEP="0.5")
    try:
        _, info = await clinic_with_history(redis, days=1)  # yesterday, then a ticket today
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if await redis.hexists(keys.summaries(info), days_ago(1)):
                break
            await asyncio.sleep(0.1)
        assert await redis.hexists(keys.summaries(info), days_ago(1)), hub.log.read_text()[-2000:]
        assert await SummaryStore(redis).cursor_day(info) == today()
    finally:
        hub.stop()


async def test_a_stream_trimmed_at_its_head_is_summarised_from_the_first_day_left(
    redis: Redis,
) -> None:
    _, info = await clinic_with_history(redis, days=3)
    entries = await redis.xrange(keys.log(info))
    starts = [n for n, (_, f) in enumerate(entries) if f[b"t"] == b"day_started"]
    keep = len(entries) - (starts[1] + 5)  # day 1 and the start of day 2 are gone
    await redis.xtrim(keys.log(info), maxlen=keep, approximate=False)
    caught = await SummaryStore(redis).catch_up(info)
    assert [s.date for s in caught.stored] == [days_ago(1)]
    assert caught.stored[0].issued_total == 30 and not caught.stored[0].incomplete
    assert caught.running is not None and caught.running.issued_total == 1


async def test_entries_trimmed_past_the_cursor_make_that_day_incomplete(redis: Redis) -> None:
    service = QueueService(
        QueueStore(redis, stream_maxlen=100_000, idempotency_ttl_s=60), FacilityStore(redis)
    )
    number = new_facility_number()
    facility = Facility(number=number, name="Trim", counters={"01": ""})
    await service.create_facility(facility, QueueConfig(tz=TZ), time.time() - 4 * 86400)
    info, rng = f"{number}-01", random.Random(1)
    await play_day(service, info, midnight_of(days_ago(3), TZ) + 9 * 3600, 20, rng)
    await play_day(service, info, midnight_of(days_ago(2), TZ) + 9 * 3600, 20, rng)
    store = SummaryStore(redis)
    assert [s.date for s in (await store.catch_up(info)).stored] == [days_ago(3)]
    await play_day(service, info, midnight_of(days_ago(1), TZ) + 9 * 3600, 20, rng)
    await service.execute(info, IssueTicket(at=time.time(), ticket_id="now"), lambda s: None)
    entries = await redis.xrange(keys.log(info))
    starts = [n for n, (_, f) in enumerate(entries) if f[b"t"] == b"day_started"]
    keep = len(entries) - (starts[-3] + 10)  # day 2 lost its start and some more
    await redis.xtrim(keys.log(info), maxlen=keep, approximate=False)
    caught = await store.catch_up(info)
    assert [(s.date, s.incomplete) for s in caught.stored] == [
        (days_ago(2), True),
        (days_ago(1), False),
    ]
    assert caught.stored[0].issued_total == 0 and caught.stored[1].issued_total == 20
