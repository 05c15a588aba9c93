"""Contract gates on outbound hand-offs: a suspended facility sends nothing, and what waited
goes out, in order, once it is resumed (no loss). Real hub, real receiver."""

from __future__ import annotations

import asyncio

import httpx

from hub.integrations.dispatch import may_send
from hub.queue.facilities import Facility
from tests.conftest import OPERATOR, make_facility, staff_headers
from tests.integrations.test_webhooks import (  # noqa: F401 (receiver: the fixture)
    Receiver,
    add_hook,
    receiver,
    take,
    unique_name,
    until,
)


def test_may_send_follows_suspension_and_the_kinds_option() -> None:
    plain = Facility(number="1", name="x", options=("api",))
    assert may_send(plain, "webhook") and not may_send(plain, "orca")
    assert may_send(Facility(number="1", name="x", options=("emr",)), "fhir")
    assert may_send(Facility(number="1", name="x", options=None), "orca")  # no contract: all
    assert not may_send(Facility(number="1", name="x", suspended=True), "webhook")
    assert not may_send(None, "webhook")


async def test_a_suspended_facility_holds_its_webhooks_and_sends_them_on_resume(
    client: httpx.AsyncClient,
    receiver: Receiver,  # noqa: F811 (the fixture imported above)
) -> None:
    facility = await make_facility(client, ("01",))
    name = unique_name()
    created = await add_hook(client, receiver, facility, name)
    first = await take(client, facility)
    await until(lambda: asyncio.sleep(0, receiver.log(name)["received"]))
    r = await client.post(f"/v1/admin/facilities/{facility}/suspend", json={"reason": "test"},
                          headers=OPERATOR)  # fmt: skip
    assert r.status_code == 200, r.text
    await asyncio.sleep(2.5)  # the dispatcher's facility record cache (about 2 s)
    base = f"/v1/facilities/{facility}/integrations/endpoints/{created['id']}"
    r = await client.post(base + "/test", headers=staff_headers(facility))
    assert r.status_code == 202, r.text
    await asyncio.sleep(3)
    received = receiver.log(name)["received"]
    assert [v["type"] for v in received.values()] == ["ticket.issued"]  # the ping waits
    r = await client.post(f"/v1/admin/facilities/{facility}/resume", headers=OPERATOR)
    assert r.status_code == 200, r.text
    await until(lambda: asyncio.sleep(0, len(receiver.log(name)["received"]) == 2), timeout=20)
    kinds = [v["type"] for v in receiver.log(name)["received"].values()]
    assert kinds == ["ticket.issued", "ping"]
    issued = next(iter(receiver.log(name)["received"].values()))
    assert issued["data"]["ticket"]["id"] == first
