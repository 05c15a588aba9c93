"""The subscription store against a real Redis: sealed targets, the expiry two days after
the ticket's day, the compare-and-delete of a gone target, the index and the claims."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import AsyncIterator
from zoneinfo import ZoneInfo

import pytest
import redis.asyncio as aioredis

from hub import keys
from hub import secrets as sealing
from hub.notify.rules import Subscribed
from hub.notify.store import NotifyStore, expires_at
from tests.conftest import SECRET, new_facility_number


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[NotifyStore]:
    sealing.configure(SECRET)
    client = aioredis.from_url(redis_url)
    yield NotifyStore(client)
    await client.aclose()


def test_a_subscription_lives_until_two_days_after_its_day() -> None:
    end = dt.datetime(2026, 12, 10, tzinfo=ZoneInfo("Asia/Tokyo"))  # 7th + 1 day + 2 days
    assert expires_at("2026-12-07", "Asia/Tokyo") == int(end.timestamp())


async def test_targets_are_sealed_and_gone_ones_dropped_only_if_unchanged(
    store: NotifyStore,
) -> None:
    f = new_facility_number()
    today = dt.date.today().isoformat()
    sub = Subscribed(f"{f}-01", 43, 3, today)
    expire = expires_at(today, "Asia/Tokyo")
    await store.subscribe(f, "t1", "email", {"email": "a@example.jp"}, sub, expire)
    raw = await store.redis.hgetall(keys.ntf(f, "t1"))
    assert b"a@example.jp" not in b"".join(v for v in raw.values() if isinstance(v, bytes))
    assert 0 < await store.redis.ttl(keys.ntf(f, "t1")) <= expire - time.time() + 1
    targets = await store.targets(f, "t1")
    sealed, target = targets["email"]
    assert target == {"email": "a@example.jp"}
    assert (await store.index(f))["t1"] == sub
    # the patient subscribed again (a new address) before the failure came back
    await store.subscribe(f, "t1", "email", {"email": "b@example.jp"}, sub, expire)
    assert not await store.drop_if_same(f, "t1", "email", sealed)
    assert (await store.targets(f, "t1"))["email"][1] == {"email": "b@example.jp"}
    current = (await store.targets(f, "t1"))["email"][0]
    assert await store.drop_if_same(f, "t1", "email", current)
    assert await store.targets(f, "t1") == {} and await store.index(f) == {}


async def test_near_done_survives_a_new_channel_and_unsubscribe_clears_the_index(
    store: NotifyStore,
) -> None:
    f = new_facility_number()
    sub = Subscribed(f"{f}-01", 7, 3, dt.date.today().isoformat())
    await store.subscribe(f, "t1", "email", {"email": "a@example.jp"}, sub, int(time.time()) + 60)
    await store.near_done(f, "t1")
    await store.subscribe(f, "t1", "line", {"user_id": "U1"}, sub, int(time.time()) + 60)
    assert (await store.index(f))["t1"].near_done
    assert await store.unsubscribe(f, "t1", "email")
    assert await store.has_any(f)
    assert await store.unsubscribe(f, "t1", "line")
    assert not await store.unsubscribe(f, "t1", "line")
    assert not await store.has_any(f)


async def test_a_claim_is_taken_once_released_only_by_its_holder_and_then_sent(
    store: NotifyStore,
) -> None:
    f = new_facility_number()
    assert await store.claim(f, "t1", "near", 0, "a")
    assert not await store.claim(f, "t1", "near", 0, "b")
    await store.release(f, "t1", "near", 0, "b")  # not b's: stays
    assert not await store.claim(f, "t1", "near", 0, "b")
    await store.release(f, "t1", "near", 0, "a")
    assert await store.claim(f, "t1", "near", 0, "b")
    await store.mark_sent(f, "t1", "near", 0)
    assert not await store.claim(f, "t1", "near", 0, "c")
    assert await store.redis.ttl(keys.ntf_sent(f, "t1", "near", 0)) > 86_400
    assert await store.claim(f, "t1", "recalled", 1, "c")  # another trigger is its own
