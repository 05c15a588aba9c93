"""The README's plots from the latest results: latency and deliveries/s vs subscribers.

    python -m loadtest.plot [--fanout results/fanout-X.json] [--swarm results/swarm-Y.json]

Reads the newest ``fanout-*.json`` (scenario 1 and the peers: 10 publications/s to all
subscribers of one channel) and ``swarm-*.json`` (the sweep: watchers spread over several
queues, a higher publication rate) in loadtest/results/ unless given, and writes
``docs/bench-latency-vs-subscribers.png`` and ``docs/bench-deliveries-vs-subscribers.png``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from loadtest.cli import RESULTS_DIR

DOCS = Path(__file__).resolve().parent.parent / "docs"
LATENCY_PNG = "bench-latency-vs-subscribers.png"
DELIVERIES_PNG = "bench-deliveries-vs-subscribers.png"
Result = dict[str, Any]
Series = tuple[str, list[int], list[float], str]
"""label, x (subscribers), y, matplotlib line style"""


def newest(prefix: str) -> Path | None:
    found = sorted(p for p in RESULTS_DIR.glob(f"{prefix}-*.json") if p.stem[-6:].isdigit())
    return found[-1] if found else None


def fanout_runs(fanout: Result) -> dict[str, list[tuple[int, Result]]]:
    """Server name -> [(subscribers, run)] of scenario 1 (the hub) and the peers."""
    out: dict[str, list[tuple[int, Result]]] = {}
    hub = [(int(k), r) for k, r in fanout.get("cpu", {}).items() if "latency" in r]
    if hub:
        out["junban"] = sorted(hub, key=lambda kv: kv[0])
    for kind, runs in fanout.get("peers", {}).items():
        rows = [(int(k), r) for k, r in runs.items() if k.isdigit() and "latency" in r]
        if rows:
            out[kind] = sorted(rows, key=lambda kv: kv[0])
    return out


def latency_series(fanout: Result | None, swarm: Result | None) -> list[Series]:
    series: list[Series] = []
    if swarm and swarm.get("sweep"):
        p, rows = swarm["params"], swarm["sweep"]
        x = [r["connections"] for r in rows]
        where = f"{p['rate']:g}/s over {p['queues']} queues (swarm)"
        series.append((f"junban p50, {where}", x, [r["latency"]["p50_ms"] for r in rows], "o-"))
        series.append((f"junban p99, {where}", x, [r["latency"]["p99_ms"] for r in rows], "o--"))
    if fanout:
        rate = fanout["params"]["cpu_rate"]
        for name, rows in fanout_runs(fanout).items():
            x = [n for n, _ in rows]
            y = [r["latency"]["p99_ms"] for _, r in rows]
            series.append((f"{name} p99, {rate:g}/s to all (bench_fanout)", x, y, "s:"))
    return series


def deliveries_series(fanout: Result | None, swarm: Result | None) -> list[Series]:
    series: list[Series] = []
    if swarm and swarm.get("sweep"):
        rows = swarm["sweep"]
        x = [r["connections"] for r in rows]
        series.append(
            ("junban delivered/s (swarm)", x, [r["deliveries_per_s"] for r in rows], "o-")
        )
        series.append(("offered/s (swarm)", x, [r["offered_deliveries_per_s"] for r in rows], "k:"))
    if fanout:
        for name, rows in fanout_runs(fanout).items():
            pts = [(n, 1e6 / r["server_cpu_ms_per_1000"]) for n, r in rows
                   if r.get("server_cpu_ms_per_1000")]  # fmt: skip
            if pts:
                label = f"{name}: deliveries per CPU-second (bench_fanout)"
                series.append((label, [n for n, _ in pts], [d for _, d in pts], "s--"))
    return series


def draw(series: list[Series], ylabel: str, title: str, path: Path, log_y: bool) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, ax = plt.subplots(figsize=(9, 5.2), dpi=110)
    for label, x, y, style in series:
        ax.plot(x, y, style, label=label)
    ax.set_xscale("log")
    ax.set_xticks(sorted({n for _, x, _, _ in series for n in x}))
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel("WebSocket subscribers")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7.5)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _load(path: Path | None) -> Result | None:
    return json.loads(path.read_text()) if path is not None and path.exists() else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.plot", description=__doc__)
    parser.add_argument("--fanout", type=Path, help="a fanout-*.json (default: the newest)")
    parser.add_argument("--swarm", type=Path, help="a swarm-*.json (default: the newest)")
    parser.add_argument("--out-dir", type=Path, default=DOCS)
    args = parser.parse_args(argv)
    fanout_path, swarm_path = args.fanout or newest("fanout"), args.swarm or newest("swarm")
    fanout, swarm = _load(fanout_path), _load(swarm_path)
    if fanout is None and swarm is None:
        print("no fanout-*.json or swarm-*.json in loadtest/results/", file=sys.stderr)
        return 1
    source = next((r for r in (swarm, fanout) if r), {})
    m = source.get("machine", {})
    when = source.get("started", "")[:10]
    machine = f"{m.get('cpu_model', '?')}, {m.get('nproc', '?')} cores, {when}"
    if any(r and r.get("params", {}).get("quick") for r in (fanout, swarm)):
        machine += " — QUICK SMOKE RUN, not figures"
    args.out_dir.mkdir(parents=True, exist_ok=True)
    latency = args.out_dir / LATENCY_PNG
    deliveries = args.out_dir / DELIVERIES_PNG
    draw(latency_series(fanout, swarm), "publish → receive latency (ms)",
         f"Fan-out latency vs subscribers — {machine}", latency, log_y=True)  # fmt: skip
    draw(deliveries_series(fanout, swarm), "deliveries per second",
         f"Deliveries/s vs subscribers — {machine}", deliveries, log_y=True)  # fmt: skip
    print(f"plots from {fanout_path} and {swarm_path}: {latency}, {deliveries}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
