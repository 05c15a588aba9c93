"""Fees, tax, late fees, surcharges and outage refunds (Art. 23–28, 32). Integer yen only.

Every amount is an ``int`` of yen; fractions are kept exact (``Fraction``) until the one
rounding each rule names. Pure: dates and instants are arguments.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from typing import Literal

from hub.contracts import hours as hours_mod
from hub.contracts.lifecycle import TOKYO, add_months, charges_until, live_parts, local_date
from hub.contracts.model import Contract, Incident
from hub.errors import Unprocessable

Rounding = Literal["floor", "half_up", "ceil"]
ROUNDINGS: tuple[Rounding, ...] = ("floor", "half_up", "ceil")

LATE_FEE_RATE = Fraction(145, 1000)
"""Art. 27: 年率１４．５％."""
DAYS_PER_YEAR = 365
"""decided: late fees per day on a 365-day year, leap years too (Japanese practice)."""
SURCHARGE_MULTIPLE = 2
"""Art. 26: 免れた額の２倍に相当する額."""
OUTAGE_BLOCK = timedelta(hours=18)
"""Art. 32-1: 連続１８時間以上 … 時間を１８で除した数. decided: both the condition and the
division count server operating time only (18 h = one operating day, 06:00–24:00); the
reasoning and the quote are in docs/contracts.md."""
OUTAGE_DAY_DIVISOR = 30
"""Art. 32-1: １ヶ月分に相当するサービス費用の３０分の１."""


@dataclass(frozen=True, slots=True)
class TaxPolicy:
    """Art. 28: consumption tax added to the fees. Default 10 %, rounded down per invoice."""

    rate: Fraction = Fraction(10, 100)
    rounding: Rounding = "floor"


DEFAULT_TAX = TaxPolicy()


def round_yen(value: Fraction, rounding: Rounding = "floor") -> int:
    """``value`` to whole yen; the rounding acts on the magnitude, so a credit rounds like
    the charge it reverses (floor = toward zero)."""
    if rounding not in ROUNDINGS:
        raise ValueError(f"rounding must be one of {', '.join(ROUNDINGS)}")
    magnitude = abs(value)
    if rounding == "floor":
        whole = magnitude.numerator // magnitude.denominator
    elif rounding == "ceil":
        whole = -(-magnitude.numerator // magnitude.denominator)
    else:
        whole = int(magnitude + Fraction(1, 2))
    return whole if value >= 0 else -whole


def consumption_tax(base: int, policy: TaxPolicy = DEFAULT_TAX) -> int:
    """Art. 28: the tax on one invoice's taxable ``base`` (signed like the base)."""
    if policy.rate < 0:
        raise ValueError("a tax rate is 0 or more")
    return round_yen(base * policy.rate, policy.rounding)


# ---- service fees ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FeeLine:
    """One item's/option's service fee for one month: ``days`` of ``month_days`` billed."""

    part: str
    monthly_fee: int
    days: int
    month_days: int
    amount: int


def prorate(monthly_fee: int, days: int, month_days: int) -> int:
    """decided: a partial month pays ``floor(fee × days / days in that month)``; a whole
    month pays exactly the fee."""
    return monthly_fee * days // month_days


def service_fee_lines(contract: Contract, month: date) -> list[FeeLine]:
    """The service fees of ``month`` (any day of it), one line per item/option billed.

    Billed from the start date (the first month pro-rated) to ``charges_until`` (Art. 23-3),
    also while suspended (Art. 24-3); a discontinued part to its last day (Art. 16-3).
    """
    if contract.start_date is None:
        return []
    first = month.replace(day=1)
    month_days = calendar.monthrange(first.year, first.month)[1]
    last = first.replace(day=month_days)
    until = charges_until(contract)
    lines = []
    for part in contract.parts:
        begin = max(first, contract.start_date)
        end = min(last, until) if until is not None else last
        for dropped in contract.dropped:
            if dropped.part == part:
                end = min(end, dropped.last_day)
        if begin > end:
            continue
        fee = contract.fees.monthly.get(part, 0)
        days = (end - begin).days + 1
        lines.append(FeeLine(part, fee, days, month_days, prorate(fee, days, month_days)))
    return lines


def initial_fee_due(contract: Contract, month: date) -> int:
    """Art. 23-1 (1), 24-2: the initial fee, billed with the start month, never refunded."""
    start = contract.start_date
    if start is None or (start.year, start.month) != (month.year, month.month):
        return 0
    return contract.fees.initial_fee


