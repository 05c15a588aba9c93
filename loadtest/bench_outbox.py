"""Benchmark of the outbox and its webhooks (issue 16's figures).

    python -m loadtest.bench_outbox [--quick] [--only latency,failing,throughput]

1. ``latency``: commit -> webhook received. Tickets are taken at a steady rate over K
   facilities, each with a webhook endpoint pointing at a local receiver in its own process
   (``loadtest.webhook_sink``); from the 201 answer's arrival here to the webhook's arrival
   there (both CLOCK_MONOTONIC), p50/p95/p99, and how many arrived of how many sent.
2. ``failing``: call-next latency while 200 facilities' webhooks fail at once (receiver
   answers 500, a refused port, or a stalled receiver), against the same load with no
   endpoints, alternating A (no endpoints) and B (failing endpoints) in one run.
3. ``throughput``: a second hub with no outbox workers (``JUNBAN_INLINE_WORKERS=``,
   ``JUNBAN_WORKER_GROUPS=``); M tickets fill the outbox, then one ``junban worker
   integrations`` process drains it: entries/s and webhooks delivered/s until the receiver
   has every one.

Scenarios 1 and 2 run the hub as it comes (its outbox groups in the child worker ``junban
serve`` starts); ``--inline`` puts them in the hub's event loop, ``--worker`` in a
``junban worker`` process the benchmark starts.

Writes ``loadtest/results/outbox-<timestamp>.{json,md}``. See loadtest/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from hub import keys
from loadtest import cli, hubproc, loadgen, profile, rawhttp, report
from loadtest.bench_core import QUIET_PCT, Api, summarize_load
from loadtest.hubproc import HubProcess
from loadtest.loadgen import LoadSpec, QueueTarget
from loadtest.probes import Probe, Window, wait_quiet
from loadtest.stats import fmt_ms, percentile

SCENARIOS = ("latency", "failing", "throughput")
PHASES = ("A", "B", "A", "B")
"""A: no endpoints; B: every facility of the phase has a failing webhook endpoint."""
HUB_ENV = {"JUNBAN_INTEGRATIONS_ALLOW_LOOPBACK": "1"}
Result = dict[str, Any]


@dataclass(frozen=True)
class Params:
    """Everything that shapes the figures; the report prints it as is."""

    quick: bool = False
    latency_facilities: int = 20
    rate: float = 200.0
    """Scenario 1: tickets taken per second (open loop, round robin over the facilities)."""
    latency_s: float = 20.0
    drain_timeout_s: float = 30.0
    """How long to wait after the last take for the last webhook."""
    take_connections: int = 16
    failing_facilities: int = 200
    fail_mode: str = "500"
    """500 (the receiver answers 500), refused (a port nobody listens on), stall (the
    receiver holds each request 20 s: the hub's 15 s timeout)."""
    retry_scale: float = 1.0
    """JUNBAN_RETRY_SCALE of the hub (1: the real schedule, retries at 5 s, 5 min, ...)."""
    phase_s: float = 10.0
    warmup_s: float = 1.0
    connections: int = 32
    failing_rate: float | None = None
    """Scenario 2: None, a closed loop (throughput at saturation); else an open loop at this
    many requests/s (the latency of call-next at a load the hub carries)."""
    takes_per_call: int = 1
    """Scenario 2's mix per queue: this many takes, then one call-next (0: calls only)."""
    tickets_per_queue: int = 5
    """Scenario 2: tickets taken in each queue before the loop (the first webhooks fail)."""
    throughput_facilities: int = 50
    throughput_tickets: int = 5000
    throughput_timeout_s: float = 60.0
    profile: bool = False
    worker: bool = False
    """Scenarios 1 and 2: the hub runs no outbox group; one ``junban worker integrations``
    process beside it does (a deployment with the webhooks on their own core)."""
    inline: bool = False
    """Scenarios 1 and 2: the groups run in the hub's own event loop (JUNBAN_INLINE_WORKERS;
    ``junban serve``'s default before its child worker). Default: the hub as it comes."""
    """Scenario 1 with py-spy on the hub (``results/outbox-<ts>-pyspy.{txt,svg}``)."""
    wait_quiet_s: float = 0.0
    only: tuple[str, ...] = SCENARIOS

    @classmethod
    def quick_params(cls) -> Params:
        return cls(
            quick=True,
            latency_facilities=10,
            latency_s=5.0,
            drain_timeout_s=20.0,
            phase_s=3.0,
            tickets_per_queue=3,
            throughput_facilities=20,
            throughput_tickets=1000,
            throughput_timeout_s=40.0,
        )


# ---- the receiver's process ----------------------------------------------------------------


class Sink:
    """``python -m loadtest.webhook_sink`` on a free port."""

    def __init__(self, log_dir: Path) -> None:
        self.port = hubproc.free_port()
        self.log_path = log_dir / "sink.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def url(self, mode: str, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{mode}/{name}"

    async def start(self) -> None:
        command = [sys.executable, "-m", "loadtest.webhook_sink", "--port", str(self.port)]
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"webhook sink exited: {self.log_path.read_text()[-2000:]}")
            try:
                if (await self._get("/_health")).status == 200:
                    return
            except OSError:
                pass
            await asyncio.sleep(0.1)
        raise RuntimeError("webhook sink not up after 30 s")

    async def _get(self, path: str, method: str = "GET") -> rawhttp.Answer:
        return await rawhttp.fetch("127.0.0.1", self.port, method, path)

    async def count(self) -> int:
        return int(orjson.loads((await self._get("/_count")).body)["received"])

    async def log(self) -> dict[str, Any]:
        answer = await self._get("/_log")
        out: dict[str, Any] = orjson.loads(answer.body)
        return out

    async def reset(self) -> None:
        await self._get("/_reset", "POST")

    def cpu_s(self) -> float:
        return hubproc.cpu_seconds(self.pid) if hubproc.pid_alive(self.pid) else 0.0

    def stop(self) -> None:
        if self.proc is not None:
            hubproc.stop_process(self.proc)


