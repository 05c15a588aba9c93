"""Server-Sent Events for clients that cannot hold a WebSocket (API.md "SSE")."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from hub.channels.names import Channel
from hub.channels.protocol import Publication
from hub.errors import NotFound, Unavailable
from hub.web.routing import ApiRoute, info_of, services_of

KEEPALIVE_S = 20.0


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


async def queue_events(request: Request) -> Response:
    info, facility, _ = info_of(request)
    services = services_of(request)
    if not await services.queues.exists(info):
        raise NotFound("no such queue", code="unknown_queue")
    live = services.live
    if live is None:
        raise Unavailable("live channels are not running", code="unavailable")
    channel = Channel(f"queue:{info}", "queue", facility, info)
    subscriber = SseSubscriber(_last_event_id(request))
    live.channels.subscribe(subscriber, channel)

    async def stream() -> AsyncIterator[bytes]:
        try:
            yield b"retry: 2000\n\n"
            while True:
                pub = await subscriber.next(KEEPALIVE_S)
                if subscriber.gone:
                    return
                yield pub.sse_event() if pub is not None else b": keepalive\n\n"
        finally:
            live.channels.unsubscribe(subscriber, channel)

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


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
        },
    ),
]
