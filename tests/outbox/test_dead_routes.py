"""The dead-letter routes over real HTTP: staff list their facility's dead letters and replay
one into its group; an unknown id is 404, a group that fails again (or that the hub lacks)
503 with the dead letter kept."""

from __future__ import annotations

import httpx
import msgspec
import redis.asyncio as aioredis

from hub import keys
from tests.conftest import make_facility, staff_headers


async def _bury(redis_url: str, facility: str, group: str) -> str:
    client = aioredis.Redis.from_url(redis_url, protocol=2)
    try:
        body = {"day": "2026-12-07", "events": [], "tickets": {}}
        fields = {
            "group": group,
            "entry": "1700000000000-0",
            "deliveries": "5",
            "error": "RuntimeError: boom",
            "info": f"{facility}-01",
            "v": "7",
            "epoch": "e1",
            "kinds": "ticket_issued,ticket_called",
            "e": msgspec.msgpack.encode(body),
        }
        dead_id = await client.xadd(keys.outbox_dead(facility), fields)  # type: ignore[arg-type]
        return str(dead_id.decode())
    finally:
        await client.aclose()


async def test_staff_list_and_replay_dead_letters(
    client: httpx.AsyncClient, redis_url: str
) -> None:
    facility = await make_facility(client)
    staff = staff_headers(facility)
    base = f"/v1/facilities/{facility}/integrations/dead"
    empty = await client.get(base, headers=staff)
    assert empty.status_code == 200 and empty.json() == {"dead": []}

    kept = await _bury(redis_url, facility, "no-such-group")
    replayable = await _bury(redis_url, facility, "integrations")
    listed = (await client.get(base, headers=staff)).json()["dead"]
    assert [row["id"] for row in listed] == [replayable, kept]  # newest first
    assert listed[1] == {
        "id": kept,
        "entry": "1700000000000-0",
        "group": "no-such-group",
        "deliveries": 5,
        "error": "RuntimeError: boom",
        "info": f"{facility}-01",
        "v": 7,
        "kinds": ["ticket_issued", "ticket_called"],
        "at": int(kept.split("-")[0]) / 1000,
    }

    unknown = await client.post(f"{base}/1-0/replay", headers=staff)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_dead_letter"
    junk = await client.post(f"{base}/not-an-id/replay", headers=staff)
    assert junk.status_code == 404 and junk.json()["error"]["code"] == "unknown_dead_letter"
    failed = await client.post(f"{base}/{kept}/replay", headers=staff)
    assert failed.status_code == 503 and failed.json()["error"]["code"] == "replay_failed"

    replayed = await client.post(f"{base}/{replayable}/replay", headers=staff)
    assert replayed.status_code == 200, replayed.text
    assert replayed.json()["replayed"]["entry"] == "1700000000000-0"
    left = (await client.get(base, headers=staff)).json()["dead"]
    assert [row["id"] for row in left] == [kept]

    other = await client.get(base, headers=staff_headers("1"))
    assert other.status_code == 403
    nowhere = await client.get(
        "/v1/facilities/99999998/integrations/dead", headers=staff_headers("99999998")
    )
    assert nowhere.status_code == 404 and nowhere.json()["error"]["code"] == "unknown_facility"
