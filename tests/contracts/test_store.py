"""The contract store against a real Redis: its lock (redis-py ``Lock``) and its optimistic
updates (redis-py ``Redis.transaction``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import date

import pytest
import redis.asyncio as aioredis

from hub import keys
from hub.app import connect_redis
from hub.contracts import lifecycle
from hub.contracts.model import FeePlan
from hub.contracts.store import ContractRecord, ContractStore, new_contract_id
from hub.errors import Conflict, NotFound


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = connect_redis(redis_url)
    yield client
    await client.aclose()


async def stored(store: ContractStore) -> ContractRecord:
    contract = lifecycle.apply(
        new_contract_id(), "Clinic", ("reservation",), FeePlan(0, {"reservation": 1}), date.today()
    )
    record = ContractRecord(contract=contract)
    assert await store.create(record, time.time())
    return record


async def test_the_lock_has_one_holder_and_a_waiter_gets_it_once_released(
    redis: aioredis.Redis,
) -> None:
    store = ContractStore(redis)
    contract_id = new_contract_id()
    first = await store.lock(contract_id)
    assert first is not None
    assert await store.lock(contract_id) is None  # no wait: one try
    waiter = asyncio.create_task(store.lock(contract_id, wait_s=2.0))
    await asyncio.sleep(0.1)
    assert not waiter.done()
    await store.unlock(first)
    second = await waiter
    assert second is not None
    await store.unlock(second)
    assert await redis.exists(keys.contract_lock(contract_id)) == 0


async def test_an_expired_lock_never_releases_the_next_holders(redis: aioredis.Redis) -> None:
    store = ContractStore(redis)
    contract_id = new_contract_id()
    stale = await store.lock(contract_id, ttl_ms=50)
    assert stale is not None
    await asyncio.sleep(0.1)
    fresh = await store.lock(contract_id)
    assert fresh is not None
    await store.unlock(stale)  # quiet: not its lock any more
    assert await store.lock(contract_id) is None
    await store.unlock(fresh)
    await store.unlock(fresh)  # twice is quiet too


async def test_update_bumps_the_version_and_refuses_a_stale_one(redis: aioredis.Redis) -> None:
    store = ContractStore(redis)
    record = await stored(store)
    contract_id = record.contract.id
    updated = await store.update(contract_id, lambda r: r, time.time(), expected_version=1)
    assert updated.version == 2 and (await store.require(contract_id)).version == 2
    with pytest.raises(Conflict) as refused:
        await store.update(contract_id, lambda r: r, time.time(), expected_version=1)
    assert refused.value.code == "version_conflict"
    with pytest.raises(NotFound):
        await store.update(new_contract_id(), lambda r: r, time.time())


async def test_concurrent_updates_all_land(redis: aioredis.Redis) -> None:
    """Twenty updates at once on one record: WATCH conflicts are retried, none is lost."""
    store = ContractStore(redis)
    record = await stored(store)
    await asyncio.gather(
        *(store.update(record.contract.id, lambda r: r, time.time()) for _ in range(20))
    )
    assert (await store.require(record.contract.id)).version == 21


async def test_reschedule_leaves_a_newer_version_due(redis: aioredis.Redis) -> None:
    store = ContractStore(redis)
    record = await stored(store)
    contract_id = record.contract.id
    await store.update(contract_id, lambda r: r, 1.0)  # version 2, due at 1.0
    await store.reschedule(contract_id, seen_version=1, next_at=None)
    assert await redis.zscore(keys.CONTRACTS_DUE, contract_id) == 1.0
    await store.reschedule(contract_id, seen_version=2, next_at=None)
    assert await redis.zscore(keys.CONTRACTS_DUE, contract_id) is None
