"""Contracts in Redis: one record per contract, an index by facility, and a due list.

A ``ContractRecord`` is the pure ``Contract`` plus what the operator recorded about it
(notices, incidents). Every change goes through ``ContractStore.update``: optimistic WATCH on
the record, retried on conflict (redis-py's ``Redis.transaction``, as
``hub.queue.facilities``), and in the same MULTI the
facility index and the *due list* (``jb:{contracts}:due``): the contract is marked due
*now*, so that its facility (suspended? which options? which notices?) is brought in line
right after, by the request, or else by the keeper of any process (outbox pattern: a crash
between the two writes delays the facility by one keeper round, never loses the change).
Later dates that change the facility (a cancellation's effective date, a discontinued
option's last day) are scored in the due list too; ``hub.contracts.sync`` does the syncing.

A per-contract lock (``lock``/``unlock``: redis-py's ``Lock``, ``SET NX PX`` with a holder
token, released only by its holder) serialises a command *and* the sync that follows it, and
the keeper's syncs, so an older sync never overwrites a newer one.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import cast

import msgspec
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.asyncio.lock import Lock
from redis.exceptions import LockError

from hub import keys
from hub.contracts.model import Contract, Discontinuation, Incident, Interruption
from hub.errors import Conflict, NotFound

CONTRACT_ID_RE = re.compile(r"^c[0-9a-f]{12}\Z")
LOCK_TTL_MS = 30_000
"""How long a contract's lock lives at most (a command and its sync take far less)."""


def new_contract_id() -> str:
    return "c" + secrets.token_hex(6)


@dataclass(frozen=True, slots=True)
class InterruptionNotice:
    """An announced interruption (Art. 13) with the text shown to patients."""

    id: str
    interruption: Interruption
    message: str = ""


@dataclass(frozen=True, slots=True)
class DiscontinuationNotice:
    id: str
    discontinuation: Discontinuation
    message: str = ""


@dataclass(frozen=True, slots=True)
class IncidentRecord:
    """An outage (Art. 24-4, 32) and, once the customer claimed it, the claim's day and
    the refund it is worth."""

    incident: Incident
    claimed_on: date | None = None
    refund: int | None = None


@dataclass(frozen=True, slots=True)
class ContractRecord:
    """What the store keeps per contract. ``version`` grows with every change."""

    contract: Contract
    version: int = 1
    created_at: datetime | None = None
    interruptions: tuple[InterruptionNotice, ...] = ()
    discontinuations: tuple[DiscontinuationNotice, ...] = ()
    incidents: tuple[IncidentRecord, ...] = ()


_decoder = msgspec.msgpack.Decoder(ContractRecord)
_encoder = msgspec.msgpack.Encoder()


def _encode(record: ContractRecord) -> bytes:
    return _encoder.encode(record)


