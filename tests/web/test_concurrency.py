"""Many clients at once, one and two hub processes: nothing lost, nothing numbered twice."""

from __future__ import annotations

import asyncio

import httpx

from tests.conftest import HubProcess, make_facility, staff_headers, start_hub


async def burst(
    client: httpx.AsyncClient, info: str, takes: int, calls: int, staff: dict[str, str]
) -> tuple[list[httpx.Response], list[httpx.Response]]:
    take = [client.post(f"/v1/queues/{info}/tickets") for _ in range(takes)]
    call = [client.post(f"/v1/queues/{info}/call-next", headers=staff) for _ in range(calls)]
    results = await asyncio.gather(*take, *call)
    return list(results[:takes]), list(results[takes:])


async def test_50_takes_and_10_calls_at_once(hub: HubProcess) -> None:
    """Every number issued once, every ticket called at most once, nothing lost."""
    limits = httpx.Limits(max_connections=100)
    async with httpx.AsyncClient(base_url=hub.base_url, limits=limits, timeout=30) as client:
        facility = await make_facility(client)
        info, staff = f"{facility}-01", staff_headers(facility)
        takes, calls = await burst(client, info, 50, 10, staff)
        assert all(r.status_code == 201 for r in takes)
        numbers = sorted(r.json()["ticket"]["number"] for r in takes)
        assert numbers == list(range(1, 51))
        called = [r.json()["called"]["id"] for r in calls if r.status_code == 200]
        assert all(r.status_code in (200, 409) for r in calls)
        assert len(called) == len(set(called))
        state = (await client.get(f"/v1/queues/{info}/staff", headers=staff)).json()
        assert len(state["tickets"]) == 50
        statuses = {t["id"]: t["status"] for t in state["tickets"]}
        assert set(statuses) == {r.json()["ticket"]["id"] for r in takes}
        assert sum(s in ("called", "done") for s in statuses.values()) == len(called)
        assert state["waiting_count"] == 50 - len(called)


async def test_two_hub_processes_share_one_queue(hub: HubProcess, redis_url: str) -> None:
    """Commands through two processes on one Redis: the version check keeps numbers unique."""
    second = start_hub(redis_url)
    try:
        limits = httpx.Limits(max_connections=100)
        async with (
            httpx.AsyncClient(base_url=hub.base_url, limits=limits, timeout=30) as a,
            httpx.AsyncClient(base_url=second.base_url, limits=limits, timeout=30) as b,
        ):
            facility = await make_facility(a)
            info = f"{facility}-01"
            requests = [c.post(f"/v1/queues/{info}/tickets") for _ in range(40) for c in (a, b)]
            responses = await asyncio.gather(*requests)
            assert all(r.status_code == 201 for r in responses)
            numbers = sorted(r.json()["ticket"]["number"] for r in responses)
            assert numbers == list(range(1, 81))
            view_a = (await a.get(f"/v1/queues/{info}")).json()
            view_b = (await b.get(f"/v1/queues/{info}")).json()
            assert view_a == view_b and view_a["waiting_count"] == 80
            called = await b.post(f"/v1/queues/{info}/call-next", headers=staff_headers(facility))
            assert called.json()["called"]["number"] == 1
            assert (await a.get(f"/v1/queues/{info}")).json()["calling"][0]["number"] == 1
    finally:
        second.stop()


async def test_concurrent_retries_with_one_key_issue_one_ticket(hub: HubProcess) -> None:
    async with httpx.AsyncClient(base_url=hub.base_url, timeout=30) as client:
        facility = await make_facility(client)
        info = f"{facility}-01"
        key = {"Idempotency-Key": "same-press-twenty-times"}
        responses = await asyncio.gather(
            *[client.post(f"/v1/queues/{info}/tickets", headers=key) for _ in range(20)]
        )
        assert {r.status_code for r in responses} == {201}
        assert {r.json()["ticket"]["id"] for r in responses} == {
            responses[0].json()["ticket"]["id"]
        }
        assert (await client.get(f"/v1/queues/{info}")).json()["last_number"] == 1
