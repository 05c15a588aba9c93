"""Connection swarm: many WebSocket watchers against one hub, and a reconnect storm.

    python -m loadtest.swarm [--quick] [--sweep 1000,2000,5000,10000] [--storm-conns 10000]

Starts its own hub (``HubProcess``, limits lifted, soft RLIMIT_NOFILE raised to the hard
limit) and reconnecting watchers in worker processes (``watchers.py``). Two parts:

- **sweep**: for each connection count N, N fresh watchers spread over ``--queues`` queues:
  connect rate (watchers holding their first state per second), hub RSS per connection,
  then ``--rate`` publications/s (round robin over the queues, ~1 KB views published on the
  queues' Redis channels as in bench_fanout) for ``--seconds``: publish -> receive latency
  p50/p99/max of every delivery, deliveries/s received, hub CPU per 1,000 deliveries.
- **storm**: N watchers of fresh real queues; the hub is killed (SIGTERM: it closes every
  WebSocket with 1012; SIGKILL: connections just drop) and restarted on the same port and
  data dir; right after the restart every queue changes (a web ticket), while the watchers
  reconnect with full-jitter backoff. Measured: the time until every watcher is connected
  and holds the latest ``(epoch, v)`` of its queue; a watcher that is not current within
  ``--storm-deadline`` seconds, or that was sent a lower ``v`` than it held, fails the run.

Writes ``loadtest/results/swarm-<timestamp>.{json,md}``. See loadtest/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from redis.asyncio import Redis

from hub.app import connect_redis
from loadtest import cli, report
from loadtest.bench_core import QUIET_PCT, Api
from loadtest.bench_fanout import WS_ENV, delivery_stats, publish, queue_feeds
from loadtest.hubproc import HubProcess, _gone_within, cpu_seconds
from loadtest.probes import wait_quiet
from loadtest.stats import fmt_ms, latency_summary
from loadtest.watchers import (
    BACKOFF_CAP_S,
    Watchers,
    WatcherSpec,
    WatcherStatus,
    start_watchers,
)
from loadtest.wsswarm import raise_nofile

SCENARIOS = ("sweep", "storm")
DRAIN_S = 1.0
Result = dict[str, Any]


@dataclass(frozen=True)
class Params:
    """Everything that shapes the figures; the report prints it as is."""

    quick: bool = False
    procs: int = 2
    """Watcher worker processes."""
    sweep: tuple[int, ...] = (1000, 2000, 5000, 10000)
    queues: int = 10
    """The sweep's watchers are spread over this many queues (one channel each)."""
    rate: float = 100.0
    """Sweep publications/s, round robin over the queues."""
    seconds: float = 10.0
    payload_bytes: int = 1000
    storm_conns: int = 10000
    storm_queues: int = 100
    storm_signals: tuple[str, ...] = ("term", "kill")
    storm_deadline_s: float = 60.0
    concurrency: int = 200
    """Handshakes in flight at once per worker during the first connect."""
    backoff_cap_s: float = BACKOFF_CAP_S
    """The watchers' reconnect backoff cap (the JS client's ``backoff.cap``)."""
    wait_quiet_s: float = 60.0
    only: tuple[str, ...] = SCENARIOS

    @classmethod
    def quick_params(cls) -> Params:
        return cls(
            quick=True,
            sweep=(200, 500),
            seconds=2.0,
            rate=20.0,
            storm_conns=300,
            storm_queues=10,
            storm_deadline_s=30.0,
            wait_quiet_s=5.0,
        )


