"""What happened to a queue: the events stored in its stream (``hub/queue/store.py``), one
frozen dataclass each, named by ``kind``. ``hub/queue/evolve.py`` folds them into a
``QueueState``; the commands that lead to them are in ``hub/queue/model.py``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from hub.queue.model import BandCount, Notice, QueueConfig, Ticket
from hub.queue.profile import Profile


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
    position: int | None = None
    """Where a checked-in booking joins the line (``hub.queue.placement``), decided once so
    a replay never depends on today's settings; None: the arrival place."""


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
class TicketArrived(Event):
    kind: ClassVar[str] = "ticket_arrived"
    ticket_id: str


@dataclass(frozen=True, slots=True)
class TicketPostponed(Event):
    kind: ClassVar[str] = "ticket_postponed"
    ticket_id: str
    position: int


@dataclass(frozen=True, slots=True)
class TicketTransferredOut(Event):
    kind: ClassVar[str] = "ticket_transferred_out"
    ticket_id: str
    to: str


@dataclass(frozen=True, slots=True)
class TicketTransferredIn(Event):
    kind: ClassVar[str] = "ticket_transferred_in"
    ticket: Ticket
    """The ticket as it joins: status waiting, ``from_counter`` and ``hops`` set."""


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
class TicketAnnotated(Event):
    """An outcome shown to staff (``Annotate``); no outbox entry for a batch of only these."""

    kind: ClassVar[str] = "ticket_annotated"
    ticket_id: str
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class TicketLinked(Event):
    """Staff linked the ticket to a patient-card number (``patient_ref``)."""

    kind: ClassVar[str] = "ticket_linked"
    ticket_id: str
    patient_ref: str
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
class ProfileSet(Event):
    kind: ClassVar[str] = "profile_set"
    profile: Profile


@dataclass(frozen=True, slots=True)
class RangeFactorsSet(Event):
    kind: ClassVar[str] = "range_factors_set"
    factors: tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class BandsSet(Event):
    kind: ClassVar[str] = "bands_set"
    bands: tuple[BandCount, ...]


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
        TicketArrived,
        TicketPostponed,
        TicketTransferredOut,
        TicketTransferredIn,
        TicketCompleted,
        TicketCancelled,
        TicketAnnotated,
        TicketLinked,
        MessageSet,
        SuspensionSet,
        NoticesSet,
        Configured,
        ProfileSet,
        RangeFactorsSet,
        BandsSet,
    )
}
