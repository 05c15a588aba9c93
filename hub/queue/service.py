"""The queue use cases: load state, decide, append with a version check, retry.

Group commit: inside one process every queue has a single ``QueueWriter``. Commands for
that queue wait in its line; the writer takes all that are waiting, decides them in arrival
order against the state it keeps in memory and appends all their events with ONE Lua call.
A burst of 500 "take a ticket" thus costs a handful of round trips. Across processes the
version check in the Lua script still guards: on conflict the writer reloads and re-decides
the whole batch, so no ticket is lost or numbered twice.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from redis.exceptions import RedisError

from hub import metrics
from hub.errors import JunbanError, NotFound, Unavailable, Unprocessable
from hub.queue import calendar, rules
from hub.queue.events import QueueCreated
from hub.queue.facilities import Facility, FacilityStore
from hub.queue.model import (
    Command,
    QueueConfig,
    QueueState,
    SetMessage,
    SetNotices,
    SetSuspended,
    StartDay,
)
from hub.queue.store import QueueStore

log = logging.getLogger("junban")
MAX_BATCH = 512
MAX_ATTEMPTS = 20
SNAPSHOT_EVERY = 32
"""Store a snapshot when the last one is this many versions old (readers replay the rest)."""

Responder = Callable[[QueueState], Any]


@dataclass(frozen=True, slots=True)
class Idempotency:
    """A client's Idempotency-Key and a fingerprint of its request (same key, other body: 422)."""

    key: str
    fingerprint: str


@dataclass(slots=True)
class _Pending:
    command: Command
    respond: Responder
    idempotency: Idempotency | None
    future: asyncio.Future[Any]
    submitted: float = field(default_factory=time.perf_counter)


def answer_bytes(idem: Idempotency, result: Any) -> bytes:
    """How an answer is stored under its Idempotency-Key (the writer's batches and the
    transfer's paired append store it alike, so ``replay`` reads either)."""
    return orjson.dumps({"fp": idem.fingerprint, "result": result})


def _answer_from_bytes(idem: Idempotency, data: bytes) -> Any:
    stored = orjson.loads(data)
    if stored["fp"] != idem.fingerprint:
        raise Unprocessable(
            "this Idempotency-Key was used for a different request",
            code="idempotency_key_reused",
        )
    return stored["result"]


