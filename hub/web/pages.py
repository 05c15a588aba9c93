"""The pages the hub serves itself: patient, monitor, console, print, kiosk, the entrance
poster, the tickets' short links (``/t/…``) and the partner widget.

Their source lives in ``clients/js/`` (plain HTML, CSS and ES modules: no build step). Pages are
static shells that fetch and subscribe through the public API and the live channels; the server
only fills in the language and the path's identifiers (``{{lang}}``, ``{{info}}``, … in the
HTML, HTML-escaped). To add a page: put ``name.html`` in ``clients/js/pages/`` and a route whose
endpoint validates its path and returns ``serve_page(request, "name", key=value, …)``.

Installed from a wheel, the same files are package data in ``hub/clients/`` (pyproject.toml
maps ``clients/js`` there); from a checkout or an editable install they are read in place.
``/static`` serves only what a browser loads (``SERVED``): never the client's tests, its
``package.json`` or type declarations.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Awaitable, Callable
from functools import cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import PathLike, StaticFiles
from starlette.types import Scope

from hub.errors import NotFound, RateLimited
from hub.queue.model import FACILITY_RE, split_info
from hub.web.routing import client_ip, services_of


def clients_dir() -> Path:
    """``hub/clients/`` of an installed wheel, else the checkout's ``clients/js/``."""
    hub_dir = Path(__file__).resolve().parents[1]
    installed = hub_dir / "clients"
    return installed if installed.is_dir() else hub_dir.parent / "clients" / "js"


CLIENTS_DIR = clients_dir()
PAGES_DIR = CLIENTS_DIR / "pages"
# what /static serves, relative to CLIENTS_DIR: the client, the widget and the pages' files
# (their HTML is served by the routes below, filled in)
SERVED = re.compile(r"\A(?:junban\.js|widget\.js|pages/[A-Za-z0-9_.-]+(?<!\.html))\Z")
LANGS = ("ja", "en")
TICKET_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}\Z")
_PLACEHOLDER = re.compile(r"{{(\w+)}}")


def page_lang(request: Request) -> str:
    """``?lang=``, then the ``junban_lang`` cookie, then Accept-Language; Japanese by default."""
    for choice in (request.query_params.get("lang"), request.cookies.get("junban_lang")):
        if choice in LANGS:
            return choice
    return accept_language(request.headers.get("accept-language", ""))


def accept_language(header: str) -> str:
    """The first of ja/en by the header's q-values (``en-US,en;q=0.9,ja;q=0.8`` -> en)."""
    best, best_q = "ja", 0.0
    for position, item in enumerate(header.split(",")[:20]):
        tag, _, params = item.strip().partition(";")
        base = tag.strip().lower().split("-")[0]
        if base not in LANGS:
            continue
        try:
            q = float(params.strip().removeprefix("q=")) if params.strip().startswith("q=") else 1.0
        except ValueError:
            continue
        q -= position * 1e-6  # equal q: the earlier one wins
        if q > best_q:
            best, best_q = base, q
    return best


_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_PORT = re.compile(rf"(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9A-Fa-f:.]{{2,45}}\])(?::[0-9]{{1,5}})?")
"""A Host header fit to be a CSP source: a DNS name, IPv4 or [IPv6] address, and a port."""


def security_headers(request: Request) -> dict[str, str]:
    """A light CSP: only this hub's scripts, styles, images and connections (WebSocket too).

    The WebSocket sources name the request's Host only when it is a plain ``host[:port]``
    (``_HOST_PORT``); any other Host (spaces, ``;``, quotes: an attempt to add directives)
    is left out of the policy, which then allows ``'self'`` only."""
    host = request.headers.get("host", "")
    fits = len(host) <= 260 and _HOST_PORT.fullmatch(host) is not None
    ws = f"ws://{host} wss://{host}" if fits else ""
    csp = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        f"connect-src 'self' {ws}; base-uri 'none'; form-action 'self'; object-src 'none'; "
        "frame-ancestors 'self'"
    )
    return {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
        "Vary": "Accept-Language, Cookie",
    }


@cache
def _template(name: str) -> str:
    return (PAGES_DIR / f"{name}.html").read_text(encoding="utf-8")


def render(name: str, values: dict[str, str]) -> str:
    """The page ``name`` with ``{{key}}`` replaced by the HTML-escaped ``values[key]``."""
    return _PLACEHOLDER.sub(
        lambda m: html.escape(values.get(m.group(1), ""), quote=True), _template(name)
    )


def serve_page(request: Request, name: str, status: int = 200, **values: str) -> Response:
    """Serve ``clients/js/pages/{name}.html`` in the request's language."""
    lang = page_lang(request)
    body = render(name, {"lang": lang, **values})
    return HTMLResponse(body, status_code=status, headers=security_headers(request))


def not_found(request: Request, what: str) -> Response:
    """A readable 404 page (not JSON: a person is looking at it)."""
    return serve_page(request, "notfound", status=404, what=what)


async def _queue_exists(request: Request, info: str) -> bool:
    return await services_of(request).queues.exists(info)


def _service_hours(request: Request) -> str:
    start, end = services_of(request).settings.service_hours
    return f"{start}-{end}"


async def patient_page(request: Request) -> Response:
    """``/q/{info}`` and ``/q/{info}/t/{ticket_id}``: take a ticket, then follow it live."""
    info = request.path_params["info"]
    ticket_id = request.path_params.get("ticket_id", "")
    parts = split_info(info)
    if parts is None or (ticket_id and not TICKET_ID_RE.match(ticket_id)):
        return not_found(request, request.url.path)
    if not await _queue_exists(request, info):
        return not_found(request, info)
    return serve_page(
        request,
        "patient",
        info=info,
        facility=parts[0],
        counter=parts[1],
        ticket=ticket_id,
        service_hours=_service_hours(request),
    )


