"""HTTP routes of one queue: the public view, tickets, and the staff's actions."""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from hub import metrics
from hub.auth import Principal, require_staff
from hub.errors import Forbidden, NotFound, RateLimited, Unauthorized
from hub.queue import calendar, rules, views
from hub.queue.model import (
    CallNext,
    CallTicket,
    Cancel,
    CloseReception,
    CloseWeb,
    Command,
    Complete,
    Configure,
    DayStarted,
    IssueTicket,
    MarkAbsent,
    OpenReception,
    OpenWeb,
    QueueConfig,
    QueueState,
    Recall,
    Requeue,
)
from hub.queue.service import Responder
from hub.web.bodies import (
    CallRequest,
    ConfigRequest,
    TicketActionRequest,
    TicketRequest,
    parse,
    read_limited,
)
from hub.web.routing import (
    ApiRoute,
    JSONBytes,
    client_ip,
    hub_of,
    idempotency_of,
    info_of,
    json_response,
    principal_of,
)

if TYPE_CHECKING:
    from hub.app import Hub

PATIENT_TOKEN_TTL_S = 36 * 3600


def patient_token(hub: Hub, info: str, ticket_id: str) -> str:
    """The token that lets one patient follow and cancel one ticket (36 h: past the day)."""
    facility = info.split("-", 1)[0]
    return hub.tokens.issue(
        "patient",
        subject=ticket_id,
        facility=facility,
        info=info,
        ticket=ticket_id,
        ttl_s=PATIENT_TOKEN_TTL_S,
    )


async def get_queue(request: Request) -> Response:
    info, _, _ = info_of(request)
    hub = hub_of(request)
    found = await hub.store.load_view(info)
    if found is None:
        raise NotFound("no such queue", code="unknown_queue")
    parsed = orjson.loads(found[0])
    if await hub.service.roll_day_if_stale(info, parsed, time.time()):
        found = await hub.store.load_view(info) or found
        parsed = orjson.loads(found[0])
    view, version = found
    # ETag is `"v"` (API.md). A client that knows the epoch may send `"epoch.v"` instead:
    # that matches only in the same epoch, so after a lost-writes epoch renewal with an equal
    # v it gets the new state rather than a 304 (the JS client does this).
    etag = f'"{version}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    sent = _etags(request.headers.get("if-none-match", ""))
    if etag in sent or f'"{parsed.get("epoch", "")}.{version}"' in sent:
        return Response(status_code=304, headers=headers)
    return JSONBytes(view, headers=headers)


def _etags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


async def take_ticket(request: Request) -> Response:
    hub = hub_of(request)
    info, facility, _ = info_of(request)
    principal = principal_of(request)
    raw = await read_limited(request, hub.settings.max_body_bytes)
    body = parse(raw, TicketRequest, optional=True)
    staff = principal is not None and principal.is_staff_of(facility)
    channel = body.channel or ("desk" if staff else "web")
    if not staff and (channel != "web" or body.priority):
        raise Forbidden("only staff may issue desk, kiosk, phone or priority tickets")
    idem = idempotency_of(request, raw)
    if idem is not None:  # a retry gets its ticket back before any limit is counted
        first = await hub.service.replay(info, idem)
        if first is not None:
            return json_response(first, status=201)
    if not staff:
        await _count_web_ticket(request, facility)
    ticket_id = secrets.token_urlsafe(9)
    command = IssueTicket(
        at=time.time(),
        ticket_id=ticket_id,
        channel=channel,
        name=body.name,
        phone=body.phone,
        note=body.note,
        priority=body.priority,
        service_hours=hub.settings.service_hours if channel == "web" else None,
    )

    def respond(state: QueueState) -> dict[str, Any]:
        token = patient_token(hub, info, ticket_id)
        return {
            **views.ticket_view(state, ticket_id),
            "token": token,
            "url": f"/q/{info}/t/{ticket_id}",
        }

    result = await hub.service.execute(info, command, respond, idem)
    return json_response(result, status=201)


async def _count_web_ticket(request: Request, facility: str) -> None:
    """Art. 37: the facility's own limits when the operator set some (read from this
    process's 2-second cache of the record), else the global ones; one GCRA call."""
    hub = hub_of(request)
    record = await hub.facilities.cached(facility)
    rate_ip = (record.rate_ip if record else None) or hub.settings.rate_ip
    rate = (record.rate if record else None) or hub.settings.rate_facility
    limits = [("ip", client_ip(request), rate_ip), ("facility", facility, rate)]
    try:
        await hub.limiter.hit(limits, facility)
    except RateLimited:
        if record is not None and (record.rate or record.rate_ip):
            metrics.FACILITY_LIMITED.labels(facility).inc()
        raise


