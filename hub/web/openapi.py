"""``/openapi.json``, generated from the same ``ApiRoute`` table that builds the routes."""

from __future__ import annotations

import re
from typing import Any

import msgspec

from hub.web.routing import ApiRoute

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}


def build_openapi(routes: list[ApiRoute], extra_paths: dict[str, Any]) -> dict[str, Any]:
    bodies = sorted({r.body for r in routes if r.body is not None}, key=lambda t: t.__name__)
    _, components = msgspec.json.schema_components(
        bodies, ref_template="#/components/schemas/{name}"
    )
    components["Error"] = ERROR_SCHEMA
    paths: dict[str, Any] = dict(extra_paths)
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Junban hub API", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }


def _operation(route: ApiRoute) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": _path_schema(route, name)}
        for name in re.findall(r"{(\w+)}", route.path)
    ]
    if route.idempotent:
        params.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "minLength": 1, "maxLength": 200},
                "description": "A retry with the same key returns the first answer.",
            }
        )
    responses = dict(route.responses)
    if route.method not in ("GET", "HEAD"):
        forbidden = responses.get(403)
        responses[403] = f"{forbidden} | cross_origin" if forbidden else "cross_origin"
        responses.setdefault(415, "unsupported_media_type: the body is not application/json")
    if route.idempotent:
        responses.setdefault(422, "invalid_body | idempotency_key_reused")
        responses.setdefault(503, "busy | redis_unavailable: retry with the same key")
    op: dict[str, Any] = {
        "summary": route.summary,
        "operationId": f"{route.method.lower()}_{route.endpoint.__name__}_{len(route.path)}",
        "parameters": params,
        "responses": {str(code): _response(code, text) for code, text in sorted(responses.items())},
        "x-auth": route.access,
    }
    if route.access != "public":
        op["security"] = [{"bearer": []}] if route.access != "optional" else [{}, {"bearer": []}]
    if route.body is not None:
        op["requestBody"] = {
            "required": route.body_required,
            "content": {
                "application/json": {
                    "schema": {"$ref": f"#/components/schemas/{route.body.__name__}"}
                }
            },
        }
    return op


def _path_schema(route: ApiRoute, name: str) -> dict[str, Any]:
    values = route.path_enums.get(name)
    return {"type": "string", "enum": list(values)} if values else {"type": "string"}


def _response(code: int, text: str) -> dict[str, Any]:
    response: dict[str, Any] = {"description": text}
    if code >= 400:
        response["content"] = {
            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
        }
    return response
