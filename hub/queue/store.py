"""The Redis adapter of a queue: event stream, snapshot, view and publish in one Lua call.

Guarantee: ``append`` is atomic on one shard. Either the queue's version still equals the
expected one and then the events are in the stream, the public view is replaced (and the
snapshot, when one is passed), the idempotency answers are stored and the view is
published, all at once; or nothing changes and the caller learns why (``conflict`` or
``dup``). ``load`` reads the last snapshot and replays the events after it, in one round
trip, so a snapshot need not be written on every append: its size grows with the day.

The same call XADDs the batch's entry to the facility's outbox (``hub/queue/outbox.py``:
one entry per committed batch, none for a refused one) and publishes the facility's number
on ``keys.OUTBOX_WAKE`` (at most every ``outbox.WAKE_WINDOW_MS`` per queue): a transactional
outbox, at the cost of one XADD and, now and then, one PUBLISH.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal, cast

import msgspec
import orjson
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from hub import keys
from hub.errors import Unavailable
from hub.outbox.consumer import ensure_groups
from hub.queue import outbox, rules
from hub.queue.events import EVENT_TYPES, Event
from hub.queue.model import QueueState
from hub.queue.views import public_view

OUTBOX_MAXLEN = 100_000
"""Approximate MAXLEN of a facility's outbox: a safety net (a keeper trims it to 8 days)."""
OUTBOX_GROUPS: tuple[str, ...] = ("integrations", "notify", "phone")
"""The outbox's consumer groups, made when a facility is made (``create_outbox_groups``)."""

_encoder = msgspec.msgpack.Encoder()
_state_decoder = msgspec.msgpack.Decoder(QueueState)
_event_decoders = {kind: msgspec.msgpack.Decoder(cls) for kind, cls in EVENT_TYPES.items()}


def encode_state(state: QueueState) -> bytes:
    return _encoder.encode(state)


def decode_state(data: bytes) -> QueueState:
    return _state_decoder.decode(data)


def encode_event(event: Event) -> bytes:
    return _encoder.encode(event)


def decode_event(kind: str, data: bytes) -> Event:
    return _event_decoders[kind].decode(data)


@dataclass(frozen=True, slots=True)
class AppendResult:
    outcome: Literal["ok", "conflict", "dup"]
    value: int
    """ok: the new version; conflict: the current version; dup: 0-based index of the key."""


@dataclass(frozen=True, slots=True)
class Loaded:
    """A queue's state as read, and the version of the snapshot it was rebuilt from."""

    state: QueueState
    snapshot_version: int


def rebuild(found: Any) -> Loaded | None:
    """The state from load.lua's answer: the snapshot, then the events after it."""
    if not found:
        return None
    snap, snap_v, v, tail = found
    state = decode_state(snap)
    expected = list(range(int(snap_v) + 1, int(v) + 1))
    if sorted({int(f[1]) for _, f in tail}) != expected:  # entries were trimmed away
        raise Unavailable("this queue's history is incomplete", code="history_incomplete")
    events = [decode_event(f[3].decode(), f[5]) for _, f in tail]
    if events:
        state = rules.evolve_all(state, events)
    state.version = int(v)
    return Loaded(state, int(snap_v))


