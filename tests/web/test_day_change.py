"""A queue nobody has touched today still shows yesterday: the hub starts the day itself."""

from __future__ import annotations

import time

import httpx

from hub.app import connect_redis
from hub.queue.facilities import Facility, FacilityStore
from hub.queue.model import IssueTicket, OpenReception, QueueConfig
from hub.queue.service import QueueService
from hub.queue.store import QueueStore
from tests.channels.wsclient import LiveClient
from tests.conftest import HubProcess, new_facility_number, start_hub


async def queue_left_from_yesterday(redis_url: str) -> str:
    """A queue whose last command happened 24 h ago (written by another "process")."""
    client = connect_redis(redis_url)
    try:
        store = QueueStore(client, stream_maxlen=100_000, idempotency_ttl_s=60)
        service = QueueService(store, FacilityStore(client))
        number = new_facility_number()
        yesterday = time.time() - 86_400
        facility = Facility(number=number, name="Overnight", counters={"01": ""})
        await service.create_facility(facility, QueueConfig(), yesterday)
        info = f"{number}-01"
        await service.execute(info, OpenReception(at=yesterday), lambda s: None)
        await service.execute(
            info, IssueTicket(at=yesterday, ticket_id="y1", channel="desk"), lambda s: None
        )
        return info
    finally:
        await client.aclose()


async def test_get_starts_the_day(client: httpx.AsyncClient, redis_url: str) -> None:
    info = await queue_left_from_yesterday(redis_url)
    view = (await client.get(f"/v1/queues/{info}")).json()
    today = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 9 * 3600))  # Asia/Tokyo
    assert view["day"] == today and view["waiting"] == [] and view["last_number"] == 0
    assert view["open"] is True  # reception stays as the clinic left it


async def test_a_watched_queue_starts_the_day_by_itself(redis_url: str) -> None:
    hub: HubProcess = start_hub(redis_url, JUNBAN_DAY_CHECK="0.5")
    try:
        info = await queue_left_from_yesterday(redis_url)
        monitor = await LiveClient.open(hub.base_url)
        try:
            await monitor.sub(f"queue:{info}")
            stale = await monitor.state(f"queue:{info}")
            assert stale["data"]["waiting"] == [1]
            fresh = await monitor.state(f"queue:{info}", timeout=5)
            assert fresh["data"]["day"] > stale["data"]["day"] and fresh["data"]["waiting"] == []
        finally:
            await monitor.close()
    finally:
        hub.stop()
