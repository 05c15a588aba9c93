"""The queue's business rules. Pure: no I/O, no clock reads (time comes in the command).

``decide(state, command) -> events`` says what happens, or raises a ``JunbanError`` with a
stable code and changes nothing. ``evolve(state, event) -> state`` folds one event into a new
state. The first command of a new business day (facility time zone) starts the day: the
numbering restarts at 1 and the previous day's tickets are left behind in the stream.

Ticket life (``TRANSITIONS``)::

    waiting ──call──▶ called ──complete──▶ done
       │  ▲             │ ▲ recall
       │  └──requeue────┤ │
       │                ▼ │
       ├──absent────▶ absent ──call──▶ called
       └──cancel (from waiting, called, absent)──▶ cancelled
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from hub.errors import Conflict, Forbidden, NotFound, Unavailable, Unprocessable
from hub.queue import calendar, estimate
from hub.queue.model import (
    CHANNELS,
    CallNext,
    CallTicket,
    Cancel,
    CloseReception,
    CloseWeb,
    Command,
    Complete,
    Configure,
    Configured,
    DayStarted,
    Event,
    IssueTicket,
    MarkAbsent,
    MessageSet,
    NoticesSet,
    OpenReception,
    OpenWeb,
    QueueCreated,
    QueueState,
    Recall,
    ReceptionClosed,
    ReceptionOpened,
    Requeue,
    SetMessage,
    SetNotices,
    SetSuspended,
    StartDay,
    SuspensionSet,
    Ticket,
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

TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "call": (frozenset({"waiting", "absent"}), "called"),
    "recall": (frozenset({"called"}), "called"),
    "absent": (frozenset({"waiting", "called"}), "absent"),
    "requeue": (frozenset({"absent", "called"}), "waiting"),
    "complete": (frozenset({"called"}), "done"),
    "cancel": (frozenset({"waiting", "called", "absent"}), "cancelled"),
}
"""action -> (statuses it may start from, status it leads to)."""

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
    if cmd.channel not in CHANNELS:
        raise Unprocessable(f"channel must be one of {', '.join(CHANNELS)}")
    if cmd.ticket_id in state.tickets:
        raise Conflict("that ticket id is already taken", code="duplicate_ticket")
    _check_lengths(name=cmd.name, phone=cmd.phone, note=cmd.note)
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


def _complete(state: QueueState, cmd: Complete) -> list[Event]:
    _transition(state, cmd.ticket_id, "complete")
    return [TicketCompleted(at=cmd.at, ticket_id=cmd.ticket_id)]


def _cancel(state: QueueState, cmd: Cancel) -> list[Event]:
    _transition(state, cmd.ticket_id, "cancel")
    return [TicketCancelled(at=cmd.at, ticket_id=cmd.ticket_id, by=cmd.by)]


def _set_message(state: QueueState, cmd: SetMessage) -> list[Event]:
    _check_lengths(message=cmd.text)
    return [] if cmd.text == state.message else [MessageSet(at=cmd.at, text=cmd.text)]


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
    CallNext: _call_next,
    CallTicket: _call_ticket,
    Recall: _recall,
    MarkAbsent: _absent,
    Requeue: _requeue,
    Complete: _complete,
    Cancel: _cancel,
    SetMessage: _set_message,
    SetNotices: _set_notices,
    SetSuspended: _set_suspended,
    Configure: _configure,
}


# ---- evolve ---------------------------------------------------------------------------------


def evolve(state: QueueState, event: Event) -> QueueState:
    """The state after ``event``; ``state`` itself is left as it was."""
    new = state.copy()
    apply_in_place(new, event)
    return new


def evolve_all(state: QueueState, events: Iterable[Event]) -> QueueState:
    """Fold many events with one copy (what the store and replay use)."""
    new = state.copy()
    for event in events:
        apply_in_place(new, event)
    return new


def apply_in_place(s: QueueState, e: Event) -> None:
    """Fold ``e`` into ``s``, changing ``s``. Only for a state the caller owns."""
    _APPLIERS[type(e)](s, e)
    s.updated_at = e.at


def _set_status(s: QueueState, tid: str, status: str, **changes: Any) -> Ticket:
    ticket = replace(s.tickets[tid], status=status, **changes)
    s.tickets[tid] = ticket
    if tid in s.calling and status != "called":
        s.calling.remove(tid)
    if tid in s.waiting and status != "waiting":
        s.waiting.remove(tid)
    return ticket


def _a_created(s: QueueState, e: QueueCreated) -> None:
    s.info, s.config, s.minutes_per_patient = e.info, e.config, e.config.default_minutes


def _a_day(s: QueueState, e: DayStarted) -> None:
    s.day, s.last_number, s.web_issued = e.day, 0, 0
    s.tickets, s.waiting, s.calling = {}, [], []
    s.minutes_per_patient, s.last_call_at = s.config.default_minutes, None
    if not s.web_open and s.web_closed_reason in ("cap", "closing_time"):
        s.web_open, s.web_closed_reason = True, "staff"


def _a_reception(opened: bool) -> Callable[[QueueState, Event], None]:
    def apply(s: QueueState, e: Event) -> None:
        s.open = opened

    return apply


def _a_web_opened(s: QueueState, e: WebOpened) -> None:
    s.web_open, s.web_closed_reason = True, "staff"


def _a_web_closed(s: QueueState, e: WebClosed) -> None:
    s.web_open, s.web_closed_reason = False, e.reason


def _a_issued(s: QueueState, e: TicketIssued) -> None:
    t = e.ticket
    s.tickets[t.id] = t
    s.last_number = t.number
    if t.channel == "web":
        s.web_issued += 1
    if t.priority:
        # after the last priority ticket still in its arrival place: priority tickets keep
        # their order, and go before every plain ticket that has not been put back by staff
        place = 0
        for i, tid in enumerate(s.waiting):
            other = s.tickets[tid]
            if other.priority and not other.requeued:
                place = i + 1
        s.waiting.insert(place, t.id)
    else:
        s.waiting.append(t.id)


def _a_called(s: QueueState, e: TicketCalled) -> None:
    _set_status(s, e.ticket_id, "called", called_at=e.at, room=e.room, finished_at=None)
    s.calling.insert(0, e.ticket_id)
    s.minutes_per_patient = estimate.next_pace(s.minutes_per_patient, s.last_call_at, e.at)
    s.last_call_at = e.at


def _a_recalled(s: QueueState, e: TicketRecalled) -> None:
    ticket = s.tickets[e.ticket_id]
    s.tickets[e.ticket_id] = replace(ticket, recalls=ticket.recalls + 1, called_at=e.at)
    s.calling.remove(e.ticket_id)
    s.calling.insert(0, e.ticket_id)


def _a_absent(s: QueueState, e: TicketAbsent) -> None:
    _set_status(s, e.ticket_id, "absent", finished_at=e.at)


def _a_requeued(s: QueueState, e: TicketRequeued) -> None:
    _set_status(s, e.ticket_id, "waiting", room=None, finished_at=None, requeued=True)
    s.waiting.insert(min(e.position, len(s.waiting)), e.ticket_id)


def _a_completed(s: QueueState, e: TicketCompleted) -> None:
    _set_status(s, e.ticket_id, "done", finished_at=e.at)


def _a_cancelled(s: QueueState, e: TicketCancelled) -> None:
    _set_status(s, e.ticket_id, "cancelled", finished_at=e.at)


def _a_message(s: QueueState, e: MessageSet) -> None:
    s.message = e.text


def _a_notices(s: QueueState, e: NoticesSet) -> None:
    s.notices = e.notices


def _a_suspension(s: QueueState, e: SuspensionSet) -> None:
    s.suspended = e.suspended


def _a_configured(s: QueueState, e: Configured) -> None:
    s.config = e.config
    if s.last_call_at is None:  # no call yet today: the new default is the best estimate
        s.minutes_per_patient = e.config.default_minutes


_APPLIERS: dict[type[Event], Callable[[QueueState, Any], None]] = {
    QueueCreated: _a_created,
    DayStarted: _a_day,
    ReceptionOpened: _a_reception(True),
    ReceptionClosed: _a_reception(False),
    WebOpened: _a_web_opened,
    WebClosed: _a_web_closed,
    TicketIssued: _a_issued,
    TicketCalled: _a_called,
    TicketRecalled: _a_recalled,
    TicketAbsent: _a_absent,
    TicketRequeued: _a_requeued,
    TicketCompleted: _a_completed,
    TicketCancelled: _a_cancelled,
    MessageSet: _a_message,
    NoticesSet: _a_notices,
    SuspensionSet: _a_suspension,
    Configured: _a_configured,
}
