"""Benchmark of the queue core: HTTP commands/s of one hub process, open-loop latency at a
fixed rate, the Lua append alone, and a burst of simultaneous "take a ticket" on one queue.

    python -m loadtest.bench_core [--quick] [--profile]

Starts its own ``junban serve --demo`` (temp data dir, free port, rate limits lifted), runs
the scenarios, stops the hub and writes ``loadtest/results/core-<timestamp>.{json,md}``.
See loadtest/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime
from functools import partial
from typing import Any

import orjson

from hub import keys
from hub.auth import Tokens
from loadtest import cli, hubproc, loadgen, profile, rawhttp, report
from loadtest.appendbench import AppendBench
from loadtest.hubproc import HubProcess
from loadtest.loadgen import ClientKind, LoadResult, LoadSpec, QueueTarget
from loadtest.probes import Probe, Window, batch_histogram, metric_delta, wait_quiet
from loadtest.stats import latency_summary

RESULTS_DIR = cli.RESULTS_DIR
SCENARIOS = ("calibration", "closed", "open", "append", "bursts", "profile")
START_MARGIN_S = 1.5
"""Between submitting a run and its start: the workers open their connections meanwhile."""
IDLE_RECONNECT_S = 2.0
"""uvicorn closes idle keep-alive connections after 5 s: reconnect well before that."""
QUIET_PCT = 15.0
"""The machine counts as quiet below this busy % (of one core) when nothing of ours runs."""
DISTURBED_PCT = 10.0
"""A run during which other processes used more CPU than this (% of one core) is disturbed."""
HUB_BOUND_PCT = 95.0
"""Hub CPU at or above this (% of one core): the single hub process is the bottleneck."""
Result = dict[str, Any]
CALIBRATION_VARIANTS: tuple[tuple[ClientKind, int], ...] = (("aiohttp", 1), ("raw", 1), ("raw", 2))


def _other_cpu(result: Result) -> float:
    """The most CPU other processes used during a run (or any of its parts)."""
    if "other_cpu_pct" in result:
        return float(result["other_cpu_pct"])
    parts = [v for v in result.values() if isinstance(v, dict) and "other_cpu_pct" in v]
    return max((float(v["other_cpu_pct"]) for v in parts), default=0.0)


@dataclass(frozen=True)
class Params:
    """Everything that shapes the figures; the report prints it as is."""

    quick: bool = False
    connections: int = 64
    """Closed loop: concurrent keep-alive connections (split over the generator processes)."""
    client: ClientKind | None = None
    """None: the best of the calibration (raw when calibration is skipped)."""
    gen_procs: int | None = None
    """Generator processes; None: the best of the calibration (1 when skipped)."""
    warmup_s: float = 2.0
    closed_s: float = 15.0
    facilities: int = 50
    counters: int = 2
    takes_per_call: int = 3
    calibration_s: float = 6.0
    open_rate: float = 1000.0
    open_s: float = 20.0
    open_connections: int = 128
    append_s: float = 5.0
    append_concurrency: int = 8
    append_tickets: int = 100
    bursts: int = 5
    burst_size: int = 500
    profile_s: float = 10.0
    profile: bool = False
    """Also run scenario 5 (py-spy on the hub); ``--only profile`` runs just that."""
    profile_blocking: bool = False
    wait_quiet_s: float = 0.0
    """Before each run, wait up to this long for other processes to go quiet."""
    retries: int = 0
    """Run a scenario again (up to this many times) when other processes disturbed it."""
    redis_pool: int | None = None
    """None: the hub's default Redis pool; N: JUNBAN_REDIS_POOL=N."""
    only: tuple[str, ...] = SCENARIOS[:-1]

    @classmethod
    def quick_params(cls) -> Params:
        return cls(
            quick=True,
            warmup_s=0.5,
            closed_s=3.0,
            facilities=20,
            calibration_s=1.5,
            open_s=3.0,
            append_s=1.0,
            bursts=2,
            profile_s=3.0,
        )


# ---- the hub's setup through its API ----------------------------------------------------------


