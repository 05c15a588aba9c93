"""The analytics use cases: a facility's report (``facility_report``), its CSV rows, the
operator's totals per facility (``operator_report``), and the keeper that summarises every
queue's finished days soon after they end (``keep``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from datetime import date as Date
from datetime import timedelta
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import LockError, RedisError

from hub import keys
from hub.analytics import calibrate, report
from hub.analytics.store import SummaryStore
from hub.analytics.summary import DaySummary
from hub.errors import BadRequest, JunbanError, NotFound
from hub.queue import calendar
from hub.queue.facilities import Facility, FacilityStore
from hub.queue.model import SetRangeFactors
from hub.queue.service import QueueService

log = logging.getLogger("junban")

MAX_DAYS = 400
DEFAULT_DAYS = 30
KEEP_S = 30.0
"""How often each hub looks for queues whose day ended (two reads per queue): a day is
summarised within about this long after the next one starts."""
CLAIM_MS = 60_000
"""A hub's claim on summarising one queue (given back when done)."""


def date_range(start: str | None, end: str | None, today: str) -> list[str]:
    """The dates ``start``..``end`` inclusive (ISO; default: the 30 days to today); 400 at
    most. 400 ``invalid_query`` otherwise."""
    try:
        last = Date.fromisoformat(end) if end else Date.fromisoformat(today)
        first = Date.fromisoformat(start) if start else last - timedelta(days=DEFAULT_DAYS - 1)
    except (ValueError, OverflowError):
        raise BadRequest("from and to are dates like 2026-12-07", code="invalid_query") from None
    if first > last:
        raise BadRequest("from is after to", code="invalid_query")
    count = (last - first).days + 1
    if count > MAX_DAYS:
        raise BadRequest(f"at most {MAX_DAYS} days at once", code="invalid_query")
    return [(first + timedelta(days=n)).isoformat() for n in range(count)]