class ContractStore:
    """Reads and writes contract records (see the module docstring for the guarantees)."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def create(self, record: ContractRecord, due_at: float) -> bool:
        """Store a new record; False (nothing written) when the id is taken."""
        key = keys.contract(record.contract.id)
        if not await self.redis.set(key, _encode(record), nx=True):
            return False
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.sadd(keys.CONTRACT_IDS, record.contract.id)
            if record.contract.facility is not None:
                pipe.hset(keys.CONTRACTS_BY_FACILITY, record.contract.facility, record.contract.id)
            pipe.zadd(keys.CONTRACTS_DUE, {record.contract.id: due_at})
            await pipe.execute()
        return True

    async def get(self, contract_id: str) -> ContractRecord | None:
        if not CONTRACT_ID_RE.match(contract_id):
            return None
        data = cast(bytes | None, await self.redis.get(keys.contract(contract_id)))
        return None if data is None else _decoder.decode(data)

    async def require(self, contract_id: str) -> ContractRecord:
        record = await self.get(contract_id)
        if record is None:
            raise NotFound("no such contract", code="unknown_contract")
        return record

    async def update(
        self,
        contract_id: str,
        change: Callable[[ContractRecord], ContractRecord],
        due_at: float,
        expected_version: int | None = None,
    ) -> ContractRecord:
        """Apply ``change`` (pure; it may raise to refuse, and then nothing is written) to
        the stored record atomically, bump its version, index its facility and mark it due
        at ``due_at``. With ``expected_version``, 409 ``version_conflict`` when the record
        moved on since the caller read it."""
        key = keys.contract(contract_id)

        async def write(pipe: Pipeline) -> ContractRecord:
            data = cast(bytes | None, await pipe.get(key))
            if data is None or not CONTRACT_ID_RE.match(contract_id):
                raise NotFound("no such contract", code="unknown_contract")
            current = _decoder.decode(data)
            if expected_version is not None and current.version != expected_version:
                raise Conflict(
                    "the contract changed meanwhile; reload it and retry",
                    code="version_conflict",
                    version=current.version,
                )
            record = replace(change(current), version=current.version + 1)
            pipe.multi()  # type: ignore[no-untyped-call]
            pipe.set(key, _encode(record))
            if record.contract.facility is not None:
                pipe.hset(keys.CONTRACTS_BY_FACILITY, record.contract.facility, contract_id)
            pipe.zadd(keys.CONTRACTS_DUE, {contract_id: due_at})
            return record

        updated: ContractRecord = await self.redis.transaction(write, key, value_from_callable=True)
        return updated

    async def lock(
        self, contract_id: str, wait_s: float = 0.0, ttl_ms: int = LOCK_TTL_MS
    ) -> Lock | None:
        """Take the contract's lock, waiting up to ``wait_s`` for another holder; the lock
        to ``unlock``, or None when it stayed taken. It expires after ``ttl_ms`` (a crashed
        holder never blocks the contract for longer)."""
        lock = self.redis.lock(
            keys.contract_lock(contract_id),
            timeout=ttl_ms / 1000,
            sleep=0.02,
            blocking=wait_s > 0,
            blocking_timeout=wait_s if wait_s > 0 else None,
            thread_local=False,  # one Lock object per holder, shared by no other task
        )
        return lock if await lock.acquire() else None

    async def unlock(self, lock: Lock) -> None:
        """Release ``lock`` if it still holds it (never another holder's): one that expired,
        and was perhaps taken by another holder meanwhile, is left as it is."""
        with suppress(LockError):  # LockNotOwnedError: it expired (and was perhaps taken)
            await lock.release()

    async def by_facility(self, number: str) -> ContractRecord | None:
        contract_id = cast(bytes | None, await self.redis.hget(keys.CONTRACTS_BY_FACILITY, number))
        return None if contract_id is None else await self.get(contract_id.decode())

    async def all(self) -> list[ContractRecord]:
        ids = sorted(
            m.decode() for m in cast(set[bytes], await self.redis.smembers(keys.CONTRACT_IDS))
        )
        if not ids:
            return []
        rows = cast(list[bytes | None], await self.redis.mget([keys.contract(i) for i in ids]))
        return [_decoder.decode(row) for row in rows if row is not None]

    async def due(self, now: float, limit: int = 100) -> list[str]:
        """Ids of contracts whose facility must be brought in line by ``now``."""
        found = cast(
            list[bytes],
            await self.redis.zrangebyscore(keys.CONTRACTS_DUE, "-inf", now, start=0, num=limit),
        )
        return [m.decode() for m in found]

    async def reschedule(self, contract_id: str, seen_version: int, next_at: float | None) -> None:
        """After syncing version ``seen_version``: the next due time, or off the list. A
        newer change made meanwhile keeps its own (earlier) due time."""
        key = keys.contract(contract_id)

        async def write(pipe: Pipeline) -> None:
            data = cast(bytes | None, await pipe.get(key))
            if data is not None and _decoder.decode(data).version != seen_version:
                return  # a newer change keeps its due time (the empty MULTI writes nothing)
            pipe.multi()  # type: ignore[no-untyped-call]
            if next_at is None or data is None:
                pipe.zrem(keys.CONTRACTS_DUE, contract_id)
            else:
                pipe.zadd(keys.CONTRACTS_DUE, {contract_id: next_at})

        await self.redis.transaction(write, key)