class SwarmBench:
    def __init__(self, hub: HubProcess, params: Params) -> None:
        self.hub, self.params = hub, params
        self.api = Api(hub)
        self.redis: Redis = connect_redis(hub.redis_url)

    def spec(self, connections: int, channels: tuple[str, ...]) -> WatcherSpec:
        return WatcherSpec(
            self.hub.host, self.hub.port, channels, connections,
            concurrency=self.params.concurrency, backoff_cap_s=self.params.backoff_cap_s,
        )  # fmt: skip

    async def quiet(self) -> float:
        return await wait_quiet(QUIET_PCT, self.params.wait_quiet_s)

    # ---- the sweep -----------------------------------------------------------------------

    async def sweep(self) -> list[Result]:
        p = self.params
        queues = await self.api.new_queues((p.queues + 1) // 2, 2)
        infos = [q.info for q in queues[: p.queues]]
        feeds = await queue_feeds(self.redis, infos, p.payload_bytes)
        channels = tuple(f"queue:{info}" for info in infos)
        rows = []
        for n in p.sweep:
            _log(f"sweep: {n} watchers over {len(channels)} queues, {p.rate}/s for {p.seconds} s")
            busy = await self.quiet()
            rows.append(await self._step(n, channels, feeds) | {"busy_before_pct": busy})
            await asyncio.sleep(1.0)
        return rows

    async def _step(self, n: int, channels: tuple[str, ...], feeds: list[Any]) -> Result:
        p = self.params
        rss_before = rss_kib(self.hub.pid)
        watchers = await start_watchers(self.spec(n, channels), p.procs)
        try:
            connect = watchers.connect | {"rate": watchers.connect_rate()}
            await asyncio.sleep(1.0)
            rss_after = rss_kib(self.hub.pid)
            await watchers.reset()
            cpu0, t0 = cpu_seconds(self.hub.pid), time.monotonic()
            sends, lags = await publish(self.redis, feeds, p.rate, p.seconds)
            await asyncio.sleep(DRAIN_S)
            cpu1, t1 = cpu_seconds(self.hub.pid), time.monotonic()
            records = await watchers.collect()
            statuses, _ = await watchers.statuses()
        finally:
            await watchers.close()
        q = len(channels)
        per_channel = {i: n // q + (i < n % q) for i in range(q)}
        stats = delivery_stats(sends, records, per_channel)
        first_send = min(sends.values())
        last_receipt = max((max(t) for t in records.times.values() if t), default=first_send)
        # the publishing time, or longer when the last deliveries came later than that
        span = max(last_receipt - first_send, len(sends) / p.rate)
        received = stats["received"]
        return {
            "connections": n,
            "connect": connect,
            "rss_before_kib": rss_before,
            "rss_after_kib": rss_after,
            "hub_kib_per_connection": round((rss_after - rss_before) / max(n, 1), 2),
            **stats,
            "offered_deliveries_per_s": round(p.rate * n / len(channels), 1),
            "deliveries_per_s": round(received / span, 1),
            "hub_cpu_pct": round(100 * (cpu1 - cpu0) / (t1 - t0), 1),
            "hub_cpu_ms_per_1000": round((cpu1 - cpu0) / received * 1e6, 2) if received else None,
            "regressions": sum(s.regressions for s in statuses),
            "send_lag": latency_summary(lags),
        }

    # ---- the storm -----------------------------------------------------------------------

    async def storm(self) -> Result:
        p = self.params
        queues = await self.api.new_queues((p.storm_queues + 1) // 2, 2)
        infos = [q.info for q in queues[: p.storm_queues]]
        channels = tuple(f"queue:{info}" for info in infos)
        await self.quiet()
        _log(f"storm: {p.storm_conns} watchers over {len(infos)} queues")
        watchers = await start_watchers(self.spec(p.storm_conns, channels), p.procs)
        out: Result = {"connections": p.storm_conns, "queues": len(infos)}
        out["connect"] = watchers.connect | {"rate": watchers.connect_rate()}
        try:
            for n, sig in enumerate(p.storm_signals, 1):
                _log(f"storm {n}: SIG{sig.upper()} the hub, restart it, change every queue")
                out[sig] = await self._storm_once(watchers, infos, sig, n)
        finally:
            await watchers.close()
        return out

    async def _storm_once(self, watchers: Watchers, infos: list[str], sig: str, n: int) -> Result:
        p = self.params
        before, _ = await watchers.statuses()
        old = self.hub
        await self.redis.aclose()
        self.api.close()
        killed_at = time.monotonic()
        old.proc.send_signal(signal.SIGTERM if sig == "term" else signal.SIGKILL)  # type: ignore[union-attr]
        code = await asyncio.to_thread(old.proc.wait, 30)  # type: ignore[union-attr]
        valkey_gone = old.valkey_pid is None or _gone_within(old.valkey_pid, 15.0)
        down_at = time.monotonic()
        old.log_path.rename(old.data_dir / f"hub-{n}.log")
        self.hub = HubProcess(
            port=old.port, data_dir=old.data_dir, secret=old.secret, extra_env=old.extra_env
        )
        await self.hub.start()
        up_at = time.monotonic()
        self.api, self.redis = Api(self.hub), connect_redis(self.hub.redis_url)
        for info in infos:
            await self.api.expect(201, "POST", f"/v1/queues/{info}/tickets")
        latest = {}
        for i, info in enumerate(infos):
            view = await self.api.queue_view(info)
            latest[i] = (str(view["epoch"]), int(view["v"]))
        changed_at = time.monotonic()
        deadline = up_at + p.storm_deadline_s
        while True:
            statuses, errors = await watchers.statuses()
            stale = [s for s in statuses if not _current(s, latest)]
            if not stale or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.25)
        done_at = time.monotonic()
        since = sorted(
            (s.current_since - killed_at) * 1000
            for s in statuses
            if _current(s, latest) and s.current_since
        )
        return {
            "signal": f"SIG{sig.upper()}",
            "hub_exit_code": code,
            "valkey_exited": valkey_gone,
            "hub_down_s": round(down_at - killed_at, 3),
            "restart_s": round(up_at - down_at, 3),
            "changes_done_after_restart_s": round(changed_at - up_at, 3),
            "all_current_after_kill_s": round(since[-1] / 1000, 3) if not stale else None,
            "all_current_after_restart_s": (
                round(since[-1] / 1000 - (up_at - killed_at), 3) if not stale else None
            ),
            "watched_for_s": round(done_at - killed_at, 2),
            "time_to_current_ms": latency_summary(since),
            "not_current": len(stale),
            "not_current_examples": [asdict(s) for s in stale[:5]],
            "regressions": sum(s.regressions for s in statuses)
            - sum(s.regressions for s in before),
            "repeats": sum(s.repeats for s in statuses) - sum(s.repeats for s in before),
            "connections_opened": sum(s.connects for s in statuses)
            - sum(s.connects for s in before),
            "connect_errors": errors,
        }

    async def close(self) -> None:
        self.api.close()
        await self.redis.aclose()


def _current(s: WatcherStatus, latest: dict[int, tuple[str, int]]) -> bool:
    return s.connected and (s.epoch, s.v) == latest[s.channel]


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


_log = cli.logger("swarm")


# ---- the report ----------------------------------------------------------------------------


def render(results: Result) -> str:
    m, p = results["machine"], results["params"]
    out = [
        f"# Connection swarm, {results['started']}",
        "",
        f"Machine: {m['cpu_model']}, {m['nproc']} cores, {m['mem_total_gib']} GiB, Linux "
        f"{m['kernel']}, Python {m['python']}; RLIMIT_NOFILE {m.get('nofile')}. Hub, its Valkey "
        f"and {p['procs']} watcher processes share the machine.",
        "",
        f"Parameters: `{p}`",
        "",
    ]
    if results.get("sweep"):
        out += [
            f"## Sweep: {p['rate']} publications/s over {p['queues']} queues, ~"
            f"{p['payload_bytes']} B views",
            "",
            "| watchers | connect/s | hub KiB/conn | offered/s | delivered/s | received % "
            "| p50 ms | p99 ms | max ms | hub CPU % | hub ms/1000 | regressions |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in results["sweep"]:
            lat = r["latency"]
            out.append(
                f"| {r['connections']} | {r['connect']['rate']['per_s']} | "
                f"{r['hub_kib_per_connection']} | {r['offered_deliveries_per_s']:,.0f} | "
                f"{r['deliveries_per_s']:,.0f} | {100 * (r['received_ratio'] or 0):.2f} | "
                f"{fmt_ms(lat['p50_ms'])} | {fmt_ms(lat['p99_ms'])} | {fmt_ms(lat['max_ms'])} | "
                f"{r['hub_cpu_pct']} | {r['hub_cpu_ms_per_1000']} | {r['regressions']} |"
            )
        out.append("")
    storm = results.get("storm")
    if storm:
        out += [
            f"## Reconnect storm: {storm['connections']} watchers over {storm['queues']} queues "
            f"(connect {storm['connect']['rate']['per_s']}/s)",
            "",
            "| signal | hub down s | restart s | all current after kill s | after restart s "
            "| p50 / p99 ms to current | not current | regressions | connections opened |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for sig in p["storm_signals"]:
            r = storm.get(sig)
            if not r:
                continue
            t = r["time_to_current_ms"]
            out.append(
                f"| {r['signal']} | {r['hub_down_s']} | {r['restart_s']} | "
                f"{r['all_current_after_kill_s']} | {r['all_current_after_restart_s']} | "
                f"{fmt_ms(t['p50_ms'])} / {fmt_ms(t['p99_ms'])} | {r['not_current']} | "
                f"{r['regressions']} | {r['connections_opened']} |"
            )
        out.append("")
    if "error" in results:
        out += [f"**FAILED**: {results['error']}", ""]
    return "\n".join(out)


# ---- the run -------------------------------------------------------------------------------


def _verdict(results: Result) -> str | None:
    problems = []
    for r in results.get("sweep", []):
        if r["regressions"]:
            problems.append(f"sweep {r['connections']}: {r['regressions']} regressions")
    storm = results.get("storm") or {}
    for sig in results["params"]["storm_signals"]:
        r = storm.get(sig)
        if r and (r["not_current"] or r["regressions"]):
            problems.append(
                f"storm {r['signal']}: {r['not_current']} watchers not current, "
                f"{r['regressions']} regressions"
            )
    return "; ".join(problems) or None


async def main_async(params: Params, keep_data: bool) -> Result:
    nofile = raise_nofile()
    hub = HubProcess(extra_env=WS_ENV)
    results: Result = {
        "started": datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": " ".join(["python -m loadtest.swarm", *sys.argv[1:]]),
        "params": asdict(params),
        "machine": report.machine_info() | {"nofile": nofile},
    }
    need = max([*params.sweep, params.storm_conns]) + 200
    if need > nofile[0]:
        results["error"] = f"{need} connections need RLIMIT_NOFILE >= {need} (have {nofile})"
        _write(results)
        return results
    _log(f"starting the hub on port {hub.port}, data dir {hub.data_dir}")
    bench: SwarmBench | None = None
    try:
        await hub.start()
        results["software"] = await report.software_info(hub)
        bench = SwarmBench(hub, params)
        if "sweep" in params.only:
            results["sweep"] = await bench.sweep()
        if "storm" in params.only:
            results["storm"] = await bench.storm()
        verdict = _verdict(results)
        if verdict:
            results["error"] = verdict
    except Exception as exc:
        results["error"] = f"{type(exc).__name__}: {exc}"
        _log(f"FAILED: {results['error']}\n{hub.log_tail()}")
    finally:
        if bench is not None:
            hub = bench.hub
            await bench.close()
        cli.stop_hub(hub, results, keep_data)
        _write(results)
    return results


def _write(results: Result) -> None:
    cli.write_results("swarm", results, render, _log)


def parse_args(argv: list[str] | None = None) -> tuple[Params, argparse.Namespace]:
    parser = cli.new_parser("python -m loadtest.swarm", __doc__)
    add = parser.add_argument
    add("--quick", action="store_true", help="a few hundred watchers, short runs (a smoke run)")
    add("--only", help=f"comma-separated subset of {','.join(SCENARIOS)}")
    add("--procs", type=int, help="watcher processes (default 2)")
    add("--sweep", help="connection counts of the sweep (default 1000,2000,5000,10000)")
    add("--queues", type=int, help="queues the sweep's watchers are spread over (default 10)")
    add("--rate", type=float, help="sweep publications/s (default 100)")
    add("--seconds", type=float, help="sweep publishing time per count (default 10)")
    add("--storm-conns", type=int, help="watchers in the reconnect storm (default 10000)")
    add("--storm-signals", help="term,kill (default both, in that order)")
    add("--storm-deadline", type=float, help="seconds for every watcher to be current (60)")
    add("--backoff-cap", type=float, help=f"watchers' reconnect backoff cap, s ({BACKOFF_CAP_S})")
    add("--wait-quiet", type=float, help="before each run wait up to N s for an idle machine")
    add("--keep-data", action="store_true", help="keep the hub's temp data dir")
    args = parser.parse_args(argv)
    params = Params.quick_params() if args.quick else Params()
    signals = tuple(x for x in (args.storm_signals or "").split(",") if x) or None
    if signals and set(signals) - {"term", "kill"}:
        parser.error("--storm-signals: term and/or kill")
    overrides: dict[str, Any] = {
        "procs": args.procs,
        "sweep": cli.ints(args.sweep) if args.sweep else None,
        "queues": args.queues,
        "rate": args.rate,
        "seconds": args.seconds,
        "storm_conns": args.storm_conns,
        "storm_signals": signals,
        "storm_deadline_s": args.storm_deadline,
        "backoff_cap_s": args.backoff_cap,
        "wait_quiet_s": args.wait_quiet,
    }
    return cli.apply_overrides(parser, params, overrides, args.only, SCENARIOS), args


def main(argv: list[str] | None = None) -> int:
    return cli.run(parse_args, main_async, argv)


if __name__ == "__main__":
    sys.exit(main())
