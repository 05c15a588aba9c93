"""How events change a queue's state: ``evolve(state, event) -> state``. Pure: no I/O, no
clock reads. ``hub.queue.rules`` decides which events a command produces; this module folds
them (the writer, the store's replay and the readers all use it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

from msgspec.structs import replace

from hub.queue import estimate
from hub.queue.events import (
    BandsSet,
    Configured,
    DayStarted,
    Event,
    MessageSet,
    NoticesSet,
    ProfileSet,
    QueueCreated,
    RangeFactorsSet,
    ReceptionClosed,
    ReceptionOpened,
    SuspensionSet,
    TicketAbsent,
    TicketAnnotated,
    TicketArrived,
    TicketCalled,
    TicketCancelled,
    TicketCompleted,
    TicketIssued,
    TicketLinked,
    TicketPostponed,
    TicketRecalled,
    TicketRequeued,
    TicketTransferredIn,
    TicketTransferredOut,
    WebClosed,
    WebOpened,
)
from hub.queue.model import QueueState, Ticket


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
    s.bands = ()
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
    place = _arrival_place(s, t) if e.position is None else min(e.position, len(s.waiting))
    s.waiting.insert(place, t.id)
    if t.band is not None and s.bands:
        _arrived_from_band(s, t.band)


def _arrived_from_band(s: QueueState, label: str) -> None:
    """A booking of band ``label`` checked in: one fewer expected at once, so walk-ins'
    estimates never count it twice until the booking service's next ``SetBands``."""
    s.bands = tuple(
        dataclasses.replace(b, expected=b.expected - 1)
        if b.label == label and b.expected > 0
        else b
        for b in s.bands
    )


def _arrival_place(s: QueueState, t: Ticket) -> int:
    """Where a ticket joining the line goes: the end; a priority ticket after the last
    priority ticket still in its arrival place (priority tickets keep their order, and go
    before every plain ticket that has not been put back by staff)."""
    if not t.priority:
        return len(s.waiting)
    place = 0
    for i, tid in enumerate(s.waiting):
        other = s.tickets[tid]
        if other.priority and not other.requeued:
            place = i + 1
    return place


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


def _a_arrived(s: QueueState, e: TicketArrived) -> None:
    s.tickets[e.ticket_id] = replace(s.tickets[e.ticket_id], arrived_at=e.at)


def _a_postponed(s: QueueState, e: TicketPostponed) -> None:
    """``position``: its index in the line after the move (it gives up its arrival place and
    is no longer here)."""
    ticket = s.tickets[e.ticket_id]
    s.tickets[e.ticket_id] = replace(
        ticket, postponed=ticket.postponed + 1, arrived_at=None, requeued=True
    )
    s.waiting.remove(e.ticket_id)
    s.waiting.insert(min(e.position, len(s.waiting)), e.ticket_id)


def _a_transferred_out(s: QueueState, e: TicketTransferredOut) -> None:
    hops = s.tickets[e.ticket_id].hops + 1
    _set_status(s, e.ticket_id, "transferred", to_counter=e.to, finished_at=e.at, hops=hops)


def _a_transferred_in(s: QueueState, e: TicketTransferredIn) -> None:
    """Joins the line as a new arrival would (a ticket coming back replaces its old entry)."""
    s.tickets[e.ticket.id] = e.ticket
    s.waiting.insert(_arrival_place(s, e.ticket), e.ticket.id)


def _a_completed(s: QueueState, e: TicketCompleted) -> None:
    _set_status(s, e.ticket_id, "done", finished_at=e.at)


def _a_cancelled(s: QueueState, e: TicketCancelled) -> None:
    _set_status(s, e.ticket_id, "cancelled", finished_at=e.at)


def _a_annotated(s: QueueState, e: TicketAnnotated) -> None:
    """Sets (or replaces, in place) the value of ``key``."""
    ticket = s.tickets[e.ticket_id]
    pairs = [(k, e.value if k == e.key else v) for k, v in ticket.annotations]
    if all(k != e.key for k, _ in ticket.annotations):
        pairs.append((e.key, e.value))
    s.tickets[e.ticket_id] = replace(ticket, annotations=tuple(pairs))


def _a_linked(s: QueueState, e: TicketLinked) -> None:
    s.tickets[e.ticket_id] = replace(s.tickets[e.ticket_id], patient_ref=e.patient_ref)


def _a_message(s: QueueState, e: MessageSet) -> None:
    s.message = e.text


def _a_profile(s: QueueState, e: ProfileSet) -> None:
    s.profile = e.profile


def _a_factors(s: QueueState, e: RangeFactorsSet) -> None:
    s.range_factors = e.factors


def _a_bands(s: QueueState, e: BandsSet) -> None:
    s.bands = e.bands


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
    TicketArrived: _a_arrived,
    TicketPostponed: _a_postponed,
    TicketTransferredOut: _a_transferred_out,
    TicketTransferredIn: _a_transferred_in,
    TicketCompleted: _a_completed,
    TicketCancelled: _a_cancelled,
    TicketAnnotated: _a_annotated,
    TicketLinked: _a_linked,
    MessageSet: _a_message,
    NoticesSet: _a_notices,
    ProfileSet: _a_profile,
    RangeFactorsSet: _a_factors,
    BandsSet: _a_bands,
    SuspensionSet: _a_suspension,
    Configured: _a_configured,
}
