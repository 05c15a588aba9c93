"""The FHIR adapter against a real FHIR R4 server (Medplum's FhirRouter + MemoryRepository in
Node, tests/peers/fhir_server.mjs) seeded with JP Core patients: lookups by kana and birth
date, by patient-card number and by phone; Encounters made once by conditional create and
moved through the visit; the outcomes staff see."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from hub.errors import Unavailable
from hub.integrations.endpoints import Endpoint
from hub.integrations.events import IntegrationEvent
from hub.integrations.fhir import FhirLookup, FhirSender
from hub.integrations.fhir_resources import ABSENT_EXTENSION, TICKET_SYSTEM
from hub.integrations.guard import outbound_client
from tests.conftest import free_port
from tests.integrations.conftest import FHIR_INSTITUTION, FHIR_TOKEN, FhirServer

DAY = "2026-12-07"
INFO = "12345678-01"


def client_factory(allow_private: bool) -> httpx.AsyncClient:
    return outbound_client(allow_private=allow_private, allow_loopback=True, timeout_s=5)


def endpoint(url: str, secret: str | None = FHIR_TOKEN) -> Endpoint:
    return Endpoint(
        id="ep_fhir", facility="12345678", kind="fhir", url=url, events=(), counters=None,
        personal=True, enabled=True, config={"institution_code": FHIR_INSTITUTION}, secret=secret,
    )  # fmt: skip


def event(
    etype: str, tid: str = "t1", patient_ref: str | None = "00123", status: str = "waiting",
    n: int = 0,
) -> IntegrationEvent:  # fmt: skip
    ticket = {"id": tid, "number": 1, "status": status, "patient_ref": patient_ref}
    return IntegrationEvent(
        id=f"evt_{INFO}_e_{n}_0", type=etype, timestamp=1_796_600_000.0 + n, facility="12345678",
        info=INFO, data={"facility": "12345678", "info": INFO, "day": DAY, "ticket": ticket},
    )  # fmt: skip


def encounters(fhir: FhirServer, tid: str = "t1") -> list[dict[str, Any]]:
    return fhir.search("Encounter", identifier=f"{TICKET_SYSTEM}|{INFO}:{DAY}:{tid}")


@pytest.fixture
async def lookup() -> AsyncIterator[FhirLookup]:
    adapter = FhirLookup(client_factory)
    yield adapter
    await adapter.aclose()


@pytest.fixture
async def sender() -> AsyncIterator[FhirSender]:
    adapter = FhirSender(client_factory)
    yield adapter
    await adapter.aclose()


# -- lookup ---------------------------------------------------------------------------------


async def test_kana_and_birth_date_find_the_patient_and_a_wrong_birth_finds_none(
    fhir: FhirServer, lookup: FhirLookup
) -> None:
    ep = endpoint(fhir.url)
    found = await lookup.lookup(ep, kana="ヤマダ タロウ", birth="1970-01-01")
    assert [(p.patient_ref, p.name, p.kana, p.birth_date, p.sex) for p in found] == [
        ("00123", "山田 太郎", "ヤマダ タロウ", "1970-01-01", "male")
    ]
    assert await lookup.lookup(ep, kana="ヤマダ タロウ", birth="1970-01-02") == []
    # the family name alone, hiragana or half-width kana: the same patient, not 佐藤 (same birth)
    for kana in ("ヤマダ", "やまだ　たろう", "ﾔﾏﾀﾞ ﾀﾛｳ", "ヤマダタロウ"):
        found = await lookup.lookup(ep, kana=kana, birth="1970-01-01")
        assert [p.patient_ref for p in found] == ["00123"], kana
    assert fhir.last_auth() == f"Bearer {FHIR_TOKEN}"


async def test_the_patient_card_number_finds_the_patient_under_this_clinics_system(
    fhir: FhirServer, lookup: FhirLookup
) -> None:
    ep = endpoint(fhir.url)
    found = await lookup.lookup(ep, patient_ref="00456")
    assert [(p.patient_ref, p.name, p.kana, p.sex) for p in found] == [
        ("00456", "山田 花子", "ヤマダ ハナコ", "female")
    ]
    assert await lookup.lookup(ep, patient_ref="99999") == []
    other = Endpoint(**{**_fields(ep), "config": {"institution_code": "2712345678"}})
    assert await lookup.lookup(other, patient_ref="00456") == []  # another clinic's ids


async def test_a_phone_number_finds_the_patient_however_it_was_hyphenated(
    fhir: FhirServer, lookup: FhirLookup
) -> None:
    ep = endpoint(fhir.url)
    assert [p.patient_ref for p in await lookup.lookup(ep, phone="09012345678")] == ["00123"]
    assert [p.patient_ref for p in await lookup.lookup(ep, phone="0312345678")] == ["00456"]
    assert await lookup.lookup(ep, phone="0120000000") == []


async def test_a_server_that_fails_or_is_gone_makes_the_lookup_unavailable(
    fhir: FhirServer, lookup: FhirLookup
) -> None:
    fhir.fail_next(500)
    with pytest.raises(Unavailable) as caught:
        await lookup.lookup(endpoint(fhir.url), patient_ref="00123")
    assert caught.value.code == "emr_unavailable"
    with pytest.raises(Unavailable):
        await lookup.lookup(endpoint(f"http://127.0.0.1:{free_port()}/fhir"), patient_ref="1")


# -- sender ---------------------------------------------------------------------------------


async def test_an_issued_ticket_makes_one_encounter_even_when_sent_twice(
    fhir: FhirServer, sender: FhirSender
) -> None:
    ep = endpoint(fhir.url)
    first = await sender.send(ep, event("ticket.issued"))
    again = await sender.send(ep, event("ticket.issued"))  # a retry or a replay
    assert first.ok and again.ok, (first, again)
    assert fhir.last_auth() == f"Bearer {FHIR_TOKEN}"
    made = encounters(fhir)
    assert len(made) == 1
    encounter = made[0]
    patient = fhir.search(
        "Patient", identifier=f"urn:oid:1.2.392.100495.20.3.51.1{FHIR_INSTITUTION}|00123"
    )
    assert encounter["subject"] == {"reference": f"Patient/{patient[0]['id']}"}
    assert encounter["status"] == "arrived"
    assert encounter["class"]["code"] == "AMB"
    expected = (
        ("t1", "emr.status", "sent"),
        ("t1", "emr.acceptance_id", encounter["id"]),
    )
    assert first.annotations == expected and again.annotations == expected


async def test_the_encounter_follows_the_visit_called_absent_requeued_completed(
    fhir: FhirServer, sender: FhirSender
) -> None:
    ep = endpoint(fhir.url)
    assert (await sender.send(ep, event("ticket.issued"))).ok
    steps = [
        ("ticket.called", "in-progress", False),
        ("ticket.absent", "in-progress", True),
        ("ticket.requeued", "arrived", False),
        ("ticket.called", "in-progress", False),
        ("ticket.completed", "finished", False),
    ]
    for n, (etype, status, absent) in enumerate(steps, start=1):
        outcome = await sender.send(ep, event(etype, n=n))
        assert outcome.ok, outcome
        [encounter] = encounters(fhir)
        assert encounter["status"] == status, etype
        marks = [x for x in encounter.get("extension", []) if x["url"] == ABSENT_EXTENSION]
        assert bool(marks) == absent, etype
    assert "end" in encounter["period"]


async def test_a_cancelled_ticket_cancels_its_encounter_and_makes_none_without_one(
    fhir: FhirServer, sender: FhirSender
) -> None:
    ep = endpoint(fhir.url)
    assert (await sender.send(ep, event("ticket.issued"))).ok
    assert (await sender.send(ep, event("ticket.cancelled", n=1))).ok
    assert [e["status"] for e in encounters(fhir)] == ["cancelled"]
    outcome = await sender.send(ep, event("ticket.cancelled", tid="t2", n=2))
    assert outcome.ok and encounters(fhir, "t2") == []


async def test_a_ticket_without_patient_ref_is_not_sent_and_shows_unlinked(
    fhir: FhirServer, sender: FhirSender
) -> None:
    outcome = await sender.send(endpoint(fhir.url), event("ticket.issued", patient_ref=None))
    assert outcome.ok and outcome.annotations == (("t1", "emr.status", "unlinked"),)
    assert encounters(fhir) == []


async def test_a_ticket_linked_later_gets_its_encounter_in_its_current_status(
    fhir: FhirServer, sender: FhirSender
) -> None:
    ep = endpoint(fhir.url)
    outcome = await sender.send(ep, event("ticket.linked", patient_ref="00456", status="called"))
    assert outcome.ok, outcome
    assert [e["status"] for e in encounters(fhir)] == ["in-progress"]


async def test_an_unknown_patient_is_not_found_for_good(
    fhir: FhirServer, sender: FhirSender
) -> None:
    outcome = await sender.send(endpoint(fhir.url), event("ticket.issued", patient_ref="99999"))
    assert not outcome.ok and not outcome.retry
    notes = dict((k, v) for _, k, v in outcome.annotations)
    assert notes["emr.status"] == "not_found" and "99999" in notes["emr.error"]
    assert encounters(fhir) == []


async def test_a_5xx_or_no_answer_is_retried_and_the_retry_succeeds(
    fhir: FhirServer, sender: FhirSender
) -> None:
    ep = endpoint(fhir.url)
    fhir.fail_next(503)
    outcome = await sender.send(ep, event("ticket.issued"))
    assert (outcome.ok, outcome.retry, outcome.status) == (False, True, 503)
    gone = await sender.send(
        endpoint(f"http://127.0.0.1:{free_port()}/fhir"), event("ticket.issued")
    )
    assert (gone.ok, gone.retry) == (False, True)
    assert encounters(fhir) == []
    assert (await sender.send(ep, event("ticket.issued"))).ok
    assert len(encounters(fhir)) == 1


async def test_a_refused_request_fails_for_good_with_the_servers_message(
    fhir: FhirServer, sender: FhirSender
) -> None:
    fhir.fail_next(401)
    outcome = await sender.send(endpoint(fhir.url), event("ticket.issued"))
    assert (outcome.ok, outcome.retry, outcome.status) == (False, False, 401)
    assert ("t1", "emr.status", "failed") in outcome.annotations


async def test_a_ping_reads_the_capability_statement(fhir: FhirServer, sender: FhirSender) -> None:
    ping = IntegrationEvent(
        id="evt_ping", type="ping", timestamp=0.0, facility="12345678", info="", data={}
    )
    assert (await sender.send(endpoint(fhir.url), ping)).ok
    assert fhir.last_auth() == f"Bearer {FHIR_TOKEN}"
    dead = await sender.send(endpoint(f"http://127.0.0.1:{free_port()}/fhir"), ping)
    assert not dead.ok


def _fields(ep: Endpoint) -> dict[str, Any]:
    return {name: getattr(ep, name) for name in Endpoint.__dataclass_fields__}
