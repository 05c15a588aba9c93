"""The retry schedule of deliveries (Svix's). Pure.

Attempt 1 at once, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h after the previous one:
the 8th and last comes about 27 h 35 min after the first. Each time gets a jitter of up to
± 10 % (of its distance from the first attempt), and ``scale`` (JUNBAN_RETRY_SCALE) shrinks
the whole schedule for tests.
"""

from __future__ import annotations

from itertools import accumulate

DELAYS_S: tuple[float, ...] = (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)
"""The wait before attempts 2..8, each after the previous one."""
ATTEMPTS = len(DELAYS_S) + 1
OFFSETS_S: tuple[float, ...] = (0.0, *accumulate(float(d) for d in DELAYS_S))
"""Attempt k's distance from the first (k = 1..8): 0, 5 s, 305 s, … 99,305 s."""
JITTER = 0.1


def retry_at(
    attempt: int, first_at: float, jitter: float = 0.0, scale: float = 1.0
) -> float | None:
    """When attempt number ``attempt`` (1-based) is due, for a first attempt at
    ``first_at``; None when there is no such attempt (the event has failed for good).

    ``jitter`` in [-0.1, 0.1] (clamped): the due time is ``first_at + offset · (1 + jitter)
    · scale``. Guarantees: attempt 1 is ``first_at``; times rise with ``attempt`` whatever
    the jitter of each (offsets grow by more than 1.1/0.9 from one attempt to the next)."""
    if attempt < 1 or attempt > ATTEMPTS:
        return None
    wobble = min(JITTER, max(-JITTER, jitter))
    return first_at + OFFSETS_S[attempt - 1] * (1 + wobble) * scale
