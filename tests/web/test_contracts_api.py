"""The operator's contract API against a real hub: every transition, refusals, notices,
incidents, invoices, limits and the public service hours."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, datetime, timedelta
from typing import Any

import httpx

from tests.conftest import (
    OPERATOR,
    HubProcess,
    new_facility_number,
    short_tempdir,
    staff_headers,
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
    assert (await client.post(C, content=b"{", headers=OPERATOR)).status_code == 400
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
    today = date.today()
    contract = await active(client)
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


async def test_notices_show_on_the_facility_at_once(client: httpx.AsyncClient) -> None:
    contract = await active(client)
    number = contract["facility"]
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
    short = {"part": "api", "on": (date.today() + timedelta(days=30)).isoformat()}
    r2 = await post(client, contract, "discontinuations", short)
    assert r2.status_code == 422 and r2.json()["error"]["code"] == "notice_too_short"
    ok = {"part": "api", "on": (date.today() + timedelta(days=70)).isoformat(), "message": "API"}
    assert (await post(client, contract, "discontinuations", ok)).status_code == 201
    notices = (await client.get(f"/v1/facilities/{number}")).json()["notices"]
    assert [n["kind"] for n in notices] == ["interruption", "discontinuation"]
    assert notices[0]["message"] == "点検のため" and notices[1]["part"] == "api"


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
    assert json.loads(done.stdout)["status"] == "active"
    assert junban(hub, "suspend", contract["id"], "--reason", "abuse").returncode == 0
    facility = (await client.get(f"/v1/facilities/{number}")).json()
    assert facility["suspended"] is True and facility["counters"][0]["label"] == "受付"
    refused = junban(hub, "suspend", contract["id"], "--reason", "abuse")
    assert refused.returncode == 1 and "illegal_transition" in refused.stderr
    assert junban(hub, "resume", contract["id"]).returncode == 0
    listed = json.loads(junban(hub, "list", "--facility", number).stdout)["contracts"]
    assert [c["status"] for c in listed] == ["active"]
    month = date.today().strftime("%Y-%m")
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
