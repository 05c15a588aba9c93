"""uvicorn's httptools protocol, with a size limit and a deadline on every request's head.

Every connection to the hub starts here, WebSocket handshakes included: uvicorn parses the
upgrade request's head with this protocol before it hands the socket to
``hub.channels.wsprotocol``. So the limits below hold for every route and every handshake,
and no route needs a special case.

Guarantees, per connection and per request on a keep-alive connection:

* **Size.** The bytes of a request's head (request line and headers, from its first byte
  to the blank line) are counted as they arrive. A head over ``JUNBAN_MAX_HEADER`` bytes
  is answered ``431`` with a JSON ``header_too_large`` error and the connection is closed,
  before the rest is read: the parser never holds more than the limit plus one socket read
  of an unfinished head. (A pipelined head that starts in the middle of a socket read is
  counted from its complete lines in that read, so an unfinished one is refused at the
  latest after twice the limit; a complete head is always checked exactly.)
* **Time.** A head must be complete within ``JUNBAN_HEADER_TIMEOUT`` seconds of its first
  byte, and a new connection must deliver its first head within that time of connecting.
  Otherwise the connection is closed: with a ``408`` JSON ``header_timeout`` error when part
  of a head had arrived, silently when nothing had. Idle time between requests on a
  keep-alive connection stays uvicorn's ``timeout_keep_alive``.
* **Body.** Once a head is complete, its body must arrive within the same
  ``JUNBAN_HEADER_TIMEOUT`` (bodies are at most ``JUNBAN_MAX_BODY`` bytes); otherwise the
  connection is closed. A response sent before the request's body was read in full closes
  the connection, so a client cannot keep a socket by trickling a body the hub refused.

The limits are read once per process from the ``JUNBAN_*`` environment (``install`` sets
them explicitly); ``hub.cli`` exports them for worker processes. Select the class with
uvicorn's ``http="hub.web.httpprotocol:HubHttpProtocol"``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from asyncio import TimerHandle
from collections.abc import Callable
from enum import Enum
from typing import Any, NamedTuple

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from hub.settings import Settings

log = logging.getLogger("junban.http")

ENDLESS = "junban.endless"
"""scope key of an endless response (an SSE stream): a callable that makes it end. On
shutdown it is called, so the stream ends cleanly at once (its last chunk sent, then the
connection closed) instead of holding the process for the graceful timeout and being
cancelled with a traceback."""


class HeadLimits(NamedTuple):
    """How big and how slow a request's head may be."""

    max_bytes: int
    timeout_s: float


_limits: HeadLimits | None = None
LINGER_S = 2.0
"""After a refusal, how long the input is still read (and discarded) before the close."""


def install(limits: HeadLimits | None) -> None:
    """Use ``limits`` in this process (None: read them from the environment again)."""
    global _limits
    _limits = limits


def current_limits() -> HeadLimits:
    """The limits of this process: installed, else ``Settings.from_env()``'s, read once."""
    global _limits
    if _limits is None:
        settings = Settings.from_env()
        _limits = HeadLimits(settings.header_max_bytes, settings.header_timeout_s)
    return _limits


class _Stage(Enum):
    IDLE = "idle"  # between requests (or before the first)
    HEAD = "head"  # a request has begun; its head is not complete
    BODY = "body"  # the head is complete; the body is not


class _Refused(Exception):
    """Raised from a parser callback to stop parsing a head that is too big."""


