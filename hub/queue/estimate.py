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


def wait_minutes(ahead: int, pace: float) -> int:
    """About how many minutes until a ticket with ``ahead`` people before it is called.

    Monotone in ``ahead``: a ticket further back never shows a shorter wait.
    """
    return math.ceil((ahead + 1) * pace - 1e-9)
