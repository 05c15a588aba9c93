"""The operator's contract API (role ``operator``) and the service hours.

Handlers parse the request, call one ``ContractService`` use case (``hub.contracts.service``:
the lock, re-read, rule, store and sync protocol of every contract command) and render its
result (``hub.contracts.views``).
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from hub.contracts import hours, invoice
from hub.contracts.changes import EARLIEST, LATEST
from hub.contracts.model import (
    FeePlan,
)
from hub.contracts.service import ContractService
from hub.contracts.store import ContractRecord
from hub.contracts.views import contract_view
from hub.errors import BadRequest, Unprocessable
from hub.web.bodies import parse, read_limited
from hub.web.contract_bodies import (
    ApplyRequest,
    ApproveRequest,
    CancelRequest,
    ContractSuspendRequest,
    DayRequest,
    DiscontinuationRequest,
    IncidentRequest,
    InterruptionRequest,
    RefuseRequest,
)
from hub.web.routing import (
    ApiRoute,
    audit_target,
    json_response,
    services_of,
)

B = TypeVar("B", bound=msgspec.Struct)


# ---- helpers --------------------------------------------------------------------------------


def _service(request: Request) -> ContractService:
    return services_of(request).contracts


async def _body(request: Request, shape: type[B], optional: bool = False) -> B:
    raw = await read_limited(request, services_of(request).settings.max_body_bytes)
    return parse(raw, shape, optional=optional)


async def _record(request: Request) -> ContractRecord:
    """The contract in the path (404 ``unknown_contract``), named with its facility in the
    audit entry."""
    contract_id: str = request.path_params["contract_id"]
    record = await _service(request).get(contract_id)
    audit_target(request, facility=record.contract.facility or "", target=contract_id)
    return record


def _answer(record: ContractRecord, now: float, status: int = 200) -> Response:
    return json_response(contract_view(record, now), status=status)


def _month(text: str) -> date:
    """The first day of ``text`` (``2026-11``); 422 ``invalid_month``."""
    try:
        year, month = (int(part) for part in text.split("-"))
        first = date(year, month, 1)
        if len(text) != 7 or not EARLIEST <= first <= LATEST:
            raise ValueError(text)
    except ValueError as exc:
        raise Unprocessable("the month looks like 2026-11", code="invalid_month") from exc
    return first


# ---- contracts ------------------------------------------------------------------------------


async def list_contracts(request: Request) -> Response:
    """Every contract, oldest id first; ``?status=`` and ``?facility=`` filter."""
    query = request.query_params
    now = time.time()
    records = await _service(request).list_contracts(query.get("status"), query.get("facility"))
    return json_response({"contracts": [contract_view(r, now) for r in records]})


async def apply(request: Request) -> Response:
    body = await _body(request, ApplyRequest)
    now = time.time()
    fees = FeePlan(
        initial_fee=body.fees.initial_fee,
        monthly={str(k): v for k, v in body.fees.monthly.items()},
    )
    record = await _service(request).apply(
        body.applicant,
        tuple(body.items),
        fees,
        now,
        options=tuple(body.options),
        minimum_term_months=body.minimum_term_months,
        applied_on=body.applied_on,
    )
    audit_target(request, target=record.contract.id)
    return _answer(record, now, status=201)


async def get_contract(request: Request) -> Response:
    return _answer(await _record(request), time.time())


async def approve(request: Request) -> Response:
    contract_id = (await _record(request)).contract.id
    body = await _body(request, ApproveRequest)
    now = time.time()
    record = await _service(request).approve(
        contract_id,
        now,
        name=body.name,
        counters=dict(body.counters),
        number=body.facility,
        address=body.address,
        hours=body.hours,
        tz=body.tz,
        start_date=body.start_date,
    )
    audit_target(request, facility=record.contract.facility or "", target=contract_id)
    return _answer(record, now)


async def refuse(request: Request) -> Response:
    contract_id = (await _record(request)).contract.id
    body = await _body(request, RefuseRequest)
    now = time.time()
    return _answer(await _service(request).refuse(contract_id, body.reason, now, body.on), now)


async def suspend(request: Request) -> Response:
    contract_id = (await _record(request)).contract.id
    body = await _body(request, ContractSuspendRequest)
    now = time.time()
    return _answer(await _service(request).suspend(contract_id, body.reason, now, body.on), now)


async def resume(request: Request) -> Response:
    contract_id = (await _record(request)).contract.id
    body = await _body(request, DayRequest, optional=True)
    now = time.time()
    return _answer(await _service(request).resume(contract_id, now, body.on), now)


async def object_to_renewal(request: Request) -> Response:
    """Art. 23-4: a written objection to the automatic renewal."""
    contract_id = (await _record(request)).contract.id
    body = await _body(request, DayRequest, optional=True)
    now = time.time()
    return _answer(await _service(request).object_to_renewal(contract_id, now, body.on), now)


async def cancel(request: Request) -> Response:
    contract_id = (await _record(request)).contract.id
    body = await _body(request, CancelRequest)
    now = time.time()
    record = await _service(request).cancel(
        contract_id,
        body.by,
        now,
        on=body.on,
        designated_month=body.designated_month,
        interruption=body.interruption,
    )
    return _answer(record, now)


async def add_interruption(request: Request) -> Response:
    contract_id = (await _record(request)).contract.id
    body = await _body(request, InterruptionRequest)
    now = time.time()
    record = await _service(request).add_interruption(
        contract_id,
        body.kind,
        body.starts_at,
        now,
        ends_at=body.ends_at,
        announced_at=body.announced_at,
        urgent=body.urgent,
        message=body.message,
    )
    return _answer(record, now, status=201)


async def add_discontinuation(request: Request) -> Response:
    """Art. 14 and 16-3: the part ends on ``on``; with no service item left, the contract
    is cancelled that day."""
    contract_id = (await _record(request)).contract.id
    body = await _body(request, DiscontinuationRequest)
    now = time.time()
    record = await _service(request).add_discontinuation(
        contract_id, body.part, body.on, now, announced_on=body.announced_on, message=body.message
    )
    return _answer(record, now, status=201)


async def add_incident(request: Request) -> Response:
    """Record an outage (Art. 24-4, 32); refunded once the customer claims it in time."""
    contract_id = (await _record(request)).contract.id
    body = await _body(request, IncidentRequest)
    now = time.time()
    record = await _service(request).add_incident(
        contract_id,
        body.learned_at,
        body.recovered_at,
        now,
        cause=body.cause,
        parts=tuple(body.parts),
    )
    return _answer(record, now, status=201)


async def claim_refund(request: Request) -> Response:
    """The customer claims the refund of an incident (Art. 32-1: within one month of the
    recovery); it shows on the invoice of the month of the claim."""
    record = await _record(request)
    body = await _body(request, DayRequest, optional=True)
    incident_id: str = request.path_params["incident_id"]
    audit_target(request, facility=record.contract.facility or "", target=incident_id)
    now = time.time()
    claimed = await _service(request).claim_refund(record.contract.id, incident_id, now, body.on)
    return _answer(claimed, now)


async def get_invoice(request: Request) -> Response:
    """The monthly invoice, JSON or ``?format=csv``."""
    contract_id = (await _record(request)).contract.id
    month_text: str = request.path_params["month"]
    fmt = request.query_params.get("format", "json")
    if fmt not in ("json", "csv"):
        raise BadRequest("format is json or csv", code="invalid_query")
    bill = await _service(request).monthly_invoice(contract_id, _month(month_text))
    if fmt == "csv":
        name = f"invoice-{contract_id}-{month_text}.csv"
        return Response(
            invoice.invoice_csv(bill).encode(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return json_response(invoice.invoice_dict(bill))


# ---- public ---------------------------------------------------------------------------------


async def service_hours(request: Request) -> Response:
    """Support desk (Table 3) and server (Table 2 / JUNBAN_SERVICE_HOURS) hours, now."""
    server_hours = services_of(request).settings.service_hours
    return json_response(hours.service_hours(datetime.now(UTC), server_hours))


C = "/v1/admin/contracts"
CI = C + "/{contract_id}"
ERR_AUTH = {401: "no, bad or revoked token", 403: "not the operator"}
ERR_C = {404: "unknown_contract", **ERR_AUTH}
ERR_RULE = {
    409: "illegal_transition | not_in_force | not_started | version_conflict | ... (the "
    "rule's code)",
    422: "invalid_body | invalid_date | invalid_reason | ... (the rule's code)",
    503: "busy: another command on this contract is running",
    **ERR_C,
}


def _op(path: str, endpoint: Any, summary: str, body: type | None = None, **kw: Any) -> ApiRoute:
    return ApiRoute(
        path,
        "POST",
        endpoint,
        summary,
        access="operator",
        body=body,
        body_required=kw.pop("required", body is not None),
        responses=kw.pop("responses", {200: "the contract", **ERR_RULE}),
    )


ROUTES = [
    ApiRoute(
        C,
        "GET",
        list_contracts,
        "Contracts (?status=&facility=)",
        access="operator",
        responses={200: "{contracts}", **ERR_AUTH},
    ),
    _op(
        C,
        apply,
        "Record an application (Art. 6)",
        ApplyRequest,
        responses={
            201: "the contract (applied)",
            422: "invalid_body | invalid_contract | invalid_fee | option_needs_reservation",
            **ERR_AUTH,
        },
    ),
    ApiRoute(
        CI,
        "GET",
        get_contract,
        "One contract with today's state",
        access="operator",
        responses={200: "the contract", **ERR_C},
    ),
    _op(
        CI + "/approve",
        approve,
        "Approve: assign the facility number and counters, create "
        "the facility and its queues (Art. 7, 35)",
        ApproveRequest,
    ),
    _op(CI + "/refuse", refuse, "Refuse an application (Art. 8)", RefuseRequest),
    _op(
        CI + "/suspend",
        suspend,
        "Suspend (Art. 12): patient actions get 403 facility_suspended",
        ContractSuspendRequest,
    ),
    _op(CI + "/resume", resume, "Resume a suspended contract", DayRequest, required=False),
    _op(
        CI + "/cancel",
        cancel,
        "Cancel (Art. 15, 16-1, 16-2) with the effective date",
        CancelRequest,
    ),
    _op(
        CI + "/object",
        object_to_renewal,
        "Object to the automatic renewal (Art. 23-4)",
        DayRequest,
        required=False,
    ),
    _op(
        CI + "/interruptions",
        add_interruption,
        "Announce an interruption (Art. 13)",
        InterruptionRequest,
        responses={201: "the contract", **ERR_RULE},
    ),
    _op(
        CI + "/discontinuations",
        add_discontinuation,
        "Announce a discontinuation (Art. 14, 16-3)",
        DiscontinuationRequest,
        responses={201: "the contract", **ERR_RULE},
    ),
    _op(
        CI + "/incidents",
        add_incident,
        "Record an outage (Art. 24-4, 32)",
        IncidentRequest,
        responses={201: "the contract", **ERR_RULE},
    ),
    _op(
        CI + "/incidents/{incident_id}/claim",
        claim_refund,
        "The customer claims an outage refund (Art. 32-1)",
        DayRequest,
        required=False,
    ),
    ApiRoute(
        CI + "/invoices/{month}",
        "GET",
        get_invoice,
        "Monthly invoice (YYYY-MM), JSON or ?format=csv",
        access="operator",
        responses={
            200: "the invoice",
            409: "not_started",
            400: "invalid_query",
            422: "invalid_month",
            **ERR_C,
        },
    ),
    ApiRoute(
        "/v1/service/hours",
        "GET",
        service_hours,
        "Support desk and server hours, now",
        access="public",
        responses={200: "{support_open, next_support_open, support_hours, server_hours}"},
    ),
]
