"""HTTP routes of facilities, accounts and the operator's admin API."""

from __future__ import annotations

import time
from dataclasses import replace

from starlette.requests import Request
from starlette.responses import Response

from hub.clinic_settings import ProfileChange
from hub.contracts.views import limits_view
from hub.errors import JunbanError, Unprocessable
from hub.facilities import ApiCaller
from hub.queue.facilities import Facility
from hub.queue.schedule import Session
from hub.web.bodies import (
    FacilityRequest,
    LimitsRequest,
    MessageRequest,
    SettingsRequest,
    SuspendRequest,
    UserRequest,
    parse,
    read_limited,
)
from hub.web.routing import (
    ApiRoute,
    facility_of,
    json_response,
    own_origins,
    principal_of,
    services_of,
)


async def get_facility(request: Request) -> Response:
    """The partner API: name, address, hours, message and each counter's public view."""
    number = facility_of(request)
    body = await services_of(request).facilities.public(number, _api_caller(request), time.time())
    return json_response(body)


def _api_caller(request: Request) -> ApiCaller:
    """What the API-option gate weighs: the request's Origin, the hub's own origins (this
    URL's and JUNBAN_PUBLIC_URL's) and whether a partner token calls."""
    own = own_origins(request)
    try:
        principal = principal_of(request)
    except JunbanError:
        principal = None
    partner = principal is not None and principal.role == "partner"
    return ApiCaller(origin=request.headers.get("origin"), own_origins=own, partner=partner)


async def put_message(request: Request) -> Response:
    number = facility_of(request)
    services = services_of(request)
    body = parse(await read_limited(request, services.settings.max_body_bytes), MessageRequest)
    await services.facilities.set_message(number, body.text, time.time())
    return json_response({"facility": number, "message": body.text})


async def get_settings(request: Request) -> Response:
    """The settings page's record: profile, rooms, language, templates, schedule, closed
    days, each counter's configuration and the next public holidays."""
    number = facility_of(request)
    return json_response(await services_of(request).clinic.read(number, time.time()))


def _change(body: SettingsRequest, whole: bool) -> ProfileChange:
    """The request as a change; ``whole`` (PUT): every field, defaults for those left out."""
    if whole and (body.name is None or body.counters is None):
        raise Unprocessable("PUT needs the whole profile: name and counters", code="invalid_body")
    schedule: dict[str, tuple[Session, ...]] | None = None
    if body.schedule is not None:
        schedule = {
            day: tuple(Session(s.start, s.end, s.label) for s in sessions)
            for day, sessions in body.schedule.items()
        }
    change = ProfileChange(
        name=body.name,
        address=body.address,
        hours=body.hours,
        counters=body.counters,
        rooms=body.rooms,
        lang=body.lang,
        templates=None if body.templates is None else tuple(body.templates),
        schedule=schedule,
        closed_days=None if body.closed_days is None else tuple(body.closed_days),
        holidays_closed=body.holidays_closed,
    )
    if not whole:
        return change
    return replace(
        change,
        address=change.address or "",
        hours=change.hours or "",
        rooms=change.rooms or {},
        lang=change.lang or "ja",
        templates=change.templates or (),
        schedule=change.schedule or {},
        closed_days=change.closed_days or (),
        holidays_closed=bool(change.holidays_closed),
    )


async def _save_settings(request: Request, whole: bool) -> Response:
    number = facility_of(request)
    services = services_of(request)
    body = parse(await read_limited(request, services.settings.max_body_bytes), SettingsRequest)
    result = await services.clinic.change(number, _change(body, whole), time.time())
    return json_response(result)


async def put_settings(request: Request) -> Response:
    """Replace the clinic's profile and settings (a new counter gets its queue)."""
    return await _save_settings(request, True)


async def patch_settings(request: Request) -> Response:
    """Change the fields sent of the clinic's profile and settings."""
    return await _save_settings(request, False)


async def _set_suspended(request: Request, suspended: bool) -> Response:
    number = facility_of(request)
    services = services_of(request)
    raw = await read_limited(request, services.settings.max_body_bytes)
    reason = parse(raw, SuspendRequest, optional=True).reason if suspended else ""
    updated = await services.facilities.set_suspended(number, suspended, reason, time.time())
    return json_response(updated.public())


async def suspend(request: Request) -> Response:
    return await _set_suspended(request, True)