# ---- helpers --------------------------------------------------------------------------------


def pcts(values: list[float]) -> dict[str, float]:
    """count, p50, p95, p99, max (ms)."""
    ordered = sorted(values)
    return {
        "count": len(ordered),
        "p50_ms": round(percentile(ordered, 50), 2),
        "p95_ms": round(percentile(ordered, 95), 2),
        "p99_ms": round(percentile(ordered, 99), 2),
        "max_ms": round(ordered[-1], 2) if ordered else float("nan"),
    }


def facility_of(queue: QueueTarget) -> str:
    return queue.info.split("-")[0]


async def add_endpoints(
    api: Api, queues: tuple[QueueTarget, ...], url: str, events: list[str]
) -> list[tuple[QueueTarget, str]]:
    """A webhook endpoint on each queue's facility; (queue, endpoint id) of each."""
    made = []
    for q in queues:
        path = f"/v1/facilities/{facility_of(q)}/integrations/endpoints"
        body = {"kind": "webhook", "url": url.replace("{f}", facility_of(q)), "events": events}
        answer = await api.expect(201, "POST", path, body, q.staff_token)
        made.append((q, str(orjson.loads(answer.body)["id"])))
    return made


async def remove_endpoints(api: Api, made: list[tuple[QueueTarget, str]]) -> None:
    for q, endpoint_id in made:
        path = f"/v1/facilities/{facility_of(q)}/integrations/endpoints/{endpoint_id}"
        await api.expect(200, "DELETE", path, None, q.staff_token)


def _take_requests(hub: HubProcess, queues: tuple[QueueTarget, ...]) -> list[bytes]:
    host = f"{hub.host}:{hub.port}"
    return [
        rawhttp.build_request("POST", f"/v1/queues/{q.info}/tickets", host=host) for q in queues
    ]


async def take_many(
    hub: HubProcess, queues: tuple[QueueTarget, ...], count: int, connections: int
) -> dict[str, Any]:
    """``count`` takes, round robin over ``queues``, closed loop on ``connections``."""
    requests = _take_requests(hub, queues)
    conns = [await rawhttp.connect(hub.host, hub.port) for _ in range(connections)]
    statuses: dict[str, int] = {}
    counter = iter(range(count))
    started = time.perf_counter()

    async def loop(conn: rawhttp.RawConnection) -> None:
        for i in counter:
            answer = await conn.request(requests[i % len(requests)])
            statuses[str(answer.status)] = statuses.get(str(answer.status), 0) + 1

    try:
        await asyncio.gather(*(loop(c) for c in conns))
    finally:
        for c in conns:
            c.close()
    seconds = time.perf_counter() - started
    return {"takes": count, "statuses": statuses, "seconds": round(seconds, 2)}


