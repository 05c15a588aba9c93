"""HTTP routes of one queue: the public view, tickets, and the staff's actions."""

from __future__ import annotations

import time
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from hub.errors import NotFound
from hub.queue import views
from hub.queue.actions import TicketOrder
from hub.queue.model import (
    CallNext,
    CallTicket,
    Cancel,
    CloseReception,
    CloseWeb,
    Command,
    Complete,
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
    BookingSettingsRequest,
    CallRequest,
    ConfigRequest,
    PatientRefRequest,
    TicketActionRequest,
    TicketRequest,
    TransferRequest,
    parse,
    read_limited,
)
from hub.web.routing import (
    ApiRoute,
    JSONBytes,
    client_ip,
    idempotency_of,
    info_of,
    json_response,
    principal_of,
    services_of,
)


async def get_queue(request: Request) -> Response:
    info, _, _ = info_of(request)
    view = await services_of(request).queues.public_view(info, time.time())
    # ETag is `"v"` (API.md). A client that knows the epoch may send `"epoch.v"` instead:
    # that matches only in the same epoch, so after a lost-writes epoch renewal with an equal
    # v it gets the new state rather than a 304 (the JS client does this).
    etag = f'"{view.version}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    sent = _etags(request.headers.get("if-none-match", ""))
    if etag in sent or f'"{view.epoch}.{view.version}"' in sent:
        return Response(status_code=304, headers=headers)
    return JSONBytes(view.body, headers=headers)


def _etags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


async def take_ticket(request: Request) -> Response:
    services = services_of(request)
    info, facility, _ = info_of(request)
    principal = principal_of(request)
    raw = await read_limited(request, services.settings.max_body_bytes)
    body = parse(raw, TicketRequest, optional=True)
    order = TicketOrder(
        staff=principal is not None and principal.is_staff_of(facility),
        client_ip=client_ip(request),
        channel=body.channel,
        name=body.name,
        phone=body.phone,
        note=body.note,
        priority=body.priority,
        kiosk=principal.facility if principal is not None and principal.role == "kiosk" else None,
        kiosk_subject=principal.subject if principal is not None else "",
        patient_ref=body.patient_ref or None,
        phone_consent=body.phone_consent,
    )
    idem = idempotency_of(request, raw)
    result = await services.queues.take_ticket(info, facility, order, idem, time.time())
    return json_response(result, status=201)


async def get_ticket(request: Request) -> Response:
    info, facility, _ = info_of(request)
    ticket_id = request.path_params["ticket_id"]
    principal = principal_of(request)
    staff = principal is not None and principal.is_staff_of(facility)
    view = await services_of(request).queues.ticket_answer(info, ticket_id, staff, time.time())
    return json_response(view)


async def cancel_ticket(request: Request) -> Response:
    info, facility, _ = info_of(request)
    ticket_id = request.path_params["ticket_id"]
    principal = principal_of(request)
    by = "staff" if principal is not None and principal.is_staff_of(facility) else "patient"
    command = Cancel(at=time.time(), ticket_id=ticket_id, by=by)
    return await _run(request, info, command, lambda s: views.ticket_view(s, ticket_id))


async def _run(request: Request, info: str, command: Command, respond: Responder) -> Response:
    services = services_of(request)
    raw = await read_limited(request, services.settings.max_body_bytes)
    result = await services.queues.run(info, command, respond, idempotency_of(request, raw))
    return json_response(result)


def _reception_action(command_type: type[Command]) -> Any:
    async def endpoint(request: Request) -> Response:
        info, _, _ = info_of(request)
        return await _run(request, info, command_type(at=time.time()), views.public_view)

    return endpoint


def _called(state: QueueState) -> dict[str, Any]:
    return {
        "called": views.ticket_staff(state.tickets[state.calling[0]]),
        "queue": views.public_view(state),
    }


async def call_next(request: Request) -> Response:
    info, _, _ = info_of(request)
    services = services_of(request)
    raw = await read_limited(request, services.settings.max_body_bytes)
    body = parse(raw, CallRequest, optional=True)
    command = CallNext(at=time.time(), room=body.room)
    result = await services.queues.run(info, command, _called, idempotency_of(request, raw))
    return json_response(result)


TICKET_ACTIONS = ("call", "recall", "absent", "requeue", "complete", "cancel")
_SIMPLE_ACTIONS = {"recall": Recall, "absent": MarkAbsent, "complete": Complete, "cancel": Cancel}


def _ticket_command(action: str, ticket_id: str, body: TicketActionRequest, now: float) -> Command:
    if action == "call":
        return CallTicket(at=now, ticket_id=ticket_id, room=body.room)
    if action == "requeue":
        return Requeue(at=now, ticket_id=ticket_id, to_end=body.to_end)
    simple = _SIMPLE_ACTIONS.get(action)
    if simple is None:
        raise NotFound(f"unknown action {action!r}; one of {', '.join(TICKET_ACTIONS)}")
    return simple(at=now, ticket_id=ticket_id)


async def ticket_action(request: Request) -> Response:
    info, _, _ = info_of(request)
    services = services_of(request)
    ticket_id, action = request.path_params["ticket_id"], request.path_params["action"]
    raw = await read_limited(request, services.settings.max_body_bytes)
    body = parse(raw, TicketActionRequest, optional=True)
    command = _ticket_command(action, ticket_id, body, time.time())

    def respond(state: QueueState) -> dict[str, Any]:
        view = views.ticket_view(state, ticket_id)
        view["ticket"] = views.ticket_staff(state.tickets[ticket_id])
        return view

    result = await services.queues.run(info, command, respond, idempotency_of(request, raw))
    return json_response(result)


