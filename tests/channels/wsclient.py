"""A small real WebSocket client for the tests (the `websockets` library)."""

from __future__ import annotations

import asyncio
from typing import Any

import msgpack
import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed


class LiveClient:
    """One /v1/ws connection speaking junban.json or junban.msgpack."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.codec = ws.subprotocol or "junban.json"

    @classmethod
    async def open(
        cls,
        base_url: str,
        codec: str = "junban.json",
        token: str | None = None,
        origin: str | None = None,
    ) -> LiveClient:
        """``origin``: the Origin header a browser page would send (None: none, as an app)."""
        url = base_url.replace("http://", "ws://") + "/v1/ws"
        if token is not None:
            url += f"?token={token}"
        ws = await connect(url, subprotocols=[codec], max_size=2**24, origin=origin)  # type: ignore[list-item, arg-type]
        return cls(ws)

    async def send(self, message: dict[str, Any]) -> None:
        if self.codec == "junban.msgpack":
            await self.ws.send(msgpack.packb(message))
        else:
            await self.ws.send(orjson.dumps(message).decode())

    async def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        if isinstance(raw, bytes):
            assert self.codec == "junban.msgpack", "binary frame on a JSON connection"
            return msgpack.unpackb(raw)  # type: ignore[no-any-return]
        assert self.codec == "junban.json", "text frame on a msgpack connection"
        return orjson.loads(raw)  # type: ignore[no-any-return]

    async def sub(self, ch: str, **known: Any) -> None:
        await self.send({"op": "sub", "ch": ch, **known})

    async def until(self, predicate: Any, timeout: float = 5.0) -> dict[str, Any]:
        """The first frame for which ``predicate(frame)`` holds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            frame = await self.recv(max(0.01, deadline - loop.time()))
            if predicate(frame):
                return frame

    async def state(self, ch: str, timeout: float = 5.0) -> dict[str, Any]:
        return await self.until(lambda f: f["op"] == "state" and f["ch"] == ch, timeout)

    async def quiet(self, seconds: float = 0.3) -> list[dict[str, Any]]:
        """Frames that arrive within ``seconds`` (expected: none)."""
        frames = []
        try:
            while True:
                frames.append(await self.recv(seconds))
        except TimeoutError:
            return frames

    async def closed_with(self, timeout: float = 5.0) -> int | None:
        """Read until the server closes; its close code."""
        try:
            while True:
                await asyncio.wait_for(self.ws.recv(), timeout)
        except ConnectionClosed:
            pass
        return self.ws.close_code

    async def close(self) -> None:
        await self.ws.close()
