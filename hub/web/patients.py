"""HTTP routes of a patient's own actions on their ticket: "I'm here" (check-in) and "I'll be
late" (postpone), where the queue allows them, and finding a ticket again on another device
by its number and phone."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from hub.queue import views
from hub.queue.model import CheckIn, Postpone
from hub.web.bodies import RecoverRequest, parse, read_limited
from hub.web.routing import (
    ApiRoute,
    client_ip,
    idempotency_of,
    info_of,
    json_response,
    services_of,
)


def _patient_action(command_type: type[CheckIn] | type[Postpone]) -> Any:
    async def endpoint(request: Request) -> Response:
        info, _, _ = info_of(request)
        services = services_of(request)
        ticket_id = request.path_params["ticket_id"]
        raw = await read_limited(request, services.settings.max_body_bytes)
        command = command_type(at=time.time(), ticket_id=ticket_id)
        idem = idempotency_of(request, raw)
        result = await services.queues.run(
            info, command, lambda s: views.ticket_view(s, ticket_id), idem
        )
        return json_response(result)

    return endpoint


async def recover_ticket(request: Request) -> Response:
    info, _, _ = info_of(request)
    services = services_of(request)
    raw = await read_limited(request, services.settings.max_body_bytes)
    body = parse(raw, RecoverRequest)
    ip = client_ip(request)
    result = await services.queues.recover(info, body.number, body.phone, ip, time.time())
    return json_response(result)


Q = "/v1/queues/{info}"
ERR_TICKET = {
    400: "malformed information number",
    401: "no or bad token",
    403: "not this ticket, nor staff of this facility",
    404: "unknown_queue | unknown_ticket",
}
ROUTES = [
    ApiRoute(
        Q + "/tickets/recover",
        "POST",
        recover_ticket,
        "Find a ticket again on another device by its number and phone: the ticket and a token",
        access="public",
        body=RecoverRequest,
        body_required=True,
        responses={
            200: "the ticket, ahead, estimate_min and a new token",
            404: "recovery_failed (no such ticket, or not that phone) | unknown_queue",
            429: "rate_limited",
            400: "malformed information number | bad_json",
            422: "invalid_body",
        },
    ),
    ApiRoute(
        Q + "/tickets/{ticket_id}/arrived",
        "POST",
        _patient_action(CheckIn),
        "The patient is here (check-in), when the queue allows it",
        access="ticket-or-staff",
        idempotent=True,
        responses={
            200: "the ticket",
            409: "checkin_not_allowed | ticket_not_waiting",
            **ERR_TICKET,
        },
    ),
    ApiRoute(
        Q + "/tickets/{ticket_id}/postpone",
        "POST",
        _patient_action(Postpone),
        "The patient will be late: move back requeue_offset places (twice at most)",
        access="ticket-or-staff",
        idempotent=True,
        responses={
            200: "the ticket",
            409: "postpone_not_allowed | ticket_not_waiting | postpone_limit_reached "
            "| already_last",
            **ERR_TICKET,
        },
    ),
]
