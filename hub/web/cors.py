"""CORS for the public, read-only routes only: what the partner widget needs on other sites.

``GET``/``HEAD`` of a queue's public view, its SSE stream, a facility's public record, the
widget and ``/static`` get ``Access-Control-Allow-Origin: *`` (no credentials) with ``ETag``
exposed; their preflight ``OPTIONS`` is answered here. Every other route (staff, operator,
tickets) gets no CORS header at all, so a browser on another origin cannot call it. The
WebSocket needs no CORS (tokens, not cookies, authorise it). A pure ASGI middleware, so SSE
streams pass through untouched.

The API option (Table 1) gates all of it: a facility without it serves its wait state (the
queue views, their SSE streams, the facility record) only to the hub's own pages and to
servers. A request from another origin, or with a partner token, is answered 403
``option_not_contracted`` (with the CORS header, so the partner's page can read that error,
and only that); the facility record is this process's cached one (``FacilityStore.cached``:
no Redis call on the hot path). A preflight reveals nothing and is answered as usual.
"""

from __future__ import annotations

import re

import orjson
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.contracts.gates import check_api_option
from hub.errors import JunbanError
from hub.web.routing import own_origins, services_of

PUBLIC_GET = re.compile(
    r"^(/v1/queues/[^/]+(/events)?|/v1/facilities/[^/]+|/widget\.js|/static/.+)\Z"
)
ALLOW = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-expose-headers", b"ETag"),
    (b"vary", b"Origin"),
]
PREFLIGHT = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-allow-methods", b"GET, HEAD"),
    (b"access-control-allow-headers", b"If-None-Match, Last-Event-ID, Cache-Control"),
    (b"access-control-max-age", b"86400"),
    (b"content-length", b"0"),
]


FACILITY_READ = re.compile(
    r"^/v1/(?:queues/([0-9]{1,8})-[0-9]{2}(?:/events)?|facilities/([0-9]{1,8}))\Z"
)
"""The public reads of one facility's wait state (group 1 or 2: the facility number)."""


async def _refusal(scope: Scope) -> bytes | None:
    """The JSON error body when the API option refuses this read, else None."""
    match = FACILITY_READ.match(scope["path"])
    if match is None:
        return None
    request = Request(scope)
    origin = request.headers.get("origin")
    partner = _is_partner(request)
    if origin is None and not partner:
        return None  # a server, or the hub's own page (same-origin GETs send no Origin)
    services = services_of(request)
    record = await services.facility_store.cached(match.group(1) or match.group(2))
    if record is None:
        return None  # the route answers unknown_facility / unknown_queue
    try:
        check_api_option(record, origin, own_origins(request), partner)
    except JunbanError as exc:
        return orjson.dumps({"error": {"code": exc.code, "message": exc.message}})
    return None


def _is_partner(request: Request) -> bool:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return False
    try:
        return services_of(request).tokens.verify(token.strip()).role == "partner"
    except JunbanError:
        return False


def is_public(path: str) -> bool:
    return PUBLIC_GET.match(path) is not None


class PublicCORS:
    """Adds CORS headers to the public GET routes (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_public(scope["path"]):
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        refused = await _refusal(scope) if method in ("GET", "HEAD") else None
        if refused is not None:  # readable by the partner's page: the error, not the state
            headers = [(b"content-type", b"application/json"), *ALLOW]
            await send({"type": "http.response.start", "status": 403, "headers": headers})
            body = b"" if method == "HEAD" else refused
            await send({"type": "http.response.body", "body": body})
            return
        if method == "OPTIONS":
            await send({"type": "http.response.start", "status": 204, "headers": PREFLIGHT})
            await send({"type": "http.response.body", "body": b""})
            return
        if method not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in ALLOW if k not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_cors)
