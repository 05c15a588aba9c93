"""The queue HTTP API through a real hub process and real Redis (API.md)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from tests.conftest import OPERATOR, TOKENS, bearer, make_facility, staff_headers


async def take(client: httpx.AsyncClient, info: str, **body: object) -> dict:  # type: ignore[type-arg]
    response = await client.post(f"/v1/queues/{info}/tickets", json=body or None)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_public_view_has_api_shape_and_etag(client: httpx.AsyncClient, facility: str) -> None:
    """GET view: the API.md shape, ETag "v", If-None-Match → 304 until it changes."""
    info = f"{facility}-01"
    r = await client.get(f"/v1/queues/{info}")
    assert r.status_code == 200
    view = r.json()
    for key in (
        "info",
        "v",
        "epoch",
        "day",
        "open",
        "web_open",
        "calling",
        "waiting",
        "waiting_count",
        "minutes_per_patient",
        "message",
        "updated_at",
    ):
        assert key in view
    assert view["info"] == info and view["open"] and view["web_open"]
    assert r.headers["etag"] == f'"{view["v"]}"'
    r304 = await client.get(f"/v1/queues/{info}", headers={"If-None-Match": r.headers["etag"]})
    assert r304.status_code == 304 and r304.content == b""
    await take(client, info)
    r2 = await client.get(f"/v1/queues/{info}", headers={"If-None-Match": r.headers["etag"]})
    assert r2.status_code == 200
    assert r2.json()["v"] == view["v"] + 1 and r2.json()["waiting"] == [1]


async def test_take_a_ticket_and_track_it(client: httpx.AsyncClient, facility: str) -> None:
    """A web ticket gets number 1, then 2; its token shows ahead and estimate_min."""
    info = f"{facility}-01"
    first = await take(client, info, name="Sato Hanako", phone="090-0000-0000", note="fever")
    second = await take(client, info)
    assert (first["ticket"]["number"], second["ticket"]["number"]) == (1, 2)
    assert first["ticket"]["status"] == "waiting" and first["ticket"]["channel"] == "web"
    assert second["url"] == f"/q/{info}/t/{second['ticket']['id']}"
    r = await client.get(
        f"/v1/queues/{info}/tickets/{second['ticket']['id']}", headers=bearer(second["token"])
    )
    assert r.status_code == 200
    body = r.json()
    assert body["ahead"] == 1 and body["estimate_min"] >= body["ahead"]
    assert "name" not in body["ticket"]
    staff = await client.get(
        f"/v1/queues/{info}/tickets/{first['ticket']['id']}", headers=staff_headers(facility)
    )
    assert staff.json()["ticket"]["name"] == "Sato Hanako"
    public = (await client.get(f"/v1/queues/{info}")).text
    assert "Sato" not in public and "090-0000-0000" not in public and "fever" not in public


async def test_ticket_needs_its_own_token(client: httpx.AsyncClient, facility: str) -> None:
    info = f"{facility}-01"
    a, b = await take(client, info), await take(client, info)
    url = f"/v1/queues/{info}/tickets/{a['ticket']['id']}"
    assert (await client.get(url)).status_code == 401
    wrong = await client.get(url, headers=bearer(b["token"]))
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "forbidden"
    other_staff = await client.get(url, headers=staff_headers("1"))
    assert other_staff.status_code == 403


async def test_staff_day_call_recall_absent_requeue_complete(
    client: httpx.AsyncClient, facility: str
) -> None:
    """The staff's actions move tickets as a clinic expects and show on the public view."""
    info, staff = f"{facility}-01", staff_headers(facility)
    ids = [(await take(client, info))["ticket"]["id"] for _ in range(5)]
    r = await client.post(f"/v1/queues/{info}/call-next", json={"room": "2"}, headers=staff)
    assert r.status_code == 200
    assert r.json()["called"]["number"] == 1 and r.json()["called"]["room"] == "2"
    view = (await client.get(f"/v1/queues/{info}")).json()
    assert view["calling"] == [{"number": 1, "room": "2", "recalls": 0}] and view["waiting"] == [
        2,
        3,
        4,
        5,
    ]

    async def act(ticket_id: str, action: str, **body: object) -> httpx.Response:
        return await client.post(
            f"/v1/queues/{info}/tickets/{ticket_id}/{action}", json=body or None, headers=staff
        )

    assert (await act(ids[0], "recall")).json()["ticket"]["recalls"] == 1
    assert (await act(ids[0], "absent")).json()["ticket"]["status"] == "absent"
    requeued = await act(ids[0], "requeue")  # default: 3 places back
    assert requeued.json()["ticket"]["status"] == "waiting" and requeued.json()["ahead"] == 3
    view = (await client.get(f"/v1/queues/{info}")).json()
    assert view["waiting"] == [2, 3, 4, 1, 5]
    called = await act(ids[4], "call", room="1")
    assert called.json()["ticket"]["status"] == "called"
    # calling next into room 1 completes the patient room 1 called before
    await client.post(f"/v1/queues/{info}/call-next", json={"room": "1"}, headers=staff)
    done = await client.get(f"/v1/queues/{info}/tickets/{ids[4]}", headers=staff)
    assert done.json()["ticket"]["status"] == "done"
    assert (await act(ids[1], "complete")).json()["ticket"]["status"] == "done"
    refused = await act(ids[1], "call")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "illegal_transition"
    assert (await act(ids[2], "cancel")).json()["ticket"]["status"] == "cancelled"
    end = await act(ids[3], "requeue", to_end=True)
    assert end.status_code == 409  # waiting tickets are not requeued


