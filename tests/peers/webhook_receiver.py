"""A Standard Webhooks receiver for the tests, run in its own process.

``POST /hook/{name}`` verifies the raw body with the ``standardwebhooks`` reference library
and the secret set for ``name``, dedupes by ``webhook-id`` (the effect happens once) and
answers as told: ``ok`` (204), ``fail`` (500 for the next ``count`` attempts, then 204),
``stall`` (sleeps 20 s), ``gone`` (410), ``abort`` (500 with ``webhook-delivery:
abort-message``), ``redirect`` (307); a failing answer's body is ``body`` when set.

Control: ``POST /_control {"name", "secret"?, "mode"?, "count"?, "body"?}``, ``GET /_log/{name}``
(every attempt, and the events received once each), ``GET /_health``.

    python tests/peers/webhook_receiver.py --port 8123
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass
class Hook:
    secret: str = ""
    mode: str = "ok"
    count: int = 0
    body: str = ""
    """The body of failing answers ("" = a default word)."""
    attempts: list[dict[str, Any]] = field(default_factory=list)
    received: dict[str, Any] = field(default_factory=dict)


HOOKS: dict[str, Hook] = {}


def hook(name: str) -> Hook:
    return HOOKS.setdefault(name, Hook())


async def receive(request: Request) -> Response:
    target = hook(request.path_params["name"])
    raw = await request.body()
    headers = dict(request.headers)
    attempt: dict[str, Any] = {
        "id": headers.get("webhook-id"),
        "timestamp": headers.get("webhook-timestamp"),
        "signature": headers.get("webhook-signature"),
        "at": time.time(),
        "verified": False,
    }
    target.attempts.append(attempt)
    try:
        body = Webhook(target.secret).verify(raw, headers)
    except (WebhookVerificationError, ValueError) as exc:
        attempt["error"] = str(exc)
        return JSONResponse({"error": str(exc)}, status_code=400)
    attempt["verified"] = True
    attempt["type"] = body.get("type")
    mode = target.mode
    if mode == "fail" and target.count > 0:
        target.count -= 1
        return Response(target.body or "boom", status_code=500)
    if mode == "stall":
        await asyncio.sleep(20)
    if mode == "gone":
        return Response("gone", status_code=410)
    if mode == "abort":
        headers = {"webhook-delivery": "abort-message"}
        return Response(target.body or "no", status_code=500, headers=headers)
    if mode == "redirect":
        return Response(status_code=307, headers={"location": "/elsewhere"})
    target.received.setdefault(str(attempt["id"]), body)  # the effect, once per webhook-id
    return Response(status_code=204)


async def control(request: Request) -> Response:
    change = await request.json()
    target = hook(change["name"])
    if change.get("reset"):
        HOOKS[change["name"]] = target = Hook()
    for name in ("secret", "mode", "count", "body"):
        if name in change:
            setattr(target, name, change[name])
    return JSONResponse({"ok": True})


async def log(request: Request) -> Response:
    target = hook(request.path_params["name"])
    return JSONResponse({"attempts": target.attempts, "received": target.received})


async def health(request: Request) -> Response:
    return JSONResponse({"ok": True})


app = Starlette(
    routes=[
        Route("/hook/{name}", receive, methods=["POST"]),
        Route("/_control", control, methods=["POST"]),
        Route("/_log/{name}", log, methods=["GET"]),
        Route("/_health", health, methods=["GET"]),
    ]
)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(
        app, host="127.0.0.1", port=args.port, log_level="warning", timeout_graceful_shutdown=1
    )