async def open_loop_takes(
    hub: HubProcess, queues: tuple[QueueTarget, ...], rate: float, seconds: float, pool_size: int
) -> dict[str, Any]:
    """Take ``i`` is due at ``start + i / rate`` (queue ``i % K``); a pool of connections sends
    them. Returns ticket id -> the 201 answer's arrival (perf_counter), and the rest."""
    requests = _take_requests(hub, queues)
    pool: asyncio.Queue[rawhttp.RawConnection] = asyncio.Queue()
    for _ in range(pool_size):
        pool.put_nowait(await rawhttp.connect(hub.host, hub.port))
    answered: dict[str, float] = {}
    take_ms: list[float] = []
    lags: list[float] = []
    errors: dict[str, int] = {}

    async def one(i: int, due: float) -> None:
        conn = await pool.get()
        began = time.perf_counter()
        lags.append((began - due) * 1000)
        try:
            answer = await conn.request(requests[i % len(requests)])
        except (OSError, rawhttp.HttpError) as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            conn = await rawhttp.connect(hub.host, hub.port)
        else:
            take_ms.append((answer.at - due) * 1000)
            if answer.status == 201:
                answered[orjson.loads(answer.body)["ticket"]["id"]] = answer.at
            else:
                key = f"{answer.status} {loadgen.error_code(answer.body)}"
                errors[key] = errors.get(key, 0) + 1
        pool.put_nowait(conn)

    count = max(1, round(rate * seconds))
    start = time.perf_counter() + 0.05
    tasks = []
    for i in range(count):
        due = start + i / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    while not pool.empty():
        pool.get_nowait().close()
    return {
        "answered": answered,
        "sent": count,
        "take_latency": pcts(take_ms),
        "send_lag": pcts(lags),
        "errors": errors,
    }


def _cpu(window: Window, sink_s: float, extra: dict[str, float] | None = None) -> dict[str, float]:
    cpu = window.cpu()
    cpu["sink_cpu_pct"] = window.pct(sink_s)
    cpu["other_cpu_pct"] = round(max(0.0, cpu["other_cpu_pct"] - cpu["sink_cpu_pct"]), 1)
    for name, seconds in (extra or {}).items():
        cpu[f"{name}_cpu_pct"] = window.pct(seconds)
        cpu["other_cpu_pct"] = round(max(0.0, cpu["other_cpu_pct"] - window.pct(seconds)), 1)
    return cpu


# ---- 1. commit -> webhook received -----------------------------------------------------------


async def latency(hub: HubProcess, api: Api, probe: Probe, sink: Sink, p: Params) -> Result:
    queues = await api.new_queues(p.latency_facilities, 1)
    await add_endpoints(api, queues, sink.url("ok", "lat-{f}"), ["ticket.issued"])
    await sink.reset()
    sampler, stacks_path = (
        None,
        cli.RESULTS_DIR / f"outbox-{datetime.now():%Y%m%d-%H%M%S}-pyspy.txt",
    )
    if p.profile:
        cli.RESULTS_DIR.mkdir(exist_ok=True)
        sampler = await profile.start_py_spy(hub.pid, p.latency_s, stacks_path)
    before, sink0 = await probe.snapshot(), sink.cpu_s()
    taken = await open_loop_takes(hub, queues, p.rate, p.latency_s, p.take_connections)
    answered: dict[str, float] = taken.pop("answered")
    deadline = time.monotonic() + p.drain_timeout_s
    while await sink.count() < len(answered) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    window = probe.between(before, await probe.snapshot())
    cpu = _cpu(window, sink.cpu_s() - sink0)
    log = await sink.log()
    arrival = {v[1]: v[0] for v in log["received"].values() if v[2] == "ticket.issued"}
    delays = [(arrival[t] - at) * 1000 for t, at in answered.items() if t in arrival]
    spots: Result = {}
    if sampler is not None:
        stacks = await profile.finish_py_spy(sampler, stacks_path)
        spots = {"profile": profile.hot_spots(stacks, nonblocking=True), "stacks": str(stacks_path)}
    return spots | {
        "facilities": p.latency_facilities,
        "rate": p.rate,
        "seconds": p.latency_s,
        **taken,
        "answered_201": len(answered),
        "webhooks_arrived": len(delays),
        "all_arrived": len(delays) == len(answered) == taken["sent"],
        "attempts": log["attempts"],
        "repeated_ids": log["repeated_ids"],
        "commit_to_webhook": pcts(delays),
        "cpu": cpu,
        "other_processes": window.others,
    }


