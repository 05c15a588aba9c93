"""The API option (Table 1) gates every read of a facility's wait state from another site:
the queue view, its SSE stream, the facility record and the WebSocket's public channels.
Without the option, another origin or a partner token gets 403 ``option_not_contracted``
(the error only); the hub's own pages and servers are served."""

from __future__ import annotations

from typing import Any

import httpx

from tests.channels.wsclient import LiveClient
from tests.conftest import OPERATOR, TOKENS, HubProcess, bearer
from tests.web.test_contracts_api import C, active, post

FOREIGN = "https://clinic.example"
ACAO = "access-control-allow-origin"


async def without_api(client: httpx.AsyncClient) -> str:
    body = {"applicant": "No API", "items": ["reservation"],
            "fees": {"monthly": {"reservation": 9000}}}  # fmt: skip
    contract = (await client.post(C, json=body, headers=OPERATOR)).json()
    r = await post(client, contract, "approve", {"name": "No API"})
    assert r.status_code == 200, r.text
    return str(r.json()["facility"])


def reads(number: str) -> list[str]:
    return [f"/v1/queues/{number}-01", f"/v1/queues/{number}-01/events", f"/v1/facilities/{number}"]


async def status_and_cors(
    client: httpx.AsyncClient, method: str, url: str, headers: dict[str, str]
) -> tuple[int, str | None, Any]:
    async with client.stream(method, url, headers=headers) as r:
        if r.status_code == 200 and url.endswith("/events"):
            return r.status_code, r.headers.get(ACAO), None  # an endless stream: leave it
        await r.aread()
        body = r.json() if method == "GET" and r.status_code != 200 else None
        return r.status_code, r.headers.get(ACAO), body


async def test_without_the_option_no_other_site_reads_the_wait_state(
    client: httpx.AsyncClient, hub: HubProcess
) -> None:
    number = await without_api(client)
    partner = bearer(TOKENS.issue("partner", facility=number))
    for url in reads(number):
        for method in ("GET", "HEAD"):
            for headers in ({"Origin": FOREIGN}, partner):
                status, _, body = await status_and_cors(client, method, url, headers)
                assert status == 403, (method, url, headers, status)
                if method == "GET":  # the error only: no view, no waiting numbers
                    assert set(body) == {"error"}
                    assert body["error"]["code"] == "option_not_contracted"
        for headers in ({}, {"Origin": hub.base_url}):  # a server; the hub's own page
            status, _, _ = await status_and_cors(client, "GET", url, headers)
            assert status == 200, (url, headers)


async def test_with_the_option_any_site_reads_it_with_cors(client: httpx.AsyncClient) -> None:
    number = (await active(client))["facility"]
    for url in reads(number):
        status, cors, _ = await status_and_cors(client, "GET", url, {"Origin": FOREIGN})
        assert (status, cors) == (200, "*"), url
        preflight = await client.options(
            url, headers={"Origin": FOREIGN, "Access-Control-Request-Method": "GET"}
        )
        assert preflight.status_code == 204 and preflight.headers[ACAO] == "*"


async def test_the_websocket_refuses_another_sites_page_without_the_option(
    client: httpx.AsyncClient, hub: HubProcess
) -> None:
    closed = await without_api(client)
    contracted = (await active(client))["facility"]
    foreign = await LiveClient.open(hub.base_url, origin=FOREIGN)
    own = await LiveClient.open(hub.base_url, origin=hub.base_url)
    try:
        for ch in (f"queue:{closed}-01", f"facility:{closed}"):
            await foreign.sub(ch)
            refused = await foreign.until(lambda f, ch=ch: f.get("ch") == ch)
            assert refused["op"] == "error" and refused["code"] == "option_not_contracted"
        await foreign.sub(f"queue:{contracted}-01")  # frames after a check keep their order
        await foreign.send({"op": "ping"})
        ops = [(await foreign.recv())["op"] for _ in range(3)]
        assert ops.index("subscribed") < ops.index("pong") and "state" in ops, ops
        await own.sub(f"queue:{closed}-01")
        assert (await own.state(f"queue:{closed}-01"))["data"]["info"] == f"{closed}-01"
    finally:
        await foreign.close()
        await own.close()
