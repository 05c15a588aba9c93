"""Accounts (Art. 33) against real hub processes: login throttling, password change,
revocation."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import time
from typing import Any

import httpx
from websockets.exceptions import ConnectionClosed

from tests.channels.wsclient import LiveClient
from tests.conftest import OPERATOR, TOKENS, HubProcess, bearer, staff_headers, start_hub

_ips = itertools.count(1)


def own_address() -> dict[str, str]:
    """A client address of its own (the hub trusts X-Forwarded-For from 127.0.0.1), so the
    per-address login rate limit of other tests never interferes."""
    n = next(_ips)
    return {"X-Forwarded-For": f"198.51.{100 + n // 250}.{n % 250 + 1}"}


async def new_user(
    client: httpx.AsyncClient, facility: str, password: str = "correct horse"
) -> str:
    user = f"u{facility}-{next(_ips)}"
    body = {"user": user, "password": password, "facility": facility}
    r = await client.post("/v1/admin/users", headers=OPERATOR, json=body)
    assert r.status_code == 201, r.text
    return user


async def login(
    client: httpx.AsyncClient, user: str, password: str, me: dict[str, str]
) -> httpx.Response:
    return await client.post(
        "/v1/auth/login", json={"user": user, "password": password}, headers=me
    )


async def test_failures_from_one_address_throttle_it_and_a_success_resets(
    client: httpx.AsyncClient, facility: str
) -> None:
    """Three wrong passwords from one address, then that address waits (429 login_throttled,
    Retry-After, the right password too); another address logs in at once; after the wait
    the right password resets the count."""
    user = await new_user(client, facility)
    me = own_address()
    for _ in range(3):
        r = await login(client, user, "wrong password", me)
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_credentials"
    for password in ("wrong password", "correct horse"):
        waiting = await login(client, user, password, me)
        assert waiting.status_code == 429, waiting.text
        assert waiting.json()["error"]["code"] == "login_throttled"
        assert waiting.headers["Retry-After"] == "1"
    assert (await login(client, user, "correct horse", own_address())).status_code == 200
    await asyncio.sleep(1.1)
    assert (await login(client, user, "correct horse", me)).status_code == 200  # resets
    for _ in range(3):
        assert (await login(client, user, "wrong password", me)).status_code == 401


def invalid_logins(metrics: str) -> float:
    found = re.search(r'junban_login_failures_total\{outcome="invalid"\} (\S+)', metrics)
    return float(found.group(1)) if found else 0.0


async def test_a_parallel_burst_gets_no_more_password_checks_than_the_free_failures(
    client: httpx.AsyncClient, facility: str
) -> None:
    """Each attempt reserves its count before the password is checked: 20 wrong passwords
    at once from one address are checked at most 3 times (the rest: 429 at once), and the
    right password from another address is accepted right away."""
    user = await new_user(client, facility)
    me = own_address()
    before, started = invalid_logins((await client.get("/metrics")).text), time.monotonic()
    burst = await asyncio.gather(*(login(client, user, "wrong password", me) for _ in range(20)))
    late = int(time.monotonic() - started)  # a wait (1 s, 2 s …) that ran out mid-burst
    checked = invalid_logins((await client.get("/metrics")).text) - before
    codes = [r.status_code for r in burst]
    assert checked <= 3 + late, codes
    assert set(codes) == {401, 429} and codes.count(401) <= 3 + late, codes
    assert {r.json()["error"]["code"] for r in burst if r.status_code == 429} == {"login_throttled"}
    right = await login(client, user, "correct horse", own_address())
    assert right.status_code == 200, right.text


async def test_throttling_does_not_reveal_whether_a_user_exists(
    client: httpx.AsyncClient, facility: str
) -> None:
    real = await new_user(client, facility)
    ghost = f"nobody-{facility}"
    answers: dict[str, list[tuple[int, str, str | None]]] = {real: [], ghost: []}
    for name in (real, ghost):
        me = own_address()
        for _ in range(5):
            r = await login(client, name, "wrong password", me)
            answers[name].append(
                (r.status_code, r.json()["error"]["code"], r.headers.get("Retry-After"))
            )
    assert answers[real] == answers[ghost]
    assert answers[real][2] == (401, "invalid_credentials", None)
    assert answers[real][3:] == [(429, "login_throttled", "1")] * 2


async def test_the_waits_grow_to_the_configured_longest(redis_url: str) -> None:
    """JUNBAN_LOGIN_THROTTLE="1/2": after 1 failure the address waits 1 s, then 2 s, never
    more than 2 s; the right password works once the wait is over."""
    hub = start_hub(redis_url, JUNBAN_LOGIN_THROTTLE="1/2", JUNBAN_TRUSTED_PROXIES="127.0.0.1")
    try:
        async with httpx.AsyncClient(base_url=hub.base_url) as client:
            from tests.conftest import make_facility

            user = await new_user(client, await make_facility(client, open_all=False))
            me = own_address()
            waits = []
            for _ in range(3):
                assert (await login(client, user, "wrong password", me)).status_code == 401
                refused = await login(client, user, "correct horse", me)
                assert refused.status_code == 429
                waits.append(int(refused.headers["Retry-After"]))
                await asyncio.sleep(waits[-1] + 0.1)
            assert waits == [1, 2, 2]
            assert (await login(client, user, "correct horse", me)).status_code == 200
    finally:
        hub.stop()


async def test_password_change(client: httpx.AsyncClient, facility: str) -> None:
    user = await new_user(client, facility)
    me = own_address()
    old_token = (await login(client, user, "correct horse", me)).json()["token"]
    url = "/v1/auth/password"
    wrong = await client.post(url, json={"old": "nope nope", "new": "battery staple"},
                              headers=bearer(old_token))  # fmt: skip
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_credentials"
    for weak in ("short", user, "correct horse"):  # too short, the name, the old one
        r = await client.post(
            url, json={"old": "correct horse", "new": weak}, headers=bearer(old_token)
        )
        assert r.status_code == 422 and r.json()["error"]["code"] == "weak_password", r.text
    bad = await client.post(url, json={"old": "correct horse"}, headers=bearer(old_token))
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_body"
    # nothing changed so far: the old password and token still work
    assert (
        await client.get(f"/v1/queues/{facility}-01/staff", headers=bearer(old_token))
    ).status_code == 200
    ok = await client.post(url, json={"old": "correct horse", "new": "battery staple"},
                           headers=bearer(old_token))  # fmt: skip
    assert ok.status_code == 200 and ok.json()["changed"] is True
    new_token = ok.json()["token"]
    refused = await client.get(f"/v1/queues/{facility}-01/staff", headers=bearer(old_token))
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "token_revoked"
    assert (
        await client.get(f"/v1/queues/{facility}-01/staff", headers=bearer(new_token))
    ).status_code == 200
    assert (await login(client, user, "correct horse", me)).status_code == 401
    assert (await login(client, user, "battery staple", me)).status_code == 200


async def test_tokens_without_an_account_cannot_change_or_revoke(
    client: httpx.AsyncClient, facility: str
) -> None:
    cli_token = staff_headers(facility)  # like `junban token`: no tv claim, no account
    for path, body in (
        ("/v1/auth/password", {"old": "a", "new": "bbbbbbbbbb"}),
        ("/v1/auth/revoke", None),
    ):
        r = await client.post(path, json=body, headers=cli_token)
        assert r.status_code == 403 and r.json()["error"]["code"] == "no_account", r.text
    assert (await client.post("/v1/auth/revoke")).status_code == 401
    unknown = await client.post("/v1/admin/users/nobody-at-all/revoke", headers=OPERATOR)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_user"
    assert (await client.post("/v1/admin/users/x/revoke", headers=cli_token)).status_code == 403
    # the account-less token goes on working
    assert (
        await client.get(f"/v1/queues/{facility}-01/staff", headers=cli_token)
    ).status_code == 200


async def test_revoke_kills_the_token_on_http_and_its_websocket(
    client: httpx.AsyncClient, hub: HubProcess, facility: str
) -> None:
    user = await new_user(client, facility)
    token = (await login(client, user, "correct horse", own_address())).json()["token"]
    other = (await login(client, user, "correct horse", own_address())).json()["token"]
    live = await LiveClient.open(hub.base_url, token=token)
    await live.sub(f"staff:{facility}-01")
    assert (await live.state(f"staff:{facility}-01"))["data"]["info"] == f"{facility}-01"
    started = time.monotonic()
    r = await client.post(f"/v1/admin/users/{user}/revoke", headers=OPERATOR)
    assert r.status_code == 200 and r.json()["revoked"] is True
    assert await live.closed_with(timeout=5) == 4401
    assert live.ws.close_reason == "token_revoked"
    assert time.monotonic() - started < 5
    for old in (token, other):
        refused = await client.get(f"/v1/queues/{facility}-01/staff", headers=bearer(old))
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "token_revoked"
    fresh = (await login(client, user, "correct horse", own_address())).json()["token"]
    assert (
        await client.get(f"/v1/queues/{facility}-01/staff", headers=bearer(fresh))
    ).status_code == 200


async def frames_until_closed(live: LiveClient) -> list[dict[str, Any]]:
    """Every frame the server sends until it closes the socket."""
    frames = []
    try:
        while True:
            frames.append(await live.recv(5))
    except ConnectionClosed:
        return frames


async def test_a_revoked_token_opens_no_private_channel_on_a_websocket(
    client: httpx.AsyncClient, hub: HubProcess, facility: str
) -> None:
    """A revoked login token is refused (4401 token_revoked) before any staff state — by
    ``?token=`` at the upgrade and by an ``auth`` frame; whether this process knows the
    account's version (right after the revocation) or must read it (its 1 s cache gone)."""
    user = await new_user(client, facility)
    token = (await login(client, user, "correct horse", own_address())).json()["token"]
    r = await client.post(f"/v1/admin/users/{user}/revoke", headers=OPERATOR)
    assert r.status_code == 200
    fresh = (await login(client, user, "correct horse", own_address())).json()["token"]
    staff, public = f"staff:{facility}-01", f"queue:{facility}-01"
    for cached in (True, False):
        if not cached:
            await asyncio.sleep(1.1)  # the version cache lives 1 s
        upgrade = await LiveClient.open(hub.base_url, token=token)
        with contextlib.suppress(ConnectionClosed):  # it may be closed already
            await upgrade.sub(staff)
        assert await frames_until_closed(upgrade) == []
        assert (upgrade.ws.close_code, upgrade.ws.close_reason) == (4401, "token_revoked")

        framed = await LiveClient.open(hub.base_url)
        await framed.sub(public)
        await framed.state(public)
        await framed.send({"op": "auth", "token": token})
        with contextlib.suppress(ConnectionClosed):
            await framed.sub(staff)
        seen = await frames_until_closed(framed)
        assert not [f for f in seen if f.get("ch") == staff], seen
        assert (framed.ws.close_code, framed.ws.close_reason) == (4401, "token_revoked")
    # a good token whose version this process must read still works
    live = await LiveClient.open(hub.base_url, token=fresh)
    await live.sub(staff)
    assert (await live.state(staff))["data"]["info"] == f"{facility}-01"
    await live.close()


