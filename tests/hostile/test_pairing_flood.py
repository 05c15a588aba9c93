"""Pairing-claim floods against a real hub: the clinic's real claim always wins.

A flood of wrong claims from changing addresses spends only what those addresses may spend:
each address's own limit, and (after a few wrong claims of its own) the facility's shared
budget. An address that has not failed at the facility (or failed only a little) is always
checked, so the monitor's real code pairs it however hard others guess; one address guessing
alone is refused after 10 tries a minute.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator

import httpx

from hub.pairing import CLAIM_FAILURES_PER_FACILITY, CLAIM_LIMIT_PER_IP, FREE_FAILURES
from tests.conftest import make_facility, staff_headers
from tests.hostile.conftest import addresses

address = addresses("198.18")


def claim(facility: str, code: str) -> str:
    return f"/v1/facilities/{facility}/monitor-pairings/{code}/claim"


async def new_code(client: httpx.AsyncClient, facility: str) -> str:
    url = f"/v1/facilities/{facility}/monitor-pairings"
    r = await client.post(url, headers=staff_headers(facility))
    assert r.status_code == 201, r.text
    code: str = r.json()["code"]
    assert len(code) == 8 and code.isdigit()
    return code


def wrong_codes(code: str) -> Iterator[str]:
    return (f"{(int(code) + n) % 10**8:08d}" for n in itertools.count(1))


async def test_a_flood_from_changing_addresses_never_refuses_the_real_claim(
    client: httpx.AsyncClient,
) -> None:
    """60 wrong claims from 60 addresses (the issue's flood, faster), then 30 addresses that
    keep guessing until the facility's shared budget is spent (429), and a parallel burst
    that gets only its 3 free tries: the clinic's real claim, from a fresh address and from
    one with typos of its own, still pairs."""
    facility = await make_facility(client, ("01",), open_all=False)
    code = await new_code(client, facility)
    guesses = wrong_codes(code)
    flood = await asyncio.gather(
        *(client.post(claim(facility, next(guesses)), headers=address()) for _ in range(60))
    )
    assert {r.status_code for r in flood} == {404}
    statuses = []
    for _ in range(30):
        where = address()
        for _ in range(CLAIM_LIMIT_PER_IP[0]):
            r = await client.post(claim(facility, next(guesses)), headers=where)
            statuses.append(r.status_code)
    refused = [s for s in statuses if s == 429]
    budget = CLAIM_FAILURES_PER_FACILITY[0]
    assert len(refused) >= 30 * (CLAIM_LIMIT_PER_IP[0] - FREE_FAILURES) - budget - 5, statuses
    assert statuses.count(404) <= 30 * FREE_FAILURES + budget + 2
    burst_from = address()  # at once, so none has seen the others' failures counted
    burst = await asyncio.gather(
        *(client.post(claim(facility, next(guesses)), headers=burst_from) for _ in range(10))
    )
    assert sorted(r.status_code for r in burst) == [404] * FREE_FAILURES + [429] * 7

    ok = await client.post(claim(facility, code), headers=address())
    assert ok.status_code == 200, ok.text
    assert ok.json()["role"] == "monitor" and ok.json()["facility"] == facility

    second = await new_code(client, facility)
    monitor = address()
    for n in range(FREE_FAILURES - 1):  # staff read it out wrong, twice
        typo = await client.post(
            claim(facility, f"{(int(second) + 1 + n) % 10**8:08d}"), headers=monitor
        )
        assert typo.status_code == 404
    ok = await client.post(claim(facility, second), headers=monitor)
    assert ok.status_code == 200, ok.text


async def test_one_address_guessing_is_refused_quickly(client: httpx.AsyncClient) -> None:
    """One address: 10 wrong claims, then 429 with Retry-After (nothing checked); the real
    code, untouched by the refused guesses, pairs from another address."""
    facility = await make_facility(client, ("01",), open_all=False)
    code = await new_code(client, facility)
    guesses, guesser = wrong_codes(code), address()
    statuses = [
        (await client.post(claim(facility, next(guesses)), headers=guesser)).status_code
        for _ in range(15)
    ]
    assert statuses == [404] * 10 + [429] * 5
    refused = await client.post(claim(facility, code), headers=guesser)
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) >= 1
    ok = await client.post(claim(facility, code), headers=address())
    assert ok.status_code == 200 and ok.json()["facility"] == facility
