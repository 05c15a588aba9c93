"""The operator's contract API (role ``operator``), facility limits (Art. 37), service hours.

Every contract command takes the contract's lock (waiting up to ``LOCK_WAIT_S`` for a
command already running on it, else 503 ``busy``), re-reads the record under it, runs the
pure rule of ``hub.contracts.lifecycle`` (a refused command raises its 409/422 with the
rule's code and nothing is written), stores the result (``ContractStore.update``, checked
against the version it read) and brings the facility in line (``FacilitySync``: suspended
or not, contracted options, notices) before releasing the lock. So two commands on one
contract never interleave: an approval's facility is created once, and an older sync never
overwrites a newer one. A sync that fails after the change was stored is logged and the
stored contract is answered; the due list (``hub.contracts.store``) repairs the facility.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from hub import keys
from hub.auth import require_operator
from hub.contracts import hours, invoice, lifecycle, money
from hub.contracts.model import (
    Discontinuation,
    FeePlan,
    Incident,
    IncidentCause,
    Interruption,
    InterruptionKind,
    Option,
    Part,
    RefusalReason,
    ServiceItem,
    SuspensionReason,
    to_builtins,
)
from hub.contracts.store import (
    ContractRecord,
    DiscontinuationNotice,
    IncidentRecord,
    InterruptionNotice,
    new_contract_id,
)
from hub.contracts.sync import service_state, today
from hub.errors import Conflict, Forbidden, JunbanError, NotFound, Unavailable, Unprocessable
from hub.queue import calendar
from hub.queue.facilities import Facility
from hub.queue.model import QueueConfig
from hub.web.bodies import CounterNumber, FacilityNumber, Short, Text, parse, read_limited
from hub.web.routing import (
    ApiRoute,
    audit_target,
    facility_of,
    hub_of,
    json_response,
    principal_of,
)

log = logging.getLogger("junban")
LOCK_WAIT_S = 5.0
"""How long a command waits for another command on the same contract before 503 busy."""
Yen = Annotated[int, msgspec.Meta(ge=0, le=1_000_000_000)]
Aware = Annotated[datetime, msgspec.Meta(tz=True)]
Rate = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{1,7}/[0-9]{1,5}\Z")]
EARLIEST, LATEST = date(2000, 1, 1), date(2099, 12, 31)
"""Dates the API accepts (keeps the calendar arithmetic far from year 1 and 9999)."""
MAX_INCIDENT = timedelta(days=366)


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


def _day(value: date | None, now: float, name: str = "on") -> date:
    day = value if value is not None else today(now)
    if not EARLIEST <= day <= LATEST:
        raise Unprocessable(f"{name} must be between 2000 and 2099", code="invalid_date")
    return day


def _moment(value: datetime, name: str) -> datetime:
    if not EARLIEST.year <= value.year <= LATEST.year:
        raise Unprocessable(f"{name} must be between 2000 and 2099", code="invalid_date")
    return value


def _maybe(value: datetime | None, name: str) -> datetime | None:
    return None if value is None else _moment(value, name)


async def _body(request: Request, shape: type[B], optional: bool = False) -> B:
    raw = await read_limited(request, hub_of(request).settings.max_body_bytes)
    return parse(raw, shape, optional=optional)


async def _record(request: Request) -> ContractRecord:
    require_operator(principal_of(request))
    contract_id: str = request.path_params["contract_id"]
    record = await hub_of(request).contracts.require(contract_id)
    audit_target(request, facility=record.contract.facility or "", target=contract_id)
    return record


def view(record: ContractRecord, now: float) -> dict[str, Any]:
    """The contract as JSON, with what follows from it today."""
    contract = record.contract
    day = today(now)
    suspended, reason = service_state(contract, day)
    deadline = lifecycle.next_objection_deadline(contract, day)
    started = contract.start_date is not None
    return {
        **to_builtins(contract),
        "version": record.version,
        "today": {
            "date": day.isoformat(),
            "in_force": lifecycle.is_effective(contract, day),
            "service": "suspended" if started and suspended else "running" if started else None,
            "service_reason": reason if started and suspended else None,
            "parts": list(lifecycle.live_parts(contract, day)) if started else [],
            "term_end": _iso(lifecycle.term_end_as_of(contract, day)),
            "renewal_objection_deadline": _iso(deadline[0]) if deadline else None,
            "ends_on": _iso(lifecycle.ends_on(contract)),
            "charged_until": _iso(lifecycle.charges_until(contract)),
        },
        "interruptions": [to_builtins(n) for n in record.interruptions],
        "discontinuations": [to_builtins(n) for n in record.discontinuations],
        "incidents": [to_builtins(n) for n in record.incidents],
    }


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def _domain(rule: Callable[[], Any]) -> Any:
    """Run a pure rule; date arithmetic out of range is 422 ``invalid_date``, not a 500."""
    try:
        return rule()
    except (ValueError, OverflowError) as exc:
        raise Unprocessable(f"a date is out of range: {exc}", code="invalid_date") from exc


Undo = Callable[[ContractRecord], Awaitable[None]]


async def _change(
    request: Request,
    record: ContractRecord,
    change: Callable[[ContractRecord], ContractRecord],
    status: int = 200,
    after: Callable[[ContractRecord], Awaitable[Undo]] | None = None,
) -> Response:
    """Under the contract's lock: re-read it, store ``change(current)``, sync its facility;
    answer its view. ``after`` (run once the rule allowed the change, before it is stored)
    returns what undoes it should the store fail."""
    hub = hub_of(request)
    contract_id = record.contract.id
    holder = await hub.contracts.lock(contract_id, wait_s=LOCK_WAIT_S)
    if holder is None:
        raise Unavailable("another command on this contract is running; retry", code="busy")
    now = time.time()
    try:
        current = await hub.contracts.require(contract_id)
        _domain(lambda: change(current))  # refuse before any write, with the rule's code
        undo = await after(current) if after is not None else None
        try:
            updated = await hub.contracts.update(
                contract_id,
                lambda r: _domain(lambda: change(r)),
                now,
                expected_version=current.version,
            )
        except BaseException:
            if undo is not None:
                await _quietly(undo(current), f"undo a change of contract {contract_id}")
            raise
        await _quietly(hub.sync.run(updated, now), f"sync contract {contract_id}")
    finally:
        await hub.contracts.unlock(contract_id, holder)
    return json_response(view(updated, now), status=status)


async def _quietly(step: Awaitable[None], what: str) -> None:
    """Run a follow-up step whose failure must not turn a stored change into an error
    answer (the due list repairs the facility): log it instead."""
    try:
        await step
    except Exception:
        log.exception("could not %s; the contract keeper will retry", what)


# ---- contracts ------------------------------------------------------------------------------


async def list_contracts(request: Request) -> Response:
    """Every contract, oldest id first; ``?status=`` and ``?facility=`` filter."""
    require_operator(principal_of(request))
    status = request.query_params.get("status")
    facility = request.query_params.get("facility")
    now = time.time()
    records = await hub_of(request).contracts.all()
    chosen = [
        r
        for r in records
        if (status is None or r.contract.status == status)
        and (facility is None or r.contract.facility == facility)
    ]
    return json_response({"contracts": [view(r, now) for r in chosen]})


async def apply(request: Request) -> Response:
    require_operator(principal_of(request))
    body = await _body(request, ApplyRequest)
    now = time.time()
    applied_on = _day(body.applied_on, now, "applied_on")
    contract = lifecycle.apply(
        new_contract_id(),
        body.applicant,
        tuple(body.items),
        FeePlan(
            initial_fee=body.fees.initial_fee,
            monthly={str(k): v for k, v in body.fees.monthly.items()},
        ),
        applied_on,
        options=tuple(body.options),
        minimum_term_months=body.minimum_term_months,
    )
    record = ContractRecord(contract=contract, created_at=datetime.fromtimestamp(now, UTC))
    if not await hub_of(request).contracts.create(record, now):
        raise Unavailable("could not allocate a contract id, retry", code="busy")
    audit_target(request, target=contract.id)
    return json_response(view(record, now), status=201)


async def get_contract(request: Request) -> Response:
    return json_response(view(await _record(request), time.time()))


async def _free_number(request: Request) -> str:
    hub = hub_of(request)
    for _ in range(100):
        number = str(1000 + int(await hub.redis.incr(keys.FACILITY_SEQUENCE)))
        if len(number) <= 8 and await hub.facilities.get(number) is None:
            return number
    raise Unavailable("no free facility number found; give one", code="busy")


async def approve(request: Request) -> Response:
    record = await _record(request)
    body = await _body(request, ApproveRequest)
    now = time.time()
    start = _day(body.start_date, now, "start_date")
    try:
        calendar.zone(body.tz)
    except ValueError as exc:
        raise Unprocessable(str(exc), code="invalid_body") from exc
    if record.contract.status not in lifecycle.TRANSITIONS["approve"][0]:  # before a number
        raise Conflict(
            f"cannot approve a contract that is {record.contract.status}",
            code="illegal_transition",
            status=record.contract.status,
        )
    hub = hub_of(request)
    number = body.facility or await _free_number(request)
    counters = tuple(sorted(body.counters))
    audit_target(request, facility=number, target=record.contract.id)

    def change(r: ContractRecord) -> ContractRecord:
        return replace(r, contract=lifecycle.approve(r.contract, number, counters, start))

    async def create_facility(r: ContractRecord) -> Undo:
        """Created suspended (``not_started``): only the sync after the stored approval
        opens it, so a failed approval never leaves a facility serving."""
        facility = Facility(
            number=number,
            name=body.name,
            address=body.address,
            hours=body.hours,
            tz=body.tz,
            suspended=True,
            suspended_reason="not_started",
            counters=dict(body.counters),
            contract=r.contract.id,
            options=tuple(r.contract.options),
        )
        if not await hub.service.create_facility(facility, QueueConfig(tz=body.tz), now):
            raise Conflict("that facility number is already assigned", code="facility_exists")
        await hub.service.set_suspended(facility, True, now)
        return abandon

    async def abandon(r: ContractRecord) -> None:
        """The approval was not stored: the facility stays suspended and is marked so
        (``approval_failed``), detached from the contract that does not cover it."""
        await hub.facilities.update(
            number, lambda f: replace(f, contract="", suspended_reason="approval_failed")
        )

    return await _change(request, record, change, after=create_facility)


async def refuse(request: Request) -> Response:
    record = await _record(request)
    body = await _body(request, RefuseRequest)
    on = _day(body.on, time.time())
    return await _change(
        request,
        record,
        lambda r: replace(r, contract=lifecycle.refuse(r.contract, body.reason, on)),
    )


async def suspend(request: Request) -> Response:
    record = await _record(request)
    body = await _body(request, ContractSuspendRequest)
    on = _day(body.on, time.time())
    return await _change(
        request,
        record,
        lambda r: replace(r, contract=lifecycle.suspend(r.contract, body.reason, on)),
    )


async def resume(request: Request) -> Response:
    record = await _record(request)
    on = _day((await _body(request, DayRequest, optional=True)).on, time.time())
    return await _change(
        request, record, lambda r: replace(r, contract=lifecycle.resume(r.contract, on))
    )


async def object_to_renewal(request: Request) -> Response:
    """Art. 23-4: a written objection to the automatic renewal."""
    record = await _record(request)
    on = _day((await _body(request, DayRequest, optional=True)).on, time.time())
    return await _change(
        request, record, lambda r: replace(r, contract=lifecycle.object_to_renewal(r.contract, on))
    )


async def cancel(request: Request) -> Response:
    record = await _record(request)
    body = await _body(request, CancelRequest)
    now = time.time()
    on = _day(body.on, now)
    month = None if body.designated_month is None else _day(body.designated_month, now)

    def change(r: ContractRecord) -> ContractRecord:
        if body.by == "operator":
            return replace(r, contract=lifecycle.cancel_by_operator(r.contract, on))
        if body.by == "customer":
            return replace(r, contract=lifecycle.cancel_by_customer(r.contract, on, month))
        found = [n for n in r.interruptions if n.id == body.interruption]
        if not found:
            raise NotFound("no such interruption on this contract", code="unknown_notice")
        contract = lifecycle.cancel_for_interruption(r.contract, found[0].interruption, on)
        return replace(r, contract=contract)

    return await _change(request, record, change)


def _require_started(record: ContractRecord) -> None:
    if record.contract.facility is None or record.contract.status in ("applied", "refused"):
        raise Conflict("the contract has not started", code="not_started")


async def add_interruption(request: Request) -> Response:
    record = await _record(request)
    body = await _body(request, InterruptionRequest)
    now = time.time()
    interruption = Interruption(
        kind=body.kind,
        starts_at=_moment(body.starts_at, "starts_at"),
        ends_at=_maybe(body.ends_at, "ends_at"),
        announced_at=_maybe(body.announced_at, "announced_at") or datetime.fromtimestamp(now, UTC),
        urgent=body.urgent,
    )
    lifecycle.validate_interruption(interruption)
    notice = InterruptionNotice(
        id="n" + secrets.token_hex(5), interruption=interruption, message=body.message
    )

    def change(r: ContractRecord) -> ContractRecord:
        _require_started(r)
        return replace(r, interruptions=(*r.interruptions, notice))

    return await _change(request, record, change, status=201)


async def add_discontinuation(request: Request) -> Response:
    """Art. 14 and 16-3: the part ends on ``on``; with no service item left, the contract
    is cancelled that day."""
    record = await _record(request)
    body = await _body(request, DiscontinuationRequest)
    now = time.time()
    notice = Discontinuation(
        part=body.part,
        on=_day(body.on, now, "on"),
        announced_on=_day(body.announced_on, now, "announced_on"),
    )
    lifecycle.validate_discontinuation(notice)
    stored = DiscontinuationNotice(
        id="n" + secrets.token_hex(5), discontinuation=notice, message=body.message
    )

    def change(r: ContractRecord) -> ContractRecord:
        _require_started(r)
        contract = lifecycle.cancel_for_discontinuation(r.contract, notice)
        return replace(r, contract=contract, discontinuations=(*r.discontinuations, stored))

    return await _change(request, record, change, status=201)


async def add_incident(request: Request) -> Response:
    """Record an outage (Art. 24-4, 32); refunded once the customer claims it in time."""
    record = await _record(request)
    body = await _body(request, IncidentRequest)
    learned = _moment(body.learned_at, "learned_at")
    recovered = _moment(body.recovered_at, "recovered_at")
    if not learned < recovered <= learned + MAX_INCIDENT:
        raise Unprocessable("recovered_at is after learned_at, within a year", code="invalid_date")
    incident = Incident(
        id="i" + secrets.token_hex(5),
        learned_at=learned,
        recovered_at=recovered,
        cause=body.cause,
        parts=tuple(body.parts),
    )

    def change(r: ContractRecord) -> ContractRecord:
        _require_started(r)
        return replace(r, incidents=(*r.incidents, IncidentRecord(incident=incident)))

    return await _change(request, record, change, status=201)


async def claim_refund(request: Request) -> Response:
    """The customer claims the refund of an incident (Art. 32-1: within one month of the
    recovery); it shows on the invoice of the month of the claim."""
    record = await _record(request)
    on = _day((await _body(request, DayRequest, optional=True)).on, time.time())
    incident_id = request.path_params["incident_id"]
    audit_target(request, facility=record.contract.facility or "", target=incident_id)

    def change(r: ContractRecord) -> ContractRecord:
        found = [i for i in r.incidents if i.incident.id == incident_id]
        if not found:
            raise NotFound("no such incident on this contract", code="unknown_incident")
        item = found[0]
        if item.claimed_on is not None:
            raise Conflict("this incident was claimed already", code="already_claimed")
        if item.incident.cause != "operator":
            raise Conflict(
                "no refund when a carrier is at fault (Art. 32-2)", code="not_refundable"
            )
        if not money.claim_in_time(item.incident, on):
            raise Unprocessable(
                "a refund is claimed within one month of the recovery (Art. 32-1)",
                code="claim_too_late",
            )
        refund = money.contract_outage_refund(r.contract, item.incident)
        if refund <= 0:
            raise Conflict("under 18 operating hours: no refund (Art. 24-4)", code="not_refundable")
        claimed = replace(item, claimed_on=on, refund=refund)
        return replace(r, incidents=tuple(claimed if i is item else i for i in r.incidents))

    return await _change(request, record, change)


async def get_invoice(request: Request) -> Response:
    """The monthly invoice, JSON or ``?format=csv``."""
    record = await _record(request)
    month_text: str = request.path_params["month"]
    fmt = request.query_params.get("format", "json")
    if fmt not in ("json", "csv"):
        raise Unprocessable("format is json or csv", code="invalid_query")
    try:
        year, month = (int(part) for part in month_text.split("-"))
        first = date(year, month, 1)
        if len(month_text) != 7 or not EARLIEST <= first <= LATEST:
            raise ValueError(month_text)
    except ValueError as exc:
        raise Unprocessable("the month looks like 2026-11", code="invalid_month") from exc
    _require_started(record)
    claimed = [(i.incident, i.claimed_on) for i in record.incidents if i.claimed_on is not None]
    bill = _domain(lambda: invoice.build_invoice(record.contract, first, incidents=claimed))
    if fmt == "csv":
        name = f"invoice-{record.contract.id}-{month_text}.csv"
        return Response(
            invoice.invoice_csv(bill).encode(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return json_response(invoice.invoice_dict(bill))


# ---- facilities: limits, suspension through the contract, notices ----------------------------


async def put_limits(request: Request) -> Response:
    """Art. 37: the facility's own rate limits, enforced from the next request on (other
    processes within 2 s)."""
    require_operator(principal_of(request))
    number = facility_of(request)
    body = await _body(request, LimitsRequest)
    rate, rate_ip = _rate(body.rate, "rate"), _rate(body.rate_ip, "rate_ip")
    updated = await hub_of(request).facilities.update(
        number, lambda r: replace(r, rate=rate, rate_ip=rate_ip)
    )
    if updated is None:
        raise NotFound("no such facility", code="unknown_facility")
    # a new limit starts from a clean slate (GCRA state under the old one could refuse for
    # its whole old window); per-address states expire within their old window
    await hub_of(request).redis.delete(keys.rate("facility", number, number))
    return json_response({"facility": number, **limits_view(updated)})


def _rate(text: str | None, name: str) -> tuple[int, float] | None:
    if text is None:
        return None
    count, _, window = text.partition("/")
    if not 1 <= int(window) <= 86_400:
        raise Unprocessable(f"{name}: the window is 1 to 86400 seconds", code="invalid_body")
    return int(count), float(window)


def limits_view(record: Facility) -> dict[str, Any]:
    def text(rate: tuple[int, float] | None) -> str | None:
        return None if rate is None else f"{rate[0]}/{rate[1]:g}"

    return {"rate": text(record.rate), "rate_ip": text(record.rate_ip)}


async def set_facility_suspended(
    request: Request, record: Facility, suspended: bool, reason: str
) -> Response:
    """The admin facility suspend/resume of a facility under contract acts on the contract
    (so the two never disagree): suspend needs one of the Art. 12 reasons."""
    contract = await hub_of(request).contracts.require(record.contract)
    if suspended:
        if reason not in (
            "non_payment",
            "illegal_use",
            "false_application",
            "abuse",
            "terms_violation",
        ):
            raise Unprocessable(
                "this facility is under contract: give an Art. 12 reason (non_payment, "
                "illegal_use, false_application, abuse, terms_violation)",
                code="invalid_reason",
            )
        on = today(time.time())
        reason_code: Any = reason
        response = await _change(
            request,
            contract,
            lambda r: replace(r, contract=lifecycle.suspend(r.contract, reason_code, on)),
        )
    else:
        on = today(time.time())
        response = await _change(
            request, contract, lambda r: replace(r, contract=lifecycle.resume(r.contract, on))
        )
    updated = await hub_of(request).facilities.get(record.number)
    return json_response((updated or record).public(), status=response.status_code)


def require_api_option(request: Request, record: Facility) -> None:
    """The partner API is an option (Table 1): called from another origin (an ``Origin``
    header that is not the hub's own) or with a partner token, a facility without it gets
    403 ``option_not_contracted``. The hub's own pages (same origin, or no Origin) always
    work. Costs no Redis call: the options are on the facility record."""
    if record.has_option("api"):
        return
    origin = request.headers.get("origin")
    own = {f"{request.url.scheme}://{request.url.netloc}"}
    public_url = hub_of(request).settings.public_url
    if public_url:
        parts = urlsplit(public_url)
        own.add(f"{parts.scheme}://{parts.netloc}")
    try:
        principal = principal_of(request)
    except JunbanError:
        principal = None
    partner = principal is not None and principal.role == "partner"
    if partner or (origin is not None and origin.rstrip("/") not in own):
        raise Forbidden(
            "this facility has not contracted the API option (Table 1)",
            code="option_not_contracted",
        )


# ---- public ---------------------------------------------------------------------------------


async def service_hours(request: Request) -> Response:
    """Support desk (Table 3) and server (Table 2 / JUNBAN_SERVICE_HOURS) hours, now."""
    now = datetime.now(UTC)
    described = hours.describe(now)
    opens, closes = hub_of(request).settings.service_hours
    server = {**described["server"], "opens": opens, "closes": closes}
    start, end = calendar.minute_of_day(opens), calendar.minute_of_day(closes)
    server["open"] = hours.server_open(now, hours=(start, end))
    return json_response(
        {
            "now": described["now"],
            "tz": described["tz"],
            "support_open": described["support"]["open"],
            "next_support_open": described["support"]["next_open"],
            "support_hours": described["support"],
            "server_hours": server,
        }
    )


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
        auth="operator",
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
        auth="operator",
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
        auth="operator",
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
        auth="operator",
        responses={
            200: "the invoice",
            409: "not_started",
            422: "invalid_month | invalid_query",
            **ERR_C,
        },
    ),
    ApiRoute(
        "/v1/admin/facilities/{facility}/limits",
        "PUT",
        put_limits,
        "Set a facility's rate limits (Art. 37)",
        auth="operator",
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
        responses={200: "{support_open, next_support_open, support_hours, server_hours}"},
    ),
]
