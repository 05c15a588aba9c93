"""Consumer groups of the outbox: the ``Group`` a module implements, and ``GroupConsumer``,
which serves one group of one facility at a time as that (facility, group)'s lease holder.

One serve pass (``GroupConsumer.serve``):

1. Take or renew the lease ``jb:{F}:outbox:lease:{group}`` (one ``outbox_lease.lua`` call:
   ``SET … PX`` when free, renewed only by its holder). Not the holder: nothing to do here.
2. Recover what is pending in the group (skipped by a wake-up pass when this consumer's
   last pass ended cleanly and it kept the lease): entries delivered ``MAX_DELIVERIES`` times that
   are still pending (this consumer's, or another's idle for ``idle_ms``) go to the dead
   letters ``jb:{F}:outbox:dead`` and are acknowledged in one call (``outbox_dead.lua``);
   entries another consumer read and left idle for ``idle_ms`` (it crashed or stalled) are
   claimed (``XAUTOCLAIM … JUSTID``); then this consumer's own pending entries are handled
   again, one at a time, in stream order (a batch that failed is retried entry by entry, so
   one poison entry does not take its neighbours to the dead letters).
3. When the group does not ``want`` the facility (no endpoint, no subscription, no option),
   its position moves to the stream's last entry (``XGROUP SETID``, the id read before the
   question) and the pass ends: a pass then costs the same however many entries came.
4. Read new entries (``XREADGROUP … COUNT 100 … >``), hand each batch to the group and
   acknowledge it (unless the group ``acknowledges`` its batches itself), until a read
   returns fewer than 100; a batch that raises is left pending and the pass stops (order
   holds: nothing after it is handled first).
5. ``group.idle(facility, full)``: ``full`` when step 2 ran (a sweep's, a retry's or a
   ``{facility}:{group}`` wake-up's pass, or a lease just taken), so a group may keep its
   background check for those passes and do only what this pass's entries asked for on
   the others.

The lease is renewed before a read once ``lease_ms / 3`` has passed since it was last taken
or renewed, and every ``lease_ms / 3`` while the group works; a
holder that finds it lost stops at once (the work in flight is cancelled, unacknowledged).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Iterable
from importlib import resources
from typing import Any, Literal, Protocol, TypeVar, cast

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import ResponseError

from hub import keys
from hub.outbox.entry import OutboxEntry, parse_entry

log = logging.getLogger("junban")

MAX_DELIVERIES = 5
"""A pending entry handed to its group this many times goes to the dead letters."""
READ_COUNT = 100
"""Entries read (and claimed, and inspected for dead letters) per call."""
WANTED_FOR_S = 5.0
"""A group found to want a facility is not asked again for this long (a no is never kept):
what it wants comes and goes rarely, and a pass it is asked in for nothing costs a call
(a group that no longer wants a facility handles its entries as having nothing to do)."""
CONSUMER_IDLE_MS = 86_400_000
"""A consumer idle this long with nothing pending is deleted by the daily trim (a restarted
process leaves its old ``{host}:{pid}`` behind in every group)."""
DEAD_MAXLEN = 10_000
"""Approximate cap on one facility's dead letters (kept until replayed; a safety net)."""

T = TypeVar("T")
Outcome = Literal["busy", "done", "skipped", "failed", "lost"]
"""``busy``: another consumer holds the lease; ``done``: served; ``skipped``: served, but
the group does not want the facility (its position moved to the end, step 3); ``failed``:
the group raised (entries left pending, retried on the next pass); ``lost``: the lease was
lost."""


