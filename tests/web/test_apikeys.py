"""Partner API keys against real hub processes: minted and shown once, scoped, per facility,
limited (Art. 37), revoked everywhere within 2 s, audited; the event feed they read."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from hypothesis import given
from hypothesis import strategies as st

from hub.apikeys import SECRET_CHARS, new_key, parse_key
from tests.conftest import (
    OPERATOR,
    bearer,
    make_facility,
    staff_headers,
    start_hub,
)
from tests.web.test_api_gate import without_api
from tests.web.test_audit import entries

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def keys_of(facility: str) -> str:
    return f"/v1/facilities/{facility}/api-keys"


def feed(facility: str) -> str:
    return f"/v1/facilities/{facility}/integrations/events"


async def mint(
    client: httpx.AsyncClient, facility: str, *scopes: str, label: str = "EMR relay"
) -> dict[str, Any]:
    r = await client.post(
        keys_of(facility), json={"label": label, "scopes": list(scopes)},
        headers=staff_headers(facility),
    )  # fmt: skip
    assert r.status_code == 201, r.text
    minted: dict[str, Any] = r.json()
    return minted


# -- the key format (pure) --------------------------------------------------------------


@given(st.from_regex(r"[0-9]{1,8}", fullmatch=True))
def test_a_minted_key_parses_back_to_its_facility(facility: str) -> None:
    key = new_key(facility)
    assert parse_key(key) == facility
    assert len(key) == len(f"jbk_{facility}_") + SECRET_CHARS


@given(
    st.from_regex(r"[0-9]{1,8}", fullmatch=True),
    st.text(alphabet=ALPHABET, min_size=0, max_size=60),
)
def test_only_43_base64url_characters_after_the_facility_parse(facility: str, tail: str) -> None:
    parsed = parse_key(f"jbk_{facility}_{tail}")
    assert parsed == (facility if len(tail) == SECRET_CHARS else None)


@given(st.text(max_size=80))
def test_any_text_parses_without_raising_and_needs_the_prefix(text: str) -> None:
    parsed = parse_key(text)
    if parsed is not None:
        assert text.startswith(f"jbk_{parsed}_") and len(text) == len(parsed) + 5 + SECRET_CHARS
    assert parse_key("jbk_" + text[4:] + "\n") is None  # never a trailing newline


# -- minting, use, scopes, facilities -----------------------------------------------------


async def test_a_key_is_shown_once_and_works_for_its_scope(client: httpx.AsyncClient) -> None:
    facility = await make_facility(client, ("01",))
    minted = await mint(client, facility, "public:read")
    key = minted["key"]
    assert key.startswith(f"jbk_{facility}_") and minted["hint"] == key[-4:]
    assert minted["scopes"] == ["public:read"] and minted["revoked"] is False

    listed = await client.get(keys_of(facility), headers=staff_headers(facility))
    assert listed.status_code == 200
    assert key not in listed.text and key[len(f"jbk_{facility}_") :] not in listed.text
    (row,) = listed.json()["keys"]
    assert "key" not in row and row["id"] == minted["id"] and row["label"] == "EMR relay"

    partner = bearer(key)
    for url in (f"/v1/queues/{facility}-01", f"/v1/facilities/{facility}"):
        r = await client.get(url, headers=partner)
        assert r.status_code == 200, (url, r.text)
    async with client.stream("GET", f"/v1/queues/{facility}-01/events", headers=partner) as sse:
        assert sse.status_code == 200
        assert (await anext(sse.aiter_bytes())).startswith(b"retry:")
    # the use is counted (written at most once a second per key) and audited as the key
    deadline = time.monotonic() + 5
    while True:
        rows = (await client.get(keys_of(facility), headers=staff_headers(facility))).json()
        if rows["keys"][0]["uses"] >= 1 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    assert rows["keys"][0]["uses"] >= 1 and rows["keys"][0]["last_used_at"] is not None
    log = await entries(client, 3, staff_headers(facility), facility=facility)
    used = [e for e in log if e["who"] == minted["id"]]
    assert used and all(e["role"] == "partner" for e in used)
    assert {e["action"] for e in used} <= {
        "GET /v1/queues/{info}",
        "GET /v1/facilities/{facility}",
        "GET /v1/queues/{info}/events",
    }


async def test_a_key_issues_desk_tickets_and_cancels_them(client: httpx.AsyncClient) -> None:
    facility = await make_facility(client, ("01",))
    partner = bearer((await mint(client, facility, "tickets:write"))["key"])
    info = f"{facility}-01"
    body = {"name": "Yamada", "patient_ref": "P-0042"}
    r = await client.post(f"/v1/queues/{info}/tickets", json=body, headers=partner)
    assert r.status_code == 201, r.text
    ticket = r.json()["ticket"]
    assert ticket["channel"] == "desk"
    staff = (await client.get(f"/v1/queues/{info}/staff", headers=OPERATOR)).json()
    (stored,) = [t for t in staff["tickets"] if t["id"] == ticket["id"]]
    assert stored["patient_ref"] == "P-0042" and stored["name"] == "Yamada"
    cancelled = await client.delete(f"/v1/queues/{info}/tickets/{ticket['id']}", headers=partner)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["ticket"]["status"] == "cancelled"


async def test_scopes_routes_and_facilities_are_enforced(client: httpx.AsyncClient) -> None:
    facility = await make_facility(client, ("01",))
    other = await make_facility(client, ("01",))
    info = f"{facility}-01"
    reader = bearer((await mint(client, facility, "public:read"))["key"])
    writer = bearer((await mint(client, facility, "tickets:write"))["key"])
    staff_view = f"/v1/queues/{info}/staff"
    before = len((await client.get(staff_view, headers=OPERATOR)).json()["tickets"])

    async def refused(method: str, url: str, headers: dict[str, str], code: str) -> None:
        r = await client.request(method, url, headers=headers)
        assert r.status_code == 403, (method, url, r.status_code, r.text)
        assert r.json()["error"]["code"] == code, (method, url, r.text)

    await refused("POST", f"/v1/queues/{info}/tickets", reader, "insufficient_scope")
    await refused("GET", f"/v1/queues/{info}", writer, "insufficient_scope")
    await refused("GET", feed(facility), writer, "insufficient_scope")
    for headers in (reader, writer):  # routes no key may call, whatever its scopes
        await refused("GET", staff_view, headers, "forbidden")
        await refused("POST", f"/v1/queues/{info}/call-next", headers, "forbidden")
        await refused("GET", keys_of(facility), headers, "forbidden")
        await refused("POST", keys_of(facility), headers, "forbidden")
    # a key of one facility never acts on another
    await refused("GET", f"/v1/queues/{other}-01", reader, "forbidden")
    await refused("GET", f"/v1/facilities/{other}", reader, "forbidden")
    await refused("POST", f"/v1/queues/{other}-01/tickets", writer, "forbidden")
    assert (await client.get(f"/v1/queues/{other}-01/staff", headers=OPERATOR)).json()[
        "tickets"
    ] == []
    assert len((await client.get(staff_view, headers=OPERATOR)).json()["tickets"]) == before
    # a made-up key of the right shape, and a malformed one, are 401 even on public routes
    for bad in (f"jbk_{facility}_{'A' * 43}", f"jbk_{facility}_short"):
        r = await client.get(f"/v1/queues/{info}", headers=bearer(bad))
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"


async def test_minting_checks_the_body_the_options_and_the_caller(
    client: httpx.AsyncClient,
) -> None:
    facility = await make_facility(client, ("01",))
    url = keys_of(facility)
    staff = staff_headers(facility)
    for body in ({"label": "x", "scopes": []}, {"label": "", "scopes": ["public:read"]},
                 {"label": "x", "scopes": ["admin"]}, {"scopes": ["public:read"]}):  # fmt: skip
        r = await client.post(url, json=body, headers=staff)
        assert r.status_code == 422, (body, r.text)
    assert (await client.post(url, json={"label": "x", "scopes": ["public:read"]},
                              headers=staff_headers(await make_facility(client, ("01",)))
                              )).status_code == 403  # fmt: skip
    assert (await client.get(url)).status_code == 401
    assert (await client.post(url, json={"label": "op", "scopes": ["events:read"]},
                              headers=OPERATOR)).status_code == 201  # fmt: skip
    unknown = await client.delete(f"{url}/ak_000000000000", headers=staff)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_api_key"

    plain = await without_api(client)  # a contract with neither the API nor the EMR option
    for scope in ("public:read", "events:read", "tickets:write"):
        r = await client.post(
            keys_of(plain), json={"label": "x", "scopes": [scope]}, headers=staff_headers(plain)
        )
        assert r.status_code == 403, r.text
        assert r.json()["error"]["code"] == "option_not_contracted"


async def test_a_key_of_a_facility_without_the_option_is_refused(
    client: httpx.AsyncClient, redis_url: str
) -> None:
    """A key minted while the option was contracted stops working once it is not."""
    plain = await without_api(client)
    from redis.asyncio import Redis

    from hub.apikeys import ApiKeyStore, KeyRecord, digest

    key = new_key(plain)  # as if minted before the option ended
    record = KeyRecord(id="ak_0a0a0a0a0a0a", label="old", created_by="x", created_at=1.0,
                       scopes=("events:read", "public:read", "tickets:write"),
                       hint=key[-4:])  # fmt: skip
    redis = Redis.from_url(redis_url)
    try:
        await ApiKeyStore(redis).put(plain, digest(key), record)
    finally:
        await redis.aclose()
    calls = [("GET", f"/v1/queues/{plain}-01"), ("GET", feed(plain)),
             ("POST", f"/v1/queues/{plain}-01/tickets")]  # fmt: skip
    for method, url in calls:
        r = await client.request(method, url, headers=bearer(key))
        assert r.status_code == 403, (url, r.text)
        assert r.json()["error"]["code"] == "option_not_contracted"


async def test_a_keys_own_limit_answers_429_with_retry_after(client: httpx.AsyncClient) -> None:
    facility = await make_facility(client, ("01",))
    limits = f"/v1/admin/facilities/{facility}/limits"
    r = await client.put(limits, json={"rate_key": "3/3600"}, headers=OPERATOR)
    assert r.status_code == 200 and r.json()["rate_key"] == "3/3600"
    first = bearer((await mint(client, facility, "public:read"))["key"])
    second = bearer((await mint(client, facility, "public:read"))["key"])
    url = f"/v1/queues/{facility}-01"
    codes = [(await client.get(url, headers=first)).status_code for _ in range(3)]
    over = await client.get(url, headers=first)
    assert codes == [200, 200, 200] and over.status_code == 429, over.text
    assert over.json()["error"]["code"] == "rate_limited"
    assert int(over.headers["Retry-After"]) >= 1
    assert (await client.get(url, headers=second)).status_code == 200  # each key its own
    assert (await client.get(url)).status_code == 200  # anonymous reads are not the key's


async def test_a_revoked_key_is_refused_within_2s_on_every_hub(
    client: httpx.AsyncClient, redis_url: str
) -> None:
    facility = await make_facility(client, ("01",))
    minted = await mint(client, facility, "public:read")
    partner = bearer(minted["key"])
    url = f"/v1/queues/{facility}-01"
    other_hub = start_hub(redis_url)
    try:
        async with httpx.AsyncClient(base_url=other_hub.base_url, timeout=20) as other:
            assert (await other.get(url, headers=partner)).status_code == 200  # cached there
            r = await client.delete(
                f"{keys_of(facility)}/{minted['id']}", headers=staff_headers(facility)
            )
            assert r.status_code == 200 and r.json()["revoked"] is True
            revoked_at = time.monotonic()
            here = await client.get(url, headers=partner)  # the revoking process: at once
            assert here.status_code == 401 and here.json()["error"]["code"] == "token_revoked"
            while (await other.get(url, headers=partner)).status_code == 200:
                assert time.monotonic() - revoked_at < 2.5, "still accepted after 2 s"
                await asyncio.sleep(0.05)
            last = await other.get(url, headers=partner)
            assert last.status_code == 401 and last.json()["error"]["code"] == "token_revoked"
    finally:
        other_hub.stop()
    rows = (await client.get(keys_of(facility), headers=staff_headers(facility))).json()["keys"]
    assert rows[0]["revoked"] is True and rows[0]["revoked_at"] is not None
    log = await entries(client, 1, staff_headers(facility), facility=facility)
    assert any(e["who"] == minted["id"] and e["outcome"] == "token_revoked" for e in log)


# -- the event feed ------------------------------------------------------------------------


async def test_the_feed_returns_events_after_a_stream_id(client: httpx.AsyncClient) -> None:
    facility = await make_facility(client, ("01",))
    partner = bearer((await mint(client, facility, "events:read"))["key"])
    info = f"{facility}-01"
    start = (await client.get(feed(facility), headers=partner)).json()
    taken = []
    for name in ("Sato", "Suzuki"):
        r = await client.post(f"/v1/queues/{info}/tickets", json={"name": name},
                              headers=staff_headers(facility))  # fmt: skip
        assert r.status_code == 201
        taken.append(r.json()["ticket"]["id"])
    page = (await client.get(feed(facility), params={"after": start["next"] or "0"},
                             headers=partner)).json()  # fmt: skip
    issued = [e for e in page["events"] if e["type"] == "ticket.issued"]
    assert [e["data"]["ticket"]["id"] for e in issued] == taken
    assert issued[0]["data"]["ticket"]["name"] == "Sato"  # personal: the EMR needs the name
    assert issued[0]["id"].startswith(f"evt_{info}_")
    assert page["next"] == page["events"][-1]["stream_id"]
    # exclusive: after the first issued event's entry comes the second one only
    rest = (await client.get(feed(facility), params={"after": issued[0]["stream_id"]},
                             headers=partner)).json()  # fmt: skip
    assert [e["data"]["ticket"]["id"] for e in rest["events"] if e["type"] == "ticket.issued"] == [
        taken[1]
    ]
    one = (await client.get(feed(facility), params={"limit": "1"}, headers=partner)).json()
    assert one["more"] is True
    empty = (await client.get(feed(facility), params={"after": page["next"]},
                              headers=partner)).json()  # fmt: skip
    assert empty["events"] == [] and empty["next"] == page["next"] and empty["more"] is False


async def test_the_feed_refuses_bad_queries_and_facilities_without_the_option(
    client: httpx.AsyncClient,
) -> None:
    facility = await make_facility(client, ("01",))
    partner = bearer((await mint(client, facility, "events:read"))["key"])
    for params in ({"after": "x"}, {"after": "1-2-3"}, {"after": "9" * 20}, {"limit": "0"},
                   {"limit": "1001"}, {"limit": "ten"}, {"limit": "-1"}):  # fmt: skip
        r = await client.get(feed(facility), params=params, headers=partner)
        assert r.status_code == 400, (params, r.text)
        assert r.json()["error"]["code"] == "invalid_query"
    plain = await without_api(client)
    r = await client.get(feed(plain), headers=staff_headers(plain))
    assert r.status_code == 403 and r.json()["error"]["code"] == "option_not_contracted"
    assert (await client.get(feed(facility))).status_code == 401
