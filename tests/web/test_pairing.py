"""Pairing a waiting-room monitor with a one-time code (hub/pairing.py), over real HTTP."""

from __future__ import annotations

import itertools
import random

import httpx

from hub.pairing import CLAIM_FAILURES_PER_FACILITY, FREE_FAILURES, MONITOR_TOKEN_TTL_S
from tests.conftest import OPERATOR, TOKENS, bearer, make_facility, staff_headers

_addresses = itertools.count(random.randint(1, 200) * 250)


def address() -> dict[str, str]:
    """A client address of its own (the test client is a trusted proxy), so the claim rate
    limit of one test never spends another's."""
    n = next(_addresses)
    return {"X-Forwarded-For": f"10.{n // 62500 % 250}.{n // 250 % 250}.{n % 250 + 1}"}


def claim(facility: str, code: str) -> str:
    return f"/v1/facilities/{facility}/monitor-pairings/{code}/claim"


async def new_code(client: httpx.AsyncClient, facility: str) -> str:
    r = await client.post(
        f"/v1/facilities/{facility}/monitor-pairings", headers=staff_headers(facility)
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["facility"] == facility and body["expires_in"] == 600
    code: str = body["code"]
    assert len(code) == 8 and code.isdigit()
    return code


async def test_code_pairs_a_monitor_once(client: httpx.AsyncClient, facility: str) -> None:
    """Staff get an 8-digit code; claiming it yields a monitor token of that facility; a second
    claim of the same code is refused with 404 unknown_pairing_code."""
    code = await new_code(client, facility)
    me = address()
    r = await client.post(claim(facility, code), headers=me)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["role"] == "monitor" and body["facility"] == facility
    assert body["expires_in"] == MONITOR_TOKEN_TTL_S
    principal = TOKENS.verify(body["token"])
    assert (principal.role, principal.facility) == ("monitor", facility)
    again = await client.post(claim(facility, code), headers=me)
    assert again.status_code == 404
    assert again.json()["error"]["code"] == "unknown_pairing_code"


async def test_each_code_is_fresh(client: httpx.AsyncClient, facility: str) -> None:
    codes = {await new_code(client, facility) for _ in range(5)}
    assert len(codes) == 5


async def test_monitor_token_watches_but_cannot_act(
    client: httpx.AsyncClient, facility: str
) -> None:
    """The monitor token is not a staff token: no staff view, no call-next."""
    code = await new_code(client, facility)
    token = (await client.post(claim(facility, code), headers=address())).json()["token"]
    info = f"{facility}-01"
    staff = await client.get(f"/v1/queues/{info}/staff", headers=bearer(token))
    assert staff.status_code == 403
    call = await client.post(f"/v1/queues/{info}/call-next", headers=bearer(token))
    assert call.status_code == 403
    other = await client.post(f"/v1/facilities/{facility}/monitor-pairings", headers=bearer(token))
    assert other.status_code == 403


async def test_creating_a_code_needs_staff_of_that_facility(
    client: httpx.AsyncClient, facility: str
) -> None:
    url = f"/v1/facilities/{facility}/monitor-pairings"
    anonymous = await client.post(url)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "unauthorized"
    other = await make_facility(client, ("01",), open_all=False)
    foreign = await client.post(url, headers=staff_headers(other))
    assert foreign.status_code == 403
    bad = await client.post(url, headers={"Authorization": "Bearer not-a-jwt"})
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "invalid_token"
    operator = await client.post(url, headers=OPERATOR)
    assert operator.status_code == 201


async def test_bad_facility_and_bad_code_are_clear_errors(client: httpx.AsyncClient) -> None:
    missing = await client.post("/v1/facilities/99999999/monitor-pairings", headers=OPERATOR)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "unknown_facility"
    malformed = await client.post("/v1/facilities/12x/monitor-pairings", headers=OPERATOR)
    assert malformed.status_code == 400
    assert malformed.json()["error"]["code"] == "invalid_facility"
    me = address()
    for code in ("123456", "1234567", "123456789", "abcdefgh", "1234 678", "１２３４５６７８"):
        r = await client.post(claim("1234", code), headers=me)
        assert r.status_code == 400, (code, r.text)
        assert r.json()["error"]["code"] == "invalid_code"
    bad_facility = await client.post(claim("12x", "12345678"), headers=me)
    assert bad_facility.status_code == 400
    assert bad_facility.json()["error"]["code"] == "invalid_facility"
    get = await client.get(claim("1234", "12345678"))
    assert get.status_code == 405
    old = await client.post("/v1/monitor-pairings/12345678/claim", headers=me)
    assert old.status_code == 404  # the global route is gone: codes belong to a facility


async def test_claims_are_rate_limited_per_address(
    client: httpx.AsyncClient, facility: str
) -> None:
    """Guessing codes from one address stops after 10 tries a minute (429, Retry-After);
    a real code still works from another address, and a refused claim does not spend it."""
    code = await new_code(client, facility)
    wrong = f"{(int(code) + 1) % 10**8:08d}"
    guesser = address()
    statuses = [
        (await client.post(claim(facility, wrong), headers=guesser)).status_code for _ in range(10)
    ]
    assert set(statuses) == {404}
    limited = await client.post(claim(facility, code), headers=guesser)
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert int(limited.headers["retry-after"]) >= 1
    ok = await client.post(claim(facility, code), headers=address())
    assert ok.status_code == 200 and ok.json()["facility"] == facility


async def test_a_code_belongs_to_its_facility(client: httpx.AsyncClient) -> None:
    """A monitor of another facility cannot use (nor spend) a code: it is not found there,
    and it still pairs a monitor of its own facility afterwards."""
    mine = await make_facility(client, ("01",))
    other = await make_facility(client, ("01",))
    code = await new_code(client, mine)
    elsewhere = await client.post(claim(other, code), headers=address())
    assert elsewhere.status_code == 404
    assert elsewhere.json()["error"]["code"] == "unknown_pairing_code"
    ok = await client.post(claim(mine, code), headers=address())
    assert ok.status_code == 200 and ok.json()["facility"] == mine


async def test_guessing_at_one_facility_never_blocks_pairing_at_another(
    client: httpx.AsyncClient,
) -> None:
    """Addresses that keep guessing one clinic's codes spend that clinic's shared budget
    (429); pairing at another clinic goes on (no global limit), and so does the real claim
    at the guessed clinic (a fresh address is always checked)."""
    target = await make_facility(client, ("01",))
    elsewhere = await make_facility(client, ("01",))
    guesses = itertools.count(10_000_000)
    statuses: list[int] = []
    networks = CLAIM_FAILURES_PER_FACILITY[0] // (10 - FREE_FAILURES) + 2
    for _ in range(networks):
        me = address()
        for _ in range(10):  # the address's own limit: 10 a minute
            r = await client.post(claim(target, str(next(guesses))), headers=me)
            statuses.append(r.status_code)
    assert set(statuses) == {404, 429}, statuses
    free = FREE_FAILURES * networks
    assert free + 90 <= statuses.count(404) <= free + CLAIM_FAILURES_PER_FACILITY[0] + 2
    assert statuses[-10:] == [404] * FREE_FAILURES + [429] * (10 - FREE_FAILURES)
    code = await new_code(client, elsewhere)
    ok = await client.post(claim(elsewhere, code), headers=address())
    assert ok.status_code == 200 and ok.json()["facility"] == elsewhere
    code = await new_code(client, target)
    ok = await client.post(claim(target, code), headers=address())
    assert ok.status_code == 200 and ok.json()["facility"] == target
