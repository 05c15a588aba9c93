"""Two hub processes on one Redis agree: a refusal is never decided on a state another
process has changed since (issue 15's first finding: stale `web_closed` after a reopen)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import HubProcess, make_facility, staff_headers, start_hub


@pytest.fixture(scope="module")
def other_hub(redis_url: str) -> Iterator[HubProcess]:
    process = start_hub(redis_url)
    yield process
    process.stop()


async def test_a_refusal_on_one_hub_follows_a_change_on_the_other(
    client: httpx.AsyncClient, other_hub: HubProcess
) -> None:
    facility = await make_facility(client)
    info = f"{facility}-01"
    staff = staff_headers(facility)
    async with httpx.AsyncClient(base_url=other_hub.base_url, timeout=20) as b:
        assert (await client.post(f"/v1/queues/{info}/web/close", headers=staff)).status_code == 200
        refused = await b.post(f"/v1/queues/{info}/tickets")  # B now holds the closed state
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "web_closed"
        assert (await client.post(f"/v1/queues/{info}/web/open", headers=staff)).status_code == 200
        taken = await b.post(f"/v1/queues/{info}/tickets")
        assert taken.status_code == 201, taken.text
        assert taken.json()["ticket"]["number"] == 1
        # and the other way round: an empty queue on B, a ticket taken on A, call-next on B
        empty = await b.post(f"/v1/queues/{facility}-02/call-next", json={}, headers=staff)
        assert empty.status_code == 409 and empty.json()["error"]["code"] == "queue_empty"
        assert (await client.post(f"/v1/queues/{facility}-02/tickets")).status_code == 201
        called = await b.post(f"/v1/queues/{facility}-02/call-next", json={}, headers=staff)
        assert called.status_code == 200, called.text
