"""The audit log against a real hub: who, what, when, from where, outcome; CSV export."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from datetime import datetime
from typing import Any

import httpx

from tests.conftest import OPERATOR, TOKENS, bearer, make_facility, staff_headers

A = "/v1/admin/audit"


async def entries(client: httpx.AsyncClient, want: int, headers: dict[str, str],
                  **params: str) -> list[dict[str, Any]]:  # fmt: skip
    """The log once it holds ``want`` entries (written just after each answer)."""
    deadline = time.monotonic() + 5
    while True:
        r = await client.get(A, params=params, headers=headers)
        assert r.status_code == 200, r.text
        found: list[dict[str, Any]] = r.json()["entries"]
        if len(found) >= want or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.05)


async def test_staff_actions_are_logged_with_who_what_when_where(
    client: httpx.AsyncClient,
) -> None:
    facility = await make_facility(client, ("01",))  # opens reception as staff: 2 entries
    info = f"{facility}-01"
    nurse = bearer(TOKENS.issue("staff", subject="nurse-ito", facility=facility))
    await client.post(f"/v1/queues/{info}/tickets")  # a patient: not audited
    before = time.time()
    called = await client.post(
        f"/v1/queues/{info}/call-next",
        json={"room": "3"},
        headers={**nurse, "User-Agent": "console/1.0", "X-Forwarded-For": "203.0.113.7"},
    )
    assert called.status_code == 200
    empty = await client.post(f"/v1/queues/{info}/call-next", headers=nurse)
    assert empty.status_code == 409
    log = await entries(client, 4, staff_headers(facility))
    assert len(log) == 4
    mine = [e for e in log if e["who"] == "nurse-ito"]
    ok, failed = mine
    assert ok["role"] == "staff" and ok["actor_facility"] == facility
    assert ok["action"] == "POST /v1/queues/{info}/call-next" and ok["target"] == f"info={info}"
    assert ok["facility"] == facility and ok["status"] == "200" and ok["outcome"] == "ok"
    assert ok["ip"] == "203.0.113.7" and ok["user_agent"] == "console/1.0"
    assert before - 1 <= datetime.fromisoformat(ok["at"]).timestamp() <= time.time() + 1
    assert failed["status"] == "409" and failed["outcome"] == "queue_empty"
    assert all(e["role"] == "staff" for e in log)  # the patient's ticket left no entry


async def test_staff_read_only_their_facility_and_operators_read_all(
    client: httpx.AsyncClient,
) -> None:
    started = str(int(time.time() * 1000))
    facility = await make_facility(client, ("01",))
    other = await make_facility(client, ("01",))
    staff = staff_headers(facility)
    assert len(await entries(client, 2, staff)) == 2  # defaults to the own facility
    refused = await client.get(A, params={"facility": other}, headers=staff)
    assert refused.status_code == 403
    assert (await client.get(A)).status_code == 401
    for params in ({"limit": "0"}, {"limit": "x"}, {"since": "yesterday"}, {"after": "1-x"},
                   {"format": "xml"}, {"facility": "12a"}):  # fmt: skip
        bad = await client.get(A, params=params, headers=staff)
        assert bad.status_code == 400, (params, bad.text)
    operator_view = await entries(client, 2, OPERATOR, facility=other)
    assert {e["facility"] for e in operator_view} == {other}
    # operator actions land in the operator stream and in the facility's own
    suspend = f"/v1/admin/facilities/{facility}/suspend"
    assert (
        await client.post(suspend, json={"reason": "test"}, headers=OPERATOR)
    ).status_code == 200
    own = await entries(client, 3, staff)
    assert (
        own[-1]["role"] == "operator"
        and own[-1]["action"] == "POST /v1/admin/facilities/{facility}/suspend"
    )
    ops = await entries(client, 1, OPERATOR, since=started)
    assert any(e["action"].endswith("/suspend") and e["facility"] == facility for e in ops)


async def test_paging_and_since(client: httpx.AsyncClient) -> None:
    facility = await make_facility(client, ("01", "02"))  # 4 entries
    staff = staff_headers(facility)
    log = await entries(client, 4, staff)
    page = (await client.get(A, params={"limit": "3"}, headers=staff)).json()
    assert [e["id"] for e in page["entries"]] == [e["id"] for e in log[:3]]
    rest = (await client.get(A, params={"after": page["next"]}, headers=staff)).json()
    assert [e["id"] for e in rest["entries"]] == [log[3]["id"]] and rest["next"] is None
    since = log[2]["at"]
    later = (await client.get(A, params={"since": since}, headers=staff)).json()["entries"]
    assert later and all(e["at"] >= since for e in later)
    future = (await client.get(A, params={"since": "2099-01-01"}, headers=staff)).json()
    assert future["entries"] == []


async def test_csv_export(client: httpx.AsyncClient) -> None:
    facility = await make_facility(client, ("01",))
    staff = staff_headers(facility)
    await client.put(f"/v1/facilities/{facility}/message", json={"text": "x"},
                     headers={**staff, "User-Agent": "=HYPERLINK(1)"})  # fmt: skip
    log = await entries(client, 3, staff)
    for url, params in ((A + ".csv", {}), (A, {"format": "csv"})):
        r = await client.get(url, params=params, headers=staff)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        assert "attachment" in r.headers["content-disposition"]
        assert r.text.startswith("\ufeff") and "\r\n" in r.text  # BOM and CRLF (hub.csvout)
        rows = list(csv.DictReader(io.StringIO(r.text.removeprefix("\ufeff"))))
        assert [row["id"] for row in rows] == [e["id"] for e in log]
        assert rows[-1]["action"] == "PUT /v1/facilities/{facility}/message"
        assert rows[-1]["user_agent"] == "'=HYPERLINK(1)"  # no formula in a spreadsheet


async def settled(client: httpx.AsyncClient, facility: str, who: str) -> list[dict[str, Any]]:
    """``who``'s entries in the facility's log, once a marker action of theirs (closing
    web acceptance, done last) is in and the writes before it had time to land."""
    headers = bearer(TOKENS.issue("staff", subject=who, facility=facility))
    r = await client.post(f"/v1/queues/{facility}-01/web/close", headers=headers)
    assert r.status_code == 200, r.text
    log = await entries(client, 1, staff_headers(facility))
    deadline = time.monotonic() + 5
    while not any(e["action"].endswith("/web/close") and e["who"] == who for e in log):
        assert time.monotonic() < deadline, log
        await asyncio.sleep(0.05)
        log = await entries(client, 1, staff_headers(facility))
    await asyncio.sleep(0.2)
    log = await entries(client, 1, staff_headers(facility))
    return [e for e in log if e["who"] == who and not e["action"].endswith("/web/close")]


async def test_staff_reads_of_a_ticket_and_its_link_are_logged_and_repeats_once(
    client: httpx.AsyncClient,
) -> None:
    """GET of a ticket (name, phone, note) and of its link (mints a patient token) by staff
    are audited like the staff view; the same read repeated (a console polling every 5 s)
    is written once per 10 minutes, another target again."""
    facility = await make_facility(client, ("01",))
    info = f"{facility}-01"
    taken = await client.post(f"/v1/queues/{info}/tickets", json={"name": "山田", "phone": "090"})
    ticket = taken.json()["ticket"]["id"]
    other = (await client.post(f"/v1/queues/{info}/tickets")).json()["ticket"]["id"]
    nurse = bearer(TOKENS.issue("staff", subject="nurse-reads", facility=facility))
    for path in (f"tickets/{ticket}", f"tickets/{ticket}/link", "staff"):
        for _ in range(3):
            r = await client.get(f"/v1/queues/{info}/{path}", headers=nurse)
            assert r.status_code == 200, r.text
    again = await client.get(f"/v1/queues/{info}/tickets/{other}", headers=nurse)
    assert again.status_code == 200
    reads = [(e["action"], e["target"], e["outcome"]) for e in
             await settled(client, facility, "nurse-reads")]  # fmt: skip
    assert reads == [
        ("GET /v1/queues/{info}/tickets/{ticket_id}", f"info={info} ticket_id={ticket}", "ok"),
        ("GET /v1/queues/{info}/tickets/{ticket_id}/link", f"info={info} ticket_id={ticket}",
         "ok"),
        ("GET /v1/queues/{info}/staff", f"info={info}", "ok"),
        ("GET /v1/queues/{info}/tickets/{ticket_id}", f"info={info} ticket_id={other}", "ok"),
    ]  # fmt: skip


async def test_a_revoked_staff_token_is_logged_when_it_is_used(
    client: httpx.AsyncClient,
) -> None:
    facility = await make_facility(client, ("01",))
    user = f"revoked-{facility}"
    body = {"user": user, "password": "correct horse", "facility": facility}
    assert (await client.post("/v1/admin/users", json=body, headers=OPERATOR)).status_code == 201
    me = {"X-Forwarded-For": f"192.0.2.{int(facility) % 200 + 1}"}
    login = {"user": user, "password": "correct horse"}
    token = (await client.post("/v1/auth/login", json=login, headers=me)).json()["token"]
    assert (await client.post("/v1/auth/revoke", headers=bearer(token))).status_code == 200
    for method, path in (("GET", "staff"), ("POST", "call-next")):
        r = await client.request(
            method, f"/v1/queues/{facility}-01/{path}", headers={**bearer(token), **me}
        )
        assert r.status_code == 401 and r.json()["error"]["code"] == "token_revoked"
    log = await entries(client, 4, staff_headers(facility))
    tried = [(e["action"], e["status"], e["outcome"], e["ip"]) for e in log if e["who"] == user]
    assert tried[-2:] == [
        ("GET /v1/queues/{info}/staff", "401", "token_revoked", me["X-Forwarded-For"]),
        ("POST /v1/queues/{info}/call-next", "401", "token_revoked", me["X-Forwarded-For"]),
    ]


async def test_odd_unicode_digits_are_a_clear_4xx_not_a_500(
    client: httpx.AsyncClient, facility: str
) -> None:
    """'²'.isdigit() is true but int('²') fails: query numbers and Last-Event-ID take ASCII
    digits only."""
    staff = staff_headers(facility)
    for params in ({"limit": "²"}, {"since": "²"}, {"limit": "١٢"}, {"since": "１２３"}):
        r = await client.get(A, params=params, headers=staff)
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_query", params
    url = f"/v1/queues/{facility}-01/events"
    async with client.stream("GET", url, headers={"Last-Event-ID": b"\xb2"}) as events:
        assert events.status_code == 200
        async with asyncio.timeout(5):
            async for line in events.aiter_lines():
                if line.startswith("event: state"):
                    break


async def test_logins_and_lockouts_are_logged(client: httpx.AsyncClient) -> None:
    started = str(int(time.time() * 1000))
    facility = await make_facility(client, ("01",), open_all=False)
    user = f"audited-{facility}"
    body = {"user": user, "password": "correct horse", "facility": facility}
    assert (await client.post("/v1/admin/users", json=body, headers=OPERATOR)).status_code == 201
    me = {"X-Forwarded-For": f"192.0.2.{int(facility) % 200 + 1}"}
    wrong = {"user": user, "password": "wrong horse"}
    assert (await client.post("/v1/auth/login", json=wrong, headers=me)).status_code == 401
    good = {"user": user, "password": "correct horse"}
    assert (await client.post("/v1/auth/login", json=good, headers=me)).status_code == 200
    own = await entries(client, 1, staff_headers(facility))
    assert [(e["who"], e["action"], e["outcome"]) for e in own] == [
        (user, "POST /v1/auth/login", "ok")
    ]
    ops = await entries(client, 1, OPERATOR, since=started)
    assert any(e["who"] == user and e["outcome"] == "invalid_credentials" for e in ops)
