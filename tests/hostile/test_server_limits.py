"""The server layer bounds every request's head in size and time (hub/web/httpprotocol.py):
huge or endless headers get 431 and a close, slow heads and slow WebSocket handshakes 408
and a close, slow bodies a close, while the hub keeps serving normal clients."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.conftest import HubProcess, start_hub

MAX_HEADER = 16_384
DEADLINE_S = 2.0


@pytest.fixture(scope="module")
def edge_hub(redis_url: str) -> Iterator[HubProcess]:
    """A hub of its own: 16 KiB heads, a 2 s head deadline."""
    process = start_hub(
        redis_url, JUNBAN_MAX_HEADER=str(MAX_HEADER), JUNBAN_HEADER_TIMEOUT=str(DEADLINE_S)
    )
    yield process
    process.stop()


def rss_mb(hub: HubProcess) -> float:
    assert hub.proc is not None
    with open(f"/proc/{hub.proc.pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


async def answer(reader: asyncio.StreamReader, timeout: float) -> bytes | None:
    """Everything the hub sends until it closes (None: still open after ``timeout``)."""
    received = b""
    try:
        async with asyncio.timeout(timeout):
            while chunk := await reader.read(65536):
                received += chunk
    except TimeoutError:
        return None
    except ConnectionResetError:
        pass
    return received


async def healthy(hub: HubProcess) -> int:
    async with httpx.AsyncClient(timeout=5) as client:
        return (await client.get(hub.base_url + "/healthz")).status_code


async def exchange(hub: HubProcess, raw: bytes, timeout: float = 5.0) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", hub.port)
    writer.write(raw)
    got = await answer(reader, timeout)
    writer.close()
    assert got is not None, "the hub kept the connection open"
    return got


def request(path: str = "/healthz", padding: int = 0, close: bool = False) -> bytes:
    head = f"GET {path} HTTP/1.1\r\nHost: hub\r\n"
    if padding:
        head += f"X-Padding: {'p' * padding}\r\n"
    if close:
        head += "Connection: close\r\n"
    return (head + "\r\n").encode()


def assert_refused(got: bytes, status: bytes, code: bytes) -> None:
    head, _, body = got.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 " + status), got[:200]
    assert b"content-type: application/json" in head and b"connection: close" in head
    assert body.startswith(b'{"error":{"code":"' + code + b'"'), body
    assert b"Traceback" not in got


async def test_a_10_mb_header_gets_431_and_the_hub_serves_on(edge_hub: HubProcess) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", edge_hub.port)
    writer.write(request(padding=10_000_000))
    got = await answer(reader, 5)
    writer.close()
    assert got is not None
    assert_refused(got, b"431", b"header_too_large")
    assert await healthy(edge_hub) == 200


async def test_heads_under_the_limit_are_served_also_piecemeal_and_kept_alive(
    edge_hub: HubProcess,
) -> None:
    """The limit is per request, counts what arrives in many small reads right, and a
    pipelined head after another request is not charged for it."""
    just_under = MAX_HEADER - len(request(padding=1)) - 100
    assert b" 200 OK" in await exchange(edge_hub, request(padding=just_under, close=True))
    reader, writer = await asyncio.open_connection("127.0.0.1", edge_hub.port)
    raw = request(padding=just_under, close=True)
    for start in range(0, len(raw), 500):
        writer.write(raw[start : start + 500])
        await writer.drain()
        await asyncio.sleep(0.002)
    got = await answer(reader, 5)
    writer.close()
    assert got is not None and got.startswith(b"HTTP/1.1 200"), got
    keep_alive = request(padding=10_000) * 3 + request(close=True)  # 30 KB on one connection
    assert (await exchange(edge_hub, keep_alive)).count(b"HTTP/1.1 200 OK") == 4
    too_big = request(padding=MAX_HEADER)
    assert_refused(await exchange(edge_hub, too_big), b"431", b"header_too_large")
    pipelined = request() + request(padding=MAX_HEADER)  # one read: a fine head, a big one
    got = await exchange(edge_hub, pipelined)
    assert got.startswith(b"HTTP/1.1 200") and b"HTTP/1.1 431" in got, got


async def test_a_big_head_that_arrives_whole_after_a_body_gets_431(edge_hub: HubProcess) -> None:
    """A body and a complete oversized head in one read are checked by the parser's count."""
    reader, writer = await asyncio.open_connection("127.0.0.1", edge_hub.port)
    writer.write(
        b"POST /v1/auth/login HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\n"
        b"Content-Length: 2\r\n\r\n"
    )
    await writer.drain()
    await asyncio.sleep(0.2)
    writer.write(b"{}" + request(padding=3 * MAX_HEADER))
    got = await answer(reader, 5)
    writer.close()
    assert got is not None and got.startswith(b"HTTP/1.1 4"), got
    first, _, rest = got.partition(b"HTTP/1.1 431")
    assert b"HTTP/1.1 422" in first or b"HTTP/1.1 400" in first, got
    assert_refused(b"HTTP/1.1 431" + rest, b"431", b"header_too_large")


