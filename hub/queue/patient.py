"""What a patient may do to their own ticket, when the clinic allows it: say "I'm here"
(check-in) and "I'll be late, move me back" (postpone). Pure rules, like ``rules.decide``
(which dispatches ``CheckIn`` and ``Postpone`` here)."""

from __future__ import annotations

from hub.errors import Conflict, NotFound
from hub.queue.events import Event, TicketArrived, TicketPostponed
from hub.queue.model import CheckIn, Postpone, QueueState, Ticket

MAX_POSTPONES = 2
"""How often a patient may move their own ticket back ("I'll be late")."""


def check_in(state: QueueState, cmd: CheckIn) -> list[Event]:
    """The patient is here: marks the ticket (staff see it); once is enough."""
    if not state.config.allow_checkin:
        raise Conflict("this clinic does not take check-ins here", code="checkin_not_allowed")
    ticket = _waiting_ticket(state, cmd.ticket_id)
    if ticket.arrived_at is not None:
        return []
    return [TicketArrived(at=cmd.at, ticket_id=cmd.ticket_id)]


def postpone(state: QueueState, cmd: Postpone) -> list[Event]:
    """The patient will be late: ``requeue_offset`` places back (never past the end), at
    most ``MAX_POSTPONES`` times; it then no longer holds its arrival place."""
    if not state.config.allow_postpone:
        raise Conflict("this clinic does not let patients move back", code="postpone_not_allowed")
    ticket = _waiting_ticket(state, cmd.ticket_id)
    if ticket.postponed >= MAX_POSTPONES:
        raise Conflict(
            f"a ticket moves back at most {MAX_POSTPONES} times", code="postpone_limit_reached"
        )
    place = state.waiting.index(cmd.ticket_id)
    position = min(place + max(state.config.requeue_offset, 0), len(state.waiting) - 1)
    if position == place:
        raise Conflict("nobody waits behind this ticket", code="already_last")
    return [TicketPostponed(at=cmd.at, ticket_id=cmd.ticket_id, position=position)]


def _waiting_ticket(state: QueueState, ticket_id: str) -> Ticket:
    """A ticket the patient may still act on: one that is waiting."""
    ticket = state.tickets.get(ticket_id)
    if ticket is None:
        raise NotFound("no such ticket in today's queue", code="unknown_ticket")
    if ticket.status != "waiting":
        raise Conflict(
            f"only a waiting ticket can do that; this one is {ticket.status}",
            code="ticket_not_waiting",
            status=ticket.status,
        )
    return ticket