async def test_self_revoke_reaches_another_process_within_seconds(
    client: httpx.AsyncClient, redis_url: str, facility: str
) -> None:
    second = start_hub(redis_url)
    try:
        user = await new_user(client, facility)
        token = (await login(client, user, "correct horse", own_address())).json()["token"]
        live = await LiveClient.open(second.base_url, token=token)
        await live.sub(f"staff:{facility}-01")
        await live.state(f"staff:{facility}-01")
        async with httpx.AsyncClient(base_url=second.base_url) as there:
            assert (
                await there.get(f"/v1/queues/{facility}-01/staff", headers=bearer(token))
            ).status_code == 200
            r = await client.post("/v1/auth/revoke", headers=bearer(token))  # on the first hub
            assert r.status_code == 200
            assert await live.closed_with(timeout=5) == 4401
            await asyncio.sleep(1.1)  # the other process's version cache lives 1 s
            refused = await there.get(f"/v1/queues/{facility}-01/staff", headers=bearer(token))
            assert refused.status_code == 401 and refused.json()["error"]["code"] == "token_revoked"
    finally:
        second.stop()


def test_cli_style_tokens_carry_no_version() -> None:
    assert TOKENS.verify(TOKENS.issue("operator")).token_version is None
    assert TOKENS.verify(TOKENS.issue("staff", facility="1", version=3)).token_version == 3
