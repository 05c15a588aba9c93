"""Time-band reservations under concurrency, on real Redis through two real hub processes
(design clinic-operations.md, "Tests on a machine with no internet" and "Bar"): no band is
ever overbooked, one booking becomes at most one ticket, one Idempotency-Key makes one
booking.

Patients book anonymously (channel web), as they would: both hubs are ``start_hub``
processes, whose environment (``tests/conftest.py``, ``HubProcess``) lifts the Art. 37 rate
limits (``JUNBAN_RATE_IP`` and ``JUNBAN_RATE_FACILITY`` = 1000000/1), so the 300 requests
from one address all reach the booking book while still passing through the rate-limit
script. Check-ins are made by staff (a patient cannot book a band that has started, and a
band must cover now to check in), so their bookings are staff (desk) bookings.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.booking.helpers import booking_facility, hhmm, local, noon_zone, today
from tests.conftest import HubProcess, staff_headers, start_hub

LIMITS = httpx.Limits(max_connections=200, max_keepalive_connections=200)


@pytest.fixture(scope="module")
def other_hub(redis_url: str) -> Iterator[HubProcess]:
    """A second hub process on the same Redis (rate limits lifted like the shared one)."""
    process = start_hub(redis_url)
    yield process
    process.stop()


@pytest.fixture
async def two_clients(
    hub: HubProcess, other_hub: HubProcess
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    async with (
        httpx.AsyncClient(base_url=hub.base_url, limits=LIMITS, timeout=60) as a,
        httpx.AsyncClient(base_url=other_hub.base_url, limits=LIMITS, timeout=60) as b,
    ):
        yield a, b


def _body(day: str, band: str, n: int) -> dict[str, Any]:
    return {"date": day, "band": band, "name": f"患者 {n}", "phone": f"090-0000-{n:04}"}


def _codes(responses: list[httpx.Response]) -> Counter[str]:
    """``"201"``, or ``"409 band_full"``: status and error code of each answer."""
    found: Counter[str] = Counter()
    for r in responses:
        code = r.json().get("error", {}).get("code") if r.status_code >= 400 else None
        found[f"{r.status_code} {code}" if code else str(r.status_code)] += 1
    return found


async def _later_band(client: httpx.AsyncClient, capacity: int) -> tuple[str, str, str]:
    """A facility whose counter 01 has one band starting about an hour from now (patients
    may book it): (info, date, band start)."""
    tz = noon_zone()
    start = hhmm(local(tz, 60))
    bands = [{"from": start, "to": hhmm(local(tz, 90)), "capacity": capacity}]
    info, _ = await booking_facility(client, bands=bands, tz=tz)
    return info, today(tz), start


async def test_300_bookings_for_10_places_through_two_hubs_give_exactly_10(
    two_clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    a, b = two_clients
    info, day, band = await _later_band(a, capacity=10)
    url = f"/v1/queues/{info}/bookings"
    responses = await asyncio.gather(
        *[(a, b)[n % 2].post(url, json=_body(day, band, n)) for n in range(300)]
    )
    codes = _codes(list(responses))
    assert codes == {"201": 10, "409 band_full": 290}, codes
    accepted = [r.json()["booking"] for r in responses if r.status_code == 201]
    assert len({x["id"] for x in accepted}) == 10
    assert all(x["band"]["from"] == band and x["status"] == "booked" for x in accepted)
    staff = staff_headers(info.split("-")[0])
    for client in (a, b):  # both processes read the same book
        book = (await client.get(url, params={"date": day}, headers=staff)).json()
        ids = [x["id"] for x in book["bookings"]]
        assert len(ids) == 10 and len(set(ids)) == 10
        assert set(ids) == {x["id"] for x in accepted}
        assert book["bands"][0]["remaining"] == 0
    one_more = await b.post(url, json=_body(day, band, 300))
    assert one_more.status_code == 409 and one_more.json()["error"]["code"] == "band_full"


async def test_two_check_ins_of_one_booking_on_two_hubs_give_one_ticket(
    two_clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    """Ten bookings of a band covering now; each is checked in twice at the same moment,
    once on each hub, all twenty at once: each booking is one ticket, both answers show it."""
    a, b = two_clients
    tz = noon_zone()
    bands = [{"from": hhmm(local(tz, -5)), "to": hhmm(local(tz, 60)), "capacity": 20}]
    info, _ = await booking_facility(a, bands=bands, tz=tz)
    staff = staff_headers(info.split("-")[0])
    ids = []
    for n in range(10):
        body = {**_body(today(tz), bands[0]["from"], n), "channel": "desk"}
        r = await a.post(f"/v1/queues/{info}/bookings", json=body, headers=staff)
        assert r.status_code == 201, r.text
        ids.append(r.json()["booking"]["id"])
    check_ins = [
        client.post(f"/v1/queues/{info}/bookings/{booking_id}/check-in", headers=staff)
        for booking_id in ids
        for client in (a, b)
    ]
    responses = await asyncio.gather(*check_ins)
    assert _codes(list(responses)) == {"200": 20}, [r.text for r in responses]
    numbers = {}
    for i, booking_id in enumerate(ids):
        first, second = responses[2 * i].json(), responses[2 * i + 1].json()
        assert first["ticket"]["id"] == second["ticket"]["id"] == booking_id
        assert first["ticket"]["number"] == second["ticket"]["number"]
        assert first["ticket"]["channel"] == "reserved"
        numbers[booking_id] = first["ticket"]["number"]
    assert sorted(numbers.values()) == list(range(1, 11))  # ten tickets, numbered once
    for client in (a, b):
        state = (await client.get(f"/v1/queues/{info}/staff", headers=staff)).json()
        tickets = Counter(t["id"] for t in state["tickets"])
        assert all(tickets[booking_id] == 1 for booking_id in ids), tickets
        assert len(state["tickets"]) == 10
        assert {t["id"]: t["number"] for t in state["tickets"]} == numbers
        book = (await client.get(f"/v1/queues/{info}/bookings", headers=staff)).json()
        assert {x["status"] for x in book["bookings"]} == {"checked_in"}


@pytest.mark.parametrize(("copies", "both_hubs"), [(2, False), (20, False), (2, True)])
async def test_one_idempotency_key_sent_at_once_makes_one_booking(
    two_clients: tuple[httpx.AsyncClient, httpx.AsyncClient], copies: int, both_hubs: bool
) -> None:
    """The same Idempotency-Key and body sent ``copies`` times at the same moment (to one
    hub, or alternately to both): one booking, every answer the same."""
    a, b = two_clients
    clients = (a, b) if both_hubs else (a,)
    info, day, band = await _later_band(a, capacity=5)
    url = f"/v1/queues/{info}/bookings"
    key = {"Idempotency-Key": f"press-{copies}-{both_hubs}"}
    body = _body(day, band, 1)
    responses = await asyncio.gather(
        *[clients[n % len(clients)].post(url, json=body, headers=key) for n in range(copies)]
    )
    assert _codes(list(responses)) == {"201": copies}, [r.text for r in responses]
    ids = {r.json()["booking"]["id"] for r in responses}
    assert len(ids) == 1, ids
    assert len({r.json()["token"] for r in responses}) == 1
    staff = staff_headers(info.split("-")[0])
    book = (await a.get(url, params={"date": day}, headers=staff)).json()
    assert [x["id"] for x in book["bookings"]] == list(ids)
    assert book["bands"][0]["remaining"] == 4
    other = await a.post(url, json={**body, "name": "別人"}, headers=key)
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
