"""The JS client (clients/js/junban.js) in real headless Chromium against a real hub.

Each test opens a hub URL (so the page has the hub's origin), imports /static/junban.js,
subscribes and then changes the queue through the HTTP API, watching the states arrive by
the WebSocket, by SSE, by polling, and by the fallback the client picks on its own when the
WebSocket is blocked.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from playwright.async_api import Page, Response, WebSocketRoute

from tests.conftest import HubProcess, staff_headers, start_hub
from tests.pages.conftest import screenshot

SETUP = """
async ({ch, options}) => {
  const { JunbanClient, backoffDelay } = await import("/static/junban.js");
  if ("Junban" in globalThis) throw new Error("importing junban.js set a global");
  if (typeof backoffDelay !== "function") throw new Error("no backoffDelay");
  window.states = [];
  window.statuses = [];
  window.errors = [];
  const client = new JunbanClient({ base: location.origin, ...options });
  client.onStatus((s) => window.statuses.push(s));
  client.onError((e) => window.errors.push(e));
  client.subscribe(ch, (data, meta) => window.states.push({ data, meta }));
  window.client = client;
}
"""

LATEST = "() => window.states.length ? window.states[window.states.length - 1] : null"


async def open_client(page: Page, hub: HubProcess, ch: str, **options: Any) -> None:
    await page.goto(hub.base_url + "/healthz")
    await page.evaluate(SETUP, {"ch": ch, "options": options})


async def wait_for_waiting(page: Page, count: int, transport: str) -> dict[str, Any]:
    """Wait until a state with `waiting_count == count` came by `transport`; return it."""
    await page.wait_for_function(
        """([count, transport]) => window.states.some(
             (s) => s.data.waiting_count === count && s.meta.transport === transport)""",
        arg=[count, transport],
        timeout=15_000,
    )
    state: dict[str, Any] = await page.evaluate(LATEST)
    return state


async def take_ticket(client: httpx.AsyncClient, info: str) -> None:
    r = await client.post(f"/v1/queues/{info}/tickets")
    assert r.status_code == 201, r.text


async def assert_ordered(page: Page) -> None:
    """No state delivered is older than the one before it (same epoch here: v grows)."""
    versions: list[int] = await page.evaluate("() => window.states.map((s) => s.meta.v)")
    assert versions == sorted(set(versions)), versions


async def test_websocket_delivers_states(
    page: Page, hub: HubProcess, client: httpx.AsyncClient, facility: str
) -> None:
    info = f"{facility}-01"
    await open_client(page, hub, f"queue:{info}")
    first = await wait_for_waiting(page, 0, "ws")
    assert first["meta"]["ch"] == f"queue:{info}"
    assert first["meta"]["epoch"] == first["data"]["epoch"]
    await take_ticket(client, info)
    state = await wait_for_waiting(page, 1, "ws")
    assert state["meta"]["v"] > first["meta"]["v"]
    await take_ticket(client, info)
    await wait_for_waiting(page, 2, "ws")
    assert {"online": True, "transport": "ws"} in await page.evaluate("() => window.statuses")
    await assert_ordered(page)
    await screenshot(page, "js_client_ws")


async def test_forced_sse_delivers_states(
    page: Page, hub: HubProcess, client: httpx.AsyncClient, facility: str
) -> None:
    info = f"{facility}-01"
    await open_client(page, hub, f"queue:{info}", transports=["sse"])
    await wait_for_waiting(page, 0, "sse")
    await take_ticket(client, info)
    await wait_for_waiting(page, 1, "sse")
    await take_ticket(client, info)
    await wait_for_waiting(page, 2, "sse")
    transports = await page.evaluate("() => new Set(window.states.map((s) => s.meta.transport))")
    assert await page.evaluate("() => window.client.status") == {
        "online": True,
        "transport": "sse",
    }
    assert transports is not None
    await assert_ordered(page)


async def test_forced_polling_delivers_states_with_etag(
    page: Page, hub: HubProcess, client: httpx.AsyncClient, facility: str
) -> None:
    info = f"{facility}-01"
    answers: list[tuple[int, str | None, str | None]] = []  # (status, If-None-Match, ETag)

    async def on_response(response: Response) -> None:
        if response.url.endswith(f"/v1/queues/{info}"):
            sent = await response.request.all_headers()
            etag = response.headers.get("etag")
            answers.append((response.status, sent.get("if-none-match"), etag))

    page.on("response", on_response)
    await open_client(page, hub, f"queue:{info}", transports=["poll"], pollInterval=300)
    await wait_for_waiting(page, 0, "poll")
    await take_ticket(client, info)
    await wait_for_waiting(page, 1, "poll")
    delivered = await page.evaluate("() => window.states.length")

    def since_last_change() -> list[tuple[int, str | None, str | None]]:
        """The answers after the last 200 (a poll before the ticket may have been a 304)."""
        last = max(i for i, a in enumerate(answers) if a[0] == 200)
        return [a for a in answers[last + 1 :] if a[0] == 304]

    for _ in range(100):  # until two polls of the unchanged queue were answered 304 (≤ 10 s)
        if len(since_last_change()) >= 2:
            break
        await page.wait_for_timeout(100)
    not_modified = since_last_change()
    assert len(not_modified) >= 2, answers
    latest = await page.evaluate(LATEST)
    tag = f'"{latest["data"]["epoch"]}.{latest["data"]["v"]}"'
    assert all(sent == tag for _, sent, _ in not_modified), (tag, answers)  # "epoch.v" held
    assert answers[0][1] is None and answers[0][2] is not None  # first poll: unconditional
    assert await page.evaluate("() => window.states.length") == delivered  # 304s: no new state
    await assert_ordered(page)
    assert await page.evaluate("() => window.client.status") == {
        "online": True,
        "transport": "poll",
    }


async def test_polling_other_channels(
    page: Page, hub: HubProcess, client: httpx.AsyncClient, facility: str
) -> None:
    """facility: one callback per counter; ticket: with the ticket's token; staff: staff token."""
    info = f"{facility}-01"
    r = await client.post(f"/v1/queues/{info}/tickets")
    assert r.status_code == 201, r.text
    ticket = r.json()
    await page.goto(hub.base_url + "/healthz")
    staff_token = staff_headers(facility)["Authorization"].removeprefix("Bearer ")
    got = await page.evaluate(
        """async ({facility, info, ticket, staffToken}) => {
          const { JunbanClient } = await import("/static/junban.js");
          const opts = { base: location.origin, transports: ["poll"], pollInterval: 300 };
          const pub = new JunbanClient(opts);
          const mine = new JunbanClient({ ...opts, token: ticket.token });
          const staff = new JunbanClient({ ...opts, token: staffToken });
          const seen = { facility: [], ticket: [], staff: [] };
          pub.subscribe(`facility:${facility}`, (d, m) => seen.facility.push([d.info, m.v]));
          mine.subscribe(`ticket:${info}:${ticket.ticket.id}`, (d) => seen.ticket.push(d));
          staff.subscribe(`staff:${info}`, (d) => seen.staff.push(d));
          const until = Date.now() + 10000;
          while (Date.now() < until &&
                 (seen.facility.length < 2 || !seen.ticket.length || !seen.staff.length)) {
            await new Promise((r) => setTimeout(r, 100));
          }
          for (const c of [pub, mine, staff]) c.close();
          return seen;
        }""",
        {"facility": facility, "info": info, "ticket": ticket, "staffToken": staff_token},
    )
    assert sorted(i for i, _ in got["facility"])[:2] == [f"{facility}-01", f"{facility}-02"]
    assert got["ticket"][0]["ticket"]["id"] == ticket["ticket"]["id"]
    assert got["ticket"][0]["ahead"] == 0
    assert got["staff"][0]["tickets"][0]["id"] == ticket["ticket"]["id"]


