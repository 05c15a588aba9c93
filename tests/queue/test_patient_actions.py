"""Property tests of the patient's own actions: "I'm here" (check-in) and "I'll be late"
(postpone), as pure rules, and what the patient's view offers against what the rules allow."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.errors import JunbanError
from hub.queue import rules, views
from hub.queue.actions import phone_digits
from hub.queue.events import QueueCreated, TicketArrived, TicketPostponed
from hub.queue.model import (
    CallTicket,
    Cancel,
    CheckIn,
    Command,
    Configure,
    IssueTicket,
    MarkAbsent,
    OpenReception,
    Postpone,
    QueueConfig,
    QueueState,
)
from hub.queue.store import decode_event, decode_state, encode_event, encode_state
from tests import strategies as S

STEP = 10.0
relaxed = settings(deadline=None)  # building a queue takes a while on a busy CI machine


def decide_all(state: QueueState, *commands: Command) -> QueueState:
    for command in commands:
        state = rules.evolve_all(state, rules.decide(state, command))
    return state


@st.composite
def queues(draw: st.DrawFn) -> QueueState:
    """Today's queue: 1 to 8 desk tickets (some priority), a few called, absent or cancelled,
    with any requeue offset and either setting of the two patient permissions."""
    config = QueueConfig(
        requeue_offset=draw(st.integers(0, 6)),
        allow_checkin=draw(st.booleans()),
        allow_postpone=draw(st.booleans()),
    )
    at = S.START_AT
    state = rules.evolve_all(
        QueueState(info=S.INFO, epoch=S.EPOCH), [QueueCreated(at=at, info=S.INFO, config=config)]
    )
    state = decide_all(state, OpenReception(at=at))
    count = draw(st.integers(1, 8))
    for i in range(count):
        at += STEP
        issue = IssueTicket(at=at, ticket_id=f"t{i}", channel="desk", priority=draw(st.booleans()))
        state = decide_all(state, issue)
    for i in range(count):
        at += STEP
        fate = draw(st.sampled_from(["wait", "wait", "wait", "call", "absent", "cancel"]))
        tid = f"t{i}"
        if fate == "call":
            state = decide_all(state, CallTicket(at=at, ticket_id=tid, room=str(i)))
        elif fate == "absent":
            state = decide_all(state, MarkAbsent(at=at, ticket_id=tid))
        elif fate == "cancel":
            state = decide_all(state, Cancel(at=at, ticket_id=tid))
    return state


def refusal(state: QueueState, command: Command) -> str | None:
    try:
        rules.decide(state, command)
    except JunbanError as exc:
        return exc.code
    return None


def the_ticket(state: QueueState, data: st.DataObject) -> str:
    return data.draw(st.sampled_from(sorted(state.tickets)), label="ticket")


@relaxed
@given(queues(), st.data())
def test_postpone_moves_a_waiting_ticket_back_by_the_offset_or_is_refused_unchanged(
    state: QueueState, data: st.DataObject
) -> None:
    tid = the_ticket(state, data)
    at = state.updated_at + STEP
    before = decode_state(encode_state(state))
    ticket = state.tickets[tid]
    code = refusal(state, Postpone(at=at, ticket_id=tid))
    if not state.config.allow_postpone:
        assert code == "postpone_not_allowed"
    elif ticket.status != "waiting":
        assert code == "ticket_not_waiting"
    elif state.waiting[-1] == tid or state.config.requeue_offset == 0:
        assert code == "already_last"
    else:
        assert code is None
    if code is not None:
        assert state == before  # a refusal changes nothing
        return
    after = decide_all(state, Postpone(at=at, ticket_id=tid))
    place = state.waiting.index(tid)
    expected = min(place + state.config.requeue_offset, len(state.waiting) - 1)
    assert after.waiting.index(tid) == expected
    assert [t for t in after.waiting if t != tid] == [t for t in state.waiting if t != tid]
    moved = after.tickets[tid]
    assert (moved.postponed, moved.arrived_at, moved.requeued) == (1, None, True)
    assert moved.status == "waiting" and moved.number == ticket.number
    assert after.calling == state.calling


@relaxed
@given(queues(), st.data(), st.integers(3, 6))
def test_a_ticket_moves_itself_back_at_most_twice(
    state: QueueState, data: st.DataObject, tries: int
) -> None:
    state = decide_all(
        state,
        Configure(
            at=state.updated_at + 1,
            config=replace(state.config, allow_postpone=True, requeue_offset=1),
        ),
    )
    for i in range(5):  # others behind it, so "already_last" never stops it
        state = decide_all(
            state, IssueTicket(at=state.updated_at + 1, ticket_id=f"late{i}", channel="desk")
        )
    waiting = [t for t in state.waiting if not t.startswith("late")]
    tid = data.draw(st.sampled_from(waiting or ["late0"]), label="ticket")
    moved = 0
    for _ in range(tries):
        command = Postpone(at=state.updated_at + STEP, ticket_id=tid)
        code = refusal(state, command)
        if code is None:
            state = decide_all(state, command)
            moved += 1
        else:
            assert code == "postpone_limit_reached"
    assert moved == rules.MAX_POSTPONES == state.tickets[tid].postponed


@relaxed
@given(queues(), st.data())
def test_check_in_marks_a_waiting_ticket_once_or_is_refused_unchanged(
    state: QueueState, data: st.DataObject
) -> None:
    tid = the_ticket(state, data)
    at = state.updated_at + STEP
    before = decode_state(encode_state(state))
    code = refusal(state, CheckIn(at=at, ticket_id=tid))
    if not state.config.allow_checkin:
        assert code == "checkin_not_allowed"
    elif state.tickets[tid].status != "waiting":
        assert code == "ticket_not_waiting"
    else:
        assert code is None
    if code is not None:
        assert state == before
        return
    events = rules.decide(state, CheckIn(at=at, ticket_id=tid))
    assert events == [TicketArrived(at=at, ticket_id=tid)]
    after = rules.evolve_all(state, events)
    assert after.tickets[tid].arrived_at == at
    assert after.waiting == state.waiting  # arriving does not move anyone
    assert rules.decide(after, CheckIn(at=at + STEP, ticket_id=tid)) == []  # once is enough


@relaxed
@given(queues(), st.data())
def test_a_late_patient_is_no_longer_marked_here(state: QueueState, data: st.DataObject) -> None:
    config = replace(state.config, allow_checkin=True, allow_postpone=True, requeue_offset=2)
    state = decide_all(state, Configure(at=state.updated_at + 1, config=config))
    state = decide_all(
        state, IssueTicket(at=state.updated_at + 1, ticket_id="behind", channel="desk")
    )
    tid = data.draw(st.sampled_from([t for t in state.waiting if t != "behind"] or ["behind"]))
    state = decide_all(state, CheckIn(at=state.updated_at + 1, ticket_id=tid))
    assert state.tickets[tid].arrived_at is not None
    if tid != "behind":
        state = decide_all(state, Postpone(at=state.updated_at + 1, ticket_id=tid))
        assert state.tickets[tid].arrived_at is None


@relaxed
@given(queues(), st.data())
def test_the_patient_view_offers_exactly_what_the_rules_allow(
    state: QueueState, data: st.DataObject
) -> None:
    tid = the_ticket(state, data)
    at = state.updated_at + STEP
    can = views.ticket_view(state, tid)["can"]
    checkin = refusal(state, CheckIn(at=at, ticket_id=tid)) is None
    assert can["checkin"] == (checkin and rules.decide(state, CheckIn(at=at, ticket_id=tid)) != [])
    assert can["postpone"] == (refusal(state, Postpone(at=at, ticket_id=tid)) is None)


@relaxed
@given(st.floats(0, 2e9, allow_nan=False), st.integers(0, 50))
def test_the_new_events_survive_the_store_codec(at: float, position: int) -> None:
    for event in (
        TicketArrived(at=at, ticket_id="a"),
        TicketPostponed(at=at, ticket_id="a", position=position),
    ):
        assert decode_event(event.kind, encode_event(event)) == event


FULL_WIDTH = str.maketrans("0123456789-", "０１２３４５６７８９－")


@relaxed
@given(st.from_regex(r"\A0[1-9][0-9]{7,9}\Z"), st.sampled_from(["", "-", " ", "ー"]), st.booleans())
def test_a_phone_is_compared_by_its_digits(digits: str, sep: str, wide: bool) -> None:
    """However the patient writes it (hyphens, spaces, full-width digits, +81), the digits
    compared are the domestic number's."""
    written = sep.join([digits[:3], digits[3:7], digits[7:]])
    if wide:
        written = written.translate(FULL_WIDTH)
    assert phone_digits(written) == digits
    assert phone_digits(f"+81 {digits[1:]}") == digits
    assert phone_digits(digits[:-1]) != digits
