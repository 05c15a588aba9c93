"""The Redis adapter and the group-commit writer against a real Redis (no server process)."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from hub import keys
from hub.app import connect_redis
from hub.queue import rules
from hub.queue.facilities import Facility, FacilityStore
from hub.queue.model import (
    CallNext,
    IssueTicket,
    MarkAbsent,
    OpenReception,
    OpenWeb,
    QueueConfig,
    QueueState,
    Requeue,
    SetMessage,
)
from hub.queue.service import SNAPSHOT_EVERY, Idempotency, QueueService
from hub.queue.store import QueueStore
from tests.conftest import new_facility_number


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = connect_redis(redis_url)
    yield client
    await client.aclose()


def service_on(client: aioredis.Redis) -> QueueService:
    store = QueueStore(client, stream_maxlen=100_000, idempotency_ttl_s=60)
    return QueueService(store, FacilityStore(client))


async def new_queue(service: QueueService) -> str:
    number = new_facility_number()
    facility = Facility(number=number, name="t", counters={"01": ""})
    await service.create_facility(facility, QueueConfig(), time.time())
    info = f"{number}-01"
    for command in (OpenReception(at=time.time()), OpenWeb(at=time.time())):
        await service.execute(info, command, lambda s: None)
    return info


def number_of(ticket_id: str) -> object:
    return lambda s: s.tickets[ticket_id].number


async def test_replaying_the_stream_rebuilds_the_state(redis: aioredis.Redis) -> None:
    """Snapshot + tail (what readers load) equals the fold of every event ever appended."""
    service = service_on(redis)
    info = await new_queue(service)
    for i in range(3 * SNAPSHOT_EVERY + 5):
        now = time.time()
        await service.execute(info, IssueTicket(at=now, ticket_id=f"t{i}"), lambda s: None)
        if i % 3 == 2:
            await service.execute(info, CallNext(at=now, room=str(i % 2)), lambda s: None)
        if i % 7 == 6:
            await service.execute(info, MarkAbsent(at=now, ticket_id=f"t{i - 3}"), lambda s: None)
            await service.execute(info, Requeue(at=now, ticket_id=f"t{i - 3}"), lambda s: None)
    await service.execute(info, SetMessage(at=time.time(), text="お知らせ"), lambda s: None)
    loaded = await service.store.load_with_meta(info)
    assert loaded is not None
    assert loaded.snapshot_version < loaded.state.version  # a tail was replayed
    replayed = rules.evolve_all(
        QueueState(info=info, epoch=loaded.state.epoch), await service.store.read_events(info)
    )
    replayed.version = loaded.state.version
    assert replayed == loaded.state
    assert loaded.state == service.writer(info).state


async def test_a_stale_version_changes_nothing(redis: aioredis.Redis) -> None:
    service = service_on(redis)
    info = await new_queue(service)
    state = await service.store.load(info)
    assert state is not None
    work = state.copy()
    work.version += 1
    event = IssueTicket(at=time.time(), ticket_id="x")
    events = rules.decide(work, event)
    for e in events:
        rules.apply_in_place(work, e)
    result = await service.store.append(work, events, state.version - 1)
    assert (result.outcome, result.value) == ("conflict", state.version)
    assert await service.store.load(info) == state


async def test_500_simultaneous_takes_cost_a_handful_of_appends(redis: aioredis.Redis) -> None:
    service = service_on(redis)
    info = await new_queue(service)
    batches_before = service.writer(info).batches
    numbers = await asyncio.gather(
        *[
            service.execute(
                info, IssueTicket(at=time.time(), ticket_id=f"b{i}"), number_of(f"b{i}")
            )
            for i in range(500)
        ]
    )
    assert sorted(numbers) == list(range(1, 501))  # type: ignore[type-var]
    assert service.writer(info).batches - batches_before <= 5


async def test_two_processes_writing_one_queue_lose_nothing(redis_url: str) -> None:
    """Two services on separate connections (as two hub processes): the version check and
    the re-decide on conflict keep every number unique."""
    clients = [connect_redis(redis_url), connect_redis(redis_url)]
    try:
        a, b = service_on(clients[0]), service_on(clients[1])
        info = await new_queue(a)
        calls = [
            svc.execute(
                info, IssueTicket(at=time.time(), ticket_id=f"{n}{i}"), number_of(f"{n}{i}")
            )
            for i in range(100)
            for n, svc in (("a", a), ("b", b))
        ]
        numbers = await asyncio.gather(*calls)
        assert sorted(numbers) == list(range(1, 201))  # type: ignore[type-var]
        final = await a.store.load(info)
        assert final is not None and final.last_number == 200 and len(final.waiting) == 200
    finally:
        for client in clients:
            await client.aclose()


async def test_idempotency_key_is_atomic_with_the_append(redis: aioredis.Redis) -> None:
    service = service_on(redis)
    info = await new_queue(service)
    key = Idempotency("press-once", "fp")
    answers = await asyncio.gather(
        *[
            service.execute(
                info, IssueTicket(at=time.time(), ticket_id=f"i{i}"), lambda s: s.last_number, key
            )
            for i in range(10)
        ]
    )
    assert set(answers) == {1}
    other = service_on(redis)  # another process: only the stored answer can tell it
    again = await other.execute(
        info, IssueTicket(at=time.time(), ticket_id="late"), lambda s: s.last_number, key
    )
    assert again == 1
    state = await service.store.load(info)
    assert state is not None and state.last_number == 1
    mismatch = dataclasses.replace(key, fingerprint="other")
    with pytest.raises(Exception, match="different request"):
        await other.execute(info, IssueTicket(at=time.time(), ticket_id="x"), lambda s: 0, mismatch)


async def test_lost_writes_give_the_queue_a_new_epoch(redis: aioredis.Redis) -> None:
    """Redis comes back older than a hub saw it (lost acknowledged writes): the next append
    renews the epoch, so clients holding the lost, higher ``v`` take the new states."""
    from hub import keys

    service = service_on(redis)
    info = await new_queue(service)
    for i in range(3):
        await service.execute(info, IssueTicket(at=time.time(), ticket_id=f"k{i}"), lambda s: None)
    saved = {k: await redis.dump(k) for k in (keys.queue(info), keys.log(info))}
    for i in range(3, 5):
        await service.execute(info, IssueTicket(at=time.time(), ticket_id=f"k{i}"), lambda s: None)
    seen = service.writer(info).state
    assert seen is not None
    for key, value in saved.items():  # what an OS crash with appendfsync everysec can do
        await redis.restore(key, 0, value, replace=True)
    after = await service.execute(
        info, IssueTicket(at=time.time(), ticket_id="new"), lambda s: (s.epoch, s.version)
    )
    assert after[0] != seen.epoch and after[1] == seen.version - 1
    stored = await service.store.load(info)
    assert stored is not None and (stored.epoch, stored.version) == after
    assert stored.tickets["new"].number == 4  # numbering continues from what Redis kept


async def test_a_refused_retry_gets_the_first_answer(redis: aioredis.Redis) -> None:
    """A retry decided after its first attempt succeeded (a later batch, another process)
    is refused by the rules, but the client gets the stored first answer."""
    from hub.queue.model import Cancel

    service = service_on(redis)
    info = await new_queue(service)
    await service.execute(info, IssueTicket(at=time.time(), ticket_id="c"), lambda s: None)
    key = Idempotency("cancel-once", "fp")
    first = await service.execute(
        info, Cancel(at=time.time(), ticket_id="c"), lambda s: s.tickets["c"].status, key
    )
    assert first == "cancelled"
    retry = asyncio.get_running_loop().create_future()  # straight to the writer, as a
    from hub.queue.service import _Pending  # retry that missed the early lookup would

    service.writer(info).submit(
        _Pending(Cancel(at=time.time(), ticket_id="c"), lambda s: "second", key, retry)
    )
    assert await retry == "cancelled"


class CountingFacilityStore(FacilityStore):
    """The real store on the real Redis, counting its reads of a record."""

    reads = 0

    async def get(self, number: str) -> Facility | None:
        self.reads += 1
        return await super().get(number)


async def test_facility_cache_shares_one_read_per_burst_and_refreshes_in_the_background(
    redis: aioredis.Redis,
) -> None:
    """Take-a-ticket reads the facility's limits from this cache: 500 requests arriving at
    07:30:00 on a cold cache cost one Redis read, and an expired record is served while one
    background read refreshes it."""
    store = CountingFacilityStore(redis)
    number = new_facility_number()
    assert await store.create(Facility(number=number, name="before", counters={"01": ""}))
    got = await asyncio.gather(*(store.cached(number) for _ in range(500)))
    assert {f.name for f in got if f is not None} == {"before"} and store.reads == 1

    key = keys.facility(number)  # another process renames it
    await redis.set(key, (await redis.get(key) or b"").replace(b"before", b"after!"))
    store._cache[number] = (0.0, store._cache[number][1])  # expired
    stale = await asyncio.gather(*(store.cached(number) for _ in range(100)))
    assert all(f is not None and f.name == "before" for f in stale), "no request waited"
    await asyncio.sleep(0.05)
    assert store.reads == 2, "one background refresh for the hundred"
    fresh = await store.cached(number)
    assert fresh is not None and fresh.name == "after!"

    assert store.reads == 2, "the refreshed record is cached again"
    store.forget(number)  # a change made in this process: the next read is fresh
    assert await store.cached(number) is not None and store.reads == 3
