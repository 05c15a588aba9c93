"""The phone worker and ``place_call.lua`` against a real Redis: an outbox entry handed twice
(a crash before the acknowledgement) calls once; the limits hold; the option gates it."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from hub.outbox.entry import OutboxEntry
from hub.phone.providers import dev
from hub.phone.rules import PhoneSettings
from hub.phone.service import PhoneService
from hub.phone.store import PhoneStore
from hub.phone.worker import PhoneGroup
from hub.queue.facilities import Facility, FacilityStore


class Annotations:
    """Where the service writes ``phone.status`` (the queue itself is not under test)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str, str]] = []

    async def annotate(self, info: str, ticket_id: str, key: str, value: str) -> None:
        self.seen.append((info, ticket_id, key, value))


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def facility(redis: aioredis.Redis, options: tuple[str, ...] | None = None) -> str:
    number = str(random.randint(10_000_000, 99_999_999))
    await FacilityStore(redis).create(
        Facility(number=number, name="デモクリニック", options=options)
    )
    return number


def service(redis: aioredis.Redis, notes: Annotations) -> PhoneService:
    return PhoneService(
        PhoneStore(redis),
        FacilityStore(redis),
        notes,  # type: ignore[arg-type]
        lambda: httpx.AsyncClient(),
        public_url="http://hub.test",
        server_hours=("00:00", "24:00"),
    )


def entry(number: str, n: int, body: dict[str, Any], ms: int) -> OutboxEntry:
    return OutboxEntry(f"{ms}-{n}", number, f"{number}-01", n, "e", (), body)


def ticket(tid: str, number: int) -> dict[str, Any]:
    return {"id": tid, "number": number, "status": "waiting", "phone": "+819012345678",
            "phone_consent": {"at": 1.0, "by": "patient", "text_version": "v"}}  # fmt: skip


async def test_an_entry_handed_twice_calls_once(redis: aioredis.Redis) -> None:
    import time

    number = await facility(redis)
    notes = Annotations()
    svc = service(redis, notes)
    await svc.store.put_settings(number, PhoneSettings(window=("00:00", "24:00"), threshold=1))
    group = PhoneGroup(svc)
    now_ms = int(time.time() * 1000)
    issued = {"events": [["ticket_issued", {"ticket": {"id": "b"}}]],
              "tickets": {"b": ticket("b", 2)}, "waiting": ["a", "x", "b"]}  # fmt: skip
    moved = {
        "events": [["ticket_called", {"ticket_id": "a"}]],
        "tickets": {},
        "waiting": ["x", "b"],
    }
    before = len(dev.SAID)
    await group.handle(number, [entry(number, 1, issued, now_ms)])
    await group.handle(number, [entry(number, 2, moved, now_ms)])
    await group.handle(number, [entry(number, 2, moved, now_ms)])  # redelivered after a crash
    said = dev.SAID[before:]
    assert len(said) == 1 and "受付番号2番の方、まもなく順番です。あと1人です。" in said[0].text
    assert (f"{number}-01", "b", "phone.status", "initiated") in notes.seen


async def test_stale_entries_are_acknowledged_without_calling(redis: aioredis.Redis) -> None:
    import time

    number = await facility(redis)
    svc = service(redis, Annotations())
    await svc.store.put_settings(number, PhoneSettings(window=("00:00", "24:00"), threshold=1))
    group = PhoneGroup(svc)
    old_ms = int((time.time() - 700) * 1000)
    issued = {"events": [], "tickets": {"b": ticket("b", 2)}, "waiting": ["a", "x", "b"]}
    moved = {"events": [], "tickets": {}, "waiting": ["x", "b"]}
    before = len(dev.SAID)
    await group.handle(number, [entry(number, 1, issued, old_ms), entry(number, 2, moved, old_ms)])
    assert len(dev.SAID) == before


async def test_place_call_holds_the_limits(redis: aioredis.Redis) -> None:
    number = await facility(redis)
    store = PhoneStore(redis)
    config = PhoneSettings(daily_cap=4)
    fields = {"info": f"{number}-01", "ticket": "t", "to": "+819012345678"}
    assert await store.place(number, "c1", "t", "near", config, fields, 1000.0) == "ok"
    assert await store.place(number, "c2", "t", "near", config, fields, 1000.0) == "duplicate"
    assert await store.place(number, "c3", "t", "manual", config, fields, 1000.0) == "ok"
    assert await store.place(number, "c4", "u", "manual", config, fields, 1000.0) == "busy"
    await store.update(number, "c1", "completed", 1001.0)
    assert await store.place(number, "c5", "t", "manual", config, fields, 1002.0) == "ok"
    await store.update(number, "c3", "busy", 1003.0)
    await store.update(number, "c5", "busy", 1003.0)
    assert await store.place(number, "c6", "t", "manual", config, fields, 1004.0) == "ticket_cap"
    assert await store.place(number, "c7", "u", "manual", config, fields, 1004.0) == "ok"
    assert await store.place(number, "c8", "v", "manual", config, fields, 1004.0) == "daily_cap"
    assert (await store.get(number, "c2")) == {}


async def test_without_the_option_nothing_is_called(redis: aioredis.Redis) -> None:
    from hub.errors import Forbidden

    number = await facility(redis, options=("emr",))
    svc = service(redis, Annotations())
    assert not await PhoneGroup(svc).wants(number)
    with pytest.raises(Forbidden) as refused:
        await svc.history(number, None, None, 0.0)
    assert refused.value.code == "option_not_contracted"


async def test_the_group_reads_a_facility_only_after_a_consenting_ticket(
    redis: aioredis.Redis,
) -> None:
    from hub import keys

    number = await facility(redis, options=("phone",))
    group = PhoneGroup(service(redis, Annotations()))
    assert not await group.wants(number)  # the option, but nobody consented: skipped
    await redis.set(keys.phone_consented(number), "1", ex=60)  # take_ticket's mark
    assert await group.wants(number)
