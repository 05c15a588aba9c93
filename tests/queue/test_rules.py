"""Property tests of the queue rules: a state machine driving one queue, and the rule tables."""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Iterator
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import event as count_outcome
from hypothesis import given, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from hub.errors import JunbanError
from hub.queue import calendar, estimate, rules, views
from hub.queue.events import (
    DayStarted,
    Event,
    QueueCreated,
    TicketCalled,
    TicketIssued,
    TicketRequeued,
)
from hub.queue.model import (
    CallNext,
    CallTicket,
    Cancel,
    CloseReception,
    CloseWeb,
    Command,
    Complete,
    Configure,
    IssueTicket,
    MarkAbsent,
    OpenReception,
    OpenWeb,
    QueueConfig,
    QueueState,
    Recall,
    Requeue,
    SetMessage,
    SetNotices,
    SetSuspended,
    StartDay,
)
from hub.queue.store import decode_event, decode_state, encode_event, encode_state
from tests import strategies as S

STATUSES = ("waiting", "called", "done", "cancelled", "absent")


def created(at: float = S.START_AT, config: QueueConfig | None = None) -> QueueCreated:
    return QueueCreated(at=at, info=S.INFO, config=config or QueueConfig())


def empty_state() -> QueueState:
    return QueueState(info=S.INFO, epoch=S.EPOCH)


def in_window(at: float, tz: str, hours: tuple[str, str]) -> bool:
    """Server operating hours, computed independently of ``calendar.in_hours``."""
    local = datetime.fromtimestamp(at, ZoneInfo(tz))
    minute = local.hour * 60 + local.minute
    start, end = (int(h) * 60 + int(m) for h, m in (t.split(":") for t in hours))
    return start <= minute < end if start <= end else minute >= start or minute < end


def expected_issue_refusal(s: QueueState, cmd: IssueTicket) -> str | None:
    """The code an issue must be refused with in ``s`` (as the day's handler sees it)."""
    if cmd.ticket_id in s.tickets:
        return "duplicate_ticket"
    if len(cmd.name) > 100 or len(cmd.phone) > 32 or len(cmd.note) > 500:
        return "invalid_body"
    if cmd.channel == "web":
        cap = s.config.web_daily_cap
        if s.suspended:
            return "facility_suspended"
        if cmd.service_hours and not in_window(cmd.at, s.config.tz, cmd.service_hours):
            return "outside_service_hours"
        if not s.open:
            return "reception_closed"
        if (cap is not None and s.web_issued >= cap) or (
            not s.web_open and s.web_closed_reason == "cap"
        ):
            return "daily_cap_reached"
        if not s.web_open or called_after_closing(s, cmd.at, len(s.waiting)):
            return "web_closed"
        if cmd.priority:
            return "forbidden"
    if cmd.channel == "kiosk" and s.suspended:
        return "facility_suspended"
    if cmd.channel == "kiosk" and not s.open:
        return "reception_closed"
    return None


def called_after_closing(s: QueueState, at: float, ahead: int) -> bool:
    """Would a new ticket be called after ``close_web_at``? (stated independently)"""
    if s.config.close_web_at is None:
        return False
    local = datetime.fromtimestamp(at, ZoneInfo(s.config.tz))
    now = local.hour * 60 + local.minute + local.second / 60 + local.microsecond / 60e6
    hours, minutes = s.config.close_web_at.split(":")
    return now + math.ceil((ahead + 1) * s.minutes_per_patient - 1e-9) > int(hours) * 60 + int(
        minutes
    )


