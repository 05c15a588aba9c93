"""CORS for the public, read-only routes only: what the partner widget needs on other sites.

``GET``/``HEAD`` of a queue's public view, its SSE stream, a facility's public record, the
widget and ``/static`` get ``Access-Control-Allow-Origin: *`` (no credentials) with ``ETag``
exposed; their preflight ``OPTIONS`` is answered here. Every other route (staff, operator,
tickets) gets no CORS header at all, so a browser on another origin cannot call it. The
WebSocket needs no CORS (tokens, not cookies, authorise it). A pure ASGI middleware, so SSE
streams pass through untouched.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
