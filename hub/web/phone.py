"""HTTP routes of the phone call-out option (Table 1; the use cases:
``hub.phone.service.PhoneService``): a manual call, the call history (JSON or CSV), the
facility's settings, providers' status callbacks and the operator's provider config."""

from __future__ import annotations

import re
import time
from typing import Annotated, Literal
from urllib.parse import parse_qsl

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from hub.csvout import csv_response
from hub.errors import BadRequest
from hub.phone.providers.base import ProviderConfig
from hub.phone.rules import PhoneSettings
from hub.phone.service import CSV_HEADERS
from hub.web.bodies import HHMM, parse, read_limited
from hub.web.routing import (
    ApiRoute,
    audit_target,
    facility_of,
    info_of,
    json_response,
    principal_of,
    services_of,
)

ProviderName = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9-]{1,32}\Z")]


class SettingsRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A facility's call-out settings."""

    threshold: Annotated[int, msgspec.Meta(ge=1, le=10)] = 3
    window_from: HHMM = "08:00"
    window_to: HHMM = "21:00"
    retry: bool = True
    triggers: Annotated[list[Literal["near", "called"]], msgspec.Meta(max_length=2)] = (
        msgspec.field(default_factory=lambda: ["near"])
    )
    caller: Annotated[str, msgspec.Meta(max_length=32)] = ""
    provider: ProviderName | None = None
    """The voice provider the operator configured by that name; left out: unchanged."""


class ProviderRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A voice provider (Twilio-compatible REST, or the demo's ``dev``)."""

    kind: Literal["twiml", "dev"] = "twiml"
    base_url: Annotated[str, msgspec.Meta(max_length=300, pattern=r"^(https?://\S+)?\Z")] = ""
    account_sid: Annotated[str, msgspec.Meta(max_length=64)] = ""
    auth_token: Annotated[str, msgspec.Meta(max_length=256)] = ""


async def place_call(request: Request) -> Response:
    """Staff press 「電話で呼び出す」 on a ticket."""
    info, _, _ = info_of(request)
    principal = principal_of(request)
    by = principal.subject if principal is not None else "staff"
    found = await services_of(request).phone.manual(
        info, request.path_params["ticket_id"], by, time.time()
    )
    return json_response(found, status=201)


async def list_calls(request: Request) -> Response:
    """The call history: ``?from=&to=`` (dates, facility time), ``format=json|csv``,
    ``full=1`` (CSV with whole numbers; audited)."""
    facility = facility_of(request)
    query = request.query_params
    fmt, full = query.get("format", "json"), query.get("full", "0")
    if fmt not in ("json", "csv") or full not in ("0", "1"):
        raise BadRequest("format is json or csv; full is 0 or 1", code="invalid_query")
    phone, now = services_of(request).phone, time.time()
    if fmt == "csv":
        if full == "1":
            audit_target(request, facility=facility, target="calls full=1")
        rows = await phone.history_csv(
            facility, query.get("from"), query.get("to"), full == "1", now
        )
        return csv_response(rows, CSV_HEADERS, f"calls-{facility}.csv")
    return json_response(await phone.history(facility, query.get("from"), query.get("to"), now))


async def put_settings(request: Request) -> Response:
    facility = facility_of(request)
    services = services_of(request)
    body = parse(await read_limited(request, services.settings.max_body_bytes), SettingsRequest)
    settings = PhoneSettings(
        threshold=body.threshold,
        window=(body.window_from, body.window_to),
        retry=body.retry,
        triggers=tuple(dict.fromkeys(body.triggers)),
        caller=body.caller,
        provider=body.provider or "",
    )
    return json_response(await services.phone.put_settings(facility, settings))


async def get_settings(request: Request) -> Response:
    facility = facility_of(request)
    return json_response(await services_of(request).phone.get_settings(facility))


async def status_callback(request: Request) -> Response:
    """A provider's signed status callback (form-encoded, ``X-Twilio-Signature``)."""
    services = services_of(request)
    raw = await read_limited(request, services.settings.max_body_bytes)
    params = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    await services.phone.callback(
        request.path_params["provider"],
        target,
        params,
        request.headers.get("x-twilio-signature"),
        time.time(),
    )
    return Response(status_code=204)


async def put_provider(request: Request) -> Response:
    services = services_of(request)
    name = request.path_params["provider"]
    if not re.fullmatch(r"[a-z0-9-]{1,32}", name):
        raise BadRequest("a provider name is 1 to 32 of a-z 0-9 -", code="invalid_query")
    body = parse(await read_limited(request, services.settings.max_body_bytes), ProviderRequest)
    config = ProviderConfig(name, body.kind, body.base_url, body.account_sid, body.auth_token)
    return json_response(await services.phone.put_provider(config))


_PHONE_403 = "forbidden | option_not_contracted | password_change_required"

ROUTES = [
    ApiRoute(
        "/v1/queues/{info}/tickets/{ticket_id}/phone-calls",
        "POST",
        place_call,
        "Staff: call the ticket's patient now (the phone option; consent needed)",
        access="staff",
        responses={
            201: "{id, at, info, ticket, number, phone (masked), trigger, attempt, status, "
            "duration, by}",
            400: "invalid_info",
            401: "no, bad or revoked token",
            403: _PHONE_403,
            404: "unknown_queue | unknown_ticket | unknown_facility",
            409: "no_consent | outside_call_hours | call_limit_reached",
        },
    ),
    ApiRoute(
        "/v1/facilities/{facility}/calls",
        "GET",
        list_calls,
        "Staff: the phone call history (?from=&to=&format=json|csv&full=0|1)",
        access="staff",
        responses={
            200: "{facility, calls: [{id, at, info, ticket, number, phone, trigger, attempt, "
            "status, duration, by}]} | text/csv",
            400: "invalid_facility | invalid_query",
            401: "no, bad or revoked token",
            403: _PHONE_403,
            404: "unknown_facility",
        },
    ),
    ApiRoute(
        "/v1/facilities/{facility}/phone/settings",
        "GET",
        get_settings,
        "Staff: the phone call-out settings",
        access="staff",
        responses={
            200: "{facility, threshold, window, retry, triggers, caller, provider}",
            400: "invalid_facility",
            401: "no, bad or revoked token",
            403: _PHONE_403,
            404: "unknown_facility",
        },
    ),
    ApiRoute(
        "/v1/facilities/{facility}/phone/settings",
        "PUT",
        put_settings,
        "Staff: the phone call-out settings (threshold, window, retry, triggers, caller)",
        access="staff",
        body=SettingsRequest,
        body_required=True,
        responses={
            200: "{facility, threshold, window, retry, triggers, caller, provider}",
            400: "invalid_facility | invalid_phone | bad_json",
            401: "no, bad or revoked token",
            403: _PHONE_403,
            404: "unknown_facility",
            422: "invalid_body",
        },
    ),
    ApiRoute(
        "/v1/integrations/phone/{provider}/status",
        "POST",
        status_callback,
        "A voice provider's status callback, signed with X-Twilio-Signature",
        access="public",
        media_types=("application/x-www-form-urlencoded",),
        responses={204: "applied", 403: "bad_signature"},
    ),
    ApiRoute(
        "/v1/admin/phone/providers/{provider}",
        "PUT",
        put_provider,
        "Operator: a voice provider (base URL, account, auth token sealed at rest)",
        access="operator",
        body=ProviderRequest,
        body_required=True,
        responses={
            200: "{name, kind, base_url, account_sid}",
            400: "invalid_query | bad_json",
            401: "no, bad or revoked token",
            403: "forbidden",
            422: "invalid_body",
        },
    ),
]