def strings_in(value: Any) -> Iterator[str]:
    """Every string (keys included) anywhere inside a JSON-like value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings_in(key)
            yield from strings_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings_in(item)


Outcome = list[Event] | JunbanError


class QueueMachine(RuleBasedStateMachine):
    """Drives one queue with every command; checks the queue's guarantees after each step."""

    def __init__(self) -> None:
        super().__init__()
        first = created()
        self.events: list[Event] = [first]
        self.state = rules.evolve_all(empty_state(), [first])
        self.now = S.START_AT
        self.today: list[str] = []
        """Ids issued on the current business day, in issue order."""
        self.ever: list[str] = []
        self.requeued: set[str] = set()
        self.serial = 0

    # ---- helpers ----------------------------------------------------------------------------

    def resolve(self, ref: str) -> str:
        s = self.state
        absent = [t for t in self.today if s.tickets[t].status == "absent"]
        pools = {"today": self.today, "waiting": s.waiting, "calling": s.calling}
        return S.resolve_ticket(ref, {**pools, "absent": absent, "ever": self.ever})

    def as_handler_sees(self, at: float) -> QueueState:
        """The state ``decide`` hands to the command's handler (a new day started first)."""
        day = calendar.business_day(at, self.state.config.tz)
        if day == self.state.day:
            return self.state
        return rules.evolve(self.state, DayStarted(at=at, day=day))

    def run(self, cmd: Command, wait: float = 0.0) -> tuple[QueueState, Outcome]:
        """Wait, then send ``cmd`` now: the state the handler saw, and the events or refusal."""
        self.now += wait
        cmd = dataclasses.replace(cmd, at=self.now)
        before = copy.deepcopy(self.state)
        seen = self.as_handler_sees(cmd.at)
        try:
            events = rules.decide(self.state, cmd)
        except JunbanError as err:
            note(f"{cmd!r} -> refused {err.code}")
            count_outcome(f"{type(cmd).__name__}: {err.code}")
            assert self.state == before, "a refused command changed the state"
            return seen, err
        note(f"{cmd!r} -> {events!r}")
        count_outcome(f"{type(cmd).__name__}: ok")
        assert self.state == before, "decide changed the state it was given"
        if seen is not self.state:
            assert events[0] == DayStarted(at=cmd.at, day=seen.day)
        for event in events:
            assert decode_event(event.kind, encode_event(event)) == event
        self.state = rules.evolve_all(self.state, events)
        assert self.state.updated_at == (events[-1].at if events else before.updated_at)
        self.events.extend(events)
        if any(isinstance(e, DayStarted) for e in events):
            self.today, self.requeued = [], set()
        for event in events:
            if isinstance(event, TicketIssued):
                self.today.append(event.ticket.id)
                self.ever.append(event.ticket.id)
            elif isinstance(event, TicketRequeued):
                self.requeued.add(event.ticket_id)
        return seen, events

    def expect_refused(self, outcome: Outcome, code: str, status: int | None = None) -> None:
        assert isinstance(outcome, JunbanError), f"expected {code}, got {outcome!r}"
        assert outcome.code == code
        if status is not None:
            assert outcome.status == status

    def expect_done(self, outcome: Outcome) -> list[Event]:
        assert not isinstance(outcome, JunbanError), f"refused: {outcome.code} {outcome}"
        return outcome

    def transition(self, cmd: Any, action: str, wait: float) -> tuple[QueueState, Outcome, str]:
        """Run a ticket command; check it against ``rules.TRANSITIONS``."""
        ticket_id = self.resolve(cmd.ticket_id)
        seen, outcome = self.run(dataclasses.replace(cmd, ticket_id=ticket_id), wait)
        ticket = seen.tickets.get(ticket_id)
        allowed, target = rules.TRANSITIONS[action]
        if ticket is None:
            self.expect_refused(outcome, "unknown_ticket", 404)
        elif ticket.status not in allowed:
            self.expect_refused(outcome, "illegal_transition", 409)
        else:
            self.expect_done(outcome)
            assert self.state.tickets[ticket_id].status == target
        return seen, outcome, ticket_id

    @initialize(
        reception=st.sampled_from([True, True, True, False]),
        web=st.sampled_from([True, True, False]),
        config=S.configs(valid_only=True),
        first_patients=st.lists(S.staff_issues(), max_size=6),
    )
    def morning(
        self, reception: bool, web: bool, config: QueueConfig, first_patients: list[IssueTicket]
    ) -> None:
        """Usually the clinic has set its queue up, opened reception (and web acceptance) and
        some patients have come to the desk before the rules start interleaving."""
        self.configure(Configure(at=0.0, config=config), 0.0)
        self.set_reception(reception, 0.0)
        self.set_web(web, 0.0)
        for issue in first_patients:
            self.issue(issue, 1.0)

    # ---- the clock (every command also waits a few seconds to minutes first) ----------------

    @rule(hours=st.floats(min_value=1, max_value=10, allow_nan=False))
    def pause(self, hours: float) -> None:
        self.now += hours * 3600

    @rule(after=st.floats(min_value=0, max_value=4 * 3600, allow_nan=False))
    def sleep_past_midnight(self, after: float) -> None:
        self.now = S.next_local_midnight(self.now, S.TOKYO) + after

    # ---- reception and web ------------------------------------------------------------------

    @rule(is_open=st.booleans(), wait=S.clock_steps())
    def set_reception(self, is_open: bool, wait: float) -> None:
        command = OpenReception(at=0.0) if is_open else CloseReception(at=0.0)
        self.expect_done(self.run(command, wait)[1])
        assert self.state.open == is_open

    @rule(is_open=st.booleans(), wait=S.clock_steps())
    def set_web(self, is_open: bool, wait: float) -> None:
        self.expect_done(self.run(OpenWeb(at=0.0) if is_open else CloseWeb(at=0.0), wait)[1])
        assert self.state.web_open == is_open

    # ---- tickets ----------------------------------------------------------------------------

    @rule(cmd=S.web_issues(), wait=S.clock_steps())
    def issue_on_the_web(self, cmd: IssueTicket, wait: float) -> None:
        self.issue(cmd, wait)

    @rule(cmd=S.staff_issues(), wait=S.clock_steps())
    def issue_at_the_clinic(self, cmd: IssueTicket, wait: float) -> None:
        self.issue(cmd, wait)

    def issue(self, cmd: IssueTicket, wait: float) -> None:
        ticket_id = self.resolve(cmd.ticket_id)
        if cmd.ticket_id == "?new" or ticket_id == S.NEVER_ISSUED:
            self.serial += 1
            ticket_id = f"t{self.serial}"
        seen, outcome = self.run(dataclasses.replace(cmd, ticket_id=ticket_id), wait)
        refusal = expected_issue_refusal(
            seen, dataclasses.replace(cmd, ticket_id=ticket_id, at=self.now)
        )
        if refusal is not None:
            self.expect_refused(outcome, refusal)
            return
        self.expect_done(outcome)
        ticket = self.state.tickets[ticket_id]
        assert (ticket.number, ticket.status, ticket.channel, ticket.priority) == (
            seen.last_number + 1,
            "waiting",
            cmd.channel,
            cmd.priority,
        )
        assert (ticket.name, ticket.phone, ticket.note) == (cmd.name, cmd.phone, cmd.note)
        if cmd.channel == "web":
            cap = seen.config.web_daily_cap
            assert self.state.web_issued == seen.web_issued + 1
            if cap is not None:
                assert self.state.web_issued <= cap, "more web tickets than the daily cap"
                if self.state.web_issued == cap:
                    assert not self.state.web_open
                    assert self.state.web_closed_reason == "cap"

    @rule(cmd=S.call_nexts(), wait=S.clock_steps())
    def call_next(self, cmd: CallNext, wait: float) -> None:
        seen, outcome = self.run(cmd, wait)
        if not seen.waiting:
            self.expect_refused(outcome, "queue_empty", 409)
            return
        events = self.expect_done(outcome)
        head = seen.waiting[0]
        assert [e.ticket_id for e in events if isinstance(e, TicketCalled)] == [head]
        self.check_called_into_room(seen, head, cmd.room)

    @rule(cmd=S.call_tickets(), wait=S.clock_steps())
    def call_ticket(self, cmd: CallTicket, wait: float) -> None:
        seen, outcome, ticket_id = self.transition(cmd, "call", wait)
        if not isinstance(outcome, JunbanError):
            self.check_called_into_room(seen, ticket_id, cmd.room)

    def check_called_into_room(self, seen: QueueState, ticket_id: str, room: str) -> None:
        """The ticket is now the newest call in ``room``; whoever the room had is done."""
        called = self.state.tickets[ticket_id]
        assert self.state.calling[0] == ticket_id
        assert (called.status, called.room, called.called_at) == ("called", room, self.now)
        for previous in seen.calling:
            if seen.tickets[previous].room == room:
                assert self.state.tickets[previous].status == "done"
            else:
                assert self.state.tickets[previous] == seen.tickets[previous]

    @rule(cmd=S.recalls(), wait=S.clock_steps())
    def recall(self, cmd: Recall, wait: float) -> None:
        seen, outcome, ticket_id = self.transition(cmd, "recall", wait)
        if not isinstance(outcome, JunbanError):
            assert self.state.calling[0] == ticket_id
            assert self.state.tickets[ticket_id].recalls == seen.tickets[ticket_id].recalls + 1
            assert self.state.tickets[ticket_id].room == seen.tickets[ticket_id].room

    @rule(cmd=S.mark_absents(), wait=S.clock_steps())
    def mark_absent(self, cmd: MarkAbsent, wait: float) -> None:
        self.transition(cmd, "absent", wait)

    @rule(cmd=S.requeues(), wait=S.clock_steps())
    def requeue(self, cmd: Requeue, wait: float) -> None:
        seen, outcome, ticket_id = self.transition(cmd, "requeue", wait)
        if not isinstance(outcome, JunbanError):
            size = len(seen.waiting)
            expected = size if cmd.to_end else min(seen.config.requeue_offset, size)
            assert self.state.waiting.index(ticket_id) == expected
            others = [t for t in self.state.waiting if t != ticket_id]
            assert others == seen.waiting, "a requeue reordered the others"

    @rule(cmd=S.completes(), wait=S.clock_steps())
    def complete(self, cmd: Complete, wait: float) -> None:
        self.transition(cmd, "complete", wait)

    @rule(cmd=S.cancels(), wait=S.clock_steps())
    def cancel(self, cmd: Cancel, wait: float) -> None:
        self.transition(cmd, "cancel", wait)

    # ---- settings ---------------------------------------------------------------------------

    @rule(cmd=S.set_messages(), wait=S.clock_steps())
    def set_message(self, cmd: SetMessage, wait: float) -> None:
        self.expect_done(self.run(cmd, wait)[1])
        assert self.state.message == cmd.text

    @rule(cmd=S.set_notices(), wait=S.clock_steps())
    def set_notices(self, cmd: SetNotices, wait: float) -> None:
        seen, outcome = self.run(cmd, wait)
        if any(len(n.message) > 500 for n in cmd.notices):
            self.expect_refused(outcome, "invalid_body", 422)
            assert self.state.notices == seen.notices
        else:
            self.expect_done(outcome)
            assert self.state.notices == cmd.notices
            assert views.public_view(self.state)["notices"] == [n.public() for n in cmd.notices]

    @rule(cmd=S.set_suspendeds(), wait=S.clock_steps())
    def set_suspended(self, cmd: SetSuspended, wait: float) -> None:
        self.expect_done(self.run(cmd, wait)[1])
        assert self.state.suspended == cmd.suspended

    @rule(cmd=S.configures(), wait=S.clock_steps())
    def configure(self, cmd: Configure, wait: float) -> None:
        seen, outcome = self.run(cmd, wait)
        if S.config_is_valid(cmd.config):
            self.expect_done(outcome)
            assert self.state.config == cmd.config
        else:
            self.expect_refused(outcome, "invalid_body", 422)

    # ---- invariants -------------------------------------------------------------------------

    @invariant()
    def numbers_run_from_one_in_issue_order_and_nothing_is_lost(self) -> None:
        s = self.state
        assert list(s.tickets) == self.today
        assert [s.tickets[t].number for t in self.today] == list(range(1, len(self.today) + 1))
        assert s.last_number == len(self.today)
        assert all(t.id == key for key, t in s.tickets.items())

    @invariant()
    def every_ticket_is_in_exactly_the_list_its_status_says(self) -> None:
        s = self.state
        assert all(t.status in STATUSES for t in s.tickets.values())
        assert len(set(s.waiting)) == len(s.waiting)
        assert len(set(s.calling)) == len(s.calling)
        assert set(s.waiting) == {k for k, t in s.tickets.items() if t.status == "waiting"}
        assert set(s.calling) == {k for k, t in s.tickets.items() if t.status == "called"}

    @invariant()
    def never_requeued_tickets_wait_priority_first_then_by_number(self) -> None:
        lane = [self.state.tickets[t] for t in self.state.waiting if t not in self.requeued]
        priority = [t.number for t in lane if t.priority]
        plain = [t.number for t in lane if not t.priority]
        assert [t.number for t in lane] == priority + plain, "a plain ticket before a priority one"
        assert plain == sorted(plain), "plain tickets out of issue order"
        assert priority == sorted(priority), "priority tickets out of issue order"

    @invariant()
    def a_room_calls_at_most_one_ticket(self) -> None:
        rooms = [self.state.tickets[t].room for t in self.state.calling]
        assert None not in rooms
        assert len(set(rooms)) == len(rooms)

    @invariant()
    def web_count_and_pace_are_consistent(self) -> None:
        s = self.state
        assert s.web_issued == sum(t.channel == "web" for t in s.tickets.values())
        assert estimate.MIN_PACE <= s.minutes_per_patient <= estimate.MAX_PACE

    @invariant()
    def replaying_every_event_gives_the_same_state(self) -> None:
        replayed = rules.evolve_all(empty_state(), self.events)
        assert dataclasses.replace(replayed, version=self.state.version) == self.state
        assert decode_state(encode_state(self.state)) == self.state

    @invariant()
    def public_view_carries_no_personal_data(self) -> None:
        personal = {
            value
            for t in self.state.tickets.values()
            for value in (t.name, t.phone, t.note)
            if value
        }
        leaked = [
            text
            for text in strings_in(views.public_view(self.state))
            if any(value in text for value in personal)
        ]
        assert not leaked


