"""Hub processes started with particular settings: service hours and rate limits."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from tests.conftest import make_facility, staff_headers, start_hub


def hours_excluding_now() -> str:
    """A one-hour operating window twelve hours away from the current Tokyo time."""
    start = datetime.now(ZoneInfo("Asia/Tokyo")) + timedelta(hours=12)
    end = start + timedelta(hours=1)
    return f"{start:%H}:00-{end:%H}:00"


async def test_outside_service_hours_refuses_web_tickets_only(redis_url: str) -> None:
    hub = start_hub(redis_url, JUNBAN_SERVICE_HOURS=hours_excluding_now())
    try:
        async with httpx.AsyncClient(base_url=hub.base_url) as client:
            facility = await make_facility(client)
            info = f"{facility}-01"
            r = await client.post(f"/v1/queues/{info}/tickets")
            assert r.status_code == 503
            assert r.json()["error"]["code"] == "outside_service_hours"
            desk = await client.post(
                f"/v1/queues/{info}/tickets",
                json={"channel": "desk"},
                headers=staff_headers(facility),
            )
            assert desk.status_code == 201  # staff actions still work
            view = (await client.get(f"/v1/queues/{info}")).json()
            assert view["last_number"] == 1
    finally:
        hub.stop()


async def test_rate_limits_per_ip_and_per_facility(redis_url: str) -> None:
    hub = start_hub(redis_url, JUNBAN_RATE_IP="3/60", JUNBAN_RATE_FACILITY="1000/60")
    try:
        async with httpx.AsyncClient(base_url=hub.base_url) as client:
            facility = await make_facility(client)
            info = f"{facility}-01"
            # the client address comes from X-Forwarded-For (the test client is a trusted proxy)
            patient = {"X-Forwarded-For": f"203.0.113.{int(facility) % 250}"}
            pressed = {**patient, "Idempotency-Key": "first-press"}
            first = await client.post(f"/v1/queues/{info}/tickets", headers=pressed)
            codes = [
                (await client.post(f"/v1/queues/{info}/tickets", headers=patient)).status_code
                for _ in range(3)
            ]
            assert [first.status_code, *codes] == [201, 201, 201, 429]
            r = await client.post(f"/v1/queues/{info}/tickets", headers=patient)
            assert r.json()["error"]["code"] == "rate_limited"
            assert int(r.headers["retry-after"]) >= 1
            # a retry of the ticket it already has is answered, limit or not
            again = await client.post(f"/v1/queues/{info}/tickets", headers=pressed)
            assert again.status_code == 201 and again.json()["ticket"] == first.json()["ticket"]
            other_patient = {"X-Forwarded-For": "198.51.100.7"}
            ok = await client.post(f"/v1/queues/{info}/tickets", headers=other_patient)
            assert ok.status_code == 201
            # staff issuing is not limited
            desk = await client.post(
                f"/v1/queues/{info}/tickets",
                json={"channel": "desk"},
                headers=staff_headers(facility),
            )
            assert desk.status_code == 201
            assert (await client.get(f"/v1/queues/{info}")).json()["last_number"] == 5
    finally:
        hub.stop()
    hub = start_hub(redis_url, JUNBAN_RATE_FACILITY="2/60")
    try:
        async with httpx.AsyncClient(base_url=hub.base_url) as client:
            facility = await make_facility(client)
            # the facility's budget is shared by all its counters (and by every hub process)
            codes = [
                (await client.post(f"/v1/queues/{facility}-{c}/tickets")).status_code
                for c in ("01", "02", "01")
            ]
            assert codes == [201, 201, 429]
    finally:
        hub.stop()
