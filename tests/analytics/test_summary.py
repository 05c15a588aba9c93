"""``summarise`` against a brute-force recount: random days of commands go through the
real rules (``rules.decide``), and every figure of the summary is recomputed from each
ticket's own list of events."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.analytics import report
from hub.analytics.summary import BREAK_MIN, DaySummary, midnight_of, summarise
from hub.errors import JunbanError
from hub.queue import rules, views
from hub.queue.events import (
    DayStarted,
    Event,
    TicketAbsent,
    TicketCalled,
    TicketCancelled,
    TicketCompleted,
    TicketIssued,
    TicketRecalled,
    TicketRequeued,
    TicketTransferredIn,
    TicketTransferredOut,
)
from hub.queue.model import (
    CallNext,
    Cancel,
    Command,
    Complete,
    IssueTicket,
    MarkAbsent,
    OpenReception,
    OpenWeb,
    QueueConfig,
    QueueState,
    Recall,
    Requeue,
    Ticket,
    TransferIn,
    TransferOut,
)

DAY = "2026-12-07"
TZ = "Asia/Tokyo"
START = midnight_of(DAY, TZ) + 8 * 3600  # 08:00 local

ops = st.lists(
    st.tuples(
        st.sampled_from(
            ["web", "desk", "kiosk", "call", "call", "complete", "cancel", "absent", "requeue"]
            + ["recall", "call2", "out", "in"]
        ),
        st.integers(0, 30),  # which ticket (by index among today's)
        st.floats(0, 400),  # seconds since the previous command: 120 of them end by 21:20
    ),
    max_size=120,
)


def run_day(
    script: list[tuple[str, int, float]],
) -> tuple[QueueState, list[Event], dict[str, dict[str, Any]]]:
    """The start state (right after ``day_started``), the day's events, and what each
    ticket's page showed right after it joined (``views.ticket_view``)."""
    state = QueueState(info="1234-01", config=QueueConfig(tz=TZ))
    at = START
    shown: dict[str, dict[str, Any]] = {}
    events: list[Event] = []
    start: QueueState | None = None
    commands: list[Command] = [OpenReception(at=at), OpenWeb(at=at)]
    ids: list[str] = []
    for op, which, dt in script:
        at += dt
        target = ids[which % len(ids)] if ids else "none"
        if op in ("web", "desk", "kiosk"):
            ids.append(f"t{len(ids)}")
            commands.append(IssueTicket(at=at, ticket_id=ids[-1], channel=op))
        elif op in ("call", "call2"):
            commands.append(CallNext(at=at, room="1" if op == "call" else "2"))
        elif op == "complete":
            commands.append(Complete(at=at, ticket_id=target))
        elif op == "cancel":
            commands.append(Cancel(at=at, ticket_id=target, by="patient"))
        elif op == "absent":
            commands.append(MarkAbsent(at=at, ticket_id=target))
        elif op == "requeue":
            commands.append(Requeue(at=at, ticket_id=target))
        elif op == "out":
            commands.append(TransferOut(at=at, ticket_id=target, to="02"))
        elif op == "in":  # a patient sent here from counter 02, or back (if sent there)
            back = bool(ids) and which % 2 == 0
            tid = target if back else f"x{len(ids)}"
            if not back:
                ids.append(tid)
            ticket = Ticket(id=tid, number=900 + len(ids), channel="desk", issued_at=at, hops=5)
            commands.append(TransferIn(at=at, ticket=ticket, source="02"))
        else:
            commands.append(Recall(at=at, ticket_id=target))
    for command in commands:
        try:
            new = rules.decide(state, command)
        except JunbanError:
            continue
        for event in new:
            state = rules.evolve(state, event)
            if isinstance(event, DayStarted):
                start = state
                continue
            events.append(event)
            if isinstance(event, TicketIssued | TicketTransferredIn):
                view = views.ticket_view(state, event.ticket.id)
                shown[event.ticket.id] = {**view, "web": event.ticket.channel == "web"}
    assert start is not None
    return start, events, shown