class Api:
    """Admin and staff calls on one kept-alive connection."""

    def __init__(self, hub: HubProcess) -> None:
        self.hub = hub
        self.tokens = Tokens(hub.secret)
        self.operator = self.tokens.issue("operator", subject="bench")
        self.conn: rawhttp.RawConnection | None = None
        self.used_at = 0.0
        self.next_facility = 100_000

    async def call(
        self, method: str, path: str, body: Any = None, token: str | None = None
    ) -> rawhttp.Answer:
        idle = time.monotonic() - self.used_at > IDLE_RECONNECT_S
        if self.conn is None or self.conn.closed or idle:
            if self.conn is not None:
                self.conn.close()
            self.conn = await rawhttp.connect(self.hub.host, self.hub.port)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        data = b"" if body is None else orjson.dumps(body)
        if body is not None:
            headers["Content-Type"] = "application/json"
        host = f"{self.hub.host}:{self.hub.port}"
        request = rawhttp.build_request(method, path, host=host, body=data, headers=headers)
        answer = await asyncio.wait_for(self.conn.request(request), timeout=30)
        self.used_at = time.monotonic()
        return answer

    async def expect(
        self, status: int, method: str, path: str, body: Any = None, token: str | None = None
    ) -> rawhttp.Answer:
        answer = await self.call(method, path, body, token)
        if answer.status != status:
            raise RuntimeError(f"{method} {path} -> {answer.status} {answer.body[:300]!r}")
        return answer

    async def new_queues(self, facilities: int, counters: int) -> tuple[QueueTarget, ...]:
        """Create ``facilities`` fresh facilities of ``counters`` counters each, all open."""
        targets: list[QueueTarget] = []
        for _ in range(facilities):
            number = str(self.next_facility)
            self.next_facility += 1
            names = {f"{c:02d}": "" for c in range(1, counters + 1)}
            body = {"number": number, "name": f"Bench {number}", "counters": names}
            await self.expect(201, "POST", "/v1/admin/facilities", body, self.operator)
            staff = self.tokens.issue("staff", subject="bench", facility=number)
            for counter in names:
                info = f"{number}-{counter}"
                await self.expect(200, "POST", f"/v1/queues/{info}/open", None, staff)
                await self.expect(200, "POST", f"/v1/queues/{info}/web/open", None, staff)
                targets.append(QueueTarget(info, staff))
        return tuple(targets)

    async def queue_view(self, info: str) -> dict[str, Any]:
        answer = await self.expect(200, "GET", f"/v1/queues/{info}")
        view: dict[str, Any] = orjson.loads(answer.body)
        view["_bytes"] = len(answer.body)
        return view

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


# ---- scenarios 0-2 (and 5): HTTP load ---------------------------------------------------------


def summarize_load(r: LoadResult, window: Window, rate: float | None) -> dict[str, Any]:
    answered = r.answered
    errors = {k: v for k, v in r.outcomes.items() if k not in ("take 201", "call 200")}
    out: dict[str, Any] = {
        "answered": answered,
        "commands_per_s": round(answered / r.window_s, 1),
        "takes": len(r.take_ms),
        "calls": len(r.call_ms),
        "call_next_queue_empty": r.outcomes.get("call 409 queue_empty", 0),
        "outcomes": dict(sorted(r.outcomes.items())),
        "non_2xx_or_failed": errors,
        "latency": latency_summary(r.take_ms + r.call_ms),
        "latency_take": latency_summary(r.take_ms),
        "latency_call": latency_summary(r.call_ms),
        "per_second": r.per_second,
        **window.cpu(r.generator_cpu_s),
        "hub_cpu_us_per_command": round(window.hub_s / answered * 1e6, 1) if answered else None,
        "generator_cpu_us_per_command": (
            round(r.generator_cpu_s / answered * 1e6, 1) if answered else None
        ),
        "redis_calls": window.redis_calls,
        "valkey": window.valkey_counters,
        "other_processes": window.others,
    }
    if rate is not None:
        out["scheduled"] = r.scheduled
        out["achieved_per_s"] = round(answered / max(r.window_s, r.last_done_s), 1)
        out["send_lag"] = latency_summary(r.send_lag_ms)
    return out


