"""The outbox's ``integrations`` group: fan-out to endpoint streams, then per-endpoint delivery.

``handle`` maps each outbox entry to its v1 events (``events.events_of``) and, in one
MULTI, XADDs each event an enabled endpoint wants to that endpoint's stream
``jb:{F}:ep:{id}:q`` and XACKs the entries: an entry is copied exactly when it is
acknowledged (the group ``acknowledges`` its batches itself).

``idle`` (every serve pass of the facility's lease holder) starts the dispatcher task of
each endpoint this pass's entries went to, when it is not running in this process; on a
full pass (a sweep's, a retry's, a ``{facility}:integrations`` wake-up's, a lease just
taken) it checks every enabled endpoint for pending events. A dispatcher that finds its
stream empty just after ``handle`` fed it reads it once more instead of stopping.

A dispatcher sends only the head of its stream, in order, through
``SENDERS[endpoint.kind]``; records every attempt in the delivery log; retries on the
schedule (``schedule.retry_at``, its state in ``jb:{F}:ep:{id}:state``, so a new lease
holder carries on); after the last attempt (or an answer that stops retries) drops the head
as failed and goes on. Endpoints run in their own tasks, so a dead endpoint delays only
itself. A dispatcher stops when its stream is empty,
its endpoint is gone or disabled, or this process no longer holds the facility's lease.
While the facility is suspended, or lacks the option its endpoint's kind needs (``emr`` for
ORCA and FHIR), a dispatcher holds its head and sends nothing: the events wait in the
endpoint's stream and go out, in order, once the suspension is lifted or the option is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

from hub import keys
from hub.errors import NotFound
from hub.integrations import schedule
from hub.integrations.deliveries import Attempt, record_attempt
from hub.integrations.endpoints import Endpoint, EndpointStore
from hub.integrations.events import IntegrationEvent, events_of, from_record, to_record
from hub.integrations.kinds import KINDS
from hub.integrations.senders import SENDERS, Outcome
from hub.outbox.consumer import wake_group
from hub.outbox.entry import OutboxEntry
from hub.queue.facilities import Facility

log = logging.getLogger("junban")

GROUP = "integrations"
QUEUE_MAXLEN = 100_000
"""Approximate cap on one endpoint's pending events (a safety net; replay covers 8 days)."""
FAILING_DISABLE_S = 5 * 86400
"""An endpoint failing this long (times JUNBAN_RETRY_SCALE) is disabled."""
POLL_S = 5.0
"""Longest sleep of a waiting dispatcher between checks (lease, endpoint, its head)."""
CHECK_S = 1.0
"""A sending dispatcher reads its lease and its endpoint's record again this often."""


class _Fresh:
    """What one dispatcher read of its lease and endpoint, and when (``_step``)."""

    __slots__ = ("at", "endpoint", "record")

    def __init__(self) -> None:
        self.at = 0.0
        self.endpoint: Endpoint | None = None
        self.record: Facility | None = None


Annotate = Callable[[str, str, str, str], Awaitable[None]]
"""``QueueActions.annotate(info, ticket_id, key, value)``."""
RecordOf = Callable[[str], Awaitable[Facility | None]]
"""``FacilityStore.get``: the facility's record (suspension, options), read from Redis (the
per-process cache serves a stale record once after a long idle time)."""


def may_send(record: Facility | None, kind: str) -> bool:
    """Whether an endpoint of ``kind`` may hand events over now: the facility exists, is
    not suspended, and has the option the kind needs (Table 1)."""
    if record is None or record.suspended:
        return False
    option = KINDS[kind].option if kind in KINDS else None
    return option is None or record.has_option(option)


def wake(redis: Redis, facility: str) -> Awaitable[None]:
    """Ask the outbox runners to serve ``facility``'s integrations now (an endpoint made or
    enabled, new events in an endpoint stream)."""
    return wake_group(redis, facility, GROUP)


async def enqueue(redis: Redis, endpoint: Endpoint, events: list[IntegrationEvent]) -> int:
    """Append ``events`` to the endpoint's stream (test pings, replays); returns how many."""
    if not events:
        return 0
    async with redis.pipeline(transaction=True) as pipe:
        for event in events:
            pipe.xadd(
                keys.endpoint_queue(endpoint.facility, endpoint.id),
                to_record(event),  # type: ignore[arg-type]
                maxlen=QUEUE_MAXLEN,
                approximate=True,
            )
        await pipe.execute()
    await wake(redis, endpoint.facility)
    return len(events)


