"""The phone call-out option end to end: a real hub (its outbox's ``phone`` group running
inline) places calls through the TwiML call simulator, which posts back signed status
callbacks; the signatures are checked with the ``twilio`` library's own validator."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from twilio.request_validator import RequestValidator

from tests.conftest import OPERATOR, HubProcess, make_facility, staff_headers
from tests.phone.conftest import SIM_SID, SIM_TOKEN, CallSimulator, phone_hub

A, B, C, D = "+819011110001", "+819022220002", "+819033330003", "+819044440004"


async def until(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.1)


def calls_to(sim: CallSimulator, number: str) -> list[dict[str, Any]]:
    return [c for c in sim.log()["calls"] if c["to"] == number]


async def setup(client: httpx.AsyncClient, sim: CallSimulator, **settings: Any) -> str:
    put = await client.put(
        "/v1/admin/phone/providers/sim",
        json={
            "kind": "twiml",
            "base_url": sim.url,
            "account_sid": SIM_SID,
            "auth_token": SIM_TOKEN,
        },
        headers=OPERATOR,
    )
    assert put.status_code == 200, put.text
    assert "auth_token" not in put.json()
    facility = await make_facility(client, ("01",))
    body = {
        "threshold": 1,
        "window_from": "00:00",
        "window_to": "24:00",
        "provider": "sim",
        "caller": "03-1234-5678",
        **settings,
    }
    r = await client.put(
        f"/v1/facilities/{facility}/phone/settings", json=body, headers=staff_headers(facility)
    )
    assert r.status_code == 200, r.text
    assert r.json()["caller"] == "+81312345678"
    return facility


async def take(
    client: httpx.AsyncClient, facility: str, phone: str, consent: bool
) -> dict[str, Any]:
    r = await client.post(
        f"/v1/queues/{facility}-01/tickets",
        json={"channel": "desk", "phone": phone, "phone_consent": consent},
        headers=staff_headers(facility),
    )
    assert r.status_code == 201, r.text
    ticket: dict[str, Any] = {**r.json()["ticket"], "token": r.json()["token"]}
    return ticket


async def call_next(client: httpx.AsyncClient, facility: str) -> None:
    r = await client.post(f"/v1/queues/{facility}-01/call-next", headers=staff_headers(facility))
    assert r.status_code == 200, r.text


async def test_near_calls_once_retries_busy_once_and_never_without_consent(
    hub_process: HubProcess, sim: CallSimulator, redis_url: str
) -> None:
    sim.control(outcomes={B: "busy"})
    async with httpx.AsyncClient(base_url=hub_process.base_url, timeout=20) as client:
        facility = await setup(client, sim)
        await take(client, facility, "090-1111-0001", False)  # A, no consent
        await take(client, facility, "090-5555-0005", False)  # X, no consent
        t2 = await take(client, facility, "090-2222-0002", True)  # B, busy
        t3 = await take(client, facility, "090-3333-0003", True)  # C, answers
        await take(client, facility, "090-4444-0004", False)  # D, no consent
        staff = await client.get(
            f"/v1/queues/{facility}-01/tickets/{t2['id']}", headers=staff_headers(facility)
        )
        consent = staff.json()["ticket"]["phone_consent"]
        assert consent["by"] == "t" and consent["text_version"] == "phone-consent-1"
        assert staff.json()["ticket"]["phone"] == B
        patient = await client.get(
            f"/v1/queues/{facility}-01/tickets/{t2['id']}",
            headers={"Authorization": f"Bearer {t2['token']}"},
        )
        assert "phone_consent" not in str(patient.json())
        await asyncio.sleep(1.0)
        assert sim.log()["calls"] == []  # nobody crossed the threshold (1) yet
        await call_next(client, facility)  # A called: B 2 -> 1 crosses it: near
        await until(lambda: len(calls_to(sim, B)) == 2)  # busy -> one retry after "3 min"
        await asyncio.sleep(3.0)
        assert len(calls_to(sim, B)) == 2  # busy again: no third call
        assert calls_to(sim, C) == []
        await call_next(client, facility)  # X called: C 2 -> 1: near; B 1 -> 0: nothing
        await until(lambda: len(calls_to(sim, C)) == 1)
        await asyncio.sleep(1.0)
        assert calls_to(sim, A) == [] and calls_to(sim, D) == []
        said = calls_to(sim, C)[0]["verbs"]
        assert [v["verb"] for v in said] == ["Say", "Pause", "Say", "Hangup"]
        assert f"受付番号{t3['number']}番の方、まもなく順番です。あと1人です。" in said[0]["text"]
        assert said[0]["text"] == said[2]["text"]
        assert calls_to(sim, C)[0]["events"] == ["initiated", "ringing", "answered", "completed"]
        assert calls_to(sim, C)[0]["from"] == "+81312345678"

        # every callback the simulator sent is what Twilio's own validator accepts, and the
        # hub took it (204)
        validator = RequestValidator(SIM_TOKEN)
        callbacks = sim.log()["callbacks"]
        assert callbacks and all(
            validator.validate(cb["url"], cb["params"], cb["signature"]) for cb in callbacks
        )
        assert {cb["status"] for cb in callbacks} == {204}
        assert all(
            cb["url"].startswith(hub_process.base_url + "/v1/integrations/phone/sim/")
            for cb in callbacks
        )

        history = await client.get(
            f"/v1/facilities/{facility}/calls", headers=staff_headers(facility)
        )
        calls = history.json()["calls"]
        assert sorted((c["phone"], c["status"], c["attempt"]) for c in calls) == [
            ("090-****-0002", "busy", 1),
            ("090-****-0002", "busy", 2),
            ("090-****-0003", "completed", 1),
        ]
        answered = next(c for c in calls if c["status"] == "completed")
        assert answered["duration"] == 12 and answered["trigger"] == "near"

    # a restart: the same trigger never calls twice (the dedupe key is in Redis)
    hub_process.stop()
    again = phone_hub(redis_url).start()
    try:
        async with httpx.AsyncClient(base_url=again.base_url, timeout=20) as client:
            await call_next(client, facility)  # B called; C 1 -> 0: no second near call
            await asyncio.sleep(2.0)
            assert len(calls_to(sim, C)) == 1
            row = await client.get(
                f"/v1/queues/{facility}-01/tickets/{t3['id']}", headers=staff_headers(facility)
            )
            assert row.json()["ticket"]["annotations"]["phone.status"] == "completed"
    finally:
        again.stop()


async def test_manual_calls_history_csv_and_forged_callbacks(
    hub_process: HubProcess, sim: CallSimulator
) -> None:
    async with httpx.AsyncClient(base_url=hub_process.base_url, timeout=20) as client:
        facility = await setup(client, sim, triggers=[])
        staff = staff_headers(facility)
        yes = await take(client, facility, "090-1111-0001", True)
        no = await take(client, facility, "090-2222-0002", False)
        path = f"/v1/queues/{facility}-01/tickets"
        r = await client.post(f"{path}/{no['id']}/phone-calls", headers=staff)
        assert r.status_code == 409 and r.json()["error"]["code"] == "no_consent"
        r = await client.post(
            f"{path}/{yes['id']}/phone-calls", headers={"Authorization": f"Bearer {yes['token']}"}
        )
        assert r.status_code in (401, 403)
        r = await client.post(f"{path}/{yes['id']}/phone-calls", headers=staff)
        assert r.status_code == 201, r.text
        assert r.json()["trigger"] == "manual" and r.json()["phone"] == "090-****-0001"
        await until(
            lambda: any(cb["params"]["CallStatus"] == "completed" for cb in sim.log()["callbacks"])
        )

        # forged and unsigned callbacks: 403, nothing changes
        good = sim.log()["callbacks"][-1]
        forged = {**good["params"], "CallStatus": "failed"}
        for headers in ({"X-Twilio-Signature": good["signature"]}, {}):
            bad = await client.post(
                good["url"].removeprefix(hub_process.base_url), data=forged, headers=headers
            )
            assert bad.status_code == 403 and bad.json()["error"]["code"] == "bad_signature"
        assert not RequestValidator(SIM_TOKEN).validate(good["url"], forged, good["signature"])
        history = await client.get(f"/v1/facilities/{facility}/calls", headers=staff)
        assert [c["status"] for c in history.json()["calls"]] == ["completed"]

        # the CSV: BOM, Japanese header, masked numbers; full=1 shows them
        csv_answer = await client.get(f"/v1/facilities/{facility}/calls?format=csv", headers=staff)
        assert csv_answer.status_code == 200
        assert csv_answer.content.startswith(b"\xef\xbb\xbf")
        rows = list(csv.reader(io.StringIO(csv_answer.content.decode("utf-8-sig"))))
        assert rows[0] == [
            "日時",
            "情報番号",
            "受付番号",
            "電話番号",
            "種別",
            "結果",
            "通話秒数",
            "担当",
        ]
        assert rows[1][1:] == [
            f"{facility}-01",
            str(yes["number"]),
            "090-****-0001",
            "手動",
            "応答",
            "12",
            "t",
        ]
        full = await client.get(f"/v1/facilities/{facility}/calls?format=csv&full=1", headers=staff)
        assert "090-1111-0001" in full.content.decode("utf-8-sig")

        # outside the call window: 409 outside_call_hours, no call
        hour = datetime.now(ZoneInfo("Asia/Tokyo")).hour
        window = {
            "window_from": f"{(hour + 2) % 24:02d}:00",
            "window_to": f"{(hour + 3) % 24:02d}:00",
        }
        r = await client.put(  # the provider left out: the one set before stays (sim)
            f"/v1/facilities/{facility}/phone/settings", json=window, headers=staff
        )
        assert r.status_code == 200, r.text
        shown = await client.get(f"/v1/facilities/{facility}/phone/settings", headers=staff)
        assert shown.status_code == 200 and shown.json()["provider"] == "sim", shown.text
        assert shown.json()["window"] == [window["window_from"], window["window_to"]]
        before = len(sim.log()["calls"])
        r = await client.post(f"{path}/{yes['id']}/phone-calls", headers=staff)
        assert r.status_code == 409 and r.json()["error"]["code"] == "outside_call_hours"
        assert len(sim.log()["calls"]) == before


async def test_consent_needs_a_japanese_number_and_the_option(
    hub_process: HubProcess, sim: CallSimulator
) -> None:
    async with httpx.AsyncClient(base_url=hub_process.base_url, timeout=20) as client:
        facility = await make_facility(client, ("01",))
        r = await client.post(
            f"/v1/queues/{facility}-01/tickets",
            json={"phone": "+1 202 555 0100", "phone_consent": True},
        )
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_phone"
        r = await client.post(
            f"/v1/queues/{facility}-01/tickets",
            json={"phone": "090 1234 5678", "phone_consent": True},
        )
        assert r.status_code == 201, r.text
        staff = await client.get(
            f"/v1/queues/{facility}-01/tickets/{r.json()['ticket']['id']}",
            headers=staff_headers(facility),
        )
        assert staff.json()["ticket"]["phone_consent"]["by"] == "patient"
        r = await client.put(
            "/v1/admin/phone/providers/sim",
            json={"kind": "twiml", "base_url": sim.url},
            headers=OPERATOR,
        )
        assert r.status_code == 422


async def test_a_lost_callback_is_reconciled_and_bad_twiml_is_refused(
    hub_process: HubProcess, sim: CallSimulator
) -> None:
    sim.control(outcomes={A: "lost"})
    async with httpx.AsyncClient(base_url=hub_process.base_url, timeout=20) as client:
        facility = await setup(client, sim, triggers=[])
        staff = staff_headers(facility)
        t = await take(client, facility, "090-1111-0001", True)
        r = await client.post(
            f"/v1/queues/{facility}-01/tickets/{t['id']}/phone-calls", headers=staff
        )
        assert r.status_code == 201, r.text

        async def status() -> str:
            answer = await client.get(f"/v1/facilities/{facility}/calls", headers=staff)
            return str(answer.json()["calls"][0]["status"])

        deadline = time.monotonic() + 15
        while await status() != "completed":  # no final callback: fetched from Calls/{sid}.json
            assert time.monotonic() < deadline, await status()
            await asyncio.sleep(0.2)
        assert [cb["params"]["CallStatus"] for cb in sim.log()["callbacks"]] == [
            "initiated",
            "ringing",
        ]

    # the simulator itself refuses TwiML the hub must never send
    twiml = "<Response><Say>こんにちは</Say></Response>"
    form = {"To": A, "From": "+81312345678", "Twiml": twiml, "StatusCallback": "http://x/"}
    refused = httpx.post(
        f"{sim.url}/2010-04-01/Accounts/{SIM_SID}/Calls.json", data=form, auth=(SIM_SID, SIM_TOKEN)
    )
    assert refused.status_code == 400 and "ja-JP" in refused.text
    unauthorized = httpx.post(
        f"{sim.url}/2010-04-01/Accounts/{SIM_SID}/Calls.json", data=form, auth=(SIM_SID, "wrong")
    )
    assert unauthorized.status_code == 401
