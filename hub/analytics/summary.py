"""One queue's day in numbers: ``summarise`` folds the day's events (from the queue's own
stream) into a ``DaySummary``. Pure: no I/O, no clock. A summary names no one (counts,
times and histograms only), so it may be kept for years (docs/analytics.md).

Definitions (the peers': Waitwhile, Qmatic, Qudini, Zenoti):
- a ticket's **wait** runs from when it joined this queue (issued, or transferred in) to the
  call that led to service: its last call when it was completed or sent on to another
  counter (a no-show called again counts from the later call), else its first call;
  tickets never called have no wait;
- **service** runs from that call to the completion; a completion by the room's next call
  more than ``BREAK_MIN`` after its call is left out (the room took a break);
- at day end each ticket is counted once by where it ended: completed, **walkout**
  (cancelled while waiting), cancelled after its call, **no-show** (absent), transferred to
  another counter, or unfinished (still waiting or called), so these add up to the tickets
  the queue had (``issued`` + ``transferred_in``);
- **accuracy** compares, for web tickets that were called, the estimate the patient saw at
  issue (``views.ticket_view``, replayed) with the wait: within max(5 min, 25 %).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import msgspec

from hub.queue import estimate
from hub.queue.events import (
    Event,
    TicketCalled,
    TicketCancelled,
    TicketCompleted,
    TicketIssued,
    TicketRecalled,
    TicketRequeued,
    TicketTransferredIn,
    WebClosed,
)
from hub.queue.evolve import apply_in_place
from hub.queue.model import CHANNELS, QueueState
from hub.queue.views import ahead_of

BREAK_MIN = 45.0
HOURS = 24
RATIO_CELLS = 50
"""Wait / estimate ratios are kept in tenths up to 5.0 (longer ones count as 5.0)."""


class Dist(msgspec.Struct, frozen=True, omit_defaults=True):
    """Minutes of one kind (waits, service times): exact figures of the day and a histogram
    of whole minutes (``{minute: count}``), which merges across days."""

    n: int = 0
    total: float = 0.0
    p50: float | None = None
    p90: float | None = None
    max: float | None = None
    hist: dict[int, int] = {}


class DaySummary(msgspec.Struct, omit_defaults=True):
    """One queue's business day (module docstring); about 1 KB as msgpack."""

    date: str
    info: str
    tz: str
    incomplete: bool = False
    issued: dict[str, int] = {}
    transferred_in: int = 0
    called: int = 0
    completed: int = 0
    walkouts: int = 0
    cancelled_after_call: int = 0
    no_shows: int = 0
    transferred_out: int = 0
    unfinished: int = 0
    recalls: int = 0
    requeued: int = 0
    wait: Dist = Dist()
    service: Dist = Dist()
    rooms: dict[str, tuple[int, float]] = {}
    """Per room: completed tickets with a service time, and their minutes in all."""
    hour_issued: list[int] = []
    hour_called: list[int] = []
    hour_line_avg: list[float | None] = []
    hour_line_max: list[int | None] = []
    web_closed: list[tuple[float, str]] = []
    first_call: float | None = None
    last_call: float | None = None
    acc_n: int = 0
    acc_within: int = 0
    acc_error: float = 0.0
    acc_abs_error: float = 0.0
    ratios: list[dict[int, int]] = []
    """Per estimate class (``estimate.estimate_class``): wait / estimate shown at joining,
    in tenths (``{tenths: count}``, ``RATIO_CELLS`` and more in the last), for every called
    ticket: what ``hub.analytics.calibrate`` learns the ranges from."""
    range_n: int = 0
    range_in: int = 0
    """Called tickets, and those whose wait fell in the range shown when they joined."""

    @property
    def issued_total(self) -> int:
        return sum(self.issued.values())


@dataclass(slots=True)
class _Track:
    """What the summariser keeps of one ticket through the day."""

    joined: float
    shown: int
    """The estimate (minutes) its page showed right after it joined."""
    shown_range: tuple[int, int]
    web: bool = False
    first_call: float | None = None
    last_call: float | None = None
    walkout: bool = False
    service: float | None = None


@dataclass(slots=True)
class _Day:
    state: QueueState
    midnight: float
    zone: ZoneInfo | None
    """The day's zone when its UTC offset changes that day (a DST switch), else None."""
    tracks: dict[str, _Track] = field(default_factory=dict)
    summary: DaySummary | None = None
    line_area: list[float] = field(default_factory=lambda: [0.0] * HOURS)
    line_span: list[float] = field(default_factory=lambda: [0.0] * HOURS)
    line_max: list[int | None] = field(default_factory=lambda: [None] * HOURS)
    at: float | None = None


def midnight_of(date: str, tz: str) -> float:
    """The epoch of ``date``'s local midnight in ``tz``."""
    return datetime.fromisoformat(date).replace(tzinfo=ZoneInfo(tz)).timestamp()


