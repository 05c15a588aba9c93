"""The ORCA sender and lookup against the fake ORCA (a real HTTP server in a subprocess,
JSON mode, Basic auth): acceptances, cancellations, busy answers, setup errors, lookups."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.errors import BadRequest, Unavailable
from hub.integrations.endpoints import Endpoint
from hub.integrations.events import IntegrationEvent
from hub.integrations.orca import OrcaLookup, OrcaSender
from tests.integrations.conftest import ORCA_PASSWORD, ORCA_USER, OrcaFake

FACILITY = "4321"
CONFIG = {
    "user": ORCA_USER,
    "counters": {"01": {"department": "01", "physician": "10001"},
                 "02": {"department": "09", "physician": "10002"}},
}  # fmt: skip


def client(allow_private: bool) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=5)


def endpoint_of(fake: OrcaFake, password: str = ORCA_PASSWORD) -> Endpoint:
    return Endpoint(
        id="ep_orca", facility=FACILITY, kind="orca", url=fake.url, events=(), counters=None,
        personal=True, enabled=True, config=CONFIG, secret=password,
    )  # fmt: skip


def event(
    type_: str, ticket_id: str, patient_ref: str | None, *, counter: str = "01", at: float = 0
) -> IntegrationEvent:
    issued = at or time.time()
    iso = datetime.fromtimestamp(issued, ZoneInfo("UTC")).isoformat().replace("+00:00", "Z")
    ticket = {"id": ticket_id, "number": 1, "status": "waiting", "issued_at": iso,
              "patient_ref": patient_ref, "name": "", "phone": ""}  # fmt: skip
    return IntegrationEvent(
        id=f"evt_{ticket_id}_{type_}", type=type_, timestamp=issued, facility=FACILITY,
        info=f"{FACILITY}-{counter}", data={"ticket": ticket},
    )  # fmt: skip


class Notes:
    """The tickets' annotations, as QueueActions would hold them after the dispatcher."""

    def __init__(self) -> None:
        self.by_ticket: dict[str, dict[str, str]] = {}

    def apply(self, outcome: Any) -> None:
        for ticket_id, key, value in outcome.annotations:
            self.by_ticket.setdefault(ticket_id, {})[key] = value

    async def of(self, info: str, ticket_id: str) -> dict[str, str]:
        return self.by_ticket.get(ticket_id, {})


async def tokyo(facility: str) -> str:
    return "Asia/Tokyo"


@pytest.fixture
async def notes() -> Notes:
    return Notes()


@pytest.fixture
async def sender(notes: Notes) -> AsyncIterator[OrcaSender]:
    made = OrcaSender(client, tokyo, notes.of, busy_delay_s=0.05)
    yield made
    await made.aclose()


@pytest.fixture
async def lookup() -> AsyncIterator[OrcaLookup]:
    made = OrcaLookup(client)
    yield made
    await made.aclose()


async def test_an_issued_ticket_with_a_patient_card_becomes_an_acceptance(
    orca: OrcaFake, sender: OrcaSender, notes: Notes
) -> None:
    at = datetime(2026, 12, 7, 8, 31, 5, tzinfo=ZoneInfo("Asia/Tokyo")).timestamp()
    outcome = await sender.send(endpoint_of(orca), event("ticket.issued", "t1", "00012", at=at))
    assert outcome.ok, outcome
    notes.apply(outcome)
    (acceptance,) = orca.log()["acceptances"]
    assert acceptance["Patient_ID"] == "00012"
    assert (acceptance["Acceptance_Date"], acceptance["Acceptance_Time"]) == (
        "2026-12-07", "08:31:05",
    )  # fmt: skip
    assert (acceptance["Department_Code"], acceptance["Physician_Code"]) == ("01", "10001")
    assert notes.by_ticket["t1"] == {
        "emr.status": "sent", "emr.acceptance_id": acceptance["Acceptance_Id"],
    }  # fmt: skip
    # idempotent: the acceptance id on the ticket means no second 01
    again = await sender.send(endpoint_of(orca), event("ticket.issued", "t1", "00012", at=at))
    assert again.ok and not again.annotations
    assert len(orca.log()["acceptances"]) == 1


