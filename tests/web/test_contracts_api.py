"""The operator's contract API against a real hub: every transition, refusals, notices,
incidents, invoices, limits and the public service hours."""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import sys
import time
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import redis.asyncio as aioredis

from hub import keys
from hub.queue.facilities import FacilityStore
from tests.channels.wsclient import LiveClient
from tests.conftest import (
    OPERATOR,
    HubProcess,
    new_facility_number,
    short_tempdir,
    staff_headers,
    start_hub,
)

C = "/v1/admin/contracts"
FEES = {"initial_fee": 30000, "monthly": {"reservation": 9000, "api": 3000}}


async def applied(client: httpx.AsyncClient, **extra: Any) -> dict[str, Any]:
    body = {"applicant": "Sakura Clinic", "items": ["reservation"], "options": ["api"],
            "fees": FEES, **extra}  # fmt: skip
    r = await client.post(C, json=body, headers=OPERATOR)
    assert r.status_code == 201, r.text
    contract: dict[str, Any] = r.json()
    assert contract["status"] == "applied" and contract["facility"] is None
    return contract


async def active(client: httpx.AsyncClient, **approve: Any) -> dict[str, Any]:
    contract = await applied(client, applied_on=approve.pop("applied_on", None))
    number = new_facility_number()
    body = {"facility": number, "name": "Sakura Clinic", "counters": {"01": "内科"}, **approve}
    r = await client.post(f"{C}/{contract['id']}/approve", json=body, headers=OPERATOR)
    assert r.status_code == 200, r.text
    return dict(r.json())


def hub_today(contract: dict[str, Any]) -> date:
    """Today as the hub counts it (facility time, Asia/Tokyo): never ``date.today()`` of the
    test process, which is another day from 15:00 to 24:00 UTC."""
    return date.fromisoformat(contract["today"]["date"])


async def post(client: httpx.AsyncClient, contract: dict[str, Any], action: str,
               body: Any = None) -> httpx.Response:  # fmt: skip
    return await client.post(f"{C}/{contract['id']}/{action}", json=body, headers=OPERATOR)


async def test_apply_approve_creates_the_facility_with_its_numbers(
    client: httpx.AsyncClient,
) -> None:
    contract = await active(client)
    number = contract["facility"]
    assert contract["status"] == "active" and contract["counters"] == ["01"]
    assert contract["start_date"] == contract["today"]["date"]
    assert contract["today"]["service"] == "running"
    facility = (await client.get(f"/v1/facilities/{number}")).json()
    assert facility["name"] == "Sakura Clinic" and [q["info"] for q in facility["queues"]] == [
        f"{number}-01"
    ]
    assert facility["notices"] == []
    # Art. 35: only the assigned information numbers exist
    assert (await client.get(f"/v1/queues/{number}-02")).status_code == 404
    listed = (await client.get(C, params={"facility": number}, headers=OPERATOR)).json()
    assert [c["id"] for c in listed["contracts"]] == [contract["id"]]
    shown = await client.get(f"{C}/{contract['id']}", headers=OPERATOR)
    assert shown.json()["version"] == contract["version"]


async def test_approve_without_a_number_assigns_a_free_one(client: httpx.AsyncClient) -> None:
    contract = await applied(client)
    r = await post(client, contract, "approve", {"name": "Auto"})
    assert r.status_code == 200, r.text
    number = r.json()["facility"]
    assert number.isdigit() and (await client.get(f"/v1/facilities/{number}")).status_code == 200


async def test_concurrent_approvals_create_one_facility_and_the_other_is_refused(
    client: httpx.AsyncClient,
) -> None:
    """Two approvals of one contract at once (each with its own facility number): exactly
    one succeeds and its facility serves; the other answers 409 and creates nothing."""
    for _ in range(3):
        contract = await applied(client)
        numbers = [new_facility_number(), new_facility_number()]
        answers = await asyncio.gather(
            *(post(client, contract, "approve", {"name": "Race", "facility": n}) for n in numbers)
        )
        assert sorted(r.status_code for r in answers) == [200, 409], [r.text for r in answers]
        loser = next(r for r in answers if r.status_code == 409)
        assert loser.json()["error"]["code"] == "illegal_transition"
        won = next(r for r in answers if r.status_code == 200).json()["facility"]
        lost = next(n for n in numbers if n != won)
        facility = (await client.get(f"/v1/facilities/{won}")).json()
        assert facility["suspended"] is False
        assert (await client.get(f"/v1/facilities/{lost}")).status_code == 404
        assert (await client.get(f"/v1/queues/{lost}-01")).status_code == 404