TestQueueMachine = QueueMachine.TestCase
TestQueueMachine.settings = settings(max_examples=200, stateful_step_count=50, deadline=None)


# ---- the tables, one rule at a time ----------------------------------------------------------


def day_at(day: date, hour: int, minute: int = 0, second: float = 0.0) -> float:
    """The instant ``hour:minute`` (minute may exceed 59) plus ``second`` on ``day`` in Tokyo."""
    hour, minute = divmod(hour * 60 + minute, 60)
    local = datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(S.TOKYO))
    return local.timestamp() + second


def fold(*events: Event) -> QueueState:
    return rules.evolve_all(empty_state(), [created(), *events])


def decide_all(state: QueueState, *commands: Command) -> QueueState:
    for command in commands:
        state = rules.evolve_all(state, rules.decide(state, command))
    return state


REACH: dict[str, tuple[type[Command], ...]] = {
    "waiting": (),
    "called": (CallNext,),
    "done": (CallNext, Complete),
    "absent": (MarkAbsent,),
    "cancelled": (Cancel,),
}
"""Commands that take a fresh ticket ``t1`` to each status."""

ACTIONS: dict[str, type[Command]] = {
    "call": CallTicket,
    "recall": Recall,
    "absent": MarkAbsent,
    "requeue": Requeue,
    "complete": Complete,
    "cancel": Cancel,
}


