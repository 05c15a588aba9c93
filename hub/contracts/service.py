"""The contract use cases: what the operator's contract API does, free of HTTP.

Every contract command is a pure change (``hub.contracts.lifecycle``,
``hub.contracts.changes``) committed by ``ContractCommits`` (``hub.contracts.commit``):
under the contract's lock, re-read, rule, store, sync its facility.

Methods take plain values and ``now`` (epoch seconds); a day left out (``on=None``) is
today in facility time.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Literal

from hub.contracts import changes, invoice, lifecycle
from hub.contracts.changes import day_or_today, domain, maybe_moment, moment
from hub.contracts.commit import ContractCommits, Undo
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
)
from hub.contracts.store import (
    ContractRecord,
    ContractStore,
    DiscontinuationNotice,
    IncidentRecord,
    InterruptionNotice,
    new_contract_id,
)
from hub.contracts.sync import FacilitySync
from hub.errors import Conflict, Unavailable, Unprocessable
from hub.queue import calendar
from hub.queue.facilities import Facility, FacilityStore
from hub.queue.model import QueueConfig
from hub.queue.service import QueueService


class ContractService:
    """The operator's contract commands and reads, and the Art. 12 suspension of the
    facility a contract governs; see ``hub.contracts.commit`` for the protocol every
    command follows."""

    def __init__(
        self,
        contracts: ContractStore,
        facilities: FacilityStore,
        queues: QueueService,
        sync: FacilitySync,
    ) -> None:
        self.contracts = contracts
        self.facilities = facilities
        self.queues = queues
        self.sync = sync
        self.commits = ContractCommits(contracts, sync)

    # ---- reads -------------------------------------------------------------------------------

    async def list_contracts(
        self, status: str | None, facility: str | None
    ) -> list[ContractRecord]:
        """Every contract, oldest id first, of that status and facility when given."""
        return [
            r
            for r in await self.contracts.all()
            if (status is None or r.contract.status == status)
            and (facility is None or r.contract.facility == facility)
        ]

    async def get(self, contract_id: str) -> ContractRecord:
        """The contract; 404 ``unknown_contract``."""
        return await self.contracts.require(contract_id)

    async def monthly_invoice(self, contract_id: str, month: date) -> invoice.Invoice:
        """The invoice of ``month`` (its first day), with the refunds claimed in it."""
        record = await self.contracts.require(contract_id)
        changes.require_started(record)
        claimed = [(i.incident, i.claimed_on) for i in record.incidents if i.claimed_on is not None]
        bill: invoice.Invoice = domain(
            lambda: invoice.build_invoice(record.contract, month, incidents=claimed)
        )
        return bill

    # ---- application and approval ------------------------------------------------------------

    async def apply(
        self,
        applicant: str,
        items: tuple[ServiceItem, ...],
        fees: FeePlan,
        now: float,
        *,
        options: tuple[Option, ...] = (),
        minimum_term_months: int = 0,
        applied_on: date | None = None,
    ) -> ContractRecord:
        """Record an application (Art. 6) under a new id."""
        contract = lifecycle.apply(
            new_contract_id(),
            applicant,
            items,
            fees,
            day_or_today(applied_on, now, "applied_on"),
            options=options,
            minimum_term_months=minimum_term_months,
        )
        record = ContractRecord(contract=contract, created_at=datetime.fromtimestamp(now, UTC))
        if not await self.contracts.create(record, now):
            raise Unavailable("could not allocate a contract id, retry", code="busy")
        return record

    async def approve(
        self,
        contract_id: str,
        now: float,
        *,
        name: str,
        counters: dict[str, str],
        number: str | None = None,
        address: str = "",
        hours: str = "",
        tz: str = "Asia/Tokyo",
        start_date: date | None = None,
    ) -> ContractRecord:
        """Approve (Art. 7): assign the facility ``number`` (or the next free one) and its
        counters, create the facility and its queues; the service starts ``start_date``.

        The facility is created suspended (``not_started``): only the sync after the stored
        approval opens it, so a failed approval never leaves a facility serving."""
        start = day_or_today(start_date, now, "start_date")
        try:
            calendar.zone(tz)
        except ValueError as exc:
            raise Unprocessable(str(exc), code="invalid_body") from exc
        status = (await self.contracts.require(contract_id)).contract.status
        if status not in lifecycle.TRANSITIONS["approve"][0]:  # before taking a number
            raise Conflict(
                f"cannot approve a contract that is {status}",
                code="illegal_transition",
                status=status,
            )
        number = number or await self._free_number()
        numbers = tuple(sorted(counters))

        def change(r: ContractRecord) -> ContractRecord:
            return replace(r, contract=lifecycle.approve(r.contract, number, numbers, start))

        async def create_facility(r: ContractRecord) -> Undo:
            facility = Facility(
                number=number,
                name=name,
                address=address,
                hours=hours,
                tz=tz,
                suspended=True,
                suspended_reason="not_started",
                counters=dict(counters),
                contract=r.contract.id,
                options=tuple(r.contract.options),
            )
            if not await self.queues.create_facility(facility, QueueConfig(tz=tz), now):
                raise Conflict("that facility number is already assigned", code="facility_exists")
            await self.queues.set_suspended(facility, True, now)
            return abandon

        async def abandon(r: ContractRecord) -> None:
            """The approval was not stored: the facility stays suspended and is marked so
            (``approval_failed``), detached from the contract that does not cover it."""
            await self.facilities.update(
                number, lambda f: replace(f, contract="", suspended_reason="approval_failed")
            )

        return await self.commits.change(contract_id, change, now, after=create_facility)

    async def _free_number(self) -> str:
        number = await self.facilities.next_free_number()
        if number is None:
            raise Unavailable("no free facility number found; give one", code="busy")
        return number

    # ---- status commands ---------------------------------------------------------------------

    async def refuse(
        self, contract_id: str, reason: RefusalReason, now: float, on: date | None = None
    ) -> ContractRecord:
        """Refuse an application (Art. 8)."""
        day = day_or_today(on, now)
        return await self.commits.change(
            contract_id,
            lambda r: replace(r, contract=lifecycle.refuse(r.contract, reason, day)),
            now,
        )

    async def suspend(
        self, contract_id: str, reason: SuspensionReason, now: float, on: date | None = None
    ) -> ContractRecord:
        """Suspend (Art. 12): the facility stops at once."""
        day = day_or_today(on, now)
        return await self.commits.change(
            contract_id,
            lambda r: replace(r, contract=lifecycle.suspend(r.contract, reason, day)),
            now,
        )

    async def resume(self, contract_id: str, now: float, on: date | None = None) -> ContractRecord:
        """Resume a suspended contract: the facility runs again at once."""
        day = day_or_today(on, now)
        return await self.commits.change(
            contract_id, lambda r: replace(r, contract=lifecycle.resume(r.contract, day)), now
        )

    async def object_to_renewal(
        self, contract_id: str, now: float, on: date | None = None
    ) -> ContractRecord:
        """Art. 23-4: a written objection to the automatic renewal."""
        day = day_or_today(on, now)
        return await self.commits.change(
            contract_id,
            lambda r: replace(r, contract=lifecycle.object_to_renewal(r.contract, day)),
            now,
        )

    async def cancel(
        self,
        contract_id: str,
        by: Literal["operator", "customer", "interruption"],
        now: float,
        *,
        on: date | None = None,
        designated_month: date | None = None,
        interruption: str | None = None,
    ) -> ContractRecord:
        """Cancel: Art. 15 (``operator``), 16-1 (``customer``), 16-2 (``interruption``: the
        id of an interruption without prospect of recovery)."""
        day = day_or_today(on, now)
        month = None if designated_month is None else day_or_today(designated_month, now)
        return await self.commits.change(
            contract_id, changes.cancel(by, day, month, interruption), now
        )

    # ---- notices and incidents ---------------------------------------------------------------

    async def add_interruption(
        self,
        contract_id: str,
        kind: InterruptionKind,
        starts_at: datetime,
        now: float,
        *,
        ends_at: datetime | None = None,
        announced_at: datetime | None = None,
        urgent: bool = False,
        message: str = "",
    ) -> ContractRecord:
        """Announce an interruption (Art. 13): before it starts unless ``urgent``; no
        ``ends_at`` = no prospect of recovery; ``announced_at`` defaults to ``now``."""
        interruption = Interruption(
            kind=kind,
            starts_at=moment(starts_at, "starts_at"),
            ends_at=maybe_moment(ends_at, "ends_at"),
            announced_at=maybe_moment(announced_at, "announced_at")
            or datetime.fromtimestamp(now, UTC),
            urgent=urgent,
        )
        lifecycle.validate_interruption(interruption)
        notice = InterruptionNotice(
            id="n" + secrets.token_hex(5), interruption=interruption, message=message
        )

        def change(r: ContractRecord) -> ContractRecord:
            changes.require_started(r)
            return replace(r, interruptions=(*r.interruptions, notice))

        return await self.commits.change(contract_id, change, now)

    async def add_discontinuation(
        self,
        contract_id: str,
        part: Part,
        on: date,
        now: float,
        *,
        announced_on: date | None = None,
        message: str = "",
    ) -> ContractRecord:
        """Art. 14 and 16-3: ``part`` ends on ``on``; with no service item left, the
        contract is cancelled that day."""
        notice = Discontinuation(
            part=part,
            on=day_or_today(on, now, "on"),
            announced_on=day_or_today(announced_on, now, "announced_on"),
        )
        lifecycle.validate_discontinuation(notice)
        stored = DiscontinuationNotice(
            id="n" + secrets.token_hex(5), discontinuation=notice, message=message
        )

        def change(r: ContractRecord) -> ContractRecord:
            changes.require_started(r)
            contract = lifecycle.cancel_for_discontinuation(r.contract, notice)
            return replace(r, contract=contract, discontinuations=(*r.discontinuations, stored))

        return await self.commits.change(contract_id, change, now)

    async def add_incident(
        self,
        contract_id: str,
        learned_at: datetime,
        recovered_at: datetime,
        now: float,
        *,
        cause: IncidentCause = "operator",
        parts: tuple[Part, ...] = (),
    ) -> ContractRecord:
        """Record an outage (Art. 24-4, 32); refunded once the customer claims it in time."""
        incident = Incident(
            id="i" + secrets.token_hex(5),
            learned_at=moment(learned_at, "learned_at"),
            recovered_at=moment(recovered_at, "recovered_at"),
            cause=cause,
            parts=parts,
        )
        changes.check_incident(incident)

        def change(r: ContractRecord) -> ContractRecord:
            changes.require_started(r)
            return replace(r, incidents=(*r.incidents, IncidentRecord(incident=incident)))

        return await self.commits.change(contract_id, change, now)

    async def claim_refund(
        self, contract_id: str, incident_id: str, now: float, on: date | None = None
    ) -> ContractRecord:
        """The customer claims the refund of an incident (Art. 32-1: within one month of the
        recovery); it shows on the invoice of the month of the claim."""
        day = day_or_today(on, now)
        return await self.commits.change(contract_id, changes.claim_refund(incident_id, day), now)

    # ---- the facility a contract governs -----------------------------------------------------

    async def set_facility_suspended(
        self, facility: Facility, suspended: bool, reason: str, now: float
    ) -> Facility:
        """The admin suspend/resume of a facility under contract acts on the contract (so
        the two never disagree): suspend needs an Art. 12 reason. The facility after it."""
        record = await self.contracts.require(facility.contract)
        if suspended:
            await self.suspend(record.contract.id, changes.art12_reason(reason), now)
        else:
            await self.resume(record.contract.id, now)
        return await self.facilities.get(facility.number) or facility
