"""Reconnecting WebSocket watchers in worker processes: the subscribers of ``swarm.py``.

Like ``wsswarm`` (raw frames, prebuilt handshake, one uvloop loop per worker process), but
each watcher behaves like the JS client (clients/js/junban.js) when its connection drops:
it reconnects after a full-jitter delay drawn from ``[0, min(cap, base * 2^attempt))``
(base 1 s, cap 10 s; after a close 1012 the attempt starts at 2; any frame from the hub
resets it), and subscribes again with the ``(epoch, v)`` it holds, so the hub sends the
newest state only when the watcher is behind.

Every watcher checks what it is sent: a state of the same epoch with a lower ``v`` than it
holds is a *regression* (versions must only grow); the same ``v`` again is a *repeat*. For
the fan-out figures each state's receive time is recorded under (channel index, v), as
``wsswarm.Records``. The parent asks a worker over its pipe for ``status`` (every watcher's
channel, epoch, v, whether it is connected and since when it holds what it holds).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection as Pipe
from typing import Any, cast

from hub.errors import Close
from loadtest.wsswarm import RawFrames, Recorder, Swarm, client_frame, handshake, version_of

CLOSE_RESTART = Close.SERVICE_RESTART
BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 10.0
RESTART_ATTEMPT = 2


@dataclass(frozen=True)
class WatcherSpec:
    """One worker's share of the watchers (connection ``i`` watches ``channels[i % n]``)."""

    host: str
    port: int
    channels: tuple[str, ...]
    connections: int
    first: int = 0
    concurrency: int = 200
    """Handshakes in flight at once during the first connect (reconnects are not limited)."""
    connect_timeout_s: float = 300.0
    backoff_base_s: float = BACKOFF_BASE_S
    backoff_cap_s: float = BACKOFF_CAP_S


def backoff_delay(attempt: int, base: float, cap: float) -> float:
    """Full jitter, as the JS client's ``backoffDelay``."""
    return random.random() * min(cap, base * 2.0**attempt)


@dataclass
class WatcherStatus:
    channel: int
    epoch: str | None
    v: int
    connected: bool
    current_since: float | None
    """Monotonic time of the later of its last ``subscribed`` and last state (None: offline)."""
    connects: int
    regressions: int
    repeats: int


class Watcher:
    """One subscriber that stays subscribed across drops of its connection."""

    def __init__(self, worker: Worker, index: int) -> None:
        self.worker = worker
        self.channel = index % len(worker.spec.channels)
        self.name = worker.spec.channels[self.channel].encode()
        self.epoch: bytes | None = None
        self.v = -1
        self.attempt = 0
        self.link: Link | None = None
        self.subscribed_at: float | None = None
        self.state_at = 0.0
        self.connects = 0
        self.regressions = 0
        self.repeats = 0

    def sub_frame(self) -> bytes:
        if self.epoch is None:
            return client_frame(b'{"op":"sub","ch":"%s"}' % self.name)
        return client_frame(
            b'{"op":"sub","ch":"%s","v":%d,"epoch":"%s"}' % (self.name, self.v, self.epoch)
        )

    def state(self, data: bytes, start: int, end: int, now: float) -> None:
        v = version_of(data, start, end)
        at = data.find(b'"epoch":"', start, end)
        epoch = data[at + 9 : data.find(b'"', at + 9, end)] if at >= 0 else b""
        if epoch == self.epoch:
            if v < self.v:
                self.regressions += 1
                return
            if v == self.v:
                self.repeats += 1
        self.epoch, self.v, self.state_at = epoch, v, now
        self.worker.rec.times[(self.channel, v)].append(now)

    def status(self) -> WatcherStatus:
        online = self.link is not None and self.subscribed_at is not None
        since = max(self.subscribed_at or 0.0, self.state_at) if online else None
        epoch = self.epoch.decode() if self.epoch is not None else None
        return WatcherStatus(
            self.channel, epoch, self.v, online, since, self.connects, self.regressions,
            self.repeats,
        )  # fmt: skip

    async def run(self, first: asyncio.Semaphore) -> None:
        """Connect (the first time under ``first``), then reconnect after every drop."""
        spec = self.worker.spec
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        async with first:
            closed = await self.connect(ready)
            if closed is not None:
                waits: set[asyncio.Future[Any]] = {ready, closed}
                await asyncio.wait(waits, timeout=30, return_when="FIRST_COMPLETED")
        self.worker.first_done(self, ready.done())
        while not self.worker.stopping:
            if closed is not None:
                code = await closed
                self.link = self.subscribed_at = None
                if self.worker.stopping:
                    return
                if code == CLOSE_RESTART:
                    self.attempt = max(self.attempt, RESTART_ATTEMPT)
            delay = backoff_delay(self.attempt, spec.backoff_base_s, spec.backoff_cap_s)
            self.attempt += 1
            await asyncio.sleep(delay)
            closed = await self.connect(None)

    async def connect(self, ready: asyncio.Future[None] | None) -> asyncio.Future[int] | None:
        """A new connection (its ``closed`` future: the close code, 1006 if none), or None
        when it could not be opened."""
        spec = self.worker.spec
        loop = asyncio.get_running_loop()
        closed: asyncio.Future[int] = loop.create_future()
        try:
            await loop.create_connection(lambda: Link(self, closed, ready), spec.host, spec.port)
        except OSError as exc:
            self.worker.rec.error(f"connect {type(exc).__name__}")
            return None
        self.connects += 1
        return closed


