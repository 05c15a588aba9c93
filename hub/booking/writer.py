"""Group commit for booking books, as ``hub/queue/service.py`` does for queues: in one
process each book (queue and date) has one writer; the requests waiting for it are decided
together on the book it keeps in memory and appended with ONE Lua call. Across processes
the version check guards: on conflict the writer reloads and re-decides the whole batch,
so 300 simultaneous bookings for 30 places give exactly 30, whichever hubs take them.

It reuses the queue writer's request plumbing (``_Pending``, duplicate keys in a batch,
settling the futures) and is smaller: a book is small, so every append stores all of it,
and it has no epochs, snapshots or outbox.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from redis.exceptions import RedisError

from hub import metrics
from hub.booking import rules
from hub.booking.model import Book, BookCommand, BookEvent
from hub.booking.store import BookStore
from hub.errors import JunbanError, Unavailable
from hub.queue.service import (
    Idempotency,
    _answer_from_bytes,
    _fail,
    _fold_duplicate_keys,
    _Pending,
    _resolve_stored,
    _settle,
    answer_bytes,
    replay_refusals,
)

log = logging.getLogger("junban")
BookResponder = Callable[[Book], Any]
MAX_BATCH = 512
MAX_ATTEMPTS = 20


class BookWriter:
    """The single writer of one book in this process."""

    def __init__(self, info: str, day: str, tz: str, store: BookStore) -> None:
        self.info, self.day, self.tz = info, day, tz
        self.store = store
        self.book: Book | None = None
        self.line: deque[_Pending] = deque()
        self.task: asyncio.Task[None] | None = None

    def submit(self, pending: _Pending) -> None:
        self.line.append(pending)
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._run(), name=f"book {self.info} {self.day}")

    async def _run(self) -> None:
        while self.line:
            batch = [self.line.popleft() for _ in range(min(len(self.line), MAX_BATCH))]
            try:
                await self._commit(batch)
            except RedisError as exc:
                self.book = None
                log.warning("book %s %s: storage unavailable: %s", self.info, self.day, exc)
                _fail(batch, Unavailable("storage is unavailable, retry", code="redis_unavailable"))
            except Exception as exc:  # a bug must not strand the waiting requests
                self.book = None
                _fail(batch, exc)

    async def _commit(self, batch: list[_Pending]) -> None:
        batch = _fold_duplicate_keys(batch)
        for _ in range(MAX_ATTEMPTS):
            if not batch:
                return
            fresh = self.book is None
            if self.book is None:
                self.book = await self.store.load(self.info, self.day)
            base = self.book
            work = base.copy()
            work.version = base.version + 1
            outcomes: list[Any] = []
            events: list[BookEvent] = []
            answers: list[tuple[str, bytes]] = []
            answered: list[_Pending] = []
            for p in batch:
                try:
                    new_events = rules.decide(work, p.command)  # type: ignore[arg-type]
                except JunbanError as err:
                    outcomes.append(err)
                    continue
                for event in new_events:
                    rules.apply(work, event)
                events.extend(new_events)
                result = p.respond(work)  # type: ignore[arg-type]
                outcomes.append(result)
                if p.idempotency is not None and new_events:
                    answers.append((p.idempotency.key, answer_bytes(p.idempotency, result)))
                    answered.append(p)
            if not events:
                if not fresh and await self.store.version(self.info, self.day) != base.version:
                    self.book = None  # another process changed it: decide on its book
                    continue
                outcomes = [o if isinstance(o, Exception) else None for o in outcomes]
                await replay_refusals(self.store.stored_answer, self.info, batch, outcomes)
                _settle(batch, outcomes, base)  # type: ignore[arg-type]
                return
            metrics.BATCH_SIZE.observe(len(batch))
            result = await self.store.append(work, events, base.version, answers, self.tz)
            if result.outcome == "ok":
                self.book = work
                await replay_refusals(self.store.stored_answer, self.info, batch, outcomes)
                _settle(batch, outcomes, None)
                return
            if result.outcome == "conflict":
                metrics.CONFLICTS.inc()
                self.book = None
                continue
            duplicate = answered[result.value - 1]
            assert duplicate.idempotency is not None
            data = await self.store.stored_answer(self.info, duplicate.idempotency.key)
            batch = [p for p in batch if p is not duplicate]
            if data is None:
                batch.insert(0, duplicate)
                continue
            _resolve_stored(duplicate, data)
        _fail(batch, Unavailable("the booking book is too busy, try again", code="busy"))


class BookWriters:
    """This process's book writers, one per queue and date."""

    def __init__(self, store: BookStore) -> None:
        self.store = store
        self.writers: dict[tuple[str, str], BookWriter] = {}

    async def replay(self, info: str, idem: Idempotency) -> Any | None:
        stored = await self.store.stored_answer(info, idem.key)
        return None if stored is None else _answer_from_bytes(idem, stored)

    async def execute(
        self,
        info: str,
        day: str,
        tz: str,
        command: BookCommand,
        respond: BookResponder,
        idem: Idempotency | None = None,
    ) -> Any:
        """Run ``command`` on the book of ``info`` and ``day``; ``respond(book after it)``."""
        if idem is not None:
            first = await self.replay(info, idem)
            if first is not None:
                return first
        writer = self.writers.get((info, day))
        if writer is None:
            if len(self.writers) > 4096:  # books of past days: drop the idle ones
                idle = [k for k, w in self.writers.items() if w.task is None or w.task.done()]
                for k in idle:
                    del self.writers[k]
            writer = self.writers[(info, day)] = BookWriter(info, day, tz, self.store)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        writer.submit(_Pending(command, respond, idem, future))  # type: ignore[arg-type]
        return await future
