"""The contract's life (Art. 5–16, 23-4): commands that return a new ``Contract`` or raise.

Pure: no I/O, no clock reads; every command takes the day it happens (facility-local date).
A refused command raises a ``JunbanError`` with a stable code and changes nothing.

Contract life (``TRANSITIONS``)::

    applied ──approve──▶ active ──suspend──▶ suspended ──cancel_by_operator──▶ cancelled
       │                  │  ▲                 │
       └─refuse─▶ refused │  └─────resume──────┤
                          └─cancel_by_customer / _for_interruption / _for_discontinuation
                            (from active or suspended)──▶ cancelled

A ``cancelled`` contract stays in force through ``cancellation.effective_date``; a contract
whose renewal was objected to (Art. 23-4) ends with its term without any transition.

Suspension is a state of its own (``Contract.suspension``), not only a status: while a
cancelled contract is still in force (a customer's notice period, Art. 16-1) the operator
may still suspend it (Art. 12), resume it once the reason is cured, or cancel it (Art. 15,
bringing the effective date forward); its status stays ``cancelled``. Suspend, resume and
the operator's cancellation are refused (409 ``not_in_force``) on a day the contract is
not in force.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from hub.contracts.model import (
    OPTIONS,
    PARTS,
    REFUSAL_REASONS,
    SERVICE_ITEMS,
    SUSPENSION_REASONS,
    Cancellation,
    CancelledBy,
    Contract,
    ContractStatus,
    Discontinuation,
    DroppedPart,
    FeePlan,
    Interruption,
    Option,
    RefusalReason,
    ServiceItem,
    SuspensionReason,
)

# the calendar and the terms (hub.contracts.terms) are part of this module's API as well
from hub.contracts.terms import DEFAULT_TERM_MONTHS as DEFAULT_TERM_MONTHS
from hub.contracts.terms import RENEWAL_MONTHS as RENEWAL_MONTHS
from hub.contracts.terms import TOKYO as TOKYO
from hub.contracts.terms import add_months as add_months
from hub.contracts.terms import charges_until as charges_until
from hub.contracts.terms import ends_on as ends_on
from hub.contracts.terms import first_of_next_month as first_of_next_month
from hub.contracts.terms import first_term_end as first_term_end
from hub.contracts.terms import is_effective as is_effective
from hub.contracts.terms import live_parts as live_parts
from hub.contracts.terms import local_date as local_date
from hub.contracts.terms import minimum_term_end as minimum_term_end
from hub.contracts.terms import month_end as month_end
from hub.contracts.terms import next_objection_deadline as next_objection_deadline
from hub.contracts.terms import objection_deadline as objection_deadline
from hub.contracts.terms import service_available as service_available
from hub.contracts.terms import term_end_as_of as term_end_as_of
from hub.errors import Conflict, Unprocessable
from hub.queue.model import COUNTER_RE, FACILITY_RE

DISCONTINUATION_NOTICE_MONTHS = 2
"""Art. 14-2: 廃止の２ヶ月前までに … 通知します."""
MAX_TERM_MONTHS = 120

TRANSITIONS: dict[str, tuple[frozenset[ContractStatus], ContractStatus | None]] = {
    "approve": (frozenset({"applied"}), "active"),
    "refuse": (frozenset({"applied"}), "refused"),
    "suspend": (frozenset({"active", "cancelled"}), "suspended"),
    "resume": (frozenset({"suspended", "cancelled"}), "active"),
    "cancel_by_operator": (frozenset({"suspended", "cancelled"}), "cancelled"),
    "cancel_by_customer": (frozenset({"active", "suspended"}), "cancelled"),
    "cancel_for_interruption": (frozenset({"active", "suspended"}), "cancelled"),
    "cancel_for_discontinuation": (frozenset({"active", "suspended"}), "cancelled"),
    "object_to_renewal": (frozenset({"active", "suspended"}), None),
}
"""action -> (statuses it may start from, status it leads to; None: unchanged). From
``cancelled`` (still in force), suspend / resume / cancel_by_operator keep the status
``cancelled`` and change only the suspension (and the effective date); see
``suspend``, ``resume`` and ``cancel_by_operator`` for their extra conditions."""


# ---- commands -------------------------------------------------------------------------------


def apply(
    contract_id: str,
    applicant: str,
    items: tuple[ServiceItem, ...],
    fees: FeePlan,
    applied_on: date,
    options: tuple[Option, ...] = (),
    minimum_term_months: int = 0,
) -> Contract:
    """Art. 6: a new application (status ``applied``), after checking it is well formed."""
    if not contract_id or not applicant.strip():
        raise Unprocessable("a contract needs an id and an applicant", code="invalid_contract")
    if not items or any(item not in SERVICE_ITEMS for item in items):
        raise Unprocessable(
            f"items must be one or more of {', '.join(SERVICE_ITEMS)}", code="invalid_contract"
        )
    if any(option not in OPTIONS for option in options):
        raise Unprocessable(f"options must be of {', '.join(OPTIONS)}", code="invalid_contract")
    if len(set(items)) != len(items) or len(set(options)) != len(options):
        raise Unprocessable("an item or option is listed twice", code="invalid_contract")
    if options and "reservation" not in items:
        raise Unprocessable(
            "options work on the reservation service (Table 1): contract it too",
            code="option_needs_reservation",
        )
    if not 0 <= minimum_term_months <= MAX_TERM_MONTHS:
        raise Unprocessable(
            f"minimum_term_months must be 0 to {MAX_TERM_MONTHS}", code="invalid_contract"
        )
    _check_fees(fees, (*items, *options))
    return Contract(
        id=contract_id,
        applicant=applicant,
        items=tuple(items),
        options=tuple(options),
        fees=fees,
        applied_on=applied_on,
        minimum_term_months=minimum_term_months,
    )


def _check_fees(fees: FeePlan, parts: tuple[str, ...]) -> None:
    amounts = [fees.initial_fee, *fees.monthly.values()]
    if any(type(amount) is not int or amount < 0 for amount in amounts):
        raise Unprocessable("fees are whole yen, 0 or more", code="invalid_fee")
    missing = [part for part in parts if part not in fees.monthly]
    extra = [part for part in fees.monthly if part not in parts]
    if missing or extra:
        raise Unprocessable(
            "the fee plan must price exactly the contracted items and options",
            code="invalid_fee",
            missing=missing,
            extra=extra,
        )


def approve(
    contract: Contract, facility: str, counters: tuple[str, ...], start_date: date
) -> Contract:
    """Art. 7: approved, set up and confirmed working on ``start_date`` (利用開始日), the day
    the contract is formed. The caller assigns the facility and counter numbers (Art. 5-2)."""
    _transition(contract, "approve")
    if not FACILITY_RE.match(facility):
        raise Unprocessable("facility must be 1 to 8 digits", code="invalid_facility")
    if not counters or len(set(counters)) != len(counters):
        raise Unprocessable("give one or more distinct counter numbers", code="invalid_counter")
    if not all(COUNTER_RE.match(counter) for counter in counters):
        raise Unprocessable("counter numbers are two digits", code="invalid_counter")
    _not_before(start_date, contract.applied_on, "the application")
    return replace(
        contract,
        status="active",
        facility=facility,
        counters=tuple(counters),
        start_date=start_date,
    )


def refuse(contract: Contract, reason: RefusalReason, on: date) -> Contract:
    """Art. 8: the operator does not accept the application, for one of its reasons."""
    _transition(contract, "refuse")
    if reason not in REFUSAL_REASONS:
        raise Unprocessable(
            f"reason must be one of {', '.join(REFUSAL_REASONS)}", code="invalid_reason"
        )
    _not_before(on, contract.applied_on, "the application")
    return replace(contract, status="refused", refusal=reason, refused_on=on)


def suspend(contract: Contract, reason: SuspensionReason, on: date) -> Contract:
    """Art. 12: suspended without notice; fees keep accruing (Art. 24-3). Also a cancelled
    contract still in force on ``on`` (its status stays ``cancelled``)."""
    _transition(contract, "suspend")
    if reason not in SUSPENSION_REASONS:
        raise Unprocessable(
            f"reason must be one of {', '.join(SUSPENSION_REASONS)}", code="invalid_reason"
        )
    if contract.suspension is not None:
        raise _illegal(contract, "suspend", "it is suspended already")
    _still_in_force(contract, on)
    status: ContractStatus = "cancelled" if contract.status == "cancelled" else "suspended"
    return replace(contract, status=status, suspension=reason, suspended_on=on)


def resume(contract: Contract, on: date) -> Contract:
    """The reason for a suspension was cured: the service runs again — also during a
    cancelled contract's notice period (status stays ``cancelled``), not after the operator
    cancelled it (Art. 15: the reason was not cured)."""
    _transition(contract, "resume")
    if contract.suspension is None:
        raise _illegal(contract, "resume", "it is not suspended")
    if contract.cancellation is not None and contract.cancellation.by == "operator":
        raise _illegal(contract, "resume", "the operator cancelled it")
    _still_in_force(contract, on)
    status: ContractStatus = "cancelled" if contract.status == "cancelled" else "active"
    return replace(contract, status=status, suspension=None, suspended_on=None)


def cancel_by_operator(contract: Contract, on: date) -> Contract:
    """Art. 15-1: a suspended customer did not cure the reason: cancelled that day, without
    demand. (Art. 23-3: fees stay due to the end of the term, see ``charges_until``.) A
    contract the customer cancelled already (still in force, suspended) ends ``on`` instead
    of its later effective date."""
    _transition(contract, "cancel_by_operator")
    if contract.suspension is None:
        raise _illegal(contract, "cancel by operator", "suspend it first (Art. 15-1)")
    if contract.cancellation is not None and contract.cancellation.by == "operator":
        raise _illegal(contract, "cancel by operator", "the operator cancelled it already")
    _still_in_force(contract, on)
    effective = on
    if contract.cancellation is not None:
        effective = min(on, contract.cancellation.effective_date)
    return _cancelled(contract, "operator", on, effective)


def customer_cancellation_date(
    contract: Contract, notice_date: date, designated_month: date | None = None
) -> date:
    """Art. 16-1: the later of the end of the month after the notice and the end of the
    designated month; with a minimum term, never before its last day (counted from the 1st
    of the month after the start date)."""
    if contract.start_date is None:
        raise Conflict("the contract has not started", code="illegal_transition")
    effective = month_end(add_months(notice_date.replace(day=1), 1))
    if designated_month is not None:
        effective = max(effective, month_end(designated_month))
    minimum_end = minimum_term_end(contract)
    if minimum_end is not None:
        effective = max(effective, minimum_end)
    return effective


def cancel_by_customer(
    contract: Contract, notice_date: date, designated_month: date | None = None
) -> Contract:
    """Art. 16-1: the customer's written notice; effective on ``customer_cancellation_date``."""
    _transition(contract, "cancel_by_customer")
    _in_force_on(contract, notice_date)
    effective = customer_cancellation_date(contract, notice_date, designated_month)
    return _cancelled(contract, "customer", notice_date, effective, designated_month)


