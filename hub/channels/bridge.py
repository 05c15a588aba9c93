"""Redis pub/sub ⇄ the local ChannelRegistry: one pub/sub connection per process.

Guarantees:
- the process subscribes only to the queues that have local watchers (batched
  SUBSCRIBE/UNSUBSCRIBE), and a watched queue's state is fetched once right after its
  SUBSCRIBE, so nothing published in between is missed;
- the link is probed (PING every second when quiet); if Redis restarts or the link dies
  silently the bridge notices within ~3 s, reconnects with backoff, resubscribes, refetches
  the state of every watched queue and pushes what changed; ``ready`` is False meanwhile;
- view and snapshot fetches are coalesced per queue and pipelined, so a reconnect storm of
  thousands of clients costs a few round trips.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from hub import keys
from hub.channels.protocol import Publication
from hub.channels.registry import ChannelRegistry
from hub.queue.facilities import FacilityStore
from hub.queue.store import QueueStore, rebuild

log = logging.getLogger("junban.bridge")

PING_EVERY_S = 1.0
DEAD_AFTER_S = 3.0


def _info_of_channel(channel: bytes) -> str:
    """``jb:{1234}:01:pub`` -> ``1234-01``."""
    text = channel.decode()
    facility = text[text.index("{") + 1 : text.index("}")]
    counter = text.split(":")[2]
    return f"{facility}-{counter}"


def view_publication(info: str, view: bytes) -> Publication:
    """A public view as stored and published by the append script (decoded once, here)."""
    data = orjson.loads(view)
    return Publication(data["epoch"], data["v"], view, info, data)


class Bridge:
    """Feeds a ChannelRegistry from Redis (see module docstring)."""

    def __init__(
        self, redis: Redis, registry: ChannelRegistry, facilities: FacilityStore, store: QueueStore
    ) -> None:
        self.redis = redis
        self.store = store
        self.registry = registry
        self.facilities = facilities
        registry.bridge = self
        self.wanted: set[str] = set()
        self.subscribed: set[str] = set()
        """SUBSCRIBE sent."""
        self.confirmed: set[str] = set()
        """SUBSCRIBE confirmed by Redis: from now on every publication reaches us, so a fetch
        made after this point cannot miss one."""
        self.fresh: set[str] = set()
        self._need_view: set[str] = set()
        self._need_snapshot: set[str] = set()
        self._need_facility: set[str] = set()
        self._wake = asyncio.Event()
        self._pubsub: PubSub | None = None
        self.ready = False
        self.reconnects = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._was_up = False

    # ---- requests from the registry (sync, coalesced) ----------------------------------------

    def watch(self, info: str) -> None:
        self.wanted.add(info)
        self._need_view.add(info)
        self._wake.set()

    def unwatch(self, info: str) -> None:
        self.wanted.discard(info)
        self.fresh.discard(info)
        self._need_view.discard(info)
        self._need_snapshot.discard(info)
        self._wake.set()

    def request_view(self, info: str) -> None:
        self._need_view.add(info)
        self._wake.set()

    def request_snapshot(self, info: str) -> None:
        self._need_snapshot.add(info)
        self._wake.set()

    def resolve_facility(self, facility: str) -> None:
        self._need_facility.add(facility)
        self._wake.set()

    def is_fresh(self, info: str) -> bool:
        return info in self.fresh

    # ---- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._run(), name="bridge")]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._close_pubsub()

    async def _run(self) -> None:
        backoff = 0.2
        while True:
            problem = await self._session()
            self.ready = False
            self.fresh.clear()
            self.subscribed.clear()
            self.confirmed.clear()
            # what Redis holds after it comes back is the truth, even if it went back
            self.registry.latest.clear()
            self.registry.private_version.clear()
            log.warning("pub/sub link lost (%s); reconnecting", problem)
            await self._close_pubsub()
            await asyncio.sleep(backoff)
            backoff = 0.2 if self._was_up else min(backoff * 2, 2.0)

    async def _session(self) -> str:
        """Connect, then listen and work until the link fails; say why it failed."""
        self._was_up = False
        problem = "ended"
        try:
            await self._connect()
            self._was_up = True
            async with asyncio.TaskGroup() as group:
                group.create_task(self._listen())
                group.create_task(self._work())
        except* (RedisError, OSError, TimeoutError, _LinkDead) as failure:
            problem = "; ".join(str(e) or type(e).__name__ for e in failure.exceptions)
        except* Exception as failure:  # a bug must not end live updates for good
            log.error("bridge failed; restarting it", exc_info=failure)
            problem = "internal error"
        return problem

    async def _connect(self) -> None:
        pubsub = self.redis.pubsub()
        await pubsub.ping()  # opens the connection; its pong is read by _listen
        self._pubsub = pubsub
        self._need_view |= self.wanted
        self._need_snapshot |= set(self.registry.private)
        # every watched facility: a counter may have been added while the link was down
        self._need_facility |= self.registry.unresolved_facilities() | set(
            self.registry.facility_infos
        )
        self.reconnects += 1
        self._wake.set()

    async def _close_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pubsub.aclose(), 1.0)  # type: ignore[no-untyped-call]

    async def _listen(self) -> None:
        pubsub = self._pubsub
        assert pubsub is not None
        last_seen = last_ping = time.monotonic()
        while True:
            message = await pubsub.get_message(timeout=0.5)
            now = time.monotonic()
            if message is not None:
                last_seen = now
                kind = message["type"]
                if kind == "message":
                    self._on_message(message)
                elif kind in ("subscribe", "unsubscribe"):
                    self._on_confirmation(kind, message["channel"])
            elif now - last_seen > DEAD_AFTER_S:
                raise _LinkDead("no answer to PING")
            if now - last_ping >= PING_EVERY_S and now - last_seen >= PING_EVERY_S:
                last_ping = now
                await pubsub.ping()

    def _on_message(self, message: dict[str, Any]) -> None:
        try:
            info = _info_of_channel(message["channel"])
            pub = view_publication(info, message["data"])
        except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
            log.exception("ignored a malformed publication on %r", message.get("channel"))
            return
        self.registry.offer_view(info, pub)

    def _on_confirmation(self, kind: str, channel: bytes) -> None:
        info = _info_of_channel(channel)
        if kind == "subscribe":
            self.confirmed.add(info)
            self._wake.set()
        else:
            self.confirmed.discard(info)

    async def _work(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self._sync_subscriptions()
            await self._resolve_facilities()
            await self._fetch()
            if (
                not self.ready
                and not (self._need_view & self.wanted)
                and self.wanted <= (self.confirmed)
            ):
                self.ready = True  # resubscribed and refetched everything after (re)connecting

    async def _sync_subscriptions(self) -> None:
        pubsub = self._pubsub
        assert pubsub is not None
        add = self.wanted - self.subscribed
        drop = self.subscribed - self.wanted
        if add:
            await pubsub.subscribe(*(keys.public_channel(i) for i in add))
            self.subscribed |= add
        if drop:
            await pubsub.unsubscribe(*(keys.public_channel(i) for i in drop))
            self.subscribed -= drop
            self.confirmed -= drop

    async def _resolve_facilities(self) -> None:
        facilities = sorted(self._need_facility)
        for facility in facilities:
            try:
                record = await self.facilities.get(facility)
            except Exception as exc:  # a bad record must not stop the others
                if isinstance(exc, RedisError | OSError):
                    raise  # the link is in trouble: retried after reconnecting
                log.exception("facility %s could not be read", facility)
                record = None
            self._need_facility.discard(facility)
            self.registry.facility_resolved(facility, tuple(record.infos()) if record else ())
        if facilities:
            await self._sync_subscriptions()

    async def _fetch(self) -> None:
        self._need_view &= self.wanted
        self._need_snapshot &= self.wanted
        views = sorted(self._need_view & self.confirmed)
        snapshots = sorted(self._need_snapshot & self.confirmed)
        if not views and not snapshots:
            return
        # taken before the read: a change published while it runs asks again, and is read
        # next (a failed read is asked again on reconnecting)
        self._need_view -= set(views)
        self._need_snapshot -= set(snapshots)
        async with self.redis.pipeline(transaction=False) as pipe:
            await self.store.queue_reads(pipe, views, snapshots)
            results = await pipe.execute()
        for info, view in zip(views, results[: len(views)], strict=True):
            self._offer(info, view, snapshot=False)
        for info, snap in zip(snapshots, results[len(views) :], strict=True):
            self._offer(info, snap, snapshot=True)

    def _offer(self, info: str, data: Any, *, snapshot: bool) -> None:
        """Hand one fetched view or snapshot to the registry; a bad one is logged and skipped."""
        if info not in self.wanted:
            return
        try:
            if snapshot:
                loaded = rebuild(data)
                self.registry.offer_snapshot(info, loaded.state if loaded else None)
            else:
                self.fresh.add(info)
                self.registry.offer_view(info, view_publication(info, data) if data else None)
        except Exception:
            log.exception("could not hand %s of %s to subscribers", "state", info)


class _LinkDead(Exception):
    pass
