"""The queue's business rules. Pure: no I/O, no clock reads (time comes in the command).

``decide(state, command) -> events`` says what happens, or raises a ``JunbanError`` with a
stable code and changes nothing. ``evolve(state, event) -> state`` (``hub.queue.evolve``,
re-exported here) folds one event into a new state. The first command of a new business day
(facility time zone) starts the day: the numbering restarts at 1 and the previous day's
tickets are left behind in the stream.

Ticket life (``TRANSITIONS``)::

    waiting ──call──▶ called ──complete──▶ done
       │  ▲             │ ▲ recall
       │  └──requeue────┤ │
       │                ▼ │
       ├──absent────▶ absent ──call──▶ called
       └──cancel (from waiting, called, absent)──▶ cancelled
       └──transfer (from waiting, called, absent)──▶ transferred (joins another counter's
          line as waiting, same id and number: ``decide_transfer``)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hub.booking import config as booking_config
from hub.errors import Conflict, Forbidden, NotFound, Unavailable, Unprocessable
from hub.queue import annotate, calendar, estimate, patient, placement, transfer
from hub.queue.events import (
    Configured,
    DayStarted,
    Event,
    MessageSet,
    NoticesSet,
    ProfileSet,
    RangeFactorsSet,
    ReceptionClosed,
    ReceptionOpened,
    SuspensionSet,
    TicketAbsent,
    TicketCalled,
    TicketCancelled,
    TicketCompleted,
    TicketIssued,
    TicketRecalled,
    TicketRequeued,
    WebClosed,
    WebOpened,
)

# evolve lives in hub.queue.evolve; re-exported so `rules.decide` / `rules.evolve` stay one API
from hub.queue.evolve import apply_in_place as apply_in_place
from hub.queue.evolve import evolve as evolve
from hub.queue.evolve import evolve_all as evolve_all
from hub.queue.model import (
    CHANNELS,
    AdmitBooking,
    Annotate,
    CallNext,
    CallTicket,
    Cancel,
    CheckIn,
    CloseReception,
    CloseWeb,
    Command,
    Complete,
    Configure,
    IssueTicket,
    LinkPatient,
    MarkAbsent,
    OpenReception,
    OpenWeb,
    Postpone,
    QueueState,
    Recall,
    Requeue,
    SetBands,
    SetMessage,
    SetNotices,
    SetProfile,
    SetRangeFactors,
    SetSuspended,
    StartDay,
    Ticket,
    TransferIn,
    TransferOut,
    split_info,
)

TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "call": (frozenset({"waiting", "absent"}), "called"),
    "recall": (frozenset({"called"}), "called"),
    "absent": (frozenset({"waiting", "called"}), "absent"),
    "requeue": (frozenset({"absent", "called"}), "waiting"),
    "complete": (frozenset({"called"}), "done"),
    "cancel": (frozenset({"waiting", "called", "absent"}), "cancelled"),
    "transfer": (transfer.TRANSFERABLE, "transferred"),
}
"""action -> (statuses it may start from, status it leads to)."""


MAX_POSTPONES = patient.MAX_POSTPONES

MAX_TEXT = {"name": 100, "phone": 32, "note": 500, "message": 500, "room": 16}


# ---- decide ---------------------------------------------------------------------------------


def decide(state: QueueState, command: Command) -> list[Event]:
    """The events ``command`` causes in ``state``; raises a JunbanError to refuse it."""
    events: list[Event] = []
    day = calendar.business_day(command.at, state.config.tz)
    if day > state.day:  # ISO dates; a command stamped just before midnight but decided
        # after the new day started belongs to the new day, never back to the old one
        started = DayStarted(at=command.at, day=day)
        events.append(started)
        state = evolve(state, started)
    handler = _DECIDERS.get(type(command))
    if handler is None:
        raise Unprocessable(f"unknown command {type(command).__name__}")
    events.extend(handler(state, command))
    return events


def _open_reception(state: QueueState, cmd: Command) -> list[Event]:
    return [] if state.open else [ReceptionOpened(at=cmd.at)]


def _close_reception(state: QueueState, cmd: Command) -> list[Event]:
    return [ReceptionClosed(at=cmd.at)] if state.open else []


def _open_web(state: QueueState, cmd: Command) -> list[Event]:
    return [] if state.web_open else [WebOpened(at=cmd.at)]


def _close_web(state: QueueState, cmd: Command) -> list[Event]:
    """Also after an automatic closure: then the staff's "closed" outlives the day change."""
    if state.web_open or state.web_closed_reason != "staff":
        return [WebClosed(at=cmd.at, reason="staff")]
    return []