class IntegrationsGroup:
    """``hub.outbox.consumer.Group`` for the ``integrations`` group."""

    name = GROUP
    acknowledges = True

    def __init__(
        self,
        redis: Redis,
        endpoints: EndpointStore,
        annotate: Annotate,
        record_of: RecordOf,
        *,
        consumer: str,
        retry_scale: float = 1.0,
    ) -> None:
        self.redis = redis
        self.endpoints = endpoints
        self.annotate = annotate
        self.record_of = record_of
        self.consumer = consumer
        self.retry_scale = retry_scale
        self.tasks: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._fed: dict[str, set[str]] = {}
        """facility -> the endpoints ``handle`` queued events for since the last ``idle``."""
        self._refed: set[tuple[str, str]] = set()
        """(facility, endpoint)s fed since their dispatcher last read its head."""

    async def wants(self, facility: str) -> bool:
        return bool(await self.redis.scard(keys.endpoints(facility)))

    async def handle(self, facility: str, entries: list[OutboxEntry]) -> None:
        enabled = [e for e in await self.endpoints.list(facility) if e.enabled]
        fed: set[str] = set()
        async with self.redis.pipeline(transaction=True) as pipe:
            for entry in entries:
                for event in events_of(entry):
                    for endpoint in enabled:
                        if event.timestamp < endpoint.created_at:
                            continue  # committed before the endpoint was made
                        if endpoint.wants(event.type, event.info):
                            fed.add(endpoint.id)
                            pipe.xadd(
                                keys.endpoint_queue(facility, endpoint.id),
                                to_record(event),  # type: ignore[arg-type]
                                maxlen=QUEUE_MAXLEN,
                                approximate=True,
                            )
            if entries:
                pipe.xack(keys.outbox(facility), GROUP, *(e.id for e in entries))
            await pipe.execute()
        if fed:
            self._fed.setdefault(facility, set()).update(fed)
            self._refed.update((facility, endpoint_id) for endpoint_id in fed)

    async def idle(self, facility: str, full: bool) -> None:
        fed = self._fed.pop(facility, set())
        if not full:
            for endpoint_id in fed:
                self._start(facility, endpoint_id)
            return
        for endpoint in await self.endpoints.list(facility):
            if not endpoint.enabled or self._running(facility, endpoint.id):
                continue
            queue = keys.endpoint_queue(facility, endpoint.id)
            if endpoint.id in fed or await self.redis.xlen(queue):
                self._start(facility, endpoint.id)

    def _running(self, facility: str, endpoint_id: str) -> bool:
        task = self.tasks.get((facility, endpoint_id))
        return task is not None and not task.done()

    def _start(self, facility: str, endpoint_id: str) -> None:
        """The endpoint's dispatcher in this process, unless it runs already."""
        if not self._running(facility, endpoint_id):
            self.tasks[facility, endpoint_id] = asyncio.create_task(
                self._dispatch(facility, endpoint_id), name=f"endpoint {facility}/{endpoint_id}"
            )

    async def aclose(self) -> None:
        """Stop every dispatcher of this process (an attempt in flight is sent again later)."""
        tasks = list(self.tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.tasks.clear()

    # ---- one endpoint's dispatcher ------------------------------------------------------

    async def _holds_lease(self, facility: str) -> bool:
        holder = cast(bytes | None, await self.redis.get(keys.outbox_lease(facility, GROUP)))
        return holder is not None and holder.decode() == self.consumer

    async def _dispatch(self, facility: str, endpoint_id: str) -> None:
        fresh = _Fresh()
        try:
            while await self._step(facility, endpoint_id, fresh):
                pass
        except asyncio.CancelledError:
            raise
        except (RedisError, OSError) as exc:
            log.warning("endpoint %s/%s: %s", facility, endpoint_id, exc)
        except Exception:  # one endpoint's failure stops only its dispatcher, till next pass
            log.exception("endpoint %s/%s failed", facility, endpoint_id)

    async def _step(self, facility: str, endpoint_id: str, fresh: _Fresh) -> bool:
        """One step: send the head when due, or wait a while. False: stop the dispatcher.
        The lease and the endpoint's record are read again at most every CHECK_S (a busy
        endpoint sends many events a second; a lost lease or a disabled endpoint stops it
        within CHECK_S)."""
        now = time.monotonic()
        if fresh.endpoint is None or now - fresh.at >= CHECK_S:
            if not await self._holds_lease(facility):
                return False
            fresh.endpoint = await self.endpoints.get(facility, endpoint_id)
            fresh.record = await self.record_of(facility)  # read, not cached: a suspension
            fresh.at = now  # made on another hub holds the next event
        endpoint = fresh.endpoint
        if endpoint is None or not endpoint.enabled:
            return False
        if not may_send(fresh.record, endpoint.kind):
            await asyncio.sleep(POLL_S)  # suspended or option gone: hold, send nothing
            return True
        queue = keys.endpoint_queue(facility, endpoint_id)
        state_key = keys.endpoint_state(facility, endpoint_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.xrange(queue, min="-", max="+", count=1)
            pipe.hgetall(state_key)
            head, stored = cast(
                tuple[list[tuple[bytes, dict[bytes, bytes]]], dict[bytes, bytes]],
                await pipe.execute(),
            )
        if not head:  # done, unless handle fed it after this read: then read it again
            if (facility, endpoint_id) in self._refed:
                self._refed.discard((facility, endpoint_id))
                return True
            return False
        self._refed.discard((facility, endpoint_id))
        head_id, fields = head[0]
        event = from_record(fields)
        state = {k.decode(): v.decode() for k, v in stored.items()}
        now = time.time()
        if state.get("head") != head_id.decode():
            since = state.get("failing_since", "")
            state = {"head": head_id.decode(), "attempt": "0", "first_at": repr(now),
                     "next_at": repr(now), "failing_since": since}  # fmt: skip
        due = float(state["next_at"])
        if due > now:
            await asyncio.sleep(min(due - now, POLL_S))
            return True
        attempt = int(state["attempt"]) + 1
        sender = SENDERS.get(endpoint.kind)
        started = time.monotonic()
        if sender is None:
            outcome = Outcome(ok=False, detail=f"no sender for kind {endpoint.kind!r}")
        else:
            outcome = await sender.send(endpoint, event)
        ms = int((time.monotonic() - started) * 1000)
        now = time.time()
        await self._settle(endpoint, head_id, event, state, attempt, outcome, ms, now)
        if not outcome.ok:  # it may have been disabled (410, failing for days): read it again
            fresh.endpoint = None
        for ticket_id, key, value in outcome.annotations:
            with contextlib.suppress(NotFound):
                await self.annotate(event.info, ticket_id, key, value)
        return True

    async def _settle(
        self,
        endpoint: Endpoint,
        head_id: bytes,
        event: IntegrationEvent,
        state: dict[str, str],
        attempt: int,
        outcome: Outcome,
        ms: int,
        now: float,
    ) -> None:
        """Record the attempt and move on: drop the head (done or failed for good) or set
        the time of the next attempt; disable the endpoint on 410 or 5 days of failures."""
        facility = endpoint.facility
        first_at = float(state["first_at"])
        jitter = random.uniform(-schedule.JITTER, schedule.JITTER)
        next_at = schedule.retry_at(attempt + 1, first_at, jitter, self.retry_scale)
        failing_since = "" if outcome.ok else (state.get("failing_since") or repr(now))
        give_up = not outcome.ok and (not outcome.retry or next_at is None or outcome.disable)
        too_long = bool(failing_since) and (
            now - float(failing_since) > FAILING_DISABLE_S * self.retry_scale
        )
        result = "ok" if outcome.ok else "disabled" if outcome.disable else (
            "failed" if give_up else "retry")  # fmt: skip
        queue = keys.endpoint_queue(facility, endpoint.id)
        state_key = keys.endpoint_state(facility, endpoint.id)
        async with self.redis.pipeline(transaction=True) as pipe:
            record_attempt(
                pipe,
                facility,
                Attempt(event, endpoint.id, endpoint.kind, attempt, outcome, result, ms, now),
            )
            if outcome.ok or give_up:
                pipe.xdel(queue, head_id)
                pipe.hset(state_key, mapping={"head": "", "failing_since": failing_since})
            else:
                pipe.hset(
                    state_key,
                    mapping={
                        "head": head_id.decode(),
                        "attempt": str(attempt),
                        "first_at": state["first_at"],
                        "next_at": repr(next_at if next_at is not None else now),
                        "failing_since": failing_since,
                    },
                )
            await pipe.execute()
        if outcome.disable:
            await self.endpoints.disable(facility, endpoint.id, "gone")
        elif too_long:
            await self.endpoints.disable(facility, endpoint.id, "failing")