# ---- 2. call-next with failing webhooks, A B A B ---------------------------------------------


async def failing(
    hub: HubProcess,
    api: Api,
    probe: Probe,
    sink: Sink,
    p: Params,
    pool: ProcessPoolExecutor,
    out: Result,
) -> None:
    """Fills ``out`` phase by phase (a run cut short keeps the phases it finished)."""
    refused_port = hubproc.free_port()  # nobody listens there
    urls = {
        "500": sink.url("fail", "f{f}"),
        "refused": f"http://127.0.0.1:{refused_port}/hook/{{f}}",
        "stall": sink.url("stall", "s{f}"),
    }
    phases: list[Result] = []
    out |= {"fail_mode": p.fail_mode, "retry_scale": p.retry_scale, "phases": phases}
    for n, phase in enumerate(PHASES, 1):
        _log(f"2. phase {n} {phase} ({'failing endpoints' if phase == 'B' else 'no endpoints'})")
        queues = await api.new_queues(p.failing_facilities, 1)
        made = []
        if phase == "B":
            made = await add_endpoints(api, queues, urls[p.fail_mode], [])
        attempts0 = (await sink.log())["attempts"]
        prefill = await take_many(
            hub, queues, p.failing_facilities * p.tickets_per_queue, p.take_connections
        )
        row = await _call_loop(hub, probe, sink, p, pool, queues)
        row |= {"phase": phase, "endpoints": len(made), "prefill": prefill}
        row["webhook_attempts_seen"] = (await sink.log())["attempts"] - attempts0
        if made:
            await remove_endpoints(api, made)
        phases.append(row)


def _loop(results: Result) -> str:
    rate = results.get("params", {}).get("failing_rate")
    return f"open loop {rate:.0f} req/s" if rate else "closed loop"


async def _call_loop(
    hub: HubProcess,
    probe: Probe,
    sink: Sink,
    p: Params,
    pool: ProcessPoolExecutor,
    queues: tuple[QueueTarget, ...],
) -> Result:
    start_at = time.time() + 1.0
    spec = LoadSpec(
        host=hub.host,
        port=hub.port,
        queues=queues,
        connections=p.connections,
        start_at=start_at,
        warmup_s=p.warmup_s,
        duration_s=p.phase_s,
        takes_per_call=p.takes_per_call,
        client="raw",
        rate=p.failing_rate,
    )
    run = asyncio.get_running_loop().run_in_executor(pool, loadgen.run_load, spec)
    t0 = start_at + p.warmup_s
    await asyncio.sleep(max(0.0, t0 - time.time()))
    first, sink0 = await probe.snapshot(), sink.cpu_s()
    await asyncio.sleep(max(0.0, t0 + p.phase_s - time.time()))
    window = probe.between(first, await probe.snapshot())
    sink_s = sink.cpu_s() - sink0
    result = await run
    summary = summarize_load(result, window, None)
    return {
        "calls_per_s": round(len(result.call_ms) / result.window_s, 1),
        "commands_per_s": summary["commands_per_s"],
        "call_next": pcts(result.call_ms),
        "take": pcts(result.take_ms),
        "call_next_queue_empty": summary["call_next_queue_empty"],
        "errors": summary["non_2xx_or_failed"],
        "cpu": _cpu(window, sink_s, {"generator": result.generator_cpu_s}),
        "redis_calls": window.redis_calls,
        "other_processes": window.others,
    }


# ---- 3. outbox throughput of one worker ---------------------------------------------------


