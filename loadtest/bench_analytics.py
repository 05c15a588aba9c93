"""Benchmark of the analytics (issue 18, design clinic-operations.md § Bar).

    python -m loadtest.bench_analytics [--quick] [--big-day N] [--repeat R]

One hub (``junban serve --demo``) and its embedded Valkey:
- **summarise**: days played through the real queue service (``hub.analytics.demo.play_day``,
  with past times) of 500 and ``--big-day`` (default 10,000) tickets; each is then read from
  its stream and summarised (``SummaryStore.catch_up``: read, fold, one write), best of
  ``--repeat`` (the summary is deleted between runs). The fold alone (``summarise``) is timed
  on the decoded events. Bars: a 500-ticket day's fold ≤ 50 ms; ≤ 4 KB per queue-day.
- **api**: ``GET /v1/facilities/1234/analytics`` over the demo's 90 seeded days (two
  counters), and a year (365 days, two counters) as JSON and as CSV by day and by hour, each
  ``--repeat`` times over HTTP; p50 and max. Bars: 90 days ≤ 200 ms; a year's CSV ≤ 1 s.

Writes ``loadtest/results/analytics-<timestamp>.{json,md}``. See loadtest/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from datetime import date as Date
from datetime import datetime, timedelta
from typing import Any

import httpx
import msgspec

from hub import keys
from hub.analytics.demo import play_day, seed_history
from hub.analytics.service import AnalyticsService
from hub.analytics.store import SummaryStore
from hub.analytics.summary import DaySummary, midnight_of, summarise
from hub.app import connect_redis
from hub.auth import Tokens
from hub.queue import calendar
from hub.queue.estimate import COVERAGE
from hub.queue.facilities import Facility, FacilityStore
from hub.queue.model import IssueTicket, QueueConfig, StartDay
from hub.queue.service import QueueService
from hub.queue.store import QueueStore
from loadtest import cli, report
from loadtest.hubproc import HubProcess

TZ = "Asia/Tokyo"
Result = dict[str, Any]


def _log(text: str) -> None:
    print(f"[bench_analytics] {text}", flush=True)


async def summarise_days(hub: HubProcess, sizes: list[int], repeat: int) -> list[Result]:
    redis = connect_redis(hub.redis_url)
    service = QueueService(
        QueueStore(redis, stream_maxlen=1_000_000, idempotency_ttl_s=60), FacilityStore(redis)
    )
    store = SummaryStore(redis)
    rows = []
    try:
        for size in sizes:
            number = str(random.randint(10_000_000, 99_999_999))
            info = f"{number}-01"
            facility = Facility(number=number, name="Bench", counters={"01": ""})
            now = time.time()
            yesterday = calendar.business_day(now - 86400, TZ)
            await service.create_facility(facility, QueueConfig(tz=TZ), now - 2 * 86400)
            started = time.perf_counter()
            opens = midnight_of(yesterday, TZ) + 8 * 3600
            commands = await play_day(service, info, opens, size, random.Random(size))
            played = time.perf_counter() - started
            await service.execute(info, IssueTicket(at=now, ticket_id="today"), lambda s: None)
            _log(f"played a {size}-ticket day: {commands} commands in {played:.1f} s")
            catch_ups, folds = [], []
            for _ in range(repeat):
                await redis.delete(keys.summaries(info), keys.summary_cursor(info))
                t0 = time.perf_counter()
                caught = await store.catch_up(info)
                catch_ups.append(time.perf_counter() - t0)
            summary = caught.stored[0]
            cursor = await store.cursor(info)
            assert cursor is not None
            first = await store._first_cursor(info)  # the day's start state and events
            assert first is not None
            day, _ = await store._read_day(info, first)
            for _ in range(repeat):
                t0 = time.perf_counter()
                summarise(first.state, day.events)
                folds.append(time.perf_counter() - t0)
            rows.append(
                {
                    "tickets": size,
                    "issued": summary.issued_total,
                    "events": len(day.events),
                    "catch_up_ms_best": round(min(catch_ups) * 1000, 1),
                    "catch_up_ms_median": round(statistics.median(catch_ups) * 1000, 1),
                    "summarise_ms_best": round(min(folds) * 1000, 1),
                    "summarise_ms_median": round(statistics.median(folds) * 1000, 1),
                    "summary_bytes": len(msgspec.msgpack.encode(summary)),
                    "wait_p50": summary.wait.p50,
                    "wait_p90": summary.wait.p90,
                }
            )
            _log(str(rows[-1]))
    finally:
        await redis.aclose()
    return rows


async def range_coverage(hub: HubProcess, training: int, tickets: int, tests: int = 3) -> Result:
    """Coverage of the estimate ranges on simulated days: ``training`` days played and
    summarised, the ranges learnt from them (``AnalyticsService.calibrate``), then ``tests``
    more days played, each learning from the days before it as the keeper does; how often
    their real waits fell in the range each ticket was shown (and, for comparison, how
    often the training days' waits fell in the default ranges they were shown)."""
    redis = connect_redis(hub.redis_url)
    queues = QueueService(
        QueueStore(redis, stream_maxlen=1_000_000, idempotency_ttl_s=60), FacilityStore(redis)
    )
    analytics = AnalyticsService(redis, FacilityStore(redis), queues)
    number = str(random.randint(10_000_000, 99_999_999))
    info, now = f"{number}-01", time.time()
    days = training + tests
    try:
        facility = Facility(number=number, name="Ranges", counters={"01": ""})
        await queues.create_facility(facility, QueueConfig(tz=TZ), now - (days + 1) * 86400)
        rng = random.Random(number)
        learnt: list[DaySummary] = []
        tested: list[Result] = []
        for n in range(days, 0, -1):
            opens = midnight_of(calendar.business_day(now - n * 86400, TZ), TZ) + 8 * 3600
            await queues.execute(info, StartDay(at=opens - 3600), lambda s: None)
            stored = (await analytics.summaries.catch_up(info)).stored
            learnt += stored
            if n <= tests:
                tested += [_coverage(d) for d in stored if d.date > learnt[training - 1].date]
                factors = await analytics.calibrate(info, learnt[-1].date, at=opens - 1800)
                tested.append({"factors": factors})
            await play_day(queues, info, opens, tickets, rng)
        await queues.execute(info, IssueTicket(at=now, ticket_id="today"), lambda s: None)
        last = (await analytics.summaries.catch_up(info)).stored
        tested += [_coverage(d) for d in last]
        test_days = [t for t in tested if "date" in t]
        called = sum(t["called"] for t in test_days)
        default = learnt[:training]
        return {
            "training_days": training,
            "tickets_per_day": tickets,
            "tests": tested,
            "called": called,
            "coverage": round(sum(t["in_range"] for t in test_days) / max(called, 1), 3),
            "coverage_training_days_default_factors": round(
                sum(d.range_in for d in default) / max(sum(d.range_n for d in default), 1), 3
            ),
            "target": COVERAGE,
        }
    finally:
        await redis.aclose()


def _coverage(day: DaySummary) -> Result:
    return {
        "date": day.date,
        "called": day.range_n,
        "in_range": day.range_in,
        "coverage": round(day.range_in / max(day.range_n, 1), 3),
    }


async def time_api(hub: HubProcess, repeat: int) -> list[Result]:
    redis = connect_redis(hub.redis_url)
    tokens = Tokens(hub.secret)
    number = str(random.randint(10_000_000, 99_999_999))
    today = calendar.business_day(time.time(), TZ)
    try:
        service = QueueService(
            QueueStore(redis, stream_maxlen=100_000, idempotency_ttl_s=60), FacilityStore(redis)
        )
        facility = Facility(number=number, name="Year", counters={"01": "", "02": ""})
        await service.create_facility(facility, QueueConfig(tz=TZ), time.time())
        for counter in ("01", "02"):
            await seed_history(redis, f"{number}-{counter}", 365, today, TZ)
    finally:
        await redis.aclose()
    year_from = (Date.fromisoformat(today) - timedelta(days=364)).isoformat()
    demo_from = (Date.fromisoformat(today) - timedelta(days=89)).isoformat()
    cases = [
        ("90 days, JSON (demo 1234)", "1234", {"from": demo_from}),
        ("365 days, JSON", number, {"from": year_from}),
        ("365 days, CSV by day", number, {"from": year_from, "format": "csv"}),
        ("365 days, CSV by hour", number, {"from": year_from, "format": "csv", "grain": "hour"}),
    ]
    rows = []
    async with httpx.AsyncClient(base_url=f"http://{hub.host}:{hub.port}", timeout=30) as client:
        for name, facility_number, params in cases:
            token = tokens.issue("staff", subject="bench", facility=facility_number)
            headers = {"Authorization": f"Bearer {token}"}
            url = f"/v1/facilities/{facility_number}/analytics"
            times, size = [], 0
            for _ in range(repeat):
                t0 = time.perf_counter()
                r = await client.get(url, params=params, headers=headers)
                times.append(time.perf_counter() - t0)
                assert r.status_code == 200, r.text
                size = len(r.content)
            rows.append(
                {
                    "case": name,
                    "p50_ms": round(statistics.median(times) * 1000, 1),
                    "max_ms": round(max(times) * 1000, 1),
                    "bytes": size,
                }
            )
            _log(str(rows[-1]))
    return rows


async def main_async(args: argparse.Namespace) -> Result:
    hub = HubProcess()
    results: Result = {
        "started": datetime.now().astimezone().isoformat(timespec="seconds"),
        "params": vars(args),
        "machine": report.machine_info(),
    }
    try:
        await hub.start()
        results["software"] = await report.software_info(hub)
        results["api"] = await time_api(hub, args.repeat)
        results["ranges"] = await range_coverage(hub, args.training, args.range_tickets)
        _log(f"ranges: {results['ranges']}")
        results["days"] = await summarise_days(hub, [500, args.big_day], args.repeat)
    except (Exception, asyncio.CancelledError) as exc:
        results["error"] = f"{type(exc).__name__}: {exc}"
        _log(f"FAILED: {results['error']}\n{hub.log_tail()}")
    finally:
        if hub.proc is not None:
            cli.stop_hub(hub, results, False, _log)
        cli.write_results("analytics", results, render, _log)
    return results


def render(results: Result) -> str:
    m = results["machine"]
    out = [f"# Analytics benchmark — {results['started']}", "", f"Machine: {m}", ""]
    if "error" in results:
        out += [f"**Error:** {results['error']}", ""]
    out += ["## Summarising a day (read the stream, fold, store)", ""]
    out += [
        "| tickets | events | catch-up best / median ms | fold best / median ms | bytes |"
        " wait p50 / p90 min |",
        "|---|---|---|---|---|---|",
    ]
    for r in results.get("days", []):
        out.append(
            f"| {r['issued']} | {r['events']} | {r['catch_up_ms_best']} / "
            f"{r['catch_up_ms_median']} | {r['summarise_ms_best']} / "
            f"{r['summarise_ms_median']} | {r['summary_bytes']} | {r['wait_p50']} / "
            f"{r['wait_p90']} |"
        )
    out += ["", "Bars: a 500-ticket day's fold ≤ 50 ms; ≤ 4 KB per queue-day.", ""]
    out += ["## The analytics API over HTTP", "", "| case | p50 ms | max ms | bytes |"]
    out.append("|---|---|---|---|")
    for r in results.get("api", []):
        out.append(f"| {r['case']} | {r['p50_ms']} | {r['max_ms']} | {r['bytes']} |")
    out += ["", "Bars: 90 days ≤ 200 ms; a year's CSV ≤ 1 s.", ""]
    if r := results.get("ranges"):
        per_day = ", ".join(
            f"{t['date']} {t['coverage']:.1%} of {t['called']}" for t in r["tests"] if "date" in t
        )
        factors = [t["factors"] for t in r["tests"] if "factors" in t]
        out += [
            "## Estimate ranges on simulated days",
            "",
            f"Learnt from {r['training_days']} days of {r['tickets_per_day']} tickets (and "
            f"each test day from the days before it). Test days: {per_day}; together "
            f"**{r['coverage']:.1%}** of {r['called']} waits in the range shown (target "
            f"{r['target']:.0%} ± 5 points). Factors per class: {factors[-1] if factors else None}."
            f" The training days, shown the default ranges: "
            f"{r['coverage_training_days_default_factors']:.1%}.",
            "",
        ]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a 2,000-ticket big day, 3 runs")
    parser.add_argument("--big-day", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--training", type=int, default=14, help="days the ranges learn from")
    parser.add_argument("--range-tickets", type=int, default=200, help="tickets a day")
    args = parser.parse_args()
    if args.quick:
        args.big_day, args.repeat = 2000, 3
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
