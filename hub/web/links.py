"""Links for paper: a ticket's live link (``GET /v1/queues/{info}/tickets/{id}/link``) and a
counter's take-a-ticket link for the entrance poster (``GET /v1/queues/{info}/qr``).

The printed ticket carries a QR code of the patient's live page. That page needs the ticket's
token, so the long link puts it in the URL fragment (``/q/{info}/t/{id}#token=…``): browsers
never send a fragment to a server, so it stays out of access logs. The QR code encodes the
ticket's short link instead (``/t/{facility}/{code}``, ``hub.shortlinks``), which redirects
there: a few dozen characters, so a QR code of 29×29 modules that any receipt printer prints
sharply. The QR codes are drawn here as SVG with ``segno`` (``hub.qr``).
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response

from hub.errors import NotFound
from hub.qr import qr_svg
from hub.web.routing import ApiRoute, info_of, json_response, principal_of, services_of


def public_base(request: Request) -> str:
    """The hub's address as patients see it: JUNBAN_PUBLIC_URL, else this request's."""
    configured = services_of(request).settings.public_url
    if configured:
        return configured.rstrip("/")
    return f"{request.url.scheme}://{request.url.netloc}"


async def ticket_link(request: Request) -> Response:
    info, _, _ = info_of(request)
    ticket_id = request.path_params["ticket_id"]
    services = services_of(request)
    short = await services.shortlinks.for_ticket(info, ticket_id, time.time())
    principal = principal_of(request)
    if principal is not None and principal.holds_ticket(info, ticket_id):
        _, _, token = (request.headers.get("authorization") or "").partition(" ")
        token = token.strip()
    else:  # staff printing a desk or kiosk ticket: a patient token for that ticket
        token = services.tokens.patient(info, ticket_id)
    base = public_base(request)
    url = f"{base}/q/{info}/t/{ticket_id}#token={token}"
    short_url = f"{base}{short.path}"
    return json_response({"url": url, "short_url": short_url, "qr_svg": qr_svg(short_url)})


async def queue_qr(request: Request) -> Response:
    """The counter's patient page as a QR code (error correction Q: a poster on a wall gets
    scuffed and photographed at an angle)."""
    info, _, _ = info_of(request)
    if not await services_of(request).queues.exists(info):
        raise NotFound("no such queue", code="unknown_queue")
    url = f"{public_base(request)}/q/{info}"
    return json_response({"url": url, "qr_svg": qr_svg(url, error="q")})


ROUTES = [
    ApiRoute(
        "/v1/queues/{info}/tickets/{ticket_id}/link",
        "GET",
        ticket_link,
        "The ticket's live page URL (its token in the fragment), its short link "
        "(/t/{facility}/{code}, until the end of the day) and the short link as a QR code SVG",
        access="ticket-or-staff",
        responses={
            200: "{url, short_url, qr_svg}",
            400: "invalid_info",
            401: "no token",
            403: "not this ticket",
            404: "unknown_queue | unknown_ticket",
        },
    ),
    ApiRoute(
        "/v1/queues/{info}/qr",
        "GET",
        queue_qr,
        "The counter's patient page (/q/{info}) and that URL as a QR code SVG (the poster)",
        access="public",
        responses={200: "{url, qr_svg}", 400: "invalid_info", 404: "unknown_queue"},
    ),
]
