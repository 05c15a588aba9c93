"""HTTP routes of time-band reservations (the use cases: ``hub.booking.service``)."""

from __future__ import annotations

import re
import time
from datetime import date

from starlette.requests import Request
from starlette.responses import Response

from hub.booking.service import BookingOrder
from hub.errors import BadRequest
from hub.web.bodies import BookingRequest, parse, read_limited
from hub.web.routing import (
    ApiRoute,
    client_ip,
    idempotency_of,
    info_of,
    json_response,
    principal_of,
    services_of,
)

DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")


def _staff(request: Request, facility: str) -> bool:
    principal = principal_of(request)
    return principal is not None and principal.is_staff_of(facility)


def _date(request: Request, name: str) -> str | None:
    value = request.query_params.get(name) or None
    if value is not None and not DATE_RE.match(value):
        raise BadRequest(f"{name} is a date, YYYY-MM-DD", code="invalid_query")
    if value is not None:
        try:
            date.fromisoformat(value)
        except ValueError as exc:
            raise BadRequest(f"{name} is a date, YYYY-MM-DD", code="invalid_query") from exc
    return value


async def list_bands(request: Request) -> Response:
    info, _, _ = info_of(request)
    days_text = request.query_params.get("days", "14")
    if not (days_text.isascii() and days_text.isdigit()) or not 1 <= int(days_text) <= 62:
        raise BadRequest("days is 1 to 62", code="invalid_query")
    answer = await services_of(request).bookings.bands(
        info, _date(request, "from"), int(days_text), time.time()
    )
    return json_response(answer)


async def make_booking(request: Request) -> Response:
    services = services_of(request)
    info, facility, _ = info_of(request)
    raw = await read_limited(request, services.settings.max_body_bytes)
    body = parse(raw, BookingRequest)
    order = BookingOrder(
        day=body.date,
        band=body.band,
        staff=_staff(request, facility),
        client_ip=client_ip(request),
        channel=body.channel,
        name=body.name,
        phone=body.phone,
        patient_ref=body.patient_ref or None,
    )
    idem = idempotency_of(request, raw)
    answer = await services.bookings.book(info, facility, order, idem, time.time())
    return json_response(answer, status=201)


async def day_book(request: Request) -> Response:
    info, _, _ = info_of(request)
    day = _date(request, "date")
    return json_response(await services_of(request).bookings.day_book(info, day, time.time()))


async def get_booking(request: Request) -> Response:
    info, facility, _ = info_of(request)
    booking_id = request.path_params["ticket_id"]
    staff = _staff(request, facility)
    answer = await services_of(request).bookings.get(info, booking_id, staff, time.time())
    return json_response(answer)


async def cancel_booking(request: Request) -> Response:
    info, facility, _ = info_of(request)
    booking_id = request.path_params["ticket_id"]
    staff = _staff(request, facility)
    answer = await services_of(request).bookings.cancel(info, booking_id, staff, time.time())
    return json_response(answer)


async def check_in(request: Request) -> Response:
    info, facility, _ = info_of(request)
    booking_id = request.path_params["ticket_id"]
    staff = _staff(request, facility)
    answer = await services_of(request).bookings.check_in(info, booking_id, staff, time.time())
    return json_response(answer)


Q = "/v1/queues/{info}"
B = Q + "/bookings/{ticket_id}"
ERR = {400: "malformed information number", 404: "unknown_queue | bookings_off"}
ERR_ONE = {
    **ERR,
    401: "no or bad token",
    403: "not this booking's patient nor staff of the facility",
    404: "unknown_queue | bookings_off | unknown_booking",
}
ROUTES = [
    ApiRoute(
        Q + "/bands",
        "GET",
        list_bands,
        "Places left per band and day (?from= date, default today; &days=1–62, default 14; "
        "within the horizon): counts only, no names",
        access="public",
        responses={
            200: "{info, tz, today, horizon_days, check_in, early_min, late_min, days: "
            "[{date, closed, bands: [{from, to, capacity, remaining, open}]}]}",
            **ERR,
            400: "malformed information number | invalid_query",
        },
    ),
    ApiRoute(
        Q + "/bookings",
        "POST",
        make_booking,
        "Book a place in a band (anyone: channel web; staff: desk or phone, until the band ends)",
        access="optional",
        body=BookingRequest,
        body_required=True,
        idempotent=True,
        responses={
            201: "{info, booking, window, can, token, url}",
            409: "band_full | band_closed | outside_horizon | duplicate_booking",
            403: "facility_suspended | forbidden",
            404: "unknown_queue | bookings_off | unknown_band",
            429: "rate_limited",
            503: "outside_service_hours",
            422: "invalid_body",
            400: "malformed information number | invalid_patient_ref",
        },
    ),
    ApiRoute(
        Q + "/bookings",
        "GET",
        day_book,
        "The day's bookings with names and its bands' counts (?date=, default today)",
        access="staff",
        responses={
            200: "{date, closed, bands, bookings: [{id, band, status, channel, name, phone, "
            "patient_ref, …}]}",
            **ERR_ONE,
            400: "malformed information number | invalid_query",
        },
    ),
    ApiRoute(
        B,
        "GET",
        get_booking,
        "One booking, its check-in window and what may be done now (ticket_url once checked in)",
        access="ticket-or-staff",
        responses={200: "{info, booking, window, can, ticket_url}", **ERR_ONE},
    ),
    ApiRoute(
        B,
        "DELETE",
        cancel_booking,
        "Cancel a booking (the patient until its band starts, staff until check-in)",
        access="ticket-or-staff",
        responses={
            200: "{info, booking, window, can, ticket_url}",
            409: "band_closed | illegal_transition",
            **ERR_ONE,
        },
    ),
    ApiRoute(
        B + "/check-in",
        "POST",
        check_in,
        "The booked patient is here: the booking becomes a ticket in today's line (again: the "
        "same ticket)",
        access="ticket-or-staff",
        responses={
            200: "the ticket's view with token and url",
            409: "too_early (opens_at) | no_show | illegal_transition",
            403: "check_in_on_site",
            **ERR_ONE,
        },
    ),
]