class QueueStore:
    """Reads and atomically appends one queue's events (see module docstring)."""

    def __init__(
        self,
        redis: Redis,
        *,
        stream_maxlen: int,
        idempotency_ttl_s: int,
        outbox_maxlen: int = OUTBOX_MAXLEN,
    ) -> None:
        self.redis = redis
        self.stream_maxlen = stream_maxlen
        self.outbox_maxlen = outbox_maxlen
        self.idempotency_ttl_s = idempotency_ttl_s
        lua = resources.files("hub.queue").joinpath("lua")
        self._append = redis.register_script(lua.joinpath("append.lua").read_text())
        self._load = redis.register_script(lua.joinpath("load.lua").read_text())
        self._append_pair = redis.register_script(lua.joinpath("append_pair.lua").read_text())

    async def load(self, info: str) -> QueueState | None:
        """The queue's current state, or None when it does not exist."""
        loaded = await self.load_with_meta(info)
        return None if loaded is None else loaded.state

    async def load_with_meta(self, info: str) -> Loaded | None:
        return rebuild(await self._load(keys=[keys.queue(info), keys.log(info)]))

    async def queue_reads(self, pipe: Pipeline, views: list[str], snapshots: list[str]) -> None:
        """Queue on ``pipe`` the reads of these queues' public views (raw JSON or None), then
        of their snapshots with the events after them (for ``rebuild``), in that order: a
        reconnect storm's fetches in one round trip."""
        for info in views:
            pipe.hget(keys.queue(info), "view")
        for info in snapshots:
            await self._load(keys=[keys.queue(info), keys.log(info)], client=pipe)

    async def stored_version(self, info: str) -> tuple[int, str] | None:
        """The queue's stored (version, epoch), one small round trip; None if no queue."""
        found = await self.redis.hmget(keys.queue(info), ["v", "epoch"])
        v, epoch = cast(list[bytes | None], found)
        return None if v is None else (int(v), (epoch or b"").decode())

    async def load_view(self, info: str) -> tuple[bytes, int] | None:
        """The stored public view JSON and its version (one round trip, no decoding)."""
        found = await self.redis.hmget(keys.queue(info), ["view", "v"])
        view, v = cast(list[bytes | None], found)
        return None if view is None or v is None else (view, int(v))

    async def append(
        self,
        state: QueueState,
        events: list[Event],
        expected_version: int,
        idempotent: list[tuple[str, bytes]] | None = None,
        *,
        snapshot: bool = True,
        replacing_epoch: str | None = None,
        waiting_before: list[str] | None = None,
    ) -> AppendResult:
        """Append ``events`` whose fold is ``state`` (already at ``expected_version + 1``);
        with ``snapshot`` the new state is stored too (else readers replay the events).
        ``waiting_before``: the serving order before the batch, when the caller holds it
        (the outbox entry carries ``waiting`` only when it changed)."""
        if not events:
            raise ValueError("append needs at least one event")
        idempotent = idempotent or []
        encoded = [encode_event(event) for event in events]
        entry = outbox.build(state, events, encoded, waiting_before)
        facility = state.info.partition("-")[0]
        argv: list[Any] = [
            expected_version,
            state.epoch,
            encode_state(state) if snapshot else b"",
            orjson.dumps(public_view(state)),
            keys.public_channel(state.info),
            self.stream_maxlen,
            self.idempotency_ttl_s,
            len(events),
            replacing_epoch or state.epoch,
            entry.e if entry else b"",
            self.outbox_maxlen,
            state.info,
            entry.kinds if entry else "",
            facility,
            outbox.WAKE_WINDOW_MS,
        ]
        for event, data in zip(events, encoded, strict=True):
            argv += [event.kind, data]
        argv += [answer for _, answer in idempotent]
        key_list = [keys.queue(state.info), keys.log(state.info), keys.outbox(facility)]
        key_list += [keys.idempotency(state.info, key) for key, _ in idempotent]
        outcome, value = await self._append(keys=key_list, args=argv)
        kind = cast(Literal["ok", "conflict", "dup"], outcome.decode())
        index = int(value) - 1 if kind == "dup" else int(value)
        return AppendResult(kind, index)

    async def create_outbox_groups(self, facility: str) -> None:
        """The facility's outbox consumer groups, at ``$`` with MKSTREAM (existing ones are
        left as they are): a group sees every entry written after this."""
        await ensure_groups(self.redis, facility, OUTBOX_GROUPS)

    async def read_events(self, info: str) -> list[Event]:
        """The whole event stream of the queue, oldest first (for replay and audits)."""
        entries = cast(
            list[tuple[bytes, dict[bytes, bytes]]], await self.redis.xrange(keys.log(info))
        )
        return [decode_event(f[b"t"].decode(), f[b"e"]) for _, f in entries]

    async def stored_answer(self, info: str, key: str) -> bytes | None:
        """The first answer stored for this Idempotency-Key, if any."""
        return cast(bytes | None, await self.redis.get(keys.idempotency(info, key)))

    async def append_pair(
        self,
        first: tuple[QueueState, list[Event]],
        second: tuple[QueueState, list[Event]],
        idempotent: tuple[str, bytes] | None = None,
    ) -> Literal["ok", "conflict", "dup"]:
        """Append to two queues of one facility at once, or to neither (append_pair.lua):
        each ``(state, events)`` is the new state (its version one up when it has events)
        and the events leading to it; the stored version must be the one below (or the
        same, without events). ``idempotent``: (Idempotency-Key, answer) stored with it.
        Each queue written gets its own outbox entry, the first queue's first."""
        facility = first[0].info.partition("-")[0]
        argv: list[Any] = [
            self.stream_maxlen,
            self.idempotency_ttl_s,
            idempotent[1] if idempotent else b"",
            self.outbox_maxlen,
            facility,
        ]
        key_list: list[str] = []
        for state, events in (first, second):
            expected = state.version - 1 if events else state.version
            encoded = [encode_event(event) for event in events]
            entry = outbox.build(state, events, encoded, None) if events else None
            argv += [expected, state.epoch, orjson.dumps(public_view(state))]
            argv += [keys.public_channel(state.info), state.info]
            argv += [entry.kinds if entry else "", entry.e if entry else b"", len(events)]
            for event, data in zip(events, encoded, strict=True):
                argv += [event.kind, data]
            key_list += [keys.queue(state.info), keys.log(state.info)]
        key_list.append(keys.outbox(facility))
        if idempotent is not None:
            key_list.append(keys.idempotency(first[0].info, idempotent[0]))
        outcome, _ = await self._append_pair(keys=key_list, args=argv)
        return cast(Literal["ok", "conflict", "dup"], outcome.decode())
