"""The hot path obeys the contract: suspended or cancelled facilities issue no tickets, an
option not contracted is refused, operator-set limits bind (Art. 12, 15, 37, Table 1)."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.conftest import OPERATOR, TOKENS, bearer, make_facility, staff_headers
from tests.web.test_contracts_api import C, active, post


async def open_all(client: httpx.AsyncClient, contract: dict[str, Any]) -> str:
    info = f"{contract['facility']}-01"
    for action in ("open", "web/open"):
        r = await client.post(f"/v1/queues/{info}/{action}", headers=staff_headers(info[:-3]))
        assert r.status_code == 200, r.text
    return info


async def take(client: httpx.AsyncClient, info: str) -> httpx.Response:
    return await client.post(f"/v1/queues/{info}/tickets")


async def test_a_suspended_facility_issues_no_ticket_until_resumed(
    client: httpx.AsyncClient,
) -> None:
    contract = await active(client)
    info = await open_all(client, contract)
    assert (await take(client, info)).status_code == 201
    assert (await post(client, contract, "suspend", {"reason": "non_payment"})).status_code == 200
    refused = await take(client, info)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "facility_suspended"
    kiosk = await client.post(
        f"/v1/queues/{info}/tickets", json={"channel": "kiosk"}, headers=staff_headers(info[:-3])
    )
    assert kiosk.status_code == 403
    assert (await client.get(f"/v1/queues/{info}")).json()["suspended"] is True
    assert (await post(client, contract, "resume")).status_code == 200
    again = await take(client, info)
    assert again.status_code == 201 and again.json()["ticket"]["number"] == 2


async def test_a_cancelled_facility_stays_shut(client: httpx.AsyncClient) -> None:
    contract = await active(client)
    info = await open_all(client, contract)
    await post(client, contract, "suspend", {"reason": "non_payment"})
    r = await post(client, contract, "cancel", {"by": "operator"})
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert (await take(client, info)).json()["error"]["code"] == "facility_suspended"
    for attempt in (
        post(client, contract, "resume"),
        client.post(f"/v1/admin/facilities/{contract['facility']}/resume", headers=OPERATOR),
    ):
        refused = await attempt
        assert (
            refused.status_code == 409 and refused.json()["error"]["code"] == "illegal_transition"
        )
    assert (await take(client, info)).status_code == 403


async def test_a_cancelled_contract_in_its_notice_period_can_be_suspended_and_resumed(
    client: httpx.AsyncClient,
) -> None:
    """Art. 12 and 15 during a customer's notice period (Art. 16-1): the contract is still
    in force, so the operator suspends it (tickets stop), resumes it once paid (tickets
    again), or cancels it, which ends it that day instead of at the month end."""
    contract = await active(client)
    info = await open_all(client, contract)
    noticed = await post(client, contract, "cancel", {"by": "customer"})
    assert noticed.status_code == 200 and noticed.json()["status"] == "cancelled"
    month_end = noticed.json()["cancellation"]["effective_date"]
    suspended = await post(client, contract, "suspend", {"reason": "non_payment"})
    assert suspended.status_code == 200, suspended.text
    assert suspended.json()["status"] == "cancelled"
    assert suspended.json()["today"]["service_reason"] == "non_payment"
    assert (await take(client, info)).json()["error"]["code"] == "facility_suspended"
    resumed = await client.post(f"/v1/admin/facilities/{contract['facility']}/resume",
                                headers=OPERATOR)  # fmt: skip
    assert resumed.status_code == 200 and resumed.json()["suspended"] is False
    assert (await take(client, info)).status_code == 201
    assert (await post(client, contract, "suspend", {"reason": "non_payment"})).status_code == 200
    ended = await post(client, contract, "cancel", {"by": "operator"})
    assert ended.status_code == 200, ended.text
    cancellation = ended.json()["cancellation"]
    today = ended.json()["today"]["date"]
    assert cancellation["by"] == "operator" and cancellation["effective_date"] == today
    assert today <= month_end
    again = await post(client, contract, "resume")
    assert again.status_code == 409 and again.json()["error"]["code"] == "illegal_transition"


async def test_a_cancellation_whose_date_has_passed_closes_the_facility(
    client: httpx.AsyncClient,
) -> None:
    contract = await active(client, applied_on="2024-01-05", start_date="2024-01-10")
    info = await open_all(client, contract)
    assert (await take(client, info)).status_code == 201
    r = await post(client, contract, "cancel", {"by": "customer", "on": "2024-02-01"})
    assert r.status_code == 200, r.text
    assert r.json()["cancellation"]["effective_date"] == "2024-03-31"
    assert r.json()["today"]["service_reason"] == "contract_ended"
    refused = await take(client, info)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "facility_suspended"
    over = await post(client, contract, "suspend", {"reason": "non_payment"})
    assert over.status_code == 409 and over.json()["error"]["code"] == "not_in_force"


async def test_the_partner_api_needs_the_api_option(client: httpx.AsyncClient, hub: Any) -> None:
    without = await client.post(
        C,
        json={"applicant": "No API", "items": ["reservation"],
              "fees": {"monthly": {"reservation": 9000}}},
        headers=OPERATOR,
    )  # fmt: skip
    contract = without.json()
    r = await post(client, contract, "approve", {"name": "No API"})
    number = r.json()["facility"]
    url = f"/v1/facilities/{number}"
    assert (await client.get(url)).status_code == 200  # server-side, no Origin
    same = await client.get(url, headers={"Origin": hub.base_url})
    assert same.status_code == 200  # the hub's own pages
    partner = bearer(TOKENS.issue("partner", facility=number))
    for headers in ({"Origin": "https://clinic.example"}, partner):
        refused = await client.get(url, headers=headers)
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "option_not_contracted"
    with_api = (await active(client))["facility"]
    ok = await client.get(f"/v1/facilities/{with_api}", headers={"Origin": "https://x.example"})
    assert ok.status_code == 200
    by_hand = await make_facility(client, open_all=False)  # no contract: every option
    assert (await client.get(f"/v1/facilities/{by_hand}", headers=partner)).status_code == 200


async def test_a_facility_limit_binds_and_shows_in_metrics(client: httpx.AsyncClient) -> None:
    facility = await make_facility(client, ("01",))
    limits = f"/v1/admin/facilities/{facility}/limits"
    for body in ({"rate": "ten"}, {"rate": "1/0"}, {"rate_ip": 5}):
        bad = await client.put(limits, json=body, headers=OPERATOR)
        assert bad.status_code == 422, (body, bad.text)
    assert (
        await client.put(limits, json={"rate": "1/1"}, headers=staff_headers(facility))
    ).status_code == 403
    r = await client.put(limits, json={"rate": "3/3600"}, headers=OPERATOR)
    assert r.status_code == 200 and r.json() == {
        "facility": facility,
        "rate": "3/3600",
        "rate_ip": None,
        "rate_key": None,
    }
    codes = [(await take(client, f"{facility}-01")).status_code for _ in range(5)]
    assert codes == [201, 201, 201, 429, 429]
    metrics = (await client.get("/metrics")).text
    found = re.search(
        rf'junban_facility_rate_limited_total{{facility="{facility}"}} (\S+)', metrics
    )
    assert found is not None and float(found.group(1)) == 2.0
    # other facilities keep the global limit and get no label
    other = await make_facility(client, ("01",))
    assert all([(await take(client, f"{other}-01")).status_code == 201 for _ in range(5)])
    assert f'facility="{other}"' not in (await client.get("/metrics")).text
    lifted = await client.put(limits, json={"rate": None}, headers=OPERATOR)
    assert lifted.json()["rate"] is None
    assert (await take(client, f"{facility}-01")).status_code == 201