class Bench:
    def __init__(self, hub: HubProcess, params: Params, pool: ProcessPoolExecutor) -> None:
        self.hub, self.params, self.pool = hub, params, pool
        self.api = Api(hub)
        self.probe = Probe(hub)

    async def http_load(
        self,
        queues: tuple[QueueTarget, ...],
        *,
        connections: int,
        procs: int,
        client: ClientKind,
        duration_s: float,
        rate: float | None = None,
    ) -> dict[str, Any]:
        """One closed-loop (``rate`` None) or open-loop run over ``queues``: its summary."""
        p = self.params
        start_at = time.time() + START_MARGIN_S
        shares = [connections // procs + (i < connections % procs) for i in range(procs)]
        specs = [
            LoadSpec(
                host=self.hub.host,
                port=self.hub.port,
                queues=queues,
                connections=n,
                start_at=start_at,
                warmup_s=p.warmup_s,
                duration_s=duration_s,
                takes_per_call=p.takes_per_call,
                client=client,
                rate=None if rate is None else rate / procs,
                first_queue=i * len(queues) // procs,
            )
            for i, n in enumerate(shares)
        ]
        loop = asyncio.get_running_loop()
        runs = [loop.run_in_executor(self.pool, loadgen.run_load, spec) for spec in specs]
        t0 = start_at + p.warmup_s
        window = await self.probe.window(t0, t0 + duration_s)
        results = await asyncio.gather(*runs)
        merged = results[0]
        for other in results[1:]:
            merged.merge(other)
        summary = summarize_load(merged, window, rate)
        summary["setup"] = {
            "queues": len(queues),
            "connections": connections,
            "generator_processes": procs,
            "client": client,
            "duration_s": duration_s,
            "warmup_s": p.warmup_s,
            "rate": rate,
        }
        return summary

    async def steady(self, label: str, run: Callable[[], Awaitable[Result]]) -> Result:
        """``run()`` on a quiet machine: wait (up to ``wait_quiet_s``) for other processes to
        calm down first, and run it again (up to ``retries`` times) when other processes
        used more than DISTURBED_PCT CPU during it. The result says how many attempts."""
        p = self.params
        result: Result = {}
        for attempt in range(1, p.retries + 2):
            if p.wait_quiet_s > 0:
                await wait_quiet(QUIET_PCT, p.wait_quiet_s)
            result = await run()
            disturbed = _other_cpu(result)
            result["attempts"] = attempt
            if disturbed <= DISTURBED_PCT or attempt > p.retries:
                return result
            _log(f"{label}: other processes used {disturbed} % CPU: running it again")
        return result

    async def calibration(self) -> list[Result]:
        """The many-queue closed loop with each generator variant, to pick the cheapest."""
        p = self.params
        rows = []
        for client, procs in CALIBRATION_VARIANTS:
            run = partial(self._closed, client, procs, p.facilities, p.counters, p.calibration_s)
            rows.append(await self.steady(f"calibration {client} x{procs}", run))
        return rows

    async def closed_loop(self, client: ClientKind, procs: int) -> dict[str, Result]:
        p = self.params
        out: dict[str, Result] = {}
        for name, facilities, counters in (
            ("many queues", p.facilities, p.counters),
            ("one queue", 1, 1),
        ):
            run = partial(self._closed, client, procs, facilities, counters, p.closed_s, True)
            out[name] = await self.steady(f"closed loop, {name}", run)
        return out

    async def _closed(
        self,
        client: ClientKind,
        procs: int,
        facilities: int,
        counters: int,
        duration_s: float,
        sizes: bool = False,
    ) -> Result:
        queues = await self.api.new_queues(facilities, counters)
        summary = await self.http_load(
            queues,
            connections=self.params.connections,
            procs=procs,
            client=client,
            duration_s=duration_s,
        )
        if sizes:
            summary["queues_after"] = await self.queue_sizes(queues)
        return summary

    async def open_loop(self, client: ClientKind) -> Result:
        return await self.steady("open loop", lambda: self._open(client))

    async def _open(self, client: ClientKind) -> Result:
        p = self.params
        queues = await self.api.new_queues(p.facilities, p.counters)
        summary = await self.http_load(
            queues,
            connections=p.open_connections,
            procs=1,
            client=client,
            duration_s=p.open_s,
            rate=p.open_rate,
        )
        summary["queues_after"] = await self.queue_sizes(queues)
        return summary

    async def queue_sizes(self, queues: tuple[QueueTarget, ...]) -> dict[str, Any]:
        """How big the queues grew: tickets, waiting, public view and snapshot bytes."""
        views = [await self.api.queue_view(q.info) for q in queues]
        redis = self.probe.redis
        snaps = [await redis.hstrlen(keys.queue(q.info), "snap") for q in queues]
        return {
            "tickets_max": max(v["last_number"] for v in views),
            "tickets_mean": round(sum(v["last_number"] for v in views) / len(views), 1),
            "waiting_max": max(v["waiting_count"] for v in views),
            "view_bytes_max": max(v["_bytes"] for v in views),
            "snapshot_bytes_max": max(snaps),
        }

    async def profiled(self, client: ClientKind, procs: int) -> dict[str, Any]:
        """An extra many-queue closed loop with py-spy sampling the hub (figures not reused)."""
        p = self.params
        queues = await self.api.new_queues(p.facilities, p.counters)
        RESULTS_DIR.mkdir(exist_ok=True)
        out_path = RESULTS_DIR / f"core-{datetime.now():%Y%m%d-%H%M%S}-pyspy.txt"
        seconds = START_MARGIN_S + p.warmup_s + p.profile_s
        sampler = await profile.start_py_spy(
            self.hub.pid, seconds, out_path, nonblocking=not p.profile_blocking
        )
        summary = await self.http_load(
            queues, connections=p.connections, procs=procs, client=client, duration_s=p.profile_s
        )
        stacks = await profile.finish_py_spy(sampler, out_path)
        spots = profile.hot_spots(stacks, nonblocking=not p.profile_blocking)
        return {"load": summary, "profile": spots, "stacks_file": str(out_path)}

    async def close(self) -> None:
        self.api.close()
        await self.probe.close()


# ---- scenario 4: a burst of simultaneous "take a ticket" on one queue --------------------------


async def _open_connections(hub: HubProcess, count: int) -> list[rawhttp.RawConnection]:
    conns: list[rawhttp.RawConnection] = []
    for start in range(0, count, 100):
        batch = min(100, count - start)
        conns += await asyncio.gather(*(rawhttp.connect(hub.host, hub.port) for _ in range(batch)))
    return conns


async def burst(bench: Bench, queue: QueueTarget, size: int) -> dict[str, Any]:
    """``size`` takes on pre-opened connections, all written in one turn of the event loop."""
    hub = bench.hub
    conns = await _open_connections(hub, size)
    await asyncio.sleep(0.5)  # let the hub accept every connection first
    request = rawhttp.build_request(
        "POST", f"/v1/queues/{queue.info}/tickets", host=f"{hub.host}:{hub.port}"
    )
    metrics_before = await hubproc.scrape(hub)
    snap_before = await bench.probe.snapshot()
    t0 = time.perf_counter()
    futures = [conn.send(request) for conn in conns]
    written_ms = (time.perf_counter() - t0) * 1000
    answers = await asyncio.wait_for(asyncio.gather(*futures), timeout=60)
    window = bench.probe.between(snap_before, await bench.probe.snapshot())
    metrics_after = await hubproc.scrape(hub)
    for conn in conns:
        conn.close()
    latencies = [(answer.at - t0) * 1000 for answer in answers]
    return {
        "queue": queue.info,
        "requests": size,
        "write_all_ms": round(written_ms, 2),
        "all_answered_ms": round(max(latencies), 2),
        "latency": latency_summary(latencies),
        **_check_tickets(answers),
        **_burst_metrics(metrics_before, metrics_after),
        "redis_calls": window.redis_calls,
        "valkey": window.valkey_counters,
        **window.cpu(),
        "other_processes": window.others,
    }


def _check_tickets(answers: list[rawhttp.Answer]) -> dict[str, Any]:
    statuses: dict[str, int] = {}
    errors: dict[str, int] = {}
    numbers: list[int] = []
    for answer in answers:
        statuses[str(answer.status)] = statuses.get(str(answer.status), 0) + 1
        if answer.status == 201:
            numbers.append(orjson.loads(answer.body)["ticket"]["number"])
        else:
            code = loadgen.error_code(answer.body)
            errors[f"{answer.status} {code}"] = errors.get(f"{answer.status} {code}", 0) + 1
    numbers.sort()
    consecutive = bool(numbers) and numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    return {
        "statuses": statuses,
        "errors": errors,
        "all_201": statuses == {"201": len(answers)},
        "numbers_unique": len(set(numbers)) == len(numbers),
        "numbers_consecutive": consecutive,
        "numbers": f"{numbers[0]}..{numbers[-1]}" if numbers else "",
    }


def _burst_metrics(before: dict[str, float], after: dict[str, float]) -> dict[str, Any]:
    batches = metric_delta(before, after, "junban_batch_commands_count")
    commands = metric_delta(before, after, "junban_batch_commands_sum")
    return {
        "lua_appends": int(metric_delta(before, after, "junban_appends_total")),
        "append_conflicts": int(metric_delta(before, after, "junban_append_conflicts_total")),
        "batches": int(batches),
        "batch_commands_sum": int(commands),
        "batch_mean": round(commands / batches, 1) if batches else None,
        "batch_buckets": batch_histogram(before, after),
    }


async def bursts(bench: Bench) -> list[Result]:
    """``bursts`` bursts, each on its own fresh queue."""
    size = bench.params.burst_size

    async def one() -> Result:
        queue = (await bench.api.new_queues(1, 1))[0]
        return await burst(bench, queue, size)

    return [await bench.steady(f"burst {i + 1}", one) for i in range(bench.params.bursts)]


# ---- the run ------------------------------------------------------------------------------------


def pick_generator(params: Params, calibration: list[Result]) -> tuple[ClientKind, int]:
    """The explicit choice, else from the calibration: when the hub was the bottleneck in
    every variant (hub CPU >= 95 %), their commands/s differ only by noise and the one with the
    least generator CPU per command is taken (it leaves the most CPU to the hub and Valkey);
    otherwise the variant with the most commands/s."""
    client: ClientKind = params.client or "raw"
    procs = params.gen_procs or 1
    candidates = [
        row
        for row in calibration
        if params.client in (None, row["setup"]["client"])
        and params.gen_procs in (None, row["setup"]["generator_processes"])
    ]
    if candidates:
        if all(row["hub_cpu_pct"] >= HUB_BOUND_PCT for row in candidates):
            pick = min(candidates, key=lambda row: row["generator_cpu_us_per_command"])
        else:
            pick = max(candidates, key=lambda row: row["commands_per_s"])
        client, procs = pick["setup"]["client"], pick["setup"]["generator_processes"]
    return client, procs


async def run_scenarios(hub: HubProcess, params: Params, results: dict[str, Any]) -> None:
    """Fills ``results`` step by step (a failure keeps what was measured before it)."""
    context = multiprocessing.get_context("spawn")
    workers = max(2, params.gen_procs or 2)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(pool, loadgen.noop) for _ in range(workers)))
        bench = Bench(hub, params, pool)
        try:
            await _scenarios(bench, params, results)
            results["hub_metrics_end"] = _core_metrics(await hubproc.scrape(hub))
        finally:
            await bench.close()