class Link(RawFrames):
    """One connection of a watcher: handshake, ``sub``, then server frames."""

    def __init__(
        self, watcher: Watcher, closed: asyncio.Future[int], ready: asyncio.Future[None] | None
    ) -> None:
        self.watcher, self.closed, self.ready = watcher, closed, ready
        self.transport: asyncio.Transport | None = None
        self.open = False
        self.buf = b""
        self.close_code = 1006

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        spec = self.watcher.worker.spec
        self.transport.write(handshake(spec.host, spec.port, "/v1/ws", "junban.json"))
        self.watcher.link = self

    def connection_lost(self, exc: Exception | None) -> None:
        if self.watcher.link is self:
            self.watcher.link = None
        self.watcher.worker.rec.closed += 1
        if not self.closed.done():
            self.closed.set_result(self.close_code)

    def upgraded(self) -> None:
        self.open = True
        self.write(self.watcher.sub_frame())

    def record_error(self, what: str) -> None:
        self.watcher.worker.rec.error(what)

    def close_frame(self, code: int) -> None:
        self.close_code = code or 1005

    def message(self, data: bytes, start: int, end: int, now: float) -> None:
        watcher = self.watcher
        watcher.attempt = 0  # the hub answered: the next drop starts the backoff afresh
        watcher.worker.rec.frames += 1
        if data.startswith(b'{"op":"state"', start):
            watcher.state(data, start, end, now)
        elif data.startswith(b'{"op":"subscribed"', start):
            watcher.subscribed_at = now
        elif data.startswith(b'{"op":"error"', start):
            watcher.worker.rec.error(bytes(data[start:end])[:120].decode(errors="replace"))
            return
        else:
            return
        if watcher.subscribed_at is not None and watcher.state_at and self.ready is not None:
            if not self.ready.done():
                self.ready.set_result(None)
            self.ready = None

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


class Worker:
    """The watchers of one process and what they recorded."""

    def __init__(self, spec: WatcherSpec) -> None:
        self.spec = spec
        self.rec = Recorder()
        self.stopping = False
        self.watchers = [Watcher(self, i) for i in range(spec.first, spec.first + spec.connections)]
        self.pending = len(self.watchers)
        self.failed = 0
        self.all_first: asyncio.Event = asyncio.Event()

    def first_done(self, watcher: Watcher, ok: bool) -> None:
        self.failed += not ok
        self.pending -= 1
        if self.pending <= 0:
            self.all_first.set()

    def statuses(self) -> list[WatcherStatus]:
        return [w.status() for w in self.watchers]

    def stop(self) -> None:
        self.stopping = True
        for watcher in self.watchers:
            if watcher.link is not None:
                watcher.link.abort()


async def _serve(pipe: Pipe, spec: WatcherSpec) -> None:
    loop = asyncio.get_running_loop()
    worker = Worker(spec)
    first = asyncio.Semaphore(spec.concurrency)
    started = time.monotonic()
    tasks = [asyncio.create_task(w.run(first)) for w in worker.watchers]
    if not worker.watchers:
        worker.all_first.set()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(worker.all_first.wait(), spec.connect_timeout_s)
    finished = time.monotonic()
    connected = sum(1 for w in worker.watchers if w.status().connected)
    pipe.send(
        {
            "connected": connected,
            "failed": len(worker.watchers) - connected,
            "seconds": round(finished - started, 3),
            "started": started,
            "finished": finished,
            "errors": dict(worker.rec.errors),
        }
    )
    while True:
        command = await loop.run_in_executor(None, pipe.recv)
        if command == "reset":
            worker.rec.reset()
            pipe.send("ok")
        elif command == "collect":
            pipe.send(worker.rec.records())
            worker.rec.reset()
        elif command == "status":
            pipe.send((worker.statuses(), dict(worker.rec.errors)))
        elif command == "close":
            worker.stop()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            pipe.send("ok")
            return


def watcher_main(pipe: Pipe, spec: WatcherSpec) -> None:
    import uvloop

    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(_serve(pipe, spec))


class Watchers(Swarm):
    """``procs`` worker processes sharing ``spec.connections`` reconnecting watchers."""

    def __init__(self, spec: WatcherSpec, procs: int) -> None:
        super().__init__(spec, procs, target=watcher_main)  # type: ignore[arg-type]

    async def statuses(self) -> tuple[list[WatcherStatus], dict[str, int]]:
        out: list[WatcherStatus] = []
        errors: dict[str, int] = {}
        for part, errs in await self._ask("status"):
            out.extend(part)
            for key, count in errs.items():
                errors[key] = errors.get(key, 0) + count
        return out, errors

    def connect_rate(self) -> dict[str, Any]:
        """Connections ready per second over the whole swarm (first start to last ready)."""
        answers = self.answers
        span = max(a["finished"] for a in answers) - min(a["started"] for a in answers)
        connected = sum(a["connected"] for a in answers)
        return {"connected": connected, "seconds": round(span, 3),
                "per_s": round(connected / span, 1) if span > 0 else None}  # fmt: skip


async def start_watchers(spec: WatcherSpec, procs: int) -> Watchers:
    watchers = Watchers(spec, procs)
    try:
        await watchers.ready()
    except BaseException:
        await watchers.close()
        raise
    return watchers
