"""The queue's data: tickets, state and commands (its events: ``hub/queue/events.py``).
Plain dataclasses, no behaviour.

A queue is one information number (``1234-01``). Its ``QueueState`` is the fold of its
events; commands carry the time they happen at (``at``, Unix seconds) so the rules never
read a clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import msgspec

from hub.booking.config import BookingConfig
from hub.queue.profile import Profile

TicketChannel = Literal["web", "desk", "kiosk", "phone", "reserved"]
TicketStatus = Literal["waiting", "called", "done", "cancelled", "absent", "transferred"]
WebClosedReason = Literal["staff", "cap", "closing_time"]
CHANNELS: tuple[str, ...] = ("web", "desk", "kiosk", "phone", "reserved")
"""``reserved``: a booking checked in (``AdmitBooking``), never issued directly."""

FACILITY_RE = re.compile(r"^[0-9]{1,8}\Z")
COUNTER_RE = re.compile(r"^[0-9]{2}\Z")
INFO_RE = re.compile(r"^([0-9]{1,8})-([0-9]{2})\Z")


def split_info(info: str) -> tuple[str, str] | None:
    """``"1234-01"`` -> ``("1234", "01")``; None when it is not an information number."""
    match = INFO_RE.match(info)
    return (match.group(1), match.group(2)) if match else None


class Ticket(msgspec.Struct, frozen=True, omit_defaults=True):
    """One numbered place in one queue on one business day.

    A ``msgspec.Struct`` (the rest of the model is dataclasses): a snapshot holds every ticket
    of the day, and a Struct encodes several times faster than a dataclass and leaves out the
    fields still at their default (most of them, for most tickets). Change one with
    ``msgspec.structs.replace``."""

    id: str
    number: int
    channel: str
    issued_at: float
    status: str = "waiting"
    priority: bool = False
    name: str = ""
    phone: str = ""
    note: str = ""
    called_at: float | None = None
    room: str | None = None
    recalls: int = 0
    finished_at: float | None = None
    requeued: bool = False
    """Put back into the line by staff: it no longer holds its arrival place."""
    arrived_at: float | None = None
    """The patient said "I'm here" (check-in, when the queue allows it)."""
    postponed: int = 0
    """How often the patient moved themselves back ("I'll be late")."""
    from_counter: str | None = None
    """The counter this ticket was transferred from (its previous stage), if any."""
    to_counter: str | None = None
    """Status "transferred": the counter of this facility it moved to."""
    hops: int = 0
    """How many transfers this ticket has made (a repeated transfer is recognised by it)."""
    patient_ref: str | None = None
    """The patient-card number (診察券番号) linking the ticket to the EMR; staff only."""
    annotations: tuple[tuple[str, str], ...] = ()
    """Outcomes shown to staff, (key, value) pairs in first-set order (``emr.status`` …)."""
    phone_consent: tuple[float, str, str] | None = None
    """The patient's consent to be called by phone (at, by, text_version): ``by`` is
    ``patient`` or the staff subject who recorded spoken consent; staff only."""
    band: str | None = None
    """A checked-in booking's band (``"10:00-10:30"``); None for walk-ins."""
    late: bool = False
    """A booking checked in after its band ended: placed at the end like a walk-in."""


@dataclass(frozen=True, slots=True)
class QueueConfig:
    """Per-queue settings a clinic may change."""

    tz: str = "Asia/Tokyo"
    web_daily_cap: int | None = None
    requeue_offset: int = 3
    default_minutes: float = 5.0
    close_web_at: str | None = None
    """"HH:MM" local: stop web acceptance when a new ticket would be called after this."""
    allow_checkin: bool = False
    """Patients may say "I'm here" on their ticket page."""
    allow_postpone: bool = False
    """Patients may move themselves back ``requeue_offset`` places ("I'll be late")."""
    bookings: BookingConfig | None = None
    """Time-band reservations (``hub.booking``); None: none taken."""


@dataclass(frozen=True, slots=True)
class BandCount:
    """One of today's bands as the queue's estimates see it: its start and end (epoch
    seconds), its capacity, the places taken (not cancelled) and the bookings still
    expected (booked, not yet checked in)."""

    start: float
    end: float
    label: str
    capacity: int
    taken: int
    expected: int


@dataclass(frozen=True, slots=True)
class Notice:
    """A notice shown to a facility's patients: an interruption (Art. 13) from ``starts_at``
    to ``ends_at`` (None: no expected end), or a discontinuation (Art. 14) on ``starts_at``."""

    id: str
    kind: str
    starts_at: float
    ends_at: float | None = None
    message: str = ""
    part: str = ""
    urgent: bool = False

    def public(self) -> dict[str, object]:
        def iso(t: float | None) -> str | None:
            return None if t is None else datetime.fromtimestamp(t, UTC).isoformat()

        return {
            "id": self.id,
            "kind": self.kind,
            "starts_at": iso(self.starts_at),
            "ends_at": iso(self.ends_at),
            "message": self.message,
            "part": self.part or None,
            "urgent": self.urgent,
        }