async def test_k3_is_success_and_the_counter_picks_the_codes(
    orca: OrcaFake, sender: OrcaSender
) -> None:
    orca.control(accept_result="K3")
    outcome = await sender.send(
        endpoint_of(orca), event("ticket.issued", "t2", "00013", counter="02")
    )
    assert outcome.ok and ("t2", "emr.status", "sent") in outcome.annotations
    (acceptance,) = orca.log()["acceptances"]
    assert (acceptance["Department_Code"], acceptance["Physician_Code"]) == ("09", "10002")


async def test_a_cancellation_sends_02_only_for_an_acceptance(
    orca: OrcaFake, sender: OrcaSender, notes: Notes
) -> None:
    ep = endpoint_of(orca)
    at = time.time()
    none = await sender.send(ep, event("ticket.cancelled", "t3", "00012", at=at))
    assert none.ok and orca.log()["requests"] == []  # never accepted: nothing sent
    notes.apply(await sender.send(ep, event("ticket.issued", "t3", "00012", at=at)))
    cancelled = await sender.send(ep, event("ticket.cancelled", "t3", "00012", at=at))
    assert cancelled.ok, cancelled
    requests = [r["body"]["Request_Number"] for r in orca.log()["requests"]]
    assert requests == ["01", "02"]
    assert orca.log()["acceptances"][0]["state"] == "cancelled"
    assert (
        orca.log()["requests"][1]["body"]["Acceptance_Id"]
        == notes.by_ticket["t3"]["emr.acceptance_id"]
    )


async def test_busy_twice_then_accepted(orca: OrcaFake, sender: OrcaSender) -> None:
    orca.control(busy=2)
    outcome = await sender.send(endpoint_of(orca), event("ticket.issued", "t4", "00012"))
    assert outcome.ok, outcome
    assert len(orca.log()["requests"]) == 3
    assert len(orca.log()["acceptances"]) == 1


async def test_busy_beyond_six_retries_is_retried_later(orca: OrcaFake, sender: OrcaSender) -> None:
    orca.control(busy=100)
    outcome = await sender.send(endpoint_of(orca), event("ticket.issued", "t5", "00012"))
    assert not outcome.ok and outcome.retry
    assert len(orca.log()["requests"]) == 7  # the first try and 6 retries
    assert orca.log()["acceptances"] == []


async def test_a_405_is_a_setup_error_not_retried(orca: OrcaFake, sender: OrcaSender) -> None:
    orca.control(mode405=True)
    outcome = await sender.send(endpoint_of(orca), event("ticket.issued", "t6", "00012"))
    assert not outcome.ok and not outcome.retry and outcome.status == 405
    notes = {k: v for _, k, v in outcome.annotations}
    assert notes["emr.status"] == "failed"
    assert "ALLOW_METHODS=POST" in notes["emr.error"] and "receipt_route.ini" in notes["emr.error"]


async def test_a_5xx_or_no_answer_is_retried(orca: OrcaFake, sender: OrcaSender) -> None:
    orca.control(fail5xx=1)
    outcome = await sender.send(endpoint_of(orca), event("ticket.issued", "t7", "00012"))
    assert not outcome.ok and outcome.retry and outcome.status == 500
    gone = replace(endpoint_of(orca), url="http://127.0.0.1:9")  # nothing listens there
    outcome = await sender.send(gone, event("ticket.issued", "t7", "00012"))
    assert not outcome.ok and outcome.retry and outcome.status is None


async def test_an_orca_error_fails_for_good_with_its_message(
    orca: OrcaFake, sender: OrcaSender
) -> None:
    outcome = await sender.send(endpoint_of(orca), event("ticket.issued", "t8", "99999"))
    assert not outcome.ok and not outcome.retry
    notes = {k: v for _, k, v in outcome.annotations}
    assert notes["emr.status"] == "not_found"
    assert "患者番号に該当する患者が存在しません" in notes["emr.error"]


async def test_a_wrong_password_is_a_setup_error(orca: OrcaFake, sender: OrcaSender) -> None:
    outcome = await sender.send(endpoint_of(orca, "wrong"), event("ticket.issued", "t9", "00012"))
    assert not outcome.ok and not outcome.retry and outcome.status == 401
    assert orca.log()["acceptances"] == []


async def test_a_ticket_without_a_patient_card_is_not_sent(
    orca: OrcaFake, sender: OrcaSender
) -> None:
    outcome = await sender.send(endpoint_of(orca), event("ticket.issued", "t10", None))
    assert outcome.ok and outcome.annotations == (("t10", "emr.status", "unlinked"),)
    called = await sender.send(endpoint_of(orca), event("ticket.called", "t10", "00012"))
    assert called.ok and not called.annotations
    assert orca.log()["requests"] == []


