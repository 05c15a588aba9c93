"""Time-band reservations through the HTTP API of a real hub on real Redis: booking, the
day's book, cancelling, check-in into the live line, and the refusals that change nothing."""

from __future__ import annotations

from typing import Any

import httpx

from tests.booking.helpers import booking_facility, hhmm, local, noon_zone, today
from tests.conftest import bearer, staff_headers


async def _book(
    client: httpx.AsyncClient, info: str, day: str, band: str, **extra: Any
) -> httpx.Response:
    body = {"date": day, "band": band, "name": "山田 花子", "phone": "090-1234-5678", **extra}
    return await client.post(f"/v1/queues/{info}/bookings", json=body)


async def test_a_patient_books_a_band_and_staff_see_it_in_the_days_book(
    client: httpx.AsyncClient,
) -> None:
    info, tz = await booking_facility(client)
    day = today(tz)
    start = hhmm(local(tz, -5))
    bands = (await client.get(f"/v1/queues/{info}/bands?days=2")).json()
    first = bands["days"][0]
    assert first["date"] == day
    assert first["bands"][0] == {
        "from": start,
        "to": hhmm(local(tz, 60)),
        "capacity": 5,
        "remaining": 5,
        "open": False,  # it started: patients book only bands still ahead
    }
    r = await _book(client, info, day, start)
    assert r.status_code == 409 and r.json()["error"]["code"] == "band_closed"
    staff = staff_headers(info.split("-")[0])
    r = await client.post(
        f"/v1/queues/{info}/bookings",
        json={"date": day, "band": start, "name": "電話 予約", "channel": "phone"},
        headers=staff,
    )
    assert r.status_code == 201, r.text
    booking = r.json()
    assert booking["booking"]["channel"] == "phone"
    assert booking["url"] == f"/q/{info}/t/{booking['booking']['id']}"
    book = (await client.get(f"/v1/queues/{info}/bookings", headers=staff)).json()
    assert [b["name"] for b in book["bookings"]] == ["電話 予約"]
    assert book["bands"][0]["remaining"] == 4
    mine = await client.get(
        f"/v1/queues/{info}/bookings/{booking['booking']['id']}", headers=bearer(booking["token"])
    )
    assert mine.status_code == 200
    assert "name" not in mine.json()["booking"]  # the patient's view names no one
    assert mine.json()["can"] == {"cancel": False, "check_in": True}
    view = (await client.get(f"/v1/queues/{info}")).json()
    assert view["bands"] == [
        {"from": start, "to": hhmm(local(tz, 60)), "remaining": 4, "expected": 1}
    ]


async def test_a_later_band_is_booked_cancelled_and_refuses_an_early_check_in(
    client: httpx.AsyncClient,
) -> None:
    tz = noon_zone()
    later = hhmm(local(tz, 60))
    bands = [{"from": later, "to": hhmm(local(tz, 90)), "capacity": 2}]
    info, _ = await booking_facility(client, bands=bands, tz=tz)
    day = today(tz)
    first = await _book(client, info, day, later)
    assert first.status_code == 201, first.text
    token = bearer(first.json()["token"])
    booking_id = first.json()["booking"]["id"]
    second = await _book(client, info, day, later, name="二人目")
    assert second.status_code == 201
    full = await _book(client, info, day, later, name="三人目")
    assert full.status_code == 409 and full.json()["error"]["code"] == "band_full"
    early = await client.post(f"/v1/queues/{info}/bookings/{booking_id}/check-in", headers=token)
    assert early.status_code == 409
    assert early.json()["error"]["code"] == "too_early"
    assert early.json()["error"]["opens_at"] == first.json()["window"]["opens_at"]
    someone_else = bearer(second.json()["token"])
    r = await client.delete(f"/v1/queues/{info}/bookings/{booking_id}", headers=someone_else)
    assert r.status_code == 403
    r = await client.delete(f"/v1/queues/{info}/bookings/{booking_id}", headers=token)
    assert r.status_code == 200 and r.json()["booking"]["status"] == "cancelled"
    again = await _book(client, info, day, later, name="三人目")
    assert again.status_code == 201  # the cancelled place is free again
    r = await client.delete(f"/v1/queues/{info}/bookings/{booking_id}", headers=token)
    assert r.status_code == 409 and r.json()["error"]["code"] == "illegal_transition"


