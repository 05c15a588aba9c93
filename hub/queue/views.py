"""Projections of a queue's state: the only place that decides who sees what.

``public_view`` carries no personal data (numbers only) and is what goes on public channels;
``staff_view`` adds names, phones and notes for staff of that facility; ``ticket_view`` is
what one patient sees of their own ticket.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hub.booking.config import BookingConfig
from hub.queue import estimate, placement
from hub.queue.model import BandCount, QueueState, Ticket
from hub.queue.rules import MAX_POSTPONES


def iso(at: float | None) -> str | None:
    if at is None:
        return None
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def public_view(s: QueueState) -> dict[str, Any]:
    """The queue as anyone may see it (docs/api.md, "Public view of a queue")."""
    tickets = s.tickets
    cap = s.config.web_daily_cap
    cap_reached = cap is not None and s.web_issued >= cap
    accepting = s.web_open and not s.suspended and not cap_reached
    closed_reason = (
        "suspended" if s.suspended else "cap" if cap_reached and s.web_open else s.web_closed_reason
    )
    return {
        "info": s.info,
        "v": s.version,
        "epoch": s.epoch,
        "day": s.day,
        "tz": s.config.tz,
        "open": s.open,
        "web_open": accepting,
        "web_closed_reason": None if accepting else closed_reason,
        "suspended": s.suspended,
        "calling": [calling_entry(tickets[tid]) for tid in s.calling],
        "waiting": [tickets[tid].number for tid in s.waiting],
        "waiting_count": len(s.waiting),
        "absent": sorted(t.number for t in tickets.values() if t.status == "absent"),
        "last_number": s.last_number,
        "minutes_per_patient": round(s.minutes_per_patient, 1),
        "close_web_at": s.config.close_web_at,
        "message": s.message,
        "notices": [n.public() for n in s.notices],
        "profile": None if s.profile is None else s.profile.public(),
        "bookings": s.config.bookings is not None,
        "bands": [band_public(b) for b in s.bands] if s.config.bookings else [],
        "reserved": _reserved_waiting(s),
        "booked_ahead": _booked_ahead(s),
        "updated_at": iso(s.updated_at),
    }


def band_public(b: BandCount) -> dict[str, Any]:
    """One of today's booking bands: places left and bookings still expected (no names)."""
    start, _, end = b.label.partition("-")
    left = max(b.capacity - b.taken, 0)
    return {"from": start, "to": end, "remaining": left, "expected": b.expected}


def _reserved_waiting(s: QueueState) -> list[int]:
    """The numbers in ``waiting`` that are checked-in bookings (monitors mark them)."""
    if s.config.bookings is None:
        return []
    return [s.tickets[tid].number for tid in s.waiting if s.tickets[tid].channel == "reserved"]


def _booked_ahead(s: QueueState) -> float:
    """Expected check-ins a new walk-in's estimate counts (``placement.expected_ahead``)."""
    if not s.bands or s.config.bookings is None:
        return 0
    return round(placement.expected_ahead(s, len(s.waiting), s.updated_at), 1)


def calling_entry(t: Ticket) -> dict[str, Any]:
    """One called number on the public view; ``from``: the counter a transferred ticket
    came from, ``reserved``: a checked-in booking (each only then present)."""
    entry: dict[str, Any] = {"number": t.number, "room": t.room, "recalls": t.recalls}
    if t.from_counter is not None:
        entry["from"] = t.from_counter
    if t.channel == "reserved":
        entry["reserved"] = True
    return entry


def ticket_public(t: Ticket) -> dict[str, Any]:
    return {
        "id": t.id,
        "number": t.number,
        "status": t.status,
        "channel": t.channel,
        "priority": t.priority,
        "room": t.room,
        "recalls": t.recalls,
        "issued_at": iso(t.issued_at),
        "called_at": iso(t.called_at),
        "finished_at": iso(t.finished_at),
        "from": t.from_counter,
        "to": t.to_counter,
        "arrived_at": iso(t.arrived_at),
        "postponed": t.postponed,
        "band": t.band,
        "late": t.late,
    }


