"""The contract data: contracts, fee plans, notices and incidents. Frozen dataclasses, no I/O.

A ``Contract`` is one customer × one facility (Art. 5). Every change is a new value made by
``hub.contracts.lifecycle``; dates are facility-local calendar dates (Asia/Tokyo), instants
are timezone-aware datetimes. ``to_builtins``/``from_builtins`` give the JSON-ready form the
store keeps (ISO dates, lists for tuples).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal, TypeVar

import msgspec

ServiceItem = Literal["reservation", "video"]
"""Table 1 service items: 診療予約サービス, 映像配信サービス."""
SERVICE_ITEMS: tuple[ServiceItem, ...] = ("reservation", "video")

Option = Literal["emr", "phone", "api"]
"""Table 1 options: 電子カルテ・レセコン連携, 電話呼出, API 連携 (all work on reservations)."""
OPTIONS: tuple[Option, ...] = ("emr", "phone", "api")

Part = Literal["reservation", "video", "emr", "phone", "api"]
"""Anything billed by the month: a service item or an option."""
PARTS: tuple[Part, ...] = ("reservation", "video", "emr", "phone", "api")

ContractStatus = Literal["applied", "refused", "active", "suspended", "cancelled"]
CONTRACT_STATUSES: tuple[ContractStatus, ...] = (
    "applied",
    "refused",
    "active",
    "suspended",
    "cancelled",
)

SuspensionReason = Literal[
    "non_payment", "illegal_use", "false_application", "abuse", "terms_violation"
]
"""Art. 12-1: (1) non_payment; (2) illegal_use; (3)(4)(6) abuse (rights, defamation,
facilities); (5) false_application; (7)(8) terms_violation."""
SUSPENSION_REASONS: tuple[SuspensionReason, ...] = (
    "non_payment",
    "illegal_use",
    "false_application",
    "abuse",
    "terms_violation",
)

RefusalReason = Literal[
    "default_risk", "suspension_grounds", "false_application", "prior_breach", "unsuitable"
]
"""Art. 8-1 (1)–(5), in that order."""
REFUSAL_REASONS: tuple[RefusalReason, ...] = (
    "default_risk",
    "suspension_grounds",
    "false_application",
    "prior_breach",
    "unsuitable",
)

CancelledBy = Literal["operator", "customer", "interruption", "discontinuation"]
"""Art. 15 (operator), 16-1 (customer's written notice), 16-2 (interruption without prospect
of recovery), 16-3 (discontinuation of the service item)."""
CANCELLED_BY: tuple[CancelledBy, ...] = ("operator", "customer", "interruption", "discontinuation")

InterruptionKind = Literal["maintenance", "failure"]
"""Art. 13-1 (1) maintenance or works, (2) failure (also (4) carrier, (5) intrusion)."""
IncidentCause = Literal["operator", "carrier"]
"""Who is at fault for an outage: only ``operator`` outages are refunded (Art. 32-2)."""


@dataclass(frozen=True, slots=True)
class FeePlan:
    """What the contract costs, in integer yen before consumption tax (Art. 23-1, 28).

    ``monthly`` has one entry per contracted item/option; a missing entry is a refused
    application, never an implicit zero.
    """

    initial_fee: int = 0
    monthly: dict[str, int] = field(default_factory=dict)

    def monthly_total(self, parts: tuple[str, ...] | None = None) -> int:
        """The monthly service fee of ``parts`` (all of the plan when None)."""
        keys = self.monthly.keys() if parts is None else parts
        return sum(self.monthly.get(part, 0) for part in keys)


@dataclass(frozen=True, slots=True)
class Cancellation:
    """How a contract ends: who, when notified, and the day it takes effect (inclusive: the
    contract is in force through ``effective_date``)."""

    by: CancelledBy
    notice_date: date
    effective_date: date
    designated_month: date | None = None
    """Art. 16-1: any day of the month the customer designated (its last day counts)."""


@dataclass(frozen=True, slots=True)
class DroppedPart:
    """An item/option discontinued (Art. 14) while the contract goes on with the others:
    billed through ``last_day``, not after."""

    part: str
    last_day: date


@dataclass(frozen=True, slots=True)
class Contract:
    """One contract: its application, approval, suspension and cancellation.

    ``status`` follows ``lifecycle.TRANSITIONS``. Once ``cancelled``, the contract stays in
    force (and is billed) through ``cancellation.effective_date`` and, under Art. 23-3, is
    charged to the end of its term (see ``lifecycle.charges_until``).
    """

    id: str
    applicant: str
    items: tuple[ServiceItem, ...]
    fees: FeePlan
    applied_on: date
    options: tuple[Option, ...] = ()
    minimum_term_months: int = 0
    """0 = none; otherwise Art. 16-1's 最低利用期間, counted from the 1st of the month after
    the start date. It is also the first contract term (12 months when there is none)."""
    status: ContractStatus = "applied"
    facility: str | None = None
    """事業所番号, assigned on approval."""
    counters: tuple[str, ...] = ()
    """業務番号 (two digits each), assigned on approval."""
    start_date: date | None = None
    """利用開始日 (Art. 7): the day the operator confirmed the service works."""
    refusal: RefusalReason | None = None
    refused_on: date | None = None
    suspension: SuspensionReason | None = None
    suspended_on: date | None = None
    renewal_objection_on: date | None = None
    """Art. 23-4: a written objection to renewal received that day (by either side)."""
    cancellation: Cancellation | None = None
    dropped: tuple[DroppedPart, ...] = ()

    @property
    def parts(self) -> tuple[str, ...]:
        """Every contracted item and option, dropped ones included."""
        return (*self.items, *self.options)


@dataclass(frozen=True, slots=True)
class Interruption:
    """Art. 13: the operator stops the service for maintenance or a failure.

    ``ends_at`` None: no prospect of recovery (the customer may cancel at once, Art. 16-2).
    ``announced_at`` None: not announced (allowed only when ``urgent``).
    """

    kind: InterruptionKind
    starts_at: datetime
    ends_at: datetime | None = None
    announced_at: datetime | None = None
    urgent: bool = False


@dataclass(frozen=True, slots=True)
class Discontinuation:
    """Art. 14: the operator discontinues one item/option on ``on``, announced on
    ``announced_on`` (at least 2 months ahead). Art. 16-3: the contract for it is cancelled
    on ``on`` (like every effective date here, ``on`` is the last day in force)."""

    part: str
    on: date
    announced_on: date


@dataclass(frozen=True, slots=True)
class Incident:
    """A recorded outage (Art. 24-4, 32): the service wholly unusable from when the operator
    learned of it to when it confirmed recovery. ``parts`` empty = the whole contract."""

    id: str
    learned_at: datetime
    recovered_at: datetime
    cause: IncidentCause = "operator"
    parts: tuple[str, ...] = ()


T = TypeVar("T")


def to_builtins(value: Any) -> Any:
    """A JSON-ready form of any value here (dates as ISO strings, tuples as arrays)."""
    return msgspec.to_builtins(value)


def from_builtins(data: Any, kind: type[T]) -> T:
    """The inverse of ``to_builtins``; ``msgspec.ValidationError`` when ``data`` is malformed."""
    return msgspec.convert(data, kind, strict=False)