async def print_page(request: Request) -> Response:
    """``/print/{info}/{ticket_id}``: a paper ticket for 58/80 mm receipt printers."""
    info = request.path_params["info"]
    ticket_id = request.path_params["ticket_id"]
    parts = split_info(info)
    if parts is None or not TICKET_ID_RE.match(ticket_id):
        return not_found(request, request.url.path)
    if not await _queue_exists(request, info):
        return not_found(request, info)
    return serve_page(request, "print", info=info, facility=parts[0], ticket=ticket_id)


@cache
def _widget_source() -> bytes:
    return (CLIENTS_DIR / "widget.js").read_bytes()


async def widget_js(request: Request) -> Response:
    """The partner embed, a classic dependency-free script any site may load."""
    return Response(
        _widget_source(),
        media_type="text/javascript; charset=utf-8",
        headers={
            "Cache-Control": "public, max-age=300",
            "Access-Control-Allow-Origin": "*",
            "Cross-Origin-Resource-Policy": "cross-origin",
            "X-Content-Type-Options": "nosniff",
        },
    )


@cache
def _patient_sw_source() -> bytes:
    return (PAGES_DIR / "patient.sw.js").read_bytes()


async def patient_sw(request: Request) -> Response:
    """``/q-sw.js``: the patient page's service worker (Web Push), registered with the scope
    ``/q/`` (a script at the root may take any scope below it)."""
    return Response(
        _patient_sw_source(),
        media_type="text/javascript; charset=utf-8",
        headers={
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
            "Service-Worker-Allowed": "/q/",
        },
    )


class RevalidatedStaticFiles(StaticFiles):
    """``/static``: only the paths ``SERVED`` allows (anything else is 404), with
    ``Cache-Control: no-cache``, so a browser revalidates (ETag or Last-Modified, answered
    304 when unchanged) and never runs yesterday's JS with today's pages and hub after an
    update."""

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        if not SERVED.match(path.replace(os.sep, "/")):
            return "", None
        return super().lookup_path(path)

    def file_response(
        self,
        full_path: PathLike,
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = "no-cache"
        return response


async def short_link(request: Request) -> Response:
    """``/t/{facility}/{code}``: a ticket's short link (``hub.shortlinks``) redirects to its
    live page, the token in the fragment; unknown or expired: the 404 page, not JSON."""
    facility, code = request.path_params["facility"], request.path_params["code"]
    if not FACILITY_RE.match(facility):
        return not_found(request, request.url.path)
    try:
        target = await services_of(request).shortlinks.open(facility, code, client_ip(request))
    except NotFound:
        return serve_page(request, "linkgone", status=404, what=request.url.path)
    except RateLimited as exc:
        retry = str(max(1, round(exc.retry_after)))
        return HTMLResponse(_BUSY, 429, {**security_headers(request), "Retry-After": retry})
    headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    return RedirectResponse(target, status_code=303, headers=headers)


_BUSY = (
    '<!doctype html><meta charset="utf-8"><title>しばらくお待ちください · Please wait</title>'
    "<p lang=ja>アクセスが集中しています。少し待ってからもう一度読み取ってください。</p>"
    "<p lang=en>Too many requests: please wait a moment and scan again.</p>"
)


async def page_not_found(request: Request) -> Response:
    return not_found(request, request.url.path)


def facility_page(name: str) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint serving page ``name`` for ``/{…}/{facility}`` (monitor, console)."""

    async def endpoint(request: Request) -> Response:
        facility = request.path_params["facility"]
        if not FACILITY_RE.match(facility):
            return not_found(request, request.url.path)
        return serve_page(request, name, facility=facility, service_hours=_service_hours(request))

    return endpoint


ROUTES: list[BaseRoute] = [
    Route("/q/{info}", patient_page, methods=["GET"]),
    Route("/q/{info}/t/{ticket_id}", patient_page, methods=["GET"]),
    Route("/q/{rest:path}", page_not_found, methods=["GET"]),
    Route("/q-sw.js", patient_sw, methods=["GET"]),
    Route("/print/{info}/{ticket_id}", print_page, methods=["GET"]),
    Route("/print/{rest:path}", page_not_found, methods=["GET"]),
    Route("/widget.js", widget_js, methods=["GET"]),
    Route("/monitor/{facility}", facility_page("monitor"), methods=["GET"]),
    Route("/console/{facility}", facility_page("console"), methods=["GET"]),
    Route("/console/{facility}/settings", facility_page("settings"), methods=["GET"]),
    Route("/console/{facility}/staff", facility_page("staff"), methods=["GET"]),
    Route("/console/{facility}/integrations", facility_page("integrations"), methods=["GET"]),
    Route("/console/{facility}/calls", facility_page("calls"), methods=["GET"]),
    Route("/console/{facility}/analytics", facility_page("analytics"), methods=["GET"]),
    Route("/console/{facility}/bookings", facility_page("bookings"), methods=["GET"]),
    Route("/kiosk/{facility}", facility_page("kiosk"), methods=["GET"]),
    Route("/poster/{facility}", facility_page("poster"), methods=["GET"]),
    Route("/t/{facility}/{code}", short_link, methods=["GET"]),
    Route("/t/{rest:path}", page_not_found, methods=["GET"]),
    Mount("/static", app=RevalidatedStaticFiles(directory=CLIENTS_DIR), name="static"),
]
