"""Outbox workers as real processes: a worker killed with -9 mid-entry loses nothing (its
entries are taken over once idle); a lease holder that stalls past its lease loses the
facility to another worker; ``junban worker`` refuses unknown groups and a missing Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis.asyncio as aioredis

from hub import keys
from hub.outbox.consumer import ensure_groups
from tests.outbox.support import (
    Worker,
    append,
    entries_of,
    lease_holder,
    seen_key,
    started_key,
    until,
)

FAST = {
    "JUNBAN_OUTBOX_LEASE_MS": "1000",
    "JUNBAN_OUTBOX_IDLE_MS": "1500",
    "JUNBAN_OUTBOX_SWEEP": "0.3",
}


async def test_a_worker_killed_mid_entry_loses_nothing(
    redis: aioredis.Redis, facility: str, outbox_url: str, tmp_path: Path
) -> None:
    await ensure_groups(redis, facility, ["alpha"])
    ids = await append(redis, facility, 12)
    first = Worker(outbox_url, facility, "alpha", tmp_path / "a.log", TEST_SLOW_S="0.3", **FAST)
    second: Worker | None = None
    try:

        async def mid_entry() -> bool:
            started = await redis.llen(started_key(facility, "alpha"))
            seen = await redis.llen(seen_key(facility, "alpha"))
            return started >= 4 and started > seen

        await until(mid_entry, 15, f"the first worker mid-entry\n{first.output()}")
        first.signal(signal.SIGKILL)
        first.proc.wait()
        handled_by_first = {i for i, _ in await entries_of(redis, seen_key(facility, "alpha"))}
        assert 3 <= len(handled_by_first) < len(ids)
        more = await append(redis, facility, 3, v0=len(ids))
        second = Worker(outbox_url, facility, "alpha", tmp_path / "b.log", **FAST)

        async def all_seen() -> bool:
            seen = {i for i, _ in await entries_of(redis, seen_key(facility, "alpha"))}
            return seen >= set(ids + more)

        await until(all_seen, 15, f"every entry handled\n{second.output()}")
        seen = await entries_of(redis, seen_key(facility, "alpha"))
        assert {i for i, c in seen if c == second.consumer} >= set(ids) - handled_by_first
        # nothing is left pending, and the dead worker's read entries were taken over
        pending = await redis.xpending(keys.outbox(facility), "alpha")
        assert pending["pending"] == 0, pending
        assert lease_holder(await redis.get(keys.outbox_lease(facility, "alpha"))) == (
            second.consumer
        )
        assert second.stop() == 0  # SIGTERM: a clean stop, the lease given back
        assert await redis.get(keys.outbox_lease(facility, "alpha")) is None
    finally:
        first.stop()
        if second is not None:
            second.stop()


async def test_a_lease_holder_that_stalls_loses_the_facility(
    redis: aioredis.Redis, facility: str, outbox_url: str, tmp_path: Path
) -> None:
    await ensure_groups(redis, facility, ["alpha"])
    lease = keys.outbox_lease(facility, "alpha")
    first = Worker(outbox_url, facility, "alpha", tmp_path / "a.log", **FAST)
    second: Worker | None = None
    try:
        ids = await append(redis, facility, 3)

        async def served_by_first() -> bool:
            return len(await entries_of(redis, seen_key(facility, "alpha"))) == 3

        await until(served_by_first, 10, f"the first worker\n{first.output()}")
        assert lease_holder(await redis.get(lease)) == first.consumer
        second = Worker(outbox_url, facility, "alpha", tmp_path / "b.log", **FAST)
        time.sleep(1.0)  # the second one sweeps, but the lease is held (renewed)
        more = await append(redis, facility, 3, v0=3)
        await until(lambda: _count(redis, facility, first.consumer, 6), 5, "the holder serving on")
        first.signal(signal.SIGSTOP)  # stalls past its lease
        stalled = await append(redis, facility, 3, v0=6)

        async def taken_over() -> bool:
            return lease_holder(await redis.get(lease)) == second.consumer  # type: ignore[union-attr]

        await until(taken_over, 10, f"the second worker to take the lease\n{second.output()}")
        await until(lambda: _count(redis, facility, second.consumer, 3), 10, "the takeover")
        first.signal(signal.SIGCONT)  # back: it finds its lease gone and stays out
        time.sleep(1.0)
        last = await append(redis, facility, 3, v0=9)
        await until(lambda: _count(redis, facility, second.consumer, 6), 10, "the new holder")
        seen = await entries_of(redis, seen_key(facility, "alpha"))
        assert [i for i, _ in seen] == ids + more + stalled + last  # once each, in order
        assert {c for i, c in seen if i in stalled + last} == {second.consumer}
        assert lease_holder(await redis.get(lease)) == second.consumer
    finally:
        first.stop()
        if second is not None:
            second.stop()


async def _count(redis: aioredis.Redis, facility: str, consumer: str, count: int) -> bool:
    seen = await entries_of(redis, seen_key(facility, "alpha"))
    return sum(1 for _, c in seen if c == consumer) >= count


def test_junban_worker_refuses_an_unknown_group_and_a_missing_redis(outbox_url: str) -> None:
    env = {**os.environ, "JUNBAN_REDIS_URL": outbox_url, "JUNBAN_SECRET": "x" * 32}
    unknown = subprocess.run(
        [sys.executable, "-m", "hub.cli", "worker", "no-such-group"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert unknown.returncode == 2 and "no outbox group no-such-group" in unknown.stderr
    env.pop("JUNBAN_REDIS_URL")
    missing = subprocess.run(
        [sys.executable, "-m", "hub.cli", "worker", "integrations"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert missing.returncode == 2 and "needs JUNBAN_REDIS_URL" in missing.stderr


async def test_junban_worker_serves_integrations_and_stops_on_sigterm(
    redis: aioredis.Redis, facility: str, outbox_url: str, tmp_path: Path
) -> None:
    await ensure_groups(redis, facility, ["integrations"])
    env = {
        **os.environ,
        "JUNBAN_REDIS_URL": outbox_url,
        "JUNBAN_SECRET": "x" * 32,
        "JUNBAN_DATA_DIR": str(tmp_path),
        **FAST,
    }
    log = tmp_path / "worker.log"
    with open(log, "wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "hub.cli", "worker", "integrations"],
            env=env,
            stdout=out,
            stderr=out,
        )
    try:
        await until(lambda: _has(log, "serving integrations"), 20, "the worker to start")
        ids = await append(redis, facility, 2)

        async def consumed() -> bool:  # no endpoints: the group acknowledges every entry
            groups = await redis.xinfo_groups(keys.outbox(facility))
            return (
                bool(groups)
                and groups[0]["last-delivered-id"].decode() == ids[-1]
                and (groups[0]["pending"] == 0)
            )

        await until(consumed, 10, f"the entries consumed\n{log.read_text()[-2000:]}")
        holder = await redis.get(keys.outbox_lease(facility, "integrations"))
        assert holder is not None and holder.decode().endswith(f":{worker.pid}")
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=10) == 0
        assert await redis.get(keys.outbox_lease(facility, "integrations")) is None
        assert "outbox worker stopped" in log.read_text()
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


async def _has(log: Path, text: str) -> bool:
    return log.exists() and text in log.read_text()
