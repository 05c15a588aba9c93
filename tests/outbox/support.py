"""What the outbox tests share: a private Redis database, entries written the way append.lua
writes them, a recording ``Group`` (a real one: it writes what it handles into Redis lists)
and worker processes running a real ``OutboxRunner``."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import msgspec
import redis.asyncio as aioredis

from hub import keys
from hub.outbox.entry import OutboxEntry
from tests.conftest import stop_process

POISON = "poison_kind"
"""An entry whose kinds include this makes ``RecordingGroup.handle`` raise."""


def db_url(redis_url: str, db: int) -> str:
    """The same server, another database (the outbox tests keep ``jb:facilities`` apart)."""
    return f"{redis_url}{'&' if '?' in redis_url else '?'}db={db}"


def started_key(facility: str, group: str) -> str:
    return f"test:{{{facility}}}:{group}:started"


def seen_key(facility: str, group: str) -> str:
    return f"test:{{{facility}}}:{group}:seen"


class RecordingGroup:
    """Records each entry it starts and each it finishes (``"{id} {consumer}"``) in Redis
    lists; sleeps ``slow_s`` per entry; raises on entries of kind ``POISON``."""

    def __init__(
        self,
        redis: aioredis.Redis,
        name: str,
        facilities: set[str],
        consumer: str,
        *,
        slow_s: float = 0.0,
    ) -> None:
        self.redis = redis
        self.name = name
        self.facilities = facilities
        self.consumer = consumer
        self.slow_s = slow_s
        self.refuse_poison = True
        self.idle_calls = 0
        self.idle_full: list[bool] = []

    async def wants(self, facility: str) -> bool:
        return facility in self.facilities

    async def handle(self, facility: str, entries: list[OutboxEntry]) -> None:
        for entry in entries:
            await self.redis.rpush(started_key(facility, self.name), f"{entry.id} {self.consumer}")
            if POISON in entry.kinds and self.refuse_poison:
                raise RuntimeError(f"cannot take {entry.id}")
            if self.slow_s:
                await asyncio.sleep(self.slow_s)
            await self.redis.rpush(seen_key(facility, self.name), f"{entry.id} {self.consumer}")

    async def idle(self, facility: str, full: bool) -> None:
        self.idle_calls += 1
        self.idle_full.append(full)


async def append(
    redis: aioredis.Redis,
    facility: str,
    count: int,
    *,
    kinds: str = "ticket_issued",
    v0: int = 0,
    wake: bool = True,
) -> list[str]:
    """``count`` outbox entries as append.lua writes them, then the wake (unless ``wake`` is
    False: append.lua publishes at most one per window); their ids."""
    ids = []
    for n in range(count):
        body = {"day": "2026-12-07", "events": [[kinds.split(",")[0], {"n": n}]], "tickets": {}}
        fields = {
            "info": f"{facility}-01",
            "v": str(v0 + n + 1),
            "epoch": "e1",
            "kinds": kinds,
            "e": msgspec.msgpack.encode(body),
        }
        ids.append((await redis.xadd(keys.outbox(facility), fields)).decode())  # type: ignore[arg-type]
    if wake:
        await redis.publish(keys.OUTBOX_WAKE, facility)
    return ids


async def entries_of(redis: aioredis.Redis, key: str) -> list[tuple[str, str]]:
    """(entry id, consumer) pairs of a recording list."""
    return [tuple(x.decode().split(" ", 1)) for x in await redis.lrange(key, 0, -1)]  # type: ignore[misc]


async def until(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Worker:
    """A real process running an ``OutboxRunner`` with recording groups (tests.outbox.worker)."""

    def __init__(self, url: str, facility: str, groups: str, log: Path, **env: str) -> None:
        self.log = log
        environment = {
            **os.environ,
            "JUNBAN_REDIS_URL": url,
            "TEST_FACILITY": facility,
            "TEST_GROUPS": groups,
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.outbox.worker"],
                env=environment,
                stdout=out,
                stderr=out,
            )

    @property
    def consumer(self) -> str:
        import socket

        return f"{socket.gethostname()}:{self.proc.pid}"

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # a stopped worker cannot take SIGTERM
        return stop_process(self.proc)

    def output(self) -> str:
        return self.log.read_text()[-3000:]


def lease_holder(value: Any) -> str | None:
    return None if value is None else value.decode()