def cancel_for_interruption(
    contract: Contract, interruption: Interruption, notice_date: date, tz: str = TOKYO
) -> Contract:
    """Art. 16-2: an interruption (Art. 13-1) with no prospect of recovery: the customer's
    notice takes effect the day it reaches the operator."""
    _transition(contract, "cancel_for_interruption")
    _in_force_on(contract, notice_date)
    if interruption.ends_at is not None:
        raise Conflict(
            "this interruption has an expected end: cancel under Art. 16-1",
            code="recovery_expected",
        )
    if notice_date < local_date(interruption.starts_at, tz):
        raise Unprocessable("the interruption has not started yet", code="invalid_date")
    return _cancelled(contract, "interruption", notice_date, notice_date)


def cancel_for_discontinuation(contract: Contract, notice: Discontinuation) -> Contract:
    """Art. 16-3: the contract for a discontinued item ends on the discontinuation day.

    decided: when other items remain, only the discontinued part ends (``dropped``; its
    options go with the reservation service); the contract is cancelled only when no
    service item is left.
    """
    _transition(contract, "cancel_for_discontinuation")
    validate_discontinuation(notice)
    _in_force_on(contract, notice.on)
    live = [part for part in contract.parts if part not in {d.part for d in contract.dropped}]
    if notice.part not in live:
        raise Conflict("that item is not (or no longer) contracted", code="not_contracted")
    ending = {notice.part, *(contract.options if notice.part == "reservation" else ())}
    dropped = contract.dropped + tuple(
        DroppedPart(part=part, last_day=notice.on) for part in live if part in ending
    )
    if not [item for item in contract.items if item in live and item not in ending]:
        return replace(
            _cancelled(contract, "discontinuation", notice.announced_on, notice.on),
            dropped=dropped,
        )
    return replace(contract, dropped=dropped)


