"""HTTP routes of the analytics (the use cases: ``hub.analytics.service.AnalyticsService``)."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response

from hub import csvout
from hub.errors import BadRequest
from hub.queue.model import COUNTER_RE
from hub.web.routing import ApiRoute, facility_of, json_response, services_of


def _counter(request: Request) -> str | None:
    counter = request.query_params.get("counter") or None
    if counter is not None and not COUNTER_RE.match(counter):
        raise BadRequest("counter is two digits, like 01", code="invalid_query")
    return counter


async def facility_analytics(request: Request) -> Response:
    """The facility's figures by day, in total, by hour and weekday × hour; CSV with
    ``format=csv`` (``grain=day|hour``)."""
    query, facility = request.query_params, facility_of(request)
    analytics, now = services_of(request).analytics, time.time()
    start, end, counter = query.get("from"), query.get("to"), _counter(request)
    fmt = query.get("format", "json")
    if fmt == "csv":
        grain = query.get("grain", "day")
        headers, rows, name = await analytics.csv_rows(facility, start, end, counter, grain, now)
        return csvout.csv_response(rows, headers, name)
    if fmt != "json":
        raise BadRequest("format is json or csv", code="invalid_query")
    return json_response(await analytics.facility_report(facility, start, end, counter, now))


async def operator_analytics(request: Request) -> Response:
    """Totals per facility (operator)."""
    query = request.query_params
    answer = await services_of(request).analytics.operator_report(
        query.get("from"), query.get("to"), time.time()
    )
    return json_response(answer)


_STATS = (
    "issued, by_channel, transferred_in, called, completed, walkouts, cancelled_after_call, "
    "no_shows, transferred_out, unfinished, recalls, requeued, wait {n, p50, p90, mean, max}, "
    "service {n, p50, mean, rooms: {room: {n, mean}}}, web_share, "
    "accuracy {n, within, mean_error, mae}, ranges {target, n, within}, first_call, "
    "last_call, incomplete"
)

ROUTES = [
    ApiRoute(
        "/v1/facilities/{facility}/analytics",
        "GET",
        facility_analytics,
        "Daily summaries of the facility's queues (?from=&to= local dates, 400 days at most, "
        "default the last 30; &counter=01; &format=csv&grain=day|hour)",
        access="staff",
        responses={
            200: "{facility, counter, from, to, tz, counters, days: [{date, weekday, today, "
            + _STATS
            + "}], totals, by_hour: [{hour, issued, called, line_avg, line_max}], heatmap}; "
            "or text/csv with a BOM",
            400: "invalid_facility, invalid_query",
            401: "no or bad token",
            403: "not staff of this facility",
            404: "unknown_facility, unknown_queue",
        },
    ),
    ApiRoute(
        "/v1/admin/analytics",
        "GET",
        operator_analytics,
        "Totals per facility over ?from=&to= (default the last 30 days): numbers only",
        access="operator",
        responses={
            200: "{from, to, facilities: [{facility, name, " + _STATS + "}]}",
            400: "invalid_query",
            401: "no or bad token",
            403: "not the operator",
        },
    ),
]
