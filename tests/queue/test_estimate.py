"""Property tests of the wait estimate: monotone in the line, a pace that moves slowly."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from hub.queue.estimate import (
    ALPHA,
    BREAK_MINUTES,
    CLIP,
    MAX_PACE,
    MIN_PACE,
    next_pace,
    wait_minutes,
)

paces = st.floats(min_value=MIN_PACE, max_value=MAX_PACE, allow_nan=False)
instants = st.floats(min_value=1.5e9, max_value=2.1e9, allow_nan=False)
gaps_in_minutes = st.floats(min_value=1e-3, max_value=BREAK_MINUTES, allow_nan=False)
EPS = 1e-9


@given(ahead=st.integers(0, 500), more=st.integers(0, 500), pace=paces)
def test_a_ticket_further_back_never_shows_a_shorter_wait(
    ahead: int, more: int, pace: float
) -> None:
    assert wait_minutes(ahead, pace) <= wait_minutes(ahead + more, pace)


@given(ahead=st.integers(0, 500), pace=paces)
def test_the_wait_is_the_whole_minutes_covering_everyone_ahead_and_oneself(
    ahead: int, pace: float
) -> None:
    """ceil((ahead + 1) × pace), forgiving float noise of 1e-9 minute (so 3 × 0.1 stays 0.3)."""
    wait = wait_minutes(ahead, pace)
    exact = (ahead + 1) * pace
    assert exact - EPS <= wait < exact - EPS + 1


@given(pace=paces)
def test_the_first_in_line_waits_at_least_one_pace(pace: float) -> None:
    assert wait_minutes(0, pace) >= pace - EPS
    assert wait_minutes(0, pace) >= 1


@given(pace=paces, last=instants, gap=st.floats(min_value=-1e5, max_value=1e5, allow_nan=False))
def test_the_pace_stays_between_min_and_max(pace: float, last: float, gap: float) -> None:
    assert MIN_PACE <= next_pace(pace, last, last + gap) <= MAX_PACE


@given(pace=paces, last=instants, gap=gaps_in_minutes)
def test_one_call_moves_the_pace_by_at_most_the_clipped_ewma_factor(
    pace: float, last: float, gap: float
) -> None:
    """One quick call never makes estimates jump earlier (nor one slow call jump later)."""
    after = next_pace(pace, last, last + gap * 60)
    assert after <= pace * ((1 - ALPHA) + ALPHA * CLIP) * (1 + EPS)
    assert after >= pace * ((1 - ALPHA) + ALPHA / CLIP) * (1 - EPS)


@given(pace=paces, last=instants, gap=gaps_in_minutes)
def test_the_pace_moves_towards_the_interval_between_calls(
    pace: float, last: float, gap: float
) -> None:
    after = next_pace(pace, last, last + gap * 60)
    interval = (last + gap * 60 - last) / 60
    if interval > pace:
        assert after >= pace * (1 - EPS)
    elif interval < pace:
        assert after <= pace * (1 + EPS)


@given(
    pace=paces,
    last=instants,
    gap=st.one_of(
        st.floats(min_value=-1e6, max_value=0, allow_nan=False),
        st.floats(min_value=BREAK_MINUTES * 60, max_value=1e6, allow_nan=False),
    ),
)
def test_breaks_and_out_of_order_calls_leave_the_pace_alone(
    pace: float, last: float, gap: float
) -> None:
    call_at = last + gap
    if 0 < (call_at - last) / 60 <= BREAK_MINUTES:
        return  # float rounding put it back inside the window the EWMA uses
    assert next_pace(pace, last, call_at) == pace


@given(pace=paces, call_at=instants)
def test_the_first_call_of_the_day_leaves_the_pace_alone(pace: float, call_at: float) -> None:
    assert next_pace(pace, None, call_at) == pace


@given(pace=st.floats(min_value=MIN_PACE, max_value=BREAK_MINUTES), last=instants)
def test_calls_exactly_one_pace_apart_keep_the_pace(pace: float, last: float) -> None:
    assert math.isclose(next_pace(pace, last, last + pace * 60), pace, rel_tol=1e-6)
