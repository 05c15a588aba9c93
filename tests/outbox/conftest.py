"""A private Redis database for the outbox tests (flushed per test): their runners sweep
``jb:facilities`` and must see only the facilities they made."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from hub import keys
from tests.outbox.support import db_url

OUTBOX_DB = 7


@pytest.fixture
def outbox_url(redis_url: str) -> str:
    return db_url(redis_url, OUTBOX_DB)


@pytest.fixture
async def redis(outbox_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(outbox_url, protocol=2)
    await client.flushdb()
    yield client
    await client.aclose()


@pytest.fixture
async def facility(redis: aioredis.Redis) -> str:
    number = str(random.randint(10_000_000, 99_999_999))
    await redis.sadd(keys.FACILITIES, number)
    return number
