"""A webhook receiver for ``bench_outbox``, run in its own process: it records, for each
``webhook-id``, when it first arrived (``time.perf_counter()``, which is CLOCK_MONOTONIC on
Linux and so compares with the benchmark's clock), the ticket id and event type of its body,
and how many attempts carried that id.

``POST /{mode}/{name}`` answers by ``mode``: ``ok`` (204), ``fail`` (500), ``stall`` (sleeps
``--stall-s``, then 204). Signatures are not verified (the tests do that with the reference
library; here the receiver must stay cheap). ``GET /_log`` gives everything recorded,
``POST /_reset`` forgets it, ``GET /_health``.

    python -m loadtest.webhook_sink --port 8123
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

FIRST: dict[str, tuple[float, str, str, str]] = {}
"""webhook-id -> (first arrival perf_counter, ticket id, event type, endpoint name)."""
ATTEMPTS: dict[str, int] = {}
"""webhook-id -> attempts that carried it."""
COUNTS = {"ok": 0, "fail": 0, "stall": 0}
STALL_S = [20.0]


def _ticket_and_type(raw: bytes) -> tuple[str, str]:
    try:
        body = orjson.loads(raw)
        ticket = (body.get("data") or {}).get("ticket") or {}
        return str(ticket.get("id", "")), str(body.get("type", ""))
    except (orjson.JSONDecodeError, AttributeError):
        return "", ""


async def receive(request: Request) -> Response:
    at = time.perf_counter()
    mode = request.path_params["mode"]
    raw = await request.body()
    hook_id = request.headers.get("webhook-id", "")
    COUNTS[mode] = COUNTS.get(mode, 0) + 1
    ATTEMPTS[hook_id] = ATTEMPTS.get(hook_id, 0) + 1
    if hook_id not in FIRST:
        ticket, kind = _ticket_and_type(raw)
        FIRST[hook_id] = (at, ticket, kind, request.path_params["name"])
    if mode == "fail":
        return Response("boom", status_code=500)
    if mode == "stall":
        await asyncio.sleep(STALL_S[0])
    return Response(status_code=204)


async def log(request: Request) -> Response:
    out: dict[str, Any] = {
        "received": FIRST,
        "attempts": sum(ATTEMPTS.values()),
        "repeated_ids": sum(1 for n in ATTEMPTS.values() if n > 1),
        "by_mode": COUNTS,
    }
    return Response(orjson.dumps(out), media_type="application/json")


async def count(request: Request) -> Response:
    return Response(orjson.dumps({"received": len(FIRST), "attempts": sum(ATTEMPTS.values())}))


async def reset(request: Request) -> Response:
    FIRST.clear()
    ATTEMPTS.clear()
    for key in COUNTS:
        COUNTS[key] = 0
    return Response(b"{}", media_type="application/json")


async def health(request: Request) -> Response:
    return Response(b'{"ok":true}', media_type="application/json")


app = Starlette(
    routes=[
        Route("/_log", log, methods=["GET"]),
        Route("/_count", count, methods=["GET"]),
        Route("/_reset", reset, methods=["POST"]),
        Route("/_health", health, methods=["GET"]),
        Route("/{mode:str}/{name:str}", receive, methods=["POST"]),
    ]
)


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m loadtest.webhook_sink")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--stall-s", type=float, default=20.0)
    args = parser.parse_args()
    STALL_S[0] = args.stall_s
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
        timeout_graceful_shutdown=1,
    )


if __name__ == "__main__":
    main()
