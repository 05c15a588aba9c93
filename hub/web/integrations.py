"""HTTP routes of a facility's integration endpoints and delivery log (the use cases:
``hub.integrations.service.IntegrationService``). A webhook's secret is answered once, on
create (or on a PUT with ``rotate_secret``), never again."""

from __future__ import annotations

import time
from typing import Annotated, Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from hub.csvout import csv_response
from hub.errors import BadRequest
from hub.integrations.deliveries import CSV_HEADERS, CSV_MAX, READ_MAX
from hub.integrations.service import EndpointSpec
from hub.web.bodies import parse, read_limited
from hub.web.routing import ApiRoute, audit_target, facility_of, json_response, services_of


class EndpointRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """An endpoint: ``kind`` picks the sender; ``config`` is the kind's (ORCA codes, FHIR
    institution code); ``secret`` is an ORCA password or FHIR token (a webhook's is made by
    the hub)."""

    kind: Annotated[str, msgspec.Meta(max_length=16)] = "webhook"
    url: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
    events: Annotated[
        list[Annotated[str, msgspec.Meta(max_length=40)]], msgspec.Meta(max_length=20)
    ] = []  # noqa: E501
    counters: (
        Annotated[list[Annotated[str, msgspec.Meta(max_length=2)]], msgspec.Meta(max_length=100)]
        | None
    ) = None  # noqa: E501
    personal: bool | None = None
    enabled: bool = True
    config: dict[str, Any] | None = None
    secret: Annotated[str, msgspec.Meta(min_length=1, max_length=4000)] | None = None
    rotate_secret: bool = False


def _spec(body: EndpointRequest) -> EndpointSpec:
    return EndpointSpec(
        kind=body.kind,
        url=body.url,
        events=tuple(body.events),
        counters=None if body.counters is None else tuple(body.counters),
        personal=body.personal,
        enabled=body.enabled,
        config=body.config,
        secret=body.secret,
        rotate_secret=body.rotate_secret,
    )


async def _body(request: Request) -> EndpointSpec:
    services = services_of(request)
    raw = await read_limited(request, services.settings.max_body_bytes)
    return _spec(parse(raw, EndpointRequest))


def _limit(request: Request, default: int, top: int) -> int:
    text = request.query_params.get("limit")
    if text is None or text == "":
        return default
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= top:
        raise BadRequest(f"limit is a whole number from 1 to {top}", code="invalid_query")
    return int(text)


async def list_endpoints(request: Request) -> Response:
    """The facility's endpoints (never their secrets)."""
    return json_response(await services_of(request).integrations.list(facility_of(request)))


async def create_endpoint(request: Request) -> Response:
    """A new endpoint; a webhook's ``secret`` (``whsec_…``) is in this answer only."""
    facility = facility_of(request)
    spec = await _body(request)
    audit_target(request, facility=facility, target=f"kind={spec.kind} url={spec.url}")
    created = await services_of(request).integrations.create(facility, spec, time.time())
    return json_response(created, status=201)


async def get_endpoint(request: Request) -> Response:
    facility, endpoint_id = facility_of(request), request.path_params["endpoint_id"]
    return json_response(await services_of(request).integrations.get(facility, endpoint_id))


async def put_endpoint(request: Request) -> Response:
    """Replace the endpoint's settings (its kind stays; its secret stays unless a new one is
    given, or ``rotate_secret`` makes a webhook's anew)."""
    facility, endpoint_id = facility_of(request), request.path_params["endpoint_id"]
    spec = await _body(request)
    changed = await services_of(request).integrations.update(
        facility, endpoint_id, spec, time.time()
    )
    return json_response(changed)


async def delete_endpoint(request: Request) -> Response:
    """Remove the endpoint and its pending events (the delivery log stays)."""
    facility, endpoint_id = facility_of(request), request.path_params["endpoint_id"]
    return json_response(await services_of(request).integrations.delete(facility, endpoint_id))


async def test_endpoint(request: Request) -> Response:
    """Queue a ``ping`` through the endpoint's dispatcher (see the delivery log)."""
    facility, endpoint_id = facility_of(request), request.path_params["endpoint_id"]
    queued = await services_of(request).integrations.test(facility, endpoint_id, time.time())
    return json_response(queued, status=202)


