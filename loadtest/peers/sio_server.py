"""python-socketio fan-out peer for loadtest/bench_fanout.py (not part of the product).

uvicorn (uvloop, httptools, its default WebSocket implementation) serving a
python-socketio ``AsyncServer`` (ASGI, WebSocket transport only). Every client joins the
room ``queue:1234-01`` on connect. One task subscribes to a Redis pub/sub channel
(redis-py asyncio, the hub's Valkey unix socket) and, per message, decodes the view JSON once
(orjson) and ``await sio.emit("state", view, room=ROOM)``: python-socketio encodes the
event packet once and queues it to each client's Engine.IO socket, whose own task writes it
(no conflation; Engine.IO pings every 25 s).

    python loadtest/peers/sio_server.py PORT REDIS_SOCKET CHANNEL     (prints "ready")
"""

from __future__ import annotations

import asyncio
import sys

import orjson
import socketio
import uvicorn
from redis.asyncio import Redis

ROOM = "queue:1234-01"
sio = socketio.AsyncServer(async_mode="asgi", transports=["websocket"], cors_allowed_origins=[])


@sio.event  # type: ignore[untyped-decorator]
async def connect(sid: str, environ: dict[str, object]) -> None:
    await sio.enter_room(sid, ROOM)


async def relay(socket_path: str, channel: str) -> None:
    redis = Redis(unix_socket_path=socket_path)
    pubsub = redis.pubsub()
    await pubsub.subscribe(channel)
    print("ready", flush=True)
    async for message in pubsub.listen():
        if message["type"] == "message":
            await sio.emit("state", orjson.loads(message["data"]), room=ROOM)


async def main(port: int, socket_path: str, channel: str) -> None:
    app = socketio.ASGIApp(sio)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        backlog=4096,
        ws_per_message_deflate=False,
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    await asyncio.gather(serving, relay(socket_path, channel))


if __name__ == "__main__":
    import uvloop

    uvloop.run(main(int(sys.argv[1]), sys.argv[2], sys.argv[3]))
