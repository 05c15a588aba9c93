"""The clinic morning (loadtest/locustfile.py) against a hub of its own, headless, checked.

    python -m loadtest.clinic_morning [--quick] [--facilities 200] [--run-time 60]

Starts ``junban serve --demo`` like the other benchmarks (temp data dir, free port, random
secret, rate, service-hour and WebSocket limits lifted), runs Locust headless with
``--run-time``, ``--csv`` and ``--html`` into loadtest/results/, and writes
``clinic-<timestamp>.{json,md}``: Locust's figures per request (ticket issue, call next,
call-to-screen of phones and monitors, WebSocket connect), the locustfile's checks
(duplicate numbers, versions that did not grow, dropped states, lost places) and the hub's
CPU. Exits 1 when Locust did (a failed request or a failed check).
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from loadtest import cli, report
from loadtest.bench_fanout import WS_ENV
from loadtest.hubproc import HubProcess, cpu_seconds
from loadtest.stats import fmt_ms
from loadtest.wsswarm import raise_nofile

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
Result = dict[str, Any]


@dataclass(frozen=True)
class Params:
    quick: bool = False
    facilities: int = 200
    counters: int = 2
    patients: int = 100
    phones: int = 100
    staff: int = 20
    run_time_s: int = 60
    spawn_rate: float = 100.0
    opening_after_s: float = 15.0
    call_after_s: float = 5.0
    service_s: float = 20.0
    drain_s: float = 5.0

    @classmethod
    def quick_params(cls) -> Params:
        return cls(
            quick=True, facilities=20, patients=20, phones=20, staff=4, run_time_s=25,
            opening_after_s=5.0, call_after_s=2.0, service_s=4.0, drain_s=4.0,
        )  # fmt: skip

    @property
    def users(self) -> int:
        """Every class has a fixed count: monitors (one per facility) + the rest."""
        return self.facilities + self.patients + self.phones + self.staff


def locust_command(params: Params, hub: HubProcess, prefix: Path, checks: Path) -> list[str]:
    p = params
    return [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
        "--host", f"http://{hub.host}:{hub.port}",
        "-u", str(p.users), "-r", str(p.spawn_rate), "--run-time", f"{p.run_time_s}s",
        "--stop-timeout", "10", "--csv", str(prefix), "--html", f"{prefix}.html",
        "--only-summary", "--loglevel", "WARNING",
        "--jb-facilities", str(p.facilities), "--jb-counters", str(p.counters),
        "--jb-patients", str(p.patients), "--jb-phones", str(p.phones),
        "--jb-staff", str(p.staff), "--jb-opening-after", str(p.opening_after_s),
        "--jb-call-after", str(p.call_after_s), "--jb-service-s", str(p.service_s),
        "--jb-drain-s", str(p.drain_s), "--jb-results", str(checks),
    ]  # fmt: skip


def read_stats(path: Path) -> list[Result]:
    """Locust's ``_stats.csv``: one row per request name, and the aggregate."""
    if not path.exists():
        return []
    rows = []
    with path.open() as f:
        for row in csv.DictReader(f):
            rows.append(
                {
                    "type": row["Type"],
                    "name": row["Name"],
                    "count": int(row["Request Count"]),
                    "failures": int(row["Failure Count"]),
                    "per_s": round(float(row["Requests/s"]), 1),
                    "p50_ms": _num(row["50%"]),
                    "p99_ms": _num(row["99%"]),
                    "max_ms": _num(row["Max Response Time"]),
                }
            )
    return rows


