"""Clinic admins manage their facility's staff accounts, against a real hub: access of each
route, bad input, password reset (temporary password, revoked tokens, forced change),
unlocking a throttled login, the admin rules, and the audit log."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import subprocess
import sys
import time
from typing import Any

import httpx
import jwt
import pytest

from tests.conftest import OPERATOR, SECRET, HubProcess, bearer, make_facility, staff_headers

_n = itertools.count(1)
PASSWORD = "correct horse"


def own_address() -> dict[str, str]:
    """A client address of its own (the hub trusts X-Forwarded-For from 127.0.0.1)."""
    n = next(_n)
    return {"X-Forwarded-For": f"203.0.{113 + n // 250 % 3}.{n % 250 + 1}"}


async def new_user(
    client: httpx.AsyncClient, facility: str, *, admin: bool = False, password: str = PASSWORD
) -> str:
    user = f"{'a' if admin else 'u'}{facility}-{next(_n)}"
    body = {"user": user, "password": password, "facility": facility, "admin": admin}
    r = await client.post("/v1/admin/users", headers=OPERATOR, json=body)
    assert r.status_code == 201, r.text
    assert r.json()["admin"] is admin
    return user


async def login(
    client: httpx.AsyncClient, user: str, password: str = PASSWORD, me: dict[str, str] | None = None
) -> httpx.Response:
    body = {"user": user, "password": password}
    return await client.post("/v1/auth/login", json=body, headers=me or own_address())


async def token_of(
    client: httpx.AsyncClient, user: str, password: str = PASSWORD
) -> dict[str, str]:
    r = await login(client, user, password)
    assert r.status_code == 200, r.text
    return bearer(r.json()["token"])


async def admin_of(client: httpx.AsyncClient, facility: str) -> tuple[str, dict[str, str]]:
    name = await new_user(client, facility, admin=True)
    return name, await token_of(client, name)


async def listing(client: httpx.AsyncClient, facility: str) -> dict[str, dict[str, Any]]:
    r = await client.get(f"/v1/facilities/{facility}/users", headers=OPERATOR)
    assert r.status_code == 200, r.text
    return {row["user"]: row for row in r.json()["users"]}


def routes(facility: str, user: str) -> list[tuple[str, str, Any]]:
    u = f"/v1/facilities/{facility}/users"
    return [
        ("GET", u, None),
        ("POST", u, {"user": f"new-{facility}-{next(_n)}"}),
        ("POST", f"{u}/{user}/reset", None),
        ("POST", f"{u}/{user}/unlock", None),
        ("PUT", f"{u}/{user}/admin", {"admin": True}),
        ("DELETE", f"{u}/{user}", None),
    ]


async def test_the_operator_creates_a_clinic_admin_whose_token_says_so(
    client: httpx.AsyncClient, facility: str
) -> None:
    admin = await new_user(client, facility, admin=True)
    answer = (await login(client, admin)).json()
    assert answer["admin"] is True and answer["must_change_password"] is False
    claims = jwt.decode(answer["token"], options={"verify_signature": False})
    assert claims["adm"] is True and "pwc" not in claims
    plain = (await login(client, await new_user(client, facility))).json()
    assert plain["admin"] is False
    assert "adm" not in jwt.decode(plain["token"], options={"verify_signature": False})
    refused = await client.post(
        "/v1/admin/users",
        headers=OPERATOR,
        json={"user": f"op-{next(_n)}", "password": PASSWORD, "role": "operator", "admin": True},
    )
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "invalid_body"


async def test_non_admin_staff_and_other_facilities_are_refused_and_nothing_changes(
    client: httpx.AsyncClient,
) -> None:
    facility = await make_facility(client, ("01",), open_all=False)
    other = await make_facility(client, ("01",), open_all=False)
    nurse = await new_user(client, facility)
    target = await new_user(client, facility)
    await new_user(client, facility, admin=True)
    _, other_admin = await admin_of(client, other)
    callers = {
        "non-admin staff login": await token_of(client, nurse),
        "a CLI staff token": staff_headers(facility),
        "an admin of another facility": other_admin,
    }
    before = await listing(client, facility)
    for method, path, body in routes(facility, target):
        for why, headers in callers.items():
            r = await client.request(method, path, json=body, headers=headers)
            assert r.status_code == 403, f"{why}: {method} {path}: {r.text}"
            assert r.json()["error"]["code"] == "forbidden"
        r = await client.request(method, path, json=body)
        assert r.status_code == 401, f"{method} {path}: {r.text}"
    assert await listing(client, facility) == before
    assert (await login(client, target)).status_code == 200  # its password still works


async def test_the_operator_and_the_clinic_admin_may_call_every_route(
    client: httpx.AsyncClient, facility: str
) -> None:
    _, admin = await admin_of(client, facility)
    for headers in (admin, OPERATOR):
        target = await new_user(client, facility)
        for method, path, body in routes(facility, target):
            r = await client.request(method, path, json=body, headers=headers)
            assert r.status_code in (200, 201), f"{method} {path}: {r.text}"
            if method == "POST" and body is not None:
                assert body["user"] in await listing(client, facility)
        assert target not in await listing(client, facility)  # the last call removed it


async def test_bad_input_is_a_4xx_json_error_and_changes_nothing(
    client: httpx.AsyncClient, facility: str
) -> None:
    _, admin = await admin_of(client, facility)
    other = await make_facility(client, ("01",), open_all=False)
    stranger = await new_user(client, other)
    existing = await new_user(client, facility)
    u = f"/v1/facilities/{facility}/users"
    cases: list[tuple[str, str, Any, int, str]] = [
        ("POST", u, {"user": "has space"}, 422, "invalid_body"),
        ("POST", u, {"user": ""}, 422, "invalid_body"),
        ("POST", u, {"user": "ok-name", "password": "short"}, 422, "invalid_body"),
        ("POST", u, {"user": "ok-name-1", "password": "OK-NAME-1"}, 422, "weak_password"),
        ("POST", u, {"user": existing}, 409, "user_exists"),
        ("POST", u, {"user": "ok-name", "admin": "yes"}, 422, "invalid_body"),
        ("POST", u, [1, 2], 422, "invalid_body"),
        ("PUT", f"{u}/{existing}/admin", {"admin": "yes"}, 422, "invalid_body"),
        ("PUT", f"{u}/{existing}/admin", {}, 422, "invalid_body"),
        ("POST", f"{u}/nobody-{facility}/reset", None, 404, "unknown_user"),
        ("POST", f"{u}/{stranger}/reset", None, 404, "unknown_user"),
        ("POST", f"{u}/{stranger}/unlock", None, 404, "unknown_user"),
        ("DELETE", f"{u}/{stranger}", None, 404, "unknown_user"),
        ("PUT", f"{u}/{stranger}/admin", {"admin": True}, 404, "unknown_user"),
        ("POST", "/v1/facilities/12x/users", {"user": "ok-name"}, 400, "invalid_facility"),
        ("POST", "/v1/admin/users/nobody-here-at-all/reset", None, 404, "unknown_user"),
    ]
    before, before_other = await listing(client, facility), await listing(client, other)
    for method, path, body, status, code in cases:
        headers = OPERATOR if path.startswith("/v1/admin/") else admin
        r = await client.request(method, path, json=body, headers=headers)
        assert r.status_code == status, f"{method} {path} {body}: {r.text}"
        assert r.json()["error"]["code"] == code, f"{method} {path} {body}: {r.text}"
    assert await listing(client, facility) == before
    assert await listing(client, other) == before_other
    assert (await login(client, stranger)).status_code == 200


async def test_a_reset_revokes_the_old_password_and_tokens_and_forces_a_new_one(
    client: httpx.AsyncClient, facility: str
) -> None:
    _, admin = await admin_of(client, facility)
    nurse = await new_user(client, facility)
    old_token = await token_of(client, nurse)
    staff_view = f"/v1/queues/{facility}-01/staff"
    assert (await client.get(staff_view, headers=old_token)).status_code == 200

    reset = await client.post(f"/v1/facilities/{facility}/users/{nurse}/reset", headers=admin)
    assert reset.status_code == 200, reset.text
    temporary = reset.json()["temporary_password"]
    assert reset.json()["must_change_password"] is True and len(temporary) >= 12

    assert (await login(client, nurse)).status_code == 401  # the old password
    revoked = await client.get(staff_view, headers=old_token)
    assert revoked.status_code == 401 and revoked.json()["error"]["code"] == "token_revoked"
    assert (await listing(client, facility))[nurse]["must_change_password"] is True

    first = await login(client, nurse, temporary)
    assert first.status_code == 200 and first.json()["must_change_password"] is True
    limited = bearer(first.json()["token"])
    refused = await client.get(staff_view, headers=limited)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "password_change_required"
    changed = await client.post(
        "/v1/auth/password", json={"old": temporary, "new": "a new secret"}, headers=limited
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["must_change_password"] is False
    assert (
        await client.get(staff_view, headers=bearer(changed.json()["token"]))
    ).status_code == 200

    assert (await login(client, nurse, temporary)).status_code == 401  # once only
    fresh = await login(client, nurse, "a new secret")
    assert fresh.status_code == 200 and fresh.json()["must_change_password"] is False
    assert (await listing(client, facility))[nurse]["must_change_password"] is False


async def test_an_added_user_gets_a_one_time_password_and_must_change_it(
    client: httpx.AsyncClient, facility: str
) -> None:
    _, admin = await admin_of(client, facility)
    name = f"clerk-{next(_n)}"
    added = await client.post(
        f"/v1/facilities/{facility}/users", json={"user": name}, headers=admin
    )
    assert added.status_code == 201, added.text
    temporary = added.json()["temporary_password"]
    row = (await listing(client, facility))[name]
    assert row["admin"] is False and row["must_change_password"] is True
    assert row["last_login"] is None
    first = await login(client, name, temporary)
    assert first.json()["must_change_password"] is True
    assert (await listing(client, facility))[name]["last_login"] >= int(time.time()) - 5
    chosen = await client.post(
        f"/v1/facilities/{facility}/users",
        json={"user": f"clerk-{next(_n)}", "password": "chosen by admin", "admin": True},
        headers=admin,
    )
    assert chosen.status_code == 201 and "temporary_password" not in chosen.json()
    assert chosen.json()["admin"] is True


async def test_unlock_lets_a_throttled_user_log_in_at_once(
    client: httpx.AsyncClient, facility: str
) -> None:
    admin_name, admin = await admin_of(client, facility)
    nurse = await new_user(client, facility)
    me = own_address()
    for _ in range(3):
        assert (await login(client, nurse, "wrong password", me)).status_code == 401
    throttled = await login(client, nurse, PASSWORD, me)
    assert throttled.status_code == 429
    assert throttled.json()["error"]["code"] == "login_throttled"
    row = (await listing(client, facility))[nurse]
    assert row["throttled"] is True and row["failures"] == 3 and row["retry_after"] >= 0

    unlocked = await client.post(f"/v1/facilities/{facility}/users/{nurse}/unlock", headers=admin)
    assert unlocked.status_code == 200, unlocked.text
    assert unlocked.json()["was_throttled"] is True
    row = (await listing(client, facility))[nurse]
    assert row["throttled"] is False and row["failures"] == 0
    assert (await login(client, nurse, PASSWORD, me)).status_code == 200
    assert admin_name != nurse


async def test_the_operator_resets_and_unlocks_any_user(
    client: httpx.AsyncClient, facility: str
) -> None:
    nurse = await new_user(client, facility)
    me = own_address()
    for _ in range(4):
        await login(client, nurse, "wrong password", me)
    assert (await login(client, nurse, PASSWORD, me)).status_code == 429
    unlocked = await client.post(f"/v1/admin/users/{nurse}/unlock", headers=OPERATOR)
    assert unlocked.status_code == 200 and unlocked.json()["facility"] == facility
    assert (await login(client, nurse, PASSWORD, me)).status_code == 200
    reset = await client.post(f"/v1/admin/users/{nurse}/reset", headers=OPERATOR)
    assert reset.status_code == 200, reset.text
    assert (await login(client, nurse)).status_code == 401
    answer = (await login(client, nurse, reset.json()["temporary_password"])).json()
    assert answer["must_change_password"] is True


async def test_admins_keep_one_admin_and_never_remove_themselves(
    client: httpx.AsyncClient, facility: str
) -> None:
    first, admin = await admin_of(client, facility)
    u = f"/v1/facilities/{facility}/users"
    for method, path, body in (
        ("DELETE", f"{u}/{first}", None),
        ("PUT", f"{u}/{first}/admin", {"admin": False}),
    ):
        r = await client.request(method, path, json=body, headers=admin)
        assert r.status_code == 409 and r.json()["error"]["code"] == "own_account", r.text
        r = await client.request(method, path, json=body, headers=OPERATOR)
        assert r.status_code == 409 and r.json()["error"]["code"] == "last_admin", r.text

    second = await new_user(client, facility)
    second_token = await token_of(client, second)
    granted = await client.put(f"{u}/{second}/admin", json={"admin": True}, headers=admin)
    assert granted.status_code == 200 and granted.json()["changed"] is True
    stale = await client.get(u, headers=second_token)  # its token had no admin claim: revoked
    assert stale.status_code == 401 and stale.json()["error"]["code"] == "token_revoked"
    second_admin = await token_of(client, second)
    assert (await client.get(u, headers=second_admin)).status_code == 200

    demoted = await client.put(f"{u}/{first}/admin", json={"admin": False}, headers=second_admin)
    assert demoted.status_code == 200, demoted.text
    assert (await client.get(u, headers=admin)).status_code == 401  # the old admin token
    removed = await client.delete(f"{u}/{first}", headers=second_admin)
    assert removed.status_code == 200, removed.text
    assert first not in await listing(client, facility)
    assert (await login(client, first)).status_code == 401


async def audit_entries(
    client: httpx.AsyncClient, facility: str, want: int
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 5
    while True:
        r = await client.get("/v1/admin/audit", params={"facility": facility}, headers=OPERATOR)
        assert r.status_code == 200, r.text
        found = [e for e in r.json()["entries"] if "/users" in e["action"]]
        if len(found) >= want or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.05)


async def test_every_account_action_is_audited_without_the_password(
    client: httpx.AsyncClient, facility: str
) -> None:
    admin_name, admin = await admin_of(client, facility)
    nurse = await new_user(client, facility)
    u = f"/v1/facilities/{facility}/users"
    secrets: list[str] = []
    calls: list[tuple[str, str, Any, dict[str, str]]] = [
        ("POST", u, {"user": f"clerk-{facility}"}, admin),
        ("POST", f"{u}/{nurse}/reset", None, admin),
        ("POST", f"{u}/{nurse}/unlock", None, admin),
        ("PUT", f"{u}/{nurse}/admin", {"admin": True}, admin),
        ("PUT", f"{u}/{nurse}/admin", {"admin": False}, admin),
        ("DELETE", f"{u}/{nurse}", None, admin),
        ("POST", f"/v1/admin/users/{admin_name}/unlock", None, OPERATOR),
    ]
    for method, path, body, headers in calls:
        r = await client.request(method, path, json=body, headers=headers)
        if r.status_code < 300:
            secrets += [v for k, v in r.json().items() if k == "temporary_password"]
    log = await audit_entries(client, facility, 7)
    actions = [(e["who"], e["action"], e["target"], e["outcome"]) for e in log]
    assert (
        admin_name,
        "POST /v1/facilities/{facility}/users",
        f"user=clerk-{facility} admin=False",
        "ok",
    ) in actions
    for action in ("reset", "unlock"):
        path = f"POST /v1/facilities/{{facility}}/users/{{user}}/{action}"
        assert (admin_name, path, f"user={nurse}", "ok") in actions
    admin_path = "PUT /v1/facilities/{facility}/users/{user}/admin"
    assert (admin_name, admin_path, f"user={nurse} admin=True", "ok") in actions
    assert (admin_name, admin_path, f"user={nurse} admin=False", "ok") in actions
    assert (
        admin_name,
        "DELETE /v1/facilities/{facility}/users/{user}",
        f"user={nurse}",
        "ok",
    ) in actions
    assert (
        "test-operator",
        "POST /v1/admin/users/{user}/unlock",
        f"user={admin_name}",
        "ok",
    ) in actions
    assert len(secrets) == 2
    text = str(log)
    assert not any(secret in text for secret in secrets)


@pytest.mark.parametrize("route", ["reset", "unlock"])
async def test_a_temporary_password_token_may_not_manage_staff(
    client: httpx.AsyncClient, facility: str, route: str
) -> None:
    """An admin whose password was reset logs in with the temporary one: its token may only
    change the password, not manage accounts."""
    admin_name = await new_user(client, facility, admin=True)
    await new_user(client, facility, admin=True)
    reset = await client.post(f"/v1/admin/users/{admin_name}/reset", headers=OPERATOR)
    limited = (await login(client, admin_name, reset.json()["temporary_password"])).json()
    assert limited["must_change_password"] is True and limited["admin"] is True
    nurse = await new_user(client, facility)
    r = await client.post(
        f"/v1/facilities/{facility}/users/{nurse}/{route}", headers=bearer(limited["token"])
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "password_change_required"
    assert (await login(client, nurse)).status_code == 200


async def test_the_cli_creates_a_clinic_admin_and_resets_and_unlocks(
    client: httpx.AsyncClient, hub: HubProcess, facility: str
) -> None:
    """``junban users add NAME --facility F --admin`` against the running hub (an operator
    token signed with the same secret); the printed password logs in as a clinic admin."""
    name = f"cli-admin-{facility}"

    def junban(*args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "JUNBAN_SECRET": SECRET, "JUNBAN_DATA_DIR": str(hub.data_dir)}
        command = [sys.executable, "-m", "hub.cli", "users", "--url", hub.base_url, *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)

    added = await asyncio.to_thread(junban, "add", name, "--facility", facility, "--admin")
    assert added.returncode == 0, added.stderr
    printed = json.loads(added.stdout)
    assert printed["admin"] is True and printed["facility"] == facility
    answer = (await login(client, name, printed["password"])).json()
    assert answer["admin"] is True
    assert (
        await client.get(f"/v1/facilities/{facility}/users", headers=bearer(answer["token"]))
    ).status_code == 200

    wrong = await asyncio.to_thread(junban, "add", f"x{name}", "--admin")
    assert wrong.returncode == 2 and "--facility" in wrong.stderr
    reset = await asyncio.to_thread(junban, "reset", name)
    assert reset.returncode == 0, reset.stderr
    temporary = json.loads(reset.stdout)["temporary_password"]
    assert (await login(client, name, temporary)).json()["must_change_password"] is True
    unlocked = await asyncio.to_thread(junban, "unlock", name)
    assert unlocked.returncode == 0 and json.loads(unlocked.stdout)["unlocked"] is True
    missing = await asyncio.to_thread(junban, "reset", f"nobody-{facility}")
    assert missing.returncode == 1 and "unknown_user" in missing.stderr
