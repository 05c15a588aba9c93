"""The outbox runner in this process against a real Redis: every group sees every entry, in
order; a poison entry goes to the dead letters after 5 deliveries and can be replayed; the
outbox is trimmed to 8 days once a day, and idle consumers pruned; leases are given back
on the way out; the wakes of a busy facility share passes; a group skips the entries of a
facility it does not want; a commit's passes are light, a sweep's and a group's own
wake-up's full."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
import redis.asyncio as aioredis

from hub import keys
from hub.errors import NotFound, Unavailable
from hub.outbox.consumer import (
    MAX_DELIVERIES,
    Group,
    ensure_groups,
    prune_consumers,
    wake_group,
)
from hub.outbox.dead import DeadLetters
from hub.outbox.runner import OutboxRunner
from hub.queue.facilities import FacilityStore
from tests.outbox.support import (
    POISON,
    RecordingGroup,
    append,
    entries_of,
    seen_key,
    started_key,
    until,
)

ME = "test-host:1"


def runner_of(redis: aioredis.Redis, groups: list[Group], **kw: float) -> OutboxRunner:
    options = {"lease_ms": 1000, "idle_ms": 1000, "sweep_s": 0.3, **kw}
    return OutboxRunner(
        redis,
        groups,
        FacilityStore(redis),
        consumer=ME,
        lease_ms=int(options["lease_ms"]),
        idle_ms=int(options["idle_ms"]),
        sweep_s=options["sweep_s"],
    )


@pytest.fixture
async def running() -> AsyncIterator[list[asyncio.Task[None]]]:
    """Runner tasks, cancelled after the test. A fresh-clone run once hung here for 120 s
    after the test had passed (the loop polled every lease / 3): the wait is bounded, and
    what was still running is printed, so that case can be read the next time."""
    tasks: list[asyncio.Task[None]] = []
    yield tasks
    for task in tasks:
        task.cancel()
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=10)
    if pending:
        print(f"{len(pending)} runner task(s) still running 10 s after cancel:", file=sys.stderr)
        for other in asyncio.all_tasks():
            other.print_stack(file=sys.stderr)


async def test_two_groups_each_see_every_entry_in_stream_order(
    redis: aioredis.Redis, facility: str, running: list[asyncio.Task[None]]
) -> None:
    groups: list[Group] = [
        RecordingGroup(redis, name, {facility}, ME) for name in ("alpha", "beta")
    ]
    await ensure_groups(redis, facility, ["alpha", "beta"])
    before = await append(redis, facility, 3)  # before any runner: still read (group at $)
    runner = runner_of(redis, groups)
    running.append(asyncio.create_task(runner.run()))
    ids = list(before)
    for burst in range(5):  # bursts of more than one read's COUNT (100)
        ids += await append(redis, facility, 47 if burst % 2 else 130, v0=len(ids))
    for name in ("alpha", "beta"):

        async def done(name: str = name) -> bool:
            return len(await entries_of(redis, seen_key(facility, name))) >= len(ids)

        await until(done, 15, f"group {name} to see {len(ids)} entries")
        seen = [entry_id for entry_id, _ in await entries_of(redis, seen_key(facility, name))]
        assert seen == ids  # each exactly once, in stream order

    async def acknowledged() -> bool:  # the last batch is acknowledged after it is handled
        return (await redis.xpending(keys.outbox(facility), "alpha"))["pending"] == 0

    await until(acknowledged, 5, "every entry acknowledged")
    assert await redis.get(keys.outbox_lease(facility, "alpha")) == ME.encode()
    running.pop().cancel()

    async def given_back() -> bool:
        return await redis.get(keys.outbox_lease(facility, "alpha")) is None

    await until(given_back, 2, "the lease given back on the way out")


async def test_a_group_created_later_starts_at_the_end(
    redis: aioredis.Redis, facility: str
) -> None:
    await ensure_groups(redis, facility, ["alpha"])
    await append(redis, facility, 5)
    await ensure_groups(redis, facility, ["alpha", "late"])  # BUSYGROUP of alpha ignored
    groups = {g["name"]: g for g in await redis.xinfo_groups(keys.outbox(facility))}
    assert groups[b"late"]["lag"] == 0 and groups[b"alpha"]["lag"] == 5


async def test_a_poison_entry_goes_to_the_dead_letters_after_5_deliveries_and_replays(
    redis: aioredis.Redis, facility: str, running: list[asyncio.Task[None]]
) -> None:
    group = RecordingGroup(redis, "alpha", {facility}, ME)
    await ensure_groups(redis, facility, ["alpha"])
    runner = runner_of(redis, [group])
    runner.retry_s = 0.1
    running.append(asyncio.create_task(runner.run()))
    first = await append(redis, facility, 2)
    poison = await append(redis, facility, 1, kinds=f"ticket_called,{POISON}", v0=2)
    after = await append(redis, facility, 2, v0=3)
    dead = keys.outbox_dead(facility)

    async def buried() -> bool:
        return bool(await redis.xlen(dead))

    await until(buried, 15, "the poison entry in the dead letters")

    async def rest_seen() -> bool:
        return len({i for i, _ in await entries_of(redis, seen_key(facility, "alpha"))}) == 4

    await until(rest_seen, 5, "the entries after it")
    seen = [i for i, _ in await entries_of(redis, seen_key(facility, "alpha"))]
    # the batch that failed is handed again (at least once), entry by entry; nothing after
    # the poison entry went before it
    assert list(dict.fromkeys(seen)) == first + after
    tries = [i for i, _ in await entries_of(redis, started_key(facility, "alpha"))]
    assert tries.count(poison[0]) == MAX_DELIVERIES
    assert await redis.xpending(keys.outbox(facility), "alpha") == {
        "pending": 0,
        "min": None,
        "max": None,
        "consumers": [],
    }

    letters = DeadLetters(redis, FacilityStore(redis), [group])
    await redis.set(keys.facility(facility), msgspec.msgpack.encode(_facility(facility)))
    listed = (await letters.list(facility))["dead"]
    assert len(listed) == 1
    row = listed[0]
    assert row["entry"] == poison[0] and row["group"] == "alpha"
    assert row["deliveries"] == MAX_DELIVERIES and "cannot take" in row["error"]
    assert row["info"] == f"{facility}-01" and row["v"] == 3
    assert row["kinds"] == ["ticket_called", POISON] and abs(row["at"] - time.time()) < 30

    with pytest.raises(Unavailable) as failed:  # still poison: kept
        await letters.replay(facility, row["id"])
    assert failed.value.code == "replay_failed"
    assert await redis.xlen(dead) == 1
    with pytest.raises(NotFound):
        await letters.replay(facility, "1-0")
    with pytest.raises(NotFound):
        await letters.replay(facility, "not-an-id")

    group.refuse_poison, group.consumer = False, "replayer"  # its receiver was fixed
    answer = await letters.replay(facility, row["id"])
    assert answer["replayed"]["entry"] == poison[0]
    assert await redis.xlen(dead) == 0
    assert (poison[0], "replayer") in await entries_of(redis, seen_key(facility, "alpha"))


def _facility(number: str) -> object:
    from hub.queue.facilities import Facility

    return Facility(number=number, name="c", address="a", hours="h", counters={"01": "x"})


async def test_the_outbox_is_trimmed_to_8_days_once_a_day(
    redis: aioredis.Redis, facility: str
) -> None:
    now = time.time()
    stream = keys.outbox(facility)
    old = int((now - 9 * 86400) * 1000)
    young = int((now - 7 * 86400) * 1000)
    for ms in (old, old + 1, young):
        await redis.xadd(stream, {"info": "x"}, id=f"{ms}-0")
    await redis.xadd(stream, {"info": "x"})
    runner = runner_of(redis, [RecordingGroup(redis, "alpha", set(), ME)])
    assert await runner.trim(facility, now)
    ids = [i.decode() for i, _ in await redis.xrange(stream)]
    assert len(ids) == 2 and ids[0] == f"{young}-0"
    assert not await runner.trim(facility, now + 60)  # once a day (across processes)
    assert await runner.trim(facility, now + 86400)


async def test_consumers_idle_with_nothing_pending_are_pruned_at_once(
    redis: aioredis.Redis, facility: str
) -> None:
    stream = keys.outbox(facility)
    await ensure_groups(redis, facility, ["alpha"])
    await redis.xadd(stream, {"info": "x"})
    await redis.xadd(stream, {"info": "y"})
    read: Any = await redis.xreadgroup("alpha", "old:1", {stream: ">"}, count=1)
    await redis.xack(stream, "alpha", read[0][1][0][0])  # done: nothing pending
    await redis.xreadgroup("alpha", "busy:2", {stream: ">"}, count=1)  # one pending entry
    await asyncio.sleep(0.05)
    assert await prune_consumers(redis, facility, ["alpha", "no-such-group"], idle_ms=20) == 1
    names = {c["name"] for c in await redis.xinfo_consumers(stream, "alpha")}
    assert names == {b"busy:2"}  # kept: its entry stays pending, to be claimed
    assert (await redis.xpending(stream, "alpha"))["pending"] == 1
    assert await prune_consumers(redis, facility, ["alpha"]) == 0  # a day by default


async def test_one_failing_facility_does_not_stop_the_others(
    redis: aioredis.Redis, facility: str, running: list[asyncio.Task[None]]
) -> None:
    broken = "99999999"
    await redis.sadd(keys.FACILITIES, broken)
    await redis.set(keys.outbox(broken), "not a stream")  # every read of it fails
    group = RecordingGroup(redis, "alpha", {facility, broken}, ME)
    runner = runner_of(redis, [group])
    running.append(asyncio.create_task(runner.run()))
    await until(lambda: _ensured(runner, facility), 5, "the sweep")
    await redis.publish(keys.OUTBOX_WAKE, broken)
    ids = await append(redis, facility, 3)

    async def seen() -> bool:
        return len(await entries_of(redis, seen_key(facility, "alpha"))) == 3

    await until(seen, 5, "the healthy facility's entries")
    assert [i for i, _ in await entries_of(redis, seen_key(facility, "alpha"))] == ids
    assert not running[0].done()


async def _ensured(runner: OutboxRunner, facility: str) -> bool:
    return facility in runner.ensured


async def run_alpha(
    redis: aioredis.Redis, facility: str, running: list[asyncio.Task[None]]
) -> tuple[RecordingGroup, OutboxRunner]:
    """A runner of one recording group "alpha" that wants ``facility``, with no sweep after
    its first (the wakes alone serve it), running until the test ends."""
    group = RecordingGroup(redis, "alpha", {facility}, ME)
    await ensure_groups(redis, facility, ["alpha"])
    runner = runner_of(redis, [group], sweep_s=60)
    running.append(asyncio.create_task(runner.run()))
    return group, runner


async def test_the_wakes_of_a_busy_facility_share_passes(
    redis: aioredis.Redis, facility: str, running: list[asyncio.Task[None]]
) -> None:
    group, runner = await run_alpha(redis, facility, running)
    await until(lambda: _ensured(runner, facility), 5, "the first sweep")
    passes = runner.passes
    ids: list[str] = []
    for n in range(40):  # a wake every 10 ms for 0.4 s
        ids += await append(redis, facility, 1, v0=n)
        await asyncio.sleep(0.01)

    async def seen() -> bool:
        return len(await entries_of(redis, seen_key(facility, "alpha"))) == len(ids)

    await until(seen, 5, "every entry")
    assert [i for i, _ in await entries_of(redis, seen_key(facility, "alpha"))] == ids
    assert runner.passes - passes <= 12  # one pass per 0.1 s at most, not one per wake


async def test_a_group_skips_the_entries_of_a_facility_it_does_not_want(
    redis: aioredis.Redis, facility: str, running: list[asyncio.Task[None]]
) -> None:
    alpha = RecordingGroup(redis, "alpha", {facility}, ME)
    beta = RecordingGroup(redis, "beta", set(), ME)  # no endpoint, no subscription …
    await ensure_groups(redis, facility, ["alpha", "beta"])
    runner = runner_of(redis, [alpha, beta], sweep_s=60)
    running.append(asyncio.create_task(runner.run()))
    await until(lambda: _ensured(runner, facility), 5, "the first sweep")
    early = await append(redis, facility, 5)

    async def alpha_saw(count: int) -> bool:
        return len(await entries_of(redis, seen_key(facility, "alpha"))) == count

    await until(lambda: alpha_saw(5), 5, "alpha to see 5 entries")
    stream = keys.outbox(facility)

    async def beta_moved() -> bool:
        groups = {g["name"]: g for g in await redis.xinfo_groups(stream)}
        return bool(groups[b"beta"]["last-delivered-id"] == early[-1].encode())

    await until(beta_moved, 5, "beta's position at the last entry")
    groups = {g["name"]: g for g in await redis.xinfo_groups(stream)}
    assert groups[b"beta"]["pending"] == 0 and groups[b"beta"]["lag"] == 0
    assert await entries_of(redis, started_key(facility, "beta")) == []
    assert beta.idle_calls == 0
    await asyncio.sleep(0.5)  # past the second pass after the wake: beta now idles 5 s
    beta.facilities.add(facility)  # now it has something to do: only what comes after
    later = await append(redis, facility, 2, v0=5)  # its wake waits out beta's idle gap …
    await wake_group(redis, facility, "beta")  # … which this ends

    async def beta_saw() -> bool:
        return len(await entries_of(redis, seen_key(facility, "beta"))) == 2

    await until(beta_saw, 1, "beta to see the 2 later entries at once")
    assert [i for i, _ in await entries_of(redis, seen_key(facility, "beta"))] == later


async def test_the_commits_a_wake_did_not_announce_are_read_one_window_later(
    redis: aioredis.Redis, facility: str, running: list[asyncio.Task[None]]
) -> None:
    group, runner = await run_alpha(redis, facility, running)
    await until(lambda: _ensured(runner, facility), 5, "the first sweep")
    ids = await append(redis, facility, 1)
    await asyncio.sleep(0.02)
    ids += await append(redis, facility, 3, v0=1, wake=False)  # in the window: no wake

    async def seen() -> bool:
        return len(await entries_of(redis, seen_key(facility, "alpha"))) == len(ids)

    await until(seen, 2, "the unannounced entries")
    assert [i for i, _ in await entries_of(redis, seen_key(facility, "alpha"))] == ids


async def test_a_commits_passes_are_light_and_a_groups_own_wake_up_is_full(
    redis: aioredis.Redis, facility: str, running: list[asyncio.Task[None]]
) -> None:
    group, runner = await run_alpha(redis, facility, running)

    async def idled(count: int) -> bool:
        return len(group.idle_full) >= count

    await until(lambda: idled(1), 5, "the first sweep's pass")
    assert group.idle_full == [True]  # the lease was just taken: pending entries recovered
    ids = await append(redis, facility, 1)
    await until(lambda: idled(3), 5, "the commit's pass and the one a window later")
    await asyncio.sleep(0.3)
    light = len(group.idle_full)
    assert group.idle_full[1:] == [False] * (light - 1)  # nothing pending: no recovery
    assert [i for i, _ in await entries_of(redis, seen_key(facility, "alpha"))] == ids
    await wake_group(redis, facility, "alpha")  # an endpoint made, a test event …
    await until(lambda: idled(light + 1), 1, "the group's own wake-up")
    assert group.idle_full[light] is True