async def test_lookup_by_id_and_by_kana_and_birth(orca: OrcaFake, lookup: OrcaLookup) -> None:
    ep = endpoint_of(orca)
    (taro,) = await lookup.lookup(ep, patient_ref="12")
    assert (taro.patient_ref, taro.name, taro.kana, taro.birth_date, taro.sex) == (
        "00012", "日医 太郎", "ニチイ タロウ", "1970-01-01", "male",
    )  # fmt: skip
    assert await lookup.lookup(ep, patient_ref="99999") == []
    found = await lookup.lookup(ep, kana="ヤマダ", birth="1980-12-24")
    assert sorted(p.patient_ref for p in found) == ["00200", "00201"]
    assert await lookup.lookup(ep, kana="ヤマダ", birth="1980-12-25") == []
    with pytest.raises(BadRequest):
        await lookup.lookup(ep, phone="0312345678")


async def test_lookup_failures_are_unavailable(orca: OrcaFake, lookup: OrcaLookup) -> None:
    orca.control(mode405=True)
    with pytest.raises(Unavailable) as refused:
        await lookup.lookup(endpoint_of(orca), kana="ヤマダ", birth="1980-12-24")
    assert refused.value.code == "emr_unavailable" and "ALLOW_METHODS" in str(refused.value)
    with pytest.raises(Unavailable):
        await lookup.lookup(endpoint_of(orca, "wrong"), patient_ref="12")


OPS = st.lists(
    st.tuples(
        st.sampled_from(["issue", "issue_unlinked", "link", "cancel", "busy"]),
        st.integers(min_value=0, max_value=3),
    ),
    max_size=14,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS)
def test_any_sequence_accepts_each_linked_ticket_once_and_cancels_only_after(
    orca_server: OrcaFake, ops: list[tuple[str, int]]
) -> None:
    """Whatever the order of issues, late links, cancellations and busy spells, each ticket
    with a card number is accepted once, and a 02 only ever follows that ticket's 01."""
    orca_server.control(reset=True)

    async def run() -> tuple[dict[str, str], set[str]]:
        notes = Notes()
        sender = OrcaSender(client, tokyo, notes.of, busy_delay_s=0.0)
        refs: dict[str, str | None] = {}
        cancelled: set[str] = set()
        try:
            for op, n in ops:
                tid = f"p{n}"
                if op == "busy":
                    orca_server.control(busy=2)
                    continue
                if tid in cancelled:
                    continue
                if op in ("issue", "issue_unlinked") and tid not in refs:
                    refs[tid] = "00012" if op == "issue" else None
                    sent = await sender.send(
                        endpoint_of(orca_server), event("ticket.issued", tid, refs[tid])
                    )
                elif op == "link" and tid in refs and refs[tid] is None:
                    refs[tid] = "00013"
                    sent = await sender.send(
                        endpoint_of(orca_server), event("ticket.linked", tid, refs[tid])
                    )
                elif op == "cancel" and tid in refs:
                    cancelled.add(tid)
                    sent = await sender.send(
                        endpoint_of(orca_server), event("ticket.cancelled", tid, refs[tid])
                    )
                else:
                    continue
                assert sent.ok, sent
                notes.apply(sent)
        finally:
            await sender.aclose()
        accepted = {t: n["emr.acceptance_id"] for t, n in notes.by_ticket.items()
                    if "emr.acceptance_id" in n}  # fmt: skip
        assert set(accepted) == {t for t, ref in refs.items() if ref is not None}
        return accepted, cancelled

    accepted, cancelled = asyncio.run(run())
    log = orca_server.log()
    acceptances = {a["Acceptance_Id"]: a for a in log["acceptances"]}
    assert sorted(acceptances) == sorted(accepted.values())  # one 01 per linked ticket
    made: set[str] = set()
    for request in log["requests"]:
        if request["body"]["Request_Number"] == "02":
            assert request["body"]["Acceptance_Id"] in made  # never before its acceptance
        elif "acceptance_id" in request:
            made.add(request["acceptance_id"])
    for tid, acceptance_id in accepted.items():
        state = acceptances[acceptance_id]["state"]
        assert state == ("cancelled" if tid in cancelled else "accepted"), (tid, state)