class Group(Protocol):
    """A consumer group of the outbox (``integrations``, later ``notify``, ``phone`` …)."""

    name: str

    async def wants(self, facility: str) -> bool:
        """Whether the group has anything to do for this facility: the 30 s sweep serves only
        those; a pass of one it does not want skips the entries and ``idle``."""
        ...

    async def handle(self, facility: str, entries: list[OutboxEntry]) -> None:
        """Act on entries, in order. Returns: all are acknowledged. Raises: none is; they are
        handed again on the next pass, and after ``MAX_DELIVERIES`` go to the dead letters."""
        ...

    async def idle(self, facility: str, full: bool) -> None:
        """Called on every serve pass of the lease holder, after ``handle``; ``full``: the
        pass recovered pending entries (module docstring, step 5)."""
        ...


def acknowledges(group: Group) -> bool:
    """Whether the group acknowledges each batch it handles itself (in the same transaction
    as its own writes, as ``integrations`` does): the consumer then does not."""
    return bool(getattr(group, "acknowledges", False))


class LeaseLost(Exception):
    """This consumer no longer holds the (facility, group) lease."""


def _is_nogroup(exc: ResponseError) -> bool:
    return str(exc).startswith("NOGROUP")


async def ensure_groups(redis: Redis, facility: str, groups: Iterable[str]) -> None:
    """Create the facility's consumer groups at ``$`` (``MKSTREAM``), those that exist being
    left as they are: never at ``0``, so a group added later does not replay old entries."""
    stream = keys.outbox(facility)
    for group in groups:
        try:
            await redis.xgroup_create(stream, group, id="$", mkstream=True)
        except ResponseError as exc:
            if not str(exc).startswith("BUSYGROUP"):
                raise


async def prune_consumers(
    redis: Redis, facility: str, groups: Iterable[str], idle_ms: int = CONSUMER_IDLE_MS
) -> int:
    """Delete the facility's consumers, in each of ``groups``, that have nothing pending and
    were idle ``idle_ms`` (one ``outbox_prune.lua`` call per group: the check and the delete
    are atomic); how many. The runner's daily trim calls it."""
    prune = redis.register_script(_lua("outbox_prune.lua"))
    deleted = 0
    for group in groups:
        deleted += int(await prune(keys=[keys.outbox(facility)], args=[group, idle_ms]))
    return deleted


async def wake_group(redis: Redis, facility: str, group: str) -> None:
    """Tell every runner that ``group`` has work for ``facility`` now
    (``OutboxRunner.wake_group``: served at once, not after the wait of an idle group)."""
    await redis.publish(keys.OUTBOX_WAKE, f"{facility}:{group}")


