"""The smaller edge holes of issue 14 (item 9), each provoked against a real hub: anonymous
Idempotency-Keys shared between callers, X-Forwarded-For believed by default, oversized audit
cursors, a Host header injected into the CSP, non-place time zones, and formulas hidden
behind full-width characters in CSV exports. Pure parts get unit tests too."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import date

import httpx
import pytest

from hub.contracts import invoice as inv
from hub.csvsafe import cell
from hub.queue import calendar
from tests.conftest import (
    OPERATOR,
    HubProcess,
    make_facility,
    new_facility_number,
    start_hub,
)
from tests.contracts.test_invoice import contract

U64 = 2**64 - 1
FEES = {"initial_fee": 30000, "monthly": {"reservation": 9000}}


def from_address(hub: HubProcess, address: str) -> httpx.AsyncClient:
    """A client whose connections come from ``address`` (any 127.x.y.z is this machine)."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=hub.base_url, transport=transport, timeout=20)


async def test_two_anonymous_callers_never_share_a_ticket(
    client: httpx.AsyncClient, hub: HubProcess
) -> None:
    facility = await make_facility(client)
    url = f"/v1/queues/{facility}-01/tickets"
    same = {"Idempotency-Key": "shared-key-1"}
    async with from_address(hub, "127.0.0.2") as alice, from_address(hub, "127.0.0.3") as bob:
        first = await alice.post(url, headers=same, json={})
        other = await bob.post(url, headers=same, json={})
        retried = await alice.post(url, headers=same, json={})
    assert first.status_code == other.status_code == 201, (first.text, other.text)
    assert first.json()["ticket"]["id"] != other.json()["ticket"]["id"]
    assert first.json()["token"] != other.json()["token"]
    assert retried.json() == first.json()  # the key still works for its own caller
    # through a trusted proxy (this hub trusts 127.0.0.1) the forwarded address is the caller
    carol = await client.post(url, headers={**same, "X-Forwarded-For": "203.0.113.10"}, json={})
    dave = await client.post(url, headers={**same, "X-Forwarded-For": "203.0.113.11"}, json={})
    assert carol.json()["ticket"]["id"] != dave.json()["ticket"]["id"]
    view = (await client.get(f"/v1/queues/{facility}-01")).json()
    assert view["waiting"] == [1, 2, 3, 4]


@pytest.fixture
def untrusting_hub(redis_url: str) -> Iterator[HubProcess]:
    """A hub with the default JUNBAN_TRUSTED_PROXIES (conftest trusts 127.0.0.1; "" reads
    as unset) and a web-ticket limit of 2 per client address."""
    process = start_hub(redis_url, JUNBAN_TRUSTED_PROXIES="", JUNBAN_RATE_IP="2/60")
    yield process
    process.stop()


async def test_no_proxy_is_trusted_unless_configured(untrusting_hub: HubProcess) -> None:
    async with httpx.AsyncClient(base_url=untrusting_hub.base_url, timeout=20) as client:
        facility = await make_facility(client)
        url = f"/v1/queues/{facility}-01/tickets"
        answers = [
            await client.post(url, headers={"X-Forwarded-For": f"198.51.100.{n}"})
            for n in range(1, 4)
        ]
        # a made-up forwarded address is not a new client: the third ticket is refused
        assert [a.status_code for a in answers] == [201, 201, 429]
        login = {"user": f"nobody-{facility}", "password": "wrong"}
        since = str(int(time.time() * 1000) - 1000)
        failed = await client.post(
            "/v1/auth/login", json=login, headers={"X-Forwarded-For": "198.51.100.99"}
        )
        assert failed.status_code == 401
        audit = await client.get(
            "/v1/admin/audit", params={"since": since, "limit": "1000"}, headers=OPERATOR
        )
        mine = [e for e in audit.json()["entries"] if e["who"] == login["user"]]
        assert [e["ip"] for e in mine] == ["127.0.0.1"]  # the peer, not the claimed address
        assert (await client.get(f"/v1/queues/{facility}-01")).status_code == 200


@pytest.mark.parametrize(
    "after",
    [
        "99999999999999999999-0",
        "0-99999999999999999999",
        f"{U64 + 1}-0",
        f"{U64}-{U64}",  # the last possible id: nothing follows it
        "1-2-3",
        "１２-0",  # full-width digits
    ],
)
async def test_an_audit_cursor_out_of_range_is_400(client: httpx.AsyncClient, after: str) -> None:
    r = await client.get("/v1/admin/audit", params={"after": after}, headers=OPERATOR)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "invalid_query"
    r = await client.get("/v1/admin/audit.csv", params={"after": after}, headers=OPERATOR)
    assert r.status_code == 400, r.text


