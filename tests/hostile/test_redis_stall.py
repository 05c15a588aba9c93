"""A stalled Redis (SIGSTOP): requests get 503 with Retry-After within the Redis deadline
(JUNBAN_REDIS_TIMEOUT, 2 s) instead of hanging, and the hub serves again once Redis resumes
(issue 14, item 8). Each test stalls a Valkey of its own, never the session's."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import time
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager

import httpx
import pytest

from hub.embedded_redis import EmbeddedRedis, find_server_binary
from tests.channels.wsclient import LiveClient
from tests.conftest import HubProcess, make_facility, short_tempdir, staff_headers, start_hub

DEADLINE_S = 3.0
"""The Redis deadline (2 s) plus slack for a loaded test machine."""


@pytest.fixture
def stallable() -> Iterator[tuple[EmbeddedRedis, HubProcess]]:
    """A private embedded Valkey (so stopping it stalls no other test) and a hub on it."""
    data_dir = short_tempdir()
    server = EmbeddedRedis(data_dir, find_server_binary(os.environ.get("JUNBAN_REDIS_SERVER_BIN")))
    server.start()
    hub: HubProcess | None = None
    try:
        hub = start_hub(server.url)
        yield server, hub
    finally:
        if hub is not None:
            hub.stop()
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@contextmanager
def stalled(server: EmbeddedRedis) -> Iterator[None]:
    """Valkey stopped (SIGSTOP) inside the block; always continued (SIGCONT) after it."""
    pid = server.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


async def timed(request: Awaitable[httpx.Response]) -> tuple[httpx.Response, float]:
    """The response and how many seconds it took."""
    started = time.monotonic()
    response = await request
    return response, time.monotonic() - started


async def until_ready(client: httpx.AsyncClient, within: float = 10.0) -> float:
    """Seconds until /readyz answers 200 (Redis answers and the live link is back)."""
    started = time.monotonic()
    while True:
        if (await client.get("/readyz")).status_code == 200:
            return time.monotonic() - started
        assert time.monotonic() - started < within, (await client.get("/readyz")).text
        await asyncio.sleep(0.05)


async def test_a_stalled_redis_gets_quick_503s_and_the_hub_serves_again(
    stallable: tuple[EmbeddedRedis, HubProcess],
) -> None:
    server, hub = stallable
    async with httpx.AsyncClient(base_url=hub.base_url, timeout=30) as client:
        facility = await make_facility(client)
        queue = f"/v1/queues/{facility}-01"
        assert (await client.post(queue + "/tickets")).status_code == 201
        live = await LiveClient.open(hub.base_url)
        try:
            await live.sub(f"queue:{facility}-01")
            await live.state(f"queue:{facility}-01")
            await asyncio.sleep(2.5)  # idle past the Redis deadline: the pub/sub link holds
            assert (await client.post(queue + "/tickets")).status_code == 201
            assert (await live.state(f"queue:{facility}-01", timeout=2))["data"]["v"] > 0

            with stalled(server):
                (take, take_s), (view, view_s), (ready, ready_s) = await asyncio.gather(
                    timed(client.post(queue + "/tickets")),
                    timed(client.get(queue)),
                    timed(client.get("/readyz")),
                )
                for response, seconds in ((take, take_s), (view, view_s)):
                    assert response.status_code == 503, response.text
                    assert response.json()["error"]["code"] == "redis_unavailable"
                    assert response.headers["Retry-After"] == "2"
                    assert seconds < DEADLINE_S, seconds
                assert ready.status_code == 503 and ready_s < DEADLINE_S

            assert await until_ready(client) < 8.0
            assert (await client.get(queue)).status_code == 200
            taken = await client.post(queue + "/tickets")
            assert taken.status_code == 201, taken.text
            # the watcher was not dropped by the stall and sees the change made after it
            frame = await live.until(lambda f: f["op"] == "state" and 3 in f["data"]["waiting"])
            assert frame["ch"] == f"queue:{facility}-01"
            assert live.ws.close_code is None
        finally:
            await live.close()


async def test_the_writer_recovers_from_an_append_that_timed_out(
    stallable: tuple[EmbeddedRedis, HubProcess],
) -> None:
    """A staff command whose append times out gets 503 (it may still run once Redis resumes:
    it was already sent). The queue's writer does not wedge: the next command reloads the
    state, and every ticket is called once, in order, whatever became of the timed-out one."""
    server, hub = stallable
    async with httpx.AsyncClient(base_url=hub.base_url, timeout=30) as client:
        facility = await make_facility(client)
        staff = staff_headers(facility)
        queue = f"/v1/queues/{facility}-01"
        for _ in range(3):  # the writer now holds the state: a call-next goes straight to Lua
            assert (await client.post(queue + "/tickets")).status_code == 201
        with stalled(server):
            refused, seconds = await timed(client.post(queue + "/call-next", headers=staff))
            assert refused.status_code == 503, refused.text
            assert refused.json()["error"]["code"] == "redis_unavailable"
            assert refused.headers["Retry-After"] == "2"
            # the append times out after 2 s, then the failed action's audit entry another 2 s
            assert seconds < 2 * DEADLINE_S, seconds
        await until_ready(client)
        called = await client.post(queue + "/call-next", headers=staff)
        assert called.status_code == 200, called.text
        number = called.json()["called"]["number"]
        assert number in (1, 2)  # 2: the timed-out call ran when Redis resumed
        view = (await client.get(queue)).json()
        assert [c["number"] for c in view["calling"]] == [number]  # one room: the latest call
        assert view["waiting"] == list(range(number + 1, 4))
