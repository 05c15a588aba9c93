"""Live wait-state over WebSocket and SSE: real hub processes, real Redis, real clients."""

from __future__ import annotations

import asyncio

import httpx
import orjson

from tests.channels.wsclient import LiveClient
from tests.conftest import TOKENS, HubProcess, make_facility, staff_headers, start_hub


async def take(client: httpx.AsyncClient, info: str) -> dict:  # type: ignore[type-arg]
    r = await client.post(f"/v1/queues/{info}/tickets")
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def sse_states(base_url: str, info: str, until_v: int, out: list[dict]) -> None:  # type: ignore[type-arg]
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as c:
        async with c.stream("GET", f"/v1/queues/{info}/events") as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            event: dict[str, str] = {}
            async for line in response.aiter_lines():
                if line.startswith(("event:", "id:", "data:")):
                    name, _, value = line.partition(":")
                    event[name] = value.strip()
                elif not line and "data" in event:
                    state = orjson.loads(event["data"])
                    assert event["event"] == "state"
                    assert event["id"] == str(state["v"])
                    out.append(state)
                    event = {}
                    if state["v"] >= until_v:
                        return


async def test_a_call_reaches_200_ws_subscribers_and_sse(
    client: httpx.AsyncClient, hub: HubProcess
) -> None:
    """JSON and msgpack subscribers and an SSE client all end on the same final state."""
    facility = await make_facility(client)
    info = f"{facility}-01"
    await take(client, info)
    clients = await asyncio.gather(
        *[
            LiveClient.open(hub.base_url, "junban.msgpack" if i % 2 else "junban.json")
            for i in range(200)
        ]
    )
    try:
        await asyncio.gather(*[c.sub(f"queue:{info}") for c in clients])
        first = await asyncio.gather(*[c.state(f"queue:{info}") for c in clients])
        v0 = first[0]["v"]
        assert {f["v"] for f in first} == {v0} and first[0]["data"]["waiting"] == [1]
        sse: list[dict] = []  # type: ignore[type-arg]
        sse_task = asyncio.create_task(sse_states(hub.base_url, info, v0 + 1, sse))
        await asyncio.sleep(0.2)
        called = await client.post(
            f"/v1/queues/{info}/call-next", json={"room": "3"}, headers=staff_headers(facility)
        )
        assert called.status_code == 200
        finals = await asyncio.gather(*[c.state(f"queue:{info}") for c in clients])
        assert all(f["v"] == v0 + 1 for f in finals)
        assert all(
            f["data"]["calling"] == [{"number": 1, "room": "3", "recalls": 0}] for f in finals
        )
        assert len({orjson.dumps(f["data"]) for f in finals}) == 1
        await asyncio.wait_for(sse_task, 10)
        assert sse[-1] == finals[0]["data"]
    finally:
        await asyncio.gather(*[c.close() for c in clients])


async def test_facility_channel_carries_every_counter(
    client: httpx.AsyncClient, hub: HubProcess
) -> None:
    facility = await make_facility(client)
    live = await LiveClient.open(hub.base_url)
    try:
        await live.sub(f"facility:{facility}")
        first = [await live.state(f"facility:{facility}") for _ in range(2)]
        assert {f["data"]["info"] for f in first} == {f"{facility}-01", f"{facility}-02"}
        await take(client, f"{facility}-02")
        changed = await live.state(f"facility:{facility}")
        assert changed["data"]["info"] == f"{facility}-02" and changed["data"]["waiting"] == [1]
    finally:
        await live.close()


async def test_publish_through_a_receive_on_b(hub: HubProcess, redis_url: str) -> None:
    """Two hub processes on one Redis: a change made through A reaches B's subscribers."""
    second = start_hub(redis_url)
    try:
        async with httpx.AsyncClient(base_url=hub.base_url) as a:
            facility = await make_facility(a)
            info = f"{facility}-01"
            live = await LiveClient.open(second.base_url, "junban.msgpack")
            try:
                await live.sub(f"queue:{info}")
                before = await live.state(f"queue:{info}")
                await take(a, info)
                after = await live.state(f"queue:{info}")
                assert after["v"] == before["v"] + 1 and after["data"]["waiting"] == [1]
            finally:
                await live.close()
    finally:
        second.stop()


