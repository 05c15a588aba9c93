"""``OutboxRunner``: one per process (inside ``junban serve`` when JUNBAN_INLINE_WORKERS
names groups, or alone as ``junban worker <group>…``). It serves, for each group it runs:

- every facility named on ``jb:outbox:wake`` (its own pub/sub connection), whether or not
  the group ``wants`` it, so a group's position never lags behind its stream (one it does
  not want moves its position without reading, ``GroupConsumer.serve``). Wakes are
  coalesced at both ends: ``append.lua`` publishes a queue's wake-up at most every
  ``WAKE_WINDOW_MS`` (250 ms), and a wake-up here asks for a pass of each group now and
  one more after that window (which reads the commits it did not announce); passes of one
  (facility, group) are at least ``wake_gap_s`` (0.25 s, or the group's own ``gap_s``)
  apart, ``unwanted_gap_s`` (5 s) while the group has nothing to do there (until a
  ``{facility}:{group}`` wake-up says it has), so a busy clinic's commits share passes;
- every ``sweep_s`` (30 s), each facility of ``jb:facilities`` the group ``wants``, or
  has not skipped here since the wake link (re)connected: a wake missed while the link was
  down, entries left pending (a sweep's pass recovers them where a wake's pass may skip
  that step, ``GroupConsumer.serve``), a lease that lapsed.

The sweep also creates missing consumer groups (at ``$``, once per facility and process)
and trims each outbox to ``retention_s`` (8 days, ``XTRIM MINID``) once a day, guarded by a
``SET NX`` key so one process does it. Serving is spread over a few tasks; a (facility,
group) is never served twice at once here, and one facility's failure is logged and retried
later without stopping anything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
import time
from collections.abc import Iterable

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from hub import keys
from hub.outbox.consumer import Group, GroupConsumer, ensure_groups, prune_consumers
from hub.queue.facilities import FacilityStore
from hub.queue.outbox import WAKE_WINDOW_MS
from hub.settings import Settings

log = logging.getLogger("junban")

RELEASE_S = 3.0
"""At most this long to give the leases back on the way out (then they simply expire)."""
RETENTION_S = 8 * 86400
"""Outbox entries are kept 8 days (they carry names and phone numbers)."""
SERVERS = 8
"""Facilities served at once by one process."""
WAKE_GAP_S = 0.25
"""Least time between two wake-up passes of one (facility, group), unless the group names
its own (``gap_s``: the phone group waits longer, a call-out is not that urgent)."""
UNWANTED_GAP_S = 5.0
"""The same for a group whose last pass found it had nothing to do for the facility (no
endpoint, subscription or option): its position then follows the stream within 5 s. What
gives it work publishes ``{facility}:{group}`` (``wake_group``), which ends that wait."""
TRAIL_S = 0.01  # margin of the second pass after WAKE_WINDOW_MS
RETRY_S = 5.0  # a failed pass of a (facility, group) is retried then (or at the next sweep)


def consumer_name() -> str:
    """``{host}:{pid}``: this process's consumer name in every group."""
    return f"{socket.gethostname()}:{os.getpid()}"