async def test_patient_cancels_own_ticket(client: httpx.AsyncClient, facility: str) -> None:
    info = f"{facility}-01"
    t = await take(client, info)
    url = f"/v1/queues/{info}/tickets/{t['ticket']['id']}"
    r = await client.delete(url, headers=bearer(t["token"]))
    assert r.status_code == 200 and r.json()["ticket"]["status"] == "cancelled"
    again = await client.delete(url, headers=bearer(t["token"]))
    assert again.status_code == 409 and again.json()["error"]["code"] == "illegal_transition"
    assert (await client.get(f"/v1/queues/{info}")).json()["waiting_count"] == 0


async def test_call_next_on_empty_queue(client: httpx.AsyncClient, facility: str) -> None:
    r = await client.post(f"/v1/queues/{facility}-02/call-next", headers=staff_headers(facility))
    assert r.status_code == 409 and r.json()["error"]["code"] == "queue_empty"


async def test_desk_priority_ticket_is_served_first(
    client: httpx.AsyncClient, facility: str
) -> None:
    info, staff = f"{facility}-01", staff_headers(facility)
    await take(client, info)
    await take(client, info)
    r = await client.post(
        f"/v1/queues/{info}/tickets",
        headers=staff,
        json={"channel": "desk", "priority": True, "name": "Urgent"},
    )
    assert r.status_code == 201 and r.json()["ticket"]["channel"] == "desk"
    assert r.json()["ahead"] == 0
    assert (await client.get(f"/v1/queues/{info}")).json()["waiting"] == [3, 1, 2]
    refused = await client.post(f"/v1/queues/{info}/tickets", json={"priority": True})
    assert refused.status_code == 403


async def test_reception_and_web_switches(client: httpx.AsyncClient, facility: str) -> None:
    """Closed reception / closed web acceptance refuse web tickets; desk tickets still work."""
    info, staff = f"{facility}-01", staff_headers(facility)
    await client.post(f"/v1/queues/{info}/web/close", headers=staff)
    r = await client.post(f"/v1/queues/{info}/tickets")
    assert r.status_code == 409 and r.json()["error"]["code"] == "web_closed"
    desk = await client.post(f"/v1/queues/{info}/tickets", json={"channel": "desk"}, headers=staff)
    assert desk.status_code == 201
    view = (await client.post(f"/v1/queues/{info}/close", headers=staff)).json()
    assert view["open"] is False
    r = await client.post(f"/v1/queues/{info}/tickets")
    assert r.status_code == 409 and r.json()["error"]["code"] == "reception_closed"
    await client.post(f"/v1/queues/{info}/open", headers=staff)
    await client.post(f"/v1/queues/{info}/web/open", headers=staff)
    assert (await client.post(f"/v1/queues/{info}/tickets")).status_code == 201


async def test_daily_cap_closes_web_acceptance(client: httpx.AsyncClient, facility: str) -> None:
    info, staff = f"{facility}-01", staff_headers(facility)
    r = await client.put(f"/v1/queues/{info}/config", json={"web_daily_cap": 2}, headers=staff)
    assert r.status_code == 200 and r.json()["config"]["web_daily_cap"] == 2
    await take(client, info)
    await take(client, info)
    view = (await client.get(f"/v1/queues/{info}")).json()
    assert view["web_open"] is False and view["web_closed_reason"] == "cap"
    r = await client.post(f"/v1/queues/{info}/tickets")
    assert r.status_code == 409 and r.json()["error"]["code"] == "daily_cap_reached"