def ticket_staff(t: Ticket) -> dict[str, Any]:
    """A ticket with the personal data the patient gave, its patient-card number and the
    integrations' outcomes (``annotations``): staff of its facility only."""
    return {
        **ticket_public(t),
        "name": t.name,
        "phone": t.phone,
        "note": t.note,
        "requeued": t.requeued,
        "patient_ref": t.patient_ref,
        "annotations": dict(t.annotations),
        "phone_consent": _consent(t.phone_consent),
    }


def _consent(consent: tuple[float, str, str] | None) -> dict[str, Any] | None:
    if consent is None:
        return None
    return {"at": consent[0], "by": consent[1], "text_version": consent[2]}


def ahead_of(s: QueueState, ticket_id: str) -> int:
    """How many are served before this ticket (0 once called)."""
    try:
        return s.waiting.index(ticket_id)
    except ValueError:
        return 0


def ticket_view(s: QueueState, ticket_id: str) -> dict[str, Any]:
    """One patient's own ticket: status, ``ahead`` and ``estimate_min`` (null unless waiting)."""
    t = s.tickets[ticket_id]
    waiting = t.status == "waiting"
    ahead = ahead_of(s, ticket_id)
    walk_in = t.channel != "reserved" and not t.priority  # bookings go behind the others
    booked = placement.expected_ahead(s, ahead, s.updated_at) if walk_in else 0
    minutes = estimate.wait_minutes(ahead + booked, s.minutes_per_patient) if waiting else None
    shown = None if minutes is None else estimate.wait_range(minutes, s.range_factors)
    return {
        "info": s.info,
        "v": s.version,
        "epoch": s.epoch,
        "ticket": ticket_public(t),
        "ahead": ahead,
        "estimate_min": minutes,
        "estimate_range": shown,
        "can": patient_actions(s, t),
    }


def patient_actions(s: QueueState, t: Ticket) -> dict[str, bool]:
    """What the patient may do now on their page (the queue's settings and the ticket's
    place; the rules decide again when they do it)."""
    waiting = t.status == "waiting"
    behind = waiting and s.config.requeue_offset > 0 and s.waiting[-1] != t.id
    return {
        "checkin": waiting and s.config.allow_checkin and t.arrived_at is None,
        "postpone": behind and s.config.allow_postpone and t.postponed < MAX_POSTPONES,
    }


def staff_view(s: QueueState) -> dict[str, Any]:
    """Everything about today's queue, personal data included: staff of that facility only."""
    view = public_view(s)
    view["config"] = {
        "tz": s.config.tz,
        "web_daily_cap": s.config.web_daily_cap,
        "requeue_offset": s.config.requeue_offset,
        "default_minutes": s.config.default_minutes,
        "close_web_at": s.config.close_web_at,
        "allow_checkin": s.config.allow_checkin,
        "allow_postpone": s.config.allow_postpone,
        "bookings": None if s.config.bookings is None else booking_settings(s.config.bookings),
    }
    view["web_issued"] = s.web_issued
    view["tickets"] = [ticket_staff(t) for t in sorted(s.tickets.values(), key=lambda t: t.number)]
    view["waiting_ids"] = list(s.waiting)
    view["calling_ids"] = list(s.calling)
    return view


def booking_settings(c: BookingConfig) -> dict[str, Any]:
    """A queue's booking settings as ``PUT …/config`` takes them (``bookings``)."""
    return {
        "bands": [
            {"from": b.start, "to": b.end, "capacity": b.capacity, "days": list(b.days)}
            for b in c.bands
        ],
        "placement": c.placement,
        "early_min": c.early_min,
        "late_min": c.late_min,
        "show_rate": c.show_rate,
        "horizon_days": c.horizon_days,
        "check_in": c.check_in,
        "closed_dates": list(c.closed_dates),
        "closed_on_holidays": c.closed_on_holidays,
    }
