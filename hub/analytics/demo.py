"""Made-up history for the demo and the page tests: daily summaries of plausible clinic
days, written straight to the summaries hash (``SummaryStore.put``). Real summaries come
from the queues' own events (``hub.analytics.store``); these only give the analytics
page something to draw on a fresh install."""

from __future__ import annotations

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
        rooms={"1": distribution(services)},
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
    rooms: tuple[str, ...] = ("1", "2"),
) -> int:
    """Run a clinic day on queue ``info`` through the real queue service, with times from
    ``opens_at`` on: ``tickets`` arrivals (about 60 % web) spread over 8 hours, two rooms
    serving about 6 minutes each; some walk out, some are absent. Commands only: the
    events, and so the summaries, are what the hub itself would write. How many commands
    were accepted."""
    arrivals = sorted(opens_at + rng.uniform(0, 8 * 3600) for _ in range(tickets))
    accepted = 0

    async def run(command: Command) -> None:
        nonlocal accepted
        try:
            await service.execute(info, command, lambda s: None)
            accepted += 1
        except JunbanError:
            pass

    await run(OpenReception(at=opens_at))
    await run(OpenWeb(at=opens_at))
    free = dict.fromkeys(rooms, opens_at + 600)
    issued: list[str] = []
    for n, at in enumerate(arrivals):
        room = min(free, key=lambda r: free[r])
        while free[room] < at:  # the rooms call whoever waits until this arrival
            await run(CallNext(at=free[room], room=room))
            free[room] += max(rng.gauss(6, 2), 1.5) * 60 * len(rooms) / 2
            room = min(free, key=lambda r: free[r])
        tid = f"{info}-{int(opens_at)}-{n}"
        channel = "web" if rng.random() < 0.6 else rng.choice(("desk", "kiosk"))
        await run(IssueTicket(at=at, ticket_id=tid, channel=channel))
        issued.append(tid)
        if rng.random() < 0.03:
            await run(Cancel(at=at + rng.uniform(60, 1200), ticket_id=tid, by="patient"))
    end = opens_at + 9 * 3600
    for room in list(free):
        while free[room] < end:
            await run(CallNext(at=free[room], room=room))
            free[room] += max(rng.gauss(6, 2), 1.5) * 60
    for tid in rng.sample(issued, k=min(len(issued), max(1, tickets // 30))):
        await run(MarkAbsent(at=end, ticket_id=tid))
    return accepted
