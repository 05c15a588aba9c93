"""Where a checked-in booking joins the live line, and how many expected bookings a walk-in's
estimate counts. Pure: the time is an argument.

Order in the line: priority tickets, then reserved tickets in check-in order, then walk-ins,
each "still in its arrival place" (a ticket staff put back, ``requeued``, holds none). A
reserved ticket never goes ahead of a priority ticket nor of an earlier reserved one, and
placing it never moves a ticket already in the line (docs/bookings.md):

- ``band_first`` (iTICKET): after the last reserved ticket, before every walk-in;
- ``interleave:{k}`` (fastlist, 3bees): after the last reserved ticket and at most ``k``
  walk-ins, so neither side waits behind more than ``k`` of the other in a row;
- ``target_time`` (QLess): where the estimated call time (pace × places) comes closest to
  the later of now and the band's start;
- a late check-in (after its band ended) goes to the end, as a walk-in would.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import replace

from hub.errors import Conflict, Forbidden, Unprocessable
from hub.queue.events import BandsSet, Event, TicketIssued
from hub.queue.model import AdmitBooking, BandCount, QueueState, SetBands, Ticket


def _floor(s: QueueState) -> tuple[int, int]:
    """(index after the last priority or reserved ticket in its arrival place, index after
    the last reserved one, 0 when none)."""
    floor = last_reserved = 0
    for i, tid in enumerate(s.waiting):
        t = s.tickets[tid]
        if t.requeued:
            continue
        if t.priority:
            floor = i + 1
        elif t.channel == "reserved" and not t.late:
            floor = last_reserved = i + 1
    return floor, last_reserved


def place_reserved(s: QueueState, band_start: float, now: float, late: bool = False) -> int:
    """The index in ``s.waiting`` where a booking checking in at ``now`` goes."""
    size = len(s.waiting)
    config = s.config.bookings
    if late or config is None:
        return size
    floor, _ = _floor(s)
    name, k = config.policy()
    if name == "interleave":
        return floor + min(max(k, 1), size - floor)
    if name == "target_time":
        minutes = max(band_start - now, 0.0) / 60.0
        wanted = math.floor(minutes / max(s.minutes_per_patient, 0.1) + 0.5)
        return min(max(wanted, floor), size)
    return floor


def expected_ahead(s: QueueState, ahead: int, now: float) -> float:
    """Bookings still expected (× the show rate) that the policy would put ahead of a walk-in
    with ``ahead`` real tickets before it: those of bands whose check-in opens before its
    estimated call and that are not over; for ``interleave:{k}`` at most ⌈ahead / k⌉."""
    config = s.config.bookings
    if config is None or not s.bands:
        return 0.0
    call_at = now + (ahead + 1) * s.minutes_per_patient * 60.0
    early, late = config.early_min * 60.0, config.late_min * 60.0
    expected = sum(b.expected for b in s.bands if _counts(b, call_at, now, early, late))
    ghosts = expected * config.show_rate
    name, k = config.policy()
    if name == "interleave":
        ghosts = min(ghosts, float(math.ceil(ahead / max(k, 1))))
    return ghosts


def _counts(b: BandCount, call_at: float, now: float, early: float, late: float) -> bool:
    return b.expected > 0 and b.start - early <= call_at and b.end + late >= now


# ---- decide (``rules.decide`` dispatches AdmitBooking and SetBands here) ----------------


def admit(state: QueueState, cmd: AdmitBooking) -> list[Event]:
    """A booking checked in: a ticket with the booking's id, the day's next number, placed
    by the queue's policy (``hub.queue.placement``). One booking is one ticket at most."""
    if cmd.ticket_id in state.tickets:
        raise Conflict("that booking is checked in already", code="duplicate_ticket")
    if not cmd.staff and state.suspended:
        raise Forbidden("this facility's service is suspended", code="facility_suspended")
    if not cmd.staff and not state.open:
        raise Conflict("reception is closed", code="reception_closed")
    if len(cmd.name) > 100 or len(cmd.phone) > 32:
        raise Unprocessable("name is at most 100 characters, phone 32")
    ticket = Ticket(
        id=cmd.ticket_id,
        number=state.last_number + 1,
        channel="reserved",
        issued_at=cmd.at,
        name=cmd.name,
        phone=cmd.phone,
        patient_ref=cmd.patient_ref,
        phone_consent=cmd.phone_consent,
        band=cmd.band,
        late=cmd.late,
    )
    position = place_reserved(state, cmd.band_start, cmd.at, cmd.late)
    return [TicketIssued(at=cmd.at, ticket=ticket, position=position)]


def set_bands(state: QueueState, cmd: SetBands) -> list[Event]:
    """Today's counts; a booking the book still calls booked but this queue holds a ticket
    for has arrived (its check-in's second step is not recorded yet): not expected."""
    arrived = Counter(state.tickets[t].band for t in cmd.booked if t in state.tickets)
    bands = tuple(
        replace(b, expected=max(b.expected - arrived[b.label], 0)) if arrived[b.label] else b
        for b in cmd.bands
    )
    return [] if bands == state.bands else [BandsSet(at=cmd.at, bands=bands)]
