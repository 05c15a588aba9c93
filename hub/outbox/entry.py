"""One outbox entry as a consumer sees it (pure): the fields ``append.lua`` wrote, decoded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

_decoder = msgspec.msgpack.Decoder()
BODY_CACHE = 1024
"""Decoded bodies kept per process: each group of a process reads the same entries (one
decode for all of them). Consumers only read a body, never change it."""
_bodies: dict[bytes, Any] = {}


def _decode(raw: bytes) -> Any:
    """The decoded ``e`` (shared by every group that reads the same entry here)."""
    body = _bodies.get(raw)
    if body is None:
        body = _decoder.decode(raw)
        if len(_bodies) >= BODY_CACHE:
            del _bodies[next(iter(_bodies))]  # the oldest first
        _bodies[raw] = body
    return body


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """A committed batch of one queue: its stream id, the queue's new version and the body
    ``e`` (``day``, ``events`` [[kind, payload]…], ``tickets`` {id: staff view},
    ``waiting`` [ids] only when the order changed)."""

    id: str
    """stream id, e.g. ``"1700000000000-0"``"""
    facility: str
    info: str
    v: int
    epoch: str
    kinds: tuple[str, ...]
    body: dict[str, Any]


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else value


def parse_entry(
    facility: str, entry_id: bytes | str, fields: dict[bytes, bytes] | dict[Any, Any]
) -> OutboxEntry:
    """The entry from its stream fields; ``ValueError`` when a field is missing or malformed
    (a consumer treats that as a failed delivery, so the entry ends in the dead letters)."""
    text = {_text(k): v for k, v in fields.items()}
    try:
        raw_body = text["e"]
        body = _decode(raw_body if isinstance(raw_body, bytes) else raw_body.encode())
        kinds = _text(text.get("kinds"))
        entry = OutboxEntry(
            id=_text(entry_id),
            facility=facility,
            info=_text(text["info"]),
            v=int(_text(text["v"])),
            epoch=_text(text.get("epoch")),
            kinds=tuple(k for k in kinds.split(",") if k),
            body=body,
        )
    except (KeyError, ValueError, msgspec.DecodeError) as exc:
        raise ValueError(f"malformed outbox entry {_text(entry_id)}: {exc!r}") from exc
    if not isinstance(entry.body, dict):
        raise ValueError(f"malformed outbox entry {entry.id}: body is not a map")
    return entry