async def test_the_largest_audit_cursors_still_read(client: httpx.AsyncClient) -> None:
    for after in (f"{U64}-0", f"0-{U64}", "1764000000000-0"):
        r = await client.get("/v1/admin/audit", params={"after": after}, headers=OPERATOR)
        assert r.status_code == 200, (after, r.text)


@pytest.mark.parametrize(
    "host",
    [
        "x; script-src https://evil.example",
        "x wss://evil.example",
        "evil.example'unsafe-inline'",
        "a,b",
        "a" * 300,
    ],
)
async def test_a_hostile_host_header_stays_out_of_the_csp(
    client: httpx.AsyncClient, host: str
) -> None:
    facility = await make_facility(client)
    page = await client.get(f"/q/{facility}-01", headers={"Host": host})
    assert page.status_code == 200
    csp = page.headers["Content-Security-Policy"]
    assert "evil" not in csp and host not in csp and csp.count("script-src") == 1
    assert "connect-src 'self' ;" in csp


async def test_a_plain_host_header_is_in_the_csp(
    client: httpx.AsyncClient, hub: HubProcess
) -> None:
    facility = await make_facility(client)
    host = f"127.0.0.1:{hub.port}"
    csp = (await client.get(f"/q/{facility}-01")).headers["Content-Security-Policy"]
    assert f"connect-src 'self' ws://{host} wss://{host};" in csp
    for plain in ("clinic.example.jp", "[::1]:8443", "localhost:8000"):
        headers = {"Host": plain}
        csp = (await client.get(f"/q/{facility}-01", headers=headers)).headers[
            "Content-Security-Policy"
        ]
        assert f"ws://{plain} wss://{plain};" in csp


@pytest.mark.parametrize(
    "tz", ["localtime", "posixrules", "Factory", "posix/Asia/Tokyo", "right/UTC", "Asia"]
)
async def test_a_time_zone_must_be_a_place(client: httpx.AsyncClient, tz: str) -> None:
    number = new_facility_number()
    body = {"number": number, "name": "X", "address": "a", "hours": "9", "counters": {"01": "c"}}
    refused = await client.post("/v1/admin/facilities", json={**body, "tz": tz}, headers=OPERATOR)
    assert refused.status_code == 422, refused.text
    contract = await client.post(
        "/v1/admin/contracts",
        json={"applicant": "A", "items": ["reservation"], "fees": FEES},
        headers=OPERATOR,
    )
    assert contract.status_code == 201, contract.text
    approve = {"facility": number, "name": "X", "counters": {"01": "c"}, "tz": tz}
    path = f"/v1/admin/contracts/{contract.json()['id']}/approve"
    assert (await client.post(path, json=approve, headers=OPERATOR)).status_code == 422
    created = await client.post(
        "/v1/admin/facilities", json={**body, "tz": "Asia/Tokyo"}, headers=OPERATOR
    )
    assert created.status_code == 201, created.text


def test_zone_takes_iana_names_only() -> None:
    for good in ("Asia/Tokyo", "UTC", "Etc/GMT-9", "America/Argentina/Buenos_Aires"):
        assert calendar.zone(good).key == good
    for bad in ("localtime", "posixrules", "Factory", "posix/UTC", "/etc/localtime", "asia/tokyo"):
        with pytest.raises(ValueError, match="unknown time zone"):
            calendar.zone(bad)
    # a queue stored before the check keeps counting its days
    assert len(calendar.business_day(0, "localtime")) == len("1970-01-01")


FORMULAS = ["＝1+1", "＋1", "－1", "＠SUM(A1)", "﹦1", " =1", "\u200b=1", "\t1", "\r1", "\n=1"]


@pytest.mark.parametrize("text", FORMULAS)
def test_formula_lookalikes_are_quoted(text: str) -> None:
    assert cell(text) == "'" + text


@pytest.mark.parametrize("text", ["", "山田", "1+1", "a=b", "'=1", "−1", "ｘ=1"])
def test_plain_text_is_left_alone(text: str) -> None:
    assert cell(text) == text


def test_the_invoice_csv_quotes_full_width_formulas() -> None:
    bill = inv.build_invoice(replace(contract(), id="＝1+2"), date(2025, 4, 1))
    rows = list(csv.reader(io.StringIO(inv.invoice_csv(bill).removeprefix("\ufeff"))))
    assert {row[0] for row in rows[1:]} == {"'＝1+2"}


async def test_the_audit_csv_quotes_full_width_formulas(client: httpx.AsyncClient) -> None:
    name = f'＝HYPERLINK("https://evil.example","{new_facility_number()}")'
    r = await client.post("/v1/auth/login", json={"user": name, "password": "wrong"})
    assert r.status_code == 401
    exported = await client.get("/v1/admin/audit.csv", headers=OPERATOR)
    assert exported.status_code == 200
    whos = [row[2] for row in csv.reader(io.StringIO(exported.text))]
    assert "'" + name in whos and name not in whos
