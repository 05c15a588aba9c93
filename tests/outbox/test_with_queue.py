"""The entries the real queue writes (append.lua, through a hub process) are read, parsed
and handled in order by a group's consumer."""

from __future__ import annotations

import httpx
import redis.asyncio as aioredis

from hub.outbox.consumer import GroupConsumer, ensure_groups
from hub.outbox.entry import OutboxEntry
from tests.conftest import make_facility, staff_headers


class Keeping:
    """A group that keeps what it is handed (in this process)."""

    name = "test-keeping"

    def __init__(self) -> None:
        self.entries: list[OutboxEntry] = []

    async def wants(self, facility: str) -> bool:
        return True

    async def handle(self, facility: str, entries: list[OutboxEntry]) -> None:
        self.entries += entries

    async def idle(self, facility: str, full: bool) -> None:
        return None


async def test_a_group_reads_what_the_queue_commits(
    client: httpx.AsyncClient, redis_url: str
) -> None:
    facility = await make_facility(client)
    redis = aioredis.Redis.from_url(redis_url, protocol=2)
    try:
        await ensure_groups(redis, facility, [Keeping.name])
        tickets = []
        for _ in range(3):
            taken = await client.post(f"/v1/queues/{facility}-01/tickets")
            assert taken.status_code == 201, taken.text
            tickets.append(taken.json()["ticket"]["id"])
        called = await client.post(
            f"/v1/queues/{facility}-01/call-next", headers=staff_headers(facility)
        )
        assert called.status_code == 200, called.text
        group = Keeping()
        consumer = GroupConsumer(redis, group, "test:1", lease_ms=2000, idle_ms=2000)
        assert await consumer.serve(facility) == "done"
        issued = [e for e in group.entries if "ticket_issued" in e.kinds]
        assert [next(iter(e.body["tickets"])) for e in issued] == tickets
        versions = [e.v for e in group.entries]
        assert versions == sorted(versions) and len(set(versions)) == len(versions)
        assert "ticket_called" in group.entries[-1].kinds
        assert all(e.info == f"{facility}-01" and e.facility == facility for e in group.entries)
        assert await consumer.serve(facility) == "done" and len(group.entries) == len(versions)
        assert await consumer.release(facility)
    finally:
        await redis.aclose()