async def _scenarios(bench: Bench, params: Params, results: dict[str, Any]) -> None:
    wanted = set(params.only)
    explicit = params.client is not None and params.gen_procs is not None
    if "calibration" in wanted and not explicit:
        _log("0. load generator calibration")
        results["calibration"] = await bench.calibration()
    client, procs = pick_generator(params, results.get("calibration", []))
    results["generator"] = {"client": client, "processes": procs}
    if "closed" in wanted:
        _log(f"1. closed loop ({client} client, {procs} process(es))")
        results["closed_loop"] = await bench.closed_loop(client, procs)
    if "open" in wanted:
        _log(f"2. open loop at {params.open_rate:.0f}/s")
        results["open_loop"] = await bench.open_loop(client)
    if "append" in wanted:
        _log("3. Lua append alone")
        appender = AppendBench(bench.hub, bench.probe, params.append_tickets)
        try:
            results["append"] = await bench.steady(
                "append", lambda: appender.run(params.append_s, params.append_concurrency)
            )
        finally:
            await appender.close()
    if "bursts" in wanted:
        _log(f"4. bursts of {params.burst_size} takes")
        results["bursts"] = await bursts(bench)
    if params.profile or "profile" in wanted:
        _log("5. py-spy profile of the hub (extra run)")
        results["profile"] = await bench.steady("profile", lambda: bench.profiled(client, procs))


