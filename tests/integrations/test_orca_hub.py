"""End to end through a real hub process and the fake ORCA: an ORCA endpoint added through
the API; a desk ticket with a patient-card number → an acceptance (01) at ORCA and the
acceptance id on the ticket for staff; its cancellation → 02; busy answers retried; a 405
shown as a setup error; the patient lookup route (option, endpoint, audit)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from hub.integrations.events import TYPES
from tests.conftest import HubProcess, make_facility, staff_headers, start_hub
from tests.integrations.conftest import ORCA_PASSWORD, ORCA_USER, OrcaFake
from tests.web.test_api_gate import without_api
from tests.web.test_audit import entries

CONFIG = {"user": ORCA_USER, "counters": {"01": {"department": "01", "physician": "10001"}}}


@pytest.fixture(scope="module")
def orca_hub(redis_url: str) -> Iterator[HubProcess]:
    """A hub whose endpoints may be loopback http servers (the fake ORCA)."""
    process = start_hub(
        redis_url, JUNBAN_INTEGRATIONS_ALLOW_LOOPBACK="1", JUNBAN_RETRY_SCALE="0.002"
    )
    yield process
    process.stop()


@pytest.fixture
async def api(orca_hub: HubProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=orca_hub.base_url, timeout=20) as c:
        yield c


async def with_orca(api: httpx.AsyncClient, orca: OrcaFake) -> str:
    """A fresh facility (every option) with an ORCA endpoint for counter 01."""
    facility = await make_facility(api, ("01",))
    body = {"kind": "orca", "url": orca.url, "config": CONFIG, "secret": ORCA_PASSWORD}
    r = await api.post(
        f"/v1/facilities/{facility}/integrations/endpoints",
        json=body,
        headers=staff_headers(facility),
    )
    assert r.status_code == 201, r.text
    assert ORCA_PASSWORD not in r.text
    return facility


async def take(api: httpx.AsyncClient, info: str, patient_ref: str | None) -> str:
    body: dict[str, Any] = {"channel": "desk", "name": "日医 太郎"}
    if patient_ref is not None:
        body["patient_ref"] = patient_ref
    facility = info.split("-")[0]
    r = await api.post(f"/v1/queues/{info}/tickets", json=body, headers=staff_headers(facility))
    assert r.status_code == 201, r.text
    ticket_id: str = r.json()["ticket"]["id"]
    return ticket_id


async def notes_of(api: httpx.AsyncClient, info: str, ticket_id: str, key: str) -> dict[str, str]:
    """The ticket's annotations once ``key`` is among them (5 s at most)."""
    facility = info.split("-")[0]
    notes: dict[str, str] = {}
    for _ in range(100):
        r = await api.get(f"/v1/queues/{info}/staff", headers=staff_headers(facility))
        assert r.status_code == 200, r.text
        ticket = next(t for t in r.json()["tickets"] if t["id"] == ticket_id)
        notes = ticket.get("annotations") or {}
        if key in notes:
            return notes
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {key} on {ticket_id}: {notes}")


async def until(check: Any, what: str) -> None:
    for _ in range(100):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(what)


async def test_a_ticket_with_a_patient_card_is_accepted_at_orca_and_its_cancel_follows(
    api: httpx.AsyncClient, orca: OrcaFake
) -> None:
    facility = await with_orca(api, orca)
    info = f"{facility}-01"
    ticket_id = await take(api, info, "00012")
    notes = await notes_of(api, info, ticket_id, "emr.acceptance_id")
    (acceptance,) = orca.log()["acceptances"]
    assert notes == {"emr.status": "sent", "emr.acceptance_id": acceptance["Acceptance_Id"]}
    assert acceptance["Patient_ID"] == "00012" and acceptance["Department_Code"] == "01"
    public = (await api.get(f"/v1/queues/{info}")).text
    assert "emr." not in public and "00012" not in public

    unlinked = await take(api, info, None)
    assert await notes_of(api, info, unlinked, "emr.status") == {"emr.status": "unlinked"}

    r = await api.delete(f"/v1/queues/{info}/tickets/{ticket_id}", headers=staff_headers(facility))
    assert r.status_code == 200, r.text
    await until(lambda: orca.log()["acceptances"][0]["state"] == "cancelled", "no 02 at ORCA")
    numbers = [q["body"]["Request_Number"] for q in orca.log()["requests"]]
    assert numbers == ["01", "02"]  # the ticket without a card never reached ORCA


