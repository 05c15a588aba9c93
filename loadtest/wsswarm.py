"""A swarm of WebSocket subscribers in worker processes, cheap enough to share the cores.

Each worker process (``Swarm`` starts 1..n of them) runs a uvloop event loop with N raw
WebSocket connections. A connection sends a prebuilt handshake, then (``junban``) one
prebuilt masked ``sub`` frame, and from then on only parses server frames. For every frame
that carries a version it records ``time.monotonic()`` (CLOCK_MONOTONIC, system-wide on
Linux, so comparable with the publisher's) under (channel index, v). Two frame parsers:

- ``raw``: a hand parser of unmasked server frames (the version is found with one
  ``bytes.find(b'"v":')``; ping frames get a masked pong);
- ``sansio``: ``websockets``' sans-I/O ``ClientProtocol`` (full RFC 6455 checks, answers
  pings itself).

Servers (``mode``): ``junban`` (``/v1/ws``: ``{"op":"sub"}`` then ready on the first state
frame), ``plain`` (a broadcaster that needs no subscribe frame: ready after the 101) and
``socketio`` (Engine.IO 4 over WebSocket: answers the open packet with ``40``, ready on the
namespace's ``40`` answer, answers Engine.IO pings ``2`` with ``3``).

The parent talks to a worker over a pipe: ``ready`` (after connecting), then ``reset``
(forget what was recorded), ``collect`` (hand over the records and reset) and ``close``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import multiprocessing
import os
import time
from array import array
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection as Pipe
from typing import Any, Literal, cast

from loadtest import hubproc

Mode = Literal["junban", "plain", "socketio"]
Parser = Literal["raw", "sansio"]
KEY = base64.b64encode(b"junban-loadtest!").decode()
ZERO_MASK = b"\x00\x00\x00\x00"
"""A client frame must be masked; a zero key leaves the payload as it is (no XOR to do)."""


def client_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One masked (zero key) client frame; payloads below 126 bytes only."""
    assert len(payload) < 126
    return bytes((0x80 | opcode, 0x80 | len(payload))) + ZERO_MASK + payload


