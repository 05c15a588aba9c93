"""The partner widget /widget.js on a page of another origin, and the CORS it relies on."""

from __future__ import annotations

import gzip
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.conftest import HubProcess, free_port, make_facility, staff_headers
from tests.pages.conftest import screenshot

WIDGET_GZIP_BUDGET = 4096

PARTNER_PAGE = """<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><title>Partner clinic homepage</title>
<style>
  * {{ color: rgb(255, 0, 0) !important; font-family: serif !important; }}
  h2, dd {{ font-size: 60px; text-transform: uppercase; }}
  section {{ display: none; }}
</style></head>
<body>
  <h1>Welcome to our clinic</h1>
  <p class="m" id="outer-m">Our own paragraph with a class the widget also uses.</p>
  <dl><dt>outer</dt><dd id="outer-dd">outer dd</dd></dl>
  <script src="{hub}/widget.js" data-info="{info}" async></script>
</body></html>
"""


class PartnerSite:
    """A tiny web server on another port (another origin) serving one HTML page."""

    def __init__(self, html: str) -> None:
        body = html.encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> PartnerSite:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def partner_site(hub: HubProcess, request: pytest.FixtureRequest) -> Iterator[PartnerSite]:
    info = request.getfixturevalue("widget_info")
    with PartnerSite(PARTNER_PAGE.format(hub=hub.base_url, info=info)) as site:
        yield site


@pytest.fixture
async def widget_info(client: httpx.AsyncClient) -> str:
    facility = await make_facility(client)
    info = f"{facility}-01"
    r = await client.put(
        f"/v1/facilities/{facility}/message",
        json={"text": "本日は午後休診です"},
        headers=staff_headers(facility),
    )
    assert r.status_code == 200, r.text
    for _ in range(2):
        assert (await client.post(f"/v1/queues/{info}/tickets")).status_code == 201
    return info


async def test_widget_on_another_origin_shows_live_wait_state(
    page: Page,
    hub: HubProcess,
    client: httpx.AsyncClient,
    widget_info: str,
    partner_site: PartnerSite,
) -> None:
    """Waiting count, message, address and hours; a new ticket and a call show up live."""
    info = widget_info
    facility = info.split("-")[0]
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    await page.goto(partner_site.url)
    assert await page.evaluate("location.origin") != hub.base_url
    widget = page.locator(f"[data-junban-widget='{info}']")
    stats = widget.locator("dd")
    await expect(widget.locator("h2")).to_have_text(f"Clinic {facility}")
    await expect(stats.nth(0)).to_have_text("2人")
    await expect(widget.locator(".m")).to_have_text("本日は午後休診です")
    await expect(widget).to_contain_text("1-1 Test-cho")
    await expect(widget).to_contain_text("9-18")
    await expect(widget.locator("a")).to_have_attribute("href", f"{hub.base_url}/q/{info}?lang=ja")

    assert (await client.post(f"/v1/queues/{info}/tickets")).status_code == 201
    await expect(stats.nth(0)).to_have_text("3人")
    r = await client.post(
        f"/v1/queues/{info}/call-next", json={"room": "1"}, headers=staff_headers(facility)
    )
    assert r.status_code == 200
    await expect(stats.nth(1)).to_have_text("1")
    await expect(stats.nth(0)).to_have_text("2人")
    await screenshot(page, "widget")

    # no CSS leaks either way: the page's rules stop at the shadow root, the widget's stay in
    inner_color = await stats.nth(0).evaluate("e => getComputedStyle(e).color")
    assert inner_color == "rgb(27, 36, 33)"
    assert await widget.locator("section").evaluate("e => getComputedStyle(e).display") == "block"
    outer = page.locator("#outer-m")
    assert await outer.evaluate("e => getComputedStyle(e).borderLeftWidth") == "0px"
    assert await page.locator("#outer-dd").evaluate("e => getComputedStyle(e).fontWeight") == "400"
    assert errors == []  # no CORS or CSP refusal


async def test_widget_in_english_and_into_a_target(
    page: Page, hub: HubProcess, widget_info: str
) -> None:
    html = (
        '<!doctype html><html lang="en"><body><div id="here"></div>'
        f'<script src="{hub.base_url}/widget.js" data-info="{widget_info}" data-target="here" '
        "async></script></body></html>"
    )
    with PartnerSite(html) as site:
        await page.goto(site.url)
        widget = page.locator(f"#here > [data-junban-widget='{widget_info}']")
        await expect(widget.locator("dt").nth(0)).to_have_text("Waiting")
        await expect(widget.locator("dd").nth(0)).to_have_text("2")
        await expect(widget.locator(".p")).to_have_text("Open")


async def test_widget_is_tiny_and_loadable_from_anywhere(client: httpx.AsyncClient) -> None:
    r = await client.get("/widget.js", headers={"Origin": "https://partner.example"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    assert r.headers["access-control-allow-origin"] == "*"
    size = len(gzip.compress(r.content, compresslevel=9))
    print(f"widget.js: {len(r.content)} bytes, {size} bytes gzipped")
    assert size < WIDGET_GZIP_BUDGET
    assert not re.search(r"\bimport\s*[({\"']|^import\s", r.text, re.M)  # no dependencies


async def test_cors_only_on_public_reads(client: httpx.AsyncClient, facility: str) -> None:
    """Public GETs say ACAO * and expose ETag; staff, ticket and write routes say nothing."""
    origin = {"Origin": "https://partner.example"}
    info = f"{facility}-01"
    for path in (f"/v1/queues/{info}", f"/v1/facilities/{facility}", "/static/junban.js"):
        r = await client.get(path, headers=origin)
        assert r.status_code == 200, path
        assert r.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in r.headers
    view = await client.get(f"/v1/queues/{info}", headers=origin)
    assert "ETag" in view.headers["access-control-expose-headers"]
    preflight = await client.options(
        f"/v1/queues/{info}/events",
        headers={**origin, "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"

    staff = await client.get(
        f"/v1/queues/{info}/staff", headers={**origin, **staff_headers(facility)}
    )
    assert staff.status_code == 200
    assert "access-control-allow-origin" not in staff.headers
    taken = await client.post(f"/v1/queues/{info}/tickets", headers=origin)
    assert taken.status_code == 403 and taken.json()["error"]["code"] == "cross_origin"
    assert "access-control-allow-origin" not in taken.headers
    staff_preflight = await client.options(
        f"/v1/queues/{info}/call-next",
        headers={**origin, "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in staff_preflight.headers
