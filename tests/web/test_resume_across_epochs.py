"""Resuming by HTTP across an epoch change. The ETag is `"v"` and the SSE id `v` (API.md);
a client that knows the epoch revalidates with `"{epoch}.{v}"` / `Last-Event-ID: epoch.v`, so a
poller or an SSE client holding a
state of an older epoch always gets the current one, even when its `v` is equal or lower.

The epoch change is the real one: Redis comes back older than the hub saw it (lost
acknowledged writes, restored here with DUMP/RESTORE) and the hub's next write renews the
epoch with a `v` that the clients have already seen in the old epoch.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import orjson
import pytest
import redis.asyncio as aioredis

from hub import keys
from hub.app import connect_redis
from tests.conftest import HubProcess


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = connect_redis(redis_url)
    yield client
    await client.aclose()


async def take(client: httpx.AsyncClient, info: str) -> None:
    r = await client.post(f"/v1/queues/{info}/tickets")
    assert r.status_code == 201, r.text


async def first_state(
    base_url: str,
    info: str,
    last_event_id: str | None,
    then: Callable[[], Awaitable[None]] | None = None,
) -> tuple[str, dict[str, Any]]:
    """Open the SSE stream (with Last-Event-ID), run `then()` once it is open, and return the
    first `state` record: (its id, its data)."""
    headers = {"Last-Event-ID": last_event_id} if last_event_id is not None else {}
    async with httpx.AsyncClient(base_url=base_url, timeout=20) as c:
        async with c.stream("GET", f"/v1/queues/{info}/events", headers=headers) as response:
            assert response.status_code == 200
            event: dict[str, str] = {}
            task: asyncio.Task[None] | None = None
            async for line in response.aiter_lines():
                # the hub subscribed the stream before its first line: change the queue now
                if line.startswith("retry:") and then is not None and task is None:
                    task = asyncio.ensure_future(then())
                if line.startswith(("event:", "id:", "data:")):
                    name, _, value = line.partition(":")
                    event[name] = value.strip()
                elif not line and "data" in event:
                    assert event["event"] == "state"
                    if task is not None:
                        await task
                    return event["id"], orjson.loads(event["data"])
    raise AssertionError("the stream ended without a state")


async def lose_writes(
    client: httpx.AsyncClient, redis: aioredis.Redis, info: str, lost: int
) -> dict[str, Any]:
    """Take `lost` tickets, then put Redis back to before them, then take one more: the hub
    renews the epoch. Returns the view seen just before Redis went back."""
    names = (keys.queue(info), keys.log(info))
    saved = {k: await redis.dump(k) for k in names}
    for _ in range(lost):
        await take(client, info)
    seen: dict[str, Any] = (await client.get(f"/v1/queues/{info}")).json()
    for key, value in saved.items():
        assert value is not None
        await redis.restore(key, 0, value, replace=True)
    await take(client, info)
    return seen


async def test_etag_revalidates_with_v_or_epoch_and_v(
    client: httpx.AsyncClient, redis: aioredis.Redis, facility: str
) -> None:
    info = f"{facility}-01"
    await take(client, info)
    r = await client.get(f"/v1/queues/{info}")
    view = r.json()
    assert r.headers["etag"] == f'"{view["v"]}"'
    same = await client.get(f"/v1/queues/{info}", headers={"If-None-Match": r.headers["etag"]})
    assert same.status_code == 304
    qualified = f'"{view["epoch"]}.{view["v"]}"'
    both = await client.get(f"/v1/queues/{info}", headers={"If-None-Match": qualified})
    assert both.status_code == 304
    other = await client.get(f"/v1/queues/{info}", headers={"If-None-Match": f'"zz.{view["v"]}"'})
    assert other.status_code == 200, "another epoch's tag never matches"

    seen = await lose_writes(client, redis, info, lost=1)
    now = (await client.get(f"/v1/queues/{info}")).json()
    assert now["epoch"] != seen["epoch"] and now["v"] == seen["v"]  # the same v, another state
    held = f'"{seen["epoch"]}.{seen["v"]}"'
    after = await client.get(f"/v1/queues/{info}", headers={"If-None-Match": held})
    assert after.status_code == 200, "a poller of the old epoch must get the new state"
    assert after.json()["epoch"] == now["epoch"]
    assert after.headers["etag"] == f'"{now["v"]}"'


async def test_sse_resumes_across_an_epoch_change(
    hub: HubProcess, client: httpx.AsyncClient, redis: aioredis.Redis, facility: str
) -> None:
    info = f"{facility}-01"
    await take(client, info)
    current = (await client.get(f"/v1/queues/{info}")).json()
    ident, data = await first_state(hub.base_url, info, None)
    assert ident == str(current["v"]) and data["v"] == current["v"]

    # resuming at the current state (plain v, and epoch.v): nothing until it changes
    async def one_more() -> None:
        await take(client, info)

    ident, data = await first_state(hub.base_url, info, ident, one_more)
    assert data["v"] == current["v"] + 1, "the current state was not resent"
    qualified = f"{data['epoch']}.{data['v']}"
    ident, data = await first_state(hub.base_url, info, qualified, one_more)
    assert data["v"] == current["v"] + 2

    # Redis loses the last writes: the hub's next state has a new epoch and a v already seen
    seen = await lose_writes(client, redis, info, lost=2)
    now = (await client.get(f"/v1/queues/{info}")).json()
    assert now["epoch"] != seen["epoch"] and now["v"] < seen["v"]
    ident, data = await first_state(hub.base_url, info, f"{seen['epoch']}.{seen['v']}")
    assert (data["epoch"], data["v"]) == (now["epoch"], now["v"])
    assert ident == str(now["v"])


@pytest.mark.parametrize("bad", ["abc", "x.y", ".5", "e1.", "e-1.5", "1" * 30])
async def test_a_malformed_last_event_id_is_ignored(
    hub: HubProcess, client: httpx.AsyncClient, facility: str, bad: str
) -> None:
    """Anything but `v` or `epoch.v` counts as no Last-Event-ID: the current state comes."""
    info = f"{facility}-01"
    current = (await client.get(f"/v1/queues/{info}")).json()
    _, data = await first_state(hub.base_url, info, bad)
    assert data["v"] == current["v"]
