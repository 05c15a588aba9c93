"""What the processes around a run used: CPU of the hub, its Valkey, this benchmark process
and the whole machine (from /proc), Valkey's per-command call counts (INFO commandstats),
and differences of the hub's Prometheus metrics."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from hub.app import connect_redis
from loadtest import hubproc
from loadtest.hubproc import HubProcess


def machine_cpu_s() -> tuple[float, float]:
    """CPU seconds since boot of all CPUs: (busy, of which irq + softirq), from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / hubproc.CLK_TCK, (fields[5] + fields[6]) / hubproc.CLK_TCK


VALKEY_COUNTERS = ("total_net_input_bytes", "aof_rewrites", "total_forks", "aof_delayed_fsync")


def process_table() -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, CPU seconds) of every process (/proc/<pid>/stat)."""
    table: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        cpu = (int(fields[11]) + int(fields[12])) / hubproc.CLK_TCK
        table[int(entry.name)] = (int(fields[1]), cpu)
    return table


def command_line(pid: int, width: int = 80) -> str:
    """The command line, or ``[name]`` for a kernel thread."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        if not raw:
            return f"[{Path(f'/proc/{pid}/comm').read_text().strip()}]"
    except OSError:
        return "?"
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()[:width]


@dataclass(frozen=True)
class Snapshot:
    at: float
    hub_s: float
    valkey_s: float
    machine_s: float
    irq_s: float
    bench_s: float
    redis_calls: dict[str, int]
    valkey_counters: dict[str, int]
    processes: dict[int, tuple[int, float]]


@dataclass(frozen=True)
class Window:
    """The differences between two snapshots."""

    seconds: float
    hub_s: float
    valkey_s: float
    machine_s: float
    irq_s: float
    bench_s: float
    redis_calls: dict[str, int]
    valkey_counters: dict[str, int]
    """Differences of Valkey's INFO counters (bytes received, AOF rewrites, forks)."""
    others: dict[str, float]
    """The busiest processes that are not ours: 'pid command line' -> CPU %."""

    def pct(self, cpu_s: float) -> float:
        return round(100 * cpu_s / self.seconds, 1) if self.seconds > 0 else float("nan")

    def cpu(self, generator_s: float = 0.0) -> dict[str, float]:
        """CPU % of each party (100 = one core). ``irq`` is the kernel's interrupt and softirq
        work (loopback networking, disk I/O completions: mostly caused by the run itself);
        ``other`` is every other process, kernel threads included."""
        known = self.hub_s + self.valkey_s + self.bench_s + generator_s + self.irq_s
        return {
            "hub_cpu_pct": self.pct(self.hub_s),
            "valkey_cpu_pct": self.pct(self.valkey_s),
            "generator_cpu_pct": self.pct(generator_s),
            "bench_cpu_pct": self.pct(self.bench_s),
            "irq_cpu_pct": self.pct(self.irq_s),
            "other_cpu_pct": self.pct(max(0.0, self.machine_s - known)),
            "machine_busy_pct": self.pct(self.machine_s),
        }