def _issue(state: QueueState, cmd: IssueTicket) -> list[Event]:
    if cmd.channel not in CHANNELS or cmd.channel == "reserved":
        raise Unprocessable("channel must be one of web, desk, kiosk, phone")
    if cmd.ticket_id in state.tickets:
        raise Conflict("that ticket id is already taken", code="duplicate_ticket")
    _check_lengths(name=cmd.name, phone=cmd.phone, note=cmd.note)
    if cmd.patient_ref is not None:
        annotate.check_patient_ref(cmd.patient_ref)
    if cmd.channel == "web":
        _check_web_acceptance(state, cmd)
        if cmd.priority:
            raise Forbidden("only staff may issue priority tickets")
    if cmd.channel == "kiosk" and state.suspended:
        raise Forbidden("this facility's service is suspended", code="facility_suspended")
    if cmd.channel in ("web", "kiosk") and not state.open:
        raise Conflict("reception is closed", code="reception_closed")
    ticket = Ticket(
        id=cmd.ticket_id,
        number=state.last_number + 1,
        channel=cmd.channel,
        issued_at=cmd.at,
        priority=cmd.priority,
        name=cmd.name,
        phone=cmd.phone,
        note=cmd.note,
        patient_ref=cmd.patient_ref,
        phone_consent=cmd.phone_consent,
    )
    events: list[Event] = [TicketIssued(at=cmd.at, ticket=ticket)]
    if cmd.channel == "web":
        events.extend(_auto_close_web(state, cmd.at))
    return events


def _check_web_acceptance(state: QueueState, cmd: IssueTicket) -> None:
    if state.suspended:
        raise Forbidden("this facility's service is suspended", code="facility_suspended")
    hours = cmd.service_hours
    if hours is not None and not calendar.in_hours(cmd.at, state.config.tz, hours):
        raise Unavailable(
            f"tickets can be taken from {hours[0]} to {hours[1]} (clinic time)",
            code="outside_service_hours",
        )
    if not state.open:
        raise Conflict("reception is closed", code="reception_closed")
    cap = state.config.web_daily_cap
    if (cap is not None and state.web_issued >= cap) or (
        not state.web_open and state.web_closed_reason == "cap"
    ):
        raise Conflict("today's web tickets are all taken", code="daily_cap_reached")
    if not state.web_open or _too_late(state, cmd.at, len(state.waiting)):
        raise Conflict("web acceptance is closed", code="web_closed")


def _too_late(state: QueueState, at: float, ahead: int) -> bool:
    """Would a ticket with ``ahead`` people before it be called after ``close_web_at``?"""
    close_at = state.config.close_web_at
    if close_at is None:
        return False
    minutes = estimate.wait_minutes(ahead, state.minutes_per_patient)
    return calendar.local_minute(at, state.config.tz) + minutes > calendar.minute_of_day(close_at)


def _auto_close_web(state: QueueState, at: float) -> list[Event]:
    """Close web acceptance after this ticket when the cap is reached or time runs out."""
    cap = state.config.web_daily_cap
    if cap is not None and state.web_issued + 1 >= cap:
        return [WebClosed(at=at, reason="cap")]
    if _too_late(state, at, len(state.waiting) + 1):
        return [WebClosed(at=at, reason="closing_time")]
    return []


