"""HTTP routes of partner API keys (mint, list, revoke) and the event feed they read."""

from __future__ import annotations

import time
from typing import Annotated, Literal

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from hub.apikeys import key_view
from hub.errors import BadRequest
from hub.integrations.feed import PAGE_DEFAULT, PAGE_MAX
from hub.web.bodies import parse, read_limited
from hub.web.routing import ApiRoute, facility_of, json_response, principal_of, services_of

Scope = Literal["public:read", "events:read", "tickets:write"]


class ApiKeyRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A new partner key: a label staff recognise and at least one scope (``public:read``
    needs the API option; ``events:read`` and ``tickets:write`` the EMR link option)."""

    label: Annotated[str, msgspec.Meta(min_length=1, max_length=60)]
    scopes: Annotated[list[Scope], msgspec.Meta(min_length=1, max_length=3)]


async def list_keys(request: Request) -> Response:
    """The facility's keys (revoked ones too), with uses and last use; never a key."""
    number = facility_of(request)
    keys = await services_of(request).apikeys.list_keys(number)
    return json_response({"facility": number, "keys": keys})


async def mint_key(request: Request) -> Response:
    """Mint a key: the answer's ``key`` is shown this once and never again."""
    number = facility_of(request)
    services = services_of(request)
    body = parse(await read_limited(request, services.settings.max_body_bytes), ApiKeyRequest)
    principal = principal_of(request)
    who = principal.subject if principal is not None else ""
    minted = await services.apikeys.mint(
        number, body.label.strip() or body.label, tuple(body.scopes), who, time.time()
    )
    return json_response({"key": minted.key, **key_view(minted.record)}, status=201)


async def revoke_key(request: Request) -> Response:
    """Revoke a key: refused from then on (within 2 s on every hub process)."""
    number = facility_of(request)
    record = await services_of(request).apikeys.revoke(
        number, request.path_params["key_id"], time.time()
    )
    return json_response(key_view(record))


async def event_feed(request: Request) -> Response:
    """Integration events after the stream id ``after`` (exclusive), ``limit`` entries."""
    number = facility_of(request)
    text = request.query_params.get("limit") or str(PAGE_DEFAULT)
    if not (text.isascii() and text.isdigit() and len(text) <= 4 and 1 <= int(text) <= PAGE_MAX):
        raise BadRequest(f"limit is a whole number from 1 to {PAGE_MAX}", code="invalid_query")
    after = request.query_params.get("after")
    page = await services_of(request).feed.read(number, after, int(text))
    return json_response(page)


K = "/v1/facilities/{facility}/api-keys"
ERR = {400: "invalid_facility", 401: "no or bad token", 403: "forbidden", 404: "unknown_facility"}
ROUTES = [
    ApiRoute(
        K,
        "GET",
        list_keys,
        "The facility's partner API keys (never the keys themselves)",
        access="staff",
        responses={200: "{facility, keys}", **ERR},
    ),
    ApiRoute(
        K,
        "POST",
        mint_key,
        "Mint a partner API key {label, scopes}; the key is shown once",
        access="staff",
        body=ApiKeyRequest,
        body_required=True,
        responses={
            201: "the key (shown once) and its record",
            403: "forbidden | option_not_contracted",
            409: "too_many_api_keys",
            422: "invalid_body",
            **{k: v for k, v in ERR.items() if k != 403},
        },
    ),
    ApiRoute(
        K + "/{key_id}",
        "DELETE",
        revoke_key,
        "Revoke a partner API key (refused everywhere within 2 s)",
        access="staff",
        responses={200: "the revoked key's record", **ERR, 404: "unknown_api_key"},
    ),
    ApiRoute(
        "/v1/facilities/{facility}/integrations/events",
        "GET",
        event_feed,
        "Integration events from the outbox after a stream id "
        "(partner key with events:read, or staff; EMR link option)",
        access="staff",
        responses={
            200: "{facility, events, next, more}",
            400: "invalid_query | invalid_facility",
            401: "no or bad token",
            403: "forbidden | insufficient_scope | option_not_contracted",
            429: "rate_limited",
        },
    ),
]
