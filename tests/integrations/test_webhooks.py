"""Webhooks end to end: a real hub, its outbox runner and a Standard Webhooks receiver in its
own process (tests/peers/webhook_receiver.py) verifying with the reference library.

The hubs run with JUNBAN_INTEGRATIONS_ALLOW_LOOPBACK=1 and JUNBAN_RETRY_SCALE=0.002 (the
schedule's 5 s, 5 min, 30 min … become 10 ms, 0.6 s, 3.6 s …): tests/conftest.py."""

from __future__ import annotations

import asyncio
import csv
import io
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tests.conftest import free_port, make_facility, staff_headers, stop_process

PEERS = Path(__file__).resolve().parents[1] / "peers"
T = TypeVar("T")


class Receiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Receiver:
        command = [sys.executable, str(PEERS / "webhook_receiver.py"), "--port", str(self.port)]
        self.proc = subprocess.Popen(command)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/_health", timeout=0.5).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("the webhook receiver did not start")

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, 5)  # then SIGKILL: a stalled answer may be in flight

    def hook(self, name: str) -> str:
        return f"{self.url}/hook/{name}"

    def control(self, name: str, **change: Any) -> None:
        r = httpx.post(self.url + "/_control", json={"name": name, **change}, timeout=5)
        assert r.status_code == 200, r.text

    def log(self, name: str) -> dict[str, Any]:
        answer: dict[str, Any] = httpx.get(f"{self.url}/_log/{name}", timeout=5).json()
        return answer


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    peer = Receiver().start()
    yield peer
    peer.stop()


async def until(probe: Callable[[], Awaitable[T | None]], timeout: float = 15.0) -> T:
    """``probe()``'s first truthy answer, polled until ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        found = await probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing within {timeout} s")
        await asyncio.sleep(0.1)


async def add_hook(
    client: httpx.AsyncClient, receiver: Receiver, facility: str, name: str, **extra: Any
) -> dict[str, Any]:
    """A webhook endpoint at the receiver's ``name``, its secret told to the receiver."""
    body = {"kind": "webhook", "url": receiver.hook(name), **extra}
    r = await client.post(
        f"/v1/facilities/{facility}/integrations/endpoints", json=body,
        headers=staff_headers(facility),
    )  # fmt: skip
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    assert created["secret"].startswith("whsec_")
    receiver.control(name, reset=True, secret=created["secret"])
    return created


async def take(client: httpx.AsyncClient, facility: str, **body: Any) -> str:
    r = await client.post(f"/v1/queues/{facility}-01/tickets", json={"channel": "desk", **body},
                          headers=staff_headers(facility))  # fmt: skip
    assert r.status_code == 201, r.text
    ticket_id: str = r.json()["ticket"]["id"]
    return ticket_id


async def deliveries(client: httpx.AsyncClient, facility: str, **params: str) -> list[Any]:
    r = await client.get(f"/v1/facilities/{facility}/integrations/deliveries", params=params,
                         headers=staff_headers(facility))  # fmt: skip
    assert r.status_code == 200, r.text
    rows: list[Any] = r.json()["deliveries"]
    return rows


def unique_name() -> str:
    return f"h{time.monotonic_ns()}"


