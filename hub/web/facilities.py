"""HTTP routes of facilities, accounts and the operator's admin API."""

from __future__ import annotations

import time
from dataclasses import replace

import orjson
from starlette.requests import Request
from starlette.responses import Response

from hub.accounts import check_password_policy
from hub.auth import require_operator, require_staff
from hub.errors import Conflict, NotFound, Unprocessable
from hub.queue import calendar
from hub.queue.facilities import Facility
from hub.queue.model import QueueConfig
from hub.web import contracts
from hub.web.bodies import (
    FacilityRequest,
    MessageRequest,
    SuspendRequest,
    UserRequest,
    parse,
    read_limited,
)
from hub.web.routing import ApiRoute, facility_of, hub_of, json_response, principal_of


async def _facility(request: Request) -> Facility:
    number = facility_of(request)
    record = await hub_of(request).facilities.get(number)
    if record is None:
        raise NotFound("no such facility", code="unknown_facility")
    return record


async def get_facility(request: Request) -> Response:
    """The partner API: name, address, hours, message and each counter's public view."""
    record = await _facility(request)
    contracts.require_api_option(request, record)
    store = hub_of(request).store
    queues = []
    for info in record.infos():
        found = await store.load_view(info)
        if found is not None:
            queues.append(orjson.loads(found[0]))
    notices = record.current_notices(time.time())
    return json_response({**record.public(), "queues": queues, "notices": notices})


async def put_message(request: Request) -> Response:
    record = await _facility(request)
    require_staff(principal_of(request), record.number)
    hub = hub_of(request)
    body = parse(await read_limited(request, hub.settings.max_body_bytes), MessageRequest)
    await hub.facilities.update(record.number, lambda r: replace(r, message=body.text))
    await hub.service.set_message(record, body.text, time.time())
    return json_response({"facility": record.number, "message": body.text})


async def _set_suspended(request: Request, suspended: bool) -> Response:
    require_operator(principal_of(request))
    record = await _facility(request)
    hub = hub_of(request)
    raw = await read_limited(request, hub.settings.max_body_bytes)
    reason = parse(raw, SuspendRequest, optional=True).reason if suspended else ""
    if record.contract:  # under contract: the contract decides (never two disagreeing states)
        return await contracts.set_facility_suspended(request, record, suspended, reason)
    updated = await hub.facilities.update(
        record.number, lambda r: replace(r, suspended=suspended, suspended_reason=reason)
    )
    if updated is None:
        raise NotFound("no such facility", code="unknown_facility")
    await hub.service.set_suspended(updated, suspended, time.time())
    return json_response(updated.public())


async def suspend(request: Request) -> Response:
    return await _set_suspended(request, True)


async def resume(request: Request) -> Response:
    return await _set_suspended(request, False)


async def create_facility(request: Request) -> Response:
    require_operator(principal_of(request))
    hub = hub_of(request)
    body = parse(await read_limited(request, hub.settings.max_body_bytes), FacilityRequest)
    try:
        calendar.zone(body.tz)
    except ValueError as exc:
        raise Unprocessable(str(exc), code="invalid_body") from exc
    if not body.counters:
        raise Unprocessable("a facility needs at least one counter", code="invalid_body")
    record = Facility(
        number=body.number,
        name=body.name,
        address=body.address,
        hours=body.hours,
        tz=body.tz,
        counters=dict(body.counters),
    )
    if not await hub.service.create_facility(record, QueueConfig(tz=body.tz), time.time()):
        raise Conflict("that facility number is already assigned", code="facility_exists")
    return json_response(record.public(), status=201)


async def create_user(request: Request) -> Response:
    require_operator(principal_of(request))
    hub = hub_of(request)
    body = parse(await read_limited(request, hub.settings.max_body_bytes), UserRequest)
    check_password_policy(body.password, body.user)
    if body.role == "staff":
        if body.facility is None or await hub.facilities.get(body.facility) is None:
            raise Unprocessable("a staff user needs an existing facility", code="invalid_body")
    user = await hub.users.add(body.user, body.password, body.role, body.facility)
    if user is None:
        raise Conflict("that user name is taken", code="user_exists")
    return json_response({"user": user.name, "role": user.role, "facility": user.facility}, 201)


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
        responses={200: "facility with queues", **ERR_F},
    ),
    ApiRoute(
        F + "/message",
        "PUT",
        put_message,
        "Set the i-message shown to patients",
        auth="staff",
        body=MessageRequest,
        body_required=True,
        responses={200: "the message", 422: "invalid_body", **ERR_F, **ERR_AUTH},
    ),
    ApiRoute(
        A,
        "POST",
        create_facility,
        "Assign a facility number and its counters",
        auth="operator",
        body=FacilityRequest,
        body_required=True,
        responses={201: "the facility", 409: "facility_exists", 422: "invalid_body", **ERR_AUTH},
    ),
    ApiRoute(
        A + "/{facility}/suspend",
        "POST",
        suspend,
        "Suspend a facility (Art. 12)",
        auth="operator",
        body=SuspendRequest,
        responses={200: "the facility", **ERR_F, **ERR_AUTH},
    ),
    ApiRoute(
        A + "/{facility}/resume",
        "POST",
        resume,
        "Resume a suspended facility",
        auth="operator",
        responses={200: "the facility", **ERR_F, **ERR_AUTH},
    ),
    ApiRoute(
        "/v1/admin/users",
        "POST",
        create_user,
        "Create a staff or operator user",
        auth="operator",
        body=UserRequest,
        body_required=True,
        responses={201: "the user", 409: "user_exists", 422: "invalid_body", **ERR_AUTH},
    ),
]
