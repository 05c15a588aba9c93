"""Bring a facility in line with its contract: suspended or not, contracted options, notices.

The facility record (``hub.queue.facilities``) carries what the hot path needs (suspended
flag, options, notices, limits), so a request never reads a contract. After every contract
change, and whenever a date in the contract arrives (a cancellation takes effect, an option's
last day passes), ``FacilitySync.run`` rewrites those fields and suspends or resumes the
queues. Idempotent: running it twice changes nothing the second time.

Ordering: every sync runs under the contract's lock (``ContractStore.lock``: the command's
request holds it from before its change to after its sync; the keeper takes it, or skips
a contract whose lock is held, since its holder syncs it) and applies the *latest* stored
record, not the one it was handed, so an older version never overwrites a newer one.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from redis.exceptions import RedisError

from hub.contracts import lifecycle
from hub.contracts.model import OPTIONS, Contract
from hub.contracts.store import ContractRecord, ContractStore
from hub.errors import JunbanError
from hub.queue.facilities import FacilityStore
from hub.queue.model import Notice
from hub.queue.service import QueueService

log = logging.getLogger("junban")
TOKYO = ZoneInfo(lifecycle.TOKYO)


def today(now: float) -> date:
    return lifecycle.local_date(datetime.fromtimestamp(now, UTC))


def midnight(day: date) -> float:
    """The epoch second local ``day`` begins (facility time)."""
    return datetime.combine(day, time(0), tzinfo=TOKYO).timestamp()


def service_state(contract: Contract, day: date) -> tuple[bool, str]:
    """(suspended, reason) of the contract's facility on ``day``."""
    if contract.suspension is not None:
        return True, contract.suspension
    if contract.start_date is not None and day < contract.start_date:
        return True, "not_started"
    if not lifecycle.is_effective(contract, day):
        return True, "contract_ended"
    if "reservation" not in lifecycle.live_parts(contract, day):
        return True, "discontinued"
    return False, ""


def next_change(contract: Contract, day: date) -> float | None:
    """The next instant a date in the contract changes its facility; None when none."""
    dates: list[date] = []
    if contract.start_date is not None:
        dates.append(contract.start_date)
    end = lifecycle.ends_on(contract)
    if end is not None:
        dates.append(end + timedelta(days=1))
    dates += [d.last_day + timedelta(days=1) for d in contract.dropped]
    later = [d for d in dates if d > day]
    return midnight(min(later)) if later else None


def notices_of(record: ContractRecord) -> tuple[Notice, ...]:
    notices = [
        Notice(
            id=n.id,
            kind="interruption",
            starts_at=n.interruption.starts_at.timestamp(),
            ends_at=None if n.interruption.ends_at is None else n.interruption.ends_at.timestamp(),
            message=n.message,
            urgent=n.interruption.urgent,
        )
        for n in record.interruptions
    ]
    notices += [
        Notice(
            id=n.id,
            kind="discontinuation",
            starts_at=midnight(n.discontinuation.on),
            ends_at=midnight(n.discontinuation.on),
            message=n.message,
            part=n.discontinuation.part,
        )
        for n in record.discontinuations
    ]
    return tuple(notices)


class FacilitySync:
    """Applies a contract's state to its facility (see the module docstring)."""

    def __init__(
        self, contracts: ContractStore, facilities: FacilityStore, service: QueueService
    ) -> None:
        self.contracts = contracts
        self.facilities = facilities
        self.service = service

    async def run(self, record: ContractRecord, now: float) -> None:
        """Bring the facility in line with the newest stored version of ``record``'s
        contract (the caller holds the contract's lock)."""
        latest = await self.contracts.get(record.contract.id)
        if latest is not None and latest.version > record.version:
            record = latest
        contract = record.contract
        number = contract.facility
        if number is None or contract.status in ("applied", "refused"):
            await self.contracts.reschedule(contract.id, record.version, None)
            return
        day = today(now)
        suspended, reason = service_state(contract, day)
        options = tuple(p for p in lifecycle.live_parts(contract, day) if p in OPTIONS)
        notices = notices_of(record)
        updated = await self.facilities.update(
            number,
            lambda r: replace(
                r,
                contract=contract.id,
                suspended=suspended,
                suspended_reason=reason,
                options=options,
                notices=notices,
            ),
        )
        if updated is not None:
            await self.service.set_suspended(updated, suspended, now)
            await self.service.set_notices(updated, now)
        await self.contracts.reschedule(contract.id, record.version, next_change(contract, day))

    async def run_due(self, now: float) -> int:
        """Sync every contract due by ``now`` (the keeper's round); how many were synced."""
        done = 0
        for contract_id in await self.contracts.due(now):
            try:
                done += await self._run_locked(contract_id, now)
            except (JunbanError, RedisError) as exc:
                log.warning("could not bring contract %s's facility in line: %s", contract_id, exc)
            except Exception:  # one broken record must not stop the others (or the keeper)
                log.exception("could not bring contract %s's facility in line", contract_id)
        return done

    async def _run_locked(self, contract_id: str, now: float) -> int:
        """Sync one due contract under its lock; 0 when a command holds the lock (it syncs
        the contract itself) or the record is gone."""
        lock = await self.contracts.lock(contract_id)
        if lock is None:
            return 0
        try:
            record = await self.contracts.get(contract_id)
            if record is None:
                await self.contracts.reschedule(contract_id, -1, None)
                return 0
            await self.run(record, now)
            return 1
        finally:
            await self.contracts.unlock(lock)
