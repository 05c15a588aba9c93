"""When to call (pure): the triggers an outbox entry fires, the call window, the retry.

Decided from the entry alone (its touched tickets and, when the order changed, ``waiting``,
whose index is ``ahead``) plus what the worker knows of the facility's consenting tickets
(``Known``: kept from earlier entries, since a ticket that moves up is not touched). Time
is an argument. No consent, no call; nothing for a ticket that is no longer waiting (a
``called`` trigger fires for the ticket being called). That a trigger calls at most once is
held by ``place_call.lua`` (``SET NX``), not here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from hub.queue.calendar import in_hours

TRIGGERS = ("near", "called")
"""Automatic triggers a facility may turn on (``manual`` is staff pressing the button)."""
KINDS = {"near": "まもなく", "called": "呼出", "band_soon": "予約", "manual": "手動"}
"""The CSV's 種別 of each trigger."""
MAX_CALLS_PER_TICKET = 3
RETRY_AFTER_S = 180.0
"""One retry, 3 minutes after a busy or unanswered call, while the ticket still waits."""
RETRY_STATUSES = frozenset({"busy", "no-answer"})
JOIN_KINDS = frozenset({"ticket_issued", "ticket_transferred_in"})
"""``near`` fires when a waiting ticket *crosses* its threshold (its last seen place was
behind it, its new one is within): a ticket that joins already within it is never called
for ``near`` (as a notification subscription made inside the threshold marks ``near``
done); ``called`` still fires when enabled."""
STALE_ENTRY_S = 600.0
"""Entries older than this (10 min) are acknowledged without calling: too late to help."""


@dataclass(frozen=True, slots=True)
class PhoneSettings:
    """A facility's call-out settings (``PUT /v1/facilities/{f}/phone/settings``)."""

    threshold: int = 3
    """``near`` fires when this many or fewer are ahead (1–10)."""
    window: tuple[str, str] = ("08:00", "21:00")
    """The clinic's call window, facility time; intersected with the server hours."""
    retry: bool = True
    triggers: tuple[str, ...] = ("near",)
    caller: str = ""
    """The caller number (E.164) shown to the patient."""
    provider: str = "dev"
    """The operator-configured provider (``PUT /v1/admin/phone/providers/{name}``)."""
    daily_cap: int = 200
    monthly_cap: int = 3000


@dataclass(frozen=True, slots=True)
class Known:
    """A consenting ticket as the worker last saw it."""

    info: str
    number: int
    phone: str
    status: str
    ahead: int | None = None
    """Its place in the serving order as last seen (None: not yet seen waiting)."""


@dataclass(frozen=True, slots=True)
class Candidate:
    """A call a trigger asks for (still subject to the window and ``place_call.lua``)."""

    ticket_id: str
    info: str
    number: int
    phone: str
    trigger: str
    ahead: int | None = None
    attempt: int = 1


@dataclass(frozen=True, slots=True)
class Decision:
    candidates: tuple[Candidate, ...] = ()
    known: dict[str, Known] = field(default_factory=dict)
    """The consenting tickets after the entry (waiting or called; others dropped)."""


def in_window(now: float, tz: str, window: tuple[str, str], server: tuple[str, str]) -> bool:
    """The call window: the server hours ∩ the clinic's window, both facility time."""
    return in_hours(now, tz, server) and in_hours(now, tz, window)


def known_after(
    info: str, tickets: Mapping[str, Any], known: Mapping[str, Known]
) -> dict[str, Known]:
    """``known`` updated with an entry's touched tickets (``ticket_staff`` projections)."""
    out = dict(known)
    for tid, view in tickets.items():
        if not isinstance(view, dict):
            continue
        status = str(view.get("status", ""))
        consent = view.get("phone_consent")
        phone = str(view.get("phone") or "")
        if consent and phone and status in ("waiting", "called"):
            old = out.get(tid)
            out[tid] = Known(
                info=info,
                number=int(view.get("number", 0)),
                phone=phone,
                status=status,
                ahead=old.ahead if old is not None and status == "waiting" else None,
            )
        else:
            out.pop(tid, None)
    return out


def triggers(
    info: str, body: Mapping[str, Any], known: Mapping[str, Known], settings: PhoneSettings
) -> Decision:
    """The calls one outbox entry asks for, and the consenting tickets after it."""
    tickets = body.get("tickets")
    if any(kind == "day_started" for kind, _ in _events(body)):  # yesterday's tickets are gone
        known = {tid: k for tid, k in known.items() if k.info != info}
    after = known_after(info, tickets if isinstance(tickets, dict) else {}, known)
    found: list[Candidate] = []
    joined: set[str] = set()
    for kind, payload in _events(body):
        if kind in JOIN_KINDS and isinstance(payload.get("ticket"), dict):
            joined.add(str(payload["ticket"].get("id")))
    if "called" in settings.triggers:
        for kind, payload in _events(body):
            if kind != "ticket_called":
                continue
            k = after.get(str(payload.get("ticket_id")))
            if k is not None and k.status == "called" and k.info == info:
                tid = str(payload["ticket_id"])
                found.append(Candidate(tid, info, k.number, k.phone, "called", 0))
    waiting = body.get("waiting")
    if isinstance(waiting, list):
        place = {str(tid): i for i, tid in enumerate(waiting)}
        for tid, k in list(after.items()):
            ahead = place.get(tid)
            if k.info != info or k.status != "waiting" or ahead is None:
                continue
            after[tid] = replace(k, ahead=ahead)
            crossed = k.ahead is not None and k.ahead > settings.threshold >= ahead
            if "near" in settings.triggers and crossed and tid not in joined:
                found.append(Candidate(tid, info, k.number, k.phone, "near", ahead))
    return Decision(tuple(found), after)


def _events(body: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for event in body.get("events") or ():
        if isinstance(event, (list, tuple)) and len(event) == 2 and isinstance(event[1], dict):
            out.append((str(event[0]), event[1]))
    return out


def retry_of(
    status: str, attempt: int, trigger: str, ticket: Known | None, settings: PhoneSettings
) -> bool:
    """Whether a finished call is tried once more (after ``RETRY_AFTER_S``): busy or no
    answer, the first attempt of an automatic trigger, retries on, the ticket still waiting."""
    return (
        settings.retry
        and status in RETRY_STATUSES
        and attempt == 1
        and trigger in TRIGGERS
        and ticket is not None
        and ticket.status == "waiting"
    )
