"""A fake of the LINE Messaging API's three calls the hub makes, for tests/notify/test_line.py.

Run as ``python tests/peers/line_fake.py --port N`` (the channel access token from
``LINE_FAKE_TOKEN``; every API call needs ``Authorization: Bearer <token>``, else 401 as
LINE answers). Shapes follow developers.line.biz/en/reference/messaging-api/:

- ``POST /v2/bot/message/push`` ``{"to": "U…", "messages": [{"type": "text", "text": …}]}``
  (1 to 5 messages, text ≤ 5000 characters); ``X-Line-Retry-Key`` must be a UUID; a key
  already accepted → 409 ``The retry key is already accepted`` with
  ``X-Line-Accepted-Request-Id``, and nothing delivered again; over the month's quota → 429
  ``You have reached your monthly limit.``; 200 ``{"sentMessages": [{"id", "quoteToken"}]}``.
- ``POST /v2/bot/message/reply`` ``{"replyToken", "messages"}`` (free: not counted).
- ``GET /v2/bot/message/quota`` → ``{"type": "limited", "value": n}`` or ``{"type": "none"}``;
  ``GET /v2/bot/message/quota/consumption`` → ``{"totalUsage": n}``.

Control (no auth): ``POST /_control`` with ``{"limit": n | null, "used": n, "fail5xx": n,
"reset": true}``; ``GET /_control/log`` → ``{"pushes": [...], "replies": [...], "refused":
[...]}`` (each push: to, messages, retry_key).
"""

from __future__ import annotations

import argparse
import os
import uuid
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


class State:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.limit: int | None = 200
        self.used = 0
        self.fail5xx = 0
        self.pushes: list[dict[str, Any]] = []
        self.replies: list[dict[str, Any]] = []
        self.refused: list[dict[str, Any]] = []
        self.accepted: dict[str, str] = {}  # retry key -> request id


STATE = State()
TOKEN = os.environ.get("LINE_FAKE_TOKEN", "line-test-token")


def _error(status: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status, headers=headers)


def _authorized(request: Request) -> bool:
    return request.headers.get("authorization") == f"Bearer {TOKEN}"


def _bad_messages(messages: Any) -> str | None:
    if not isinstance(messages, list) or not 1 <= len(messages) <= 5:
        return "The property, 'messages', must be 1 to 5 messages"
    for m in messages:
        if not isinstance(m, dict) or m.get("type") != "text":
            return "Only text messages in this fake"
        text = m.get("text")
        if not isinstance(text, str) or not 1 <= len(text) <= 5000:
            return "The property, 'text', must be 1 to 5000 characters"
    return None


async def push(request: Request) -> Response:
    if not _authorized(request):
        return _error(401, "Authentication failed. Confirm that the access token is valid.")
    body = await request.json()
    key = request.headers.get("x-line-retry-key")
    if key is not None:
        try:
            uuid.UUID(key)
        except ValueError:
            return _error(400, "The value for the 'X-Line-Retry-Key' header is invalid")
    to = body.get("to")
    if not isinstance(to, str) or not to.startswith("U") or len(to) != 33:
        return _error(400, "The property, 'to', in the request body is invalid")
    problem = _bad_messages(body.get("messages"))
    if problem:
        return _error(400, problem)
    if STATE.fail5xx > 0:
        STATE.fail5xx -= 1
        return _error(500, "Internal server error")
    if key is not None and key in STATE.accepted:
        STATE.refused.append({"to": to, "retry_key": key, "why": "retry key"})
        return _error(
            409, "The retry key is already accepted",
            **{"x-line-accepted-request-id": STATE.accepted[key]},
        )  # fmt: skip
    if STATE.limit is not None and STATE.used + len(body["messages"]) > STATE.limit:
        STATE.refused.append({"to": to, "retry_key": key, "why": "quota"})
        return _error(429, "You have reached your monthly limit.")
    request_id = str(uuid.uuid4())
    if key is not None:
        STATE.accepted[key] = request_id
    STATE.used += len(body["messages"])
    STATE.pushes.append({"to": to, "messages": body["messages"], "retry_key": key})
    sent = [{"id": str(len(STATE.pushes)), "quoteToken": "q"} for _ in body["messages"]]
    return JSONResponse({"sentMessages": sent}, headers={"x-line-request-id": request_id})


async def reply(request: Request) -> Response:
    if not _authorized(request):
        return _error(401, "Authentication failed. Confirm that the access token is valid.")
    body = await request.json()
    if not isinstance(body.get("replyToken"), str) or not body["replyToken"]:
        return _error(400, "Invalid reply token")
    problem = _bad_messages(body.get("messages"))
    if problem:
        return _error(400, problem)
    STATE.replies.append({"replyToken": body["replyToken"], "messages": body["messages"]})
    return JSONResponse({"sentMessages": [{"id": "r", "quoteToken": "q"}]})


async def quota(request: Request) -> Response:
    if not _authorized(request):
        return _error(401, "Authentication failed.")
    if STATE.limit is None:
        return JSONResponse({"type": "none"})
    return JSONResponse({"type": "limited", "value": STATE.limit})


async def consumption(request: Request) -> Response:
    if not _authorized(request):
        return _error(401, "Authentication failed.")
    return JSONResponse({"totalUsage": STATE.used})


async def control(request: Request) -> Response:
    change = await request.json()
    if change.get("reset"):
        STATE.reset()
    if "limit" in change:
        STATE.limit = change["limit"]
    if "used" in change:
        STATE.used = int(change["used"])
    if "fail5xx" in change:
        STATE.fail5xx = int(change["fail5xx"])
    return JSONResponse({"ok": True})


async def log(request: Request) -> Response:
    return JSONResponse(
        {
            "pushes": STATE.pushes,
            "replies": STATE.replies,
            "refused": STATE.refused,
            "used": STATE.used,
        }  # fmt: skip
    )


async def health(request: Request) -> Response:
    return JSONResponse({"ok": True})


app = Starlette(
    routes=[
        Route("/v2/bot/message/push", push, methods=["POST"]),
        Route("/v2/bot/message/reply", reply, methods=["POST"]),
        Route("/v2/bot/message/quota", quota, methods=["GET"]),
        Route("/v2/bot/message/quota/consumption", consumption, methods=["GET"]),
        Route("/_control", control, methods=["POST"]),
        Route("/_control/log", log, methods=["GET"]),
        Route("/_health", health, methods=["GET"]),
    ]
)

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")