def ticket_in(status: str, at: float) -> QueueState:
    state = decide_all(
        empty_state(),
        OpenReception(at=at),
        IssueTicket(at=at, ticket_id="t1", channel="desk"),
    )
    for kind in REACH[status]:
        command = kind(at=at) if kind is CallNext else kind(at=at, ticket_id="t1")
        state = decide_all(state, command)
    assert state.tickets["t1"].status == status
    return state


@given(
    action=st.sampled_from(sorted(ACTIONS)),
    status=st.sampled_from(STATUSES),
    day=S.dates(),
)
def test_an_action_is_allowed_exactly_from_the_statuses_in_the_transition_table(
    action: str, status: str, day: date
) -> None:
    at = day_at(day, 10)
    state = ticket_in(status, at)
    before = copy.deepcopy(state)
    allowed, target = rules.TRANSITIONS[action]
    command = ACTIONS[action](at=at + 60, ticket_id="t1")
    if status in allowed:
        assert rules.evolve_all(state, rules.decide(state, command)).tickets["t1"].status == target
        return
    with pytest.raises(JunbanError) as refused:
        rules.decide(state, command)
    assert (refused.value.status, refused.value.code) == (409, "illegal_transition")
    assert refused.value.extra == {"status": status}
    assert state == before


WEB_FAULTS = ("suspended", "outside_hours", "reception_closed", "cap", "web_closed")
"""What stops a web ticket, in the order the rules check them."""
FAULT_CODES = {
    "suspended": ("facility_suspended", 403),
    "outside_hours": ("outside_service_hours", 503),
    "reception_closed": ("reception_closed", 409),
    "cap": ("daily_cap_reached", 409),
    "web_closed": ("web_closed", 409),
}