def _core_metrics(values: dict[str, float]) -> dict[str, float]:
    wanted = ("junban_appends_total", "junban_append_conflicts_total", "junban_commands_total")
    return {k: v for k, v in values.items() if k.startswith(wanted)}


_log = cli.logger("bench_core")


async def main_async(params: Params, keep_data: bool) -> dict[str, Any]:
    busy = await wait_quiet(QUIET_PCT, params.wait_quiet_s)
    if busy > QUIET_PCT:
        _log(f"warning: the machine is {busy} % busy before the run (other processes)")
    hub = HubProcess(redis_pool=params.redis_pool)
    env = {k: v for k, v in hub.env().items() if k in hubproc.REPORTED_ENV}
    results: dict[str, Any] = {
        "started": datetime.now().astimezone().isoformat(timespec="seconds"),
        "params": asdict(params),
        "machine": report.machine_info() | {"busy_before_run_pct": busy},
        "hub": {"command": " ".join(hub.command()), "env": env},
    }
    _log(f"starting the hub on port {hub.port}, data dir {hub.data_dir}")
    try:
        await hub.start()
        results["hub"] |= {"pid": hub.pid, "valkey_pid": hub.valkey_pid, "port": hub.port}
        results["software"] = await report.software_info(hub)
        await run_scenarios(hub, params, results)
    except Exception as exc:
        results["error"] = f"{type(exc).__name__}: {exc}"
        _log(f"FAILED: {results['error']}\n{hub.log_tail()}")
    finally:
        cli.stop_hub(hub, results, keep_data, _log)
        _write(results)
    return results


