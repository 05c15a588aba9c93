"""Load generator processes: closed-loop and open-loop runs of the take/call-next mix.

``run_load(spec)`` is what a worker process runs (it is picklable for a process pool): it
opens its connections, waits for the agreed wall-clock start, drives traffic and returns a
``LoadResult`` of the measurement window only (a warm-up comes first and is not counted).

The mix: per queue, ``takes_per_call`` "take a ticket" (POST /tickets, no token) then one
"call next" (POST /call-next, staff token, ``{"room": "1"}``), queues in round robin.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

import orjson

from loadtest import rawhttp

ClientKind = Literal["raw", "aiohttp"]
CALL_BODY = b'{"room":"1"}'
EXPECTED = {"take": 201, "call": 200}


@dataclass(frozen=True)
class QueueTarget:
    info: str
    staff_token: str


@dataclass(frozen=True)
class LoadSpec:
    """One worker's share of a run. Times are wall-clock (``time.time()``)."""

    host: str
    port: int
    queues: tuple[QueueTarget, ...]
    connections: int
    start_at: float
    warmup_s: float
    duration_s: float
    takes_per_call: int = 3
    client: ClientKind = "raw"
    rate: float | None = None
    """None: closed loop; else open loop at this many requests/s (this worker's share)."""
    first_queue: int = 0
    """Where this worker starts in the round robin (spreads workers over the queues)."""


@dataclass
class LoadResult:
    """What one worker (or several, merged) measured inside the window."""

    window_s: float
    take_ms: list[float] = field(default_factory=list)
    call_ms: list[float] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)
    per_second: list[int] = field(default_factory=list)
    send_lag_ms: list[float] = field(default_factory=list)
    last_done_s: float = 0.0
    """Last answer of a counted request, seconds after the window start."""
    generator_cpu_s: float = 0.0
    scheduled: int = 0

    @property
    def answered(self) -> int:
        return len(self.take_ms) + len(self.call_ms)

    def merge(self, other: LoadResult) -> None:
        self.take_ms += other.take_ms
        self.call_ms += other.call_ms
        self.send_lag_ms += other.send_lag_ms
        for key, count in other.outcomes.items():
            self.outcomes[key] = self.outcomes.get(key, 0) + count
        width = max(len(self.per_second), len(other.per_second))
        self.per_second = [
            (self.per_second[i] if i < len(self.per_second) else 0)
            + (other.per_second[i] if i < len(other.per_second) else 0)
            for i in range(width)
        ]
        self.last_done_s = max(self.last_done_s, other.last_done_s)
        self.generator_cpu_s += other.generator_cpu_s
        self.scheduled += other.scheduled


class Mix:
    """Round robin over the queues; each queue gets ``takes_per_call`` takes, then a call."""

    def __init__(self, queue_count: int, takes_per_call: int, first: int = 0) -> None:
        self.count = queue_count
        self.cycle = takes_per_call + 1
        self.next_queue = first % queue_count
        self.sent = [0] * queue_count

    def next(self) -> tuple[str, int]:
        q = self.next_queue
        self.next_queue = (q + 1) % self.count
        n = self.sent[q]
        self.sent[q] = n + 1
        return ("call" if n % self.cycle == self.cycle - 1 else "take"), q