async def transfer_ticket(request: Request) -> Response:
    info, _, _ = info_of(request)
    services = services_of(request)
    ticket_id = request.path_params["ticket_id"]
    raw = await read_limited(request, services.settings.max_body_bytes)
    body = parse(raw, TransferRequest)
    idem = idempotency_of(request, raw)
    result = await services.queues.transfer(info, ticket_id, body.to, idem, time.time())
    return json_response(result)


async def set_patient_ref(request: Request) -> Response:
    info, _, _ = info_of(request)
    services = services_of(request)
    ticket_id = request.path_params["ticket_id"]
    raw = await read_limited(request, services.settings.max_body_bytes)
    body = parse(raw, PatientRefRequest)
    who = principal_of(request)
    result = await services.queues.set_patient_ref(info, ticket_id, body.patient_ref, who)
    return json_response(result)


async def staff_view(request: Request) -> Response:
    info, _, _ = info_of(request)
    state = await services_of(request).queues.today(info, time.time())
    return json_response(views.staff_view(state))


async def configure(request: Request) -> Response:
    info, facility, _ = info_of(request)
    services = services_of(request)
    raw = await read_limited(request, services.settings.max_body_bytes)
    body = parse(raw, ConfigRequest)
    config = QueueConfig(
        web_daily_cap=body.web_daily_cap,
        requeue_offset=body.requeue_offset,
        default_minutes=body.default_minutes,
        close_web_at=body.close_web_at,
        allow_checkin=body.allow_checkin,
        allow_postpone=body.allow_postpone,
        bookings=None
        if not isinstance(body.bookings, BookingSettingsRequest)
        else body.bookings.config(),
    )
    keep = body.bookings is msgspec.UNSET
    idem = idempotency_of(request, raw)
    result = await services.queues.configure(info, facility, config, idem, time.time(), keep)
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
        access="public",
        responses={200: "public view", 304: "not modified", **ERR_Q},
    ),
    ApiRoute(
        Q + "/tickets",
        "POST",
        take_ticket,
        "Take a ticket (web, no token) or issue one (staff token: desk, kiosk, phone)",
        access="optional",
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
            400: "malformed information number | invalid_patient_ref | invalid_phone",
        },
    ),
    ApiRoute(
        Q + "/tickets/{ticket_id}",
        "GET",
        get_ticket,
        "One ticket with ahead and estimate_min",
        access="ticket-or-staff",
        responses={200: "the ticket", 401: "no token", 403: "not this ticket", **ERR_Q},
    ),
    ApiRoute(
        Q + "/tickets/{ticket_id}",
        "DELETE",
        cancel_ticket,
        "Cancel a ticket",
        access="ticket-or-staff",
        idempotent=True,
        responses={200: "the cancelled ticket", 409: "illegal_transition", **ERR_STAFF},
    ),
    ApiRoute(
        Q + "/open",
        "POST",
        _reception_action(OpenReception),
        "Open reception",
        access="staff",
        idempotent=True,
        responses={200: "public view", **ERR_STAFF},
    ),
    ApiRoute(
        Q + "/close",
        "POST",
        _reception_action(CloseReception),
        "Close reception",
        access="staff",
        idempotent=True,
        responses={200: "public view", **ERR_STAFF},
    ),
    ApiRoute(
        Q + "/web/open",
        "POST",
        _reception_action(OpenWeb),
        "Open web acceptance",
        access="staff",
        idempotent=True,
        responses={200: "public view", **ERR_STAFF},
    ),
    ApiRoute(
        Q + "/web/close",
        "POST",
        _reception_action(CloseWeb),
        "Close web acceptance",
        access="staff",
        idempotent=True,
        responses={200: "public view", **ERR_STAFF},
    ),
    ApiRoute(
        Q + "/call-next",
        "POST",
        call_next,
        "Call the next waiting ticket into a room",
        access="staff",
        body=CallRequest,
        idempotent=True,
        responses={200: "{called: ticket}", 409: "queue_empty", **ERR_STAFF},
    ),
    ApiRoute(
        Q + "/tickets/{ticket_id}/transfer",
        "POST",
        transfer_ticket,
        "Transfer a ticket to another counter of the facility {to} (same id and number)",
        access="staff",
        body=TransferRequest,
        body_required=True,
        idempotent=True,
        responses={
            200: "the ticket (transferred) and, under moved, at the target counter",
            409: "illegal_transition",
            422: "invalid_body",
            **ERR_STAFF,
        },
    ),
    ApiRoute(
        Q + "/tickets/{ticket_id}/patient-ref",
        "PUT",
        set_patient_ref,
        "Link a ticket to a patient-card number {patient_ref} (staff only; sent to the EMR)",
        access="staff",
        body=PatientRefRequest,
        body_required=True,
        responses={
            200: "the ticket (staff view)",
            400: "invalid_patient_ref | malformed",
            422: "invalid_body",
            **ERR_STAFF,
        },
    ),
    ApiRoute(
        Q + "/tickets/{ticket_id}/{action}",
        "POST",
        ticket_action,
        "Act on a ticket: call {room}, recall, absent, requeue {to_end}, complete, cancel",
        access="staff",
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
        access="staff",
        responses={200: "staff view", **ERR_STAFF},
    ),
    ApiRoute(
        Q + "/config",
        "PUT",
        configure,
        "Set the daily web cap, requeue offset, default minutes, web closing time, "
        "whether patients may check in and postpone, and the time-band bookings (`bookings`: "
        "left out keeps them, null turns them off)",
        access="staff",
        body=ConfigRequest,
        body_required=True,
        idempotent=True,
        responses={200: "staff view", 422: "invalid_body | invalid_bands", **ERR_STAFF},
    ),
]