def recount(events: list[Event], shown: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Every figure again, from each ticket's own events (its stay since it last joined)."""
    history: dict[str, list[Event]] = defaultdict(list)
    for e in events:
        joins = isinstance(e, TicketIssued | TicketTransferredIn)
        tid = e.ticket.id if joins else getattr(e, "ticket_id", None)  # type: ignore[attr-defined]
        if tid is not None:
            history[tid].append(e)
    ends: dict[str, int] = defaultdict(int)
    waits, services, acc, in_range = [], [], [], []
    for tid, everything in history.items():
        last_join = max(
            i for i, e in enumerate(everything) if isinstance(e, TicketIssued | TicketTransferredIn)
        )
        hist = everything[last_join:]
        joined = hist[0]
        calls = [e.at for e in hist if isinstance(e, TicketCalled)]
        last = hist[-1]
        walkout = False
        if isinstance(last, TicketCancelled):
            before = [e for e in hist[:-1] if not isinstance(e, TicketRecalled)]
            walkout = isinstance(before[-1], TicketIssued | TicketTransferredIn | TicketRequeued)
        status = {
            TicketCompleted: "done",
            TicketCancelled: "walkout" if walkout else "after_call",
            TicketTransferredOut: "transferred",
            TicketAbsent: "absent",
        }.get(type(last), "open")
        ends[status] += 1
        if not calls:
            continue
        served = status in ("done", "transferred")
        wait = ((calls[-1] if served else calls[0]) - joined.at) / 60
        waits.append(round(wait, 1))
        if status == "done":
            service = (last.at - calls[-1]) / 60
            implicit = any(
                isinstance(e, TicketCalled) and e.at == last.at and e.room == _room(hist)
                for e in events
                if e is not last
            )
            if not (implicit and service > BREAK_MIN):
                services.append(round(service, 1))
        view = shown[tid]
        lo, hi = view["estimate_range"]
        in_range.append(lo <= wait <= hi)
        if view["web"]:
            minutes = view["estimate_min"]
            acc.append(abs(wait - minutes) <= max(5.0, 0.25 * minutes))
    return {
        "ends": ends,
        "waits": sorted(waits),
        "services": sorted(services),
        "acc": acc,
        "in_range": in_range,
    }


def _room(hist: list[Event]) -> str:
    return [e for e in hist if isinstance(e, TicketCalled)][-1].room


@settings(max_examples=300, deadline=None)
@given(ops)
def test_the_summary_equals_a_recount_from_each_tickets_history(
    script: list[tuple[str, int, float]],
) -> None:
    start, events, shown = run_day(script)
    s = summarise(start, events)
    again = recount(events, shown)
    ends = again["ends"]
    assert s.completed == ends["done"] and s.walkouts == ends["walkout"]
    assert s.cancelled_after_call == ends["after_call"] and s.no_shows == ends["absent"]
    assert s.unfinished == ends["open"]
    assert s.issued_total == sum(1 for e in events if isinstance(e, TicketIssued))
    assert s.issued_total + s.transferred_in == (
        s.completed
        + s.walkouts
        + s.cancelled_after_call
        + s.no_shows
        + s.transferred_out
        + s.unfinished
    )
    assert s.wait.n == len(again["waits"])
    assert s.service.n == len(again["services"])
    if again["waits"]:
        waits = again["waits"]
        assert s.wait.p50 == waits[math.ceil(0.5 * len(waits)) - 1]
        assert s.wait.p90 == waits[math.ceil(0.9 * len(waits)) - 1]
        assert s.wait.max == waits[-1]
        assert s.wait.p50 is not None and s.wait.p90 is not None
        assert s.wait.p50 <= s.wait.p90 <= waits[-1]
    assert s.acc_n == len(again["acc"]) and s.acc_within == sum(again["acc"])
    assert sum(s.hour_issued) == s.issued_total
    assert sum(s.hour_called) == sum(1 for e in events if isinstance(e, TicketCalled))
    assert sum(s.wait.hist.values()) == s.wait.n
    assert s.range_n == s.wait.n == sum(sum(h.values()) for h in s.ratios)
    assert s.range_in == sum(again["in_range"])
    assert s.transferred_out == ends["transferred"]


@settings(max_examples=100, deadline=None)
@given(st.lists(ops, min_size=1, max_size=4))
def test_days_add_up_in_the_report(scripts: list[list[tuple[str, int, float]]]) -> None:
    days: list[DaySummary] = [summarise(*run_day(script)[:2]) for script in scripts]
    total = report.stats(days)
    assert total["issued"] == sum(d.issued_total for d in days)
    assert total["completed"] == sum(d.completed for d in days)
    assert total["wait"]["n"] == sum(d.wait.n for d in days)
    if total["wait"]["n"]:
        assert total["wait"]["p50"] <= total["wait"]["p90"] <= total["wait"]["max"]
        assert min(d.wait.p50 for d in days if d.wait.n) // 1 <= total["wait"]["p50"]
    grid = report.heatmap(days)
    assert sum(map(sum, grid)) == total["issued"]


def test_the_line_length_is_weighted_by_time_in_local_hours() -> None:
    # 08:00 two tickets; 08:30 one called; 09:15 the other: 08h line 2 for 30 min then 1
    script = [("desk", 0, 0.0), ("desk", 0, 0.0), ("call", 0, 1800.0), ("call", 0, 2700.0)]
    start, events, _ = run_day(script)
    s = summarise(start, events)
    assert s.hour_line_avg[8] == 1.5 and s.hour_line_max[8] == 2
    assert s.hour_line_avg[9] == 1.0 and s.hour_line_max[9] == 1
    assert s.hour_line_avg[10] is None and s.first_call == START + 1800


def test_hours_follow_the_local_clock_on_a_dst_switch() -> None:
    # 2026-03-08 in New York: 02:00 became 03:00, so 10:00 local is 9 hours after midnight
    tz = "America/New_York"
    state = QueueState(info="1234-01", config=QueueConfig(tz=tz))
    ten = midnight_of("2026-03-08", tz) + 9 * 3600
    events: list[Event] = []
    for command in (OpenReception(at=ten - 60), IssueTicket(at=ten, ticket_id="a", channel="desk")):
        for event in rules.decide(state, command):
            state = rules.evolve(state, event)
            events.append(event)
    assert isinstance(events[0], DayStarted) and events[0].day == "2026-03-08"
    start = rules.evolve(QueueState(info="1234-01", config=QueueConfig(tz=tz)), events[0])
    s = summarise(start, events[1:])
    assert s.hour_issued[10] == 1 and s.hour_line_max[10] == 1
