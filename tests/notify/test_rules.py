"""Pure rules of notifications over real event sequences: any command sequence goes through
the real ``decide``/``evolve`` and ``hub.queue.outbox.build``, and ``rules.triggers`` decides
from the entries alone (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.errors import JunbanError
from hub.notify import rules
from hub.notify.channels import Message
from hub.notify.messages import render
from hub.notify.rules import Subscribed, Trigger
from hub.outbox.entry import OutboxEntry
from hub.queue import outbox
from hub.queue.events import QueueCreated
from hub.queue.evolve import evolve_all
from hub.queue.model import (
    CallNext,
    Cancel,
    Command,
    Complete,
    IssueTicket,
    MarkAbsent,
    OpenReception,
    QueueConfig,
    QueueState,
    Recall,
    Requeue,
)
from hub.queue.rules import decide
from hub.queue.store import encode_event
from tests import strategies as S

OPS = ["issue", "issue", "issue", "call", "call", "complete", "cancel", "recall", "absent",
       "requeue"]  # fmt: skip


@dataclass(frozen=True)
class Step:
    op: str
    ref: int
    subscribe: bool
    threshold: int


steps = st.lists(
    st.builds(
        Step,
        st.sampled_from(OPS),
        st.integers(0, 20),
        st.booleans(),
        st.sampled_from([1, 2, 3, 3, 5, 10]),
    ),
    max_size=50,
)


def command(step: Step, n: int, at: float, issued: list[str]) -> Command:
    target = issued[step.ref % len(issued)] if issued else "none"
    if step.op == "issue":
        return IssueTicket(at=at, ticket_id=f"t{n}", channel="desk")
    if step.op == "call":
        return CallNext(at=at)
    if step.op == "requeue":
        return Requeue(at=at, ticket_id=target)
    kinds: dict[str, type[Command]] = {"complete": Complete, "cancel": Cancel, "recall": Recall,
                                       "absent": MarkAbsent}  # fmt: skip
    return kinds[step.op](at=at, ticket_id=target)  # type: ignore[call-arg]


@dataclass
class Run:
    entries: list[OutboxEntry]
    subs_before: list[dict[str, Subscribed]]
    """The index as the worker would hold it before each entry (subscriptions added as the
    tickets were issued, ``near_done`` kept by ``rules.after``)."""
    sent: list[list[Trigger]]


def run(plan: list[Step]) -> Run:
    at = S.START_AT
    state = evolve_all(QueueState(info=S.INFO, epoch=S.EPOCH),
                       [QueueCreated(at=at, info=S.INFO, config=QueueConfig())])  # fmt: skip
    issued: list[str] = []
    subs: dict[str, Subscribed] = {}
    out = Run([], [], [])
    version = 1
    line = [Step("issue", 0, False, 3)] * 6  # some wait already when the plan starts
    for n, step in enumerate([Step("open", 0, False, 3), *line, *plan]):
        at += 7
        cmd = OpenReception(at=at) if step.op == "open" else command(step, n, at, issued)
        try:
            events = decide(state, cmd)
        except JunbanError:
            continue
        before = list(state.waiting)
        state = evolve_all(state, events)
        version += len(events)
        state.version = version
        built = outbox.build(state, events, [encode_event(e) for e in events], before)
        if built is not None:
            entry = OutboxEntry(id=f"{int(at * 1000)}-0", facility="1234", info=S.INFO, v=version,
                                epoch=S.EPOCH, kinds=tuple(built.kinds.split(",")),
                                body=outbox.decode(built.e))  # fmt: skip
            out.entries.append(entry)
            out.subs_before.append(dict(subs))
            found = rules.triggers(entry, subs, at + 1)
            out.sent.append(found)
            subs = rules.after(subs, found)
        for e in events:  # the patient subscribes right after taking the ticket
            if e.kind == "ticket_issued":
                tid = e.ticket.id  # type: ignore[attr-defined]
                issued.append(tid)
                if step.subscribe:
                    ticket = state.tickets[tid]
                    ahead = state.waiting.index(tid) if tid in state.waiting else None
                    done = rules.near_at_subscribe(ahead, ticket.status, step.threshold)
                    subs[tid] = Subscribed(S.INFO, ticket.number, step.threshold, state.day, done)
    return out


def _kinds_for(entry: OutboxEntry, tid: str, kind: str) -> int:
    return sum(1 for k, p in entry.body["events"] if k == kind and p.get("ticket_id") == tid)


@settings(max_examples=150, deadline=None)
@given(steps)
def test_at_most_one_near_per_ticket_and_each_message_is_unique(plan: list[Step]) -> None:
    result = run(plan)
    sent = [t for batch in result.sent for t in batch]
    nears = [t.ticket_id for t in sent if t.trigger == "near"]
    assert len(nears) == len(set(nears))
    identities = [(t.ticket_id, t.trigger, t.n) for t in sent]
    assert len(identities) == len(set(identities))  # the sent marker never merges two


@settings(max_examples=150, deadline=None)
@given(steps)
def test_triggers_follow_the_events_and_skip_finished_tickets(plan: list[Step]) -> None:
    result = run(plan)
    for entry, subs, sent in zip(result.entries, result.subs_before, result.sent, strict=True):
        for t in sent:
            sub = subs[t.ticket_id]  # only subscribed tickets
            assert t.number == sub.number
            status = entry.body["tickets"].get(t.ticket_id, {}).get("status")
            assert status not in ("done", "cancelled", "transferred")
            if t.trigger == "near":
                assert not sub.near_done
                assert t.ahead is not None and t.ahead <= sub.threshold
                assert entry.body["waiting"].index(t.ticket_id) == t.ahead
            else:
                event = {"called": "ticket_called", "recalled": "ticket_recalled",
                         "absent": "ticket_absent"}[t.trigger]  # fmt: skip
                assert _kinds_for(entry, t.ticket_id, event) >= 1
        for tid in subs:  # every call, recall and absence of a live subscribed ticket is told
            status = entry.body["tickets"].get(tid, {}).get("status")
            if status in ("done", "cancelled", "transferred"):
                assert not [t for t in sent if t.ticket_id == tid]
                continue
            for trigger, event in (("called", "ticket_called"), ("recalled", "ticket_recalled"),
                                   ("absent", "ticket_absent")):  # fmt: skip
                told = [t for t in sent if t.ticket_id == tid and t.trigger == trigger]
                assert len(told) == _kinds_for(entry, tid, event)


@settings(max_examples=150, deadline=None)
@given(steps)
def test_near_goes_when_the_line_reaches_the_threshold(plan: list[Step]) -> None:
    result = run(plan)
    for entry, subs, sent in zip(result.entries, result.subs_before, result.sent, strict=True):
        waiting = entry.body.get("waiting")
        if waiting is None:
            continue
        for tid, sub in subs.items():
            if sub.near_done or tid not in waiting:
                continue
            near = [t for t in sent if t.ticket_id == tid and t.trigger == "near"]
            assert bool(near) == (waiting.index(tid) <= sub.threshold)


def _entry(body: dict[str, object], at_ms: int) -> OutboxEntry:
    return OutboxEntry(id=f"{at_ms}-0", facility="1234", info="1234-01", v=2, epoch="e",
                       kinds=("ticket_called",), body=body)  # fmt: skip


def test_five_ahead_threshold_three_then_two_calls() -> None:
    ids = [f"a{i}" for i in range(6)]
    subs = {"a5": Subscribed("1234-01", 43, 3, "2025-03-03")}
    now = 1_700_000_000.0
    first = _entry({"events": [], "tickets": {}, "waiting": ids}, int(now * 1000))
    assert rules.triggers(first, subs, now) == []  # 5 ahead
    second = _entry({"events": [], "tickets": {}, "waiting": ids[1:]}, int(now * 1000))
    assert rules.triggers(second, subs, now) == []  # 4 ahead
    third = _entry({"events": [], "tickets": {}, "waiting": ids[2:]}, int(now * 1000))
    assert rules.triggers(third, subs, now) == [Trigger("a5", "near", 0, 43, 3)]
    subs = rules.after(subs, rules.triggers(third, subs, now))
    fourth = _entry({"events": [], "tickets": {}, "waiting": ids[3:]}, int(now * 1000))
    assert rules.triggers(fourth, subs, now) == []  # once per ticket
    stale = _entry({"events": [], "tickets": {}, "waiting": ids[2:]}, int(now * 1000))
    fresh = {"a5": Subscribed("1234-01", 43, 3, "2025-03-03")}
    assert rules.triggers(stale, fresh, now + rules.STALE_S + 1) == []  # too old: nothing
    other = {"a5": Subscribed("1234-02", 43, 3, "2025-03-03")}
    assert rules.triggers(third, other, now) == []  # another counter's ticket


def test_quiet_hours_in_facility_time_across_midnight() -> None:
    tokyo = ZoneInfo("Asia/Tokyo")

    def at(h: int, m: int) -> float:
        return datetime(2025, 3, 3, h, m, tzinfo=tokyo).timestamp()

    assert not rules.in_window(at(6, 59), "Asia/Tokyo", "21:00", "07:00")
    assert rules.in_window(at(7, 0), "Asia/Tokyo", "21:00", "07:00")
    assert rules.in_window(at(20, 59), "Asia/Tokyo", "21:00", "07:00")
    assert not rules.in_window(at(21, 0), "Asia/Tokyo", "21:00", "07:00")
    assert not rules.in_window(at(0, 30), "Asia/Tokyo", "21:00", "07:00")
    assert rules.in_window(at(3, 0), "Asia/Tokyo", "00:00", "00:00")  # no quiet hours
    assert not rules.in_window(at(12, 0), "Asia/Tokyo", "11:00", "13:00")  # a lunch-time rest
    assert rules.in_window(at(14, 0), "Asia/Tokyo", "11:00", "13:00")
    assert rules.in_window(at(10, 0), "Asia/Tokyo", "11:00", "13:00")
    assert not rules.in_window(at(11, 0), "Asia/Tokyo", "11:00", "13:00")
    assert rules.check_hhmm("24:00") and not rules.check_hhmm("24:30")
    assert not rules.check_hhmm("7:0") and not rules.check_hhmm("x")


@given(st.integers(1, 999), st.sampled_from(rules.TRIGGERS), st.sampled_from(["ja", "en"]),
       st.integers(0, 10))  # fmt: skip
def test_messages_put_the_number_first_and_no_name(
    number: int, trigger: str, lang: str, ahead: int
) -> None:
    message: Message = render("1234", "1234-01", "デモクリニック",
                              Trigger("t1", trigger, 0, number, ahead), lang)  # fmt: skip
    assert f"{number}" in message.title and f"{number}" in message.body
    assert message.path == "/q/1234-01/t/t1" and message.lang == lang
    if lang == "ja":
        assert message.title.startswith("【デモクリニック】")
        assert message.title.endswith(f"（{number}番）")
    if trigger == "near":
        assert str(ahead) in message.body


def test_a_ticket_called_again_after_requeue_gets_a_second_called() -> None:
    # six wait before; t7 subscribes (threshold 10: near at once), is called, put back, called
    plan = [Step("issue", 0, True, 10)] + [Step("call", 0, False, 3)] * 7
    plan += [Step("requeue", 6, False, 3), Step("call", 0, False, 3)]
    result = run(plan)
    called = [t for batch in result.sent for t in batch if t.trigger == "called"]
    assert [t.ticket_id for t in called] == ["t7", "t7"]
    assert called[0].n == 0 and called[1].n > 0  # two messages, two markers
    assert not [t for batch in result.sent for t in batch if t.trigger == "near"]