def ticket_reader(request: Request, info: str, facility: str, ticket_id: str) -> Principal:
    principal = principal_of(request)
    if principal is None:
        raise Unauthorized("this ticket's token (or a staff token) is required")
    if not (principal.holds_ticket(info, ticket_id) or principal.is_staff_of(facility)):
        raise Forbidden("this token is not for that ticket", code="forbidden")
    return principal


async def get_ticket(request: Request) -> Response:
    info, facility, _ = info_of(request)
    ticket_id = request.path_params["ticket_id"]
    principal = ticket_reader(request, info, facility, ticket_id)
    state = await load_today(request, info)
    if ticket_id not in state.tickets:
        raise NotFound("no such ticket in today's queue", code="unknown_ticket")
    view = views.ticket_view(state, ticket_id)
    if principal.is_staff_of(facility):
        view["ticket"] = views.ticket_staff(state.tickets[ticket_id])
    return json_response(view)


async def cancel_ticket(request: Request) -> Response:
    info, facility, _ = info_of(request)
    ticket_id = request.path_params["ticket_id"]
    principal = ticket_reader(request, info, facility, ticket_id)
    by = "staff" if principal.is_staff_of(facility) else "patient"
    command = Cancel(at=time.time(), ticket_id=ticket_id, by=by)
    return await _run(request, info, command, lambda s: views.ticket_view(s, ticket_id))


async def _run(request: Request, info: str, command: Command, respond: Responder) -> Response:
    hub = hub_of(request)
    raw = await read_limited(request, hub.settings.max_body_bytes)
    result = await hub.service.execute(info, command, respond, idempotency_of(request, raw))
    return json_response(result)


def _staff(request: Request) -> tuple[str, str]:
    info, facility, _ = info_of(request)
    require_staff(principal_of(request), facility)
    return info, facility


def _reception_action(command_type: type[Command]) -> Any:
    async def endpoint(request: Request) -> Response:
        info, _ = _staff(request)
        return await _run(request, info, command_type(at=time.time()), views.public_view)

    return endpoint


async def call_next(request: Request) -> Response:
    info, _ = _staff(request)
    hub = hub_of(request)
    raw = await read_limited(request, hub.settings.max_body_bytes)
    body = parse(raw, CallRequest, optional=True)
    command = CallNext(at=time.time(), room=body.room)
    result = await hub.service.execute(
        info,
        command,
        lambda s: {
            "called": views.ticket_staff(s.tickets[s.calling[0]]),
            "queue": views.public_view(s),
        },
        idempotency_of(request, raw),
    )
    return json_response(result)


TICKET_ACTIONS = ("call", "recall", "absent", "requeue", "complete", "cancel")


async def ticket_action(request: Request) -> Response:
    info, _ = _staff(request)
    hub = hub_of(request)
    ticket_id, action = request.path_params["ticket_id"], request.path_params["action"]
    raw = await read_limited(request, hub.settings.max_body_bytes)
    now = time.time()
    command: Command
    body = parse(raw, TicketActionRequest, optional=True)
    if action == "call":
        command = CallTicket(at=now, ticket_id=ticket_id, room=body.room)
    elif action == "requeue":
        command = Requeue(at=now, ticket_id=ticket_id, to_end=body.to_end)
    elif action in TICKET_ACTIONS:
        simple = {"recall": Recall, "absent": MarkAbsent, "complete": Complete}
        command = (
            Cancel(at=now, ticket_id=ticket_id)
            if action == "cancel"
            else simple[action](at=now, ticket_id=ticket_id)
        )
    else:
        raise NotFound(f"unknown action {action!r}; one of {', '.join(TICKET_ACTIONS)}")

    def respond(state: QueueState) -> dict[str, Any]:
        view = views.ticket_view(state, ticket_id)
        view["ticket"] = views.ticket_staff(state.tickets[ticket_id])
        return view

    result = await hub.service.execute(info, command, respond, idempotency_of(request, raw))
    return json_response(result)


async def staff_view(request: Request) -> Response:
    info, _ = _staff(request)
    return json_response(views.staff_view(await load_today(request, info)))


async def load_today(request: Request, info: str) -> QueueState:
    """The queue as of now: if no command has started today yet, yesterday's tickets are
    gone already (as the first command will make them), without writing anything."""
    state = await hub_of(request).store.load(info)
    if state is None:
        raise NotFound("no such queue", code="unknown_queue")
    now = time.time()
    day = calendar.business_day(now, state.config.tz)
    return rules.evolve(state, DayStarted(at=now, day=day)) if day > state.day else state


