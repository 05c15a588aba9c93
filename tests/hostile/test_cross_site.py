"""Cross-site requests: a page of another site cannot make its visitors' browsers take
tickets or change anything, with or without a body, while the hub's own pages, apps and
servers (no Origin) work as before. JSON nested too deep is a clear 400 / close 4400."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import websockets
from playwright.async_api import Browser

from tests.conftest import HubProcess, make_facility, staff_headers
from tests.pages.conftest import browser  # noqa: F401  (the Chromium fixture)
from tests.pages.test_widget import PartnerSite

ATTACK = """<!doctype html><html><body><form id="f" method="post" action="{url}"
 enctype="text/plain"><input name="x" value="y"></form>
<script>
  window.sent = (async () => {{
    const url = "{url}";
    const tries = [
      fetch(url, {{method: "POST", mode: "no-cors"}}),
      fetch(url, {{method: "POST", mode: "no-cors", body: "x",
                   headers: {{"Content-Type": "text/plain"}}}}),
      fetch(url, {{method: "POST", mode: "no-cors", body: new URLSearchParams("a=b")}}),
      fetch(url, {{method: "POST", mode: "no-cors", body: '{{"name": "Mallory"}}',
                   headers: {{"Content-Type": "text/plain"}}}}),
    ];
    navigator.sendBeacon(url, "x");
    await Promise.allSettled(tries);
    return tries.length + 1;
  }})();
</script></body></html>"""


async def waiting(client: httpx.AsyncClient, info: str) -> int:
    count: int = (await client.get(f"/v1/queues/{info}")).json()["waiting_count"]
    return count


async def test_a_page_of_another_site_takes_no_ticket(
    browser: Browser,  # noqa: F811
    hub: HubProcess,
    client: httpx.AsyncClient,
) -> None:
    facility = await make_facility(client)
    info = f"{facility}-01"
    url = f"{hub.base_url}/v1/queues/{info}/tickets"
    with PartnerSite(ATTACK.format(url=url)) as site:
        context = await browser.new_context()
        page = await context.new_page()
        await page.goto(site.url)
        assert await page.evaluate("window.sent") == 5
        await page.evaluate("document.getElementById('f').submit()")
        await page.wait_for_load_state()
        await asyncio.sleep(0.5)  # sendBeacon is fire-and-forget
        await context.close()
    assert await waiting(client, info) == 0
    # the hub's own page still takes tickets (same origin, JSON)
    own = await client.post(url, json={"name": "Sato"}, headers={"Origin": hub.base_url})
    assert own.status_code == 201, own.text
    assert await waiting(client, info) == 1


async def test_state_changes_need_json_and_no_foreign_origin(
    hub: HubProcess, client: httpx.AsyncClient
) -> None:
    facility = await make_facility(client)
    info = f"{facility}-01"
    url = f"/v1/queues/{info}/tickets"
    plain = await client.post(url, content=b"x", headers={"Content-Type": "text/plain"})
    assert plain.status_code == 415 and plain.json()["error"]["code"] == "unsupported_media_type"
    form = await client.post(url, data={"name": "x"})
    assert form.status_code == 415
    for origin in ("https://evil.example", "null", f"http://127.0.0.1:{hub.port + 1}"):
        foreign = await client.post(url, headers={"Origin": origin})
        assert foreign.status_code == 403, origin
        assert foreign.json()["error"]["code"] == "cross_origin"
    staff = await client.post(
        f"/v1/queues/{info}/call-next",
        json={"room": "1"},
        headers={**staff_headers(facility), "Origin": "https://evil.example"},
    )
    assert staff.status_code == 403
    assert await waiting(client, info) == 0
    assert (await client.post(url)).status_code == 201  # a server or app: no Origin
    typed = await client.post(url, content=b"{}", headers={"Content-Type": "application/json"})
    assert typed.status_code == 201
    # reads stay open to every origin (the widget)
    read = await client.get(f"/v1/queues/{info}", headers={"Origin": "https://evil.example"})
    assert read.status_code == 200


NESTED = b"[" * 2500 + b"]" * 2500


@pytest.mark.parametrize(
    "path",
    ["/v1/queues/{info}/tickets", "/v1/auth/login", "/v1/queues/{info}/call-next"],
)
async def test_deeply_nested_json_is_a_clear_400(
    hub: HubProcess, client: httpx.AsyncClient, path: str
) -> None:
    facility = await make_facility(client)
    url = path.format(info=f"{facility}-01")
    logged = len(hub.log.read_text())
    json_type = {"Content-Type": "application/json", **staff_headers(facility)}
    for body in (NESTED, b'{"name":' + NESTED + b"}", b'{"user":"a","x":' + NESTED + b"}"):
        r = await client.post(url, content=body, headers=json_type)
        assert r.status_code == 400, r.text
        assert r.json()["error"]["code"] == "json_too_deep"
    assert "Traceback" not in hub.log.read_text()[logged:]
    assert (await client.get("/healthz")).status_code == 200


async def test_a_deeply_nested_websocket_frame_closes_with_4400(hub: HubProcess) -> None:
    url = hub.base_url.replace("http", "ws") + "/v1/ws"
    logged = len(hub.log.read_text())
    async with websockets.connect(url) as ws:
        await ws.send('{"op":"sub","ch":' + "[" * 2500 + "]" * 2500 + "}")
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4400
    async with websockets.connect(url) as ws:  # the hub still serves
        await ws.send('{"op":"ping"}')
        assert await asyncio.wait_for(ws.recv(), 5)
    assert "Traceback" not in hub.log.read_text()[logged:]