def _call_next(state: QueueState, cmd: CallNext) -> list[Event]:
    _check_lengths(room=cmd.room)
    if not state.waiting:
        raise Conflict("nobody is waiting", code="queue_empty")
    return [*_finish_room(state, cmd.room, cmd.at), _called(state.waiting[0], cmd.room, cmd.at)]


def _call_ticket(state: QueueState, cmd: CallTicket) -> list[Event]:
    _check_lengths(room=cmd.room)
    _transition(state, cmd.ticket_id, "call")
    return [*_finish_room(state, cmd.room, cmd.at), _called(cmd.ticket_id, cmd.room, cmd.at)]


def _called(ticket_id: str, room: str, at: float) -> TicketCalled:
    return TicketCalled(at=at, ticket_id=ticket_id, room=room)


def _finish_room(state: QueueState, room: str, at: float) -> list[Event]:
    """Calling someone into a room completes whoever that room called before."""
    return [
        TicketCompleted(at=at, ticket_id=tid)
        for tid in state.calling
        if state.tickets[tid].room == room
    ]


def _recall(state: QueueState, cmd: Recall) -> list[Event]:
    _transition(state, cmd.ticket_id, "recall")
    return [TicketRecalled(at=cmd.at, ticket_id=cmd.ticket_id)]


def _absent(state: QueueState, cmd: MarkAbsent) -> list[Event]:
    _transition(state, cmd.ticket_id, "absent")
    return [TicketAbsent(at=cmd.at, ticket_id=cmd.ticket_id)]


def _requeue(state: QueueState, cmd: Requeue) -> list[Event]:
    _transition(state, cmd.ticket_id, "requeue")
    size = len(state.waiting)
    position = size if cmd.to_end else min(max(state.config.requeue_offset, 0), size)
    return [TicketRequeued(at=cmd.at, ticket_id=cmd.ticket_id, position=position)]


def decide_transfer(
    source: QueueState, target: QueueState, ticket_id: str, at: float
) -> tuple[list[Event], list[Event]]:
    """Move a ticket from ``source`` to ``target`` (two counters of one facility): the
    events of each queue. The ticket keeps its id and number and joins the target's line
    as a new arrival would. Both halves are idempotent by ticket id and hop count: a repeat
    of a transfer that happened (or half happened) changes nothing more than completing it."""
    here, there = split_info(source.info), split_info(target.info)
    if here is None or there is None or here[0] != there[0] or here[1] == there[1]:
        raise Unprocessable("a ticket moves to another counter of the same facility")
    out = decide(source, TransferOut(at=at, ticket_id=ticket_id, to=there[1]))
    moved = evolve_all(source, out).tickets[ticket_id]
    into = decide(target, TransferIn(at=at, ticket=moved, source=here[1]))
    return out, into


def _complete(state: QueueState, cmd: Complete) -> list[Event]:
    _transition(state, cmd.ticket_id, "complete")
    return [TicketCompleted(at=cmd.at, ticket_id=cmd.ticket_id)]


def _cancel(state: QueueState, cmd: Cancel) -> list[Event]:
    _transition(state, cmd.ticket_id, "cancel")
    return [TicketCancelled(at=cmd.at, ticket_id=cmd.ticket_id, by=cmd.by)]


def _set_message(state: QueueState, cmd: SetMessage) -> list[Event]:
    _check_lengths(message=cmd.text)
    return [] if cmd.text == state.message else [MessageSet(at=cmd.at, text=cmd.text)]


