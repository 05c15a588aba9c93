"""Made-up history for the demo and the page tests: daily summaries of plausible clinic
days, written straight to the summaries hash (``SummaryStore.put``). Real summaries come
from the queues' own events (``hub.analytics.store``); these only give the analytics
page something to draw on a fresh install."""

from __future__ import annotations

import math
import random
from datetime import date as Date
from datetime import timedelta

from redis.asyncio import Redis

from hub.analytics.store import SummaryStore
from hub.analytics.summary import HOURS, DaySummary, distribution, midnight_of
from hub.errors import JunbanError
from hub.queue.model import (
    CallNext,
    Cancel,
    Command,
    IssueTicket,
    MarkAbsent,
    OpenReception,
    OpenWeb,
    QueueState,
)
from hub.queue.service import QueueService

OPEN_HOURS = (9, 10, 11, 12, 14, 15, 16, 17)
"""A clinic's morning and afternoon sessions (local hours)."""


def synthetic_day(info: str, date: str, tz: str, seed: int = 0) -> DaySummary | None:
    """A plausible day of ``info`` (None on Sundays: closed), the same for the same seed."""
    day = Date.fromisoformat(date)
    if day.weekday() == 6:
        return None
    rng = random.Random(f"{info}:{date}:{seed}")
    busy = 1.4 if day.weekday() == 0 else 0.6 if day.weekday() == 5 else 1.0
    hours = OPEN_HOURS[:4] if day.weekday() == 5 else OPEN_HOURS
    hour_issued = [0] * HOURS
    for hour in hours:
        peak = 1.6 if hour in (9, 15) else 1.0
        hour_issued[hour] = max(0, round(rng.gauss(9 * busy * peak, 2)))
    issued_total = sum(hour_issued)
    web = round(issued_total * rng.uniform(0.45, 0.7))
    phone = round((issued_total - web) * 0.1)
    issued = {"web": web, "desk": issued_total - web - phone, "phone": phone}
    walkouts = rng.randint(0, max(1, issued_total // 25))
    no_shows = rng.randint(0, max(1, issued_total // 20))
    after_call = rng.randint(0, 1)
    completed = max(issued_total - walkouts - no_shows - after_call, 0)
    waits = [max(rng.gammavariate(2.2, 9 * busy), 0.5) for _ in range(completed + after_call)]
    services = [max(rng.gauss(6, 2), 1.0) for _ in range(completed)]
    midnight = midnight_of(date, tz)
    within = sum(1 for _ in range(web) if rng.random() < 0.78)
    return DaySummary(
        date=date,
        info=info,
        tz=tz,
        issued={k: v for k, v in issued.items() if v},
        called=completed + after_call + no_shows,
        completed=completed,
        walkouts=walkouts,
        cancelled_after_call=after_call,
        no_shows=no_shows,
        recalls=rng.randint(0, 5),
        wait=distribution(waits),
        service=distribution(services),
        rooms={"1": (len(services), round(sum(services), 1))},
        hour_issued=hour_issued,
        hour_called=[round(n * 0.95) for n in hour_issued],
        hour_line_avg=[round(n * 0.6, 1) if n else None for n in hour_issued],
        hour_line_max=[round(n * 1.2) if n else None for n in hour_issued],
        first_call=midnight + hours[0] * 3600 + 300,
        last_call=midnight + (hours[-1] + 1) * 3600 - 600,
        acc_n=web,
        acc_within=within,
        acc_error=round(rng.uniform(-2, 4) * web, 1),
        acc_abs_error=round(rng.uniform(4, 8) * web, 1),
        range_n=completed + after_call,
        range_in=sum(1 for _ in range(completed + after_call) if rng.random() < 0.8),
    )


async def seed_history(
    redis: Redis, info: str, days: int, today: str, tz: str = "Asia/Tokyo"
) -> list[DaySummary]:
    """Store made-up summaries for the ``days`` dates before ``today`` (a date that has a
    summary keeps it); the summaries made."""
    store = SummaryStore(redis)
    made = []
    last = Date.fromisoformat(today)
    for n in range(days, 0, -1):
        summary = synthetic_day(info, (last - timedelta(days=n)).isoformat(), tz)
        if summary is not None and await store.put(summary):
            made.append(summary)
    return made


async def play_day(
    service: QueueService,
    info: str,
    opens_at: float,
    tickets: int,
    rng: random.Random,
    *,
    minutes_each: float = 6.0,
) -> int:
    """Run a clinic day on queue ``info`` through the real queue service, with times from
    ``opens_at`` on: ``tickets`` arrivals (about 60 % web) over 8 hours, busier in the
    first hour, and enough rooms (``1``, ``2`` …) serving about ``minutes_each`` minutes a
    patient (gamma-distributed) to keep up; about 3 % walk out and 1 in 30 is absent.
    Commands only: the events, and so the summaries, are what the hub itself would write.
    How many commands were accepted."""
    hours = 8.0
    rooms = [str(n + 1) for n in range(max(1, math.ceil(tickets * minutes_each / (hours * 60))))]
    arrivals = sorted(
        opens_at + (rng.uniform(0, 3600) if rng.random() < 0.25 else rng.uniform(0, hours * 3600))
        for _ in range(tickets)
    )
    accepted = 0

    async def run(command: Command) -> str | None:
        """The ticket called first now (or ""), None when the command was refused."""
        nonlocal accepted
        try:
            called = await service.execute(info, command, _called_first)
        except JunbanError:
            return None
        accepted += 1
        return str(called)

    def service_s() -> float:
        return rng.gammavariate(4.0, minutes_each / 4.0) * 60

    await run(OpenReception(at=opens_at))
    await run(OpenWeb(at=opens_at))
    free = {room: opens_at + 300 for room in rooms}
    issued: list[str] = []
    end = opens_at + (hours + 1.5) * 3600
    for n, at in enumerate([*arrivals, end]):
        while True:  # each room calls the next patient whenever it is free before ``at``
            room = min(free, key=free.__getitem__)
            if free[room] >= at:
                break
            at_call = free[room]
            called = await run(CallNext(at=at_call, room=room))
            if called and rng.random() < 1 / 30:  # not there: absent, and the next one
                await run(MarkAbsent(at=at_call + 120, ticket_id=called))
                free[room] = at_call + 150
            else:
                free[room] = at_call + service_s() if called is not None else at
        if n == len(arrivals):
            break
        tid = f"{info}-{int(opens_at)}-{n}"
        channel = "web" if rng.random() < 0.6 else rng.choice(("desk", "kiosk"))
        await run(IssueTicket(at=at, ticket_id=tid, channel=channel))
        issued.append(tid)
        if rng.random() < 0.03:  # someone who came earlier gives up (if still waiting)
            await run(Cancel(at=at, ticket_id=rng.choice(issued), by="patient"))
    return accepted


def _called_first(state: QueueState) -> str:
    return state.calling[0] if state.calling else ""
