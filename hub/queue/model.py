"""The queue's data: tickets, state, commands and events. Plain dataclasses, no behaviour.

A queue is one information number (``1234-01``). Its ``QueueState`` is the fold of its
events; commands carry the time they happen at (``at``, Unix seconds) so the rules never
read a clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import ClassVar, Literal

TicketChannel = Literal["web", "desk", "kiosk", "phone"]
TicketStatus = Literal["waiting", "called", "done", "cancelled", "absent"]
WebClosedReason = Literal["staff", "cap", "closing_time"]
CHANNELS: tuple[str, ...] = ("web", "desk", "kiosk", "phone")

FACILITY_RE = re.compile(r"^[0-9]{1,8}\Z")
COUNTER_RE = re.compile(r"^[0-9]{2}\Z")
INFO_RE = re.compile(r"^([0-9]{1,8})-([0-9]{2})\Z")


def split_info(info: str) -> tuple[str, str] | None:
    """``"1234-01"`` -> ``("1234", "01")``; None when it is not an information number."""
    match = INFO_RE.match(info)
    return (match.group(1), match.group(2)) if match else None


@dataclass(frozen=True, slots=True)
class Ticket:
    """One numbered place in one queue on one business day."""

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


@dataclass(frozen=True, slots=True)
class QueueConfig:
    """Per-queue settings a clinic may change."""

    tz: str = "Asia/Tokyo"
    web_daily_cap: int | None = None
    requeue_offset: int = 3
    default_minutes: float = 5.0
    close_web_at: str | None = None
    """"HH:MM" local: stop web acceptance when a new ticket would be called after this."""


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
    last_number: int = 0
    web_issued: int = 0
    tickets: dict[str, Ticket] = field(default_factory=dict)
    waiting: list[str] = field(default_factory=list)
    calling: list[str] = field(default_factory=list)
    minutes_per_patient: float = 5.0
    last_call_at: float | None = None
    updated_at: float = 0.0

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
class Configure(Command):
    config: QueueConfig


# ---- events: what happened (stored in the stream) --------------------------------------------


@dataclass(frozen=True, slots=True)
class Event:
    kind: ClassVar[str] = "event"
    at: float


@dataclass(frozen=True, slots=True)
class QueueCreated(Event):
    kind: ClassVar[str] = "queue_created"
    info: str
    config: QueueConfig


@dataclass(frozen=True, slots=True)
class DayStarted(Event):
    kind: ClassVar[str] = "day_started"
    day: str


@dataclass(frozen=True, slots=True)
class ReceptionOpened(Event):
    kind: ClassVar[str] = "reception_opened"


@dataclass(frozen=True, slots=True)
class ReceptionClosed(Event):
    kind: ClassVar[str] = "reception_closed"


@dataclass(frozen=True, slots=True)
class WebOpened(Event):
    kind: ClassVar[str] = "web_opened"


@dataclass(frozen=True, slots=True)
class WebClosed(Event):
    kind: ClassVar[str] = "web_closed"
    reason: str


@dataclass(frozen=True, slots=True)
class TicketIssued(Event):
    kind: ClassVar[str] = "ticket_issued"
    ticket: Ticket


@dataclass(frozen=True, slots=True)
class TicketCalled(Event):
    kind: ClassVar[str] = "ticket_called"
    ticket_id: str
    room: str


@dataclass(frozen=True, slots=True)
class TicketRecalled(Event):
    kind: ClassVar[str] = "ticket_recalled"
    ticket_id: str


@dataclass(frozen=True, slots=True)
class TicketAbsent(Event):
    kind: ClassVar[str] = "ticket_absent"
    ticket_id: str


@dataclass(frozen=True, slots=True)
class TicketRequeued(Event):
    kind: ClassVar[str] = "ticket_requeued"
    ticket_id: str
    position: int


@dataclass(frozen=True, slots=True)
class TicketCompleted(Event):
    kind: ClassVar[str] = "ticket_completed"
    ticket_id: str


@dataclass(frozen=True, slots=True)
class TicketCancelled(Event):
    kind: ClassVar[str] = "ticket_cancelled"
    ticket_id: str
    by: str


@dataclass(frozen=True, slots=True)
class MessageSet(Event):
    kind: ClassVar[str] = "message_set"
    text: str


@dataclass(frozen=True, slots=True)
class SuspensionSet(Event):
    kind: ClassVar[str] = "suspension_set"
    suspended: bool


@dataclass(frozen=True, slots=True)
class NoticesSet(Event):
    kind: ClassVar[str] = "notices_set"
    notices: tuple[Notice, ...]


@dataclass(frozen=True, slots=True)
class Configured(Event):
    kind: ClassVar[str] = "configured"
    config: QueueConfig


EVENT_TYPES: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (
        QueueCreated,
        DayStarted,
        ReceptionOpened,
        ReceptionClosed,
        WebOpened,
        WebClosed,
        TicketIssued,
        TicketCalled,
        TicketRecalled,
        TicketAbsent,
        TicketRequeued,
        TicketCompleted,
        TicketCancelled,
        MessageSet,
        SuspensionSet,
        NoticesSet,
        Configured,
    )
}
