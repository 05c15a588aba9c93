"""A minimal HTTP/1.1 keep-alive client on a raw asyncio Protocol, cheap enough to share cores.

One ``RawConnection`` carries one request at a time (no pipelining). Requests are prebuilt
bytes (``build_request``), so a load generator spends almost nothing per request besides
the write and the parse of the status line and ``Content-Length``. Only what the hub sends
is understood: a ``Content-Length`` body (no chunked encoding) on a kept-alive connection.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import cast


class HttpError(RuntimeError):
    """The connection broke or the answer was not HTTP/1.1 with a Content-Length."""


def build_request(
    method: str,
    path: str,
    *,
    host: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> bytes:
    """The exact bytes of one keep-alive request."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes
    at: float
    """``time.perf_counter()`` when the answer was complete."""


class RawConnection(asyncio.Protocol):
    """One keep-alive connection; ``await request(data)`` -> ``Answer``."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._waiter: asyncio.Future[Answer] | None = None
        self._head_end = -1
        self._status = 0
        self._length = 0
        self.closed = False

    # -- asyncio.Protocol ------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        try:
            self._parse()
        except (HttpError, ValueError) as exc:
            if self._waiter is not None and not self._waiter.done():
                self._waiter.set_exception(HttpError(f"bad answer: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(HttpError(f"connection lost: {exc}"))

    # -- client side ------------------------------------------------------------------------
    def send(self, data: bytes) -> asyncio.Future[Answer]:
        """Write one request now; the future resolves with its answer."""
        if self.closed or self.transport is None:
            raise HttpError("connection is closed")
        if self._waiter is not None and not self._waiter.done():
            raise HttpError("a request is already in flight on this connection")
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return self._waiter

    async def request(self, data: bytes) -> Answer:
        return await self.send(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def _parse(self) -> None:
        buf = self._buffer
        if self._head_end < 0:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            self._read_head(bytes(buf[:end]))
            self._head_end = end + 4
        total = self._head_end + self._length
        if len(buf) < total:
            return
        answer = Answer(self._status, bytes(buf[self._head_end : total]), time.perf_counter())
        del buf[:total]
        self._head_end = -1
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(answer)
        if buf:
            self._parse()

    def _read_head(self, head: bytes) -> None:
        if not head.startswith(b"HTTP/1."):
            raise HttpError(f"not an HTTP answer: {head[:40]!r}")
        self._status = int(head[9:12])
        lowered = head.lower()
        at = lowered.find(b"\r\ncontent-length:")
        if at < 0:
            if self._status in (204, 304):
                self._length = 0
                return
            raise HttpError("answer without Content-Length (chunked is not supported)")
        start = at + len(b"\r\ncontent-length:")
        stop = lowered.find(b"\r\n", start)
        self._length = int(lowered[start : stop if stop >= 0 else None])


async def connect(host: str, port: int) -> RawConnection:
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(RawConnection, host, port)
    return protocol


async def fetch(
    host: str,
    port: int,
    method: str,
    path: str,
    *,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> Answer:
    """One request on a fresh connection (setup calls, metrics scrapes)."""
    conn = await connect(host, port)
    try:
        data = build_request(method, path, host=f"{host}:{port}", body=body, headers=headers)
        return await asyncio.wait_for(conn.request(data), timeout=30)
    finally:
        conn.close()
