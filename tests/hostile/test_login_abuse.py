"""Login abuse against a real hub: nobody can lock an account, guessing is slowed.

Wrong passwords throttle the (name, address) pair that sent them with growing waits
(429 ``login_throttled``, ``Retry-After``) and never lock the name: the real user at another
address logs in at once, a distributed attack (one guess from each of many addresses) leaves
the real user's right password accepted, and a parallel burst gets a bounded number of
password checks, on login and on password change alike.
"""

from __future__ import annotations

import asyncio
import math
import re
import time

import httpx

from tests.conftest import OPERATOR, bearer, make_facility, start_hub
from tests.hostile.conftest import addresses

address = addresses("192.0")


async def new_user(client: httpx.AsyncClient) -> str:
    facility = await make_facility(client, ("01",), open_all=False)
    user = f"staff-{facility}"
    body = {"user": user, "password": "correct horse", "facility": facility}
    r = await client.post("/v1/admin/users", headers=OPERATOR, json=body)
    assert r.status_code == 201, r.text
    return user


async def login(
    client: httpx.AsyncClient, user: str, password: str, where: dict[str, str]
) -> httpx.Response:
    body = {"user": user, "password": password}
    return await client.post("/v1/auth/login", json=body, headers=where)


async def checks(client: httpx.AsyncClient) -> float:
    """Password checks that failed so far (the hub's metric)."""
    text = (await client.get("/metrics")).text
    found = re.search(r'junban_login_failures_total\{outcome="invalid"\} (\S+)', text)
    return float(found.group(1)) if found else 0.0


def code_of(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json().get("error", {}).get("code", "")


async def test_a_guessing_address_waits_ever_longer_and_the_real_user_logs_in_at_once(
    client: httpx.AsyncClient,
) -> None:
    user = await new_user(client)
    attacker, real = address(), address()
    before, started = await checks(client), time.monotonic()
    answers = [code_of(await login(client, user, f"guess {n}", attacker)) for n in range(50)]
    # waits of 1, 2, 4 … s: on a slow machine one or two may run out within the 50 tries
    late = int(math.log2(time.monotonic() - started + 1))
    assert answers[:4] == [(401, "invalid_credentials")] * 3 + [(429, "login_throttled")]
    assert set(answers) == {(401, "invalid_credentials"), (429, "login_throttled")}
    assert answers.count((401, "invalid_credentials")) <= 3 + late
    assert await checks(client) - before <= 3 + late  # the refusals cost no password check
    assert (await login(client, user, "correct horse", real)).status_code == 200

    waits: list[int] = []  # each wrong password the attacker gets checked doubles its wait
    for _ in range(8):
        r = await login(client, user, "another guess", attacker)
        if r.status_code == 401:
            continue
        assert code_of(r) == (429, "login_throttled")
        waits.append(int(r.headers["Retry-After"]))
        if waits[-1] >= 4:
            break
        await asyncio.sleep(waits[-1] + 0.1)
    assert len(waits) >= 2 and waits[-1] >= 4 and waits[-1] > waits[0], waits
    assert (await login(client, user, "correct horse", real)).status_code == 200


async def test_a_distributed_attack_never_locks_the_real_user_out(
    client: httpx.AsyncClient,
) -> None:
    """One wrong password from each of 100 addresses: the real user's right password is
    accepted at once, from a clean address and from an address with a typo of its own."""
    user = await new_user(client)
    spread: list[httpx.Response] = []
    for _ in range(10):  # 100 password checks: a few seconds of argon2
        batch = (login(client, user, "guess", address()) for _ in range(10))
        spread += await asyncio.gather(*batch)
    assert {code_of(r) for r in spread} == {(401, "invalid_credentials")}
    typo = address()
    assert (await login(client, user, "correct hose", typo)).status_code == 401
    started = asyncio.get_running_loop().time()
    assert (await login(client, user, "correct horse", typo)).status_code == 200
    assert (await login(client, user, "correct horse", address())).status_code == 200
    assert asyncio.get_running_loop().time() - started < 5


async def test_throttled_addresses_share_the_names_slowdown(redis_url: str) -> None:
    """JUNBAN_LOGIN_THROTTLE="1/60": 14 addresses, each throttled after its one free
    failure, come back after their wait: the name's 10 checks a minute refuse the rest
    (429 login_throttled); a clean address's right password is still accepted."""
    hub = start_hub(redis_url, JUNBAN_TRUSTED_PROXIES="127.0.0.1", JUNBAN_LOGIN_THROTTLE="1/60")
    try:
        async with httpx.AsyncClient(base_url=hub.base_url, timeout=30) as client:
            user = await new_user(client)
            persistent = [address() for _ in range(14)]
            for where in persistent:
                assert (await login(client, user, "guess", where)).status_code == 401
            await asyncio.sleep(1.1)  # every address has waited its first second
            again = [code_of(await login(client, user, "guess 2", where)) for where in persistent]
            assert again.count((401, "invalid_credentials")) in (10, 11), again  # (+ refill)
            assert again.count((429, "login_throttled")) >= 3, again
            assert (await login(client, user, "correct horse", address())).status_code == 200
    finally:
        hub.stop()


async def test_parallel_wrong_passwords_get_a_bounded_number_of_checks(
    client: httpx.AsyncClient,
) -> None:
    """20 wrong logins at once from one address, and 20 wrong password changes at once:
    at most 3 password checks each (the attempts reserve before the check); the owner
    still logs in and changes the password from another address."""
    user = await new_user(client)
    attacker = address()
    before, started = await checks(client), time.monotonic()
    burst = await asyncio.gather(*(login(client, user, "wrong", attacker) for _ in range(20)))
    late = int(time.monotonic() - started)  # a wait (1 s, 2 s …) that ran out mid-burst
    assert await checks(client) - before <= 3 + late
    assert sum(r.status_code == 401 for r in burst) <= 3 + late
    assert {code_of(r) for r in burst} == {(401, "invalid_credentials"), (429, "login_throttled")}
    home = address()
    token = (await login(client, user, "correct horse", home)).json()["token"]

    thief = {**bearer(token), **address()}
    before, started = await checks(client), time.monotonic()
    body = {"old": "not it at all", "new": "battery staple"}
    changes = await asyncio.gather(
        *(client.post("/v1/auth/password", json=body, headers=thief) for _ in range(20))
    )
    assert await checks(client) - before <= 3 + int(time.monotonic() - started)
    assert {code_of(r) for r in changes} == {(401, "invalid_credentials"), (429, "login_throttled")}
    right = {"old": "correct horse", "new": "battery staple"}
    changed = await client.post("/v1/auth/password", json=right, headers={**bearer(token), **home})
    assert changed.status_code == 200, changed.text
    assert (await login(client, user, "battery staple", address())).status_code == 200
