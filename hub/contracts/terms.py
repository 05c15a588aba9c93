"""A contract's terms in time (Art. 16, 23, 23-4): calendar months as the Civil Code counts
them, the minimum and first terms, yearly renewal and objection deadlines, the day a contract
ends, and what is in force on a day. Pure: no I/O, no clock reads. ``hub.contracts.lifecycle``
(the commands) builds on these and re-exports them.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from hub.contracts.model import Contract

TOKYO = "Asia/Tokyo"
RENEWAL_MONTHS = 12
"""Art. 23-4: さらに１年間これを延長する."""
DEFAULT_TERM_MONTHS = 12
"""decided: the first term when no minimum term is set (Art. 23-4 needs a term to renew)."""


# ---- calendar arithmetic --------------------------------------------------------------------


def month_end(day: date) -> date:
    """The last day of ``day``'s month."""
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def add_months(day: date, months: int) -> date:
    """``day`` moved by ``months`` calendar months, clamped to the month's last day
    (Jan 31 + 1 month = Feb 28/29), as the Civil Code (Art. 143-2) counts months."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def first_of_next_month(day: date) -> date:
    return month_end(day) + timedelta(days=1)


def local_date(at: datetime, tz: str = TOKYO) -> date:
    """The facility-local date of an aware instant."""
    return at.astimezone(ZoneInfo(tz)).date()


# ---- terms, renewal, effect -----------------------------------------------------------------


def minimum_term_end(contract: Contract) -> date | None:
    """Art. 16-1: the last day of the minimum term, counted from the 1st of the month after
    the start date; None without a minimum term (or before the start)."""
    if contract.start_date is None or contract.minimum_term_months == 0:
        return None
    first = first_of_next_month(contract.start_date)
    return month_end(add_months(first, contract.minimum_term_months - 1))


def first_term_end(contract: Contract) -> date | None:
    """The end of the first contract term: the minimum term, else ``DEFAULT_TERM_MONTHS``."""
    if contract.start_date is None:
        return None
    months = contract.minimum_term_months or DEFAULT_TERM_MONTHS
    return month_end(add_months(first_of_next_month(contract.start_date), months - 1))


def objection_deadline(term_end: date) -> date:
    """Art. 23-4: 契約期間が満了する前月末日 — the last day of the month before expiry."""
    return term_end.replace(day=1) - timedelta(days=1)


def term_end_as_of(contract: Contract, day: date) -> date | None:
    """The end of the term in force on ``day`` after automatic one-year renewals (Art. 23-4);
    once renewal was objected to in time, the last term's end (also for later days)."""
    end = first_term_end(contract)
    if end is None:
        return None
    objection = contract.renewal_objection_on
    while day > end and (objection is None or objection > objection_deadline(end)):
        end = month_end(add_months(end.replace(day=1), RENEWAL_MONTHS))
    return end


def next_objection_deadline(contract: Contract, today: date) -> tuple[date, date] | None:
    """(deadline, term end): object to renewal by ``deadline`` to end the contract at ``term
    end``; the first renewal ``today`` can still stop. None before the start."""
    end = first_term_end(contract)
    if end is None:
        return None
    while objection_deadline(end) < today:
        end = month_end(add_months(end.replace(day=1), RENEWAL_MONTHS))
    return objection_deadline(end), end


def ends_on(contract: Contract) -> date | None:
    """The last day the contract is in force; None while it runs on (renewing)."""
    ends: list[date] = []
    if contract.cancellation is not None:
        ends.append(contract.cancellation.effective_date)
    objection = contract.renewal_objection_on
    if objection is not None:
        deadline_met = next_objection_deadline(contract, objection)
        if deadline_met is not None:
            ends.append(deadline_met[1])
    return min(ends) if ends else None


def is_effective(contract: Contract, today: date) -> bool:
    """Is the contract in force on ``today`` (started, not yet ended)? Also while suspended:
    a suspended contract is in force and billed (Art. 24-3), only its service stops."""
    if contract.start_date is None or contract.status in ("applied", "refused"):
        return False
    end = ends_on(contract)
    return contract.start_date <= today and (end is None or today <= end)


def service_available(contract: Contract, today: date) -> bool:
    """May the facility use the service on ``today``: in force and not suspended."""
    return is_effective(contract, today) and contract.suspension is None


def live_parts(contract: Contract, day: date) -> tuple[str, ...]:
    """The items and options contracted on ``day`` (discontinued ones end on their day)."""
    gone = {d.part for d in contract.dropped if d.last_day < day}
    return tuple(part for part in contract.parts if part not in gone)


def charges_until(contract: Contract) -> date | None:
    """The last day billed; None while the contract runs on.

    Art. 23-3: fees are due to the end of the contract term whatever happens — so after a
    customer's (16-1) or operator's (15) cancellation, to the end of the term in force on
    the effective date. decided: after 16-2 (interruption) and 16-3 (discontinuation), the
    operator ended performance, so billing stops on the effective day (the proviso of
    23-3 caps it at that month; we pro-rate the last month by day).
    """
    end = ends_on(contract)
    if end is None:
        return None
    cancellation = contract.cancellation
    if cancellation is None or cancellation.effective_date != end:
        return end  # ended by an objection to renewal: exactly at a term end
    if cancellation.by in ("interruption", "discontinuation"):
        return end
    term_end = term_end_as_of(contract, end)
    return max(end, term_end) if term_end is not None else end
