"""Pairing a waiting-room monitor with a one-time code instead of typing a token on a TV.

Staff of a facility ask for a code (``POST /v1/facilities/{facility}/monitor-pairings``):
six random digits, stored in Redis with a 10-minute TTL under that facility. The monitor
page (which knows its facility from its URL) shows a code entry; claiming the code
(``POST /v1/facilities/{facility}/monitor-pairings/{code}/claim``) deletes it in the same
step (``GETDEL``, so a code pairs exactly one screen) and answers a long-lived ``monitor``
token for that facility. Codes are scoped to their facility: a claim for another facility
never sees, nor spends, this one. Claims are rate limited per client address and per
facility, so guessing one of the million codes of a facility is hopeless within its ten
minutes, and a flood of guesses against one clinic never blocks pairing at another.
"""

from __future__ import annotations

import re
import secrets
from typing import cast

from starlette.requests import Request
from starlette.responses import Response

from hub.auth import require_staff
from hub.errors import BadRequest, NotFound, Unavailable
from hub.web.routing import ApiRoute, client_ip, facility_of, hub_of, json_response, principal_of

CODE_TTL_S = 600
"""A pairing code is valid for 10 minutes."""
MONITOR_TOKEN_TTL_S = 180 * 24 * 3600
"""A paired monitor runs unattended for months; re-pair (or issue a new token) after that."""
CLAIM_LIMIT_PER_IP = (10, 60.0)
CLAIM_LIMIT_PER_FACILITY = (30, 60.0)
"""At most 300 guesses at one facility's codes within a code's 10 minutes: each live code
is hit with a chance of 3 in 10,000."""
CODE_RE = re.compile(r"^[0-9]{6}\Z")


def pairing_key(facility: str, code: str) -> str:
    """string "1": a not-yet-claimed pairing code of that facility (TTL 10 min)."""
    return f"jb:pairing:{facility}:{code}"


async def create_pairing(request: Request) -> Response:
    """A fresh 6-digit code for this facility (staff only)."""
    number = facility_of(request)
    require_staff(principal_of(request), number)
    hub = hub_of(request)
    if await hub.facilities.get(number) is None:
        raise NotFound("no such facility", code="unknown_facility")
    for _ in range(8):  # a clash with a live code is rare (a handful among a million)
        code = f"{secrets.randbelow(1_000_000):06d}"
        if await hub.redis.set(pairing_key(number, code), "1", ex=CODE_TTL_S, nx=True):
            body = {"code": code, "facility": number, "expires_in": CODE_TTL_S}
            return json_response(body, status=201)
    raise Unavailable("could not allocate a pairing code, retry", code="busy")


async def claim_pairing(request: Request) -> Response:
    """Trade a code of this facility for a monitor token; the code is gone afterwards."""
    number = facility_of(request)
    code = request.path_params["code"]
    if not CODE_RE.match(code):
        raise BadRequest("a pairing code is 6 digits", code="invalid_code")
    hub = hub_of(request)
    await hub.limiter.hit(
        [
            ("pair-ip", client_ip(request), CLAIM_LIMIT_PER_IP),
            ("pair-facility", number, CLAIM_LIMIT_PER_FACILITY),
        ]
    )
    raw = cast(bytes | None, await hub.redis.getdel(pairing_key(number, code)))
    if raw is None:
        raise NotFound(
            "that pairing code is wrong, used or expired; ask staff for a new one",
            code="unknown_pairing_code",
        )
    if await hub.facilities.get(number) is None:
        raise NotFound("no such facility", code="unknown_facility")
    token = hub.tokens.issue(
        "monitor", subject=f"monitor-{code}", facility=number, ttl_s=MONITOR_TOKEN_TTL_S
    )
    body = {
        "token": token,
        "role": "monitor",
        "facility": number,
        "expires_in": MONITOR_TOKEN_TTL_S,
    }
    return json_response(body)


ROUTES = [
    ApiRoute(
        "/v1/facilities/{facility}/monitor-pairings",
        "POST",
        create_pairing,
        "A one-time 6-digit code (10 min) that pairs a waiting-room monitor",
        auth="staff",
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
        responses={
            200: "{token, role, facility, expires_in}",
            400: "invalid_code, invalid_facility",
            404: "unknown_pairing_code (wrong, used or expired)",
            429: "rate_limited",
        },
    ),
]