class QueueWriter:
    """The single writer of one queue in this process (see module docstring)."""

    def __init__(self, info: str, store: QueueStore) -> None:
        self.info = info
        self.store = store
        self.state: QueueState | None = None
        self.snapshot_version = 0
        self.replacing_epoch: str | None = None
        """Set when the queue's history went back (Redis lost acknowledged writes): the
        next append gives the queue a new epoch, so every client takes the new states."""
        self.line: deque[_Pending] = deque()
        self.task: asyncio.Task[None] | None = None
        self.batches = 0
        self.last_seen: QueueState | None = None

    async def _replay_refusals(self, batch: list[_Pending], outcomes: list[Any]) -> None:
        await replay_refusals(self.store.stored_answer, self.info, batch, outcomes)

    async def _still_current(self, state: QueueState) -> bool:
        """Is ``state`` what Redis holds? A batch that only refuses writes nothing, so no
        version check guards it: without this look, a refusal decided on this process's
        cached state would outlive a change another process made (web reopened there)."""
        stored = await self.store.stored_version(self.info)
        return stored is not None and stored == (state.version, state.epoch)

    def _notice_regression(self, loaded: QueueState) -> None:
        if _went_back(self.last_seen, loaded):
            self.replacing_epoch = loaded.epoch
        self.last_seen = None

    def submit(self, pending: _Pending) -> None:
        self.line.append(pending)
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._run(), name=f"writer {self.info}")

    async def _run(self) -> None:
        while self.line:
            batch = [self.line.popleft() for _ in range(min(len(self.line), MAX_BATCH))]
            try:
                await self._commit(batch)
            except RedisError as exc:
                self.last_seen, self.state = self.state or self.last_seen, None
                log.warning("queue %s: storage unavailable: %s", self.info, exc)
                _fail(batch, Unavailable("storage is unavailable, retry", code="redis_unavailable"))
            except Exception as exc:  # a bug must not strand the waiting requests
                self.last_seen, self.state = self.state or self.last_seen, None
                _fail(batch, exc)

    async def _commit(self, batch: list[_Pending]) -> None:
        batch = _fold_duplicate_keys(batch)
        fresh = False
        for _ in range(MAX_ATTEMPTS):
            if not batch:
                return
            if self.state is None:
                loaded = await self.store.load_with_meta(self.info)
                if loaded is None:
                    _fail(batch, NotFound("no such queue", code="unknown_queue"))
                    return
                self._notice_regression(loaded.state)
                self.state, self.snapshot_version = loaded.state, loaded.snapshot_version
                fresh = True
            base = self.state
            work = base.copy()
            work.version = base.version + 1
            if self.replacing_epoch is not None:
                work.epoch = secrets.token_hex(4)
            outcomes: list[Any] = []
            events: list[Any] = []
            answers: list[tuple[str, bytes]] = []
            answered: list[_Pending] = []
            for p in batch:
                try:
                    new_events = rules.decide(work, p.command)
                except JunbanError as err:
                    outcomes.append(err)
                    continue
                for event in new_events:
                    rules.apply_in_place(work, event)
                events.extend(new_events)
                result = p.respond(work)
                outcomes.append(result)
                if p.idempotency is not None and new_events:
                    answers.append((p.idempotency.key, answer_bytes(p.idempotency, result)))
                    answered.append(p)
            if not events:
                if not fresh and not await self._still_current(base):
                    self.last_seen, self.state = self.state, None
                    continue  # another process changed the queue: decide on its state
                # nothing changed: answers must show the unchanged version
                outcomes = [o if isinstance(o, Exception) else None for o in outcomes]
                await self._replay_refusals(batch, outcomes)
                _settle(batch, outcomes, base)
                return
            metrics.BATCH_SIZE.observe(len(batch))
            snapshot = work.version - self.snapshot_version >= SNAPSHOT_EVERY
            result = await self.store.append(
                work,
                events,
                base.version,
                answers,
                snapshot=snapshot or self.replacing_epoch is not None,
                replacing_epoch=self.replacing_epoch,
                waiting_before=base.waiting,
            )
            metrics.APPENDS.labels(result.outcome).inc()
            if result.outcome == "ok":
                self.state = work
                self.replacing_epoch = None
                await self._replay_refusals(batch, outcomes)
                if snapshot:
                    self.snapshot_version = work.version
                self.batches += 1
                _settle(batch, outcomes, None)
                return
            if result.outcome == "conflict":
                metrics.CONFLICTS.inc()
                self.last_seen, self.state = self.state, None
                continue
            duplicate = answered[result.value]
            assert duplicate.idempotency is not None
            data = await self.store.stored_answer(self.info, duplicate.idempotency.key)
            batch = [p for p in batch if p is not duplicate]
            if data is None:  # expired between the check and now: decide it afresh
                batch.insert(0, duplicate)
                continue
            _resolve_stored(duplicate, data)
        _fail(batch, Unavailable("the queue is too busy, try again", code="busy"))


async def replay_refusals(
    stored_answer: Callable[[str, str], Awaitable[bytes | None]],
    info: str,
    batch: list[_Pending],
    outcomes: list[Any],
) -> None:
    """A refused retry whose first attempt succeeded (in an earlier batch or another
    process) gets that first answer, not the refusal (queue and booking writers)."""
    for i, (p, outcome) in enumerate(zip(batch, outcomes, strict=True)):
        if p.idempotency is not None and isinstance(outcome, JunbanError):
            stored = await stored_answer(info, p.idempotency.key)
            if stored is not None:
                try:
                    outcomes[i] = _Replayed(_answer_from_bytes(p.idempotency, stored))
                except JunbanError as err:
                    outcomes[i] = err


@dataclass(frozen=True, slots=True)
class _Replayed:
    """A stored first answer standing in for a refusal."""

    result: Any


def _went_back(seen: QueueState | None, loaded: QueueState) -> bool:
    """The stored queue is older than one this process saw: acknowledged writes were lost."""
    return seen is not None and seen.epoch == loaded.epoch and loaded.version < seen.version


def _fold_duplicate_keys(batch: list[_Pending]) -> list[_Pending]:
    """Requests sharing an Idempotency-Key in one batch: the first decides, the rest follow."""
    leaders: dict[str, _Pending] = {}
    kept: list[_Pending] = []
    for p in batch:
        if p.idempotency is None:
            kept.append(p)
            continue
        leader = leaders.get(p.idempotency.key)
        if leader is None:
            leaders[p.idempotency.key] = p
            kept.append(p)
        else:
            _follow(leader, p)
    return kept


def _follow(leader: _Pending, follower: _Pending) -> None:
    def copy(done: asyncio.Future[Any]) -> None:
        if follower.future.done():
            return
        if done.exception() is not None:
            follower.future.set_exception(done.exception())  # type: ignore[arg-type]
        elif (
            follower.idempotency is not None
            and leader.idempotency is not None
            and follower.idempotency.fingerprint != leader.idempotency.fingerprint
        ):
            follower.future.set_exception(
                Unprocessable(
                    "this Idempotency-Key was used for a different request",
                    code="idempotency_key_reused",
                )
            )
        else:
            follower.future.set_result(done.result())

    leader.future.add_done_callback(copy)


