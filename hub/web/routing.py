"""The route table's building blocks: one ``ApiRoute`` feeds both Starlette and OpenAPI."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from hub.auth import Principal
from hub.errors import BadRequest, Unauthorized
from hub.queue.model import FACILITY_RE, split_info
from hub.queue.service import Idempotency

if TYPE_CHECKING:
    from hub.app import Hub

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class ApiRoute:
    """One HTTP operation: path, method, handler and what OpenAPI says of it."""

    path: str
    method: str
    endpoint: Endpoint
    summary: str
    auth: str = "none"
    """none | staff | operator | ticket-or-staff | any (what /openapi.json documents)."""
    body: type | None = None
    body_required: bool = False
    responses: dict[int, str] = field(default_factory=dict)
    idempotent: bool = False
    """Takes an Idempotency-Key header."""
    path_enums: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Path parameters that take one of a few values."""


class JSONBytes(Response):
    media_type = "application/json"


def json_response(
    content: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return JSONBytes(orjson.dumps(content), status_code=status, headers=headers)


def hub_of(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


def principal_of(request: Request) -> Principal | None:
    """The verified bearer token's principal; None without a token; 401 when it is bad."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("use 'Authorization: Bearer <token>'", code="invalid_token")
    return hub_of(request).tokens.verify(token.strip())


def info_of(request: Request) -> tuple[str, str, str]:
    """(info, facility, counter) from the path; 400 ``invalid_info`` when malformed."""
    info = request.path_params["info"]
    parts = split_info(info)
    if parts is None:
        raise BadRequest(
            "an information number looks like 1234-01 (facility-counter)", code="invalid_info"
        )
    return info, parts[0], parts[1]


def facility_of(request: Request) -> str:
    number: str = request.path_params["facility"]
    if not FACILITY_RE.match(number):
        raise BadRequest("a facility number is 1 to 8 digits", code="invalid_facility")
    return number


def idempotency_of(request: Request, raw_body: bytes) -> Idempotency | None:
    """The request's Idempotency-Key, scoped to its caller's token (another caller's equal
    key never sees this answer) and fingerprinted by method, path and body."""
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not 1 <= len(key) <= 200:
        raise BadRequest("Idempotency-Key must be 1 to 200 characters", code="bad_request")
    token = request.headers.get("authorization")
    caller = hashlib.sha256(token.encode()).hexdigest()[:16] if token else "anonymous"
    key = f"{caller}:{key}"
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.url.path.encode(), raw_body):
        digest.update(part)
        digest.update(b"\0")
    return Idempotency(key=key, fingerprint=digest.hexdigest())


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"
