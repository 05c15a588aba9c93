"""A worker process for the outbox tests: a real ``OutboxRunner`` over recording groups.

Environment: JUNBAN_REDIS_URL, JUNBAN_OUTBOX_LEASE_MS / _IDLE_MS / JUNBAN_OUTBOX_SWEEP (read
by ``Settings``), TEST_FACILITY, TEST_GROUPS (comma-separated), TEST_SLOW_S (per entry).
Stops cleanly on SIGTERM (its leases given back), like ``junban worker``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal

from hub.app import connect_redis
from hub.outbox.consumer import Group
from hub.outbox.runner import OutboxRunner, consumer_name
from hub.queue.facilities import FacilityStore
from hub.settings import Settings
from tests.outbox.support import RecordingGroup


async def main() -> None:
    settings = Settings.from_env()
    assert settings.redis_url is not None
    redis = connect_redis(settings.redis_url)
    facility = os.environ["TEST_FACILITY"]
    slow_s = float(os.environ.get("TEST_SLOW_S", "0"))
    consumer = consumer_name()
    groups: list[Group] = [
        RecordingGroup(redis, name, {facility}, consumer, slow_s=slow_s)
        for name in os.environ["TEST_GROUPS"].split(",")
    ]
    runner = OutboxRunner(
        redis,
        groups,
        FacilityStore(redis),
        consumer=consumer,
        lease_ms=settings.outbox_lease_ms,
        idle_ms=settings.outbox_idle_ms,
        sweep_s=settings.outbox_sweep_s,
    )
    task = asyncio.create_task(runner.run())
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await redis.aclose()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    asyncio.run(main())