def object_to_renewal(contract: Contract, on: date) -> Contract:
    """Art. 23-4: a written objection to renewal. It stops the first renewal whose deadline
    (the end of the month before the term expires) it meets; a later one is too late for
    this term and stops the next renewal instead."""
    _transition(contract, "object_to_renewal")
    _in_force_on(contract, on)
    if contract.renewal_objection_on is not None:
        raise Conflict("renewal was already objected to", code="already_objected")
    return replace(contract, renewal_objection_on=on)


def _cancelled(
    contract: Contract,
    by: CancelledBy,
    notice: date,
    effective: date,
    designated_month: date | None = None,
) -> Contract:
    cancellation = Cancellation(
        by=by, notice_date=notice, effective_date=effective, designated_month=designated_month
    )
    return replace(contract, status="cancelled", cancellation=cancellation)


def _transition(contract: Contract, action: str) -> None:
    allowed, _ = TRANSITIONS[action]
    if contract.status not in allowed:
        raise Conflict(
            f"cannot {action.replace('_', ' ')} a contract that is {contract.status}",
            code="illegal_transition",
            status=contract.status,
        )


def _illegal(contract: Contract, action: str, why: str) -> Conflict:
    return Conflict(
        f"cannot {action} this {contract.status} contract: {why}",
        code="illegal_transition",
        status=contract.status,
    )