def _set_factors(state: QueueState, cmd: SetRangeFactors) -> list[Event]:
    """Factors per estimate class, each 0 <= low <= high <= 10; 422 otherwise."""
    factors = tuple((float(lo), float(hi)) for lo, hi in cmd.factors)
    if len(factors) != len(estimate.DEFAULT_FACTORS) or not all(
        0 <= lo <= hi <= 10 for lo, hi in factors
    ):
        raise Unprocessable("factors are (low, high) per estimate class, 0 <= low <= high <= 10")
    return [] if factors == state.range_factors else [RangeFactorsSet(at=cmd.at, factors=factors)]


def _set_profile(state: QueueState, cmd: SetProfile) -> list[Event]:
    """The facility's name, labels and language as its settings now say (shown live)."""
    return [] if cmd.profile == state.profile else [ProfileSet(at=cmd.at, profile=cmd.profile)]


def _set_notices(state: QueueState, cmd: SetNotices) -> list[Event]:
    for notice in cmd.notices:
        _check_lengths(message=notice.message)
    return [] if cmd.notices == state.notices else [NoticesSet(at=cmd.at, notices=cmd.notices)]


def _set_suspended(state: QueueState, cmd: SetSuspended) -> list[Event]:
    if cmd.suspended == state.suspended:
        return []
    return [SuspensionSet(at=cmd.at, suspended=cmd.suspended)]


def _configure(state: QueueState, cmd: Configure) -> list[Event]:
    config = cmd.config
    try:
        calendar.zone(config.tz)
        if config.close_web_at is not None:
            calendar.minute_of_day(config.close_web_at)
    except ValueError as exc:
        raise Unprocessable(str(exc)) from exc
    if not estimate.MIN_PACE <= config.default_minutes <= estimate.MAX_PACE:
        raise Unprocessable(f"default_minutes must be {estimate.MIN_PACE} to {estimate.MAX_PACE}")
    if config.requeue_offset < 0:
        raise Unprocessable("requeue_offset must be >= 0")
    if config.web_daily_cap is not None and config.web_daily_cap < 0:
        raise Unprocessable("web_daily_cap must be >= 0")
    if config.bookings is not None:
        try:
            booking_config.check(config.bookings, cmd.service_hours)
        except ValueError as exc:
            raise Unprocessable(str(exc), code="invalid_bands") from exc
    return [] if config == state.config else [Configured(at=cmd.at, config=config)]


def _transition(state: QueueState, ticket_id: str, action: str) -> None:
    ticket = state.tickets.get(ticket_id)
    if ticket is None:
        raise NotFound("no such ticket in today's queue", code="unknown_ticket")
    allowed, _ = TRANSITIONS[action]
    if ticket.status not in allowed:
        raise Conflict(
            f"cannot {action} a ticket that is {ticket.status}",
            code="illegal_transition",
            status=ticket.status,
        )


def _check_lengths(**fields: str) -> None:
    for name, value in fields.items():
        if len(value) > MAX_TEXT[name]:
            raise Unprocessable(f"{name} is longer than {MAX_TEXT[name]} characters")


_DECIDERS: dict[type[Command], Callable[[QueueState, Any], list[Event]]] = {
    StartDay: lambda state, cmd: [],
    OpenReception: _open_reception,
    CloseReception: _close_reception,
    OpenWeb: _open_web,
    CloseWeb: _close_web,
    IssueTicket: _issue,
    AdmitBooking: placement.admit,
    SetBands: placement.set_bands,
    CallNext: _call_next,
    CallTicket: _call_ticket,
    Recall: _recall,
    MarkAbsent: _absent,
    Requeue: _requeue,
    CheckIn: patient.check_in,
    Postpone: patient.postpone,
    TransferOut: transfer.transfer_out,
    TransferIn: transfer.transfer_in,
    Complete: _complete,
    Cancel: _cancel,
    SetMessage: _set_message,
    SetNotices: _set_notices,
    SetProfile: _set_profile,
    SetRangeFactors: _set_factors,
    SetSuspended: _set_suspended,
    Configure: _configure,
    Annotate: annotate.annotate,
    LinkPatient: annotate.link_patient,
}