class Recorder:
    """Counts answers whose ``at`` time falls in the window [t0, t1) (perf_counter)."""

    def __init__(self, t0: float, t1: float, result: LoadResult) -> None:
        self.t0, self.t1, self.result = t0, t1, result
        self.per_second = [0] * (int(t1 - t0) + 600)

    def record(
        self, kind: str, at: float, began: float, done: float, status: int, body: bytes
    ) -> None:
        if not self.t0 <= at < self.t1:
            return
        r = self.result
        (r.take_ms if kind == "take" else r.call_ms).append((done - began) * 1000)
        key = f"{kind} {status}" if status == EXPECTED[kind] else _error_key(kind, status, body)
        r.outcomes[key] = r.outcomes.get(key, 0) + 1
        second = int(done - self.t0)
        if second < len(self.per_second):
            self.per_second[second] += 1
        r.last_done_s = max(r.last_done_s, done - self.t0)

    def failure(self, kind: str, at: float, exc: BaseException) -> None:
        if self.t0 <= at < self.t1:
            key = f"{kind} failed {type(exc).__name__}"
            self.result.outcomes[key] = self.result.outcomes.get(key, 0) + 1

    def finish(self) -> None:
        used = max(int(self.result.last_done_s) + 1, int(self.t1 - self.t0))
        self.result.per_second = self.per_second[:used]


def error_code(body: bytes) -> str:
    """The ``error.code`` of a Junban error body, or ``?``."""
    try:
        return str(orjson.loads(body)["error"]["code"])
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return "?"


def _error_key(kind: str, status: int, body: bytes) -> str:
    return f"{kind} {status} {error_code(body)}"


# ---- clients: one "send a command" callable per connection ---------------------------------

Sender = Callable[[str, int], Awaitable[tuple[int, bytes]]]


def _raw_requests(spec: LoadSpec) -> dict[str, list[bytes]]:
    host = f"{spec.host}:{spec.port}"
    take = [
        rawhttp.build_request("POST", f"/v1/queues/{q.info}/tickets", host=host)
        for q in spec.queues
    ]
    call = [
        rawhttp.build_request(
            "POST",
            f"/v1/queues/{q.info}/call-next",
            host=host,
            body=CALL_BODY,
            headers={
                "Authorization": f"Bearer {q.staff_token}",
                "Content-Type": "application/json",
            },
        )
        for q in spec.queues
    ]
    return {"take": take, "call": call}


class RawClients:
    """Prebuilt request bytes over ``RawConnection``s; reconnects a broken connection."""

    def __init__(self, spec: LoadSpec) -> None:
        self.spec = spec
        self.requests = _raw_requests(spec)

    async def open(self, count: int) -> list[Sender]:
        return [await self._sender() for _ in range(count)]

    async def _sender(self) -> Sender:
        holder = [await rawhttp.connect(self.spec.host, self.spec.port)]
        requests = self.requests

        async def send(kind: str, q: int) -> tuple[int, bytes]:
            if holder[0].closed:
                holder[0] = await rawhttp.connect(self.spec.host, self.spec.port)
            answer = await holder[0].request(requests[kind][q])
            return answer.status, answer.body

        return send

    async def close(self) -> None:
        return None


class AiohttpClients:
    """The same commands through one aiohttp ClientSession (a pool of keep-alive connections)."""

    def __init__(self, spec: LoadSpec) -> None:
        self.spec = spec
        base = f"http://{spec.host}:{spec.port}"
        self.urls = {
            "take": [f"{base}/v1/queues/{q.info}/tickets" for q in spec.queues],
            "call": [f"{base}/v1/queues/{q.info}/call-next" for q in spec.queues],
        }
        self.headers = [
            {"Authorization": f"Bearer {q.staff_token}", "Content-Type": "application/json"}
            for q in spec.queues
        ]
        self.session: object | None = None

    async def open(self, count: int) -> list[Sender]:
        import aiohttp

        connector = aiohttp.TCPConnector(limit=count, limit_per_host=count, force_close=False)
        session = aiohttp.ClientSession(connector=connector)
        self.session = session

        async def send(kind: str, q: int) -> tuple[int, bytes]:
            if kind == "take":
                async with session.post(self.urls["take"][q]) as resp:
                    return resp.status, await resp.read()
            async with session.post(
                self.urls["call"][q], data=CALL_BODY, headers=self.headers[q]
            ) as resp:
                return resp.status, await resp.read()

        health = f"http://{self.spec.host}:{self.spec.port}/healthz"

        async def warm() -> None:
            async with session.get(health) as resp:
                await resp.read()

        # open the pool's connections up front, as the raw client does
        await asyncio.gather(*(warm() for _ in range(count)))
        return [send] * count

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()  # type: ignore[attr-defined]