def _num(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float("nan")


def run(params: Params, keep_data: bool) -> Result:
    nofile = raise_nofile()
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    cli.RESULTS_DIR.mkdir(exist_ok=True)
    prefix = cli.RESULTS_DIR / f"clinic-{stamp}-locust"
    checks_path = cli.RESULTS_DIR / f"clinic-{stamp}-checks.json"
    hub = HubProcess(extra_env=WS_ENV)
    command = locust_command(params, hub, prefix, checks_path)
    results: Result = {
        "started": datetime.now().astimezone().isoformat(timespec="seconds"),
        "params": asdict(params) | {"users": params.users},
        "machine": report.machine_info() | {"nofile": nofile},
        "locust_command": " ".join(command),
    }
    _log(f"starting the hub on port {hub.port}")
    try:
        asyncio.run(hub.start())
        results["software"] = asyncio.run(report.software_info(hub))
        env = dict(os.environ, JUNBAN_SECRET=hub.secret)
        _log(f"locust: {params.users} users, {params.run_time_s} s")
        cpu0, t0 = cpu_seconds(hub.pid), time.monotonic()
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        cpu1, t1 = cpu_seconds(hub.pid), time.monotonic()
        results["locust_exit_code"] = done.returncode
        results["locust_output_tail"] = (done.stdout + done.stderr)[-3000:]
        results["hub_cpu_pct"] = round(100 * (cpu1 - cpu0) / (t1 - t0), 1)
        results["requests"] = read_stats(Path(f"{prefix}_stats.csv"))
        if checks_path.exists():
            results |= json.loads(checks_path.read_text())
        if done.returncode != 0 or not checks_path.exists() or results.get("violations"):
            results["error"] = (
                f"locust exit code {done.returncode}; violations {results.get('violations')}"
            )
    except Exception as exc:
        results["error"] = f"{type(exc).__name__}: {exc}"
        _log(f"FAILED: {results['error']}\n{hub.log_tail()}")
    finally:
        cli.stop_hub(hub, results, keep_data)
        cli.write_results("clinic", results, render, _log)
    return results


def render(results: Result) -> str:
    m, p = results["machine"], results["params"]
    out = [
        f"# Clinic morning (Locust), {results['started']}",
        "",
        f"Machine: {m['cpu_model']}, {m['nproc']} cores, {m['mem_total_gib']} GiB, Linux "
        f"{m['kernel']}, Python {m['python']}. Hub, its Valkey and Locust share it.",
        "",
        f"{p['facilities']} facilities × {p['counters']} counters; {p['users']} users "
        f"({p['facilities']} monitors, {p['phones']} phones, {p['patients']} patients, "
        f"{p['staff']} staff); web opens {p['opening_after_s']} s after the start; each counter "
        f"called every {p['service_s']} s; {p['run_time_s']} s in all, the last "
        f"{p['drain_s']} s quiet. Hub CPU {results.get('hub_cpu_pct')} %.",
        "",
        f"Command: `{results['locust_command']}`",
        "",
        "| type | name | count | failures | per s | p50 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results.get("requests", []):
        out.append(
            f"| {r['type']} | {r['name']} | {r['count']} | {r['failures']} | {r['per_s']} | "
            f"{fmt_ms(r['p50_ms'])} | {fmt_ms(r['p99_ms'])} | {fmt_ms(r['max_ms'])} |"
        )
    checks = results.get("checks", {})
    out += ["", "Checks: " + ", ".join(f"{k} {v}" for k, v in checks.items())]
    out += [f"Violations: {results.get('violations') or 'none'}"]
    for example in results.get("violation_examples", []):
        out.append(f"- {example}")
    counts = results.get("counts", {})
    if counts:
        out.append("Counts: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    if "error" in results:
        out += ["", f"**FAILED**: {results['error']}"]
    return "\n".join(out) + "\n"


_log = cli.logger("clinic")


def main(argv: list[str] | None = None) -> int:
    parser = cli.new_parser("python -m loadtest.clinic_morning", __doc__)
    add = parser.add_argument
    add("--quick", action="store_true", help="20 facilities, 25 s (a smoke run)")
    add("--facilities", type=int, help="facilities (default 200; one monitor each)")
    add("--counters", type=int, help="counters per facility (default 2)")
    add("--patients", type=int, help="Patient users (default 100)")
    add("--phones", type=int, help="Phone watcher users (default 100)")
    add("--staff", type=int, help="Staff users (default 20)")
    add("--run-time", type=int, help="seconds (default 60)")
    add("--service-s", type=float, help="seconds between calls on one counter (default 20)")
    add("--keep-data", action="store_true", help="keep the hub's temp data dir")
    args = parser.parse_args(argv)
    params = Params.quick_params() if args.quick else Params()
    overrides = {
        "facilities": args.facilities,
        "counters": args.counters,
        "patients": args.patients,
        "phones": args.phones,
        "staff": args.staff,
        "run_time_s": args.run_time,
        "service_s": args.service_s,
    }
    params = cli.apply_overrides(parser, params, overrides, None, ())
    results = run(params, args.keep_data)
    return 0 if "error" not in results else 1


if __name__ == "__main__":
    sys.exit(main())