async def test_busy_twice_then_accepted(api: httpx.AsyncClient, orca: OrcaFake) -> None:
    facility = await with_orca(api, orca)
    info = f"{facility}-01"
    orca.control(busy=2)
    ticket_id = await take(api, info, "00013")
    notes = await notes_of(api, info, ticket_id, "emr.acceptance_id")
    assert notes["emr.status"] == "sent"
    assert len(orca.log()["requests"]) == 3 and len(orca.log()["acceptances"]) == 1


async def test_a_405_is_shown_as_a_setup_error(api: httpx.AsyncClient, orca: OrcaFake) -> None:
    facility = await with_orca(api, orca)
    info = f"{facility}-01"
    orca.control(mode405=True)
    ticket_id = await take(api, info, "00012")
    notes = await notes_of(api, info, ticket_id, "emr.error")
    assert notes["emr.status"] == "failed" and "ALLOW_METHODS=POST" in notes["emr.error"]


async def test_the_lookup_route(api: httpx.AsyncClient, orca: OrcaFake) -> None:
    facility = await with_orca(api, orca)
    staff = staff_headers(facility)
    url = f"/v1/facilities/{facility}/emr/patients"
    r = await api.get(url, params={"id": "00012"}, headers=staff)
    assert r.status_code == 200, r.text
    assert r.json()["patients"] == [
        {"patient_ref": "00012", "name": "日医 太郎", "kana": "ニチイ タロウ",
         "birth_date": "1970-01-01", "sex": "male"}
    ]  # fmt: skip
    r = await api.get(url, params={"kana": "ヤマダ", "birth": "1980-12-24"}, headers=staff)
    assert r.status_code == 200, r.text
    assert {p["patient_ref"] for p in r.json()["patients"]} == {"00200", "00201"}
    assert set(r.json()["patients"][0]) == {"patient_ref", "name", "kana", "birth_date", "sex"}
    r = await api.get(url, params={"id": "77777"}, headers=staff)
    assert r.status_code == 200 and r.json()["patients"] == []
    for bad in ({}, {"kana": "ヤマダ"}, {"id": "x y"}, {"id": "1", "phone": "0312345678"}):
        r = await api.get(url, params=bad, headers=staff)
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_query", bad
    r = await api.get(url, params={"phone": "0312345678"}, headers=staff)
    assert r.status_code == 400  # ORCA has no search by phone
    assert (await api.get(url, params={"id": "00012"})).status_code == 401
    other = staff_headers(await make_facility(api, ("01",)))
    assert (await api.get(url, params={"id": "00012"}, headers=other)).status_code == 403

    orca.control(mode405=True)
    r = await api.get(url, params={"kana": "ヤマダ", "birth": "1980-12-24"}, headers=staff)
    assert r.status_code == 503 and r.json()["error"]["code"] == "emr_unavailable"

    log = await entries(api, 1, staff, facility=facility)
    lookups = [e for e in log if e["action"] == "GET /v1/facilities/{facility}/emr/patients"]
    targets = {e["target"] for e in lookups}
    assert "emr lookup id=00012" in targets and "emr lookup by kana+birth" in targets
    assert not any("ヤマダ" in e["target"] or "1980" in e["target"] for e in lookups)


async def test_the_lookup_needs_an_endpoint_and_the_option(
    api: httpx.AsyncClient, orca: OrcaFake
) -> None:
    facility = await make_facility(api, ("01",))
    r = await api.get(
        f"/v1/facilities/{facility}/emr/patients", params={"id": "1"},
        headers=staff_headers(facility),
    )  # fmt: skip
    assert r.status_code == 409 and r.json()["error"]["code"] == "no_emr_endpoint"
    plain = await without_api(api)  # a contract with no option at all
    r = await api.get(
        f"/v1/facilities/{plain}/emr/patients", params={"id": "1"}, headers=staff_headers(plain)
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "option_not_contracted"


@pytest.mark.skipif(
    "ticket_linked" not in TYPES,
    reason="hub.integrations.events maps no ticket_linked event to ticket.linked yet",
)
async def test_a_ticket_linked_after_issue_is_accepted_then(
    api: httpx.AsyncClient, orca: OrcaFake
) -> None:
    facility = await with_orca(api, orca)
    info = f"{facility}-01"
    ticket_id = await take(api, info, None)
    assert await notes_of(api, info, ticket_id, "emr.status") == {"emr.status": "unlinked"}
    r = await api.put(
        f"/v1/queues/{info}/tickets/{ticket_id}/patient-ref",
        json={"patient_ref": "00013"},
        headers=staff_headers(facility),
    )
    assert r.status_code == 200, r.text
    notes = await notes_of(api, info, ticket_id, "emr.acceptance_id")
    assert notes["emr.status"] == "sent"
    (acceptance,) = orca.log()["acceptances"]
    assert acceptance["Patient_ID"] == "00013"