# ---- the loops -----------------------------------------------------------------------------


async def _closed_loop(send: Sender, mix: Mix, rec: Recorder, end: float) -> None:
    while (began := time.perf_counter()) < end:
        kind, q = mix.next()
        try:
            status, body = await send(kind, q)
        except (TimeoutError, OSError, rawhttp.HttpError) as exc:
            rec.failure(kind, time.perf_counter(), exc)
            await asyncio.sleep(0.01)
            continue
        done = time.perf_counter()
        rec.record(kind, done, began, done, status, body)


async def _open_loop_worker(
    send: Sender, line: asyncio.Queue[tuple[float, str, int]], rec: Recorder, lags: list[float]
) -> None:
    while True:
        scheduled, kind, q = await line.get()
        began = time.perf_counter()
        try:
            status, body = await send(kind, q)
        except (TimeoutError, OSError, rawhttp.HttpError) as exc:
            rec.failure(kind, scheduled, exc)
        else:
            done = time.perf_counter()
            if rec.t0 <= scheduled < rec.t1:
                lags.append((began - scheduled) * 1000)
            rec.record(kind, scheduled, scheduled, done, status, body)
        line.task_done()


async def _dispatch(
    line: asyncio.Queue[tuple[float, str, int]], mix: Mix, start: float, end: float, rate: float
) -> int:
    """Put each request in line at its scheduled time (start + i / rate) until ``end``."""
    interval, i = 1.0 / rate, 0
    while (due := start + i * interval) < end:
        now = time.perf_counter()
        while due <= now and due < end:
            kind, q = mix.next()
            line.put_nowait((due, kind, q))
            i += 1
            due = start + i * interval
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
    return i


async def _cpu_in_window(t0: float, t1: float) -> float:
    await asyncio.sleep(max(0.0, t0 - time.perf_counter()))
    cpu0 = time.process_time()
    await asyncio.sleep(max(0.0, t1 - time.perf_counter()))
    return time.process_time() - cpu0


async def _run(spec: LoadSpec) -> LoadResult:
    clients = RawClients(spec) if spec.client == "raw" else AiohttpClients(spec)
    senders = await clients.open(spec.connections)
    offset = time.time() - time.perf_counter()
    start = spec.start_at - offset
    t0, t1 = start + spec.warmup_s, start + spec.warmup_s + spec.duration_s
    result = LoadResult(window_s=spec.duration_s)
    rec = Recorder(t0, t1, result)
    mix = Mix(len(spec.queues), spec.takes_per_call, spec.first_queue)
    cpu = asyncio.create_task(_cpu_in_window(t0, t1))
    await asyncio.sleep(max(0.0, start - time.perf_counter()))
    if spec.rate is None:
        await asyncio.gather(*(_closed_loop(s, mix, rec, t1) for s in senders))
    else:
        line: asyncio.Queue[tuple[float, str, int]] = asyncio.Queue()
        workers = [
            asyncio.create_task(_open_loop_worker(s, line, rec, result.send_lag_ms))
            for s in senders
        ]
        sent = await _dispatch(line, mix, start, t1, spec.rate)
        result.scheduled = sum(1 for i in range(sent) if t0 <= start + i / spec.rate < t1)
        await asyncio.wait_for(line.join(), timeout=120)
        for task in workers:
            task.cancel()
    result.generator_cpu_s = await cpu
    rec.finish()
    await clients.close()
    return result


def run_load(spec: LoadSpec) -> LoadResult:
    """Entry point of a generator process."""
    import uvloop

    return uvloop.run(_run(spec))


def noop() -> int:
    """Warms a process pool up (imports done before the first timed run)."""
    import aiohttp  # noqa: F401
    import uvloop  # noqa: F401

    return 0