async def throughput(sink: Sink, p: Params) -> Result:
    alone = {"JUNBAN_INLINE_WORKERS": "", "JUNBAN_WORKER_GROUPS": ""}
    hub = HubProcess(extra_env=HUB_ENV | alone)
    _log(f"3. a hub without outbox workers on port {hub.port}")
    out: Result = {"hub_env": alone}
    worker: subprocess.Popen[bytes] | None = None
    api = Api(hub)
    probe: Probe | None = None
    try:
        await hub.start()
        probe = Probe(hub)
        out["software"] = await report.software_info(hub)
        queues = await api.new_queues(p.throughput_facilities, 1)
        await add_endpoints(api, queues, sink.url("ok", "tp-{f}"), ["ticket.issued"])
        await sink.reset()
        out["prefill"] = await take_many(hub, queues, p.throughput_tickets, p.take_connections)
        streams = [keys.outbox(facility_of(q)) for q in queues]
        entries = sum([await probe.redis.xlen(s) for s in streams])
        out["outbox_entries"] = entries
        env = hub.env() | HUB_ENV | {"JUNBAN_REDIS_URL": hub.redis_url}
        command = [*hubproc.junban_command(), "worker", "integrations"]
        before, sink0 = await probe.snapshot(), sink.cpu_s()
        spawned = time.perf_counter()
        with (hub.data_dir / "worker.log").open("wb") as log:
            worker = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        progress = await _wait_drained(
            probe, streams, entries, spawned + p.throughput_timeout_s, worker.pid
        )
        acked_at, first_progress_at, worker_cpu_at_first = progress
        deadline = time.perf_counter() + max(
            5.0, spawned + p.throughput_timeout_s - time.perf_counter()
        )
        while await sink.count() < p.throughput_tickets and time.perf_counter() < deadline:
            await asyncio.sleep(0.1)
        worker_s = hubproc.cpu_seconds(worker.pid)
        out["worker_cpu_s_startup"] = round(worker_cpu_at_first, 2)
        if first_progress_at is not None:
            out["first_entry_read_after_s"] = round(first_progress_at - spawned, 2)
        window = probe.between(before, await probe.snapshot())
        cpu = _cpu(window, sink.cpu_s() - sink0, {"worker": worker_s})
        log_ = await sink.log()
        arrivals = sorted(v[0] for v in log_["received"].values() if v[2] == "ticket.issued")
        out |= _throughput_figures(
            p, entries, spawned, acked_at, arrivals, worker_s - worker_cpu_at_first
        )
        out |= {
            "attempts": log_["attempts"],
            "repeated_ids": log_["repeated_ids"],
            "cpu": cpu,
            "other_processes": window.others,
        }
    finally:
        if worker is not None and worker.poll() is None:
            out["worker_exit"] = hubproc.stop_process(worker, 15)
        api.close()
        if probe is not None:
            await probe.close()
        out["hub_stop"] = hub.stop()
        hub.remove_data()
    return out


async def _wait_drained(
    probe: Probe, streams: list[str], entries: int, deadline: float, worker: int
) -> tuple[float | None, float | None, float]:
    """When every outbox entry was read and acknowledged by the ``integrations`` group;
    when the first was read, and the worker's CPU seconds then (its start-up: imports,
    connections, group checks), which the per-webhook figure leaves out."""
    first: float | None = None
    cpu_at_first = 0.0
    while time.perf_counter() < deadline:
        async with probe.redis.pipeline(transaction=False) as pipe:
            for stream in streams:
                pipe.xinfo_groups(stream)
            infos = await pipe.execute()
        read = pending = 0
        for groups in infos:
            for g in groups:
                if g["name"] in (b"integrations", "integrations"):
                    read += int(g.get("entries-read") or 0)
                    pending += int(g["pending"])
        if first is None and (read or pending):
            first, cpu_at_first = time.perf_counter(), hubproc.cpu_seconds(worker)
        if read >= entries and pending == 0:
            return time.perf_counter(), first, cpu_at_first
        await asyncio.sleep(0.05)
    return None, first, cpu_at_first