class OutboxRunner:
    """Serves the given groups for every facility (module docstring)."""

    def __init__(
        self,
        redis: Redis,
        groups: list[Group],
        facility_store: FacilityStore,
        *,
        consumer: str,
        lease_ms: int = 30_000,
        idle_ms: int = 60_000,
        sweep_s: float = 30.0,
        retention_s: float = RETENTION_S,
        wake_gap_s: float = WAKE_GAP_S,
        unwanted_gap_s: float = UNWANTED_GAP_S,
    ) -> None:
        self.redis = redis
        self.facilities = facility_store
        self.consumer = consumer
        self.consumers = {
            g.name: GroupConsumer(redis, g, consumer, lease_ms=lease_ms, idle_ms=idle_ms)
            for g in groups
        }
        self.sweep_s = sweep_s
        self.retry_s = min(RETRY_S, sweep_s)
        self.retention_s = retention_s
        self.wake_gap_s = wake_gap_s
        self._gaps = {g.name: float(getattr(g, "gap_s", wake_gap_s)) for g in groups}
        self.unwanted_gap_s = unwanted_gap_s
        self._woken: dict[tuple[str, str], float] = {}
        """(facility, group) -> when its last wake-up pass was requested (monotonic)."""
        self._due: dict[tuple[str, str], asyncio.TimerHandle] = {}
        """(facility, group)s whose next wake-up pass waits for its gap."""
        self._need: dict[tuple[str, str], float] = {}
        """(facility, group) -> a wake-up pass must start at or after this time."""
        self._unwanted: set[tuple[str, str]] = set()
        """(facility, group)s whose last pass was ``skipped`` (``GroupConsumer.serve``)."""
        self._recover: set[tuple[str, str]] = set()
        """(facility, group)s whose next pass must recover pending entries (sweep, retry)."""
        self.ensured: set[str] = set()
        """Facilities whose groups this process has made sure of."""
        self._queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._queued: set[tuple[str, str]] = set()
        self._serving: set[tuple[str, str]] = set()
        self._again: set[tuple[str, str]] = set()
        self._held: dict[tuple[str, str], float] = {}
        """The leases this process holds, by when it last served them (monotonic)."""
        self.passes = 0
        """Serve passes done (for tests and logs)."""

    # ---- the loop -------------------------------------------------------------------------

    async def run(self) -> None:
        """Listen, sweep and serve until cancelled; then give back the leases held here."""
        if not self.consumers:
            return
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._listen(), name="outbox wake")
                tasks.create_task(self._sweep_forever(), name="outbox sweep")
                tasks.create_task(self._renew_forever(), name="outbox leases")
                for n in range(SERVERS):
                    tasks.create_task(self._serve_forever(), name=f"outbox server {n}")
        finally:
            await asyncio.shield(self.release_all())

    async def release_all(self) -> None:
        """Give back every lease this process holds, so another takes over at once: one
        pipeline for all of them, and at most RELEASE_S (a lease not given back expires)."""
        held, self._held = list(self._held), {}
        if not held:
            return
        with contextlib.suppress(RedisError, OSError, TimeoutError):
            async with asyncio.timeout(RELEASE_S):
                async with self.redis.pipeline(transaction=False) as pipe:
                    for facility, group in held:
                        await self.consumers[group].release(facility, pipe)
                    await pipe.execute()

    def request(self, facility: str, group: str, *, recover: bool = False) -> None:
        """Serve ``group`` of ``facility`` soon (once, however often it is asked meanwhile);
        ``recover``: with the pending entries' recovery (``GroupConsumer.serve``)."""
        key = (facility, group)
        if recover:
            self._recover.add(key)
        if key in self._serving:
            self._again.add(key)
        elif key not in self._queued:
            self._queued.add(key)
            self._queue.put_nowait(key)

    def wake(self, facility: str) -> None:
        """A wake-up for ``facility``: each group is served now (or once its gap since its
        last wake-up pass is over) and again one window later: append.lua publishes a
        queue's wake-up at most every ``WAKE_WINDOW_MS``, so the commits of that window are
        read by the second pass."""
        now = time.monotonic()
        need = now + WAKE_WINDOW_MS / 1000 + TRAIL_S
        for group in self.consumers:
            key = (facility, group)
            self._need[key] = max(self._need.get(key, 0.0), need)
            if key not in self._due:
                gap = self._gap(key)
                self._arm(key, max(now, self._woken.get(key, -gap) + gap), now)

    def wake_group(self, facility: str, group: str) -> None:
        """``{facility}:{group}`` on the wake channel: the group has work there now (an
        endpoint made, a subscription, a test event). Served at once as a full pass (with
        recovery: ``idle(facility, full=True)``), at its own gap from then on (not the
        ``unwanted_gap_s`` of a group that had nothing to do)."""
        key = (facility, group)
        if group not in self.consumers:
            return
        self._unwanted.discard(key)
        self._recover.add(key)
        handle = self._due.pop(key, None)
        if handle is not None:
            handle.cancel()
        self._fire(key)

    def _gap(self, key: tuple[str, str]) -> float:
        gap = self._gaps[key[1]]
        return max(gap, self.unwanted_gap_s) if key in self._unwanted else gap

    def _arm(self, key: tuple[str, str], at: float, now: float) -> None:
        if at <= now:
            self._fire(key)
        else:
            self._due[key] = asyncio.get_running_loop().call_later(at - now, self._fire, key)

    def _fire(self, key: tuple[str, str]) -> None:
        """A wake-up pass of (facility, group) is due: request it, and arm the next one when
        a wake-up still needs a later pass."""
        self._due.pop(key, None)
        now = time.monotonic()
        self._woken[key] = now
        self.request(*key)
        need = self._need.get(key, 0.0)
        if need > now:
            self._arm(key, max(need, now + self._gap(key)), now)
        else:
            self._need.pop(key, None)

    async def _serve_forever(self) -> None:
        while True:
            key = await self._queue.get()
            self._queued.discard(key)
            self._serving.add(key)
            outcome = "failed"
            try:
                outcome = await self._serve(*key)
            except (RedisError, OSError) as exc:
                log.warning("outbox %s of %s: %s", key[1], key[0], exc)
            except Exception:  # keep serving the other facilities whatever this one does
                log.exception("outbox %s of %s failed", key[1], key[0])
            finally:
                self._serving.discard(key)
                self.passes += 1
            if key in self._again:
                self._again.discard(key)
                self.request(*key)
            elif outcome == "failed":
                again = functools.partial(self.request, *key, recover=True)
                asyncio.get_running_loop().call_later(self.retry_s, again)

    async def _serve(self, facility: str, group: str) -> str:
        if facility not in self.ensured:
            await self.ensure(facility)
        self._held[facility, group] = time.monotonic()  # maybe: released on the way out
        recover = (facility, group) in self._recover
        self._recover.discard((facility, group))
        outcome = await self.consumers[group].serve(facility, recover=recover)
        if outcome == "skipped":
            self._unwanted.add((facility, group))
        else:
            self._unwanted.discard((facility, group))
        if outcome in ("done", "failed", "skipped"):
            self._held[facility, group] = time.monotonic()
        else:
            self._held.pop((facility, group), None)
        return outcome

    async def _renew_forever(self) -> None:
        """Keep the leases of the facilities served lately (two sweeps) every third of a
        lease, so the group's background work (``idle``) stays with its holder; the others
        lapse. A lease found taken is forgotten."""
        lease_s = next(iter(self.consumers.values())).lease_ms / 1000
        while True:
            await asyncio.sleep(lease_s / 3)
            recent = time.monotonic() - 2 * self.sweep_s - lease_s
            for key, served in list(self._held.items()):
                if key in self._serving:
                    continue  # the pass renews it itself
                try:
                    if served < recent or not await self.consumers[key[1]].renew(key[0]):
                        self._held.pop(key, None)
                except (RedisError, OSError) as exc:
                    log.warning("could not renew the outbox lease of %s: %s", key[0], exc)

    async def ensure(self, facility: str) -> None:
        await ensure_groups(self.redis, facility, self.consumers)
        self.ensured.add(facility)

    # ---- sweep and retention ----------------------------------------------------------------

    async def _sweep_forever(self) -> None:
        while True:
            try:
                await self.sweep(time.time())
            except (RedisError, OSError) as exc:
                log.warning("could not sweep the outboxes: %s", exc)
            except Exception:  # keep the sweep alive whatever one round does
                log.exception("could not sweep the outboxes")
            await asyncio.sleep(self.sweep_s)

    async def sweep(self, now: float) -> None:
        """Groups made sure of, outboxes trimmed, and wanted facilities served."""
        ago = time.monotonic() - max(self.unwanted_gap_s, *self._gaps.values())
        self._woken = {k: at for k, at in self._woken.items() if at > ago or k in self._due}
        for facility in await self.facilities.numbers():
            try:
                if facility not in self.ensured:
                    await self.ensure(facility)
                await self.trim(facility, now)
                for name, consumer in self.consumers.items():
                    skipped = (facility, name) in self._unwanted  # its wakes move it
                    if not skipped or await consumer.group.wants(facility):
                        self.request(facility, name, recover=True)
            except (RedisError, OSError) as exc:
                log.warning("outbox sweep of %s: %s", facility, exc)
            except Exception:  # one facility's failure never stops the sweep
                log.exception("outbox sweep of %s failed", facility)

    async def trim(self, facility: str, now: float) -> bool:
        """Trim the facility's outbox to ``retention_s``, and prune its idle consumers, once
        per (UTC) day across processes; True when this call trimmed."""
        day = time.strftime("%Y-%m-%d", time.gmtime(now))
        guard = keys.outbox_trim(facility, day)
        if not await self.redis.set(guard, "1", nx=True, ex=2 * 86400):
            return False
        oldest_ms = int((now - self.retention_s) * 1000)
        await self.redis.xtrim(keys.outbox(facility), minid=f"{oldest_ms}-0", approximate=False)
        await prune_consumers(self.redis, facility, self.consumers)
        return True

    # ---- wake -----------------------------------------------------------------------------

    async def _listen(self) -> None:
        """Serve each woken facility; reconnect (the sweep covers the gap) when the link fails."""
        backoff = 0.2
        while True:
            pubsub = self.redis.pubsub()
            try:
                await pubsub.subscribe(keys.OUTBOX_WAKE)
                backoff, self._unwanted = 0.2, set()  # the next sweep catches up on them
                await self._wakes(pubsub)
            except (RedisError, OSError, TimeoutError) as exc:
                log.warning("outbox wake link lost (%s); reconnecting", exc)
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(pubsub.aclose(), 1.0)  # type: ignore[no-untyped-call]
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

    async def _wakes(self, pubsub: PubSub) -> None:
        last_ping = time.monotonic()
        while True:
            message = await pubsub.get_message(timeout=0.5)
            if message is not None and message["type"] == "message":
                data = message["data"]
                facility = data.decode() if isinstance(data, bytes) else str(data)
                facility, _, group = facility.partition(":")
                if facility.isdigit():
                    if group:
                        self.wake_group(facility, group)
                    else:
                        self.wake(facility)
            if time.monotonic() - last_ping >= 5.0:
                last_ping = time.monotonic()
                await pubsub.ping()


