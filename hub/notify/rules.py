"""What to tell subscribed patients about one outbox entry (pure; no I/O, time an argument).

``triggers(entry, subscriptions, now)`` reads only the entry: its events, the touched tickets'
new state and, when the order changed, ``waiting`` (a ticket's index there is its ``ahead``).

- ``near``: a subscribed ticket's ``ahead`` fell to its threshold or below; once per ticket
  (the index's ``near_done`` is set once it went, and at subscribe time when the ticket was
  already that close).
- ``called``: each ``ticket_called`` (n 0; a call after staff put the ticket back in line has
  n = the call's epoch second, so each call is its own message).
- ``recalled``: each ``ticket_recalled``, n = the recall's number (1, 2 …).
- ``absent``: ``ticket_absent``, once (n 0).
- Nothing for a ticket that is done, cancelled or transferred, nor for an entry older than
  ``STALE_S`` (the worker acknowledges it without acting: a late message misleads).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from zoneinfo import ZoneInfo

from hub.outbox.entry import OutboxEntry

STALE_S = 600.0
"""An outbox entry older than this (by its stream id's time) is acknowledged unsent."""
FINISHED = frozenset({"done", "cancelled", "transferred"})
DEFAULT_THRESHOLD = 3
THRESHOLDS = range(1, 11)
TRIGGERS = ("near", "called", "recalled", "absent")


@dataclass(frozen=True, slots=True)
class Subscribed:
    """One ticket's entry in the worker's index (``jb:{F}:ntf:tickets``)."""

    info: str
    number: int
    threshold: int
    day: str
    near_done: bool = False
    lang: str = "ja"

    def to_json(self) -> dict[str, Any]:
        return {
            "info": self.info,
            "number": self.number,
            "threshold": self.threshold,
            "day": self.day,
            "near_done": self.near_done,
            "lang": self.lang,
        }

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> Subscribed:
        return Subscribed(
            info=str(data["info"]),
            number=int(data["number"]),
            threshold=int(data["threshold"]),
            day=str(data.get("day", "")),
            near_done=bool(data.get("near_done", False)),
            lang=str(data.get("lang", "ja")),
        )


@dataclass(frozen=True, slots=True)
class Trigger:
    """One notification to send: (ticket, trigger, n) is its identity (the sent marker)."""

    ticket_id: str
    trigger: str
    n: int
    number: int
    ahead: int | None


def entry_time(entry: OutboxEntry) -> float:
    """The epoch second the entry was written (its stream id's milliseconds)."""
    try:
        return int(entry.id.partition("-")[0]) / 1000.0
    except ValueError:
        return 0.0


def _status(entry: OutboxEntry, ticket_id: str) -> str | None:
    ticket = entry.body.get("tickets", {}).get(ticket_id)
    return str(ticket.get("status")) if isinstance(ticket, dict) else None


def _ticket(entry: OutboxEntry, ticket_id: str) -> Mapping[str, Any]:
    ticket = entry.body.get("tickets", {}).get(ticket_id)
    return ticket if isinstance(ticket, dict) else {}


def _epoch_second(payload: Mapping[str, Any]) -> int:
    at = payload.get("at")
    return int(at) if isinstance(at, int | float) else 0


def triggers(
    entry: OutboxEntry, subscriptions: Mapping[str, Subscribed], now: float
) -> list[Trigger]:
    """The notifications ``entry`` causes for the subscribed tickets, in event order."""
    if not subscriptions or now - entry_time(entry) > STALE_S:
        return []
    mine = {t: s for t, s in subscriptions.items() if s.info == entry.info}
    if not mine:
        return []
    out: list[Trigger] = []
    events = [(str(e[0]), e[1]) for e in entry.body.get("events", ()) if len(e) == 2]
    for index, (kind, payload) in enumerate(events):
        if not isinstance(payload, dict):
            continue
        tid = payload.get("ticket_id")
        if not isinstance(tid, str) or tid not in mine or _status(entry, tid) in FINISHED:
            continue
        number = mine[tid].number
        if kind == "ticket_called":
            n = _epoch_second(payload) if _ticket(entry, tid).get("requeued") else 0
            out.append(Trigger(tid, "called", n, number, 0))
        elif kind == "ticket_recalled":
            later = sum(1 for k, p in events[index + 1 :] if k == kind and _tid(p) == tid)
            recalls = int(_ticket(entry, tid).get("recalls", 0) or 0)
            out.append(Trigger(tid, "recalled", max(1, recalls - later), number, 0))
        elif kind == "ticket_absent":
            out.append(Trigger(tid, "absent", 0, number, None))
    waiting = entry.body.get("waiting")
    if isinstance(waiting, list):
        for ahead, tid in enumerate(waiting):
            sub = mine.get(tid)
            if sub is None or sub.near_done or ahead > sub.threshold:
                continue
            if _status(entry, tid) not in (None, "waiting"):
                continue
            out.append(Trigger(tid, "near", 0, sub.number, ahead))
    return out


def _tid(payload: Any) -> str | None:
    return payload.get("ticket_id") if isinstance(payload, dict) else None


def after(subscriptions: Mapping[str, Subscribed], sent: list[Trigger]) -> dict[str, Subscribed]:
    """The index once ``sent`` went: a ticket that got ``near`` has ``near_done``."""
    out = dict(subscriptions)
    for t in sent:
        if t.trigger == "near" and t.ticket_id in out:
            out[t.ticket_id] = replace(out[t.ticket_id], near_done=True)
    return out


def near_at_subscribe(ahead: int | None, status: str, threshold: int) -> bool:
    """Whether ``near`` counts as done when the patient subscribes (already that close, or
    no longer waiting)."""
    return status != "waiting" or (ahead is not None and ahead <= threshold)


def _minutes(hhmm: str) -> int:
    hours, _, minutes = hhmm.partition(":")
    return int(hours) * 60 + int(minutes)


def check_hhmm(value: str) -> bool:
    """``HH:MM`` between 00:00 and 24:00."""
    hours, sep, minutes = value.partition(":")
    if not (sep and hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        return False
    return 0 <= int(hours) <= 24 and 0 <= int(minutes) < 60 and _minutes(value) <= 24 * 60


def in_window(now: float, tz: str, quiet_from: str, quiet_to: str) -> bool:
    """Whether ``now`` is inside the facility's notification window [``quiet_to``,
    ``quiet_from``) in its time zone: the quiet hours run from ``quiet_from`` (e.g. 21:00)
    to ``quiet_to`` (07:00). Equal ends: no quiet hours."""
    local = dt.datetime.fromtimestamp(now, ZoneInfo(tz))
    minute = local.hour * 60 + local.minute
    start, end = _minutes(quiet_to), _minutes(quiet_from)
    if start == end:
        return True
    if start < end:
        return start <= minute < end
    return minute >= start or minute < end