def _lua(name: str) -> str:
    return resources.files("hub.outbox").joinpath("lua", name).read_text()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class GroupConsumer:
    """Serves one group, as consumer ``consumer`` (``{host}:{pid}``), facility by facility."""

    def __init__(
        self, redis: Redis, group: Group, consumer: str, *, lease_ms: int, idle_ms: int
    ) -> None:
        self.redis = redis
        self.group = group
        self.consumer = consumer
        self.lease_ms = lease_ms
        self.idle_ms = idle_ms
        self._lease = redis.register_script(_lua("outbox_lease.lua"))
        self._dead = redis.register_script(_lua("outbox_dead.lua"))
        self._errors: dict[tuple[str, str], str] = {}
        """(facility, entry id) -> the last error the group raised on it (this process)."""
        self._clean: set[str] = set()
        """Facilities whose last pass here ended ``done`` (nothing of this consumer pending)."""
        self._wanted: dict[str, float] = {}
        """Facility -> when the group last said it wants it (monotonic; ``WANTED_FOR_S``)."""
        self._skipped: set[str] = set()
        """Facilities whose last pass here was ``skipped`` (the group did not want them)."""

    # ---- the lease ----------------------------------------------------------------------

    async def take_lease(self, facility: str) -> Literal["acquired", "renewed"] | None:
        """Take the lease, or renew it when this consumer holds it (one call); None when
        another consumer holds it."""
        lease = keys.outbox_lease(facility, self.group.name)
        held = await self._lease(keys=[lease], args=[self.consumer, "take", self.lease_ms])
        return "acquired" if held == 2 else "renewed" if held == 1 else None

    async def renew(self, facility: str) -> bool:
        lease = keys.outbox_lease(facility, self.group.name)
        held = await self._lease(keys=[lease], args=[self.consumer, "renew", self.lease_ms])
        return bool(held)

    async def release(self, facility: str, pipe: Pipeline | None = None) -> bool:
        """Give the lease back if this consumer holds it (queued on ``pipe`` when given:
        the pipeline's answer tells, and this returns True)."""
        lease = keys.outbox_lease(facility, self.group.name)
        args: list[str | int] = [self.consumer, "release", self.lease_ms]
        held = await self._lease(keys=[lease], args=args, client=pipe)
        return True if pipe is not None else bool(held)

    async def _holding(self, facility: str, work: Awaitable[T]) -> T:
        """Await ``work`` while renewing the lease every ``lease_ms / 3``; LeaseLost (and
        ``work`` cancelled) as soon as a renewal finds the lease gone."""
        task = asyncio.ensure_future(work)
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=self.lease_ms / 3000)
                if done:
                    return task.result()
                if not await self.renew(facility):
                    raise LeaseLost(facility)
        finally:
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    # ---- one pass -------------------------------------------------------------------------

    async def serve(self, facility: str, *, recover: bool = True) -> Outcome:
        """One serve pass over the facility's outbox for this group (module docstring).
        ``recover=False`` (a wake-up pass) skips step 2 when this consumer's last pass of
        the facility ended cleanly and it still held the lease: nothing of its own is
        pending then, and others' idle entries wait for the next sweep's pass."""
        clean = facility in self._clean
        self._clean.discard(facility)
        taken = await self.take_lease(facility)
        if taken is None:
            return "busy"
        renewed = time.monotonic()
        full = recover or taken == "acquired" or not clean
        try:
            if full:
                if not await self._recover(facility):
                    return "failed"
                renewed = time.monotonic()
            if await self._skip_unwanted(facility):
                self._clean.add(facility)
                return "skipped"
            while True:
                if time.monotonic() - renewed >= self.lease_ms / 3000:
                    if not await self.renew(facility):
                        return "lost"
                    renewed = time.monotonic()
                batch = await self._read(facility, ">")
                if batch and not await self._handle(facility, batch):
                    return "failed"
                if len(batch) < READ_COUNT:
                    break
            await self._holding(facility, self.group.idle(facility, full))
        except LeaseLost:
            log.warning("outbox %s of %s: lease lost mid-pass", self.group.name, facility)
            return "lost"
        self._clean.add(facility)
        return "done"

    async def _skip_unwanted(self, facility: str) -> bool:
        """When the group does not ``want`` the facility, move its position to the last entry
        (read before the answer that decides, so an entry added after it is read as usual)
        instead of reading and acknowledging every entry: True, and there is nothing else to
        do. A facility the group wanted at its last pass here is asked about first, and not
        again for ``WANTED_FOR_S``; its last entry is read only when the answer is no."""
        stream = keys.outbox(facility)
        ask_first = facility not in self._skipped  # else its last pass here skipped it
        if ask_first:
            asked = self._wanted.get(facility)
            if asked is not None and time.monotonic() - asked < WANTED_FOR_S:
                return False
            if await self.group.wants(facility):
                self._wanted[facility] = time.monotonic()
                return False
        self._wanted.pop(facility, None)
        last = cast(list[tuple[bytes, Any]], await self.redis.xrevrange(stream, count=1))
        if (last or not ask_first) and await self.group.wants(facility):
            self._skipped.discard(facility)
            return False
        if not last:  # an empty outbox: nothing to move past
            self._skipped.add(facility)
            return True
        try:
            await self.redis.xgroup_setid(stream, self.group.name, last[0][0])
        except ResponseError as exc:
            if not _is_nogroup(exc):
                raise
            await ensure_groups(self.redis, facility, [self.group.name])
        self._skipped.add(facility)
        return True

    async def _read(
        self, facility: str, start: str | bytes, count: int = READ_COUNT
    ) -> list[tuple[bytes, Any]]:
        stream = keys.outbox(facility)
        try:
            answer: Any = await self.redis.xreadgroup(
                self.group.name, self.consumer, {stream: start}, count=count
            )
        except ResponseError as exc:
            if not _is_nogroup(exc):
                raise
            log.warning(
                "outbox %s of %s had no consumer group: created at $", self.group.name, facility
            )
            await ensure_groups(self.redis, facility, [self.group.name])
            return []
        if not answer:
            return []
        return cast(list[tuple[bytes, Any]], answer[0][1])

    async def _recover(self, facility: str) -> bool:
        """Dead letters, claims of idle entries, and this consumer's pending entries handled
        again one by one; False when one of them failed again."""
        stream, name = keys.outbox(facility), self.group.name
        try:
            summary = await self.redis.xpending(stream, name)
        except ResponseError as exc:
            if not _is_nogroup(exc):
                raise
            await self._read(facility, ">")  # creates the group, logs it
            return True
        if not summary["pending"]:
            return True
        rows = await self.redis.xpending_range(stream, name, "-", "+", READ_COUNT)
        foreign_idle = False
        for row in rows:
            mine = _text(row["consumer"]) == self.consumer
            idle = int(row["time_since_delivered"]) >= self.idle_ms
            if int(row["times_delivered"]) >= MAX_DELIVERIES and (mine or idle):
                await self._bury(facility, _text(row["message_id"]), int(row["times_delivered"]))
            elif not mine and idle:
                foreign_idle = True
        if foreign_idle:
            await self.redis.xautoclaim(
                stream, name, self.consumer, self.idle_ms, "0-0", count=READ_COUNT, justid=True
            )
        last: str | bytes = "0"
        while True:  # one at a time: reading a pending entry counts a delivery
            if not await self.renew(facility):
                raise LeaseLost(facility)
            batch = await self._read(facility, last, count=1)
            if not batch:
                return True
            if not await self._handle(facility, batch):
                return False
            last = batch[0][0]

    async def _bury(self, facility: str, entry_id: str, deliveries: int) -> None:
        error = self._errors.pop((facility, entry_id), "") or (
            "no error recorded here: its consumer stopped (or failed in another process)"
        )
        stream, dead = keys.outbox(facility), keys.outbox_dead(facility)
        moved = await self._dead(
            keys=[stream, dead],
            args=[self.group.name, entry_id, deliveries, error[:512], DEAD_MAXLEN],
        )
        if moved == 1:
            log.error(
                "outbox %s of %s: entry %s failed %d times, moved to the dead letters: %s",
                self.group.name,
                facility,
                entry_id,
                deliveries,
                error,
            )

    async def _handle(self, facility: str, batch: list[tuple[bytes, Any]]) -> bool:
        """Hand a batch to the group and acknowledge it; False (nothing acknowledged) when
        the group raised. Entries trimmed from the stream meanwhile are acknowledged."""
        stream, name = keys.outbox(facility), self.group.name
        gone = [entry_id for entry_id, fields in batch if not fields]
        if gone:
            await self.redis.xack(stream, name, *gone)
        present = [(entry_id, fields) for entry_id, fields in batch if fields]
        if not present:
            return True
        try:
            entries = [parse_entry(facility, i, f) for i, f in present]
            await self._holding(facility, self.group.handle(facility, entries))
        except (LeaseLost, asyncio.CancelledError):
            raise
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"
            log.warning("outbox %s of %s failed: %s", name, facility, message)
            if len(self._errors) > 10_000:
                self._errors.clear()
            for entry_id, _ in present:
                self._errors[(facility, _text(entry_id))] = message
            return False
        if not acknowledges(self.group):
            await self.redis.xack(stream, name, *(entry_id for entry_id, _ in present))
        return True
