"""The patient's own actions over real HTTP: check-in ("I'm here"), postpone ("I'll be late")
as the clinic allows them, and finding a ticket again on another device (number + phone)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import TOKENS, bearer, staff_headers

JSON = {"Content-Type": "application/json"}


async def take(client: httpx.AsyncClient, info: str, **body: object) -> dict[str, Any]:
    response = await client.post(f"/v1/queues/{info}/tickets", json=body or None)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def configure(client: httpx.AsyncClient, info: str, **config: object) -> dict[str, Any]:
    facility = info.split("-")[0]
    r = await client.put(f"/v1/queues/{info}/config", json=config, headers=staff_headers(facility))
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    return answer


async def staff(client: httpx.AsyncClient, info: str) -> dict[str, Any]:
    facility = info.split("-")[0]
    r = await client.get(f"/v1/queues/{info}/staff", headers=staff_headers(facility))
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    return answer


def act(
    client: httpx.AsyncClient, info: str, ticket: dict[str, Any], action: str, **kw: Any
) -> Any:
    path = f"/v1/queues/{info}/tickets/{ticket['ticket']['id']}/{action}"
    return client.post(path, headers=kw.get("headers", bearer(ticket["token"])))


async def test_check_in_and_postpone_are_refused_unless_the_clinic_allows_them(
    client: httpx.AsyncClient, facility: str
) -> None:
    info = f"{facility}-01"
    mine = await take(client, info)
    await take(client, info)
    before = await staff(client, info)
    assert before["config"]["allow_checkin"] is False
    assert before["config"]["allow_postpone"] is False
    assert mine["can"] == {"checkin": False, "postpone": False}
    for action, code in (("arrived", "checkin_not_allowed"), ("postpone", "postpone_not_allowed")):
        r = await act(client, info, mine, action)
        assert r.status_code == 409, r.text
        assert r.json()["error"]["code"] == code
    assert await staff(client, info) == before  # nothing changed


async def test_check_in_marks_the_ticket_for_staff(
    client: httpx.AsyncClient, facility: str
) -> None:
    info = f"{facility}-01"
    view = await configure(client, info, allow_checkin=True)
    assert view["config"]["allow_checkin"] is True and view["config"]["allow_postpone"] is False
    mine = await take(client, info)
    assert mine["can"] == {"checkin": True, "postpone": False}
    r = await act(client, info, mine, "arrived")
    assert r.status_code == 200, r.text
    assert r.json()["ticket"]["arrived_at"] is not None
    assert r.json()["can"]["checkin"] is False
    again = await act(client, info, mine, "arrived")
    assert again.status_code == 200 and again.json()["v"] == r.json()["v"]  # once is enough
    tickets = {t["id"]: t for t in (await staff(client, info))["tickets"]}
    assert tickets[mine["ticket"]["id"]]["arrived_at"] == r.json()["ticket"]["arrived_at"]


async def test_postpone_moves_back_by_the_offset_twice_at_most(
    client: httpx.AsyncClient, facility: str
) -> None:
    info = f"{facility}-01"
    await configure(client, info, allow_postpone=True, requeue_offset=2)
    mine = await take(client, info)
    others = [await take(client, info) for _ in range(5)]
    assert mine["can"]["postpone"] is False  # nobody behind it yet
    path = f"/v1/queues/{info}/tickets/{mine['ticket']['id']}"
    now = await client.get(path, headers=bearer(mine["token"]))
    assert now.json()["can"] == {"checkin": False, "postpone": True}
    r = await act(client, info, mine, "postpone")
    assert r.status_code == 200, r.text
    assert r.json()["ahead"] == 2 and r.json()["ticket"]["postponed"] == 1
    order = (await client.get(f"/v1/queues/{info}")).json()["waiting"]
    assert order == [2, 3, 1, 4, 5, 6]
    r = await act(client, info, mine, "postpone")
    assert r.status_code == 200 and r.json()["ahead"] == 4
    assert r.json()["can"]["postpone"] is False
    before = await staff(client, info)
    third = await act(client, info, mine, "postpone")
    assert third.status_code == 409 and third.json()["error"]["code"] == "postpone_limit_reached"
    last = others[-1]
    r = await act(client, info, last, "postpone")
    assert r.status_code == 409 and r.json()["error"]["code"] == "already_last"
    assert await staff(client, info) == before


async def test_only_a_waiting_ticket_checks_in_or_moves_back(
    client: httpx.AsyncClient, facility: str
) -> None:
    info = f"{facility}-01"
    await configure(client, info, allow_postpone=True, allow_checkin=True)
    mine = await take(client, info)
    await take(client, info)
    r = await client.post(f"/v1/queues/{info}/call-next", headers=staff_headers(facility))
    assert r.status_code == 200, r.text
    before = await staff(client, info)
    for action in ("arrived", "postpone"):
        r = await act(client, info, mine, action)
        assert r.status_code == 409, r.text
        assert r.json()["error"] == {
            "code": "ticket_not_waiting",
            "message": r.json()["error"]["message"],
            "status": "called",
        }
    assert await staff(client, info) == before


async def test_a_wrong_token_may_not_act_on_a_ticket(
    client: httpx.AsyncClient, facility: str
) -> None:
    info = f"{facility}-01"
    await configure(client, info, allow_postpone=True, allow_checkin=True)
    mine = await take(client, info)
    other = await take(client, info)
    await take(client, info)
    before = await staff(client, info)
    for action in ("arrived", "postpone"):
        none = await act(client, info, mine, action, headers={})
        assert none.status_code == 401, none.text
        forged = await act(client, info, mine, action, headers=bearer("not-a-token"))
        assert forged.status_code == 401, forged.text
        wrong = await act(client, info, mine, action, headers=bearer(other["token"]))
        assert wrong.status_code == 403, wrong.text
        elsewhere = TOKENS.patient(f"{facility}-02", mine["ticket"]["id"])
        wrong = await act(client, info, mine, action, headers=bearer(elsewhere))
        assert wrong.status_code == 403, wrong.text
    assert await staff(client, info) == before
    ok = await act(client, info, mine, "arrived", headers=staff_headers(facility))
    assert ok.status_code == 200, ok.text  # staff may check a patient in too


def recover(client: httpx.AsyncClient, info: str, number: int, phone: str, ip: str) -> Any:
    return client.post(
        f"/v1/queues/{info}/tickets/recover",
        json={"number": number, "phone": phone},
        headers={"X-Forwarded-For": ip},
    )


async def test_a_ticket_is_found_again_by_number_and_phone(
    client: httpx.AsyncClient, facility: str
) -> None:
    info = f"{facility}-01"
    await take(client, info)
    mine = await take(client, info, name="Sato", phone="090-1234-5678")
    r = await recover(client, info, 2, "０９０１２３４５６７８", "203.0.113.10")
    assert r.status_code == 200, r.text
    found = r.json()
    assert found["ticket"]["id"] == mine["ticket"]["id"] and found["ahead"] == 1
    assert found["url"] == mine["url"] and found["token"]
    assert "phone" not in found["ticket"]  # the patient's view, not the staff's
    own = await client.get(
        f"/v1/queues/{info}/tickets/{mine['ticket']['id']}", headers=bearer(found["token"])
    )
    assert own.status_code == 200, own.text
    r = await recover(client, info, 2, "+81 90 1234 5678", "203.0.113.10")
    assert r.status_code == 200, r.text


async def test_a_wrong_phone_is_the_same_answer_as_no_such_ticket(
    client: httpx.AsyncClient, facility: str
) -> None:
    info = f"{facility}-01"
    await take(client, info, phone="090-1234-5678")
    await take(client, info)  # no phone: never recovered
    r = await client.post(f"/v1/queues/{info}/call-next", headers=staff_headers(facility))
    assert r.status_code == 200
    done = await take(client, info, phone="080-0000-0000")
    cancelled = await client.delete(
        f"/v1/queues/{info}/tickets/{done['ticket']['id']}", headers=bearer(done["token"])
    )
    assert cancelled.status_code == 200, cancelled.text
    before = await staff(client, info)
    answers = []
    for number, phone in (
        (1, "090-1234-0000"),
        (9, "090-1234-5678"),
        (2, "0"),
        (3, "080-0000-0000"),
    ):
        r = await recover(client, info, number, phone, f"198.51.100.{number}")
        answers.append((r.status_code, r.json()["error"]["code"]))
    assert answers == [(404, "recovery_failed")] * 4
    called = await recover(client, info, 1, "09012345678", "198.51.100.20")
    assert called.status_code == 200 and called.json()["ticket"]["status"] == "called"
    assert await staff(client, info) == before


async def test_recovery_tries_are_rate_limited_per_address(
    client: httpx.AsyncClient, facility: str
) -> None:
    info = f"{facility}-01"
    await take(client, info, phone="090-1234-5678")
    statuses = [
        (await recover(client, info, 1, f"090-0000-000{i}", "192.0.2.77")).status_code
        for i in range(5)
    ]
    assert statuses == [404] * 5
    limited = await recover(client, info, 1, "090-1234-5678", "192.0.2.77")
    assert limited.status_code == 429, limited.text
    assert limited.json()["error"]["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) > 0
    other = await recover(client, info, 1, "090-1234-5678", "192.0.2.78")
    assert other.status_code == 200, other.text  # another address is not held back


async def test_recovery_refuses_bad_bodies(client: httpx.AsyncClient, facility: str) -> None:
    info = f"{facility}-01"
    for body in ({"number": 0, "phone": "1"}, {"number": 1}, {"number": 1, "phone": ""}):
        r = await client.post(f"/v1/queues/{info}/tickets/recover", json=body)
        assert r.status_code == 422, r.text
    r = await client.post(f"/v1/queues/{info}/tickets/recover", content=b"{", headers=JSON)
    assert r.status_code == 400