async def test_falls_back_when_websocket_is_blocked_and_returns(
    page: Page, hub: HubProcess, client: httpx.AsyncClient, facility: str
) -> None:
    """Every /v1/ws handshake fails (Playwright closes it before it opens, as a blocking
    proxy would): the client ends up on SSE by itself; once the WebSocket goes through again
    a background probe moves it back to ws."""
    info = f"{facility}-01"
    blocked = True
    attempts: list[bool] = []
    at: list[float] = []

    async def handshake(ws: WebSocketRoute) -> None:
        attempts.append(blocked)
        at.append(time.monotonic())
        if blocked:
            await ws.close(code=1006)
        else:
            ws.connect_to_server()

    await page.route_web_socket("**/v1/ws*", handshake)
    await open_client(
        page,
        hub,
        f"queue:{info}",
        backoff={"base": 100, "cap": 400},
        probe={"base": 500, "cap": 1000},
    )
    await wait_for_waiting(page, 0, "sse")
    await take_ticket(client, info)
    await wait_for_waiting(page, 1, "sse")
    assert attempts[:2] == [True, True], attempts
    # no hammering: after the two failures that start the fallback, only background probes,
    # each ≥ probe.base (500 ms) after the one before (timers never fire early)
    gaps = [b - a for a, b in zip(at[1:], at[2:], strict=False)]
    assert all(gap >= 0.45 for gap in gaps), gaps
    blocked = False
    await page.wait_for_function(
        "() => window.client.status.transport === 'ws' && window.client.status.online",
        timeout=15_000,
    )
    await take_ticket(client, info)
    await wait_for_waiting(page, 2, "ws")
    await assert_ordered(page)
    statuses = await page.evaluate("() => window.statuses")
    assert {"online": True, "transport": "sse"} in statuses
    assert statuses[-1] == {"online": True, "transport": "ws"}


