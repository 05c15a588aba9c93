"""Estimate ranges learnt from a queue's own history: for each estimate class
(``estimate.estimate_class``), the factors (low, high) between which ``COVERAGE`` (80 %) of
its recent waits fell, relative to the estimate shown when the ticket joined. The patient
page then shows "about 15-25 min" (``estimate.wait_range``), and the daily summaries count
how often the real wait fell in the range shown (``DaySummary.range_in``), which is the
calibration report. Pure."""

from __future__ import annotations

from collections.abc import Sequence

from hub.analytics.summary import RATIO_CELLS, DaySummary
from hub.queue import estimate

DAYS = 28
"""How many recent days of a queue its ranges are learnt from."""
MIN_SAMPLES = 30
"""Called tickets a class needs before its own factors are used (else all classes' merged,
else the defaults)."""


def _merged(hists: Sequence[dict[int, int]]) -> dict[int, int]:
    merged: dict[int, int] = {}
    for hist in hists:
        for cell, count in hist.items():
            merged[cell] = merged.get(cell, 0) + count
    return merged


def _ratio_at(hist: dict[int, int], share: float) -> float:
    """The ``share`` quantile of the ratios, interpolated inside its tenth (a ratio cell
    ``c`` holds ratios from c/10 to (c+1)/10, taken as spread evenly)."""
    total = sum(hist.values())
    rank = share * total
    seen = 0
    for cell in sorted(hist):
        count = hist[cell]
        if seen + count >= rank:
            if cell >= RATIO_CELLS:
                return 10.0
            return (cell + (rank - seen) / count) / 10
        seen += count
    return (max(hist) + 1) / 10


def _factors(hist: dict[int, int], coverage: float) -> tuple[float, float]:
    """From the ``(1 - coverage) / 2`` quantile to the ``(1 + coverage) / 2`` one; when
    the low end falls among the waits of about nothing (called as they joined: the room
    was free), the range starts at 0 and they are all in it, so it ends at the
    ``coverage`` quantile instead."""
    tail = (1 - coverage) / 2
    low = _ratio_at(hist, tail)
    if low < 0.1:
        return 0.0, round(min(_ratio_at(hist, coverage), 10.0), 2)
    high = _ratio_at(hist, 1 - tail)
    return round(low, 2), round(min(max(high, low), 10.0), 2)


def range_factors(
    days: Sequence[DaySummary], coverage: float = estimate.COVERAGE
) -> tuple[tuple[float, float], ...] | None:
    """The factors per estimate class from these days; None when they hold fewer than
    ``MIN_SAMPLES`` called tickets in all (keep what the queue has)."""
    classes = len(estimate.DEFAULT_FACTORS)
    per_class = [
        _merged([d.ratios[c] for d in days if len(d.ratios) == classes]) for c in range(classes)
    ]
    overall = _merged(per_class)
    if sum(overall.values()) < MIN_SAMPLES:
        return None
    return tuple(
        _factors(hist if sum(hist.values()) >= MIN_SAMPLES else overall, coverage)
        for hist in per_class
    )
