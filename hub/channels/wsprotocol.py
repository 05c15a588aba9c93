"""uvicorn's sans-I/O WebSocket protocol, with ``/v1/ws`` served natively.

Other WebSocket paths go to the ASGI app as usual. For ``/v1/ws`` the protocol object
itself runs a ``Connection``: no ASGI task, no per-message ``await send`` and no encode per
subscriber. The hub writes one prebuilt frame straight to each transport, and the
transport's pause/resume (its write buffer) drives the connection's conflation. Keepalive
pings, the 1009 limit on inbound frames and the 1012 close on shutdown are uvicorn's.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs, urlsplit

from uvicorn.middleware.proxy_headers import _TrustedHosts
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame
from websockets.http11 import Request
from websockets.protocol import State

from hub.channels import protocol
from hub.channels.connection import Connection
from hub.channels.runtime import LiveRuntime

WS_PATH = "/v1/ws"
log = logging.getLogger("junban.ws")
_quiet = logging.getLogger("junban.ws.protocol")
_quiet.setLevel(logging.WARNING)

_runtime: LiveRuntime | None = None
_trusted: _TrustedHosts | None = None


def install(runtime: LiveRuntime | None) -> None:
    """Make ``runtime`` serve ``/v1/ws`` in this process (None: stop serving it)."""
    global _runtime, _trusted
    _runtime = runtime
    _trusted = _TrustedHosts(runtime.settings.trusted_proxies) if runtime else None


def _client_ip(peer: str, headers: Any) -> str:
    if _trusted is None or peer not in _trusted:
        return peer
    forwarded = ", ".join(headers.get_all("X-Forwarded-For"))
    try:
        return _trusted.get_trusted_client_address(forwarded)[0] if forwarded else peer
    except (ValueError, IndexError):
        return peer


def _foreign(headers: Any, public_url: str | None) -> bool:
    """Opened by another site's page: its ``Origin`` names neither the host it connected to
    nor ``JUNBAN_PUBLIC_URL``'s (apps and servers send no Origin)."""
    origin = headers.get("Origin")
    if origin is None:
        return False
    own = {str(headers.get("Host", "")).lower(), urlsplit(public_url or "").netloc.lower()} - {""}
    return urlsplit(origin).netloc.lower() not in own


class _Discard:
    """Stands in for the ASGI receive queue, which a native session never reads."""

    def put_nowait(self, item: object) -> None:
        pass


_DISCARD = _Discard()


class HubWebSocketProtocol(WebSocketsSansIOProtocol):
    """See the module docstring. Select it with uvicorn's ``ws=`` setting."""

    session: Connection | None = None

    def handle_connect(self, event: Request) -> None:
        path, _, query = event.path.partition("?")
        runtime = _runtime
        if path != WS_PATH or runtime is None:
            super().handle_connect(event)
            return
        self.conn.select_subprotocol = protocol.choose_subprotocol  # type: ignore[assignment]
        self.conn.logger = _quiet  # no INFO line per connection at 100k connections
        self.request = event
        self.response = self.conn.accept(event)
        self.handshake_initiated = self.handshake_complete = True
        self.conn.send_response(self.response)
        self.transport.write(b"".join(self.conn.data_to_send()))
        if self.response.status_code != 101:
            self.close_sent = True
            self.transport.close()
            return
        self.start_keepalive()
        codec = self.response.headers.get("Sec-WebSocket-Protocol") or protocol.JSON
        headers = event.headers
        # memory per idle connection: the handshake objects and the ASGI queue are not
        # needed by a native session
        self.request = self.response = None  # type: ignore[assignment]
        self.queue = _DISCARD  # type: ignore[assignment]
        peer = self.client[0] if self.client else "unknown"
        foreign = _foreign(headers, runtime.settings.public_url)
        self.session = Connection(runtime, self, codec, _client_ip(peer, headers), foreign)
        token = parse_qs(query).get("token")
        self.session.open(token[0] if token else None)

    def send_receive_event_to_app(self) -> None:
        session = self.session
        if session is None:
            super().send_receive_event_to_app()
            return
        data = self.frames[0] if len(self.frames) == 1 else b"".join(self.frames)
        self.frames = []
        if not self.close_sent:
            session.on_frame(data, text=self.curr_msg_data_type == "text")

    def handle_close(self, event: Frame) -> None:
        super().handle_close(event)
        if self.session is not None:
            self.session.gone()
            # the closing handshake may wait on a full buffer the peer never reads
            self.close_timer = self.loop.call_later(self.close_timeout, self.transport.abort)

    def shutdown(self) -> None:
        if self.session is not None and self.conn.state is not State.OPEN:
            self.stop_keepalive()
            self.transport.abort()
            return
        super().shutdown()

    def handle_parser_exception(self) -> None:
        super().handle_parser_exception()
        if self.session is not None:
            self.session.gone()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self.session is not None:
            self.session.gone()

    def pause_writing(self) -> None:
        super().pause_writing()
        if self.session is not None:
            self.session.pause()

    def resume_writing(self) -> None:
        super().resume_writing()
        if self.session is not None:
            self.session.resume()

    # ---- Sink -----------------------------------------------------------------------------

    def write_frame(self, data: bytes) -> None:
        if not self.close_sent and not self.disconnected:
            self.transport.write(data)

    def close_with(self, code: int, reason: str) -> None:
        if self.close_sent or self.disconnected:
            return
        if self.conn.state is not State.OPEN:  # the peer is closing already
            self.transport.abort()
            return
        self.conn.send_close(code, reason)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        self.stop_keepalive()
        # a peer that never reads would keep a graceful close pending forever: abort then
        self.close_timer = self.loop.call_later(self.close_timeout, self.transport.abort)
