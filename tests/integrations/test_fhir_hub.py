"""End to end through a real hub process: a FHIR endpoint added through the API, a desk ticket
with a patient-card number → its Encounter appears at the real FHIR server (Medplum's, in
Node) with the patient as subject, follows the call and the completion, and the ticket shows
``emr.status`` sent and the Encounter id to staff (never to the public view)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from hub.integrations.fhir_resources import TICKET_SYSTEM, patient_system
from tests.conftest import HubProcess, make_facility, staff_headers, start_hub
from tests.integrations.conftest import FHIR_INSTITUTION, FHIR_TOKEN, FhirServer


@pytest.fixture(scope="module")
def fhir_hub(redis_url: str) -> Iterator[HubProcess]:
    """A hub whose endpoints may be loopback http servers (the FHIR server)."""
    process = start_hub(
        redis_url, JUNBAN_INTEGRATIONS_ALLOW_LOOPBACK="1", JUNBAN_RETRY_SCALE="0.001"
    )
    yield process
    process.stop()


@pytest.fixture
async def api(fhir_hub: HubProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=fhir_hub.base_url, timeout=20) as c:
        yield c


def encounter_of(fhir: FhirServer, ticket_id: str) -> dict[str, Any] | None:
    for encounter in fhir.search("Encounter"):
        for identifier in encounter.get("identifier", []):
            if identifier["system"] == TICKET_SYSTEM and identifier["value"].endswith(
                f":{ticket_id}"
            ):
                return encounter
    return None


async def wait_for(fhir: FhirServer, ticket_id: str, status: str) -> dict[str, Any]:
    for _ in range(150):
        encounter = encounter_of(fhir, ticket_id)
        if encounter is not None and encounter["status"] == status:
            return encounter
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {status} Encounter for {ticket_id}: {encounter_of(fhir, ticket_id)}")


async def staff_ticket(api: httpx.AsyncClient, info: str, ticket_id: str) -> dict[str, Any]:
    facility = info.split("-")[0]
    r = await api.get(f"/v1/queues/{info}/staff", headers=staff_headers(facility))
    assert r.status_code == 200, r.text
    found: dict[str, Any] = next(t for t in r.json()["tickets"] if t["id"] == ticket_id)
    return found


async def test_a_ticket_with_a_patient_card_number_becomes_an_encounter_at_the_emr(
    api: httpx.AsyncClient, fhir: FhirServer
) -> None:
    facility = await make_facility(api, ("01",))
    info = f"{facility}-01"
    staff = staff_headers(facility)
    body = {
        "kind": "fhir",
        "url": fhir.url,
        "personal": True,
        "enabled": True,
        "config": {"institution_code": FHIR_INSTITUTION},
        "secret": FHIR_TOKEN,
    }
    r = await api.post(
        f"/v1/facilities/{facility}/integrations/endpoints", json=body, headers=staff
    )
    assert r.status_code == 201, r.text
    assert FHIR_TOKEN not in r.text
    bad = {**body, "config": {"institution_code": "123"}}
    r = await api.post(f"/v1/facilities/{facility}/integrations/endpoints", json=bad, headers=staff)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_endpoint_config"

    r = await api.get(
        f"/v1/facilities/{facility}/emr/patients",
        params={"kana": "やまだ", "birth": "1970-01-01"},
        headers=staff,
    )  # 患者検索 through the hub: the facility's FHIR endpoint
    assert r.status_code == 200, r.text
    assert r.json()["kind"] == "fhir"
    assert [(p["patient_ref"], p["name"]) for p in r.json()["patients"]] == [("00123", "山田 太郎")]

    r = await api.post(
        f"/v1/queues/{info}/tickets",
        json={"channel": "desk", "name": "山田 太郎", "patient_ref": "00123"},
        headers=staff,
    )
    assert r.status_code == 201, r.text
    ticket_id = r.json()["ticket"]["id"]
    encounter = await wait_for(fhir, ticket_id, "arrived")
    [patient] = fhir.search("Patient", identifier=f"{patient_system(FHIR_INSTITUTION)}|00123")
    assert encounter["subject"] == {"reference": f"Patient/{patient['id']}"}
    assert encounter["class"]["code"] == "AMB"
    assert fhir.last_auth() == f"Bearer {FHIR_TOKEN}"  # the hub's (the test's carry none)

    for _ in range(100):  # the outcome reaches the staff view
        notes = (await staff_ticket(api, info, ticket_id)).get("annotations") or {}
        if notes.get("emr.acceptance_id"):
            break
        await asyncio.sleep(0.1)
    assert notes == {"emr.status": "sent", "emr.acceptance_id": encounter["id"]}

    r = await api.post(f"/v1/queues/{info}/tickets/{ticket_id}/call", json={}, headers=staff)
    assert r.status_code == 200, r.text
    await wait_for(fhir, ticket_id, "in-progress")
    r = await api.post(f"/v1/queues/{info}/tickets/{ticket_id}/complete", headers=staff)
    assert r.status_code == 200, r.text
    done = await wait_for(fhir, ticket_id, "finished")
    assert done["id"] == encounter["id"]
    assert len([e for e in fhir.search("Encounter")]) == 1

    r = await api.post(
        f"/v1/queues/{info}/tickets", json={"channel": "desk", "name": "名無し"}, headers=staff
    )
    unlinked = r.json()["ticket"]["id"]
    for _ in range(100):
        notes = (await staff_ticket(api, info, unlinked)).get("annotations") or {}
        if notes:
            break
        await asyncio.sleep(0.1)
    assert notes == {"emr.status": "unlinked"}
    assert encounter_of(fhir, unlinked) is None
