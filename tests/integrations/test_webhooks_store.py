"""The endpoint store against a real Redis: secrets sealed at rest, bound to their endpoint,
re-sealed after a rotation, unreadable (要再設定) without the old secret."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import msgspec
import pytest
import redis.asyncio as aioredis

from hub import keys
from hub import secrets as sealing
from hub.integrations.endpoints import Endpoint, EndpointStore, new_id, new_webhook_secret
from tests.conftest import new_facility_number

OLD = "the old junban secret, 32 bytes or more"
NEW = "the new junban secret, 32 bytes or more"


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[EndpointStore]:
    client = aioredis.Redis.from_url(redis_url, protocol=2)
    yield EndpointStore(client)
    await client.aclose()
    sealing.configure(OLD)


def endpoint(facility: str, secret: str) -> Endpoint:
    return Endpoint(
        id=new_id(), facility=facility, kind="webhook", url="https://example.com/h",
        events=(), counters=("01",), personal=False, enabled=True, config={}, secret=secret,
        created_at=1.0,
    )  # fmt: skip


async def test_secrets_are_sealed_at_rest_and_survive_a_rotation(store: EndpointStore) -> None:
    sealing.configure(OLD)
    facility = new_facility_number()
    secret = new_webhook_secret()
    saved = await store.put(endpoint(facility, secret))
    raw = await store.redis.get(keys.endpoint(facility, saved.id))
    assert raw is not None and secret.encode() not in raw and secret[6:].encode() not in raw
    assert (await store.get(facility, saved.id)) == saved
    assert [e.id for e in await store.list(facility)] == [saved.id]

    sealing.configure(NEW)  # JUNBAN_SECRET changed, the previous one forgotten
    lost = await store.get(facility, saved.id)
    assert lost is not None and lost.secret is None and lost.secret_unreadable
    assert lost.public()["needs_secret"] is True and "secret" not in lost.public()
    await store.put(lost)  # saving other settings keeps the stored ciphertext
    assert await store.redis.get(keys.endpoint(facility, saved.id)) is not None

    sealing.configure(NEW, previous=OLD)  # JUNBAN_SECRET_PREVIOUS set: read, then re-sealed
    found = await store.get(facility, saved.id)
    assert found is not None and found.secret == secret
    sealing.configure(NEW)
    again = await store.get(facility, saved.id)
    assert again is not None and again.secret == secret  # sealed under the new key now


async def test_a_ciphertext_moved_to_another_endpoint_does_not_open(store: EndpointStore) -> None:
    sealing.configure(OLD)
    facility = new_facility_number()
    a = await store.put(endpoint(facility, "whsec_" + "A" * 44))
    b = await store.put(endpoint(facility, "whsec_" + "B" * 44))
    raw_a = await store.redis.get(keys.endpoint(facility, a.id))
    raw_b = await store.redis.get(keys.endpoint(facility, b.id))
    assert raw_a is not None and raw_b is not None
    record_a = msgspec.msgpack.decode(raw_a)
    record_b = msgspec.msgpack.decode(raw_b)
    record_b["sealed"] = record_a["sealed"]
    await store.redis.set(keys.endpoint(facility, b.id), msgspec.msgpack.encode(record_b))
    moved = await store.get(facility, b.id)
    assert moved is not None and moved.secret is None and moved.secret_unreadable
    assert await store.delete(facility, a.id) and not await store.delete(facility, a.id)
    assert [e.id for e in await store.list(facility)] == [b.id]


async def test_the_client_refuses_inner_addresses_at_connect_time() -> None:
    """A name that resolves to loopback (as a rebinding DNS answer would) is refused by the
    client itself, before any byte is sent; with loopback allowed it connects."""
    from hub.integrations.guard import RefusedAddress, outbound_client
    from tests.conftest import free_port

    port = free_port()
    async with outbound_client(allow_private=True, allow_loopback=False) as client:
        with pytest.raises(RefusedAddress, match="loopback"):
            await client.get(f"http://localhost:{port}/")
    async with outbound_client(allow_private=False, allow_loopback=True) as client:
        with pytest.raises(httpx.ConnectError) as caught:  # nobody listens there
            await client.get(f"http://localhost:{port}/")
        assert not isinstance(caught.value, RefusedAddress)