class HubHttpProtocol(HttpToolsProtocol):
    """See the module docstring. Select it with uvicorn's ``http=`` setting."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.head_limits = current_limits()
        self.stage = _Stage.IDLE
        self.head_bytes = 0
        """Bytes of the current head received so far, counted per socket read."""
        self.head_seen = 0
        """Bytes of the current head as the parser reported them (URL and headers)."""
        self.stage_at_read = _Stage.IDLE
        self.began_in_read = self.began_mid_read = self.completed_in_read = False
        self.refused = False
        self.refusal: tuple[int, str, str] | None = None
        """A refusal to send once the response under way is complete."""
        self.deadline: TimerHandle | None = None
        self.keep_alive_after_body = True
        """The request's own keep-alive, held back while its body is still arriving."""

    # ---- the connection ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self._head_expired)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def shutdown(self) -> None:
        """The server is stopping: an endless response (``ENDLESS``) is told to end now (the
        client reconnects, to another hub if there is one); every other response in flight
        is still given the graceful timeout."""
        cycle = self.cycle
        end = None if cycle is None or cycle.response_complete else cycle.scope.get(ENDLESS)
        if callable(end):
            end()
        super().shutdown()  # the response ends soon: then the connection closes

    def data_received(self, data: bytes) -> None:
        self._unset_keepalive_if_required()
        if self.refused:
            return
        if self.stage is _Stage.IDLE and self.deadline is None:
            self._arm(self._head_expired)  # even bare CRLFs between requests start the clock
        start = 0
        while start < len(data) and not self.refused:
            if self.stage is _Stage.BODY:
                piece = data[start:]
            else:  # never let the parser take more of a head than the limit allows
                allowance = max(self.head_limits.max_bytes - self.head_bytes, 1)
                piece = data[start : start + allowance]
            start += len(piece)
            if not self._feed(piece):
                return
            if self.stage is _Stage.HEAD:
                if not self.began_in_read:
                    self.head_bytes += len(piece)
                else:  # from its first byte, or (mid-read) from the lines the parser saw
                    self.head_bytes = self.head_seen if self.began_mid_read else len(piece)
                if self.head_bytes >= self.head_limits.max_bytes:
                    self._refuse_head()

    def _feed(self, piece: bytes) -> bool:
        """Give ``piece`` to the parser; False when the connection is done with HTTP/1.1."""
        self.stage_at_read = self.stage
        self.began_in_read = self.began_mid_read = self.completed_in_read = False
        try:
            self.parser.feed_data(piece)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return False
        except httptools.HttpParserError:
            if self.refused:
                return False
            msg = "Invalid HTTP request received."
            self.logger.warning(msg)
            self.send_400_response(msg)
            return False
        return True

    # ---- the parser's callbacks -------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.stage = _Stage.HEAD
        self.head_bytes = self.head_seen = 0
        self.began_in_read = True
        self.began_mid_read = self.stage_at_read is not _Stage.IDLE or self.completed_in_read
        if self.deadline is None:
            self._arm(self._head_expired)

    def on_url(self, url: bytes) -> None:
        self.head_seen += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.head_seen += len(name) + len(value) + 4  # ": " and CRLF
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        # the parser's own count catches a big head that arrived whole after a body
        if self.head_seen > self.head_limits.max_bytes:
            self._refuse_head()
            raise _Refused
        self._disarm()
        self.stage = _Stage.BODY
        self.head_bytes = 0
        previous = self.cycle
        super().on_headers_complete()
        if not self.transport.is_closing():
            self._arm(self._body_expired)
        # until the body is read in full, an answer says "connection: close" (the rest of
        # the body cannot be skipped safely, so the connection ends after the answer); a
        # client told so never sends its next request on a connection about to close
        if self.cycle is not None and self.cycle is not previous:  # not a WebSocket upgrade
            self.keep_alive_after_body = self.cycle.keep_alive
            self.cycle.keep_alive = False

    def handle_websocket_upgrade(self) -> None:
        self._disarm()  # the transport is the WebSocket protocol's from now on
        self.stage = _Stage.IDLE
        super().handle_websocket_upgrade()

    def on_message_complete(self) -> None:
        self._disarm()
        self.stage = _Stage.IDLE
        self.completed_in_read = True
        if self.cycle is not None and not self.cycle.response_started:
            self.cycle.keep_alive = self.keep_alive_after_body
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.transport.is_closing() or self.pipeline or not self.cycle.response_complete:
            return
        if self.refusal is not None:  # a later head was refused while this one was answered
            self._answer_and_close(*self.refusal)
        elif self.stage is _Stage.BODY:
            # answered before its body was read: the rest of it cannot be skipped safely
            self._disarm()
            self.transport.close()

    # ---- refusing -----------------------------------------------------------------------------

    def _refuse_head(self) -> None:
        message = f"the request line and headers are over {self.head_limits.max_bytes} bytes"
        self._refuse(431, code="header_too_large", message=message)

    def _head_expired(self) -> None:
        self.deadline = None
        if self.transport.is_closing():
            return
        if self.stage is _Stage.HEAD:
            message = f"the request head took over {self.head_limits.timeout_s:g} s"
            self._refuse(408, code="header_timeout", message=message)
        else:
            self.refused = True
            self.transport.close()

    def _body_expired(self) -> None:
        self.deadline = None
        if not self.transport.is_closing():
            self.refused = True
            self.transport.close()  # the app sees http.disconnect

    def _refuse(self, status: int, code: str, message: str) -> None:
        """Answer ``status`` with a JSON error and close; after the response under way, if
        one is (reading stops meanwhile)."""
        self._disarm()
        self.refused = True
        if self.transport.is_closing():
            return
        log.debug("%s from %s: %s", status, self.client[0] if self.client else "?", code)
        if self.cycle is None or (self.cycle.response_complete and not self.pipeline):
            self._answer_and_close(status, code, message)
        else:
            self.refusal = (status, code, message)
            self.flow.pause_reading()

    def _answer_and_close(self, status: int, code: str, message: str) -> None:
        self.refusal = None
        self._unset_keepalive_if_required()
        error = {"error": {"code": code, "message": message}}
        body = json.dumps(error, separators=(",", ":")).encode()
        head = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        if not self.transport.can_write_eof():
            self.transport.close()
            return
        # a lingering close: closing a socket with unread input sends a reset, which can
        # destroy the answer before the client reads it; so end our side, discard what still
        # comes for a moment, then close
        self.transport.write_eof()
        linger = min(LINGER_S, self.head_limits.timeout_s)
        self.deadline = self.loop.call_later(linger, self.transport.close)

    def _arm(self, expired: Callable[[], None]) -> None:
        self._disarm()
        self.deadline = self.loop.call_later(self.head_limits.timeout_s, expired)

    def _disarm(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None
