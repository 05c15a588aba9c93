"""The Redis adapter of a queue: event stream, snapshot, view and publish in one Lua call.

Guarantee: ``append`` is atomic on one shard. Either the queue's version still equals the
expected one and then the events are in the stream, the snapshot and public view are
replaced, the idempotency answers are stored and the view is published, all at once; or
nothing changes and the caller learns why (``conflict`` or ``dup``).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal, cast

import msgspec
import orjson
from redis.asyncio import Redis

from hub import keys
from hub.queue.model import EVENT_TYPES, Event, QueueState
from hub.queue.views import public_view

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


class QueueStore:
    """Reads and atomically appends one queue's events (see module docstring)."""

    def __init__(self, redis: Redis, *, stream_maxlen: int, idempotency_ttl_s: int) -> None:
        self.redis = redis
        self.stream_maxlen = stream_maxlen
        self.idempotency_ttl_s = idempotency_ttl_s
        script = resources.files("hub.queue").joinpath("lua/append.lua").read_text()
        self._append = redis.register_script(script)

    async def load(self, info: str) -> QueueState | None:
        """The latest snapshot of the queue, or None when it does not exist."""
        data = cast(bytes | None, await self.redis.hget(keys.queue(info), "snap"))
        return None if data is None else decode_state(data)

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
    ) -> AppendResult:
        """Append ``events`` whose fold is ``state`` (already at ``expected_version + 1``)."""
        idempotent = idempotent or []
        argv: list[Any] = [
            expected_version,
            state.epoch,
            encode_state(state),
            orjson.dumps(public_view(state)),
            keys.public_channel(state.info),
            self.stream_maxlen,
            self.idempotency_ttl_s,
            len(events),
        ]
        for event in events:
            argv += [event.kind, encode_event(event)]
        argv += [answer for _, answer in idempotent]
        key_list = [keys.queue(state.info), keys.log(state.info)]
        key_list += [keys.idempotency(state.info, key) for key, _ in idempotent]
        outcome, value = await self._append(keys=key_list, args=argv)
        kind = cast(Literal["ok", "conflict", "dup"], outcome.decode())
        index = int(value) - 1 if kind == "dup" else int(value)
        return AppendResult(kind, index)

    async def read_events(self, info: str) -> list[Event]:
        """The whole event stream of the queue, oldest first (for replay and audits)."""
        entries = cast(
            list[tuple[bytes, dict[bytes, bytes]]], await self.redis.xrange(keys.log(info))
        )
        return [decode_event(f[b"t"].decode(), f[b"e"]) for _, f in entries]

    async def stored_answer(self, info: str, key: str) -> bytes | None:
        """The first answer stored for this Idempotency-Key, if any."""
        return cast(bytes | None, await self.redis.get(keys.idempotency(info, key)))