@dataclass(slots=True)
class QueueState:
    """Everything about one queue: the fold of its event stream.

    ``waiting`` holds ticket ids in serving order, ``calling`` the called ones, newest first.
    ``version`` and ``epoch`` are set by the store, not by events.
    """

    info: str
    epoch: str = ""
    version: int = 0
    config: QueueConfig = field(default_factory=QueueConfig)
    day: str = ""
    open: bool = False
    web_open: bool = False
    web_closed_reason: str = "staff"
    suspended: bool = False
    message: str = ""
    notices: tuple[Notice, ...] = ()
    """The facility's announced interruptions and discontinuations (from its contract)."""
    profile: Profile | None = None
    """The facility's name, this counter's label and rooms, the display language (None
    until the facility's settings are first saved: pages read the facility record)."""
    last_number: int = 0
    web_issued: int = 0
    tickets: dict[str, Ticket] = field(default_factory=dict)
    waiting: list[str] = field(default_factory=list)
    calling: list[str] = field(default_factory=list)
    minutes_per_patient: float = 5.0
    last_call_at: float | None = None
    updated_at: float = 0.0
    range_factors: tuple[tuple[float, float], ...] = ()
    """(low, high) per estimate class (``estimate.wait_range``), learnt from the queue's
    history by the analytics; empty: the defaults."""
    bands: tuple[BandCount, ...] = ()
    """Today's booking bands with their counts (``SetBands``, sent by the booking service)."""

    def copy(self) -> QueueState:
        """A copy safe to change: containers are new, tickets (frozen) are shared."""
        return QueueState(
            **{name: getattr(self, name) for name in self.__dataclass_fields__},
        )._own_containers()

    def _own_containers(self) -> QueueState:
        self.tickets = dict(self.tickets)
        self.waiting = list(self.waiting)
        self.calling = list(self.calling)
        return self


# ---- commands: what someone asks for -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Command:
    at: float


@dataclass(frozen=True, slots=True)
class StartDay(Command):
    """Nothing but the day check every command makes: rolls a queue into a new day that
    nobody has acted on yet (so monitors stop showing yesterday)."""


@dataclass(frozen=True, slots=True)
class OpenReception(Command):
    pass


@dataclass(frozen=True, slots=True)
class CloseReception(Command):
    pass


@dataclass(frozen=True, slots=True)
class OpenWeb(Command):
    pass


@dataclass(frozen=True, slots=True)
class CloseWeb(Command):
    pass


@dataclass(frozen=True, slots=True)
class IssueTicket(Command):
    ticket_id: str
    channel: str = "web"
    name: str = ""
    phone: str = ""
    note: str = ""
    priority: bool = False
    patient_ref: str | None = None
    phone_consent: tuple[float, str, str] | None = None
    """Consent to phone call-outs (at, by, text_version); ``phone`` is then E.164."""
    service_hours: tuple[str, str] | None = None
    """Patient-facing issues carry the server operating hours they must fall in (Table 2)."""


@dataclass(frozen=True, slots=True)
class CallNext(Command):
    room: str = "1"


@dataclass(frozen=True, slots=True)
class CallTicket(Command):
    ticket_id: str
    room: str = "1"


@dataclass(frozen=True, slots=True)
class Recall(Command):
    ticket_id: str


@dataclass(frozen=True, slots=True)
class MarkAbsent(Command):
    ticket_id: str


@dataclass(frozen=True, slots=True)
class Requeue(Command):
    ticket_id: str
    to_end: bool = False


@dataclass(frozen=True, slots=True)
class CheckIn(Command):  # the patient says "I'm here"
    ticket_id: str


@dataclass(frozen=True, slots=True)
class Postpone(Command):  # the patient will be late: back ``requeue_offset`` places
    ticket_id: str


@dataclass(frozen=True, slots=True)
class TransferOut(Command):
    """The ticket leaves this queue for counter ``to`` of the same facility."""

    ticket_id: str
    to: str


@dataclass(frozen=True, slots=True)
class TransferIn(Command):
    """``ticket`` (as it left counter ``source``) joins this queue's line."""

    ticket: Ticket
    source: str


@dataclass(frozen=True, slots=True)
class Annotate(Command):
    """Show an outcome on a ticket to staff (an adapter's ``emr.status``…): no event when
    the ticket already has that value (``hub/queue/annotate.py``)."""

    ticket_id: str
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class LinkPatient(Command):
    """Staff link a ticket to a patient-card number (after an EMR lookup)."""

    ticket_id: str
    patient_ref: str
    by: str = "staff"


@dataclass(frozen=True, slots=True)
class Complete(Command):
    ticket_id: str


@dataclass(frozen=True, slots=True)
class Cancel(Command):
    ticket_id: str
    by: str = "staff"


@dataclass(frozen=True, slots=True)
class SetMessage(Command):
    text: str


@dataclass(frozen=True, slots=True)
class SetSuspended(Command):
    suspended: bool


@dataclass(frozen=True, slots=True)
class SetNotices(Command):
    notices: tuple[Notice, ...]


@dataclass(frozen=True, slots=True)
class SetRangeFactors(Command):
    """The analytics' calibrated (low, high) factors per estimate class."""

    factors: tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class AdmitBooking(Command):
    """A booked patient checked in: their booking becomes a ticket (channel ``reserved``,
    id = the booking's id), placed by the queue's placement policy, or at the end when
    ``late``."""

    ticket_id: str
    band: str
    band_start: float
    name: str = ""
    phone: str = ""
    patient_ref: str | None = None
    phone_consent: tuple[float, str, str] | None = None
    late: bool = False
    staff: bool = False
    """Staff check the patient in (else the patient's phone: reception must be open and
    the facility not suspended, as for web tickets)."""


@dataclass(frozen=True, slots=True)
class SetBands(Command):
    """Today's bands with their counts, from the booking book; ``booked``: the ids of the
    bookings still booked there (one the queue holds a ticket for is not expected)."""

    bands: tuple[BandCount, ...]
    booked: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class SetProfile(Command):
    profile: Profile


@dataclass(frozen=True, slots=True)
class Configure(Command):
    config: QueueConfig
    service_hours: tuple[str, str] | None = None
    """The server hours (Table 2) booking bands must lie in."""
