"""Edge cases of the live channels found in review, each provoked against a real hub."""

from __future__ import annotations

import asyncio

import httpx
import redis.asyncio as aioredis
from websockets.asyncio.client import connect

from hub import keys
from tests.channels.wsclient import LiveClient
from tests.conftest import OPERATOR, TOKENS, HubProcess, make_facility, new_facility_number


async def test_a_malformed_publication_does_not_stop_live_updates(
    client: httpx.AsyncClient, hub: HubProcess, redis_url: str
) -> None:
    facility = await make_facility(client)
    info = f"{facility}-01"
    live = await LiveClient.open(hub.base_url)
    raw = aioredis.from_url(redis_url)
    try:
        await live.sub(f"queue:{info}")
        first = await live.state(f"queue:{info}")
        await raw.publish(keys.public_channel(info), b"not json")
        await client.post(f"/v1/queues/{info}/tickets")
        assert (await live.state(f"queue:{info}"))["v"] == first["v"] + 1
        assert (await client.get("/readyz")).status_code == 200
    finally:
        await raw.aclose()
        await live.close()


async def test_unknown_queue_and_facility_are_reported(
    client: httpx.AsyncClient, hub: HubProcess
) -> None:
    number = new_facility_number()
    live = await LiveClient.open(hub.base_url)
    try:
        await live.sub(f"queue:{number}-01")
        error = await live.until(lambda f: f["op"] == "error")
        assert (error["code"], error["ch"]) == ("unknown_queue", f"queue:{number}-01")
        await live.sub(f"facility:{number}")
        error = await live.until(lambda f: f["op"] == "error")
        assert (error["code"], error["ch"]) == ("unknown_facility", f"facility:{number}")
        body = {"number": number, "name": "Late Clinic", "counters": {"01": ""}}
        assert (
            await client.post("/v1/admin/facilities", json=body, headers=OPERATOR)
        ).status_code == 201
        await live.sub(f"facility:{number}")  # a monitor retrying after the clinic exists
        state = await live.state(f"facility:{number}")
        assert state["data"]["info"] == f"{number}-01"
    finally:
        await live.close()


async def test_private_channels_end_with_their_token(
    client: httpx.AsyncClient, hub: HubProcess
) -> None:
    facility = await make_facility(client)
    info = f"{facility}-01"
    short = TOKENS.issue("staff", facility=facility, ttl_s=2)
    live = await LiveClient.open(hub.base_url, token=short)
    await live.sub(f"staff:{info}")
    await live.state(f"staff:{info}")
    assert await live.closed_with(timeout=6) == 4401
    assert live.ws.close_reason == "token_expired"
    staff = await LiveClient.open(hub.base_url, token=TOKENS.issue("staff", facility=facility))
    try:
        await staff.sub(f"staff:{info}")
        await staff.state(f"staff:{info}")
        patient = (await client.post(f"/v1/queues/{info}/tickets")).json()["token"]
        await staff.send({"op": "auth", "token": patient})
        dropped = await staff.until(lambda f: f["op"] == "error")
        assert (dropped["code"], dropped["ch"]) == ("forbidden", f"staff:{info}")
        await client.post(f"/v1/queues/{info}/tickets", json={"name": "Secret Name"})
        assert all("Secret" not in str(f) for f in await staff.quiet(0.5))
    finally:
        await staff.close()


async def test_two_forwarded_for_headers_are_fine(hub: HubProcess) -> None:
    url = hub.base_url.replace("http://", "ws://") + "/v1/ws"
    headers = [("X-Forwarded-For", "198.51.100.1"), ("X-Forwarded-For", "198.51.100.2")]
    async with connect(url, additional_headers=headers) as ws:
        await ws.send('{"op": "ping"}')
        assert await asyncio.wait_for(ws.recv(), 5) == '{"op":"pong"}'


async def test_resubscribing_after_unsub_sends_the_state_again(
    client: httpx.AsyncClient, hub: HubProcess
) -> None:
    facility = await make_facility(client)
    ch = f"queue:{facility}-01"
    live = await LiveClient.open(hub.base_url)
    try:
        await live.sub(ch)
        first = await live.state(ch)
        await live.send({"op": "unsub", "ch": ch})
        await live.until(lambda f: f["op"] == "unsubscribed")
        await live.sub(ch)
        assert (await live.state(ch))["v"] == first["v"]
    finally:
        await live.close()