def _resolve_stored(p: _Pending, data: bytes) -> None:
    assert p.idempotency is not None
    try:
        p.future.set_result(_answer_from_bytes(p.idempotency, data))
    except JunbanError as err:
        p.future.set_exception(err)


def _settle(batch: list[_Pending], outcomes: list[Any], unchanged: QueueState | None) -> None:
    now = time.perf_counter()
    for p, outcome in zip(batch, outcomes, strict=True):
        name = type(p.command).__name__
        metrics.COMMAND_SECONDS.labels(name).observe(now - p.submitted)
        if p.future.done():
            continue
        if isinstance(outcome, Exception):
            code = outcome.code if isinstance(outcome, JunbanError) else "error"
            metrics.COMMANDS.labels(name, code).inc()
            p.future.set_exception(outcome)
        elif isinstance(outcome, _Replayed):
            metrics.COMMANDS.labels(name, "replayed").inc()
            p.future.set_result(outcome.result)
        else:
            metrics.COMMANDS.labels(name, "ok").inc()
            p.future.set_result(p.respond(unchanged) if unchanged is not None else outcome)


def _fail(batch: list[_Pending], error: BaseException) -> None:
    for p in batch:
        if not p.future.done():
            p.future.set_exception(error)


class QueueService:
    """What the web layer calls: run commands on queues and manage facilities."""

    def __init__(self, store: QueueStore, facilities: FacilityStore) -> None:
        self.store = store
        self.facilities = facilities
        self.writers: dict[str, QueueWriter] = {}

    async def replay(self, info: str, idempotency: Idempotency) -> Any | None:
        """The first answer to this Idempotency-Key, if there is one (422 if reused)."""
        stored = await self.store.stored_answer(info, idempotency.key)
        return None if stored is None else _answer_from_bytes(idempotency, stored)

    def writer(self, info: str) -> QueueWriter:
        writer = self.writers.get(info)
        if writer is None:
            writer = self.writers[info] = QueueWriter(info, self.store)
        return writer

    async def execute(
        self,
        info: str,
        command: Command,
        respond: Responder,
        idempotency: Idempotency | None = None,
    ) -> Any:
        """Run ``command`` on queue ``info``; the answer is ``respond(state after it)``.

        A retried Idempotency-Key returns the first answer without running anything.
        """
        if idempotency is not None:
            stored = await self.replay(info, idempotency)
            if stored is not None:
                return stored
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        writer = self.writer(info)
        writer.submit(_Pending(command, respond, idempotency, future))
        try:
            return await future
        except NotFound:
            if writer.state is None and not writer.line:  # keep no writer for a queue
                self.writers.pop(info, None)  # that does not exist
            raise

    async def create_facility(self, facility: Facility, config: QueueConfig, at: float) -> bool:
        """Record a new facility and create each counter's queue; False when the number is
        taken (nothing changes)."""
        if not await self.facilities.create(facility):
            return False
        await self.store.create_outbox_groups(facility.number)  # first: they see every entry
        for info in facility.infos():
            state = QueueState(info=info, epoch=secrets.token_hex(4), version=1)
            events = [QueueCreated(at=at, info=info, config=config)]
            for event in events:
                rules.apply_in_place(state, event)
            await self.store.append(state, list(events), 0)
        return True

    async def roll_day_if_stale(self, info: str, view: dict[str, Any], now: float) -> bool:
        """Start today on a queue whose public ``view`` still shows an earlier day."""
        try:
            today = calendar.business_day(now, view["tz"])
        except (KeyError, ValueError):
            return False
        if today <= view.get("day", ""):
            return False
        await self.execute(info, StartDay(at=now), lambda s: None)
        return True

    async def set_message(self, facility: Facility, text: str, at: float) -> None:
        for info in facility.infos():
            await self.execute(info, SetMessage(at=at, text=text), lambda s: None)

    async def set_notices(self, facility: Facility, at: float) -> None:
        """Put the facility record's notices into each of its queues' views (live)."""
        for info in facility.infos():
            await self.execute(info, SetNotices(at=at, notices=facility.notices), lambda s: None)

    async def set_suspended(self, facility: Facility, suspended: bool, at: float) -> None:
        for info in facility.infos():
            await self.execute(info, SetSuspended(at=at, suspended=suspended), lambda s: None)