def handshake(host: str, port: int, path: str, protocol: str | None) -> bytes:
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {KEY}",
        "Sec-WebSocket-Version: 13",
    ]
    if protocol:
        lines.append(f"Sec-WebSocket-Protocol: {protocol}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def version_of(data: bytes, start: int = 0, end: int | None = None) -> int:
    """The first ``"v":N`` in a JSON text (state frames, views, socket.io events); -1 if none."""
    stop = len(data) if end is None else end
    at = data.find(b'"v":', start, stop)
    if at < 0:
        return -1
    at += 4
    comma = data.find(b",", at, stop)
    try:
        return int(data[at : comma if comma >= 0 else stop])
    except ValueError:
        return -1


@dataclass(frozen=True)
class SwarmSpec:
    """One worker's share of the subscribers."""

    host: str
    port: int
    channels: tuple[str, ...]
    """Connection ``i`` (global index) watches ``channels[i % len(channels)]``."""
    connections: int
    first: int = 0
    """Global index of this worker's first connection."""
    mode: Mode = "junban"
    parser: Parser = "raw"
    path: str = "/v1/ws"
    protocol: str | None = "junban.json"
    concurrency: int = 200
    """Handshakes in flight at once while connecting."""
    connect_timeout_s: float = 120.0


@dataclass
class Records:
    """What a worker (or several, merged) received since the last reset."""

    times: dict[tuple[int, int], array[float]] = field(default_factory=dict)
    """(channel index, v) -> monotonic receive times, one per delivery."""
    frames: int = 0
    """Every data frame received (states and others)."""
    errors: dict[str, int] = field(default_factory=dict)
    closed: int = 0
    """Connections the server closed (or lost) since the reset."""

    def merge(self, other: Records) -> None:
        for key, values in other.times.items():
            mine = self.times.get(key)
            if mine is None:
                self.times[key] = values
            else:
                mine.extend(values)
        self.frames += other.frames
        self.closed += other.closed
        for code, count in other.errors.items():
            self.errors[code] = self.errors.get(code, 0) + count

    @property
    def deliveries(self) -> int:
        return sum(len(v) for v in self.times.values())


class Recorder:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.times: defaultdict[tuple[int, int], list[float]] = defaultdict(list)
        self.frames = 0
        self.closed = 0
        self.errors: dict[str, int] = {}

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1

    def records(self) -> Records:
        times = {key: array("d", values) for key, values in self.times.items()}
        return Records(times, self.frames, dict(self.errors), self.closed)


# ---- one connection ------------------------------------------------------------------------


class WsClient(asyncio.Protocol):
    """The common part: handshake bytes out, readiness, recording."""

    def __init__(self, spec: SwarmSpec, index: int, rec: Recorder, on_ready: Callable[[], None]):
        self.spec = spec
        self.channel = index % len(spec.channels)
        self.rec = rec
        self.on_ready: Callable[[], None] | None = on_ready
        self.transport: asyncio.Transport | None = None
        self.open = False
        self.gone = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.transport.write(self.request_bytes())

    def request_bytes(self) -> bytes:
        s = self.spec
        return handshake(s.host, s.port, s.path, s.protocol)

    def connection_lost(self, exc: Exception | None) -> None:
        self.gone = True
        self.rec.closed += 1
        self.ready()  # a lost connection must not block the start: it is counted instead

    def ready(self) -> None:
        if self.on_ready is not None:
            on_ready, self.on_ready = self.on_ready, None
            on_ready()

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.gone:
            self.transport.write(data)

    def upgraded(self) -> None:
        """The 101 arrived: subscribe (junban), or be ready (plain)."""
        self.open = True
        if self.spec.mode == "junban":
            self.write(self.sub_frame())
        elif self.spec.mode == "plain":
            self.ready()

    def sub_frame(self) -> bytes:
        channel = self.spec.channels[self.channel]
        return client_frame(b'{"op":"sub","ch":"%s"}' % channel.encode())

    def message(self, data: bytes, start: int, end: int, now: float) -> None:
        """One text/binary message in ``data[start:end]``."""
        self.rec.frames += 1
        mode = self.spec.mode
        if mode == "socketio":
            self.socketio_packet(data, start, end, now)
            return
        v = version_of(data, start, end)
        if v >= 0:
            self.rec.times[(self.channel, v)].append(now)
            self.ready()
        elif data.startswith(b'{"op":"error"', start):
            self.rec.error(bytes(data[start:end])[:120].decode(errors="replace"))

    def socketio_packet(self, data: bytes, start: int, end: int, now: float) -> None:
        kind = data[start : start + 2]
        if kind == b"42":
            v = version_of(data, start, end)
            if v >= 0:
                self.rec.times[(self.channel, v)].append(now)
        elif kind == b"40":
            self.ready()
        elif kind[:1] == b"0":
            self.send_text(b"40")
        elif kind[:1] == b"2":
            self.send_text(b"3")

    def send_text(self, payload: bytes) -> None:
        self.write(client_frame(payload))

    def abort(self) -> None:
        if self.transport is not None and not self.gone:
            self.transport.abort()


class RawFrames(asyncio.Protocol):
    """Hand parser of unmasked server frames, after reading the 101 (raw swarm and watchers).

    A ping gets a masked pong; a text or binary message goes to ``message``, a close frame's
    code to ``close_frame``; a refused handshake is recorded and the connection aborted.
    Subclasses set ``buf = b""`` and ``open = False`` and give the hooks below.
    """

    buf: bytes
    open: bool

    def upgraded(self) -> None:
        """The 101 arrived (must set ``open``)."""
        raise NotImplementedError

    def message(self, data: bytes, start: int, end: int, now: float) -> None:
        raise NotImplementedError

    def close_frame(self, code: int) -> None:
        """The server's close frame, with its code (0 when it gave none)."""
        raise NotImplementedError

    def record_error(self, what: str) -> None:
        raise NotImplementedError

    def write(self, data: bytes) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        if self.buf:
            data, self.buf = self.buf + data, b""
        pos = 0
        if not self.open:
            head_end = data.find(b"\r\n\r\n")
            if head_end < 0:
                self.buf = data
                return
            if data[9:12] != b"101":
                self.record_error(f"handshake {data[9:12].decode(errors='replace')}")
                self.abort()
                return
            pos = head_end + 4
            self.upgraded()
        self.frames(data, pos, now)

    def frames(self, data: bytes, pos: int, now: float) -> None:
        size = len(data)
        while size - pos >= 2:
            length, head = data[pos + 1] & 0x7F, 2
            if length == 126:
                if size - pos < 4:
                    break
                length, head = int.from_bytes(data[pos + 2 : pos + 4], "big"), 4
            elif length == 127:
                if size - pos < 10:
                    break
                length, head = int.from_bytes(data[pos + 2 : pos + 10], "big"), 10
            end = pos + head + length
            if end > size:
                break
            opcode = data[pos] & 0x0F
            if opcode == 0x1 or opcode == 0x2:
                self.message(data, pos + head, end, now)
            elif opcode == 0x9:
                self.write(client_frame(data[pos + head : end], 0xA))
            elif opcode == 0x8:
                self.close_frame(int.from_bytes(data[pos + head : pos + head + 2], "big"))
            pos = end
        if pos < size:
            self.buf = data[pos:]


class RawClient(WsClient, RawFrames):
    """Hand parser of unmasked server frames."""

    def __init__(self, spec: SwarmSpec, index: int, rec: Recorder, on_ready: Callable[[], None]):
        super().__init__(spec, index, rec, on_ready)
        self.buf = b""

    def record_error(self, what: str) -> None:
        self.rec.error(what)

    def close_frame(self, code: int) -> None:
        self.rec.error(f"close {code}")


class SansIOClient(WsClient):
    """``websockets``' sans-I/O ClientProtocol (it validates frames and answers pings)."""

    def __init__(self, spec: SwarmSpec, index: int, rec: Recorder, on_ready: Callable[[], None]):
        super().__init__(spec, index, rec, on_ready)
        from websockets.client import ClientProtocol
        from websockets.typing import Subprotocol
        from websockets.uri import parse_uri

        uri = parse_uri(f"ws://{spec.host}:{spec.port}{spec.path}")
        offered = [Subprotocol(spec.protocol)] if spec.protocol else None
        self.ws = ClientProtocol(uri, subprotocols=offered, max_size=None)
        self._request = self.ws.connect()

    def request_bytes(self) -> bytes:
        self.ws.send_request(self._request)
        return b"".join(self.ws.data_to_send())

    def send_text(self, payload: bytes) -> None:
        self.ws.send_text(payload)
        self.flush()

    def sub_frame(self) -> bytes:
        channel = self.spec.channels[self.channel]
        self.ws.send_text(b'{"op":"sub","ch":"%s"}' % channel.encode())
        return b"".join(self.ws.data_to_send())

    def flush(self) -> None:
        out = self.ws.data_to_send()
        if out:
            self.write(b"".join(out))

    def data_received(self, data: bytes) -> None:
        from websockets.frames import Frame, Opcode
        from websockets.http11 import Response

        now = time.monotonic()
        self.ws.receive_data(data)
        for event in self.ws.events_received():
            if isinstance(event, Frame):
                if event.opcode in (Opcode.TEXT, Opcode.BINARY):
                    payload = bytes(event.data)
                    self.message(payload, 0, len(payload), now)
            elif isinstance(event, Response):
                if self.ws.handshake_exc is not None:
                    self.rec.error(f"handshake {self.ws.handshake_exc}"[:120])
                    self.abort()
                    return
                self.upgraded()
        self.flush()


# ---- the worker process -------------------------------------------------------------------


async def _connect_all(spec: SwarmSpec, rec: Recorder) -> tuple[list[WsClient], int]:
    """Open the connections (``concurrency`` at a time), each until it is ready."""
    loop = asyncio.get_running_loop()
    factory = RawClient if spec.parser == "raw" else SansIOClient
    limit = asyncio.Semaphore(spec.concurrency)
    clients: list[WsClient] = []
    failed = 0

    async def one(index: int) -> None:
        nonlocal failed
        async with limit:
            done = loop.create_future()

            def on_ready() -> None:
                if not done.done():
                    done.set_result(None)

            try:
                _, client = await loop.create_connection(
                    lambda: factory(spec, index, rec, on_ready), spec.host, spec.port
                )
                clients.append(client)
                await asyncio.wait_for(done, 30)
            except (OSError, TimeoutError) as exc:
                failed += 1
                rec.error(f"connect {type(exc).__name__}: {exc}"[:120])

    first = spec.first
    await asyncio.wait_for(
        asyncio.gather(*(one(i) for i in range(first, first + spec.connections))),
        spec.connect_timeout_s,
    )
    return clients, failed


async def _serve(pipe: Pipe, spec: SwarmSpec) -> None:
    loop = asyncio.get_running_loop()
    rec = Recorder()
    started = time.monotonic()
    clients, failed = await _connect_all(spec, rec)
    alive = sum(1 for c in clients if not c.gone)
    pipe.send(
        {
            "connected": alive,
            "failed": failed + len(clients) - alive,
            "seconds": round(time.monotonic() - started, 2),
            "errors": dict(rec.errors),
        }
    )
    while True:
        # a thread reads the pipe: add_reader would make its fd non-blocking, and a large
        # ``collect`` answer would then fail to be written with EAGAIN
        command = await loop.run_in_executor(None, pipe.recv)
        if command == "reset":
            rec.reset()
            pipe.send("ok")
        elif command == "collect":
            pipe.send(rec.records())
            rec.reset()
        elif command == "close":
            for client in clients:
                client.abort()
            await asyncio.sleep(0.2)
            pipe.send("ok")
            return


def worker_main(pipe: Pipe, spec: SwarmSpec) -> None:
    import uvloop

    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(_serve(pipe, spec))


# ---- the parent's side --------------------------------------------------------------------


class Swarm:
    """``procs`` worker processes sharing ``connections`` subscribers."""

    def __init__(
        self, spec: SwarmSpec, procs: int, target: Callable[[Pipe, Any], None] | None = None
    ) -> None:
        """``target(pipe, part)``: the worker's entry point (default ``worker_main``); ``spec``
        any frozen dataclass with ``connections`` and ``first``."""
        context = multiprocessing.get_context("spawn")
        total = spec.connections
        self.pipes: list[Pipe] = []
        self.procs: list[Any] = []
        first = spec.first
        for i in range(procs):
            share = total // procs + (i < total % procs)
            mine, theirs = context.Pipe()
            part = dataclasses.replace(spec, connections=share, first=first)
            first += share
            proc = context.Process(target=target or worker_main, args=(theirs, part), daemon=True)
            proc.start()
            theirs.close()
            self.pipes.append(mine)
            self.procs.append(proc)
        self.connect: dict[str, Any] = {}
        self.answers: list[dict[str, Any]] = []
        """Each worker's own ``ready`` answer."""

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def cpu_s(self) -> float:
        return sum(hubproc.cpu_seconds(pid) for pid in self.pids if hubproc.pid_alive(pid))

    async def _ask(self, command: str | None, timeout: float = 120.0) -> list[Any]:
        loop = asyncio.get_running_loop()
        if command is not None:
            for pipe in self.pipes:
                pipe.send(command)

        def receive(pipe: Pipe) -> Any:
            if not pipe.poll(timeout):
                raise TimeoutError(f"swarm worker did not answer {command!r}")
            return pipe.recv()

        return list(
            await asyncio.gather(*(loop.run_in_executor(None, receive, p) for p in self.pipes))
        )

    async def ready(self) -> dict[str, Any]:
        """Wait until every worker connected; connected / failed / seconds / errors."""
        answers = self.answers = await self._ask(None, timeout=300.0)
        errors: dict[str, int] = {}
        for answer in answers:
            for code, count in answer["errors"].items():
                errors[code] = errors.get(code, 0) + count
        self.connect = {
            "connected": sum(a["connected"] for a in answers),
            "failed": sum(a["failed"] for a in answers),
            "seconds": max(a["seconds"] for a in answers),
            "errors": errors,
        }
        return self.connect

    async def reset(self) -> None:
        await self._ask("reset")

    async def collect(self) -> Records:
        merged = Records()
        for part in await self._ask("collect"):
            merged.merge(part)
        return merged

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._ask("close", timeout=30.0)
        for proc in self.procs:
            proc.join(5)
            if proc.is_alive():
                proc.kill()
                proc.join(5)
        for pipe in self.pipes:
            pipe.close()


async def start_swarm(spec: SwarmSpec, procs: int) -> Swarm:
    swarm = Swarm(spec, procs)
    try:
        await swarm.ready()
    except BaseException:
        await swarm.close()
        raise
    return swarm


def raise_nofile() -> tuple[int, int]:
    """Soft RLIMIT_NOFILE up to the hard one (children inherit it); the (soft, hard) now."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))