@given(
    faults=st.sets(st.sampled_from(WEB_FAULTS)),
    day=S.dates(),
    cap=st.integers(min_value=0, max_value=3),
    early_minute=st.integers(min_value=0, max_value=6 * 60 - 1),
    in_hours_minute=st.integers(min_value=6 * 60, max_value=24 * 60 - 1),
)
def test_a_web_ticket_is_refused_with_the_code_of_the_first_thing_that_stops_it(
    faults: set[str], day: date, cap: int, early_minute: int, in_hours_minute: int
) -> None:
    minute = early_minute if "outside_hours" in faults else in_hours_minute
    at = day_at(day, 0, minute, second=30.0)
    commands: list[Command] = [OpenReception(at=at), OpenWeb(at=at)]
    if "cap" in faults:
        commands.append(Configure(at=at, config=QueueConfig(web_daily_cap=cap)))
        commands += [IssueTicket(at=at, ticket_id=f"w{i}", channel="web") for i in range(cap)]
    if "web_closed" in faults:
        commands.append(CloseWeb(at=at))
    if "reception_closed" in faults:
        commands.append(CloseReception(at=at))
    if "suspended" in faults:
        commands.append(SetSuspended(at=at, suspended=True))
    state = decide_all(empty_state(), *commands)
    before = copy.deepcopy(state)
    issue = IssueTicket(at=at, ticket_id="new", channel="web", service_hours=S.SERVICE_HOURS)
    first = next((fault for fault in WEB_FAULTS if fault in faults), None)
    if first is None:
        assert rules.evolve_all(state, rules.decide(state, issue)).tickets["new"].number == 1
        return
    with pytest.raises(JunbanError) as refused:
        rules.decide(state, issue)
    assert (refused.value.code, refused.value.status) == FAULT_CODES[first]
    assert state == before