async def replay_endpoint(request: Request) -> Response:
    """Queue again the outbox's events (original ids) from ``?since=`` on."""
    facility, endpoint_id = facility_of(request), request.path_params["endpoint_id"]
    since = request.query_params.get("since") or None
    replayed = await services_of(request).integrations.replay(facility, endpoint_id, since)
    return json_response(replayed, status=202)


async def list_deliveries(request: Request) -> Response:
    """Delivery attempts, newest first: ``?endpoint=&limit=&before=&format=json|csv``."""
    facility = facility_of(request)
    fmt = request.query_params.get("format", "json")
    if fmt not in ("json", "csv"):
        raise BadRequest("format is json or csv", code="invalid_query")
    endpoint_id = request.query_params.get("endpoint") or None
    integrations = services_of(request).integrations
    if fmt == "csv":
        limit = _limit(request, 10_000, CSV_MAX)
        rows = await integrations.deliveries_csv(facility, limit=limit, endpoint_id=endpoint_id)
        return csv_response(rows, CSV_HEADERS, f"deliveries-{facility}.csv")
    limit = _limit(request, 100, READ_MAX)
    before = request.query_params.get("before") or None
    found = await integrations.deliveries(
        facility, limit=limit, endpoint_id=endpoint_id, before=before
    )
    return json_response(found)


E = "/v1/facilities/{facility}/integrations/endpoints"
ERR = {
    400: "invalid_facility, bad_json, bad_endpoint_url",
    401: "no or bad token",
    403: "not staff of this facility | option_not_contracted (orca, fhir need emr)",
    404: "unknown_facility, unknown_endpoint",
    422: "invalid_body, invalid_endpoint_config",
}
ENDPOINT = "{id, kind, url, events, counters, personal, enabled, config, has_secret, ...}"

ROUTES = [
    ApiRoute(
        E,
        "GET",
        list_endpoints,
        "The facility's integration endpoints",
        access="staff",
        responses={200: f"{{facility, endpoints: [{ENDPOINT}]}}", **ERR},
    ),  # fmt: skip
    ApiRoute(
        E,
        "POST",
        create_endpoint,
        "Add an endpoint (webhook, orca, fhir); a webhook's secret is answered once",
        access="staff",
        body=EndpointRequest,
        body_required=True,
        responses={201: f"{ENDPOINT[:-1]}, secret}}", **ERR},
    ),  # fmt: skip
    ApiRoute(
        E + "/{endpoint_id}",
        "GET",
        get_endpoint,
        "One endpoint (never its secret)",
        access="staff",
        responses={200: ENDPOINT, **ERR},
    ),  # fmt: skip
    ApiRoute(
        E + "/{endpoint_id}",
        "PUT",
        put_endpoint,
        "Replace an endpoint's settings (rotate_secret: a new webhook secret, once)",
        access="staff",
        body=EndpointRequest,
        body_required=True,
        responses={200: ENDPOINT, **ERR},
    ),  # fmt: skip
    ApiRoute(
        E + "/{endpoint_id}",
        "DELETE",
        delete_endpoint,
        "Remove an endpoint and its pending events",
        access="staff",
        responses={200: "{deleted}", **ERR},
    ),  # fmt: skip
    ApiRoute(
        E + "/{endpoint_id}/test",
        "POST",
        test_endpoint,
        "Send a ping event through the endpoint's delivery path",
        access="staff",
        responses={202: "{queued, event, enabled}", **ERR},
    ),  # fmt: skip
    ApiRoute(
        E + "/{endpoint_id}/replay",
        "POST",
        replay_endpoint,
        "Queue again the outbox's events from ?since= (stream id or Unix ms), same ids",
        access="staff",
        responses={202: "{queued, since}", **ERR, 400: "invalid_facility, invalid_query"},
    ),  # fmt: skip
    ApiRoute(
        "/v1/facilities/{facility}/integrations/deliveries",
        "GET",
        list_deliveries,
        "Delivery attempts, newest first: ?endpoint=&limit=&before=&format=json|csv",
        access="staff",
        responses={
            200: "{facility, deliveries: [{id, at, event, type, endpoint, kind, "
            "attempt, status, result, ms, info, ticket, detail}]} | text/csv",
            400: "invalid_facility, invalid_query",
            401: "no or bad token",
            403: "not staff of this facility",
            404: "unknown_facility",
        },
    ),  # fmt: skip
]
