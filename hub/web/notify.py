"""HTTP routes of notifications to patients (docs/notifications.md): a ticket subscribes to
Web Push, e-mail or LINE and opts out; the page reads the VAPID public key; staff set the
facility's default threshold and quiet hours. Registered before the generic
``POST …/tickets/{ticket_id}/{action}`` of hub/web/queues.py, which would take them."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from hub.web.bodies import HHMM, parse, read_limited
from hub.web.routing import ApiRoute, facility_of, info_of, json_response, services_of


class SubscribeRequest(msgspec.Struct, kw_only=True):
    """Subscribe this ticket: ``subscription`` (a PushSubscription) for webpush, ``email``
    (and ``link``: put the ticket page's address in the mail) for email, nothing more for
    line (the answer has the linking code and URL)."""

    channel: Literal["webpush", "email", "line"]
    subscription: dict[str, Any] | None = None
    email: Annotated[str, msgspec.Meta(max_length=254)] | None = None
    link: bool | None = None
    threshold: Annotated[int, msgspec.Meta(ge=1, le=10)] | None = None
    """Tell me when this many or fewer are ahead (default: the facility's, else 3)."""
    lang: Literal["ja", "en"] | None = None


class NotifySettingsRequest(msgspec.Struct, kw_only=True):
    """The facility's default ``near`` threshold and its quiet hours (facility time): no
    message from ``quiet_from`` to ``quiet_to`` (default 21:00 to 07:00)."""

    threshold_default: Annotated[int, msgspec.Meta(ge=1, le=10)] = 3
    quiet_from: HHMM = "21:00"
    quiet_to: HHMM = "07:00"


async def subscribe(request: Request) -> Response:
    info, _, _ = info_of(request)
    services = services_of(request)
    raw = await read_limited(request, services.settings.max_body_bytes)
    body = parse(raw, SubscribeRequest)
    fields = {k: v for k, v in msgspec.structs.asdict(body).items() if v is not None}
    ticket_id = request.path_params["ticket_id"]
    result = await services.notify.service.subscribe(info, ticket_id, fields, time.time())
    return json_response(result, status=201)


async def unsubscribe(request: Request) -> Response:
    info, _, _ = info_of(request)
    services = services_of(request)
    ticket_id, channel = request.path_params["ticket_id"], request.path_params["channel"]
    return json_response(await services.notify.service.unsubscribe(info, ticket_id, channel))


async def push_key(request: Request) -> Response:
    return json_response(services_of(request).notify.service.push_key())


async def get_settings(request: Request) -> Response:
    facility = facility_of(request)
    return json_response(await services_of(request).notify.service.settings(facility))


async def put_settings(request: Request) -> Response:
    facility = facility_of(request)
    services = services_of(request)
    raw = await read_limited(request, services.settings.max_body_bytes)
    body = parse(raw, NotifySettingsRequest)
    result = await services.notify.service.put_settings(
        facility, body.threshold_default, body.quiet_from, body.quiet_to
    )
    return json_response(result)


T = "/v1/queues/{info}/tickets/{ticket_id}/notifications"
ERR_TICKET = {
    400: "malformed information number",
    401: "no or bad token",
    403: "not this ticket, nor staff of this facility",
}
ERR_FACILITY = {
    400: "invalid_facility",
    401: "no or bad token",
    403: "not staff of this facility",
    404: "unknown_facility",
}
ROUTES = [
    ApiRoute(
        T,
        "POST",
        subscribe,
        "Notify this ticket's patient (near turn, called) by webpush, email or line",
        access="ticket-or-staff",
        body=SubscribeRequest,
        body_required=True,
        responses={
            201: "{channel, threshold, near_done} (line: and {code, url}; email: and "
            "{confirmation_sent, sender_domain})",
            404: "unknown_queue | unknown_ticket | channel_unavailable",
            409: "ticket_finished",
            422: "invalid_body | invalid_email",
            **ERR_TICKET,
        },
    ),
    ApiRoute(
        T + "/{channel}",
        "DELETE",
        unsubscribe,
        "Stop notifying this ticket by {channel} (acts at once)",
        access="ticket-or-staff",
        path_enums={"channel": ("webpush", "email", "line")},
        responses={
            200: "{channel, removed}",
            404: "channel_unavailable",
            **ERR_TICKET,
        },
    ),
    ApiRoute(
        "/v1/push/key",
        "GET",
        push_key,
        "The Web Push (VAPID) public key the patient page subscribes with",
        access="public",
        responses={200: "{key}: base64url", 404: "push_disabled"},
    ),
    ApiRoute(
        "/v1/facilities/{facility}/notify/settings",
        "GET",
        get_settings,
        "The facility's notification settings (default threshold, quiet hours, channels)",
        access="staff",
        responses={200: "{threshold_default, quiet_from, quiet_to, channels}", **ERR_FACILITY},
    ),
    ApiRoute(
        "/v1/facilities/{facility}/notify/settings",
        "PUT",
        put_settings,
        "Set the default near threshold (1-10) and the quiet hours (HH:MM, facility time)",
        access="staff",
        body=NotifySettingsRequest,
        body_required=True,
        responses={200: "the settings", 422: "invalid_body", **ERR_FACILITY},
    ),
]
