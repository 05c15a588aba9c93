"""HTTP routes of monitor and kiosk pairing (the codes and their rules: ``hub.pairing``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from hub.web.routing import ApiRoute, client_ip, facility_of, json_response, services_of


async def create_pairing(request: Request) -> Response:
    """A fresh 8-digit code for this facility (staff only)."""
    body = await services_of(request).pairing.create(facility_of(request))
    return json_response(body, status=201)


async def claim_pairing(request: Request) -> Response:
    """Trade a code of this facility for a monitor token; the code is gone afterwards."""
    number, code = facility_of(request), request.path_params["code"]
    return json_response(await services_of(request).pairing.claim(number, code, client_ip(request)))


async def create_kiosk_pairing(request: Request) -> Response:
    """A fresh 8-digit code that pairs a reception kiosk of this facility (staff only)."""
    body = await services_of(request).pairing.create(facility_of(request), "kiosk")
    return json_response(body, status=201)


async def claim_kiosk_pairing(request: Request) -> Response:
    """Trade a kiosk code of this facility for a kiosk token; the code is gone afterwards."""
    number, code = facility_of(request), request.path_params["code"]
    pairing = services_of(request).pairing
    return json_response(await pairing.claim(number, code, client_ip(request), "kiosk"))


ROUTES = [
    ApiRoute(
        "/v1/facilities/{facility}/monitor-pairings",
        "POST",
        create_pairing,
        "A one-time 8-digit code (10 min) that pairs a waiting-room monitor",
        access="staff",
        responses={
            201: "{code, facility, expires_in}",
            400: "malformed facility number",
            401: "no or bad token",
            403: "not staff of this facility",
            404: "unknown_facility",
        },
    ),
    ApiRoute(
        "/v1/facilities/{facility}/monitor-pairings/{code}/claim",
        "POST",
        claim_pairing,
        "Trade a pairing code of this facility for a monitor token (single use)",
        access="public",
        responses={
            200: "{token, role, facility, expires_in}",
            400: "invalid_code, invalid_facility",
            404: "unknown_pairing_code (wrong, used or expired)",
            429: "rate_limited (per address; per facility only after 3 wrong claims)",
        },
    ),
    ApiRoute(
        "/v1/facilities/{facility}/kiosk-pairings",
        "POST",
        create_kiosk_pairing,
        "A one-time 8-digit code (10 min) that pairs a reception kiosk (発券機)",
        access="staff",
        responses={
            201: "{code, facility, expires_in}",
            400: "malformed facility number",
            401: "no or bad token",
            403: "not staff of this facility",
            404: "unknown_facility",
        },
    ),
    ApiRoute(
        "/v1/facilities/{facility}/kiosk-pairings/{code}/claim",
        "POST",
        claim_kiosk_pairing,
        "Trade a kiosk pairing code of this facility for a kiosk token (single use)",
        access="public",
        responses={
            200: "{token, role: kiosk, facility, expires_in}",
            400: "invalid_code, invalid_facility",
            404: "unknown_pairing_code (wrong, used or expired)",
            429: "rate_limited (per address; per facility only after 3 wrong claims)",
        },
    ),
]