async def test_concurrent_commands_leave_the_facility_in_line_with_the_contract(
    client: httpx.AsyncClient,
) -> None:
    """Commands on one contract wait for each other (and for each other's sync): a burst of
    suspends and resumes ends with the facility agreeing with the stored contract."""
    contract = await active(client)
    number = contract["facility"]
    burst = [
        post(client, contract, "suspend", {"reason": "abuse"}) if i % 2 == 0
        else post(client, contract, "resume")
        for i in range(10)
    ]  # fmt: skip
    answers = await asyncio.gather(*burst)
    assert {r.status_code for r in answers} <= {200, 409}, [r.text for r in answers]
    stored = (await client.get(f"{C}/{contract['id']}", headers=OPERATOR)).json()
    facility = (await client.get(f"/v1/facilities/{number}")).json()
    queue = (await client.get(f"/v1/queues/{number}-01")).json()
    suspended = stored["status"] == "suspended"
    assert facility["suspended"] is suspended and queue["suspended"] is suspended


async def test_a_failed_facility_sync_still_answers_the_stored_change(
    client: httpx.AsyncClient, redis_url: str
) -> None:
    """The change is stored, then the facility sync fails (here: an unreadable facility
    record): the answer is the stored contract, not an error, and the contract stays on the
    due list for the keeper to repair."""
    contract = await active(client)
    raw = aioredis.from_url(redis_url)
    key = keys.facility(contract["facility"])
    saved = await raw.get(key)
    try:
        await raw.set(key, b"\xc1 not a facility")
        r = await post(client, contract, "suspend", {"reason": "non_payment"})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "suspended"
        due = await raw.zscore(keys.CONTRACTS_DUE, contract["id"])
        assert due is not None and due <= time.time()
    finally:
        await raw.set(key, saved)
        await raw.aclose()


async def test_the_contract_keeper_survives_a_broken_record(
    client: httpx.AsyncClient, redis_url: str
) -> None:
    """A due contract whose record cannot be read is logged and skipped: the keeper goes on
    with the others, this round and the next."""
    keeper = start_hub(redis_url, JUNBAN_DAY_CHECK="0.2")
    raw = aioredis.from_url(redis_url)
    broken = "c" + secrets.token_hex(6)
    try:
        await raw.set(keys.contract(broken), b"\xc1 not a contract")
        contract = await active(client)
        number = contract["facility"]
        for _ in range(2):  # two rounds: the keeper is still alive after the first
            await FacilityStore(raw).update(
                number, lambda f: replace(f, suspended=True, suspended_reason="tampered")
            )
            await raw.zadd(keys.CONTRACTS_DUE, {broken: 0, contract["id"]: 1})
            deadline = time.monotonic() + 10
            while (await client.get(f"/v1/facilities/{number}")).json()["suspended"]:
                assert time.monotonic() < deadline, keeper.log.read_text()[-2000:]
                await asyncio.sleep(0.1)
        assert "could not bring contract " + broken in keeper.log.read_text()
    finally:
        await raw.delete(keys.contract(broken))
        await raw.zrem(keys.CONTRACTS_DUE, broken)
        await raw.aclose()
        keeper.stop()