class Probe:
    """Takes snapshots of one hub and its Valkey."""

    def __init__(self, hub: HubProcess) -> None:
        self.hub = hub
        self.redis: Redis = connect_redis(hub.redis_url)

    async def redis_calls(self) -> dict[str, int]:
        info: dict[str, Any] = await self.redis.info("commandstats")
        return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in info.items()}

    async def valkey_counters(self) -> dict[str, int]:
        info: dict[str, Any] = await self.redis.info("persistence")
        info |= await self.redis.info("stats")
        return {k: int(info.get(k, 0)) for k in VALKEY_COUNTERS}

    async def snapshot(self) -> Snapshot:
        calls = await self.redis_calls()
        counters = await self.valkey_counters()
        hub = self.hub
        valkey = hubproc.cpu_seconds(hub.valkey_pid, children=True) if hub.valkey_pid else 0.0
        machine, irq = machine_cpu_s()
        return Snapshot(
            at=time.perf_counter(),
            hub_s=hubproc.cpu_seconds(hub.pid),
            valkey_s=valkey,
            machine_s=machine,
            irq_s=irq,
            bench_s=time.process_time(),
            redis_calls=calls,
            valkey_counters=counters,
            processes=process_table(),
        )

    def between(self, a: Snapshot, b: Snapshot) -> Window:
        calls = {k: v - a.redis_calls.get(k, 0) for k, v in b.redis_calls.items()}
        calls.pop("info", None)  # our own probes
        ordered = dict(sorted(((k, v) for k, v in calls.items() if v > 0), key=lambda kv: -kv[1]))
        return Window(
            seconds=b.at - a.at,
            hub_s=b.hub_s - a.hub_s,
            valkey_s=b.valkey_s - a.valkey_s,
            machine_s=b.machine_s - a.machine_s,
            irq_s=b.irq_s - a.irq_s,
            bench_s=b.bench_s - a.bench_s,
            redis_calls=ordered,
            valkey_counters={
                k: v - a.valkey_counters.get(k, 0) for k, v in b.valkey_counters.items()
            },
            others=self._others(a, b),
        )

    def _others(self, a: Snapshot, b: Snapshot, top: int = 3) -> dict[str, float]:
        """CPU % of the busiest processes that are neither the hub, its Valkey, this process
        nor a child of this process (generators, py-spy)."""
        ours = {os.getpid(), self.hub.pid, self.hub.valkey_pid}
        seconds = b.at - a.at
        used: list[tuple[float, int]] = []
        for pid, (ppid, cpu) in b.processes.items():
            if pid in ours or ppid in ours:
                continue
            spent = cpu - a.processes.get(pid, (0, 0.0))[1]
            if spent > 0:
                used.append((spent, pid))
        used.sort(reverse=True)
        return {
            f"{pid} {command_line(pid)}": round(100 * spent / seconds, 1)
            for spent, pid in used[:top]
            if seconds > 0 and 100 * spent / seconds >= 1.0
        }

    async def window(self, t0_wall: float, t1_wall: float) -> Window:
        """Sleep until ``t0_wall``, snapshot, sleep until ``t1_wall``, snapshot."""
        await asyncio.sleep(max(0.0, t0_wall - time.time()))
        first = await self.snapshot()
        await asyncio.sleep(max(0.0, t1_wall - time.time()))
        return self.between(first, await self.snapshot())

    async def close(self) -> None:
        await self.redis.aclose()


async def background_busy_pct(seconds: float = 2.0) -> float:
    """How busy the machine is without us (% of one core, summed over the CPUs)."""
    first, t0 = machine_cpu_s()[0], time.perf_counter()
    await asyncio.sleep(seconds)
    return round(100 * (machine_cpu_s()[0] - first) / (time.perf_counter() - t0), 1)


async def wait_quiet(limit_pct: float, max_wait_s: float) -> float:
    """Wait (up to ``max_wait_s``) until the machine is below ``limit_pct`` busy; the last
    measured busy %."""
    deadline = time.monotonic() + max_wait_s
    busy = await background_busy_pct()
    while busy > limit_pct and time.monotonic() < deadline:
        busy = await background_busy_pct()
    return busy


def metric_delta(before: dict[str, float], after: dict[str, float], name: str) -> float:
    """after - before of a Prometheus series ``name``, summed over its label sets."""

    def total(values: dict[str, float]) -> float:
        return sum(v for k, v in values.items() if k == name or k.startswith(name + "{"))

    return total(after) - total(before)


def batch_histogram(before: dict[str, float], after: dict[str, float]) -> dict[str, int]:
    """Per-bucket counts (not cumulative) of junban_batch_commands between two scrapes."""
    prefix = 'junban_batch_commands_bucket{le="'
    cumulative = {
        k[len(prefix) : -2]: after[k] - before.get(k, 0.0) for k in after if k.startswith(prefix)
    }
    buckets: dict[str, int] = {}
    below = 0.0
    for le, count in sorted(cumulative.items(), key=lambda kv: float(kv[0])):
        if count - below > 0:
            buckets[f"<={le.removesuffix('.0')}"] = int(count - below)
        below = count
    return buckets
