"""Operations endpoints: liveness, readiness (Redis reachable), metrics, the API description."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import Response

from hub.web.routing import json_response, services_of


async def healthz(request: Request) -> Response:
    return json_response({"status": "ok"})


async def readyz(request: Request) -> Response:
    """200 when Redis answers and the live pub/sub link is up; 503 (degraded) otherwise."""
    services = services_of(request)
    retry = {"Retry-After": "2"}
    problem = await services.redis_problem(timeout=services.settings.redis_timeout_s)
    if problem is not None:
        return json_response({"status": "unavailable", "redis": problem}, 503, retry)
    if services.bridge is None or not services.bridge.ready:
        body = {"status": "degraded", "redis": "ok", "live": "reconnecting"}
        return json_response(body, 503, retry)
    live = services.live
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
