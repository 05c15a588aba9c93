"""Benchmark of the live fan-out: Redis pub/sub -> channel -> WebSocket subscribers.

    python -m loadtest.bench_fanout [--quick]

Starts its own ``junban serve --demo`` (temp data dir, free port, rate and WebSocket limits
lifted), a swarm of raw WebSocket subscribers in worker processes (``wsswarm``), publishes
views straight to the queues' Redis pub/sub channels (or calls the next patient over HTTP)
and measures CPU per delivery, whether the subscribers keep up, publish->receive latency,
call-next->screen latency and memory per idle connection; then the same fan-out through a
Node ``ws`` broadcaster, a Node socket.io server and a python-socketio server (``peerproc``),
with flame graphs of the hub (py-spy). Writes
``loadtest/results/fanout-<timestamp>.{json,md}``. See loadtest/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import orjson
from redis.asyncio import Redis

from hub import keys
from hub.app import connect_redis
from loadtest import cli, fanout_report, hubproc, peerproc, profile, report
from loadtest.bench_core import DISTURBED_PCT, QUIET_PCT, Api
from loadtest.hubproc import HubProcess
from loadtest.peerproc import PeerKind, PeerProcess
from loadtest.probes import Probe, Snapshot, wait_quiet
from loadtest.stats import latency_summary
from loadtest.wsswarm import Parser, Records, Swarm, SwarmSpec, open_fds, raise_nofile, start_swarm

RESULTS_DIR = cli.RESULTS_DIR
SCENARIOS = ("memory", "calibration", "cpu", "keepup", "clinic", "callnext", "peers", "profile")
DEMO_QUEUE = "1234-01"
PEER_CHANNEL = "bench:peer:pub"
WS_ENV = {
    "JUNBAN_WS_MAX_PER_IP": "1000000",
    "JUNBAN_WS_FRAME_RATE": "1000000/1",
}
DRAIN_S = 1.0
"""After the last publication: time for the last deliveries to arrive (inside the window)."""
IDLE_S = 2.0
"""Server CPU with every subscriber connected and nothing published (the idle baseline)."""
Result = dict[str, Any]


@dataclass(frozen=True)
class Params:
    """Everything that shapes the figures; the report prints it as is."""

    quick: bool = False
    procs: int = 2
    """Subscriber swarm processes."""
    parser: Parser | None = None
    """None: the cheaper of the two after the calibration."""
    payload_bytes: int = 1000
    cpu_subs: tuple[int, ...] = (1000, 2000, 5000, 10000)
    """Subscriber counts of scenario 1 and of the peers (the plots' x axis)."""
    cpu_rate: float = 10.0
    cpu_s: float = 10.0
    keepup_subs: int = 5000
    keepup_rate: float = 20.0
    keepup_s: float = 15.0
    callnext_subs: int = 10000
    calls: int = 50
    call_gap_s: float = 0.3
    clinic_queues: int = 500
    clinic_subs: int = 20
    clinic_rate: float = 200.0
    clinic_s: float = 15.0
    idle_conns: tuple[int, ...] = (20000, 50000)
    calibration_subs: int = 1000
    calibration_s: float = 5.0
    peers: tuple[PeerKind, ...] = ("node-ws", "node-socketio", "python-socketio")
    profile_s: float = 10.0
    wait_quiet_s: float = 120.0
    retries: int = 1
    only: tuple[str, ...] = SCENARIOS

    @classmethod
    def quick_params(cls) -> Params:
        return cls(
            quick=True,
            cpu_subs=(200, 500),
            cpu_s=2.0,
            keepup_subs=500,
            keepup_s=2.0,
            callnext_subs=1000,
            calls=5,
            clinic_queues=20,
            clinic_subs=5,
            clinic_s=2.0,
            idle_conns=(2000,),
            calibration_subs=200,
            calibration_s=1.5,
            profile_s=2.0,
            wait_quiet_s=10.0,
            retries=0,
        )


# ---- what is published ---------------------------------------------------------------------


@dataclass
class Feed:
    """One queue's pub/sub channel and the view published on it, with the next version."""

    channel: str
    view: dict[str, Any]
    v: int

    def next_payload(self) -> tuple[int, bytes]:
        self.v += 1
        self.view["v"] = self.v
        return self.v, orjson.dumps(self.view)


def padded(view: dict[str, Any], size: int) -> dict[str, Any]:
    """The view with waiting numbers appended until its JSON is ``size`` bytes or more."""
    out = dict(view)
    waiting = list(out.get("waiting") or [])
    number = max(waiting, default=100) + 1
    while len(orjson.dumps(out | {"waiting": waiting, "waiting_count": len(waiting)})) < size:
        waiting.append(number)
        number += 1
    return out | {"waiting": waiting, "waiting_count": len(waiting)}


async def queue_feeds(redis: Redis, infos: list[str], size: int, jump: int = 1000) -> list[Feed]:
    """Feeds for real queues: their stored view padded to ``size`` bytes, versions from
    ``v + jump`` (well above anything the queue itself reaches during the run)."""
    async with redis.pipeline(transaction=False) as pipe:
        for info in infos:
            pipe.hget(keys.queue(info), "view")
        views = await pipe.execute()
    feeds = []
    for info, raw in zip(infos, views, strict=True):
        view = orjson.loads(raw)
        feeds.append(Feed(keys.public_channel(info), padded(view, size), int(view["v"]) + jump))
    return feeds


async def publish(
    redis: Redis, feeds: list[Feed], rate: float, seconds: float
) -> tuple[dict[tuple[int, int], float], list[float]]:
    """Open loop: publication ``k`` is due at ``start + k / rate`` on ``feeds[k % n]``.
    Returns the send time (monotonic, just before the PUBLISH) per (feed index, v) and the
    lag of each send behind its schedule (ms)."""
    count = max(1, round(rate * seconds))
    sends: dict[tuple[int, int], float] = {}
    lags: list[float] = []
    start = time.monotonic() + 0.05
    for k in range(count):
        due = start + k / rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        index = k % len(feeds)
        v, payload = feeds[index].next_payload()
        now = time.monotonic()
        sends[(index, v)] = now
        lags.append((now - due) * 1000)
        await redis.publish(feeds[index].channel, payload)
    return sends, lags


# ---- measuring -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where the swarm connects and which process serves it."""

    name: str
    host: str
    port: int
    pid: int
    path: str = "/v1/ws"
    mode: str = "junban"
    protocol: str | None = "junban.json"


def delivery_stats(
    sends: dict[tuple[int, int], float], records: Records, per_channel: dict[int, int]
) -> Result:
    """Expected vs received deliveries, publish->receive latency of every delivery and the
    time until the last subscriber of each publication got it."""
    latencies: list[float] = []
    last: list[float] = []
    expected = received = 0
    for key, sent in sends.items():
        expected += per_channel.get(key[0], 0)
        times = records.times.get(key)
        if times:
            received += len(times)
            latencies.extend((t - sent) * 1000 for t in times)
            last.append((max(times) - sent) * 1000)
    stray = records.deliveries - received
    return {
        "publications": len(sends),
        "expected": expected,
        "received": received,
        "received_ratio": round(received / expected, 4) if expected else None,
        "other_frames": records.frames - records.deliveries,
        "unexpected_versions": stray,
        "closed_by_server": records.closed,
        "errors": records.errors,
        "latency": latency_summary(latencies),
        "last_subscriber": latency_summary(last),
    }


class Bench:
    def __init__(self, hub: HubProcess, params: Params) -> None:
        self.hub, self.params = hub, params
        self.api = Api(hub)
        self.probe = Probe(hub)
        self.redis: Redis = connect_redis(hub.redis_url)
        self.parser: Parser = params.parser or "raw"

    def hub_target(self) -> Target:
        return Target("junban", self.hub.host, self.hub.port, self.hub.pid)

    def spec(self, target: Target, subs: int, channels: tuple[str, ...]) -> SwarmSpec:
        return SwarmSpec(
            host=target.host,
            port=target.port,
            channels=channels,
            connections=subs,
            mode=target.mode,  # type: ignore[arg-type]
            parser=self.parser,
            path=target.path,
            protocol=target.protocol,
        )

    async def quiet(self) -> float:
        if self.params.wait_quiet_s > 0:
            return await wait_quiet(QUIET_PCT, self.params.wait_quiet_s)
        return float("nan")

    async def steady(self, label: str, run: Callable[[], Awaitable[Result]]) -> Result:
        """``run()`` after waiting for a quiet machine; again (``retries``) when other
        processes used more than DISTURBED_PCT CPU during it."""
        result: Result = {}
        for attempt in range(1, self.params.retries + 2):
            busy = await self.quiet()
            result = await run()
            result["busy_before_pct"] = busy
            result["attempts"] = attempt
            other = result.get("cpu", {}).get("other_cpu_pct", 0.0)
            if other <= DISTURBED_PCT:
                break
            _log(f"{label}: other processes used {other} % CPU")
        return result

    async def fanout(
        self,
        target: Target,
        subs: int,
        channels: tuple[str, ...],
        feeds: list[Feed],
        rate: float,
        seconds: float,
        on_start: Callable[[], Awaitable[None]] | None = None,
    ) -> Result:
        """``subs`` subscribers of ``channels`` (round robin), then ``rate`` publications/s
        over ``feeds`` (feed i feeds channel i) for ``seconds``: deliveries, latency, CPU."""
        swarm = await start_swarm(self.spec(target, subs, channels), self.params.procs)
        try:
            await asyncio.sleep(0.5)
            idle = await self.cpu_window(target, swarm, asyncio.sleep(IDLE_S))
            await swarm.reset()
            if on_start is not None:
                await on_start()
            work = publish(self.redis, feeds, rate, seconds)
            busy = await self.cpu_window(target, swarm, _then_sleep(work, DRAIN_S))
            sends, lags = busy.pop("value")
            records = await swarm.collect()
        finally:
            await swarm.close()
        idle.pop("value")
        per_channel = {
            i: subs // len(channels) + (i < subs % len(channels)) for i in range(len(channels))
        }
        stats = delivery_stats(sends, records, per_channel)
        return {
            "server": target.name,
            "subscribers": subs,
            "channels": len(channels),
            "rate": rate,
            "seconds": seconds,
            "payload_bytes": len(orjson.dumps(feeds[0].view)),
            "parser": self.parser,
            "connect": swarm.connect,
            **stats,
            "send_lag": latency_summary(lags),
            **_per_delivery(busy, idle, stats["received"]),
            "cpu": busy["cpu"],
            "idle_cpu": idle["cpu"],
            "other_processes": busy["others"],
        }

    async def cpu_window(self, target: Target, swarm: Swarm, work: Awaitable[Any]) -> Result:
        """CPU seconds of every party while ``work`` runs (and its value)."""
        a, server_a, swarm_a = await self.probe.snapshot(), _cpu(target.pid), swarm.cpu_s()
        value = await work
        b, server_b, swarm_b = await self.probe.snapshot(), _cpu(target.pid), swarm.cpu_s()
        return {
            "value": value,
            **self.parties(a, b, target, server_b - server_a, swarm_b - swarm_a),
        }

    def parties(
        self, a: Snapshot, b: Snapshot, target: Target, server: float, swarm: float
    ) -> Result:
        w = self.probe.between(a, b)
        peer = server if target.pid != self.hub.pid else 0.0
        known = w.hub_s + w.valkey_s + w.bench_s + swarm + peer + w.irq_s
        cpu = {
            "server_cpu_pct": w.pct(server),
            "hub_cpu_pct": w.pct(w.hub_s),
            "valkey_cpu_pct": w.pct(w.valkey_s),
            "swarm_cpu_pct": w.pct(swarm),
            "bench_cpu_pct": w.pct(w.bench_s),
            "irq_cpu_pct": w.pct(w.irq_s),
            "other_cpu_pct": w.pct(max(0.0, w.machine_s - known)),
            "machine_busy_pct": w.pct(w.machine_s),
        }
        seconds = {
            "window_s": w.seconds,
            "server_s": server,
            "swarm_s": swarm,
            "valkey_s": w.valkey_s,
        }
        return {"cpu": cpu, "seconds": seconds, "others": w.others}

    # ---- scenarios -------------------------------------------------------------------------

    async def demo_feeds(self) -> list[Feed]:
        return await queue_feeds(self.redis, [DEMO_QUEUE], self.params.payload_bytes)

    async def hub_fanout(self, subs: int, rate: float, seconds: float) -> Result:
        feeds = await self.demo_feeds()
        channels = (f"queue:{DEMO_QUEUE}",)
        return await self.fanout(self.hub_target(), subs, channels, feeds, rate, seconds)

    async def calibration(self) -> list[Result]:
        """The same small hub fan-out with each frame parser: which costs the swarm less."""
        p = self.params
        rows = []
        parsers: tuple[Parser, ...] = ("raw", "sansio")
        for parser in parsers:
            self.parser = parser
            run = partial(self.hub_fanout, p.calibration_subs, p.cpu_rate, p.calibration_s)
            rows.append(await self.steady(f"calibration {parser}", run))
        best = min(rows, key=lambda r: r["swarm_cpu_us_per_delivery"] or float("inf"))
        self.parser = best["parser"]
        return rows

    async def cpu(self) -> dict[str, Result]:
        p = self.params
        out: dict[str, Result] = {}
        for subs in p.cpu_subs:
            run = partial(self.hub_fanout, subs, p.cpu_rate, p.cpu_s)
            out[str(subs)] = await self.steady(f"cpu {subs}", run)
        return out

    async def keepup(self) -> Result:
        p = self.params
        return await self.steady(
            "keep-up", lambda: self.hub_fanout(p.keepup_subs, p.keepup_rate, p.keepup_s)
        )

    async def clinic(self) -> Result:
        p = self.params
        facilities = (p.clinic_queues + 1) // 2
        queues = await self.api.new_queues(facilities, 2)
        infos = [q.info for q in queues[: p.clinic_queues]]
        feeds = await queue_feeds(self.redis, infos, p.payload_bytes)
        channels = tuple(f"queue:{info}" for info in infos)
        subs = p.clinic_queues * p.clinic_subs

        async def run() -> Result:
            return await self.fanout(
                self.hub_target(), subs, channels, feeds, p.clinic_rate, p.clinic_s
            )

        return await self.steady("clinic", run)

    async def callnext(self) -> Result:
        return await self.steady("call-next", self._callnext)

    async def _callnext(self) -> Result:
        """Take tickets on a fresh queue, subscribe the swarm, then call-next ``calls`` times
        (one every ``call_gap_s``): HTTP request written -> last subscriber has the state."""
        p = self.params
        queue = (await self.api.new_queues(1, 1))[0]
        path = f"/v1/queues/{queue.info}"
        for _ in range(p.calls):
            await self.api.expect(201, "POST", f"{path}/tickets")
        v0 = int((await self.api.queue_view(queue.info))["v"])
        target = self.hub_target()
        swarm = await start_swarm(
            self.spec(target, p.callnext_subs, (f"queue:{queue.info}",)), p.procs
        )
        try:
            await asyncio.sleep(0.5)
            await swarm.reset()
            work = self._calls(queue.staff_token, path, v0)
            busy = await self.cpu_window(target, swarm, _then_sleep(work, DRAIN_S))
            sends, http_ms = busy.pop("value")
            records = await swarm.collect()
        finally:
            await swarm.close()
        v1 = int((await self.api.queue_view(queue.info))["v"])
        stats = delivery_stats(sends, records, {0: p.callnext_subs})
        return {
            "queue": queue.info,
            "subscribers": p.callnext_subs,
            "calls": p.calls,
            "gap_s": p.call_gap_s,
            "versions": f"{v0 + 1}..{v1} ({v1 - v0} changes for {p.calls} calls)",
            "connect": swarm.connect,
            "http_call_next": latency_summary(http_ms),
            **stats,
            "cpu": busy["cpu"],
            "other_processes": busy["others"],
        }

    async def _calls(
        self, token: str, path: str, v0: int
    ) -> tuple[dict[tuple[int, int], float], list[float]]:
        sends: dict[tuple[int, int], float] = {}
        http_ms: list[float] = []
        await self.api.call("GET", "/healthz")  # a fresh kept-alive connection
        for i in range(self.params.calls):
            sent = time.monotonic()
            sends[(0, v0 + i + 1)] = sent
            await self.api.expect(200, "POST", f"{path}/call-next", {"room": "1"}, token)
            http_ms.append((time.monotonic() - sent) * 1000)
            await asyncio.sleep(max(0.0, sent + self.params.call_gap_s - time.monotonic()))
        return sends, http_ms

    async def memory(self) -> list[Result]:
        """Hub RSS before and after opening N idle subscribed connections."""
        rows = []
        for wanted in self.params.idle_conns:
            rows.append(await self._memory(wanted))
        return rows

    async def _memory(self, wanted: int) -> Result:
        limit = _nofile_soft(self.hub.pid)
        room = limit - open_fds(self.hub.pid) - 64
        count = min(wanted, room)
        out: Result = {"wanted": wanted, "hub_nofile_limit": limit}
        if count < wanted * 0.9:
            out["skipped"] = (
                f"the hub may open only {limit} files (RLIMIT_NOFILE hard limit; raising it needs "
                f"CAP_SYS_RESOURCE, which this machine does not give): {wanted} connections do "
                "not fit in one process"
            )
            return out
        await self.quiet()
        warm = await start_swarm(self.spec(self.hub_target(), 10, (f"queue:{DEMO_QUEUE}",)), 1)
        await warm.close()  # first connections: lazy imports and caches are in "before"
        await asyncio.sleep(1.0)
        before = _rss_kib(self.hub.pid)
        started = time.monotonic()
        swarm = await start_swarm(
            self.spec(self.hub_target(), count, (f"queue:{DEMO_QUEUE}",)), self.params.procs
        )
        try:
            connect_s = time.monotonic() - started
            await asyncio.sleep(2.0)
            after = _rss_kib(self.hub.pid)
            connected = swarm.connect["connected"]
            hub_fds = open_fds(self.hub.pid)
        finally:
            await swarm.close()
        await asyncio.sleep(2.0)
        return out | {
            "connections": count,
            "connected": connected,
            "connect": swarm.connect,
            "connect_s": round(connect_s, 2),
            "hub_open_fds": hub_fds,
            "rss_before_kib": before,
            "rss_after_kib": after,
            "rss_after_close_kib": _rss_kib(self.hub.pid),
            "kib_per_connection": round((after - before) / max(connected, 1), 2),
        }

    async def peers(self) -> dict[str, dict[str, Result]]:
        out: dict[str, dict[str, Result]] = {}
        for kind in self.params.peers:
            try:
                out[kind] = await self._peer(kind)
            except Exception as exc:  # a peer that fails must not lose the hub's figures
                _log(f"peer {kind} failed: {exc}")
                out[kind] = {"error": {"error": f"{type(exc).__name__}: {exc}"[:500]}}
        return out

    async def _peer(self, kind: PeerKind) -> dict[str, Result]:
        p = self.params
        peerproc.install(kind)
        peer = PeerProcess(kind, self.hub.redis_socket, PEER_CHANNEL)
        await peer.start()
        try:
            target = Target(
                kind,
                "127.0.0.1",
                peer.port,
                peer.pid,
                path=peer.path,
                mode=peer.mode,
                protocol=None,
            )
            feed = (await self.demo_feeds())[0]
            feeds = [Feed(PEER_CHANNEL, feed.view, feed.v)]
            rows: dict[str, Result] = {"versions": {"versions": peerproc.versions(kind)}}
            for subs in p.cpu_subs:

                async def run(subs: int = subs) -> Result:
                    return await self.fanout(target, subs, ("peer",), feeds, p.cpu_rate, p.cpu_s)

                rows[str(subs)] = await self.steady(f"{kind} {subs}", run)
        finally:
            peer.stop()
            rows_log = peer.log_tail()
        if rows_log.strip() and rows_log.strip() != "ready":
            rows["versions"]["log"] = rows_log
        return rows

    async def profiled(self) -> Result:
        """The keep-up scenario again with py-spy on the hub (its figures are not used above)."""
        p = self.params
        RESULTS_DIR.mkdir(exist_ok=True)
        out_path = RESULTS_DIR / f"fanout-{datetime.now():%Y%m%d-%H%M%S}-pyspy.txt"
        started: list[Any] = []

        async def start() -> None:
            started.append(await profile.start_py_spy(self.hub.pid, p.profile_s, out_path))

        feeds = await self.demo_feeds()
        load = await self.fanout(
            self.hub_target(),
            p.keepup_subs,
            (f"queue:{DEMO_QUEUE}",),
            feeds,
            p.keepup_rate,
            p.profile_s,
            on_start=start,
        )
        stacks = await profile.finish_py_spy(started[0], out_path)
        spots = profile.hot_spots(stacks, nonblocking=True)
        return {"load": load, "profile": spots, "stacks_file": str(out_path)}

    async def close(self) -> None:
        self.api.close()
        await self.probe.close()
        await self.redis.aclose()


async def _then_sleep(work: Awaitable[Any], seconds: float) -> Any:
    value = await work
    await asyncio.sleep(seconds)
    return value


def _cpu(pid: int) -> float:
    return hubproc.cpu_seconds(pid) if hubproc.pid_alive(pid) else 0.0


def _per_delivery(busy: Result, idle: Result, delivered: int) -> Result:
    """Server and swarm CPU per delivery; the server's also net of its idle baseline."""
    s, i = busy["seconds"], idle["seconds"]
    idle_rate = i["server_s"] / i["window_s"] if i["window_s"] > 0 else 0.0
    net = s["server_s"] - idle_rate * s["window_s"]

    def per(value: float, scale: float) -> float | None:
        return round(value / delivered * scale, 3) if delivered else None

    return {
        "server_cpu_ms_per_1000": per(s["server_s"], 1e6),
        "server_cpu_ms_per_1000_net_of_idle": per(net, 1e6),
        "valkey_cpu_ms_per_1000": per(s["valkey_s"], 1e6),
        "swarm_cpu_us_per_delivery": per(s["swarm_s"], 1e6),
        "window_s": round(s["window_s"], 2),
    }


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _nofile_soft(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    return 1024


# ---- the run -------------------------------------------------------------------------------


async def run_scenarios(bench: Bench, params: Params, results: Result) -> None:
    """Fills ``results`` step by step (a failure keeps what was measured before it)."""
    wanted = set(params.only)
    if "memory" in wanted:  # first: a fresh heap, not one grown by earlier scenarios
        _log(f"5. memory per idle connection {params.idle_conns}")
        results["memory"] = await bench.memory()
    if "calibration" in wanted and params.parser is None:
        _log("0. swarm parser calibration (raw vs websockets sans-I/O)")
        results["calibration"] = await bench.calibration()
    results["swarm"] = {"parser": bench.parser, "processes": params.procs}
    steps: list[tuple[str, str, Callable[[], Awaitable[Any]]]] = [
        ("cpu", f"1. hub CPU per delivery, {params.cpu_subs} subscribers", bench.cpu),
        ("keepup", f"2. {params.keepup_subs} subscribers x {params.keepup_rate}/s", bench.keepup),
        ("clinic", f"4. clinic shape {params.clinic_queues} x {params.clinic_subs}", bench.clinic),
        ("callnext", f"3. call-next to {params.callnext_subs} subscribers", bench.callnext),
        ("peers", f"6. peers {params.peers}", bench.peers),
        ("profile", "7. py-spy on the hub (keep-up scenario again)", bench.profiled),
    ]
    for key, label, step in steps:
        if key in wanted:
            _log(label)
            results[key] = await step()


_log = cli.logger("bench_fanout")


async def main_async(params: Params, keep_data: bool) -> Result:
    nofile = raise_nofile()
    busy = await wait_quiet(QUIET_PCT, params.wait_quiet_s)
    hub = HubProcess(extra_env=WS_ENV)
    env = {k: v for k, v in hub.env().items() if k in (*hubproc.REPORTED_ENV, *WS_ENV)}
    results: Result = {
        "started": datetime.now().astimezone().isoformat(timespec="seconds"),
        "params": asdict(params),
        "machine": report.machine_info() | {"busy_before_run_pct": busy, "nofile": nofile},
        "hub": {"command": " ".join(hub.command()), "env": env},
    }
    _log(f"starting the hub on port {hub.port}, data dir {hub.data_dir}")
    bench: Bench | None = None
    try:
        await hub.start()
        results["hub"] |= {"pid": hub.pid, "valkey_pid": hub.valkey_pid, "port": hub.port}
        results["software"] = await report.software_info(hub)
        bench = Bench(hub, params)
        await run_scenarios(bench, params, results)
    except Exception as exc:
        results["error"] = f"{type(exc).__name__}: {exc}"
        _log(f"FAILED: {results['error']}\n{hub.log_tail()}")
    finally:
        if bench is not None:
            await bench.close()
        cli.stop_hub(hub, results, keep_data, _log)
        _write(results)
    return results


def _write(results: Result) -> None:
    cli.write_results("fanout", results, fanout_report.render, _log)


def parse_args(argv: list[str] | None = None) -> tuple[Params, argparse.Namespace]:
    parser = cli.new_parser("python -m loadtest.bench_fanout", __doc__)
    add = parser.add_argument
    add("--quick", action="store_true", help="every scenario small and short (a smoke run)")
    add("--only", help=f"comma-separated subset of {','.join(SCENARIOS)}")
    add("--parser", choices=["raw", "sansio"], help="swarm frame parser (skips the calibration)")
    add("--procs", type=int, help="swarm processes (default 2)")
    add("--cpu-subs", help="subscribers of scenario 1 and the peers (default 1000,2000,5000,10000)")
    add("--cpu-rate", type=float, help="publications/s of scenario 1 and the peers (default 10)")
    add("--idle-conns", help="connection counts of the memory scenario (default 20000,50000)")
    add("--callnext-subs", type=int, help="subscribers of the call-next scenario (default 10000)")
    add(
        "--peers", help="comma-separated peers (node-ws,node-socketio,python-socketio; empty: none)"
    )
    add("--wait-quiet", type=float, help="before each run wait up to N s for an idle machine")
    add("--retries", type=int, help="rerun a run disturbed by other processes up to N times")
    add("--keep-data", action="store_true", help="keep the hub's temp data dir")
    args = parser.parse_args(argv)
    params = Params.quick_params() if args.quick else Params()
    overrides: dict[str, Any] = {
        "parser": args.parser,
        "procs": args.procs,
        "cpu_subs": cli.ints(args.cpu_subs) if args.cpu_subs else None,
        "cpu_rate": args.cpu_rate,
        "idle_conns": cli.ints(args.idle_conns) if args.idle_conns else None,
        "callnext_subs": args.callnext_subs,
        "peers": tuple(x for x in args.peers.split(",") if x) if args.peers is not None else None,
        "wait_quiet_s": args.wait_quiet,
        "retries": args.retries,
    }
    return cli.apply_overrides(parser, params, overrides, args.only, SCENARIOS), args


def main(argv: list[str] | None = None) -> int:
    return cli.run(parse_args, main_async, argv)


if __name__ == "__main__":
    sys.exit(main())
