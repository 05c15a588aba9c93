"""The pure rules of moving a ticket between two counters of one facility (診察 → 処置 →
会計). No I/O, no clock reads. ``hub.queue.rules.decide_transfer`` runs both halves; each
half is idempotent by ticket id and hop count, so a repeated transfer only completes what
an earlier try left half done and never moves a ticket twice.

- ``transfer_out`` (the source queue): a waiting, called or absent ticket becomes
  ``transferred`` with ``to_counter``; its ``hops`` go up by one. Already transferred to
  that counter: nothing (a retry).
- ``transfer_in`` (the target queue): the ticket (same id and number) joins the line as a
  new arrival would (the end; a priority ticket after the priority tickets), waiting, with
  ``from_counter``. The target holding it with as many hops already: nothing (a retry); a
  ticket that left the target earlier may come back.
"""

from __future__ import annotations

from msgspec.structs import replace

from hub.errors import Conflict, NotFound
from hub.queue.events import Event, TicketTransferredIn, TicketTransferredOut
from hub.queue.model import QueueState, TransferIn, TransferOut

TRANSFERABLE = frozenset({"waiting", "called", "absent"})
"""The statuses a ticket may be transferred from."""


def transfer_out(state: QueueState, cmd: TransferOut) -> list[Event]:
    ticket = state.tickets.get(cmd.ticket_id)
    if ticket is None:
        raise NotFound("no such ticket in today's queue", code="unknown_ticket")
    if ticket.status == "transferred" and ticket.to_counter == cmd.to:
        return []  # done already: a retry
    if ticket.status not in TRANSFERABLE:
        raise Conflict(
            f"cannot transfer a ticket that is {ticket.status}",
            code="illegal_transition",
            status=ticket.status,
        )
    return [TicketTransferredOut(at=cmd.at, ticket_id=cmd.ticket_id, to=cmd.to)]


def transfer_in(state: QueueState, cmd: TransferIn) -> list[Event]:
    moving = cmd.ticket
    here = state.tickets.get(moving.id)
    if here is not None and here.hops >= moving.hops:
        return []  # arrived already: a retry
    if here is not None and here.status != "transferred":
        raise Conflict(
            "this ticket is still active at the target counter",
            code="illegal_transition",
            status=here.status,
        )
    joining = replace(
        moving,
        status="waiting",
        room=None,
        called_at=None,
        finished_at=None,
        recalls=0,
        requeued=False,
        from_counter=cmd.source,
        to_counter=None,
    )
    return [TicketTransferredIn(at=cmd.at, ticket=joining)]