async def resume(request: Request) -> Response:
    return await _set_suspended(request, False)


async def put_limits(request: Request) -> Response:
    """Art. 37: the facility's own rate limits, enforced from the next request on (other
    processes within 2 s)."""
    number = facility_of(request)
    services = services_of(request)
    body = parse(await read_limited(request, services.settings.max_body_bytes), LimitsRequest)
    updated = await services.facilities.set_limits(number, body.rate, body.rate_ip, body.rate_key)
    return json_response({"facility": number, **limits_view(updated)})


async def create_facility(request: Request) -> Response:
    services = services_of(request)
    body = parse(await read_limited(request, services.settings.max_body_bytes), FacilityRequest)
    record = Facility(
        number=body.number,
        name=body.name,
        address=body.address,
        hours=body.hours,
        tz=body.tz,
        counters=dict(body.counters),
    )
    created = await services.facilities.create(record, time.time())
    return json_response(created.public(), status=201)


async def create_user(request: Request) -> Response:
    services = services_of(request)
    body = parse(await read_limited(request, services.settings.max_body_bytes), UserRequest)
    user = await services.accounts.create_user(
        body.user, body.password, body.role, body.facility, admin=body.admin
    )
    answer = {"user": user.name, "role": user.role, "facility": user.facility, "admin": user.admin}
    return json_response(answer, 201)


F = "/v1/facilities/{facility}"
A = "/v1/admin/facilities"
ERR_F = {400: "malformed facility number", 404: "unknown_facility"}
ERR_AUTH = {401: "no or bad token", 403: "not allowed"}
ROUTES = [
    ApiRoute(
        F,
        "GET",
        get_facility,
        "Facility, hours, message and each counter's public view",
        access="public",
        responses={200: "facility with queues", **ERR_F},
    ),
    ApiRoute(
        F + "/message",
        "PUT",
        put_message,
        "Set the i-message shown to patients",
        access="staff",
        body=MessageRequest,
        body_required=True,
        responses={200: "the message", 422: "invalid_body", **ERR_F, **ERR_AUTH},
    ),
    ApiRoute(
        F + "/settings",
        "GET",
        get_settings,
        "The clinic's settings: profile, rooms, schedule, templates, counters' configuration",
        access="staff",
        responses={200: "the settings", **ERR_F, **ERR_AUTH},
    ),
    *(
        ApiRoute(
            F + "/settings",
            method,
            handler,
            summary,
            access="staff",
            body=SettingsRequest,
            body_required=True,
            responses={
                200: "the settings",
                409: "counter_busy",
                422: "invalid_body",
                **ERR_F,
                **ERR_AUTH,
            },
        )
        for method, handler, summary in (
            ("PUT", put_settings, "Replace the clinic's profile and settings"),
            ("PATCH", patch_settings, "Change some of the clinic's profile and settings"),
        )
    ),
    ApiRoute(
        A,
        "POST",
        create_facility,
        "Assign a facility number and its counters",
        access="operator",
        body=FacilityRequest,
        body_required=True,
        responses={201: "the facility", 409: "facility_exists", 422: "invalid_body", **ERR_AUTH},
    ),
    ApiRoute(
        A + "/{facility}/suspend",
        "POST",
        suspend,
        "Suspend a facility (Art. 12)",
        access="operator",
        body=SuspendRequest,
        responses={200: "the facility", **ERR_F, **ERR_AUTH},
    ),
    ApiRoute(
        A + "/{facility}/resume",
        "POST",
        resume,
        "Resume a suspended facility",
        access="operator",
        responses={200: "the facility", **ERR_F, **ERR_AUTH},
    ),
    ApiRoute(
        "/v1/admin/users",
        "POST",
        create_user,
        "Create a staff or operator user",
        access="operator",
        body=UserRequest,
        body_required=True,
        responses={201: "the user", 409: "user_exists", 422: "invalid_body", **ERR_AUTH},
    ),
    ApiRoute(
        "/v1/admin/facilities/{facility}/limits",
        "PUT",
        put_limits,
        "Set a facility's rate limits (Art. 37)",
        access="operator",
        body=LimitsRequest,
        body_required=True,
        responses={
            200: "{facility, rate, rate_ip, rate_key}",
            400: "invalid_facility",
            404: "unknown_facility",
            422: "invalid_body",
            **ERR_AUTH,
        },
    ),
]