async def test_bad_token_is_reported_dropped_and_public_channels_go_on(
    page: Page, hub: HubProcess, client: httpx.AsyncClient, facility: str
) -> None:
    """A bad token closes the connection (4401): reported with ch null; the client drops
    the token and reconnects once without it, so a public channel keeps working; the token
    is never in a URL."""
    info = f"{facility}-01"
    opened: list[str] = []
    frames: list[str] = []

    def on_socket(ws: Any) -> None:
        opened.append(ws.url)
        ws.on("framesent", lambda payload: frames.append(str(payload)))

    page.on("websocket", on_socket)
    await open_client(page, hub, f"queue:{info}", token="not-a-jwt", transports=["ws"])
    await page.wait_for_function("() => window.errors.length > 0", timeout=10_000)
    errors = await page.evaluate("() => window.errors")
    assert errors[0] == {
        "code": "invalid_token",
        "ch": None,
        "message": "connection closed (4401: invalid_token)",
    }
    await wait_for_waiting(page, 0, "ws")  # back, without the token
    await take_ticket(client, info)
    await wait_for_waiting(page, 1, "ws")
    assert len(opened) == 2, opened
    assert all("token" not in url for url in opened), opened
    assert sum("not-a-jwt" in f for f in frames) == 1, frames  # sent once, as an auth frame
    assert '"op":"auth"' in next(f for f in frames if "not-a-jwt" in f).replace(" ", "")
    assert len(await page.evaluate("() => window.errors")) == 1


async def test_token_goes_in_an_auth_frame_not_the_url(
    page: Page, hub: HubProcess, client: httpx.AsyncClient, facility: str
) -> None:
    """A staff channel with the token given to the constructor: the socket URL carries no
    token (proxy logs keep URLs); the first frame authenticates, then the sub is accepted."""
    info = f"{facility}-01"
    urls: list[str] = []
    frames: list[str] = []

    def on_socket(ws: Any) -> None:
        urls.append(ws.url)
        ws.on("framesent", lambda payload: frames.append(str(payload)))

    page.on("websocket", on_socket)
    token = staff_headers(facility)["Authorization"].removeprefix("Bearer ")
    await open_client(page, hub, f"staff:{info}", token=token)
    state = await wait_for_waiting(page, 0, "ws")
    assert "tickets" in state["data"]
    assert urls and all("token" not in url for url in urls), urls
    assert '"op":"auth"' in frames[0].replace(" ", "") and token in frames[0], frames
    assert await page.evaluate("() => window.errors") == []


async def test_set_token_reauthenticates_a_refused_channel(
    page: Page, hub: HubProcess, client: httpx.AsyncClient, facility: str
) -> None:
    info = f"{facility}-01"
    await open_client(page, hub, f"staff:{info}")
    await page.wait_for_function("() => window.errors.length > 0", timeout=10_000)
    errors = await page.evaluate("() => window.errors")
    assert errors[0]["code"] == "unauthorized" and errors[0]["ch"] == f"staff:{info}"
    token = staff_headers(facility)["Authorization"].removeprefix("Bearer ")
    await page.evaluate("(token) => window.client.setToken(token)", token)
    await wait_for_waiting(page, 0, "ws")
    await take_ticket(client, info)
    state = await wait_for_waiting(page, 1, "ws")
    assert "tickets" in state["data"]  # the staff view, over the same socket
    assert await page.evaluate("() => window.client.status") == {"online": True, "transport": "ws"}


async def test_reconnects_and_resumes_after_a_hub_restart(
    page: Page, redis_url: str, client: httpx.AsyncClient, facility: str
) -> None:
    """SIGTERM closes the socket with 1012; the client reconnects to the new process (same
    port) with jittered backoff and resumes from its (epoch, v): no state twice, none lost."""
    info = f"{facility}-01"
    first = start_hub(redis_url)
    try:
        await open_client(page, first, f"queue:{info}")
        await wait_for_waiting(page, 0, "ws")
        first.stop()
        await page.wait_for_function("() => !window.client.status.online", timeout=10_000)
        await take_ticket(client, info)  # through the session hub, while this one is down
        second = HubProcess(first.env, first.data_dir)
        second.port, second.base_url = first.port, first.base_url
        second.start()
        try:
            await wait_for_waiting(page, 1, "ws")
            async with httpx.AsyncClient(base_url=second.base_url) as c2:
                await take_ticket(c2, info)
            await wait_for_waiting(page, 2, "ws")
        finally:
            second.stop()
    finally:
        first.stop()
    await assert_ordered(page)
    statuses = await page.evaluate("() => window.statuses")
    assert statuses.count({"online": True, "transport": "ws"}) >= 2