def _throughput_figures(
    p: Params,
    entries: int,
    spawned: float,
    acked_at: float | None,
    arrivals: list[float],
    worker_s: float,
) -> Result:
    out: Result = {
        "facilities": p.throughput_facilities,
        "tickets": p.throughput_tickets,
        "webhooks_arrived": len(arrivals),
        "all_arrived": len(arrivals) == p.throughput_tickets,
        "worker_cpu_s_after_start_up": round(worker_s, 2),
    }
    if acked_at is not None:
        out["entries_acked_after_s"] = round(acked_at - spawned, 2)
        out["entries_per_s_from_start"] = round(entries / (acked_at - spawned), 1)
    if arrivals:
        first, last = arrivals[0], arrivals[-1]
        out["first_webhook_after_s"] = round(first - spawned, 2)
        out["last_webhook_after_s"] = round(last - spawned, 2)
        out["webhooks_per_s_from_start"] = round(len(arrivals) / (last - spawned), 1)
        if last > first:
            out["webhooks_per_s_first_to_last"] = round(len(arrivals) / (last - first), 1)
        out["worker_cpu_us_per_webhook"] = round(worker_s / len(arrivals) * 1e6, 1)
    return out


# ---- the run ------------------------------------------------------------------------------


def _start_worker(hub: HubProcess, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """``junban worker integrations`` on the hub's Redis (its output in the data dir)."""
    command = [*hubproc.junban_command(), "worker", "integrations"]
    full = hub.env() | env | {"JUNBAN_REDIS_URL": hub.redis_url}
    with (hub.data_dir / "worker.log").open("wb") as log:
        return subprocess.Popen(command, env=full, stdout=log, stderr=subprocess.STDOUT)


_log = cli.logger("bench_outbox")


async def run_scenarios(hub: HubProcess, sink: Sink, p: Params, results: Result) -> None:
    wanted = set(p.only)
    api, probe = Api(hub), Probe(hub)
    context = multiprocessing.get_context("spawn")
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
            await asyncio.get_running_loop().run_in_executor(pool, loadgen.noop)
            if "latency" in wanted:
                _log(f"1. commit -> webhook, {p.rate:.0f}/s for {p.latency_s:.0f} s")
                results["latency"] = await latency(hub, api, probe, sink, p)
            if "failing" in wanted:
                _log(f"2. call-next, {p.failing_facilities} facilities' webhooks failing")
                results["failing"] = {}
                await failing(hub, api, probe, sink, p, pool, results["failing"])
    finally:
        api.close()
        await probe.close()


async def main_async(params: Params, keep_data: bool) -> Result:
    busy = await wait_quiet(QUIET_PCT, params.wait_quiet_s)
    env = HUB_ENV | {"JUNBAN_RETRY_SCALE": str(params.retry_scale)}
    if params.worker:
        env |= {"JUNBAN_INLINE_WORKERS": "", "JUNBAN_WORKER_GROUPS": ""}
    elif params.inline:
        env |= {"JUNBAN_INLINE_WORKERS": "integrations,notify,phone", "JUNBAN_WORKER_GROUPS": ""}
    hub = HubProcess(extra_env=env)
    worker: subprocess.Popen[bytes] | None = None
    results: Result = {
        "started": datetime.now().astimezone().isoformat(timespec="seconds"),
        "params": asdict(params),
        "machine": report.machine_info() | {"busy_before_run_pct": busy},
        "hub": {"command": " ".join(hub.command()), "env": env},
    }
    sink = Sink(hub.data_dir)
    task = asyncio.current_task()
    if task is not None:  # SIGTERM (e.g. from `timeout`): stop the hub and the receiver first
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        await sink.start()
        results["sink"] = {"pid": sink.pid, "port": sink.port}
        if {"latency", "failing"} & set(params.only):
            _log(f"starting the hub on port {hub.port}, data dir {hub.data_dir}")
            await hub.start()
            results["hub"] |= {"pid": hub.pid, "valkey_pid": hub.valkey_pid}
            results["software"] = await report.software_info(hub)
            if params.worker:
                worker = _start_worker(hub, env)
                results["worker"] = {"pid": worker.pid, "command": "junban worker integrations"}
            await run_scenarios(hub, sink, params, results)
            if worker is not None:
                results["worker"]["cpu_s"] = round(hubproc.cpu_seconds(worker.pid), 2)
        if "throughput" in params.only:
            results["throughput"] = await throughput(sink, params)
    except (Exception, asyncio.CancelledError) as exc:
        results["error"] = f"{type(exc).__name__}: {exc}"
        _log(f"FAILED: {results['error']}\n{hub.log_tail()}")
    finally:
        sink.stop()
        if worker is not None:
            results.setdefault("worker", {})["exit"] = hubproc.stop_process(worker, 15)
        if hub.proc is not None:
            cli.stop_hub(hub, results, keep_data, _log)
        elif not keep_data:
            hub.remove_data()
        cli.write_results("outbox", results, render, _log)
    return results


# ---- the report -----------------------------------------------------------------------------


def _row(*cells: Any) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _lat(s: dict[str, float]) -> str:
    return " / ".join(fmt_ms(s[k]) for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms"))


def render(results: Result) -> str:
    m = results["machine"]
    out = [
        f"# Outbox and webhooks benchmark — {results['started']}",
        "",
        f"- machine: {m['nproc']} CPUs, {m['cpu_model']}, Python {m['python']}; busy before "
        f"the run {m.get('busy_before_run_pct')} % (100 = one core). Hub, Valkey, receiver, "
        "worker and load generator share it.",
        f"- code: git {_software(results).get('git_commit', '?')}",
        f"- hub: `{results['hub']['command']}` with {results['hub']['env']}",
        f"- parameters: {results['params']}",
        "",
        "| figure | value | p50 / p95 / p99 / max ms | notes |",
        "|---|---|---|---|",
    ]
    lat = results.get("latency")
    if lat:
        out.append(
            _row(
                f"1. commit → webhook received ({lat['rate']:.0f}/s, {lat['seconds']:.0f} s, "
                f"{lat['facilities']} facilities)",
                f"{lat['webhooks_arrived']} of {lat['sent']} arrived",
                _lat(lat["commit_to_webhook"]),
                f"take 201 {lat['answered_201']}, errors {lat['errors'] or 'none'}, repeated "
                f"ids {lat['repeated_ids']}; CPU % {lat['cpu']}",
            )
        )
    fail = results.get("failing")
    if fail and fail.get("phases"):
        for i, ph in enumerate(fail["phases"], 1):
            out.append(
                _row(
                    f"2.{i} call-next, phase {ph['phase']} ({ph['endpoints']} endpoints "
                    f"failing: {fail['fail_mode'] if ph['endpoints'] else '-'}; "
                    f"{_loop(results)})",
                    f"{ph['calls_per_s']:.0f} calls/s ({ph['commands_per_s']:.0f} commands/s)",
                    _lat(ph["call_next"]),
                    f"webhook attempts {ph['webhook_attempts_seen']}, "
                    f"empty {ph['call_next_queue_empty']}, "
                    f"errors {ph['errors'] or 'none'}; hub {ph['cpu']['hub_cpu_pct']} %, "
                    f"other {ph['cpu']['other_cpu_pct']} %",
                )
            )
        out.append(_row("2. B vs A", *_ab(fail["phases"]), ""))
    tp = results.get("throughput")
    if tp and "tickets" in tp:
        out.append(
            _row(
                f"3. one worker drains {tp['tickets']} tickets ({tp.get('outbox_entries')} "
                f"entries, {tp['facilities']} endpoints)",
                f"{tp.get('entries_per_s_from_start', '–')} entries/s, "
                f"{tp.get('webhooks_per_s_from_start', '–')} webhooks/s "
                f"({tp.get('webhooks_per_s_first_to_last', '–')}/s first to last)",
                "",
                f"{tp['webhooks_arrived']} of {tp['tickets']} arrived; first after "
                f"{tp.get('first_webhook_after_s')} s, all acked after "
                f"{tp.get('entries_acked_after_s')} s; worker CPU "
                f"{tp.get('worker_cpu_us_per_webhook')} µs/webhook after its start-up "
                f"({tp.get('worker_cpu_s_startup')} s); CPU % {tp.get('cpu')}",
            )
        )
    if lat and "profile" in lat:
        out += ["", f"## py-spy on the hub during 1 (`{lat['stacks']}`)", ""]
        out += report.profile_table(lat["profile"])
    if "error" in results:
        out += ["", f"**FAILED**: {results['error']}"]
    out += [
        "",
        "Latencies in 1 are from the 201 answer's arrival at the generator to the webhook's "
        "arrival at the receiver (both CLOCK_MONOTONIC on this machine). Figures taken while "
        "other processes run (see the CPU columns in the JSON) are disturbed.",
        "",
    ]
    return "\n".join(out)


def _software(results: Result) -> dict[str, Any]:
    software: dict[str, Any] = results.get("software") or results.get("throughput", {}).get(
        "software", {}
    )
    return software


def _ab(phases: list[Result]) -> tuple[str, str]:
    def mean(phase: str, key: str) -> float:
        rows = [r for r in phases if r["phase"] == phase]
        return sum(r["call_next"][key] for r in rows) / len(rows) if rows else float("nan")

    def rate(phase: str) -> float:
        rows = [r for r in phases if r["phase"] == phase]
        return sum(r["calls_per_s"] for r in rows) / len(rows) if rows else float("nan")

    rates = f"calls/s A {rate('A'):.0f}, B {rate('B'):.0f}"
    lat = " · ".join(
        f"{k[:-3]} A {fmt_ms(mean('A', k))} B {fmt_ms(mean('B', k))}"
        for k in ("p50_ms", "p95_ms", "p99_ms")
    )
    return rates, lat


def parse_args(argv: list[str] | None = None) -> tuple[Params, argparse.Namespace]:
    parser = cli.new_parser("python -m loadtest.bench_outbox", __doc__)
    add = parser.add_argument
    add("--quick", action="store_true", help="every scenario small and short (a smoke run)")
    add("--only", help=f"comma-separated subset of {','.join(SCENARIOS)}")
    add("--rate", type=float, help="scenario 1: takes per second (default 200)")
    add("--seconds", type=float, help="scenario 1: how long (default 20)")
    add("--facilities", type=int, help="scenario 1: facilities (default 20)")
    add("--failing-facilities", type=int, help="scenario 2: facilities per phase (default 200)")
    add("--fail-mode", choices=["500", "refused", "stall"], help="scenario 2 (default 500)")
    add("--retry-scale", type=float, help="the hub's JUNBAN_RETRY_SCALE (default 1)")
    add("--phase-seconds", type=float, help="scenario 2: each phase's window (default 10)")
    add("--connections", type=int, help="scenario 2: closed-loop connections (default 32)")
    add("--failing-rate", type=float, help="scenario 2: open loop at N requests/s instead")
    add("--takes-per-call", type=int, help="scenario 2: takes before each call (default 1)")
    add("--tickets", type=int, help="scenario 3: tickets in the outbox (default 5000)")
    add("--tp-facilities", type=int, help="scenario 3: facilities/endpoints (default 50)")
    add("--profile", action="store_true", help="scenario 1 with py-spy on the hub")
    add("--worker", action="store_true", help="scenarios 1, 2: groups in a junban worker")
    add("--inline", action="store_true", help="scenarios 1, 2: groups in the hub's event loop")
    add("--wait-quiet", type=float, help="before the run wait up to N s for an idle machine")
    add("--keep-data", action="store_true", help="keep the hubs' temp data dirs")
    args = parser.parse_args(argv)
    params = Params.quick_params() if args.quick else Params()
    overrides: dict[str, Any] = {
        "rate": args.rate,
        "latency_s": args.seconds,
        "latency_facilities": args.facilities,
        "failing_facilities": args.failing_facilities,
        "fail_mode": args.fail_mode,
        "retry_scale": args.retry_scale,
        "phase_s": args.phase_seconds,
        "connections": args.connections,
        "failing_rate": args.failing_rate,
        "takes_per_call": args.takes_per_call,
        "throughput_tickets": args.tickets,
        "throughput_facilities": args.tp_facilities,
        "wait_quiet_s": args.wait_quiet,
        "profile": args.profile or None,
        "worker": args.worker or None,
        "inline": args.inline or None,
    }
    return cli.apply_overrides(parser, params, overrides, args.only, SCENARIOS), args


def main(argv: list[str] | None = None) -> int:
    return cli.run(parse_args, main_async, argv)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