async def test_resume_sends_newest_state_or_nothing(
    client: httpx.AsyncClient, hub: HubProcess
) -> None:
    facility = await make_facility(client)
    info, ch = f"{facility}-01", f"queue:{facility}-01"
    live = await LiveClient.open(hub.base_url)
    await live.sub(ch)
    held = await live.state(ch)
    await live.close()
    for _ in range(5):
        await take(client, info)
    back = await LiveClient.open(hub.base_url)
    try:
        await back.sub(ch, v=held["v"], epoch=held["epoch"])
        newest = await back.state(ch)
        assert newest["v"] == held["v"] + 5 and newest["data"]["waiting"] == [1, 2, 3, 4, 5]
        assert await back.quiet() == []
    finally:
        await back.close()
    current = await LiveClient.open(hub.base_url)
    try:
        await current.sub(ch, v=newest["v"], epoch=newest["epoch"])
        assert (await current.recv())["op"] == "subscribed"
        assert await current.quiet() == []  # nothing redundant
        await current.sub(ch, v=newest["v"], epoch="another-epoch")
        assert (await current.state(ch))["v"] == newest["v"]  # another epoch always wins
    finally:
        await current.close()


async def test_staff_and_ticket_channels_follow_permissions(
    client: httpx.AsyncClient, hub: HubProcess
) -> None:
    facility = await make_facility(client)
    info = f"{facility}-01"
    mine, other = await take(client, info), await take(client, info)
    patient = await LiveClient.open(hub.base_url, token=mine["token"])
    staff_token = TOKENS.issue("staff", facility=facility)
    staff = await LiveClient.open(hub.base_url, "junban.msgpack", token=staff_token)
    try:
        await patient.sub(f"staff:{info}")
        denied = await patient.until(lambda f: f["op"] == "error")
        assert denied["code"] == "forbidden" and denied["ch"] == f"staff:{info}"
        await patient.sub(f"ticket:{info}:{other['ticket']['id']}")
        assert (await patient.until(lambda f: f["op"] == "error"))["code"] == "forbidden"
        ticket_ch = f"ticket:{info}:{mine['ticket']['id']}"
        await patient.sub(ticket_ch)
        mine_state = await patient.state(ticket_ch)
        assert mine_state["data"]["ticket"]["number"] == 1 and mine_state["data"]["ahead"] == 0
        assert "name" not in mine_state["data"]["ticket"]
        await staff.sub(f"staff:{info}")
        staff_state = await staff.state(f"staff:{info}")
        assert [t["number"] for t in staff_state["data"]["tickets"]] == [1, 2]
        await client.post(f"/v1/queues/{info}/call-next", headers=staff_headers(facility))
        called = await patient.state(ticket_ch)
        assert called["data"]["ticket"]["status"] == "called"
        assert (await staff.state(f"staff:{info}"))["data"]["calling"][0]["number"] == 1
    finally:
        await patient.close()
        await staff.close()


async def test_unsub_stops_the_flow(client: httpx.AsyncClient, hub: HubProcess) -> None:
    facility = await make_facility(client)
    info, ch = f"{facility}-01", f"queue:{facility}-01"
    live = await LiveClient.open(hub.base_url)
    try:
        await live.sub(ch)
        await live.state(ch)
        await live.send({"op": "unsub", "ch": ch})
        assert (await live.recv())["op"] == "unsubscribed"
        await take(client, info)
        assert await live.quiet() == []
    finally:
        await live.close()


async def test_a_ticket_channel_ends_on_the_last_change_of_a_burst(
    client: httpx.AsyncClient, hub: HubProcess
) -> None:
    """Changes that arrive while the hub reads the queue's snapshot for the ticket channel are
    not forgotten: after a burst the patient's channel shows the queue's last version (it once
    stayed on an older one, "waiting" after the call, until the next change)."""
    facility = await make_facility(client)
    info = f"{facility}-01"
    mine = await take(client, info)
    patient = await LiveClient.open(hub.base_url, token=mine["token"])
    try:
        ch = f"ticket:{info}:{mine['ticket']['id']}"
        await patient.sub(ch)
        await patient.state(ch)
        for round_ in range(3):
            changes = [take(client, info) for _ in range(25)]
            if round_ == 0:
                changes.insert(
                    12, client.post(f"/v1/queues/{info}/call-next", headers=staff_headers(facility))
                )
            await asyncio.gather(*changes)
            final = (await client.get(f"/v1/queues/{info}")).json()["v"]
            seen = await patient.until(
                lambda f, v=final: f["op"] == "state" and f["v"] >= v, timeout=5
            )
            assert seen["v"] == final and seen["data"]["ticket"]["status"] == "called"
    finally:
        await patient.close()
