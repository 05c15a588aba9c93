"""Operations endpoints: liveness, readiness (Redis reachable), metrics, the API description."""

from __future__ import annotations

import asyncio

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import Response

from hub.web.routing import hub_of, json_response


async def healthz(request: Request) -> Response:
    return json_response({"status": "ok"})


async def readyz(request: Request) -> Response:
    """200 when Redis answers and the live pub/sub link is up; 503 (degraded) otherwise."""
    hub = hub_of(request)
    try:
        await asyncio.wait_for(hub.redis.ping(), timeout=2.0)
    except (RedisError, OSError, TimeoutError) as exc:
        return json_response({"status": "unavailable", "redis": str(exc) or "timeout"}, 503)
    if hub.bridge is None or not hub.bridge.ready:
        return json_response({"status": "degraded", "redis": "ok", "live": "reconnecting"}, 503)
    live = hub.live
    connections = live.connections if live else 0
    return json_response({"status": "ok", "redis": "ok", "live": "ok", "ws": connections})


async def metrics(request: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


async def openapi(request: Request) -> Response:
    return json_response(request.app.state.openapi)


OPS_PATHS = {
    "/healthz": {"get": {"summary": "Liveness", "responses": {"200": {"description": "ok"}}}},
    "/readyz": {
        "get": {
            "summary": "Readiness: Redis reachable",
            "responses": {"200": {"description": "ready"}, "503": {"description": "not ready"}},
        }
    },
    "/metrics": {
        "get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "text"}}}
    },
    "/openapi.json": {
        "get": {"summary": "This description", "responses": {"200": {"description": "json"}}}
    },
}
