"""Daily summaries as the analytics API shows them: one day, the sum of many days (counts
add up; means and percentiles come from the merged minute histograms), the hour-of-day
profile and the weekday × hour heatmap. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date as Date
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from hub.analytics.summary import HOURS, DaySummary, Dist
from hub.queue import estimate
from hub.queue.model import CHANNELS

COUNTS = (
    "transferred_in",
    "called",
    "completed",
    "walkouts",
    "cancelled_after_call",
    "no_shows",
    "transferred_out",
    "unfinished",
    "recalls",
    "requeued",
)


def merge_dists(dists: Iterable[Dist]) -> Dist:
    """Many days' distributions as one: exact counts, totals and maximum; percentiles at
    whole-minute resolution, the middle of their minute (a day's own figures are exact)."""
    dists = [d for d in dists if d.n]
    if len(dists) == 1:
        return dists[0]
    hist: dict[int, int] = {}
    for d in dists:
        for minute, count in d.hist.items():
            hist[minute] = hist.get(minute, 0) + count
    n = sum(d.n for d in dists)
    if not n:
        return Dist()
    top = max(d.max for d in dists if d.max is not None)
    return Dist(
        n=n,
        total=round(sum(d.total for d in dists), 1),
        p50=min(_rank(hist, n, 0.5), top),
        p90=min(_rank(hist, n, 0.9), top),
        max=top,
        hist=hist,
    )


def _rank(hist: dict[int, int], n: int, p: float) -> float:
    """The nearest-rank percentile of a minute histogram: the middle of the minute it
    falls in (the values of minute ``m`` lie from m to m + 1)."""
    rank = max(int(-(-p * n // 1)), 1)
    seen = 0
    for minute in sorted(hist):
        seen += hist[minute]
        if seen >= rank:
            return minute + 0.5
    return max(hist) + 0.5


def stats(days: Sequence[DaySummary]) -> dict[str, Any]:
    """The API's figures of one or more days of one or more queues (docs/analytics.md)."""
    by_channel = dict.fromkeys(CHANNELS, 0)
    for d in days:
        for channel, count in d.issued.items():
            by_channel[channel] = by_channel.get(channel, 0) + count
    issued = sum(by_channel.values())
    wait = merge_dists(d.wait for d in days)
    service = merge_dists(d.service for d in days)
    acc_n = sum(d.acc_n for d in days)
    range_n = sum(d.range_n for d in days)
    answer: dict[str, Any] = {
        "issued": issued,
        "by_channel": by_channel,
        **{name: sum(getattr(d, name) for d in days) for name in COUNTS},
        "wait": {
            "n": wait.n,
            "p50": wait.p50,
            "p90": wait.p90,
            "mean": _mean(wait),
            "max": wait.max,
        },
        "service": {
            "n": service.n,
            "p50": service.p50,
            "mean": _mean(service),
            "rooms": _rooms(days),
        },
        "web_share": round(by_channel.get("web", 0) / issued, 3) if issued else None,
        "accuracy": {
            "n": acc_n,
            "within": round(sum(d.acc_within for d in days) / acc_n, 3) if acc_n else None,
            "mean_error": round(sum(d.acc_error for d in days) / acc_n, 1) if acc_n else None,
            "mae": round(sum(d.acc_abs_error for d in days) / acc_n, 1) if acc_n else None,
        },
        "ranges": {
            "target": estimate.COVERAGE,
            "n": range_n,
            "within": round(sum(d.range_in for d in days) / range_n, 3) if range_n else None,
        },
        "first_call": None,
        "last_call": None,
        "incomplete": any(d.incomplete for d in days),
    }
    return answer


def _rooms(days: Sequence[DaySummary]) -> dict[str, dict[str, Any]]:
    """Service per room name (rooms of different counters with one name are one here:
    choose a counter to tell them apart)."""
    sums: dict[str, list[float]] = {}
    for d in days:
        for room, (n, total) in d.rooms.items():
            acc = sums.setdefault(room, [0, 0.0])
            acc[0] += n
            acc[1] += total
    return {
        room: {"n": int(n), "mean": round(total / n, 1) if n else None}
        for room, (n, total) in sorted(sums.items())
    }


def _mean(d: Dist) -> float | None:
    return round(d.total / d.n, 1) if d.n else None


def hhmm(at: float | None, tz: str) -> str | None:
    return None if at is None else datetime.fromtimestamp(at, ZoneInfo(tz)).strftime("%H:%M")


def day_entry(date: str, summaries: Sequence[DaySummary], tz: str, today: str) -> dict[str, Any]:
    """One date of the API's ``days`` (every queue chosen, summed)."""
    entry = {"date": date, "weekday": Date.fromisoformat(date).weekday(), "today": date == today}
    entry.update(stats(summaries))
    firsts = [s.first_call for s in summaries if s.first_call is not None]
    lasts = [s.last_call for s in summaries if s.last_call is not None]
    entry["first_call"] = hhmm(min(firsts), tz) if firsts else None
    entry["last_call"] = hhmm(max(lasts), tz) if lasts else None
    return entry


def by_hour(summaries: Sequence[DaySummary]) -> list[dict[str, Any]]:
    """Per local hour over the days: tickets issued and called (sums), the line's average
    (mean of the days' time-weighted averages where the queue was active) and maximum."""
    rows = []
    for hour in range(HOURS):
        avgs = [s.hour_line_avg[hour] for s in summaries if len(s.hour_line_avg) == HOURS]
        maxes = [s.hour_line_max[hour] for s in summaries if len(s.hour_line_max) == HOURS]
        avg_values = [a for a in avgs if a is not None]
        max_values = [m for m in maxes if m is not None]
        rows.append(
            {
                "hour": hour,
                "issued": sum(_at(s.hour_issued, hour) for s in summaries),
                "called": sum(_at(s.hour_called, hour) for s in summaries),
                "line_avg": round(sum(avg_values) / len(avg_values), 1) if avg_values else None,
                "line_max": max(max_values) if max_values else None,
            }
        )
    return rows


def heatmap(summaries: Sequence[DaySummary]) -> list[list[int]]:
    """Tickets issued per weekday (0 = Monday) × local hour."""
    grid = [[0] * HOURS for _ in range(7)]
    for s in summaries:
        row = grid[Date.fromisoformat(s.date).weekday()]
        for hour in range(HOURS):
            row[hour] += _at(s.hour_issued, hour)
    return grid


def _at(values: list[int], hour: int) -> int:
    return values[hour] if hour < len(values) else 0