def day_of(state: QueueState) -> _Day:
    """The summariser's day for ``state`` (right after its ``day_started``)."""
    tz = state.config.tz
    midnight = midnight_of(state.day, tz)
    zone = ZoneInfo(tz)
    switches = _offset(midnight, zone) != _offset(midnight + 86400, zone)
    return _Day(state, midnight, zone if switches else None)


def _offset(at: float, zone: ZoneInfo) -> float:
    offset = datetime.fromtimestamp(at, zone).utcoffset()
    return 0.0 if offset is None else offset.total_seconds()


def wall(day: _Day, at: float) -> float:
    """Seconds from the day's local midnight to ``at`` on the local clock (which skips or
    repeats an hour on a DST switch)."""
    if day.zone is None:
        return at - day.midnight
    return at + _offset(at, day.zone) - day.midnight - _offset(day.midnight, day.zone)


def hour_of(at: float, day: _Day) -> int:
    """The local hour of ``at`` on ``day`` (0-23; clamped)."""
    return min(max(int(wall(day, at) // 3600), 0), HOURS - 1)


def known(state: QueueState, event: Event) -> bool:
    """Whether ``event`` is about a ticket ``state`` has (or brings its ticket): False only
    where entries were lost."""
    ticket_id = getattr(event, "ticket_id", None)
    return ticket_id is None or ticket_id in state.tickets


def nearest_rank(values: Sequence[float], p: float) -> float:
    """The nearest-rank percentile of sorted ``values`` (not empty)."""
    return values[max(math.ceil(p * len(values)), 1) - 1]


def distribution(minutes: Iterable[float]) -> Dist:
    """The day's exact figures of ``minutes`` (0.1 min) and their whole-minute histogram."""
    values = sorted(round(m, 1) for m in minutes)
    if not values:
        return Dist()
    counts: dict[int, int] = {}
    for m in values:
        counts[int(m)] = counts.get(int(m), 0) + 1
    return Dist(
        n=len(values),
        total=round(sum(values), 1),
        p50=nearest_rank(values, 0.5),
        p90=nearest_rank(values, 0.9),
        max=values[-1],
        hist=counts,
    )


def summarise(
    start: QueueState, events: Iterable[Event], *, incomplete: bool = False
) -> DaySummary:
    """The summary of the day that ``start`` (the state right after its ``day_started``)
    begins, from the day's later ``events``. ``start`` is left as it was."""
    state = start.copy()
    day = day_of(state)
    hour_issued, hour_called = [0] * HOURS, [0] * HOURS
    counts = {"recalls": 0, "requeued": 0}
    closed: list[tuple[float, str]] = []
    issued = dict.fromkeys(CHANNELS, 0)
    transferred_in = 0
    previous: Event | None = None
    for event in events:
        if not known(state, event):  # its ticket's entries were lost: count what is here
            incomplete = True
            continue
        _line(day, event.at)
        if isinstance(event, TicketCalled) and isinstance(previous, TicketCompleted):
            _implicit_break(day, previous, event)
        elif isinstance(event, TicketCancelled):  # walked out: it left the line unserved
            day.tracks[event.ticket_id].walkout = state.tickets[event.ticket_id].status == "waiting"
        apply_in_place(state, event)
        if isinstance(event, TicketIssued):
            ticket = event.ticket
            issued[ticket.channel] = issued.get(ticket.channel, 0) + 1
            hour_issued[hour_of(event.at, day)] += 1
            track = _shown(state, ticket.id, event.at)
            track.web = ticket.channel == "web"
            day.tracks[ticket.id] = track
        elif isinstance(event, TicketTransferredIn):
            if event.ticket.id not in day.tracks:
                transferred_in += 1
            day.tracks[event.ticket.id] = _shown(state, event.ticket.id, event.at)
        elif isinstance(event, TicketCalled):
            hour_called[hour_of(event.at, day)] += 1
            track = day.tracks[event.ticket_id]
            track.first_call = track.first_call or event.at
            track.last_call = event.at
            track.service = None
        elif isinstance(event, TicketCompleted):
            track = day.tracks[event.ticket_id]
            if track.last_call is not None:
                track.service = (event.at - track.last_call) / 60
        elif isinstance(event, TicketRecalled):
            counts["recalls"] += 1
        elif isinstance(event, TicketRequeued):
            counts["requeued"] += 1
        elif isinstance(event, WebClosed):
            closed.append((event.at, event.reason))
        previous = event
        day.at = event.at
    return _finish(
        day, issued, transferred_in, hour_issued, hour_called, counts, closed, incomplete
    )


def _shown(state: QueueState, ticket_id: str, at: float) -> _Track:
    """A ticket that just joined, with the estimate and range its page showed then."""
    waiting = state.waiting  # a newcomer is mostly last: no scan of a long line then
    ahead = len(waiting) - 1 if waiting and waiting[-1] == ticket_id else ahead_of(state, ticket_id)
    minutes = estimate.wait_minutes(ahead, state.minutes_per_patient)
    return _Track(at, minutes, estimate.wait_range(minutes, state.range_factors))


def _implicit_break(day: _Day, completed: TicketCompleted, called: TicketCalled) -> None:
    """A completion made by the same room's next call (same instant) more than ``BREAK_MIN``
    after its own call is not a service time: leave it out."""
    if completed.at != called.at:
        return
    ticket = day.state.tickets.get(completed.ticket_id)
    track = day.tracks.get(completed.ticket_id)
    if ticket is None or track is None or ticket.room != called.room:
        return
    if track.service is not None and track.service > BREAK_MIN:
        track.service = None


def _line(day: _Day, at: float) -> None:
    """Add the line's length since the last event (it held until ``at``) to the hourly
    time-weighted sums and maxima (local clock time)."""
    if day.at is None:
        return
    length = len(day.state.waiting)
    t, stop = wall(day, day.at), wall(day, at)
    hour = min(max(int(t // 3600), 0), HOURS - 1)
    while True:
        end = stop if hour == HOURS - 1 else min(stop, (hour + 1) * 3600)
        if end > t:
            day.line_area[hour] += length * (end - t)
            day.line_span[hour] += end - t
        day.line_max[hour] = max(day.line_max[hour] or 0, length)
        if end >= stop:
            return
        t, hour = end, hour + 1


def _finish(
    day: _Day,
    issued: dict[str, int],
    transferred_in: int,
    hour_issued: list[int],
    hour_called: list[int],
    counts: dict[str, int],
    closed: list[tuple[float, str]],
    incomplete: bool,
) -> DaySummary:
    state = day.state
    if day.at is not None:  # the line after the last event counts for its hour
        hour = hour_of(day.at, day)
        day.line_max[hour] = max(day.line_max[hour] or 0, len(state.waiting))
    ends = {"done": 0, "walkout": 0, "after_call": 0, "absent": 0, "transferred": 0, "open": 0}
    waits: list[float] = []
    services: list[float] = []
    rooms: dict[str, list[float]] = {}
    acc = [0, 0, 0.0, 0.0]
    ratios: list[dict[int, int]] = [{} for _ in estimate.DEFAULT_FACTORS]
    in_range = [0, 0]
    calls: list[float] = []
    for tid, track in day.tracks.items():
        ticket = state.tickets[tid]
        end = _end(ticket.status, track)
        ends[end] += 1
        if track.first_call is None or track.last_call is None:
            continue
        calls += [track.first_call, track.last_call]
        served = ticket.status in ("done", "transferred")
        wait = ((track.last_call if served else track.first_call) - track.joined) / 60
        waits.append(max(wait, 0.0))
        if ticket.status == "done" and track.service is not None:
            services.append(max(track.service, 0.0))
            rooms.setdefault(ticket.room or "", []).append(max(track.service, 0.0))
        ratio = ratios[estimate.estimate_class(track.shown)]
        cell = min(int(wait / max(track.shown, 1) * 10), RATIO_CELLS)
        ratio[cell] = ratio.get(cell, 0) + 1
        in_range[0] += 1
        in_range[1] += track.shown_range[0] <= wait <= track.shown_range[1]
        if track.web:
            error = wait - track.shown
            acc[0] += 1
            acc[1] += abs(error) <= max(5.0, 0.25 * track.shown)
            acc[2] += error
            acc[3] += abs(error)
    avg = [
        round(area / span, 1) if span > 0 else None
        for area, span in zip(day.line_area, day.line_span, strict=True)
    ]
    return DaySummary(
        date=state.day,
        info=state.info,
        tz=state.config.tz,
        incomplete=incomplete,
        issued={k: v for k, v in issued.items() if v},
        transferred_in=transferred_in,
        called=sum(1 for t in day.tracks.values() if t.first_call is not None),
        completed=ends["done"],
        walkouts=ends["walkout"],
        cancelled_after_call=ends["after_call"],
        no_shows=ends["absent"],
        transferred_out=ends["transferred"],
        unfinished=ends["open"],
        recalls=counts["recalls"],
        requeued=counts["requeued"],
        wait=distribution(waits),
        service=distribution(services),
        rooms={room: (len(values), round(sum(values), 1)) for room, values in rooms.items()},
        hour_issued=hour_issued,
        hour_called=hour_called,
        hour_line_avg=avg,
        hour_line_max=day.line_max,
        web_closed=closed,
        first_call=min(calls) if calls else None,
        last_call=max(calls) if calls else None,
        acc_n=int(acc[0]),
        acc_within=int(acc[1]),
        acc_error=round(acc[2], 1),
        acc_abs_error=round(acc[3], 1),
        ratios=ratios,
        range_n=in_range[0],
        range_in=in_range[1],
    )


def _end(status: str, track: _Track) -> str:
    if status == "done":
        return "done"
    if status == "cancelled":
        return "walkout" if track.walkout else "after_call"
    if status == "absent":
        return "absent"
    if status == "transferred":
        return "transferred"
    return "open"
