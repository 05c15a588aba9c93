"""A ticket's live link for paper: ``GET /v1/queues/{info}/tickets/{id}/link``.

The printed ticket carries a QR code of the patient's live page. That page needs the ticket's
token, so the link puts it in the URL fragment (``/q/{info}/t/{id}#token=…``): browsers never
send a fragment to a server, so it stays out of access logs. The QR code is drawn here as SVG
with ``segno`` (pure Python), so receipt-printer browsers need no JavaScript QR encoder.
"""

from __future__ import annotations

import io
import time

import segno
from starlette.requests import Request
from starlette.responses import Response

from hub.web.routing import ApiRoute, info_of, json_response, principal_of, services_of


def public_base(request: Request) -> str:
    """The hub's address as patients see it: JUNBAN_PUBLIC_URL, else this request's."""
    configured = services_of(request).settings.public_url
    if configured:
        return configured.rstrip("/")
    return f"{request.url.scheme}://{request.url.netloc}"


def qr_svg(text: str) -> str:
    """``text`` as a QR code (error correction M, no fixed size: it scales to its box)."""
    code = segno.make_qr(text, error="m")
    out = io.BytesIO()
    code.save(out, kind="svg", xmldecl=False, svgns=True, omitsize=True, border=2)
    return out.getvalue().decode()


async def ticket_link(request: Request) -> Response:
    info, _, _ = info_of(request)
    ticket_id = request.path_params["ticket_id"]
    services = services_of(request)
    await services.queues.ticket_today(info, ticket_id, time.time())
    principal = principal_of(request)
    if principal is not None and principal.holds_ticket(info, ticket_id):
        _, _, token = (request.headers.get("authorization") or "").partition(" ")
        token = token.strip()
    else:  # staff printing a desk or kiosk ticket: a patient token for that ticket
        token = services.tokens.patient(info, ticket_id)
    url = f"{public_base(request)}/q/{info}/t/{ticket_id}#token={token}"
    return json_response({"url": url, "qr_svg": qr_svg(url)})


ROUTES = [
    ApiRoute(
        "/v1/queues/{info}/tickets/{ticket_id}/link",
        "GET",
        ticket_link,
        "The ticket's live page URL (its token in the fragment) and that URL as a QR code SVG",
        access="ticket-or-staff",
        responses={
            200: "{url, qr_svg}",
            400: "invalid_info",
            401: "no token",
            403: "not this ticket",
            404: "unknown_queue | unknown_ticket",
        },
    ),
]
