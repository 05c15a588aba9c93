"""HTTP route of the EMR link option: the console's patient lookup (「患者検索」). Staff of
the facility; the facility needs the ``emr`` option; every lookup is audited by the router
(a staff read of a staff route), with how it was made but never the name or birth date."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from hub.integrations.emr import PatientQuery
from hub.web.routing import ApiRoute, audit_target, facility_of, json_response, services_of


async def patients(request: Request) -> Response:
    """Look a patient up in the facility's EMR: ``?id=`` (patient-card number), ``?kana=&
    birth=`` (YYYY-MM-DD) or ``?phone=`` (FHIR only); answers name, kana, birth date, sex
    and patient_ref of each match."""
    facility = facility_of(request)
    query = PatientQuery.parse(dict(request.query_params))
    audit_target(request, facility=facility, target=query.describe())
    found = await services_of(request).emr.patients(facility, query)
    return json_response(found)


ROUTES = [
    ApiRoute(
        "/v1/facilities/{facility}/emr/patients",
        "GET",
        patients,
        "Staff: look a patient up in the EMR (?id= | ?kana=&birth= | ?phone=), to link a ticket",
        access="staff",
        responses={
            200: "{facility, endpoint, kind, patients: [{patient_ref, name, kana, birth_date, "
            "sex}]}",
            400: "invalid_facility | invalid_query",
            401: "no, bad or revoked token",
            403: "forbidden | option_not_contracted | password_change_required",
            404: "unknown_facility",
            409: "no_emr_endpoint",
            503: "emr_unavailable",
        },
    ),
]