def selected(groups: Iterable[Group], names: Iterable[str]) -> list[Group]:
    """The groups named (JUNBAN_INLINE_WORKERS, or ``junban worker``'s arguments); a name
    that no group has raises ValueError."""
    by_name = {g.name: g for g in groups}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ValueError(f"no outbox group {', '.join(unknown)} (known: {', '.join(by_name)})")
    return [by_name[n] for n in names]


def runner_for(
    redis: Redis,
    groups: Iterable[Group],
    names: Iterable[str],
    facilities: FacilityStore,
    settings: Settings,
) -> OutboxRunner:
    """The runner of the named groups, with the settings' lease, idle and sweep times."""
    return OutboxRunner(
        redis,
        selected(groups, names),
        facilities,
        consumer=consumer_name(),
        lease_ms=settings.outbox_lease_ms,
        idle_ms=settings.outbox_idle_ms,
        sweep_s=settings.outbox_sweep_s,
    )


def start_inline(
    redis: Redis,
    groups: Iterable[Group],
    names: Iterable[str],
    facilities: FacilityStore,
    settings: Settings,
) -> asyncio.Task[None] | None:
    """Run the named groups inside this hub process (JUNBAN_INLINE_WORKERS); None when it
    names none. A name that no group of this hub has is logged and left out."""
    groups = list(groups)
    known = {g.name for g in groups}
    names = list(names)
    if unknown := [n for n in names if n not in known]:
        log.error("JUNBAN_INLINE_WORKERS: no outbox group %s here", ", ".join(unknown))
    names = [n for n in names if n in known]
    if not names:
        return None
    runner = runner_for(redis, groups, names, facilities, settings)
    return asyncio.create_task(runner.run(), name="outbox")
