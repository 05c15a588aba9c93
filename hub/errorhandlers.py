"""How an exception becomes an HTTP answer: a ``JunbanError`` its JSON error body (with
``Retry-After`` where retrying helps), Starlette's 404/405 theirs, a Redis failure a 503,
a client gone mid-body a quiet 400, anything else a logged 500."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from redis.exceptions import RedisError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from hub.errors import JunbanError
from hub.web.routing import json_response

log = logging.getLogger("junban")


REDIS_RETRY_AFTER_S = 2
"""Retry-After (seconds) of a 503 caused by Redis: unreachable, stalled or timed out."""


async def _junban_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, JunbanError)
    headers = None
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is None and exc.code in ("redis_unavailable", "busy"):  # e.g. the writer's
        retry_after = REDIS_RETRY_AFTER_S
    if retry_after is not None:
        headers = {"Retry-After": str(max(1, round(retry_after)))}
    return json_response(exc.body(), status=exc.status, headers=headers)


HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = HTTP_CODES.get(exc.status_code, "http_error")
    body = {"error": {"code": code, "message": str(exc.detail)}}
    return json_response(body, status=exc.status_code, headers=exc.headers)


async def _redis_error(request: Request, exc: Exception) -> Response:
    log.warning("redis error: %s", exc)
    body = {"error": {"code": "redis_unavailable", "message": "storage is unavailable, retry"}}
    return json_response(body, status=503, headers={"Retry-After": str(REDIS_RETRY_AFTER_S)})


async def _client_gone(request: Request, exc: Exception) -> Response:
    """The client left while its body was read (or the body deadline cut it off): nobody
    reads an answer, and it is no error of ours to log with a traceback."""
    log.debug("client left mid-request: %s %s", request.method, request.url.path)
    return Response(status_code=400)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error", exc_info=exc)
    return json_response({"error": {"code": "internal_error", "message": "internal error"}}, 500)


EXCEPTION_HANDLERS: dict[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
    JunbanError: _junban_error,
    HTTPException: _http_error,
    RedisError: _redis_error,
    ClientDisconnect: _client_gone,
    Exception: _server_error,
}
"""Starlette's ``exception_handlers`` for the hub (``hub.app.create_app``)."""
