"""The pure rules of the operator's commands beyond ``lifecycle``: changes of a stored
``ContractRecord`` (a refund claim, a cancellation picking its notice), the bounds of the
dates and limits the operator gives, and the Art. 12 reason a facility's suspension needs.
No I/O; ``now`` is passed. A refusal raises its ``JunbanError`` and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Literal, TypeGuard, TypeVar, get_args

from hub.contracts import lifecycle, money
from hub.contracts.model import Incident, SuspensionReason
from hub.contracts.store import ContractRecord
from hub.errors import Conflict, NotFound, Unprocessable

EARLIEST, LATEST = date(2000, 1, 1), date(2099, 12, 31)
"""Dates the API accepts (keeps the calendar arithmetic far from year 1 and 9999)."""
MAX_INCIDENT = timedelta(days=366)
"""The longest outage one incident records."""
LIMIT_WINDOW_S = (1, 86_400)
"""Art. 37: the window of a facility's rate limit, in seconds (inclusive)."""

Change = Callable[[ContractRecord], ContractRecord]
"""A pure change of a stored record; it raises to refuse."""
T = TypeVar("T")


def day_or_today(value: date | None, now: float, name: str = "on") -> date:
    """``value``, or today in facility time; 422 ``invalid_date`` outside 2000–2099."""
    day = value if value is not None else lifecycle.local_date(datetime.fromtimestamp(now, UTC))
    if not EARLIEST <= day <= LATEST:
        raise Unprocessable(f"{name} must be between 2000 and 2099", code="invalid_date")
    return day


def moment(value: datetime, name: str) -> datetime:
    """``value``; 422 ``invalid_date`` outside the years 2000–2099."""
    if not EARLIEST.year <= value.year <= LATEST.year:
        raise Unprocessable(f"{name} must be between 2000 and 2099", code="invalid_date")
    return value


def maybe_moment(value: datetime | None, name: str) -> datetime | None:
    return None if value is None else moment(value, name)


def domain(rule: Callable[[], T]) -> T:
    """Run a pure rule; date arithmetic out of range is 422 ``invalid_date``, not a 500."""
    try:
        return rule()
    except (ValueError, OverflowError) as exc:
        raise Unprocessable(f"a date is out of range: {exc}", code="invalid_date") from exc


def require_started(record: ContractRecord) -> None:
    """409 ``not_started`` for a contract not approved (yet, or ever)."""
    if record.contract.facility is None or record.contract.status in ("applied", "refused"):
        raise Conflict("the contract has not started", code="not_started")


def check_incident(incident: Incident) -> None:
    """An outage recovers after it was learned of, within ``MAX_INCIDENT``."""
    if not incident.learned_at < incident.recovered_at <= incident.learned_at + MAX_INCIDENT:
        raise Unprocessable("recovered_at is after learned_at, within a year", code="invalid_date")


def cancel(
    by: Literal["operator", "customer", "interruption"],
    on: date,
    designated_month: date | None,
    interruption: str | None,
) -> Change:
    """Art. 15 (``operator``), 16-1 (``customer``) or 16-2 (``interruption``: the id of an
    announced interruption, else 404 ``unknown_notice``)."""

    def change(r: ContractRecord) -> ContractRecord:
        if by == "operator":
            return replace(r, contract=lifecycle.cancel_by_operator(r.contract, on))
        if by == "customer":
            return replace(
                r, contract=lifecycle.cancel_by_customer(r.contract, on, designated_month)
            )
        found = [n for n in r.interruptions if n.id == interruption]
        if not found:
            raise NotFound("no such interruption on this contract", code="unknown_notice")
        contract = lifecycle.cancel_for_interruption(r.contract, found[0].interruption, on)
        return replace(r, contract=contract)

    return change


def claim_refund(incident_id: str, on: date) -> Change:
    """The customer claims an incident's refund on ``on``: once (409 ``already_claimed``),
    only for the operator's fault and 18 operating hours or more (409 ``not_refundable``,
    Art. 32-2, 24-4), within one month of the recovery (422 ``claim_too_late``, Art. 32-1)."""

    def change(r: ContractRecord) -> ContractRecord:
        found = [i for i in r.incidents if i.incident.id == incident_id]
        if not found:
            raise NotFound("no such incident on this contract", code="unknown_incident")
        item = found[0]
        if item.claimed_on is not None:
            raise Conflict("this incident was claimed already", code="already_claimed")
        if item.incident.cause != "operator":
            raise Conflict(
                "no refund when a carrier is at fault (Art. 32-2)", code="not_refundable"
            )
        if not money.claim_in_time(item.incident, on):
            raise Unprocessable(
                "a refund is claimed within one month of the recovery (Art. 32-1)",
                code="claim_too_late",
            )
        refund = money.contract_outage_refund(r.contract, item.incident)
        if refund <= 0:
            raise Conflict("under 18 operating hours: no refund (Art. 24-4)", code="not_refundable")
        claimed = replace(item, claimed_on=on, refund=refund)
        return replace(r, incidents=tuple(claimed if i is item else i for i in r.incidents))

    return change


def rate_limit(text: str | None, name: str) -> tuple[int, float] | None:
    """Art. 37: ``"count/seconds"`` (already of that shape) as (count, window); None stays
    None (the hub's default). 422 ``invalid_body`` for a window outside ``LIMIT_WINDOW_S``."""
    if text is None:
        return None
    count, _, window = text.partition("/")
    low, high = LIMIT_WINDOW_S
    if not low <= int(window) <= high:
        raise Unprocessable(f"{name}: the window is 1 to 86400 seconds", code="invalid_body")
    return int(count), float(window)


def _is_art12(reason: str) -> TypeGuard[SuspensionReason]:
    return reason in get_args(SuspensionReason)


def art12_reason(reason: str) -> SuspensionReason:
    """``reason`` when it is an Art. 12 reason (``SuspensionReason``), else 422
    ``invalid_reason``: a facility under contract is suspended only for one of them."""
    if not _is_art12(reason):
        raise Unprocessable(
            "this facility is under contract: give an Art. 12 reason "
            f"({', '.join(get_args(SuspensionReason))})",
            code="invalid_reason",
        )
    return reason