async def test_refused_transitions_answer_the_rules_code_and_change_nothing(
    client: httpx.AsyncClient,
) -> None:
    contract = await applied(client)
    for action, body in (("suspend", {"reason": "abuse"}), ("resume", None), ("object", None),
                         ("cancel", {"by": "customer"})):  # fmt: skip
        r = await post(client, contract, action, body)
        assert r.status_code == 409 and r.json()["error"]["code"] == "illegal_transition", r.text
    refused = await post(client, contract, "refuse", {"reason": "default_risk"})
    assert refused.status_code == 200 and refused.json()["status"] == "refused"
    again = await post(client, contract, "approve", {"name": "x"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "illegal_transition"
    after = (await client.get(f"{C}/{contract['id']}", headers=OPERATOR)).json()
    assert after["status"] == "refused" and after["version"] == refused.json()["version"]


async def test_bad_input_is_a_clear_4xx_and_changes_nothing(client: httpx.AsyncClient) -> None:
    for body, code in (
        ({"applicant": "A", "items": []}, "invalid_body"),
        ({"applicant": "A", "items": ["rocket"]}, "invalid_body"),
        ({"applicant": "A", "items": ["video"], "options": ["api"],
          "fees": {"monthly": {"video": 1, "api": 1}}}, "option_needs_reservation"),
        ({"applicant": "A", "items": ["reservation"], "fees": {"monthly": {}}}, "invalid_fee"),
        ({"applicant": "A", "items": ["reservation"], "fees": {"monthly": {"reservation": -1}}},
         "invalid_body"),
    ):  # fmt: skip
        r = await client.post(C, json=body, headers=OPERATOR)
        assert r.status_code == 422 and r.json()["error"]["code"] == code, (body, r.text)
    json_type = {**OPERATOR, "Content-Type": "application/json"}
    assert (await client.post(C, content=b"{", headers=json_type)).status_code == 400
    assert (await client.post(C, json=FEES, headers=staff_headers("1"))).status_code == 403
    assert (await client.get(f"{C}/cnothere", headers=OPERATOR)).status_code == 404
    contract = await applied(client)
    taken = (await active(client))["facility"]
    for body, status, code in (
        ({"name": "x", "facility": taken}, 409, "facility_exists"),
        ({"name": "x", "counters": {"1": "a"}}, 422, "invalid_body"),
        ({"name": "x", "tz": "Mars/Olympus"}, 422, "invalid_body"),
        ({"name": "x", "start_date": "1999-12-31"}, 422, "invalid_date"),
        ({"name": "x", "start_date": "2000-01-01"}, 422, "invalid_date"),  # before applying
    ):
        r = await post(client, contract, "approve", body)
        assert r.status_code == status and r.json()["error"]["code"] == code, (body, r.text)
    after = (await client.get(f"{C}/{contract['id']}", headers=OPERATOR)).json()
    assert after["status"] == "applied" and after["version"] == contract["version"]


async def test_suspend_resume_and_the_admin_routes_agree(client: httpx.AsyncClient) -> None:
    contract = await active(client)
    number = contract["facility"]
    bad = await post(client, contract, "suspend", {"reason": "because"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_body"
    r = await post(client, contract, "suspend", {"reason": "non_payment"})
    assert r.status_code == 200 and r.json()["status"] == "suspended"
    facility = (await client.get(f"/v1/facilities/{number}")).json()
    assert facility["suspended"] is True
    # the facility admin route acts on the contract, so both stay in line
    resumed = await client.post(f"/v1/admin/facilities/{number}/resume", headers=OPERATOR)
    assert resumed.status_code == 200 and resumed.json()["suspended"] is False
    shown = (await client.get(f"{C}/{contract['id']}", headers=OPERATOR)).json()
    assert shown["status"] == "active"
    vague = await client.post(
        f"/v1/admin/facilities/{number}/suspend", json={"reason": "x"}, headers=OPERATOR
    )
    assert vague.status_code == 422 and vague.json()["error"]["code"] == "invalid_reason"
    ok = await client.post(
        f"/v1/admin/facilities/{number}/suspend", json={"reason": "abuse"}, headers=OPERATOR
    )
    assert ok.status_code == 200 and ok.json()["suspended"] is True
    shown = (await client.get(f"{C}/{contract['id']}", headers=OPERATOR)).json()
    assert shown["status"] == "suspended" and shown["suspension"] == "abuse"


async def test_customer_cancellation_takes_effect_at_the_end_of_next_month(
    client: httpx.AsyncClient,
) -> None:
    contract = await active(client)
    today = hub_today(contract)
    r = await post(client, contract, "cancel", {"by": "customer", "on": today.isoformat()})
    assert r.status_code == 200, r.text
    cancellation = r.json()["cancellation"]
    assert cancellation["by"] == "customer"
    effective = date.fromisoformat(cancellation["effective_date"])
    assert effective > today and (effective + timedelta(days=1)).day == 1
    assert r.json()["today"]["service"] == "running"  # in force until then
    assert (await client.get(f"/v1/facilities/{contract['facility']}")).json()["suspended"] is False
    again = await post(client, contract, "cancel", {"by": "customer"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "illegal_transition"


async def test_objection_to_renewal(client: httpx.AsyncClient) -> None:
    contract = await active(client)
    r = await post(client, contract, "object")
    assert r.status_code == 200 and r.json()["renewal_objection_on"] is not None
    assert r.json()["today"]["ends_on"] is not None
    again = await post(client, contract, "object")
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_objected"


async def test_notices_show_on_the_facility_at_once(
    client: httpx.AsyncClient, hub: HubProcess
) -> None:
    """An announced interruption reaches the partner API, the queue's view and, live, every
    page subscribed to the queue (pages show it ahead of time)."""
    contract = await active(client)
    number = contract["facility"]
    watcher = await LiveClient.open(hub.base_url)
    await watcher.sub(f"queue:{number}-01")
    assert (await watcher.state(f"queue:{number}-01"))["data"]["notices"] == []
    now = datetime.now().astimezone()
    late = {"kind": "maintenance", "starts_at": (now + timedelta(hours=1)).isoformat(),
            "announced_at": (now + timedelta(hours=2)).isoformat()}  # fmt: skip
    r = await post(client, contract, "interruptions", late)
    assert r.status_code == 422 and r.json()["error"]["code"] == "notice_required"
    naive = {"kind": "maintenance", "starts_at": "2030-01-01T10:00:00"}
    assert (await post(client, contract, "interruptions", naive)).status_code == 422
    body = {
        "kind": "maintenance",
        "starts_at": (now + timedelta(days=1)).isoformat(),
        "ends_at": (now + timedelta(days=1, hours=2)).isoformat(),
        "message": "点検のため",
    }
    r = await post(client, contract, "interruptions", body)
    assert r.status_code == 201, r.text
    today = hub_today(contract)
    short = {"part": "api", "on": (today + timedelta(days=30)).isoformat()}
    r2 = await post(client, contract, "discontinuations", short)
    assert r2.status_code == 422 and r2.json()["error"]["code"] == "notice_too_short"
    ok = {"part": "api", "on": (today + timedelta(days=70)).isoformat(), "message": "API"}
    assert (await post(client, contract, "discontinuations", ok)).status_code == 201
    notices = (await client.get(f"/v1/facilities/{number}")).json()["notices"]
    assert [n["kind"] for n in notices] == ["interruption", "discontinuation"]
    assert notices[0]["message"] == "点検のため" and notices[1]["part"] == "api"
    view = (await client.get(f"/v1/queues/{number}-01")).json()
    assert view["notices"] == notices
    live = await watcher.until(
        lambda f: f["op"] == "state" and len(f["data"]["notices"]) == 2, timeout=5
    )
    assert live["data"]["notices"] == notices
    await watcher.ws.close()


async def test_incident_claim_refund_and_invoice(client: httpx.AsyncClient) -> None:
    contract = await active(client, applied_on="2026-01-05", start_date="2026-01-10")
    learned = datetime.fromisoformat("2026-03-02T06:00:00+09:00")
    body = {"learned_at": learned.isoformat(),
            "recovered_at": (learned + timedelta(days=2)).isoformat()}  # fmt: skip
    r = await post(client, contract, "incidents", body)
    assert r.status_code == 201, r.text
    incident = r.json()["incidents"][0]["incident"]["id"]
    late = await post(client, contract, f"incidents/{incident}/claim", {"on": "2026-05-01"})
    assert late.status_code == 422 and late.json()["error"]["code"] == "claim_too_late"
    claim = await post(client, contract, f"incidents/{incident}/claim", {"on": "2026-03-10"})
    assert claim.status_code == 200, claim.text
    refund = claim.json()["incidents"][0]["refund"]
    assert refund > 0
    twice = await post(client, contract, f"incidents/{incident}/claim", {"on": "2026-03-11"})
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "already_claimed"
    url = f"{C}/{contract['id']}/invoices/2026-03"
    bill = (await client.get(url, headers=OPERATOR)).json()
    kinds = [line["kind"] for line in bill["lines"]]
    assert kinds == ["service_fee", "service_fee", "refund"]
    assert (
        bill["lines"][-1]["amount"] == -refund
        and bill["total"] == bill["subtotal"] + bill["tax"]["amount"]
    )
    csv = await client.get(url, params={"format": "csv"}, headers=OPERATOR)
    assert csv.headers["content-type"].startswith("text/csv")
    assert "refund" in csv.text and str(bill["total"]) in csv.text
    for month in ("2026-13", "26-03", "x"):
        bad = await client.get(f"{C}/{contract['id']}/invoices/{month}", headers=OPERATOR)
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_month"
    first = (await client.get(f"{C}/{contract['id']}/invoices/2026-01", headers=OPERATOR)).json()
    assert first["lines"][0]["kind"] == "initial_fee"


async def test_service_hours_are_public(client: httpx.AsyncClient) -> None:
    hours = (await client.get("/v1/service/hours")).json()
    assert isinstance(hours["support_open"], bool)
    assert datetime.fromisoformat(hours["next_support_open"]).tzinfo is not None
    assert hours["server_hours"]["opens"] == "00:00"  # the test hub's JUNBAN_SERVICE_HOURS
    assert hours["support_hours"]["hours"][0]["opens"] == "08:00"


def junban(hub: HubProcess, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "hub.cli", "contracts", "--url", hub.base_url, *args]
    return subprocess.run(command, env=hub.env, capture_output=True, text=True, timeout=60)


async def test_the_contracts_cli(client: httpx.AsyncClient, hub: HubProcess) -> None:
    done = junban(hub, "apply", "--applicant", "CLI Clinic", "--options", "api",
                  "--fee", "reservation=9000", "--fee", "api=1000")  # fmt: skip
    assert done.returncode == 0, done.stderr
    contract = json.loads(done.stdout)
    number = new_facility_number()
    done = junban(hub, "approve", contract["id"], "--name", "CLI Clinic", "--facility", number,
                  "--counter", "01=受付")  # fmt: skip
    assert done.returncode == 0, done.stderr
    approved = json.loads(done.stdout)
    assert approved["status"] == "active"
    assert junban(hub, "suspend", contract["id"], "--reason", "abuse").returncode == 0
    facility = (await client.get(f"/v1/facilities/{number}")).json()
    assert facility["suspended"] is True and facility["counters"][0]["label"] == "受付"
    refused = junban(hub, "suspend", contract["id"], "--reason", "abuse")
    assert refused.returncode == 1 and "illegal_transition" in refused.stderr
    assert junban(hub, "resume", contract["id"]).returncode == 0
    listed = json.loads(junban(hub, "list", "--facility", number).stdout)["contracts"]
    assert [c["status"] for c in listed] == ["active"]
    month = hub_today(approved).strftime("%Y-%m")  # the hub's month, not the test's
    bill = junban(hub, "invoice", contract["id"], month, "--csv")
    assert bill.returncode == 0 and "service_fee" in bill.stdout


async def test_demo_seeds_an_active_contract_with_every_option(redis_url: str) -> None:
    demo = HubProcess({"JUNBAN_REDIS_URL": redis_url}, short_tempdir(), ("--demo",)).start()
    try:
        async with httpx.AsyncClient(base_url=demo.base_url) as client:
            r = await client.get(C, params={"facility": "1234"}, headers=OPERATOR)
            (contract,) = r.json()["contracts"]
            assert contract["status"] == "active" and contract["counters"] == ["01", "02"]
            assert set(contract["options"]) == {"emr", "phone", "api"}
            partner = {"Origin": "https://partner.example"}
            assert (await client.get("/v1/facilities/1234", headers=partner)).status_code == 200
    finally:
        demo.stop()