async def test_a_taken_ticket_reaches_the_receiver_signed(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    facility = await make_facility(client, ("01",))
    name = unique_name()
    created = await add_hook(client, receiver, facility, name)
    shown = await client.get(
        f"/v1/facilities/{facility}/integrations/endpoints/{created['id']}",
        headers=staff_headers(facility),
    )
    assert shown.status_code == 200 and "secret" not in shown.json()  # shown once only
    assert shown.json()["has_secret"] is True and shown.json()["personal"] is False
    ticket_id = await take(client, facility, name="山田 太郎", phone="09012345678")
    got = await until(lambda: asyncio.sleep(0, receiver.log(name)["received"]))
    [(event_id, body)] = got.items()
    assert event_id.startswith(f"evt_{facility}-01_")
    assert body["type"] == "ticket.issued"
    ticket = body["data"]["ticket"]
    assert ticket["id"] == ticket_id and ticket["status"] == "waiting"
    assert "name" not in ticket and "phone" not in ticket  # personal is off
    assert body["data"]["facility"] == facility and body["data"]["info"] == f"{facility}-01"
    attempts = receiver.log(name)["attempts"]
    assert all(a["verified"] for a in attempts)
    rows = await until(lambda: deliveries(client, facility))
    assert rows[0]["event"] == event_id and rows[0]["result"] == "ok"
    assert rows[0]["status"] == 204 and rows[0]["attempt"] == 1


async def test_retries_keep_the_same_id_and_the_log_shows_each(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    facility = await make_facility(client, ("01",))
    name = unique_name()
    await add_hook(client, receiver, facility, name, personal=True)
    receiver.control(name, mode="fail", count=2)
    await take(client, facility, name="山田 太郎")
    got = await until(lambda: asyncio.sleep(0, receiver.log(name)["received"]))
    [(event_id, body)] = got.items()
    assert body["data"]["ticket"]["name"] == "山田 太郎"  # personal is on
    attempts = receiver.log(name)["attempts"]
    assert [a["id"] for a in attempts] == [event_id] * 3  # the same webhook-id each time
    assert all(a["verified"] for a in attempts)

    async def three() -> list[Any] | None:
        found = await deliveries(client, facility)
        return found if len(found) >= 3 else None

    rows = await until(three)
    rows = sorted(rows, key=lambda r: r["attempt"])
    assert [(r["attempt"], r["status"], r["result"]) for r in rows] == [
        (1, 500, "retry"), (2, 500, "retry"), (3, 204, "ok")
    ]  # fmt: skip
    assert rows[0]["detail"] == "boom"


async def test_a_stalled_endpoint_does_not_delay_another(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    facility = await make_facility(client, ("01",))
    slow, fast = unique_name(), unique_name()
    await add_hook(client, receiver, facility, slow)
    receiver.control(slow, mode="stall")
    await add_hook(client, receiver, facility, fast)
    started = time.monotonic()
    await take(client, facility)
    await until(lambda: asyncio.sleep(0, receiver.log(fast)["received"]), timeout=8)
    assert time.monotonic() - started < 8  # the slow one answers in 20 s, times out in 15
    assert receiver.log(slow)["attempts"] and not receiver.log(slow)["received"]


async def test_410_disables_the_endpoint(client: httpx.AsyncClient, receiver: Receiver) -> None:
    facility = await make_facility(client, ("01",))
    name = unique_name()
    created = await add_hook(client, receiver, facility, name)
    receiver.control(name, mode="gone")
    await take(client, facility)
    url = f"/v1/facilities/{facility}/integrations/endpoints/{created['id']}"

    async def disabled() -> dict[str, Any] | None:
        r = await client.get(url, headers=staff_headers(facility))
        shown: dict[str, Any] = r.json()
        return shown if not shown["enabled"] else None

    shown = await until(disabled)
    assert shown["disabled_reason"] == "gone"
    await take(client, facility)
    await asyncio.sleep(1)
    assert len(receiver.log(name)["attempts"]) == 1  # nothing more went to it
    rows = await deliveries(client, facility)
    assert [(r["status"], r["result"]) for r in rows] == [(410, "disabled")]


async def test_ping_replay_and_the_csv(client: httpx.AsyncClient, receiver: Receiver) -> None:
    facility = await make_facility(client, ("01",))
    name = unique_name()
    created = await add_hook(client, receiver, facility, name)
    headers = staff_headers(facility)
    base = f"/v1/facilities/{facility}/integrations/endpoints/{created['id']}"
    r = await client.post(base + "/test", headers=headers)
    assert r.status_code == 202, r.text
    await until(lambda: asyncio.sleep(0, receiver.log(name)["received"]))
    [ping] = receiver.log(name)["received"].values()
    assert ping["type"] == "ping"
    await take(client, facility)
    await until(lambda: asyncio.sleep(0, len(receiver.log(name)["received"]) == 2))
    issued = [k for k, v in receiver.log(name)["received"].items() if v["type"] != "ping"]
    r = await client.post(base + "/replay", params={"since": "0"}, headers=headers)
    assert r.status_code == 202 and r.json()["queued"] >= 1, r.text
    await until(lambda: asyncio.sleep(0, len(receiver.log(name)["attempts"]) >= 3))
    attempts = receiver.log(name)["attempts"]
    assert [a["id"] for a in attempts][-1] == issued[0]  # the original id again
    assert len(receiver.log(name)["received"]) == 2  # the receiver's dedupe held
    receiver.control(name, mode="abort", body="=HYPERLINK(1)")  # a 500 not to be retried
    await client.post(base + "/test", headers=headers)
    await until(lambda: asyncio.sleep(0, len(receiver.log(name)["attempts"]) >= 4))
    r = await client.get(
        f"/v1/facilities/{facility}/integrations/deliveries", params={"format": "csv"},
        headers=headers,
    )  # fmt: skip
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "filename*=UTF-8''" in r.headers["content-disposition"]
    raw = r.content
    assert raw.startswith("\ufeff".encode()) and b"\r\n" in raw
    rows = list(csv.reader(io.StringIO(raw.decode().removeprefix("\ufeff"), newline="")))
    assert rows[0][:3] == ["日時", "イベントID", "種類"]
    assert rows[1][7] == "failed" and rows[1][6] == "500"  # abort-message: no retry
    assert rows[1][11] == "'=HYPERLINK(1)"  # the answer, no formula in a spreadsheet
    assert all(row[0][:4].isdigit() and row[0][4] == "/" for row in rows[1:])


async def test_bad_endpoints_are_refused(client: httpx.AsyncClient) -> None:
    facility = await make_facility(client, ("01",), open_all=False)
    url = f"/v1/facilities/{facility}/integrations/endpoints"
    headers = staff_headers(facility)
    for bad in ("ftp://example.com/", "http://169.254.169.254/latest", "https://10.1.2.3/",
                "https://u:p@example.com/"):  # fmt: skip
        r = await client.post(url, json={"url": bad}, headers=headers)
        assert r.status_code == 400 and r.json()["error"]["code"] == "bad_endpoint_url", bad
    r = await client.post(url, json={"url": "https://example.com/", "events": ["nope"]},
                          headers=headers)  # fmt: skip
    assert r.status_code == 422
    r = await client.post(url, json={"url": "https://example.com/", "secret": "x"},
                          headers=headers)  # fmt: skip
    assert r.status_code == 422  # a webhook's secret is the hub's to make
    r = await client.get(url + "/ep_nope", headers=headers)
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_endpoint"
    assert (await client.get(url)).status_code == 401
    other = staff_headers(await make_facility(client, ("01",), open_all=False))
    assert (await client.get(url, headers=other)).status_code == 403


async def test_a_rotated_secret_signs_with_both_for_a_day(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    facility = await make_facility(client, ("01",), open_all=False)
    name = unique_name()
    created = await add_hook(client, receiver, facility, name)
    headers = staff_headers(facility)
    base = f"/v1/facilities/{facility}/integrations/endpoints/{created['id']}"
    r = await client.put(base, json={"url": created["url"], "rotate_secret": True}, headers=headers)
    assert r.status_code == 200, r.text
    rotated = r.json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != created["secret"]
    assert rotated["previous_secret_until"] > time.time() + 86_000
    assert "secret" not in (await client.get(base, headers=headers)).json()
    for n, secret in enumerate((created["secret"], rotated["secret"]), start=1):
        receiver.control(name, secret=secret)  # a receiver on either secret verifies
        assert (await client.post(base + "/test", headers=headers)).status_code == 202
        await until(lambda n=n: asyncio.sleep(0, len(receiver.log(name)["received"]) == n))  # type: ignore[misc]
    attempts = receiver.log(name)["attempts"]
    assert all(a["verified"] and len(a["signature"].split(" ")) == 2 for a in attempts)


async def test_a_refused_connection_is_retried(client: httpx.AsyncClient) -> None:
    facility = await make_facility(client, ("01",), open_all=False)
    r = await client.post(
        f"/v1/facilities/{facility}/integrations/endpoints",
        json={"url": f"http://127.0.0.1:{free_port()}/nobody"}, headers=staff_headers(facility),
    )  # fmt: skip
    assert r.status_code == 201, r.text
    url = f"/v1/facilities/{facility}/integrations/endpoints/{r.json()['id']}/test"
    assert (await client.post(url, headers=staff_headers(facility))).status_code == 202

    async def two() -> list[Any] | None:
        found = await deliveries(client, facility)
        return found if len(found) >= 2 else None

    rows = await until(two)
    assert all(r["result"] == "retry" and r["status"] is None for r in rows)
    assert "ConnectError" in rows[-1]["detail"]
    assert {r["event"] for r in rows} == {rows[0]["event"]}


async def test_an_unresolvable_host_is_a_failed_attempt_in_the_log(
    client: httpx.AsyncClient,
) -> None:
    """A name that does not resolve (no DNS, a typo) is an attempt like a refused one: in
    the delivery log, retried on the schedule (it once stopped the dispatcher unlogged)."""
    facility = await make_facility(client, ("01",))
    r = await client.post(
        f"/v1/facilities/{facility}/integrations/endpoints",
        json={"kind": "webhook", "url": "https://no-such-host.invalid/hook"},
        headers=staff_headers(facility),
    )
    assert r.status_code == 201, r.text
    await take(client, facility)
    rows = await until(lambda: deliveries(client, facility))
    assert rows[0]["type"] == "ticket.issued" and rows[0]["result"] == "retry", rows
    assert "no-such-host.invalid" in rows[0]["detail"]
    more = await until(lambda: _at_least(client, facility, 2))
    assert {row["event"] for row in more} == {rows[0]["event"]}  # the same event, retried


async def _at_least(client: httpx.AsyncClient, facility: str, n: int) -> list[Any] | None:
    rows = await deliveries(client, facility)
    return rows if len(rows) >= n else None