# ---- late fees and surcharges ---------------------------------------------------------------


def days_overdue(due_date: date, paid_on: date) -> int:
    """Days after the due date up to and including the payment day (0 if paid in time)."""
    return max(0, (paid_on - due_date).days)


def late_fee(amount: int, due_date: date, paid_on: date, rate: Fraction = LATE_FEE_RATE) -> int:
    """Art. 27: ``floor(amount × 14.5 % × days overdue / 365)``."""
    if amount < 0:
        raise Unprocessable("an overdue amount is 0 or more", code="invalid_amount")
    days = days_overdue(due_date, paid_on)
    return round_yen(amount * rate * days / DAYS_PER_YEAR, "floor")


def surcharge(evaded: int) -> int:
    """Art. 26: twice the amount unlawfully evaded."""
    if evaded < 0:
        raise Unprocessable("an evaded amount is 0 or more", code="invalid_amount")
    return SURCHARGE_MULTIPLE * evaded


# ---- outage refunds -------------------------------------------------------------------------


def operating_time(
    start: datetime,
    end: datetime,
    tz: str = TOKYO,
    hours: tuple[int, int] = hours_mod.SERVER_HOURS,
) -> timedelta:
    """How much of [start, end) lies inside the server operating hours (Table 2).

    Art. 32-1 counts サーバー稼動時間において連続１８時間: the run is measured in operating
    hours only, so the night between two operating windows neither counts nor breaks it.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("instants need a time zone")
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    total = timedelta(0)
    day = local_date(start, tz) - timedelta(days=1)
    while day <= local_date(end, tz):
        opens, closes = hours_mod.server_windows(day, tz, hours)
        overlap = min(end, closes.astimezone(UTC)) - max(start, opens.astimezone(UTC))
        total += max(overlap, timedelta(0))
        day += timedelta(days=1)
    return total


def outage_blocks(
    incident: Incident, tz: str = TOKYO, hours: tuple[int, int] = hours_mod.SERVER_HOURS
) -> int:
    """Art. 32: whole 18-hour blocks of operating time in an operator-caused incident;
    0 under 18 hours (Art. 24-4) and for a carrier's fault (Art. 32-2)."""
    if incident.cause != "operator" or incident.recovered_at <= incident.learned_at:
        return 0
    return operating_time(incident.learned_at, incident.recovered_at, tz, hours) // OUTAGE_BLOCK


def outage_refund(
    incident: Incident,
    monthly_fee: int,
    tz: str = TOKYO,
    hours: tuple[int, int] = hours_mod.SERVER_HOURS,
) -> int:
    """Art. 32-1: ``floor(blocks × monthly fee / 30)`` yen. decided: multiply first, then
    round down once (not ``blocks × floor(fee / 30)``)."""
    if monthly_fee < 0:
        raise Unprocessable("a monthly fee is 0 or more", code="invalid_amount")
    blocks = outage_blocks(incident, tz, hours)
    return blocks * monthly_fee // OUTAGE_DAY_DIVISOR


def contract_outage_refund(
    contract: Contract,
    incident: Incident,
    tz: str = TOKYO,
    hours: tuple[int, int] = hours_mod.SERVER_HOURS,
) -> int:
    """The refund for ``contract``: one month's fee of the parts the incident hit (all the
    parts contracted when the operator learned of it, when it names none)."""
    contracted = live_parts(contract, local_date(incident.learned_at, tz))
    parts = tuple(p for p in (incident.parts or contracted) if p in contracted)
    return outage_refund(incident, contract.fees.monthly_total(parts), tz, hours)


def claim_deadline(incident: Incident, tz: str = TOKYO) -> date:
    """Art. 32-1: the last day to claim, one month after recovery was confirmed.

    decided: the claim becomes possible on the recovery day; per the Civil Code (Art. 140
    初日不算入, Art. 143) the month ends on the same day number a month later, or that
    month's last day when it has none (Jan 31 -> Feb 28/29).
    """
    return add_months(local_date(incident.recovered_at, tz), 1)


def claim_in_time(incident: Incident, claimed_on: date, tz: str = TOKYO) -> bool:
    """Is a claim made on ``claimed_on`` in time: from the recovery day to the deadline."""
    return local_date(incident.recovered_at, tz) <= claimed_on <= claim_deadline(incident, tz)
