"""The facility use cases: its public record with the live queues (the partner API), the
i-message, suspension outside a contract, its own rate limits (Art. 37), and creating one.
The record and its store live in ``hub.queue.facilities``; a facility under contract is
suspended through its contract (``hub.contracts.service``), so the two never disagree."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import Any

import orjson

from hub.contracts.changes import rate_limit
from hub.contracts.gates import check_api_option
from hub.contracts.service import ContractService
from hub.errors import Conflict, NotFound, Unprocessable
from hub.notify.channels import CHANNELS
from hub.queue import calendar
from hub.queue.facilities import Facility, FacilityStore
from hub.queue.model import QueueConfig
from hub.queue.service import QueueService
from hub.queue.store import QueueStore
from hub.ratelimit import RateLimiter


@dataclass(frozen=True, slots=True)
class ApiCaller:
    """Who reads a facility, as the API-option gate weighs it (``check_api_option``)."""

    origin: str | None
    own_origins: Collection[str]
    partner: bool


class FacilityService:
    """Reads and changes facilities for the HTTP layer."""

    def __init__(
        self,
        facilities: FacilityStore,
        store: QueueStore,
        queues: QueueService,
        contracts: ContractService,
        limiter: RateLimiter,
    ) -> None:
        self.facilities = facilities
        self.store = store
        self.queues = queues
        self.contracts = contracts
        self.limiter = limiter

    async def require(self, number: str) -> Facility:
        record = await self.facilities.get(number)
        if record is None:
            raise NotFound("no such facility", code="unknown_facility")
        return record

    async def public(self, number: str, caller: ApiCaller, now: float) -> dict[str, Any]:
        """Name, address, hours, message, each counter's public view and today's notices;
        403 ``option_not_contracted`` for another origin or a partner without the API
        option."""
        record = await self.require(number)
        check_api_option(record, caller.origin, caller.own_origins, caller.partner)
        queues = []
        for info in record.infos():
            found = await self.store.load_view(info)
            if found is not None:
                queues.append(orjson.loads(found[0]))
        notices = record.current_notices(now)
        return {
            **record.public(),
            "queues": queues,
            "notices": notices,
            # the patient page offers 「電話で呼び出しを希望する」 only where calls can be made,
            # and the notification channels this hub has turned on (hub.notify.wiring)
            "phone_calls": record.has_option("phone"),
            "notify_channels": sorted(CHANNELS),
        }

    async def set_message(self, number: str, text: str, now: float) -> None:
        """Store the i-message and show it live in every queue of the facility."""
        record = await self.require(number)
        await self.facilities.update(number, lambda r: replace(r, message=text))
        await self.queues.set_message(record, text, now)

    async def set_suspended(
        self, number: str, suspended: bool, reason: str, now: float
    ) -> Facility:
        """Suspend (with a reason) or resume; under contract the contract decides (an
        Art. 12 reason is then required)."""
        record = await self.require(number)
        if record.contract:
            return await self.contracts.set_facility_suspended(record, suspended, reason, now)
        reason = reason if suspended else ""
        updated = await self.facilities.update(
            number, lambda r: replace(r, suspended=suspended, suspended_reason=reason)
        )
        if updated is None:
            raise NotFound("no such facility", code="unknown_facility")
        await self.queues.set_suspended(updated, suspended, now)
        return updated

    async def set_limits(
        self, number: str, rate: str | None, rate_ip: str | None, rate_key: str | None = None
    ) -> Facility:
        """Art. 37: the facility's own web-ticket limits (``"count/seconds"``; None = the
        hub's default), enforced from the next request on (other processes within 2 s)."""
        facility_rate = rate_limit(rate, "rate")
        address_rate = rate_limit(rate_ip, "rate_ip")
        key_rate = rate_limit(rate_key, "rate_key")  # each partner API key's (hub.apikeys)
        updated = await self.facilities.update(
            number,
            lambda r: replace(r, rate=facility_rate, rate_ip=address_rate, rate_key=key_rate),
        )
        if updated is None:
            raise NotFound("no such facility", code="unknown_facility")
        # a new limit starts from a clean slate (GCRA state under the old one could refuse for
        # its whole old window); per-address states expire within their old window
        await self.limiter.reset("facility", number, number)
        return updated

    async def create(self, record: Facility, now: float) -> Facility:
        """Assign the number and create each counter's queue; 409 ``facility_exists``."""
        try:
            calendar.zone(record.tz)
        except ValueError as exc:
            raise Unprocessable(str(exc), code="invalid_body") from exc
        if not record.counters:
            raise Unprocessable("a facility needs at least one counter", code="invalid_body")
        if not await self.queues.create_facility(record, QueueConfig(tz=record.tz), now):
            raise Conflict("that facility number is already assigned", code="facility_exists")
        return record