async def test_40_endless_headers_get_431_and_memory_stays_bounded(edge_hub: HubProcess) -> None:
    before = rss_mb(edge_hub)
    peak = before

    async def sample() -> None:
        nonlocal peak
        while True:
            peak = max(peak, rss_mb(edge_hub))
            await asyncio.sleep(0.05)

    async def endless(size: int = 3_000_000) -> bytes | None:
        reader, writer = await asyncio.open_connection("127.0.0.1", edge_hub.port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: hub\r\nX-Endless: ")

        async def pour() -> None:
            chunk = b"e" * 65536
            for _ in range(size // len(chunk)):
                writer.write(chunk)
                await writer.drain()

        pouring = asyncio.create_task(pour())
        got = await answer(reader, 8)
        pouring.cancel()
        await asyncio.gather(pouring, return_exceptions=True)
        writer.close()
        return got

    sampler = asyncio.create_task(sample())
    started = time.monotonic()
    answers = await asyncio.gather(*(endless() for _ in range(40)))
    elapsed = time.monotonic() - started
    sampler.cancel()
    assert all(got is not None for got in answers), "connections left open"
    for got in answers:
        assert got is not None
        assert_refused(got, b"431", b"header_too_large")
    assert elapsed < 6, elapsed
    assert peak - before < 50, f"RSS {before:.0f} MB -> {peak:.0f} MB"
    assert await healthy(edge_hub) == 200


async def drip(hub: HubProcess, head: bytes, results: list[tuple[float, bytes | None]]) -> None:
    """Send ``head`` and then one more header line a second until the hub closes (<= 6 s)."""
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", hub.port)
    writer.write(head)
    got: bytes | None = None
    for line in range(6):
        got = await answer(reader, 1.0)
        if got is not None:
            break
        try:
            writer.write(f"X-Drip-{line}: d\r\n".encode())
            await writer.drain()
        except ConnectionError:
            got = b""
            break
    results.append((time.monotonic() - started, got))
    writer.close()


async def slow_heads_are_closed(hub: HubProcess, head: bytes, normal_client: object) -> None:
    results: list[tuple[float, bytes | None]] = []
    attack = asyncio.gather(*(drip(hub, head, results) for _ in range(200)))
    await asyncio.sleep(0.5)
    await normal_client  # type: ignore[misc]
    await attack
    still_open = [r for r in results if r[1] is None]
    assert not still_open, f"{len(still_open)} of 200 slow heads still open after 6 s"
    slowest = max(elapsed for elapsed, _ in results)
    assert slowest < DEADLINE_S + 2.5, slowest
    for _, got in results:
        assert got is not None
        assert_refused(got, b"408", b"header_timeout")


async def test_200_slow_headers_are_closed_at_the_deadline(edge_hub: HubProcess) -> None:
    async def normal() -> None:
        assert await healthy(edge_hub) == 200

    head = b"GET /healthz HTTP/1.1\r\nHost: hub\r\n"
    await slow_heads_are_closed(edge_hub, head, normal())


async def test_200_slow_websocket_handshakes_are_closed_at_the_deadline(
    edge_hub: HubProcess,
) -> None:
    async def normal() -> None:
        async with connect(edge_hub.base_url.replace("http://", "ws://") + "/v1/ws") as ws:
            await ws.send('{"op": "ping"}')
            assert await asyncio.wait_for(ws.recv(), 5) == '{"op":"pong"}'

    head = (
        b"GET /v1/ws HTTP/1.1\r\nHost: hub\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    )
    await slow_heads_are_closed(edge_hub, head, normal())


async def test_a_connection_that_sends_nothing_is_closed(edge_hub: HubProcess) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", edge_hub.port)
    started = time.monotonic()
    got = await answer(reader, DEADLINE_S + 2)
    writer.close()
    assert got == b"", got
    assert time.monotonic() - started >= DEADLINE_S - 0.2


async def test_slow_and_refused_bodies_do_not_hold_the_connection(edge_hub: HubProcess) -> None:
    async def trickle(declared: int) -> tuple[float, bytes | None]:
        started = time.monotonic()
        reader, writer = await asyncio.open_connection("127.0.0.1", edge_hub.port)
        writer.write(
            b"POST /v1/auth/login HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n{" % declared
        )
        got: bytes | None = None
        for _ in range(12):
            got = await answer(reader, 0.5)
            if got is not None:
                break
            try:
                writer.write(b" ")
                await writer.drain()
            except ConnectionError:
                got = b""
                break
        writer.close()
        return time.monotonic() - started, got

    slow = await trickle(100)  # fits JUNBAN_MAX_BODY, never completes
    assert slow[1] is not None, "a slow body held the connection for 6 s"
    assert slow[0] < DEADLINE_S + 1.5, slow
    refused = await trickle(10**12)  # 413 at once; the rest must not keep the socket
    assert refused[1] is not None and refused[1].startswith(b"HTTP/1.1 413"), refused
    assert refused[0] < 1.5, refused
    assert await healthy(edge_hub) == 200


async def test_an_answer_before_the_body_says_connection_close(edge_hub: HubProcess) -> None:
    """A request refused before its body arrived (here 401: no token) is answered with
    ``connection: close``, so a client never sends its next request on a connection the hub
    is about to close; once the body has arrived, the connection is kept alive."""
    reader, writer = await asyncio.open_connection("127.0.0.1", edge_hub.port)
    head = (
        b"POST /v1/queues/1234-01/open HTTP/1.1\r\nHost: hub\r\n"
        b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n"
    )
    writer.write(head)  # the body ("{}") is not sent
    got = await answer(reader, 5.0)
    writer.close()
    assert got is not None and got.startswith(b"HTTP/1.1 401"), got
    assert b"connection: close" in got.lower(), got
    reader, writer = await asyncio.open_connection("127.0.0.1", edge_hub.port)
    writer.write(head + b"{}")
    whole = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
    assert whole.startswith(b"HTTP/1.1 401") and b"connection: close" not in whole.lower()
    assert await answer(reader, 0.5) is None, "a request read in full was not kept alive"
    writer.close()


def test_no_refusal_left_a_traceback_in_the_log(edge_hub: HubProcess) -> None:
    """Refusals are quiet. (The one traceback allowed is the app's own report of a client
    that vanished mid-body, here the cut slow body: a ``ClientDisconnect``.)"""
    log = edge_hub.log.read_text(errors="replace")
    disconnects = log.count("\nstarlette.requests.ClientDisconnect\n")
    assert log.count("Traceback (most recent call last)") == disconnects, log[-3000:]