async def test_web_closes_when_estimate_passes_closing_time(
    client: httpx.AsyncClient, facility: str
) -> None:
    """A ticket that would be called after close_web_at is refused; the ticket after which
    the next one would be too late closes web acceptance by itself."""
    info, staff = f"{facility}-01", staff_headers(facility)
    late = {"close_web_at": "00:00", "default_minutes": 10}
    assert (await client.put(f"/v1/queues/{info}/config", json=late, headers=staff)).is_success
    r = await client.post(f"/v1/queues/{info}/tickets")
    assert r.status_code == 409 and r.json()["error"]["code"] == "web_closed"
    now = datetime.now(ZoneInfo("Asia/Tokyo"))
    closing = now + timedelta(minutes=15)  # room for the 1st ticket (10 min), not the 2nd (20)
    if closing.date() != now.date():
        closing = now.replace(hour=23, minute=59)
    body = {"close_web_at": f"{closing:%H:%M}", "default_minutes": 10}
    assert (await client.put(f"/v1/queues/{info}/config", json=body, headers=staff)).is_success
    if now.hour * 60 + now.minute + 10 < closing.hour * 60 + closing.minute:
        await take(client, info)
        view = (await client.get(f"/v1/queues/{info}")).json()
        assert view["web_open"] is False and view["web_closed_reason"] == "closing_time"
    r = await client.post(f"/v1/queues/{info}/tickets")
    assert r.status_code == 409 and r.json()["error"]["code"] == "web_closed"


async def test_facility_partner_view_and_message(client: httpx.AsyncClient, facility: str) -> None:
    r = await client.get(f"/v1/facilities/{facility}")
    assert r.status_code == 200
    body = r.json()
    assert body["name"] == f"Clinic {facility}" and body["address"] and body["hours"]
    assert [q["info"] for q in body["queues"]] == [f"{facility}-01", f"{facility}-02"]
    put = await client.put(
        f"/v1/facilities/{facility}/message",
        json={"text": "本日は午後休診です"},
        headers=staff_headers(facility),
    )
    assert put.status_code == 200
    after = (await client.get(f"/v1/facilities/{facility}")).json()
    assert after["message"] == "本日は午後休診です"
    assert all(q["message"] == "本日は午後休診です" for q in after["queues"])


async def test_staff_view_has_personal_data(client: httpx.AsyncClient, facility: str) -> None:
    info = f"{facility}-01"
    await take(client, info, name="Tanaka")
    r = await client.get(f"/v1/queues/{info}/staff", headers=staff_headers(facility))
    assert r.status_code == 200 and r.json()["tickets"][0]["name"] == "Tanaka"
    assert (await client.get(f"/v1/queues/{info}/staff")).status_code == 401


async def test_suspension_gates_patients_not_staff(
    client: httpx.AsyncClient, facility: str
) -> None:
    info = f"{facility}-01"
    r = await client.post(
        f"/v1/admin/facilities/{facility}/suspend", json={"reason": "unpaid"}, headers=OPERATOR
    )
    assert r.status_code == 200 and r.json()["suspended"] is True
    refused = await client.post(f"/v1/queues/{info}/tickets")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "facility_suspended"
    view = (await client.get(f"/v1/queues/{info}")).json()
    assert view["suspended"] is True and view["web_open"] is False
    desk = await client.post(
        f"/v1/queues/{info}/tickets", json={"channel": "desk"}, headers=staff_headers(facility)
    )
    assert desk.status_code == 201
    staff_try = await client.post(
        f"/v1/admin/facilities/{facility}/resume", headers=staff_headers(facility)
    )
    assert staff_try.status_code == 403
    assert (
        await client.post(f"/v1/admin/facilities/{facility}/resume", headers=OPERATOR)
    ).status_code == 200
    assert (await client.post(f"/v1/queues/{info}/tickets")).status_code == 201


async def test_staff_of_one_facility_can_do_nothing_to_another(client: httpx.AsyncClient) -> None:
    mine, other = await make_facility(client), await make_facility(client)
    staff, info = staff_headers(mine), f"{other}-01"
    t = await take(client, info)
    before = (await client.get(f"/v1/queues/{info}")).json()["v"]
    attempts = [
        client.post(f"/v1/queues/{info}/close", headers=staff),
        client.post(f"/v1/queues/{info}/web/close", headers=staff),
        client.post(f"/v1/queues/{info}/call-next", headers=staff),
        client.post(f"/v1/queues/{info}/tickets/{t['ticket']['id']}/cancel", headers=staff),
        client.delete(f"/v1/queues/{info}/tickets/{t['ticket']['id']}", headers=staff),
        client.get(f"/v1/queues/{info}/staff", headers=staff),
        client.put(f"/v1/queues/{info}/config", json={}, headers=staff),
        client.put(f"/v1/facilities/{other}/message", json={"text": "x"}, headers=staff),
        client.post(f"/v1/queues/{info}/tickets", json={"channel": "desk"}, headers=staff),
    ]
    for attempt in attempts:
        r = await attempt
        assert r.status_code == 403, (r.request.url, r.text)
    assert (await client.get(f"/v1/queues/{info}")).json()["v"] == before