def _write(results: dict[str, Any]) -> None:
    cli.write_results("core", results, report.render, _log)


def parse_args(argv: list[str] | None = None) -> tuple[Params, argparse.Namespace]:
    parser = cli.new_parser("python -m loadtest.bench_core", __doc__)
    add = parser.add_argument
    add("--quick", action="store_true", help="every scenario a few seconds (a smoke run)")
    add("--only", help=f"comma-separated subset of {','.join(SCENARIOS)}")
    add("--profile", action="store_true", help="add a many-queue run with py-spy on the hub")
    add("--profile-blocking", action="store_true", help="py-spy pauses the hub per sample")
    add("--connections", type=int, help="closed-loop connections (default 64)")
    add("--client", choices=["raw", "aiohttp"], help="load generator client (skips calibration)")
    add("--gen-procs", type=int, help="generator processes (with --client: no calibration)")
    add("--duration", type=float, help="closed-loop seconds (default 15)")
    add("--open-rate", type=float, help="open-loop commands/s (default 1000)")
    add("--bursts", type=int, help="how many bursts (default 5)")
    add("--burst-size", type=int, help="takes per burst (default 500)")
    add("--redis-pool", type=int, help="run the hub with JUNBAN_REDIS_POOL=N")
    add("--wait-quiet", type=float, help="before each run wait up to N s for an idle machine")
    add("--retries", type=int, help="rerun a run disturbed by other processes up to N times")
    add("--keep-data", action="store_true", help="keep the hub's temp data dir")
    args = parser.parse_args(argv)
    params = Params.quick_params() if args.quick else Params()
    overrides: dict[str, Any] = {
        "connections": args.connections,
        "client": args.client,
        "gen_procs": args.gen_procs,
        "closed_s": args.duration,
        "open_rate": args.open_rate,
        "bursts": args.bursts,
        "burst_size": args.burst_size,
        "redis_pool": args.redis_pool,
        "wait_quiet_s": args.wait_quiet,
        "retries": args.retries,
        "profile": args.profile or None,
        "profile_blocking": args.profile_blocking or None,
    }
    return cli.apply_overrides(parser, params, overrides, args.only, SCENARIOS), args


def main(argv: list[str] | None = None) -> int:
    return cli.run(parse_args, main_async, argv)


if __name__ == "__main__":
    sys.exit(main())
