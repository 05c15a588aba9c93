"""The outbox entry of one committed batch (what ``append.lua`` XADDs to the facility's outbox
stream ``jb:{F}:outbox`` in the same call as the events). Pure: built from the state the
writer already holds, no Redis read.

Fields: ``info``, ``v``, ``epoch``, ``kinds`` (the batch's event kinds, comma-separated, each
once, in first-seen order) and ``e``: msgpack of ``{"day", "events": [[kind, payload]…],
"tickets": {id: views.ticket_staff(ticket)}, "waiting": [ids]}`` where ``tickets`` holds the
new state of every ticket an event of the batch names and ``waiting`` (present only when the
serving order changed) the new order.

``ticket_annotated`` events are left out of entries (consumers never feed on their own
outcomes): a batch made only of them has no entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from hub.queue.events import Event
from hub.queue.model import QueueState
from hub.queue.views import ticket_staff

WAKE_WINDOW_MS = 250
"""``append.lua`` publishes a queue's outbox wake-up at most this often (the queue hash's
``wk`` field holds the stream time of the last one); a runner that hears a wake-up serves
the facility again after this window (``hub/outbox/runner.py``)."""
SILENT_KINDS = frozenset({"ticket_annotated", "range_factors_set", "bands_set"})
"""Event kinds that never go to the outbox."""
ORDER_KINDS = frozenset(
    {
        "day_started",
        "ticket_issued",
        "ticket_called",
        "ticket_absent",
        "ticket_requeued",
        "ticket_postponed",
        "ticket_transferred_out",
        "ticket_transferred_in",
        "ticket_completed",
        "ticket_cancelled",
    }
)
"""Event kinds that may change the serving order (used when the order before is unknown)."""

_encoder = msgspec.msgpack.Encoder()


@dataclass(frozen=True, slots=True)
class Entry:
    """One outbox entry's fields, ready for the script's ARGV."""

    kinds: str
    e: bytes


def ticket_ids(event: Event) -> tuple[str, ...]:
    """The tickets an event names (its ``ticket_id``, or its ``ticket``'s id)."""
    tid = getattr(event, "ticket_id", None)
    if isinstance(tid, str):
        return (tid,)
    ticket = getattr(event, "ticket", None)
    return (ticket.id,) if ticket is not None else ()


def build(
    state: QueueState,
    events: list[Event],
    encoded: list[bytes],
    waiting_before: list[str] | None,
) -> Entry | None:
    """The entry of a batch whose fold is ``state``; ``encoded``: each event's msgpack (as
    stored in the queue's stream, embedded as is). ``waiting_before``: the serving order
    before the batch (None when the caller does not know it: then ``waiting`` is sent when
    an event of an ``ORDER_KINDS`` kind is in the batch). None: no entry."""
    kinds: dict[str, None] = {}
    body_events: list[tuple[str, msgspec.Raw]] = []
    touched: dict[str, None] = {}
    for event, data in zip(events, encoded, strict=True):
        if event.kind in SILENT_KINDS:
            continue
        kinds[event.kind] = None
        body_events.append((event.kind, msgspec.Raw(data)))
        for tid in ticket_ids(event):
            touched[tid] = None
    if not body_events:
        return None
    tickets = {tid: ticket_staff(state.tickets[tid]) for tid in touched if tid in state.tickets}
    body: dict[str, Any] = {"day": state.day, "events": body_events, "tickets": tickets}
    if waiting_before is None:
        if not ORDER_KINDS.isdisjoint(kinds):
            body["waiting"] = state.waiting
    elif waiting_before != state.waiting:
        body["waiting"] = state.waiting
    return Entry(kinds=",".join(kinds), e=_encoder.encode(body))


def decode(e: bytes) -> dict[str, Any]:
    """An entry's ``e`` as plain data (events' payloads as dicts)."""
    body: dict[str, Any] = msgspec.msgpack.decode(e)
    return body
