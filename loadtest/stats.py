"""Small statistics helpers for the benchmark report."""

from __future__ import annotations

from collections.abc import Sequence


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of already sorted values; nan when empty."""
    if not sorted_values:
        return float("nan")
    rank = max(1, round(q / 100 * len(sorted_values) + 0.4999999))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def latency_summary(values_ms: Sequence[float]) -> dict[str, float]:
    """count, p50, p90, p99, max (ms) of a list of latencies."""
    ordered = sorted(values_ms)
    return {
        "count": len(ordered),
        "p50_ms": round(percentile(ordered, 50), 3),
        "p90_ms": round(percentile(ordered, 90), 3),
        "p99_ms": round(percentile(ordered, 99), 3),
        "max_ms": round(ordered[-1], 3) if ordered else float("nan"),
    }


def fmt_ms(value: float) -> str:
    if value != value:  # nan
        return "–"
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"