@given(day=S.dates(), channel=st.sampled_from(S.STAFF_CHANNELS))
def test_only_staff_channels_may_issue_priority_tickets(day: date, channel: str) -> None:
    at = day_at(day, 10)
    state = decide_all(empty_state(), OpenReception(at=at), OpenWeb(at=at))
    with pytest.raises(JunbanError) as refused:
        rules.decide(state, IssueTicket(at=at, ticket_id="w", channel="web", priority=True))
    assert (refused.value.code, refused.value.status) == ("forbidden", 403)
    staff = IssueTicket(at=at, ticket_id="s", channel=channel, priority=True)
    assert rules.evolve_all(state, rules.decide(state, staff)).tickets["s"].priority


@given(config=S.configs())
def test_configure_accepts_exactly_the_valid_settings(config: QueueConfig) -> None:
    state = fold()
    command = Configure(at=S.START_AT, config=config)
    if S.config_is_valid(config):
        assert rules.evolve_all(state, rules.decide(state, command)).config == config
        return
    with pytest.raises(JunbanError) as refused:
        rules.decide(state, command)
    assert (refused.value.code, refused.value.status) == ("invalid_body", 422)


def test_a_new_priority_ticket_never_overtakes_an_earlier_one() -> None:
    at = day_at(date(2025, 3, 3), 10)
    state = decide_all(
        empty_state(),
        OpenReception(at=at),
        Configure(at=at, config=QueueConfig(requeue_offset=0)),
        IssueTicket(at=at, ticket_id="x", channel="desk"),
        CallNext(at=at),
        IssueTicket(at=at, ticket_id="p2", channel="desk", priority=True),
        IssueTicket(at=at, ticket_id="a3", channel="desk"),
        Requeue(at=at, ticket_id="x"),  # x is back at the head: [x, p2, a3]
        IssueTicket(at=at, ticket_id="p4", channel="desk", priority=True),
    )
    assert state.waiting.index("p2") < state.waiting.index("p4")


def test_a_command_stamped_before_midnight_never_rolls_the_day_back() -> None:
    """Decided after the new day began (a slow request, clock skew), it joins the new day."""
    day2 = day_at(date(2025, 3, 4), 0) + 1
    state = decide_all(
        empty_state(),
        OpenReception(at=day2),
        IssueTicket(at=day2, ticket_id="b", channel="desk"),
        IssueTicket(at=day2 - 2, ticket_id="a", channel="desk"),  # stamped 23:59:59
    )
    assert state.day == "2025-03-04"
    assert (state.tickets["b"].number, state.tickets["a"].number) == (1, 2)


def test_start_day_rolls_only_a_queue_still_on_an_earlier_day() -> None:
    yesterday = day_at(date(2025, 3, 3), 15)
    state = decide_all(
        empty_state(),
        OpenReception(at=yesterday),
        IssueTicket(at=yesterday, ticket_id="y", channel="desk"),
    )
    morning = day_at(date(2025, 3, 4), 7)
    events = rules.decide(state, StartDay(at=morning))
    assert [e.kind for e in events] == ["day_started"]
    today = rules.evolve_all(state, events)
    assert (today.day, today.tickets, today.open) == ("2025-03-04", {}, True)
    assert rules.decide(today, StartDay(at=morning + 60)) == []
