"""The operator's contract API (role ``operator``), facility limits (Art. 37), service hours.

Handlers parse the request, call one ``ContractService`` use case (``hub.contracts.service``:
the lock, re-read, rule, store and sync protocol of every contract command) and render its
result (``hub.contracts.views``).
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal, TypeVar

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from hub.contracts import hours, invoice
from hub.contracts.changes import EARLIEST, LATEST
from hub.contracts.model import (
    FeePlan,
    IncidentCause,
    InterruptionKind,
    Option,
    Part,
    RefusalReason,
    ServiceItem,
    SuspensionReason,
)
from hub.contracts.service import ContractService
from hub.contracts.store import ContractRecord
from hub.contracts.views import contract_view, limits_view
from hub.errors import BadRequest, Unprocessable
from hub.web.bodies import CounterNumber, FacilityNumber, Short, Text, parse, read_limited
from hub.web.routing import (
    ApiRoute,
    audit_target,
    facility_of,
    json_response,
    services_of,
)

Yen = Annotated[int, msgspec.Meta(ge=0, le=1_000_000_000)]
Aware = Annotated[datetime, msgspec.Meta(tz=True)]
Rate = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{1,7}/[0-9]{1,5}\Z")]


class Fees(msgspec.Struct, kw_only=True):
    initial_fee: Yen = 0
    monthly: dict[Part, Yen] = msgspec.field(default_factory=dict)
    """Monthly service fee of each contracted item and option, yen before tax."""


class ApplyRequest(msgspec.Struct, kw_only=True):
    """An application (Art. 6) as the operator records it."""

    applicant: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    items: Annotated[list[ServiceItem], msgspec.Meta(min_length=1, max_length=2)]
    options: Annotated[list[Option], msgspec.Meta(max_length=3)] = msgspec.field(
        default_factory=list
    )
    fees: Fees = msgspec.field(default_factory=Fees)
    minimum_term_months: Annotated[int, msgspec.Meta(ge=0, le=120)] = 0
    applied_on: date | None = None
    """Default: today (facility time)."""


class ApproveRequest(msgspec.Struct, kw_only=True):
    """Approve (Art. 7): assigns the facility number (given, or the next free one) and its
    counters, creates the facility and its queues; ``start_date`` defaults to today."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    facility: FacilityNumber | None = None
    counters: Annotated[dict[CounterNumber, Short], msgspec.Meta(min_length=1, max_length=99)] = (
        msgspec.field(default_factory=lambda: {"01": ""})
    )
    address: Text = ""
    hours: Text = ""
    tz: Annotated[str, msgspec.Meta(max_length=64)] = "Asia/Tokyo"
    start_date: date | None = None


class RefuseRequest(msgspec.Struct, kw_only=True):
    reason: RefusalReason
    on: date | None = None


class ContractSuspendRequest(msgspec.Struct, kw_only=True):
    reason: SuspensionReason
    on: date | None = None


class DayRequest(msgspec.Struct, kw_only=True):
    """The day the command takes effect (facility time); default today."""

    on: date | None = None


class CancelRequest(msgspec.Struct, kw_only=True):
    """Art. 15 (``operator``: from a suspension), 16-1 (``customer``: written notice given
    ``on``, effective at the later of the end of next month and ``designated_month``), 16-2
    (``interruption``: the id of an interruption without prospect of recovery)."""

    by: Literal["operator", "customer", "interruption"]
    on: date | None = None
    designated_month: date | None = None
    interruption: Annotated[str, msgspec.Meta(max_length=40)] | None = None


class InterruptionRequest(msgspec.Struct, kw_only=True):
    """Art. 13: announced before it starts unless ``urgent``; ``ends_at`` null = no
    prospect of recovery. ``announced_at`` defaults to now."""

    kind: InterruptionKind
    starts_at: Aware
    ends_at: Aware | None = None
    announced_at: Aware | None = None
    urgent: bool = False
    message: Text = ""


class DiscontinuationRequest(msgspec.Struct, kw_only=True):
    """Art. 14: announced (default today) at least 2 months before ``on``."""

    part: Part
    on: date
    announced_on: date | None = None
    message: Text = ""


class IncidentRequest(msgspec.Struct, kw_only=True):
    """An outage from when the operator learned of it to when it confirmed recovery."""

    learned_at: Aware
    recovered_at: Aware
    cause: IncidentCause = "operator"
    parts: Annotated[list[Part], msgspec.Meta(max_length=5)] = msgspec.field(default_factory=list)


class LimitsRequest(msgspec.Struct, kw_only=True):
    """Art. 37: ``"count/seconds"`` web tickets per facility (``rate``) and per client
    address there (``rate_ip``); null = the hub's default; ``"0/60"`` = no limit."""

    rate: Rate | None = None
    rate_ip: Rate | None = None


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


# ---- facilities: limits ---------------------------------------------------------------------


async def put_limits(request: Request) -> Response:
    """Art. 37: the facility's own rate limits, enforced from the next request on (other
    processes within 2 s)."""
    number = facility_of(request)
    body = await _body(request, LimitsRequest)
    updated = await _service(request).set_limits(number, body.rate, body.rate_ip)
    return json_response({"facility": number, **limits_view(updated)})


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
        "/v1/admin/facilities/{facility}/limits",
        "PUT",
        put_limits,
        "Set a facility's rate limits (Art. 37)",
        access="operator",
        body=LimitsRequest,
        body_required=True,
        responses={
            200: "{facility, rate, rate_ip}",
            400: "invalid_facility",
            404: "unknown_facility",
            422: "invalid_body",
            **ERR_AUTH,
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
