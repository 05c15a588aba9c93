"""Integration events v1: outbox entries mapped to the events endpoints receive. Pure.

| type | from |
|---|---|
| ``ticket.issued`` | ``ticket_issued`` (every channel; a time-band check-in is ``reserved``) |
| ``ticket.called``, ``ticket.recalled`` | ``ticket_called``, ``ticket_recalled`` |
| ``ticket.absent``, ``ticket.requeued`` | ``ticket_absent``, ``ticket_requeued`` |
| ``ticket.completed``, ``ticket.cancelled`` | ``ticket_completed``, ``ticket_cancelled`` |
| ``ticket.linked`` | ``ticket_linked`` (staff set the patient-card number; ORCA sends it then) |
| ``ping`` | ``POST …/endpoints/{id}/test`` |

The id ``evt_{info}_{epoch}_{v}_{n}`` (``n``: the event's index in its batch) and the body
are the same on every retry and replay. The payload has the Standard Webhooks shape
``{type, timestamp, data}``; ``data`` is "fat" (the ticket's state after the batch) and
carries ``name`` and ``phone`` only for endpoints with ``personal`` on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from hub.outbox.entry import OutboxEntry

TYPES: dict[str, str] = {
    "ticket_issued": "ticket.issued",
    "ticket_called": "ticket.called",
    "ticket_recalled": "ticket.recalled",
    "ticket_absent": "ticket.absent",
    "ticket_requeued": "ticket.requeued",
    "ticket_completed": "ticket.completed",
    "ticket_cancelled": "ticket.cancelled",
    "ticket_linked": "ticket.linked",
}
"""Queue event kind -> integration event type."""
PING = "ping"
EVENT_TYPES: tuple[str, ...] = (*TYPES.values(), PING)
"""Every type an endpoint may subscribe to (``ping`` always reaches it)."""
TICKET_FIELDS = (
    "id", "number", "status", "channel", "room", "recalls", "issued_at", "called_at",
    "finished_at", "patient_ref",
)  # fmt: skip
PERSONAL_FIELDS = ("name", "phone")


@dataclass(frozen=True, slots=True)
class IntegrationEvent:
    id: str
    """``evt_{info}_{epoch}_{v}_{n}``: the ``webhook-id``, the same on every attempt."""
    type: str
    timestamp: float
    """When the batch was committed (the outbox entry's id), Unix seconds."""
    facility: str
    info: str
    data: dict[str, Any]
    """The payload's ``data``, with name and phone (``payload`` strips them per endpoint)."""

    def counter(self) -> str:
        """The counter code of ``info`` ("" for a facility-wide event such as ``ping``)."""
        return self.info.rpartition("-")[2] if "-" in self.info else ""


def entry_ms(entry_id: str) -> int:
    """The milliseconds part of a stream id (``"1700000000000-0"`` -> 1700000000000)."""
    return int(entry_id.partition("-")[0])


def _ticket_id(payload: Any) -> str | None:
    if not isinstance(payload, dict):
        return None
    tid = payload.get("ticket_id")
    if isinstance(tid, str):
        return tid
    ticket = payload.get("ticket")
    if isinstance(ticket, dict) and isinstance(ticket.get("id"), str):
        return str(ticket["id"])
    return None


def ticket_data(state: dict[str, Any]) -> dict[str, Any]:
    """The payload's ``ticket`` from the entry's staff projection of it."""
    data = {name: state.get(name) for name in TICKET_FIELDS}
    for name in PERSONAL_FIELDS:
        data[name] = state.get(name) or ""
    return data


def events_of(entry: OutboxEntry) -> list[IntegrationEvent]:
    """The v1 events of one outbox entry, in batch order (kinds without a v1 type skipped).

    Guarantees: ids are unique across entries of one queue (``(epoch, v)`` names a batch,
    ``n`` an event in it) and the same every time the entry is mapped."""
    body = entry.body
    raw_events = body.get("events") or []
    tickets: dict[str, Any] = body.get("tickets") or {}
    timestamp = entry_ms(entry.id) / 1000
    out: list[IntegrationEvent] = []
    for n, item in enumerate(raw_events):
        kind, payload = item[0], item[1] if len(item) > 1 else {}
        etype = TYPES.get(kind)
        tid = _ticket_id(payload)
        if etype is None or tid is None:
            continue
        state = tickets.get(tid)
        if not isinstance(state, dict):
            state = dict(payload.get("ticket") or {"id": tid})
        data: dict[str, Any] = {
            "facility": entry.facility,
            "info": entry.info,
            "day": body.get("day", ""),
            "epoch": entry.epoch,
            "v": entry.v,
            "ticket": ticket_data(state),
        }
        if kind == "ticket_cancelled" and isinstance(payload, dict):
            data["by"] = payload.get("by", "")
        out.append(
            IntegrationEvent(
                id=f"evt_{entry.info}_{entry.epoch}_{entry.v}_{n}",
                type=etype,
                timestamp=timestamp,
                facility=entry.facility,
                info=entry.info,
                data=data,
            )
        )
    return out


def ping(facility: str, endpoint_id: str, nonce: str, now: float) -> IntegrationEvent:
    """The ``ping`` of ``POST …/endpoints/{id}/test`` (a fresh id per test)."""
    return IntegrationEvent(
        id=f"evt_ping_{endpoint_id}_{nonce}",
        type=PING,
        timestamp=now,
        facility=facility,
        info="",
        data={"facility": facility, "endpoint": endpoint_id},
    )


def strip(data: dict[str, Any], *, personal: bool) -> dict[str, Any]:
    """``data`` without name and phone unless ``personal``."""
    ticket = data.get("ticket")
    if personal or not isinstance(ticket, dict):
        return data
    return {**data, "ticket": {k: v for k, v in ticket.items() if k not in PERSONAL_FIELDS}}


def iso(timestamp: float) -> str:
    return (
        datetime.fromtimestamp(timestamp, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def payload(event: IntegrationEvent, *, personal: bool) -> bytes:
    """The JSON body: ``{"type", "timestamp", "data"}`` (the same bytes on every attempt)."""
    body = {
        "type": event.type,
        "timestamp": iso(event.timestamp),
        "data": strip(event.data, personal=personal),
    }
    return orjson.dumps(body)


def to_record(event: IntegrationEvent) -> dict[str, bytes]:
    """The fields of an endpoint stream entry (``jb:{F}:ep:{id}:q``) holding ``event``."""
    return {
        "id": event.id.encode(),
        "type": event.type.encode(),
        "ts": repr(event.timestamp).encode(),
        "f": event.facility.encode(),
        "info": event.info.encode(),
        "data": orjson.dumps(event.data),
    }


def from_record(raw: Mapping[bytes, bytes] | Mapping[str, bytes]) -> IntegrationEvent:
    """The event of an endpoint stream entry (``to_record``'s inverse; keys as Redis gives
    them, bytes, or as ``to_record`` made them)."""
    fields = {k.encode() if isinstance(k, str) else k: v for k, v in raw.items()}
    return IntegrationEvent(
        id=fields[b"id"].decode(),
        type=fields[b"type"].decode(),
        timestamp=float(fields[b"ts"]),
        facility=fields[b"f"].decode(),
        info=fields[b"info"].decode(),
        data=orjson.loads(fields[b"data"]),
    )
