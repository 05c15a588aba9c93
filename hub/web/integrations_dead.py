"""HTTP routes of the outbox dead letters (the use cases: ``hub.outbox.dead.DeadLetters``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from hub.web.routing import ApiRoute, facility_of, json_response, services_of


async def list_dead(request: Request) -> Response:
    """The facility's dead letters, newest first."""
    return json_response(await services_of(request).dead_letters.list(facility_of(request)))


async def replay_dead(request: Request) -> Response:
    """Hand one dead letter back to the group it died in."""
    facility, dead_id = facility_of(request), request.path_params["dead_id"]
    return json_response(await services_of(request).dead_letters.replay(facility, dead_id))


ROUTES = [
    ApiRoute(
        "/v1/facilities/{facility}/integrations/dead",
        "GET",
        list_dead,
        "The outbox dead letters: entries a consumer group failed on 5 times (newest first)",
        access="staff",
        responses={
            200: "{dead: [{id, entry, group, deliveries, error, info, v, kinds, at}]}",
            400: "invalid_facility",
            401: "no or bad token",
            403: "not staff of this facility",
            404: "unknown_facility",
        },
    ),
    ApiRoute(
        "/v1/facilities/{facility}/integrations/dead/{dead_id}/replay",
        "POST",
        replay_dead,
        "Hand a dead letter back to its group (not to the outbox); deleted once it took it",
        access="staff",
        responses={
            200: "{replayed: {id, entry, group, deliveries, error, info, v, kinds, at}}",
            400: "invalid_facility",
            401: "no or bad token",
            403: "not staff of this facility",
            404: "unknown_facility, unknown_dead_letter",
            503: "replay_failed (the group failed again; the dead letter is kept)",
        },
    ),
]
