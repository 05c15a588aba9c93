"""The markdown report of bench_fanout (the JSON next to it has everything)."""

from __future__ import annotations

from typing import Any

from loadtest.report import _table, profile_table
from loadtest.stats import fmt_ms

Result = dict[str, Any]
CPU_TARGET_MS = 9.0
CLINIC_P99_TARGET_MS = 2.0
MEMORY_TARGET_KIB = 12.0


def _lat(summary: dict[str, float]) -> str:
    return " / ".join(fmt_ms(summary[k]) for k in ("p50_ms", "p99_ms", "max_ms"))


def _num(value: Any, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _head(results: Result) -> list[str]:
    m, s = results["machine"], results.get("software", {})
    packages = ", ".join(f"{k} {v}" for k, v in s.get("packages", {}).items())
    return [
        f"# Live fan-out benchmark — {results['started']}",
        "",
        f"- machine: {m['nproc']} CPUs usable ({m['cpu_count']} online), {m['cpu_model']}, "
        f"{m['mem_total_gib']} GiB, Linux {m['kernel']}; Python {m['python']}; busy before the "
        f"run: {m.get('busy_before_run_pct')} % (100 = one core); RLIMIT_NOFILE {m.get('nofile')}",
        f"- software: {packages}",
        f"- code: git {s.get('git_commit', '?')}; uncommitted in hub/: "
        f"{s.get('hub_uncommitted', '?')!r}",
        f"- hub: `{results['hub']['command']}` with {results['hub']['env']}; one process, "
        "embedded Valkey on a unix socket; hub, Valkey, publisher and swarm share the machine",
        f"- swarm: {results.get('swarm')}; publisher: this process (redis-py asyncio, PUBLISH "
        "on the hub's Valkey unix socket, open loop)",
        f"- parameters: {results['params']}",
        "",
    ]


FANOUT_HEADER = [
    "run", "server", "subs × channels", "pub/s", "deliveries received / expected",
    "publish→receive p50 / p99 / max ms", "last subscriber p50 / p99 ms",
    "server CPU ms / 1000 deliveries (net of idle)", "server CPU %", "Valkey CPU %",
    "swarm CPU % (µs / delivery)", "irq / other CPU %", "machine %",
]  # fmt: skip


def _fanout_row(name: str, r: Result) -> list[Any]:
    if "error" in r:
        return [name, "", "", "", f"failed: {r['error']}", *[""] * 8]
    c = r["cpu"]
    last = r["last_subscriber"]
    ratio = r["received_ratio"]
    return [
        name,
        r["server"],
        f"{r['subscribers']} × {r['channels']}",
        f"{r['rate']:g}",
        f"{r['received']} / {r['expected']} ({100 * ratio:.1f} %)" if ratio is not None else "–",
        _lat(r["latency"]),
        f"{fmt_ms(last['p50_ms'])} / {fmt_ms(last['p99_ms'])}",
        f"**{_num(r['server_cpu_ms_per_1000'])}** "
        f"({_num(r['server_cpu_ms_per_1000_net_of_idle'])})",
        c["server_cpu_pct"],
        c["valkey_cpu_pct"],
        f"{c['swarm_cpu_pct']} ({_num(r['swarm_cpu_us_per_delivery'])})",
        f"{c['irq_cpu_pct']} / {c['other_cpu_pct']}",
        c["machine_busy_pct"],
    ]


def _fanout_rows(results: Result) -> list[list[Any]]:
    rows = [
        _fanout_row(f"0. calibration, parser {r['parser']}", r)
        for r in results.get("calibration", [])
    ]
    rows += [_fanout_row(f"1. CPU, {k} subs", r) for k, r in results.get("cpu", {}).items()]
    if "keepup" in results:
        rows.append(_fanout_row("2. keep up", results["keepup"]))
    if "clinic" in results:
        rows.append(_fanout_row("4. clinic shape", results["clinic"]))
    for kind, runs in results.get("peers", {}).items():
        rows += [_fanout_row(f"6. {kind}, {k} subs", r) for k, r in runs.items() if k != "versions"]
    if "profile" in results:
        rows.append(_fanout_row("7. under py-spy (not used)", results["profile"]["load"]))
    return rows


def _summary(results: Result) -> list[str]:
    out = ["## Figures against the issue's targets", ""]
    for subs, r in results.get("cpu", {}).items():
        value = r["server_cpu_ms_per_1000"]
        ok = value is not None and value <= CPU_TARGET_MS
        out.append(
            f"- 1. hub CPU per 1,000 deliveries, {subs} subscribers at {r['rate']:g} pub/s: "
            f"**{_num(value)} ms** (net of idle {_num(r['server_cpu_ms_per_1000_net_of_idle'])}"
            f"; target ≤ {CPU_TARGET_MS:g}: {'met' if ok else 'NOT met'})"
        )
    if "keepup" in results:
        r = results["keepup"]
        out.append(
            f"- 2. {r['subscribers']} subscribers × {r['rate']:g} pub/s "
            f"({r['subscribers'] * r['rate']:,.0f} deliveries/s offered): received "
            f"{100 * (r['received_ratio'] or 0):.2f} %, latency p50/p99/max "
            f"{_lat(r['latency'])} ms"
        )
    if "callnext" in results:
        r = results["callnext"]
        out.append(
            f"- 3. call-next → last of {r['subscribers']} subscribers, {r['calls']} calls: "
            f"p50 **{fmt_ms(r['last_subscriber']['p50_ms'])} ms**, p99 "
            f"**{fmt_ms(r['last_subscriber']['p99_ms'])} ms** (every delivery p50/p99/max "
            f"{_lat(r['latency'])} ms; the HTTP answer {_lat(r['http_call_next'])} ms)"
        )
    if "clinic" in results:
        r = results["clinic"]
        p99 = r["latency"]["p99_ms"]
        ok = p99 <= CLINIC_P99_TARGET_MS
        out.append(
            f"- 4. clinic shape {r['channels']} queues × {r['subscribers'] // r['channels']} "
            f"subscribers, {r['rate']:g} changes/s: p50 {fmt_ms(r['latency']['p50_ms'])} ms, "
            f"p99 **{fmt_ms(p99)} ms** (target ≤ {CLINIC_P99_TARGET_MS:g}: "
            f"{'met' if ok else 'NOT met'})"
        )
    for m in results.get("memory", []):
        if "skipped" in m:
            out.append(f"- 5. {m['wanted']} idle connections: not run — {m['skipped']}")
            continue
        ok = m["kib_per_connection"] <= MEMORY_TARGET_KIB
        out.append(
            f"- 5. {m['connected']} idle subscribed connections: hub RSS {m['rss_before_kib']} → "
            f"{m['rss_after_kib']} KiB: **{m['kib_per_connection']} KiB per connection** "
            f"(target ≤ {MEMORY_TARGET_KIB:g}: {'met' if ok else 'NOT met'}); connecting took "
            f"{m['connect_s']} s; RSS after closing them {m['rss_after_close_kib']} KiB"
        )
    return out + [""] + _peer_ratios(results)


def _peer_ratios(results: Result) -> list[str]:
    hub = results.get("cpu", {})
    out = []
    for kind, runs in results.get("peers", {}).items():
        for subs, r in runs.items():
            if subs == "versions" or "error" in r or subs not in hub:
                continue
            mine, theirs = hub[subs]["server_cpu_ms_per_1000"], r["server_cpu_ms_per_1000"]
            ratio = f"{theirs / mine:.2f}" if mine and theirs else "–"
            out.append(
                f"- 6. {kind}, {subs} subscribers: {_num(theirs)} ms CPU / 1000 deliveries, "
                f"received {100 * (r['received_ratio'] or 0):.2f} %, p99 "
                f"{fmt_ms(r['latency']['p99_ms'])} ms; the hub uses {ratio}× less CPU per "
                "delivery"
                if ratio != "–"
                else f"- 6. {kind}, {subs}: no ratio"
            )
        if "versions" in runs:
            out.append(f"  - {kind}: {runs['versions']}")
    return out + ([""] if out else [])


def _callnext(results: Result) -> list[str]:
    r = results.get("callnext")
    if not r:
        return []
    header = [
        "subscribers", "calls", "versions", "received / expected",
        "call-next → last subscriber p50 / p99 / max ms", "every delivery p50 / p99 / max ms",
        "HTTP call-next p50 / p99 / max ms", "hub CPU %", "swarm CPU %", "other CPU %",
    ]  # fmt: skip
    row = [
        r["subscribers"], r["calls"], r["versions"], f"{r['received']} / {r['expected']}",
        f"**{_lat(r['last_subscriber'])}**", _lat(r["latency"]), _lat(r["http_call_next"]),
        r["cpu"]["hub_cpu_pct"], r["cpu"]["swarm_cpu_pct"], r["cpu"]["other_cpu_pct"],
    ]  # fmt: skip
    return ["## 3. Staff call-next → screen", ""] + _table(header, [row])


def _memory(results: Result) -> list[str]:
    rows = [m for m in results.get("memory", []) if "skipped" not in m]
    if not rows:
        return []
    header = ["connections", "connect s", "hub fds", "RSS before KiB", "RSS after KiB",
              "KiB / connection", "RSS after closing KiB"]  # fmt: skip
    table = [
        [m["connected"], m["connect_s"], m["hub_open_fds"], m["rss_before_kib"],
         m["rss_after_kib"], f"**{m['kib_per_connection']}**", m["rss_after_close_kib"]]
        for m in rows
    ]  # fmt: skip
    return ["## 5. Memory per idle subscribed connection", ""] + _table(header, table)


def _profile(results: Result) -> list[str]:
    p = results.get("profile")
    if not p:
        return []
    prof = p["profile"]
    packages = ", ".join(f"{name} {pct} %" for name, pct in prof["self_by_package"])
    out = [
        "## 7. Hub hot spots on the fan-out path (py-spy, keep-up scenario again)",
        "",
        f"- {prof['samples']} samples at {prof['rate_hz']} Hz (non-blocking, idle excluded); "
        f"stacks: `{p['stacks_file']}`",
        f"- self time by package: {packages}",
        "",
    ]
    return out + profile_table(prof)


def _details(results: Result) -> list[str]:
    out = ["## Details", ""]
    for name, r in _runs(results):
        out.append(
            f"- {name}: connect {r.get('connect')}; send lag p50/p99/max "
            f"{_lat(r['send_lag']) if 'send_lag' in r else '–'} ms; other frames "
            f"{r.get('other_frames')}, closed by server {r.get('closed_by_server')}, errors "
            f"{r.get('errors') or 'none'}; idle server CPU "
            f"{r.get('idle_cpu', {}).get('server_cpu_pct')} %;"
            f" attempts {r.get('attempts', 1)}; other processes {r.get('other_processes') or '–'}"
        )
    return out + [""]


def _runs(results: Result) -> list[tuple[str, Result]]:
    runs = [(f"calibration {r['parser']}", r) for r in results.get("calibration", [])]
    runs += [(f"cpu {k}", r) for k, r in results.get("cpu", {}).items()]
    runs += [(k, results[k]) for k in ("keepup", "clinic", "callnext") if k in results]
    for kind, rows in results.get("peers", {}).items():
        runs += [
            (f"{kind} {k}", r) for k, r in rows.items() if k != "versions" and "error" not in r
        ]
    return runs


def render(results: Result) -> str:
    lines = _head(results)
    lines += _summary(results)
    lines += ["## Fan-out runs (publish on Redis pub/sub → subscribers)", ""]
    lines += _table(FANOUT_HEADER, _fanout_rows(results))
    lines += _callnext(results)
    lines += _memory(results)
    lines += _profile(results)
    lines += _details(results)
    lines.append(f"Hub stop: {results.get('hub_stop')}")
    lines.append(f"\nHub log warnings/errors: {results.get('hub_log_warnings') or 'none'}")
    if "error" in results:
        lines.append(f"\n**The run failed:** {results['error']}")
    return "\n".join(lines) + "\n"