def _still_in_force(contract: Contract, day: date) -> None:
    """422 ``invalid_date`` before the start; 409 ``not_in_force`` after the end."""
    _in_force_on(contract, day)
    if not is_effective(contract, day):
        end = ends_on(contract)
        raise Conflict(
            f"the contract is not in force on {day.isoformat()}",
            code="not_in_force",
            ends_on=None if end is None else end.isoformat(),
        )


def _not_before(day: date, earliest: date, what: str) -> None:
    if day < earliest:
        raise Unprocessable(f"that date is before {what}", code="invalid_date")


def _in_force_on(contract: Contract, day: date) -> None:
    assert contract.start_date is not None  # every status past "applied" has one
    _not_before(day, contract.start_date, "the start date")


# ---- notices --------------------------------------------------------------------------------


def validate_interruption(interruption: Interruption) -> None:
    """Art. 13-2: an interruption is announced before it starts unless it is urgent."""
    times = [interruption.starts_at, interruption.ends_at, interruption.announced_at]
    if any(t is not None and t.tzinfo is None for t in times):
        raise Unprocessable("times need a time zone", code="invalid_date")
    if interruption.ends_at is not None and interruption.ends_at <= interruption.starts_at:
        raise Unprocessable("an interruption ends after it starts", code="invalid_date")
    if interruption.urgent:
        return
    if interruption.announced_at is None or interruption.announced_at >= interruption.starts_at:
        raise Unprocessable(
            "an interruption is announced before it starts unless urgent (Art. 13-2)",
            code="notice_required",
        )


def discontinuation_deadline(on: date) -> date:
    """Art. 14-2: the last day to announce a discontinuation taking effect ``on``."""
    return add_months(on, -DISCONTINUATION_NOTICE_MONTHS)


def validate_discontinuation(notice: Discontinuation) -> None:
    """Art. 14-2: announced at least two months before the discontinuation day."""
    if notice.part not in PARTS:
        raise Unprocessable(f"part must be one of {', '.join(PARTS)}", code="invalid_contract")
    if notice.announced_on > discontinuation_deadline(notice.on):
        raise Unprocessable(
            "a discontinuation is announced 2 months ahead (Art. 14-2): announce it by "
            f"{discontinuation_deadline(notice.on).isoformat()}",
            code="notice_too_short",
        )
