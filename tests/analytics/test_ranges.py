"""Estimate ranges: the shape of a range, the factors learnt from history, and the command
that gives a queue its factors."""

from __future__ import annotations

import random

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.analytics.calibrate import MIN_SAMPLES, range_factors
from hub.analytics.summary import RATIO_CELLS, DaySummary
from hub.errors import Unprocessable
from hub.queue import estimate, outbox, rules
from hub.queue.events import RangeFactorsSet
from hub.queue.model import QueueState, SetRangeFactors
from tests.conftest import staff_headers

factor_pairs = st.tuples(st.floats(0, 3), st.floats(0, 3)).map(lambda p: (min(p), max(p)))


@given(st.integers(1, 600), st.lists(factor_pairs, min_size=4, max_size=4).map(tuple))
def test_a_range_is_at_least_a_minute_wide_and_never_negative(
    minutes: int, factors: tuple[tuple[float, float], ...]
) -> None:
    lo, hi = estimate.wait_range(minutes, factors)
    assert 0 <= lo < hi


@given(st.integers(1, 600))
def test_the_default_ranges_hold_the_point_estimate(minutes: int) -> None:
    lo, hi = estimate.wait_range(minutes, ())
    assert lo <= minutes <= hi


def _day(samples: list[tuple[int, float]]) -> DaySummary:
    """A day whose called tickets were shown ``minutes`` and waited ``ratio`` times that."""
    ratios: list[dict[int, int]] = [{} for _ in estimate.DEFAULT_FACTORS]
    for minutes, ratio in samples:
        cell = min(int(ratio * 10), RATIO_CELLS)
        hist = ratios[estimate.estimate_class(minutes)]
        hist[cell] = hist.get(cell, 0) + 1
    return DaySummary(date="2026-12-01", info="1-01", tz="Asia/Tokyo", ratios=ratios)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 120), st.floats(0.0, 4.0)), min_size=MIN_SAMPLES))
def test_learnt_ranges_hold_their_share_of_the_history(samples: list[tuple[int, float]]) -> None:
    factors = range_factors([_day(samples)])
    assert factors is not None and len(factors) == len(estimate.DEFAULT_FACTORS)
    for c, (low, high) in enumerate(factors):
        ratios = [r for m, r in samples if estimate.estimate_class(m) == c]
        if len(ratios) < MIN_SAMPLES:
            continue  # that class takes every class's history
        # the ratios are kept in tenths: the range holds its share of those tenths
        inside = sum(1 for r in ratios if int(low * 10) <= int(r * 10) <= high * 10) / len(ratios)
        assert 0 <= low <= high and inside >= estimate.COVERAGE - 1 / len(ratios)


def test_too_little_history_keeps_the_ranges_the_queue_has() -> None:
    assert range_factors([_day([(5, 1.0)] * (MIN_SAMPLES - 1))]) is None
    assert range_factors([]) is None


def test_waits_of_nothing_start_the_range_at_zero() -> None:
    rng = random.Random(1)
    samples = [(5, 0.0)] * 60 + [(5, rng.uniform(0.1, 2.0)) for _ in range(40)]
    factors = range_factors([_day(samples)])
    assert factors is not None and factors[0][0] == 0.0
    inside = sum(1 for _, r in samples if r <= factors[0][1] + 0.1) / len(samples)
    assert 0.78 <= inside <= 0.85


@pytest.mark.parametrize(
    "factors",
    [((0.5, 1.5),) * 3, ((0.5, 1.5),) * 5, ((1.5, 0.5),) * 4, ((-0.1, 1.0),) * 4, ((0, 11),) * 4],
)
def test_bad_factors_are_refused(factors: tuple[tuple[float, float], ...]) -> None:
    state = QueueState(info="1-01", day="2026-12-07")
    with pytest.raises(Unprocessable):
        rules.decide(state, SetRangeFactors(at=1.0, factors=factors))


def test_factors_are_set_once_and_stay_out_of_the_outbox() -> None:
    state = QueueState(info="1-01", day="2099-12-07")
    factors = ((0.0, 0.8), (0.3, 1.2), (0.5, 1.3), (0.6, 1.2))
    events = rules.decide(state, SetRangeFactors(at=1.0, factors=factors))
    assert events == [RangeFactorsSet(at=1.0, factors=factors)]
    after = rules.evolve_all(state, events)
    assert after.range_factors == factors
    assert rules.decide(after, SetRangeFactors(at=2.0, factors=factors)) == []
    assert outbox.build(after, events, [b""], None) is None


async def test_a_ticket_shows_its_estimate_as_a_range(
    client: httpx.AsyncClient, facility: str
) -> None:
    r = await client.post(f"/v1/queues/{facility}-01/tickets", headers=staff_headers(facility))
    assert r.status_code == 201, r.text
    body = r.json()
    lo, hi = body["estimate_range"]
    assert lo <= body["estimate_min"] <= hi