async def test_check_in_places_the_booking_before_walk_ins_once(
    client: httpx.AsyncClient,
) -> None:
    info, tz = await booking_facility(client)
    staff = staff_headers(info.split("-")[0])
    walk_ins = []
    for _ in range(3):
        r = await client.post(f"/v1/queues/{info}/tickets", json={})
        assert r.status_code == 201
        walk_ins.append(r.json())
    start = hhmm(local(tz, -5))
    r = await client.post(
        f"/v1/queues/{info}/bookings",
        json={"date": today(tz), "band": start, "name": "予約 太郎"},
        headers=staff,
    )
    booking = r.json()
    booking_id = booking["booking"]["id"]
    last = await client.get(
        walk_ins[-1]["url"].replace("/q/", "/v1/queues/").replace("/t/", "/tickets/"),
        headers=bearer(walk_ins[-1]["token"]),
    )
    assert last.json()["ahead"] == 2
    with_booking = last.json()["estimate_min"]
    token = bearer(booking["token"])
    checked = await client.post(f"/v1/queues/{info}/bookings/{booking_id}/check-in", headers=token)
    assert checked.status_code == 200, checked.text
    ticket = checked.json()
    assert ticket["ticket"]["id"] == booking_id
    assert ticket["ticket"]["channel"] == "reserved"
    assert ticket["ticket"]["band"] == f"{start}-{hhmm(local(tz, 60))}"
    assert ticket["ticket"]["number"] == 4  # the day's next number
    assert ticket["ahead"] == 0  # band_first: before every walk-in
    again = await client.post(f"/v1/queues/{info}/bookings/{booking_id}/check-in", headers=token)
    assert again.status_code == 200 and again.json()["ticket"]["number"] == 4
    view = (await client.get(f"/v1/queues/{info}")).json()
    assert view["waiting"] == [4, 1, 2, 3]
    assert view["bands"][0]["expected"] == 0
    last = await client.get(
        f"/v1/queues/{info}/tickets/{walk_ins[-1]['ticket']['id']}",
        headers=bearer(walk_ins[-1]["token"]),
    )
    assert last.json()["ahead"] == 3
    # expected at a 0.9 show rate before, real now: the estimate moved by 0.1 place at most
    pace = view["minutes_per_patient"]
    assert 0 <= last.json()["estimate_min"] - with_booking <= 0.1 * pace + 1
    mine = await client.get(f"/v1/queues/{info}/bookings/{booking_id}", headers=token)
    assert mine.json()["booking"]["status"] == "checked_in"
    assert mine.json()["ticket_url"] == f"/q/{info}/t/{booking_id}"


async def test_bad_settings_and_bookings_are_refused_and_change_nothing(
    client: httpx.AsyncClient,
) -> None:
    info, tz = await booking_facility(client)
    staff = staff_headers(info.split("-")[0])
    before = (await client.get(f"/v1/queues/{info}/staff", headers=staff)).json()["config"]
    for bands, code in (
        ([{"from": "10:00", "to": "10:30", "capacity": 0}], "invalid_body"),
        ([{"from": "10:00", "to": "10:30", "capacity": 10**9}], "invalid_body"),
        ([{"from": "10:00", "to": "10:05", "capacity": 3}], "invalid_bands"),
        ([{"from": "10:30", "to": "10:00", "capacity": 3}], "invalid_bands"),
        (
            [
                {"from": "10:00", "to": "11:00", "capacity": 3},
                {"from": "10:30", "to": "11:30", "capacity": 3},
            ],
            "invalid_bands",
        ),
        ([{"from": "10:00", "to": "10:30", "capacity": 3, "days": [8]}], "invalid_body"),
    ):
        r = await client.put(
            f"/v1/queues/{info}/config", json={"bookings": {"bands": bands}}, headers=staff
        )
        assert r.status_code == 422, (bands, r.text)
        assert r.json()["error"]["code"] == code
    r = await client.put(
        f"/v1/queues/{info}/config",
        json={"bookings": {"bands": [], "placement": "sideways"}},
        headers=staff,
    )
    assert r.status_code == 422
    after = (await client.get(f"/v1/queues/{info}/staff", headers=staff)).json()["config"]
    assert after == before
    # a settings save that leaves bookings out keeps them
    r = await client.put(f"/v1/queues/{info}/config", json={"requeue_offset": 2}, headers=staff)
    assert r.status_code == 200 and r.json()["config"]["bookings"] == before["bookings"]
    day = today(tz)
    start = hhmm(local(tz, -5))
    yesterday = local(tz, -24 * 60).date().isoformat()
    far = local(tz, 20 * 24 * 60).date().isoformat()
    for body, status, code in (
        ({"date": yesterday, "band": start}, 409, "band_closed"),
        ({"date": far, "band": start}, 409, "outside_horizon"),
        ({"date": day, "band": "03:00"}, 404, "unknown_band"),
        ({"date": day, "band": start, "name": " "}, 422, "invalid_body"),
        ({"date": day, "band": start, "phone": ""}, 422, "invalid_body"),
        ({"date": "2026-13-01", "band": start}, 422, "invalid_body"),
        ({"date": day, "band": "25:00"}, 422, "invalid_body"),
        ({"date": day, "band": start, "channel": "desk"}, 403, "forbidden"),
        ({"date": day, "band": start, "patient_ref": "<script>"}, 400, "invalid_patient_ref"),
    ):
        who = {"name": "山田", "phone": "090-1111-2222"}
        r = await client.post(f"/v1/queues/{info}/bookings", json={**who, **body})
        assert r.status_code == status, (body, r.text)
        assert r.json()["error"]["code"] == code, (body, r.text)
    book = (await client.get(f"/v1/queues/{info}/bookings", headers=staff)).json()
    assert book["bookings"] == [] and book["bands"][0]["remaining"] == 5
    for query in ("from=yesterday", "from=2026-W01-1", "days=²", "days=0", "days=63"):
        r = await client.get(f"/v1/queues/{info}/bands?{query}")
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_query", query
    r = await client.get(f"/v1/queues/{info}/bands?from=9999-12-31&days=62")
    assert r.status_code == 200  # clamped to the horizon's last day
    assert [d["date"] for d in r.json()["days"]] == [local(tz, 14 * 24 * 60).date().isoformat()]
    r = await client.get(f"/v1/queues/{info}/bookings/R20260101abcdefgh")
    assert r.status_code == 401
    r = await client.get(f"/v1/queues/{info}/bookings/R20260101abcdefgh", headers=staff)
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_booking"
