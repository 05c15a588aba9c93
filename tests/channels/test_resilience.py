"""Limits, close codes, a slow reader, a Redis restart and a hub restart, provoked for real."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import time

import httpx
import orjson
import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed

from hub import keys
from tests.channels.wsclient import LiveClient
from tests.conftest import (
    TOKENS,
    HubProcess,
    make_facility,
    short_tempdir,
    staff_headers,
    start_hub,
)


async def test_close_codes(client: httpx.AsyncClient, hub: HubProcess) -> None:
    """4400 malformed, 4401 bad or expired token, error frames for forbidden channels."""
    malformed = await LiveClient.open(hub.base_url)
    await malformed.ws.send("{not json")
    assert await malformed.closed_with() == 4400
    wrong_shape = await LiveClient.open(hub.base_url, "junban.msgpack")
    await wrong_shape.ws.send(b"\x93\x01\x02\x03")
    assert await wrong_shape.closed_with() == 4400
    unknown_op = await LiveClient.open(hub.base_url)
    await unknown_op.send({"op": "explode"})
    assert await unknown_op.closed_with() == 4400
    forged = await LiveClient.open(hub.base_url, token="not-a-token")
    assert await forged.closed_with() == 4401
    expired = await LiveClient.open(hub.base_url)
    await expired.send(
        {"op": "auth", "token": TOKENS.issue("staff", facility="1", ttl_s=1, now=1_000_000)}
    )
    assert await expired.closed_with() == 4401
    assert expired.ws.close_reason == "token_expired"
    anonymous = await LiveClient.open(hub.base_url)
    try:
        await anonymous.sub("staff:1234-01")
        error = await anonymous.until(lambda f: f["op"] == "error")
        assert error["code"] == "unauthorized" and error["ch"] == "staff:1234-01"
        await anonymous.sub("nonsense:1")
        assert (await anonymous.until(lambda f: f["op"] == "error"))["code"] == "unknown_channel"
        await anonymous.send({"op": "ping"})
        assert (await anonymous.recv())["op"] == "pong"  # the connection is still fine
    finally:
        await anonymous.close()


async def test_frame_too_big_closes_1009(hub: HubProcess) -> None:
    live = await LiveClient.open(hub.base_url)
    await live.ws.send("x" * (70 * 1024))
    assert await live.closed_with() == 1009


async def test_rate_limits_and_caps(redis_url: str) -> None:
    hub = start_hub(
        redis_url,
        JUNBAN_WS_MAX_PER_IP="3",
        JUNBAN_WS_FRAME_RATE="5/10",
        JUNBAN_WS_MAX_SUBS="2",
        JUNBAN_WS_IDLE="1",
    )
    try:
        held = [await LiveClient.open(hub.base_url) for _ in range(3)]
        fourth = await LiveClient.open(hub.base_url)
        assert await fourth.closed_with() == 4429
        for c in held:
            await c.close()
        chatty = await LiveClient.open(hub.base_url)
        await chatty.sub("queue:1234-01")
        await chatty.sub("queue:1234-02")
        await chatty.sub("queue:1234-03")
        error = await chatty.until(lambda f: f["op"] == "error")
        assert error["code"] == "too_many_subscriptions"
        for _ in range(5):
            await chatty.send({"op": "ping"})
        assert await chatty.closed_with() == 4429
        idle = await LiveClient.open(hub.base_url)
        started = time.monotonic()
        assert await idle.closed_with(timeout=5) == 1001
        assert time.monotonic() - started < 4
    finally:
        hub.stop()


async def test_slow_reader_is_conflated_or_closed_and_delays_nobody(redis_url: str) -> None:
    """A client that never reads: others get every state at once; it ends closed (4408)."""
    hub = start_hub(redis_url, JUNBAN_WS_SLOW="1")
    publisher = aioredis.from_url(redis_url)
    try:
        async with httpx.AsyncClient(base_url=hub.base_url) as client:
            facility = await make_facility(client)
        info = f"{facility}-01"
        ch = f"queue:{info}"
        slow = socket.create_connection(("127.0.0.1", hub.port))
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.sendall(
            b"GET /v1/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        assert slow.recv(4096).startswith(b"HTTP/1.1 101")
        sub = orjson.dumps({"op": "sub", "ch": ch})
        slow.sendall(bytes([0x81, 0x80 | len(sub)]) + b"\0\0\0\0" + sub)  # masked, zero key
        fast = await LiveClient.open(hub.base_url)
        await fast.sub(ch)
        start = await fast.state(ch)
        padding = "x" * 16_000
        last = start["v"] + 2000
        async with publisher.pipeline(transaction=False) as pipe:
            for v in range(start["v"] + 1, last + 1):
                view = {**start["data"], "v": v, "message": padding}
                pipe.publish(keys.public_channel(info), orjson.dumps(view))
            await pipe.execute()
        began = time.monotonic()
        final = await fast.until(lambda f: f["op"] == "state" and f["v"] == last, timeout=20)
        assert final["data"]["v"] == last
        assert time.monotonic() - began < 5  # the reader that keeps up was not held back
        async with httpx.AsyncClient(base_url=hub.base_url) as client:
            deadline = time.monotonic() + 5  # JUNBAN_WS_SLOW=1: the hub gives up on the other
            while (await client.get("/readyz")).json()["ws"] != 1:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.1)
            metrics = (await client.get("/metrics")).text
        assert 'junban_ws_closes_total{code="4408"}' in metrics
        slow.close()
        await fast.close()
    finally:
        await publisher.aclose()
        hub.stop()


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    frames=st.lists(
        st.one_of(
            st.binary(max_size=300),
            st.text(max_size=300),
            st.builds(
                json.dumps,
                st.dictionaries(
                    st.sampled_from(["op", "ch", "v", "epoch", "token", "x"]),
                    st.one_of(
                        st.none(),
                        st.integers(),
                        st.text(max_size=40),
                        st.sampled_from(["sub", "unsub", "auth", "ping", "queue:1234-01"]),
                    ),
                    max_size=5,
                ),
            ),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_fuzzed_frames_never_break_the_server(fuzz_hub: HubProcess, frames: list) -> None:  # type: ignore[type-arg]
    async def run() -> None:
        live = await LiveClient.open(fuzz_hub.base_url)
        try:
            for frame in frames:
                await live.ws.send(frame)
            await asyncio.wait_for(live.ws.ping(), 5)  # alive, or closed with a documented code
        except ConnectionClosed:
            assert live.ws.close_code in (4400, 4401, 4429, 1009, 1007, 1002), live.ws.close_code
        finally:
            await live.close()

    asyncio.run(run())


def test_fuzzing_leaked_no_connection(fuzz_hub: HubProcess) -> None:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if httpx.get(fuzz_hub.base_url + "/readyz").json()["ws"] == 0:
            return
        time.sleep(0.1)
    raise AssertionError(httpx.get(fuzz_hub.base_url + "/readyz").json())


async def test_redis_restart_keeps_clients_and_recovers() -> None:
    """kill -9 the Redis under 50 connected clients: none dropped, all see the next change."""
    hub = HubProcess({"JUNBAN_REDIS_URL": ""}, short_tempdir(), args=("--demo",)).start()
    try:
        ch = "queue:1234-01"
        clients = await asyncio.gather(*[LiveClient.open(hub.base_url) for _ in range(50)])
        await asyncio.gather(*[c.sub(ch) for c in clients])
        before = await asyncio.gather(*[c.state(ch) for c in clients])
        pid = int((hub.data_dir / "redis.pid").read_text())
        os.kill(pid, signal.SIGKILL)
        async with httpx.AsyncClient(base_url=hub.base_url, timeout=5) as client:
            saw_degraded = False
            deadline = time.monotonic() + 15
            while True:
                ready = await client.get("/readyz")
                saw_degraded |= ready.status_code == 503
                if ready.status_code == 200 and saw_degraded:
                    break
                assert time.monotonic() < deadline, ready.text
                await asyncio.sleep(0.05)
            r = await client.post("/v1/queues/1234-01/tickets")
            assert r.status_code == 201
        started = time.monotonic()
        after = await asyncio.gather(*[c.state(ch, timeout=5) for c in clients])
        assert time.monotonic() - started < 5
        assert all(a["v"] == before[0]["v"] + 1 for a in after)
        assert all(c.ws.close_code is None for c in clients)  # nobody was dropped
        await asyncio.gather(*[c.close() for c in clients])
    finally:
        hub.stop()


async def test_hub_shutdown_tells_clients_to_reconnect(redis_url: str) -> None:
    hub = start_hub(redis_url)
    live = await LiveClient.open(hub.base_url)
    await live.sub("queue:1234-01")
    assert hub.proc is not None
    hub.proc.send_signal(signal.SIGTERM)
    assert await live.closed_with() == 1012
    hub.stop()


async def test_hub_shutdown_ends_open_sse_streams_at_once(redis_url: str) -> None:
    """SIGTERM with SSE streams open: they end at once (the client reconnects), the process
    exits well within uvicorn's 5 s graceful timeout and logs no traceback."""
    hub = start_hub(redis_url)
    try:
        async with httpx.AsyncClient(base_url=hub.base_url, timeout=20) as http:
            facility = await make_facility(http)
            async with (
                http.stream("GET", f"/v1/queues/{facility}-01/events") as first,
                http.stream("GET", f"/v1/queues/{facility}-02/events") as second,
            ):
                assert first.status_code == second.status_code == 200
                assert hub.proc is not None
                started = time.monotonic()
                hub.proc.send_signal(signal.SIGTERM)
                for stream in (first, second):  # both end: the body is over, nothing hangs
                    async for _ in stream.aiter_bytes():
                        pass
                await asyncio.to_thread(hub.proc.wait, 15)
                took = time.monotonic() - started
    finally:
        hub.stop()
    log = hub.log.read_text()
    assert took < 4.5, f"shutdown took {took:.1f} s: the streams held it to the timeout"
    assert "Traceback" not in log and "timeout graceful shutdown" not in log, log[-2000:]


async def test_staff_console_flow_over_ws_and_http(
    client: httpx.AsyncClient, hub: HubProcess
) -> None:
    """A recall reaches watchers too (the monitor chimes again)."""
    facility = await make_facility(client)
    info = f"{facility}-01"
    t = (await client.post(f"/v1/queues/{info}/tickets")).json()
    live = await LiveClient.open(hub.base_url)
    try:
        await live.sub(f"queue:{info}")
        await live.state(f"queue:{info}")
        staff = staff_headers(facility)
        await client.post(f"/v1/queues/{info}/call-next", headers=staff)
        assert (await live.state(f"queue:{info}"))["data"]["calling"][0]["number"] == 1
        await client.post(f"/v1/queues/{info}/tickets/{t['ticket']['id']}/recall", headers=staff)
        recalled = await live.state(f"queue:{info}")
        assert recalled["data"]["calling"][0]["number"] == 1
    finally:
        await live.close()
