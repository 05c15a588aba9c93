"""What the operator API answers about a contract and about a facility's limits: projections
of the stored records, computed for a given ``now`` (no I/O)."""

from __future__ import annotations

from datetime import date
from typing import Any

from hub.contracts import lifecycle
from hub.contracts.model import to_builtins
from hub.contracts.store import ContractRecord
from hub.contracts.sync import service_state, today
from hub.queue.facilities import Facility


def contract_view(record: ContractRecord, now: float) -> dict[str, Any]:
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


def limits_view(record: Facility) -> dict[str, Any]:
    """A facility's Art. 37 limits as ``"count/seconds"`` (null: the hub's default)."""

    def text(rate: tuple[int, float] | None) -> str | None:
        return None if rate is None else f"{rate[0]}/{rate[1]:g}"

    return {
        "rate": text(record.rate),
        "rate_ip": text(record.rate_ip),
        "rate_key": text(record.rate_key),
    }
