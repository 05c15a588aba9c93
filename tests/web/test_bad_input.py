"""Bad input gets a clear JSON error with a stable code, never a 500, and changes nothing."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import staff_headers


async def version(client: httpx.AsyncClient, info: str) -> int:
    return (await client.get(f"/v1/queues/{info}")).json()["v"]  # type: ignore[no-any-return]


def assert_error(r: httpx.Response, status: int, code: str | None = None) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    error = r.json()["error"]
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/v1/queues/abc", 400, "invalid_info"),
        ("GET", "/v1/queues/1234-1", 400, "invalid_info"),
        ("GET", "/v1/queues/123456789-01", 400, "invalid_info"),
        ("POST", "/v1/queues/12-x1/tickets", 400, "invalid_info"),
        ("GET", "/v1/queues/99999999-99", 404, "unknown_queue"),
        ("POST", "/v1/queues/99999999-99/tickets", 404, "unknown_queue"),
        ("GET", "/v1/facilities/99999998", 404, "unknown_facility"),
        ("GET", "/v1/facilities/x", 400, "invalid_facility"),
        ("GET", "/v1/nothing-here", 404, "not_found"),
        ("DELETE", "/v1/queues/1234-01", 405, "method_not_allowed"),
    ],
)
async def test_unknown_or_malformed_identifiers(
    client: httpx.AsyncClient, method: str, path: str, status: int, code: str
) -> None:
    assert_error(await client.request(method, path), status, code)


async def test_bad_bodies_change_nothing(client: httpx.AsyncClient, facility: str) -> None:
    info, staff = f"{facility}-01", staff_headers(facility)
    before = await version(client, info)
    url = f"/v1/queues/{info}/tickets"
    json_type = {"content-type": "application/json"}
    assert_error(await client.post(url, content=b"{not json", headers=json_type), 400, "bad_json")
    assert_error(await client.post(url, content=b"\xff\xfe", headers=json_type), 400, "bad_json")
    assert_error(await client.post(url, json=[1, 2]), 422, "invalid_body")
    assert_error(await client.post(url, json={"name": 5}), 422, "invalid_body")
    assert_error(await client.post(url, json={"name": "x" * 101}), 422, "invalid_body")
    assert_error(await client.post(url, json={"channel": "fax"}), 422, "invalid_body")
    assert_error(
        await client.post(url, content=b"x" * 20_000, headers=json_type), 413, "body_too_large"
    )
    call = f"/v1/queues/{info}/call-next"
    assert_error(await client.post(call, json={"room": ""}, headers=staff), 422, "invalid_body")
    assert_error(await client.post(call, json={"room": 1}, headers=staff), 422, "invalid_body")
    cfg = f"/v1/queues/{info}/config"
    for bad in ({"web_daily_cap": -1}, {"close_web_at": "25:00"}, {"default_minutes": 0}):
        assert_error(await client.put(cfg, json=bad, headers=staff), 422, "invalid_body")
    msg = f"/v1/facilities/{facility}/message"
    assert_error(await client.put(msg, json={"text": "x" * 501}, headers=staff), 422)
    assert_error(await client.put(msg, headers=staff), 400, "bad_json")
    assert await version(client, info) == before


async def test_illegal_actions_change_nothing(client: httpx.AsyncClient, facility: str) -> None:
    info, staff = f"{facility}-01", staff_headers(facility)
    t = (await client.post(f"/v1/queues/{info}/tickets")).json()["ticket"]
    before = await version(client, info)
    base = f"/v1/queues/{info}/tickets"
    assert_error(
        await client.post(f"{base}/{t['id']}/complete", headers=staff), 409, "illegal_transition"
    )
    assert_error(
        await client.post(f"{base}/{t['id']}/recall", headers=staff), 409, "illegal_transition"
    )
    assert_error(await client.post(f"{base}/{t['id']}/explode", headers=staff), 404)
    assert_error(await client.post(f"{base}/nope/call", headers=staff), 404, "unknown_ticket")
    assert_error(await client.get(f"{base}/nope", headers=staff), 404, "unknown_ticket")
    assert await version(client, info) == before


async def test_unauthenticated_staff_calls(client: httpx.AsyncClient, facility: str) -> None:
    info = f"{facility}-01"
    for path in ("open", "close", "web/open", "web/close", "call-next"):
        assert_error(await client.post(f"/v1/queues/{info}/{path}"), 401, "unauthorized")
    assert_error(await client.post("/v1/admin/facilities", json={}), 401)
    assert_error(await client.post("/v1/queues/1234-01/tickets", json={"channel": "desk"}), 403)


async def test_bad_idempotency_key(client: httpx.AsyncClient, facility: str) -> None:
    r = await client.post(
        f"/v1/queues/{facility}-01/tickets", headers={"Idempotency-Key": "k" * 201}
    )
    assert_error(r, 400)
