"""Hypothesis strategies for the contract rules: dates, fee plans, contracts, incidents."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from hub.contracts import lifecycle
from hub.contracts.model import Contract, FeePlan, Incident

TOKYO = ZoneInfo("Asia/Tokyo")


def days() -> st.SearchStrategy[date]:
    return st.dates(min_value=date(2015, 1, 1), max_value=date(2035, 12, 31))


def yen(max_value: int = 10_000_000) -> st.SearchStrategy[int]:
    return st.integers(min_value=0, max_value=max_value)


def fee_plans(parts: tuple[str, ...]) -> st.SearchStrategy[FeePlan]:
    return st.builds(
        FeePlan,
        initial_fee=yen(),
        monthly=st.fixed_dictionaries({part: yen(500_000) for part in parts}),
    )


@st.composite
def active_contracts(draw: st.DrawFn, minimum_term: bool | None = None) -> Contract:
    """An approved contract: some items/options, a fee plan, a start date, maybe a minimum
    term (``minimum_term`` True/False forces one/none)."""
    items = draw(st.sampled_from([("reservation",), ("video",), ("reservation", "video")]))
    options: tuple[str, ...] = ()
    if "reservation" in items:
        options = tuple(draw(st.lists(st.sampled_from(["emr", "phone", "api"]), unique=True)))
    if minimum_term is None:
        months = draw(st.sampled_from([0, 1, 6, 12, 24, 36]))
    else:
        months = draw(st.sampled_from([1, 6, 12, 24, 36])) if minimum_term else 0
    applied = draw(days())
    start = applied + timedelta(days=draw(st.integers(0, 60)))
    contract = lifecycle.apply(
        "c-1",
        "医療法人 順番会",
        items,  # type: ignore[arg-type]
        draw(fee_plans((*items, *options))),
        applied,
        options,  # type: ignore[arg-type]
        months,
    )
    return lifecycle.approve(contract, "1234", ("01", "02"), start)


def tokyo_instants(
    start: datetime = datetime(2024, 1, 1, tzinfo=TOKYO), span_days: int = 800
) -> st.SearchStrategy[datetime]:
    """Aware instants in Tokyo, to the minute."""
    minutes = st.integers(min_value=0, max_value=span_days * 24 * 60)
    return minutes.map(lambda m: start + timedelta(minutes=m))


@st.composite
def incidents(draw: st.DrawFn, max_hours: int = 24 * 10, cause: str = "operator") -> Incident:
    learned = draw(tokyo_instants())
    length = timedelta(minutes=draw(st.integers(min_value=1, max_value=max_hours * 60)))
    return Incident(id="i-1", learned_at=learned, recovered_at=learned + length, cause=cause)  # type: ignore[arg-type]