class AnalyticsService:
    def __init__(self, redis: Redis, facilities: FacilityStore, queues: QueueService) -> None:
        self.redis = redis
        self.summaries = SummaryStore(redis)
        self.facilities = facilities
        self.queues = queues

    async def _record(self, facility: str) -> Facility:
        record = await self.facilities.get(facility)
        if record is None:
            raise NotFound("no such facility", code="unknown_facility")
        return record

    async def _summaries(
        self, infos: Sequence[str], dates: list[str], *, running: bool = True
    ) -> dict[str, list[DaySummary]]:
        """date -> the summaries of those queues that day. A queue whose cursor the range
        reaches catches up first (so whatever any process stored is read after it), and
        its day still running (today so far) is added unless ``running`` is False."""
        by_date: dict[str, list[DaySummary]] = {d: [] for d in dates}
        for info in infos:
            today: DaySummary | None = None
            cursor_day = await self.summaries.cursor_day(info)  # days before it are stored
            if running and (cursor_day is None or dates[-1] >= cursor_day):
                today = (await self.summaries.catch_up(info)).running
            stored = await self.summaries.days(info, dates)
            if today is not None and today.date not in stored:
                stored[today.date] = today
            for day, summary in stored.items():
                if day in by_date:
                    by_date[day].append(summary)
        return by_date

    async def facility_report(
        self, facility: str, start: str | None, end: str | None, counter: str | None, now: float
    ) -> dict[str, Any]:
        """The facility's figures by day, in total, by hour and by weekday × hour."""
        record = await self._record(facility)
        if counter is not None and counter not in record.counters:
            raise NotFound("no such counter", code="unknown_queue")
        today = calendar.business_day(now, record.tz)
        dates = date_range(start, end, today)
        infos = [f"{facility}-{counter}"] if counter else record.infos()
        by_date = await self._summaries(infos, dates)
        every = [s for d in dates for s in by_date[d]]
        return {
            "facility": facility,
            "counter": counter,
            "from": dates[0],
            "to": dates[-1],
            "tz": record.tz,
            "counters": sorted(record.counters),
            "days": [report.day_entry(d, by_date[d], record.tz, today) for d in dates],
            "totals": report.stats(every),
            "by_hour": report.by_hour(every),
            "heatmap": report.heatmap(every),
        }

    async def csv_rows(
        self,
        facility: str,
        start: str | None,
        end: str | None,
        counter: str | None,
        grain: str,
        now: float,
    ) -> tuple[list[str], list[list[object]], str]:
        """(headers, rows, file name) of the facility's CSV, one row per date and counter
        (``grain=day``) or per date, counter and hour (``grain=hour``)."""
        if grain not in ("day", "hour"):
            raise BadRequest("grain is day or hour", code="invalid_query")
        record = await self._record(facility)
        if counter is not None and counter not in record.counters:
            raise NotFound("no such counter", code="unknown_queue")
        today = calendar.business_day(now, record.tz)
        dates = date_range(start, end, today)
        counters = [counter] if counter else sorted(record.counters)
        rows: list[list[object]] = []
        for c in counters:
            by_date = await self._summaries([f"{facility}-{c}"], dates)
            for d in dates:
                if grain == "day":
                    rows.append(_day_row(d, c, report.day_entry(d, by_date[d], record.tz, today)))
                else:
                    hours = report.by_hour(by_date[d])
                    rows += [_hour_row(d, c, h) for h in hours if h["issued"] or h["called"]]
        rows.sort(key=lambda r: (str(r[0]), str(r[1])))
        name = f"analytics-{facility}-{dates[0]}-{dates[-1]}-{grain}.csv"
        return (DAY_HEADERS if grain == "day" else HOUR_HEADERS), rows, name

    async def operator_report(
        self, start: str | None, end: str | None, now: float
    ) -> dict[str, Any]:
        """Totals per facility over the dates (numbers only: they identify no one)."""
        today = calendar.business_day(now, "Asia/Tokyo")
        dates = date_range(start, end, today)
        rows = []
        for number in sorted(await self.facilities.numbers(), key=int):
            record = await self.facilities.get(number)
            if record is None:
                continue
            by_date = await self._summaries(record.infos(), dates, running=False)
            totals = report.stats([s for d in dates for s in by_date[d]])
            rows.append({"facility": number, "name": record.name, **totals})
        return {"from": dates[0], "to": dates[-1], "facilities": rows}

    # ---- the keeper -------------------------------------------------------------------------

    async def keep_once(self) -> int:
        """Summarise the finished days of every queue whose day moved on since its cursor,
        and calibrate the ranges of those whose cursor passed their last calibration; how
        many days were stored. One queue's failure is logged and leaves the others be."""
        stored = 0
        for info in await self.facilities.infos():
            try:
                stored += await self._keep(info)
            except (JunbanError, RedisError, OSError) as exc:
                log.warning("could not summarise the days of %s: %s", info, exc)
            except Exception:  # one queue's trouble never stops the others
                log.exception("could not summarise the days of %s", info)
        return stored

    async def _keep(self, info: str) -> int:
        moved, due = await self._due(info)
        if not moved and not due:
            return 0
        lock = self.redis.lock(keys.summary_claim(info), timeout=CLAIM_MS / 1000, blocking=False)
        if not await lock.acquire():
            return 0  # another hub is on it
        try:
            caught = await self.summaries.catch_up(info, running=False) if moved else None
            day = await self.summaries.cursor_day(info)
            if day is not None:
                last = (Date.fromisoformat(day) - timedelta(days=1)).isoformat()
                await self.calibrate(info, last)
                await self.redis.hset(keys.summary_cursor(info), "cal", day)
            return len(caught.stored) if caught else 0
        finally:
            with contextlib.suppress(LockError):
                await lock.release()

    async def calibrate(
        self, info: str, last: str, at: float | None = None
    ) -> tuple[tuple[float, float], ...] | None:
        """Give the queue (at ``at``, default now) the estimate ranges of its
        ``calibrate.DAYS`` days to ``last`` (``calibrate.range_factors``); the factors, or
        None while it has too little history."""
        end = Date.fromisoformat(last)
        dates = [(end - timedelta(days=n)).isoformat() for n in range(calibrate.DAYS)]
        days = list((await self.summaries.days(info, dates)).values())
        factors = calibrate.range_factors(days)
        if factors is not None:
            command = SetRangeFactors(at=time.time() if at is None else at, factors=factors)
            await self.queues.execute(info, command, lambda s: None)
        return factors

    async def _due(self, info: str) -> tuple[bool, bool]:
        """(the queue's day moved past its cursor, its cursor passed its last calibration):
        two small reads."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hget(keys.queue(info), "view")
            pipe.hmget(keys.summary_cursor(info), ["day", "cal"])
            view, (day, cal) = await pipe.execute()
        if view is None:
            return False, False
        current = str(orjson.loads(view).get("day", ""))
        if day is None:
            return True, False
        return current > day.decode(), cal is None or day > cal

    async def keep(self, every_s: float = KEEP_S) -> None:
        """Run ``keep_once`` every ``every_s``; a failed round is logged and the next one
        tries again. Every hub runs one: a queue is summarised by the one that claims it."""
        while True:
            await asyncio.sleep(every_s)
            try:
                await self.keep_once()
            except (JunbanError, RedisError, OSError) as exc:
                log.warning("could not summarise the finished days: %s", exc)
            except Exception:  # keep the keeper alive whatever one round does
                log.exception("could not summarise the finished days")


DAY_HEADERS = [
    "日付",
    "窓口",
    "受付数",
    "Web受付",
    "窓口受付",
    "キオスク受付",
    "電話受付",
    "予約受付",
    "転入",
    "呼出数",
    "完了数",
    "途中離脱",
    "呼出後取消",
    "不在",
    "転送",
    "未完了",
    "待ち時間中央値(分)",
    "待ち時間90%(分)",
    "平均待ち(分)",
    "最大待ち(分)",
    "平均診察(分)",
    "Web比率",
    "表示待ち時間の的中率",
    "待ち時間幅の的中率",
    "最初の呼出",
    "最後の呼出",
    "欠損あり",
]
HOUR_HEADERS = ["日付", "窓口", "時", "受付数", "呼出数", "平均待ち人数", "最大待ち人数"]


def _day_row(date: str, counter: str, e: dict[str, Any]) -> list[object]:
    ch, wait = e["by_channel"], e["wait"]
    return [
        date,
        counter,
        e["issued"],
        ch.get("web", 0),
        ch.get("desk", 0),
        ch.get("kiosk", 0),
        ch.get("phone", 0),
        ch.get("reserved", 0),
        e["transferred_in"],
        e["called"],
        e["completed"],
        e["walkouts"],
        e["cancelled_after_call"],
        e["no_shows"],
        e["transferred_out"],
        e["unfinished"],
        wait["p50"],
        wait["p90"],
        wait["mean"],
        wait["max"],
        e["service"]["mean"],
        e["web_share"],
        e["accuracy"]["within"],
        e["ranges"]["within"],
        e["first_call"],
        e["last_call"],
        "1" if e["incomplete"] else "",
    ]


def _hour_row(date: str, counter: str, h: dict[str, Any]) -> list[object]:
    return [date, counter, h["hour"], h["issued"], h["called"], h["line_avg"], h["line_max"]]
