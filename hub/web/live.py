"""Server-Sent Events for clients that cannot hold a WebSocket (API.md "SSE").

A stream is admitted like a WebSocket (``hub/channels/admission.py``): counted per client
address (``JUNBAN_SSE_MAX_PER_IP``) and per token (``JUNBAN_SSE_MAX_PER_TOKEN``, a token sent
as ``Authorization: Bearer``); one over a cap is answered 429 ``too_many_connections`` with
Retry-After, before any Redis call. The count is given back when the stream ends, however it
ends: the client gone, the channel gone, the hub shutting down, an error.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from hub.auth import Principal
from hub.channels.admission import Refusal
from hub.channels.names import Channel
from hub.channels.protocol import Publication
from hub.errors import JunbanError, NotFound, Unavailable
from hub.web.httpprotocol import ENDLESS
from hub.web.routing import ApiRoute, client_ip, info_of, json_response, principal_of, services_of

KEEPALIVE_S = 20.0
REFUSED_RETRY_S = 10
"""Retry-After of a stream refused over a cap (a place frees when someone leaves)."""


class SseSubscriber:
    """Holds only the newest state not yet streamed (conflation), and wakes the stream."""

    def __init__(self, last: tuple[str | None, int] | None) -> None:
        self.held: tuple[str | None, int] | None = last
        """(epoch, v) of the newest state streamed or waiting; the epoch is unknown at first
        when Last-Event-ID is an old plain ``v``."""
        self.latest: Publication | None = None
        self.changed = asyncio.Event()
        self.gone = False

    def deliver(self, channel: Channel, pub: Publication) -> None:
        held = self.held
        if held is not None and (held[0] is None or held[0] == pub.epoch) and pub.v <= held[1]:
            return
        self.held = pub.version
        self.latest = pub
        self.changed.set()

    def channel_gone(self, channel: Channel, code: str, message: str) -> None:
        self.end()

    def end(self) -> None:
        """End the stream (the channel is gone, or the hub shuts down)."""
        self.gone = True
        self.changed.set()

    async def next(self, timeout: float) -> Publication | None:
        try:
            await asyncio.wait_for(self.changed.wait(), timeout)
        except TimeoutError:
            return None
        self.changed.clear()
        pub, self.latest = self.latest, None
        return pub


def _last_event_id(request: Request) -> tuple[str | None, int] | None:
    """A plain ``v`` (the id this hub writes, API.md) or ``epoch.v`` (a client that knows the
    epoch): a different epoch always gets the state, a plain ``v`` is compared in any epoch."""
    epoch, dot, value = request.headers.get("last-event-id", "").rpartition(".")
    if dot and not (0 < len(epoch) <= 64 and epoch.isascii() and epoch.isalnum()):
        return None
    v = int(value) if value.isascii() and value.isdigit() and len(value) < 19 else None
    return None if v is None else (epoch or None, v)


class LiveStream(StreamingResponse):
    """A streaming response that calls ``on_close`` exactly once when it ends, however it
    ends. (An async generator's own ``finally`` does not run when the response is cancelled
    before the generator's first step, e.g. a client that leaves at once.)"""

    def __init__(
        self,
        content: AsyncIterator[bytes],
        on_close: Callable[[], None],
        headers: dict[str, str],
        end: Callable[[], None],
    ) -> None:
        super().__init__(content, media_type="text/event-stream", headers=headers)
        self.on_close = on_close
        self.end = end

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[ENDLESS] = self.end  # called when the hub shuts down
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.on_close()


def _token_of(request: Request) -> Principal | None:
    """The bearer token's principal; None without one, and for a bad or revoked one (the
    route is public: such a stream is served, and counted as anonymous)."""
    try:
        return principal_of(request)
    except JunbanError:
        return None


async def queue_events(request: Request) -> Response:
    info, facility, _ = info_of(request)
    services = services_of(request)
    live = services.live
    if live is None:
        raise Unavailable("live channels are not running", code="unavailable")
    caps = live.sse_caps
    seat = caps.take(client_ip(request), _token_of(request))
    if isinstance(seat, Refusal):
        error = {"code": "too_many_connections", "message": seat.message}
        retry = {"Retry-After": str(REFUSED_RETRY_S)}
        return json_response({"error": error}, status=429, headers=retry)
    try:
        if not await services.queues.exists(info):
            raise NotFound("no such queue", code="unknown_queue")
    except BaseException:
        caps.release(seat)
        raise
    channel = Channel(f"queue:{info}", "queue", facility, info)
    subscriber = SseSubscriber(_last_event_id(request))
    live.channels.subscribe(subscriber, channel)

    def closed() -> None:
        live.channels.unsubscribe(subscriber, channel)
        caps.release(seat)

    async def stream() -> AsyncIterator[bytes]:
        yield b"retry: 2000\n\n"
        while True:
            pub = await subscriber.next(KEEPALIVE_S)
            if subscriber.gone:
                return
            yield pub.sse_event() if pub is not None else b": keepalive\n\n"

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return LiveStream(stream(), closed, headers, end=subscriber.end)


ROUTES = [
    ApiRoute(
        "/v1/queues/{info}/events",
        "GET",
        queue_events,
        "Server-Sent Events: `event: state`, `id: v`, the public view; honours Last-Event-ID",
        access="public",
        responses={
            200: "text/event-stream",
            400: "malformed information number",
            404: "unknown_queue",
            429: "too_many_connections (Retry-After)",
        },
    ),
]
