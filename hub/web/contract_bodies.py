"""Request bodies of the operator's contract API (``hub.web.contracts``): parsed and
validated by msgspec, and described by OpenAPI from the same structs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

import msgspec

from hub.contracts.model import (
    IncidentCause,
    InterruptionKind,
    Option,
    Part,
    RefusalReason,
    ServiceItem,
    SuspensionReason,
)
from hub.web.bodies import CounterNumber, FacilityNumber, Short, Text

Yen = Annotated[int, msgspec.Meta(ge=0, le=1_000_000_000)]
Aware = Annotated[datetime, msgspec.Meta(tz=True)]


class Fees(msgspec.Struct, kw_only=True):
    initial_fee: Yen = 0
    monthly: dict[Part, Yen] = msgspec.field(default_factory=dict)
    """Monthly service fee of each contracted item and option, yen before tax."""


class ApplyRequest(msgspec.Struct, kw_only=True):
    """An application (Art. 6) as the operator records it."""

    applicant: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    items: Annotated[list[ServiceItem], msgspec.Meta(min_length=1, max_length=2)]
    options: Annotated[list[Option], msgspec.Meta(max_length=3)] = msgspec.field(
        default_factory=list
    )
    fees: Fees = msgspec.field(default_factory=Fees)
    minimum_term_months: Annotated[int, msgspec.Meta(ge=0, le=120)] = 0
    applied_on: date | None = None
    """Default: today (facility time)."""


class ApproveRequest(msgspec.Struct, kw_only=True):
    """Approve (Art. 7): assigns the facility number (given, or the next free one) and its
    counters, creates the facility and its queues; ``start_date`` defaults to today."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    facility: FacilityNumber | None = None
    counters: Annotated[dict[CounterNumber, Short], msgspec.Meta(min_length=1, max_length=99)] = (
        msgspec.field(default_factory=lambda: {"01": ""})
    )
    address: Text = ""
    hours: Text = ""
    tz: Annotated[str, msgspec.Meta(max_length=64)] = "Asia/Tokyo"
    start_date: date | None = None


class RefuseRequest(msgspec.Struct, kw_only=True):
    reason: RefusalReason
    on: date | None = None


class ContractSuspendRequest(msgspec.Struct, kw_only=True):
    reason: SuspensionReason
    on: date | None = None


class DayRequest(msgspec.Struct, kw_only=True):
    """The day the command takes effect (facility time); default today."""

    on: date | None = None


class CancelRequest(msgspec.Struct, kw_only=True):
    """Art. 15 (``operator``: from a suspension), 16-1 (``customer``: written notice given
    ``on``, effective at the later of the end of next month and ``designated_month``), 16-2
    (``interruption``: the id of an interruption without prospect of recovery)."""

    by: Literal["operator", "customer", "interruption"]
    on: date | None = None
    designated_month: date | None = None
    interruption: Annotated[str, msgspec.Meta(max_length=40)] | None = None


class InterruptionRequest(msgspec.Struct, kw_only=True):
    """Art. 13: announced before it starts unless ``urgent``; ``ends_at`` null = no
    prospect of recovery. ``announced_at`` defaults to now."""

    kind: InterruptionKind
    starts_at: Aware
    ends_at: Aware | None = None
    announced_at: Aware | None = None
    urgent: bool = False
    message: Text = ""


class DiscontinuationRequest(msgspec.Struct, kw_only=True):
    """Art. 14: announced (default today) at least 2 months before ``on``."""

    part: Part
    on: date
    announced_on: date | None = None
    message: Text = ""


class IncidentRequest(msgspec.Struct, kw_only=True):
    """An outage from when the operator learned of it to when it confirmed recovery."""

    learned_at: Aware
    recovered_at: Aware
    cause: IncidentCause = "operator"
    parts: Annotated[list[Part], msgspec.Meta(max_length=5)] = msgspec.field(default_factory=list)