async def configure(request: Request) -> Response:
    info, facility = _staff(request)
    hub = hub_of(request)
    raw = await read_limited(request, hub.settings.max_body_bytes)
    body = parse(raw, ConfigRequest)
    record = await hub.facilities.get(facility)
    if record is None:
        raise NotFound("no such queue", code="unknown_queue")
    config = QueueConfig(
        tz=record.tz,
        web_daily_cap=body.web_daily_cap,
        requeue_offset=body.requeue_offset,
        default_minutes=body.default_minutes,
        close_web_at=body.close_web_at,
    )
    command = Configure(at=time.time(), config=config)
    result = await hub.service.execute(
        info, command, views.staff_view, idempotency_of(request, raw)
    )
    return json_response(result)


Q = "/v1/queues/{info}"
ERR_Q = {400: "malformed information number", 404: "unknown_queue | unknown_ticket"}
ERR_STAFF = {**ERR_Q, 401: "no or bad token", 403: "not staff of this facility"}
ROUTES = [
    ApiRoute(
        Q,
        "GET",
        get_queue,
        'The queue\'s public view (ETag = "v"; If-None-Match → 304)',
        responses={200: "public view", 304: "not modified", **ERR_Q},
    ),
    ApiRoute(
        Q + "/tickets",
        "POST",
        take_ticket,
        "Take a ticket (web, no token) or issue one (staff token: desk, kiosk, phone)",
        auth="optional",
        body=TicketRequest,
        idempotent=True,
        responses={
            201: "the ticket, ahead, estimate_min and its token",
            409: "reception_closed | web_closed | daily_cap_reached",
            403: "facility_suspended | forbidden",
            429: "rate_limited",
            503: "outside_service_hours",
            413: "body_too_large",
            422: "invalid_body",
            **ERR_Q,
        },
    ),
    ApiRoute(
        Q + "/tickets/{ticket_id}",
        "GET",
        get_ticket,
        "One ticket with ahead and estimate_min",
        auth="ticket-or-staff",
        responses={200: "the ticket", 401: "no token", 403: "not this ticket", **ERR_Q},
    ),
    ApiRoute(
        Q + "/tickets/{ticket_id}",
        "DELETE",
        cancel_ticket,
        "Cancel a ticket",
        auth="ticket-or-staff",
        idempotent=True,
        responses={200: "the cancelled ticket", 409: "illegal_transition", **ERR_STAFF},
    ),
    ApiRoute(
        Q + "/open",
        "POST",
        _reception_action(OpenReception),
        "Open reception",
        auth="staff",
        idempotent=True,
        responses={200: "public view", **ERR_STAFF},
    ),
    ApiRoute(
        Q + "/close",
        "POST",
        _reception_action(CloseReception),
        "Close reception",
        auth="staff",
        idempotent=True,
        responses={200: "public view", **ERR_STAFF},
    ),
    ApiRoute(
        Q + "/web/open",
        "POST",
        _reception_action(OpenWeb),
        "Open web acceptance",
        auth="staff",
        idempotent=True,
        responses={200: "public view", **ERR_STAFF},
    ),
    ApiRoute(
        Q + "/web/close",
        "POST",
        _reception_action(CloseWeb),
        "Close web acceptance",
        auth="staff",
        idempotent=True,
        responses={200: "public view", **ERR_STAFF},
    ),
    ApiRoute(
        Q + "/call-next",
        "POST",
        call_next,
        "Call the next waiting ticket into a room",
        auth="staff",
        body=CallRequest,
        idempotent=True,
        responses={200: "{called: ticket}", 409: "queue_empty", **ERR_STAFF},
    ),
    ApiRoute(
        Q + "/tickets/{ticket_id}/{action}",
        "POST",
        ticket_action,
        "Act on a ticket: call {room}, recall, absent, requeue {to_end}, complete, cancel",
        auth="staff",
        body=TicketActionRequest,
        path_enums={"action": TICKET_ACTIONS},
        idempotent=True,
        responses={
            200: "the ticket",
            409: "illegal_transition",
            404: "unknown_ticket | unknown action",
            400: "malformed",
            401: "no or bad token",
            403: "not staff of this facility",
        },
    ),
    ApiRoute(
        Q + "/staff",
        "GET",
        staff_view,
        "Full state with personal data (staff only)",
        auth="staff",
        responses={200: "staff view", **ERR_STAFF},
    ),
    ApiRoute(
        Q + "/config",
        "PUT",
        configure,
        "Set the daily web cap, requeue offset, default minutes, web closing time",
        auth="staff",
        body=ConfigRequest,
        body_required=True,
        idempotent=True,
        responses={200: "staff view", 422: "invalid_body", **ERR_STAFF},
    ),
]
