"""Wait-time estimation. Pure.

The pace (minutes per patient) is an EWMA of the intervals between successive calls of a
queue: with several rooms calling, the interval between calls is exactly the throughput a
waiting patient experiences. Each sample is clipped to [pace/3, 3×pace] and gaps longer than
``BREAK_MINUTES`` (lunch, a pause) are ignored, so one odd interval moves the pace by at most
``ALPHA`` of its clipped size: a single quick call cuts estimates by at most ~13 %, never
"jumps them earlier" to near zero.
"""

from __future__ import annotations

import math

ALPHA = 0.2
CLIP = 3.0
BREAK_MINUTES = 45.0
MIN_PACE = 0.5
MAX_PACE = 120.0


def next_pace(pace: float, last_call_at: float | None, call_at: float) -> float:
    """The pace after a call at ``call_at`` that follows one at ``last_call_at``."""
    if last_call_at is None:
        return pace
    interval = (call_at - last_call_at) / 60.0
    if interval <= 0 or interval > BREAK_MINUTES:
        return pace
    sample = min(max(interval, pace / CLIP), pace * CLIP)
    updated = (1 - ALPHA) * pace + ALPHA * sample
    return min(max(updated, MIN_PACE), MAX_PACE)


def wait_minutes(ahead: float, pace: float) -> int:
    """About how many minutes until a ticket with ``ahead`` people before it is called
    (a fraction: expected bookings counted at their show rate, ``hub.queue.placement``).

    Monotone in ``ahead``: a ticket further back never shows a shorter wait.
    """
    return math.ceil((ahead + 1) * pace - 1e-9)


# ---- estimates as ranges ---------------------------------------------------------------------

COVERAGE = 0.8
"""The share of real waits a range aims to contain: from the 10th to the 90th percentile of
the queue's own history (``hub.analytics.calibrate``)."""
RANGE_EDGES = (10, 30, 60)
"""A point estimate (minutes) falls in one of four classes (< 10, < 30, < 60, 60 and more),
each with its own factors: short waits vary more, relative to their size."""
DEFAULT_FACTORS: tuple[tuple[float, float], ...] = ((0.3, 2.0), (0.5, 1.6), (0.6, 1.5), (0.7, 1.4))
"""The factors (low, high) of each class before a queue has history of its own."""


def estimate_class(minutes: int) -> int:
    """The class of a point estimate (an index into the factors)."""
    return sum(1 for edge in RANGE_EDGES if minutes >= edge)


def wait_range(minutes: int, factors: tuple[tuple[float, float], ...]) -> tuple[int, int]:
    """The range shown for a point estimate: ``minutes`` times the class's factors (the
    defaults where the queue has none), to the nearest minute, at least one minute wide."""
    table = factors if len(factors) == len(DEFAULT_FACTORS) else DEFAULT_FACTORS
    low, high = table[estimate_class(minutes)]
    lo = max(math.floor(minutes * low + 0.5), 0)
    return lo, max(math.floor(minutes * high + 0.5), lo + 1)
