"""The protocol every contract command follows, in one place.

A command takes the contract's lock (waiting up to ``LOCK_WAIT_S`` for a command already
running on it, else 503 ``busy``), re-reads the record under it, runs the pure rule (a
refused command raises its 409/422 with the rule's code and nothing is written), stores the
result (``ContractStore.update``, checked against the version it read) and brings the
facility in line (``FacilitySync``: suspended or not, contracted options, notices) before
releasing the lock. So two commands on one contract never interleave: an approval's
facility is created once, and an older sync never overwrites a newer one. A sync that fails
after the change was stored is logged and the stored contract is answered; the due list
(``hub.contracts.store``) repairs the facility.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from hub.contracts.changes import Change, domain
from hub.contracts.store import ContractRecord, ContractStore
from hub.contracts.sync import FacilitySync
from hub.errors import Unavailable

log = logging.getLogger("junban")
LOCK_WAIT_S = 5.0
"""How long a command waits for another command on the same contract before 503 busy."""
Undo = Callable[[ContractRecord], Awaitable[None]]
"""Undoes what an approval did before its change was stored (should the store fail)."""


class ContractCommits:
    """Commits pure changes to contracts under the protocol above."""

    def __init__(self, contracts: ContractStore, sync: FacilitySync) -> None:
        self.contracts = contracts
        self.sync = sync

    async def change(
        self,
        contract_id: str,
        change: Change,
        now: float,
        after: Callable[[ContractRecord], Awaitable[Undo]] | None = None,
    ) -> ContractRecord:
        """Under the contract's lock: re-read it, store ``change(current)``, sync its
        facility; the stored record. ``after`` (run once the rule allowed the change, before
        it is stored) returns what undoes it should the store fail."""
        lock = await self.contracts.lock(contract_id, wait_s=LOCK_WAIT_S)
        if lock is None:
            raise Unavailable("another command on this contract is running; retry", code="busy")
        try:
            current = await self.contracts.require(contract_id)
            domain(lambda: change(current))  # refuse before any write, with the rule's code
            undo = await after(current) if after is not None else None
            try:
                updated = await self.contracts.update(
                    contract_id,
                    lambda r: domain(lambda: change(r)),
                    now,
                    expected_version=current.version,
                )
            except BaseException:
                if undo is not None:
                    await _quietly(undo(current), f"undo a change of contract {contract_id}")
                raise
            await _quietly(self.sync.run(updated, now), f"sync contract {contract_id}")
        finally:
            await self.contracts.unlock(lock)
        return updated


async def _quietly(step: Awaitable[None], what: str) -> None:
    """Run a follow-up step whose failure must not turn a stored change into an error
    answer (the due list repairs the facility): log it instead."""
    try:
        await step
    except Exception:
        log.exception("could not %s; the contract keeper will retry", what)