async def test_login_gives_a_working_staff_token(client: httpx.AsyncClient, facility: str) -> None:
    user = f"staff-{facility}"
    r = await client.post(
        "/v1/admin/users",
        headers=OPERATOR,
        json={"user": user, "password": "correct horse", "facility": facility},
    )
    assert r.status_code == 201
    # a client address of its own: other tests (the fuzzer) use up 127.0.0.1's login budget
    me = {"X-Forwarded-For": f"192.0.2.{int(facility) % 250}"}
    bad = await client.post(
        "/v1/auth/login", json={"user": user, "password": "wrong pass"}, headers=me
    )
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "invalid_credentials"
    ok = await client.post(
        "/v1/auth/login", json={"user": user, "password": "correct horse"}, headers=me
    )
    assert ok.status_code == 200
    opened = await client.post(
        f"/v1/queues/{facility}-02/close", headers=bearer(ok.json()["token"])
    )
    assert opened.status_code == 200 and opened.json()["open"] is False


async def test_idempotency_key_returns_the_first_ticket(
    client: httpx.AsyncClient, facility: str
) -> None:
    info = f"{facility}-01"
    key = {"Idempotency-Key": f"k-{facility}"}
    first = await client.post(f"/v1/queues/{info}/tickets", json={"name": "A"}, headers=key)
    again = await client.post(f"/v1/queues/{info}/tickets", json={"name": "A"}, headers=key)
    assert first.status_code == again.status_code == 201
    assert first.json()["ticket"] == again.json()["ticket"]
    other = await client.post(f"/v1/queues/{info}/tickets", json={"name": "B"}, headers=key)
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert (await client.get(f"/v1/queues/{info}")).json()["last_number"] == 1


async def test_tokens_expired_or_forged_are_refused(
    client: httpx.AsyncClient, facility: str
) -> None:
    info = f"{facility}-01"
    expired = TOKENS.issue("staff", facility=facility, ttl_s=1, now=1_000_000)
    r = await client.post(f"/v1/queues/{info}/close", headers=bearer(expired))
    assert r.status_code == 401 and r.json()["error"]["code"] == "token_expired"
    forged = TOKENS.issue("staff", facility=facility)[:-4] + "AAAA"
    r = await client.post(f"/v1/queues/{info}/close", headers=bearer(forged))
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"
    r = await client.post(f"/v1/queues/{info}/close", headers={"Authorization": "Basic abc"})
    assert r.status_code == 401
    patient = (await take(client, info))["token"]
    r = await client.post(f"/v1/queues/{info}/close", headers=bearer(patient))
    assert r.status_code == 403
    assert (await client.get(f"/v1/queues/{info}")).json()["open"] is True


async def test_an_idempotency_key_belongs_to_its_caller(
    client: httpx.AsyncClient, facility: str
) -> None:
    """Another caller using the same key gets a ticket of its own, never the first one's."""
    info, key = f"{facility}-01", {"Idempotency-Key": "predictable-key"}
    patient = await client.post(f"/v1/queues/{info}/tickets", headers=key)
    staff = {**key, **staff_headers(facility)}
    desk = await client.post(f"/v1/queues/{info}/tickets", json={}, headers=staff)
    assert patient.status_code == desk.status_code == 201
    assert patient.json()["ticket"]["id"] != desk.json()["ticket"]["id"]


async def test_facility_and_user_are_created_once(client: httpx.AsyncClient, facility: str) -> None:
    body = {"number": facility, "name": "Copy", "counters": {"01": ""}}
    again = await client.post("/v1/admin/facilities", json=body, headers=OPERATOR)
    assert again.status_code == 409 and again.json()["error"]["code"] == "facility_exists"
    assert (await client.get(f"/v1/facilities/{facility}")).json()["name"] == f"Clinic {facility}"
    user = {"user": f"u-{facility}", "password": "long enough", "facility": facility}
    assert (await client.post("/v1/admin/users", json=user, headers=OPERATOR)).status_code == 201
    twice = await client.post("/v1/admin/users", json=user, headers=OPERATOR)
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "user_exists"
