"""Scenario 3: the Lua append alone, straight against the hub's Valkey unix socket.

Two variants, each sequential (one queue, one append at a time) and concurrent (N queues,
one loop each): ``QueueStore.append`` as the hub calls it (it encodes the snapshot and the
public view every time), and the same script with its arguments encoded once (what Redis and
redis-py cost without the encoding). Every append writes one ``message_set`` event to a
queue of a fixed size (``tickets`` tickets, half called, half waiting), so the payload does
not grow during the run.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

import orjson

from hub import keys
from hub.app import connect_redis
from hub.queue import outbox, rules
from hub.queue.events import (
    Event,
    MessageSet,
    QueueCreated,
    ReceptionOpened,
    TicketCalled,
    TicketIssued,
    WebOpened,
)
from hub.queue.model import QueueState, Ticket
from hub.queue.store import OUTBOX_MAXLEN, QueueStore, encode_event, encode_state
from hub.queue.views import public_view
from hub.settings import Settings
from loadtest.hubproc import HubProcess
from loadtest.probes import Probe
from loadtest.stats import latency_summary

FIRST_FACILITY = 99_000_000
Step = Callable[[QueueState, int], Awaitable[None]]


def seed_state(info: str, tickets: int, at: float) -> tuple[QueueState, list[Event]]:
    """A queue with ``tickets`` tickets, half called, half waiting, at version 1."""
    state = QueueState(info=info, epoch=secrets.token_hex(4), version=1)
    events: list[Event] = [QueueCreated(at=at, info=info, config=state.config)]
    events += [ReceptionOpened(at=at), WebOpened(at=at)]
    for n in range(1, tickets + 1):
        ticket = Ticket(id=secrets.token_urlsafe(9), number=n, channel="web", issued_at=at)
        events.append(TicketIssued(at=at, ticket=ticket))
    for event in events:
        rules.apply_in_place(state, event)
    half = state.waiting[: tickets // 2]
    called: list[Event] = [
        TicketCalled(at=at, ticket_id=tid, room=str(i)) for i, tid in enumerate(half)
    ]
    for event in called:
        rules.apply_in_place(state, event)
    return state, events + called


class AppendBench:
    def __init__(self, hub: HubProcess, probe: Probe, tickets: int) -> None:
        self.settings = Settings()
        self.probe, self.tickets = probe, tickets
        self.redis = connect_redis(hub.redis_url)
        self.store = QueueStore(
            self.redis,
            stream_maxlen=self.settings.stream_maxlen,
            idempotency_ttl_s=self.settings.idempotency_ttl_s,
        )
        lua = resources.files("hub.queue").joinpath("lua/append.lua").read_text()
        self.script = self.redis.register_script(lua)
        self.next_facility = FIRST_FACILITY
        self.preencoded: dict[str, list[Any]] = {}

    async def run(self, duration_s: float, concurrency: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        variants: tuple[tuple[str, Step], ...] = (
            ("QueueStore.append with snapshot", self._store_step),
            ("QueueStore.append without snapshot (31 of 32)", self._store_step_no_snapshot),
            ("EVALSHA with snapshot, args pre-encoded", self._raw_step),
        )
        for name, step in variants:
            for n in (1, concurrency):
                label = f"{name}, {'sequential' if n == 1 else f'{n} queues concurrently'}"
                out[label] = await self._timed(await self._seed(n), step, duration_s)
        sample = (await self._seed(1))[0]
        out["payload"] = {
            "tickets": self.tickets,
            "waiting": len(sample.waiting),
            "snapshot_bytes": len(encode_state(sample)),
            "view_bytes": len(orjson.dumps(public_view(sample))),
            "events_per_append": "1 message_set",
        }
        return out

    async def _seed(self, count: int) -> list[QueueState]:
        states = []
        for _ in range(count):
            info = f"{self.next_facility}-01"
            self.next_facility += 1
            state, events = seed_state(info, self.tickets, time.time())
            result = await self.store.append(state, events, 0)
            if result.outcome != "ok":
                raise RuntimeError(f"seeding {info}: {result}")
            states.append(state)
        return states

    async def _store_step(self, state: QueueState, i: int) -> None:
        state.version += 1
        state.message = f"m{i}"
        event = MessageSet(at=time.time(), text=state.message)
        result = await self.store.append(state, [event], state.version - 1)
        if result.outcome != "ok":
            raise RuntimeError(f"append {state.info}: {result}")

    async def _store_step_no_snapshot(self, state: QueueState, i: int) -> None:
        state.version += 1
        state.message = f"m{i}"
        event = MessageSet(at=time.time(), text=state.message)
        result = await self.store.append(state, [event], state.version - 1, snapshot=False)
        if result.outcome != "ok":
            raise RuntimeError(f"append {state.info}: {result}")

    async def _raw_step(self, state: QueueState, i: int) -> None:
        args = self.preencoded.get(state.info)
        if args is None:
            args = self.preencoded[state.info] = self._preencoded_args(state)
        state.version += 1
        args[0] = state.version - 1
        facility = state.info.partition("-")[0]
        key_list = [keys.queue(state.info), keys.log(state.info), keys.outbox(facility)]
        outcome, _ = await self.script(keys=key_list, args=args)
        if outcome != b"ok":
            raise RuntimeError(f"evalsha {state.info}: {outcome!r}")

    def _preencoded_args(self, state: QueueState) -> list[Any]:
        event = MessageSet(at=time.time(), text="m0")
        entry = outbox.build(state, [event], [encode_event(event)], None)
        assert entry is not None
        return [
            state.version,
            state.epoch,
            encode_state(state),
            orjson.dumps(public_view(state)),
            keys.public_channel(state.info),
            self.settings.stream_maxlen,
            self.settings.idempotency_ttl_s,
            1,
            state.epoch,  # the epoch the queue must have now (no renewal)
            entry.e,  # the outbox entry (one per batch) and its MAXLEN, info, kinds, facility
            OUTBOX_MAXLEN,
            state.info,
            entry.kinds,
            state.info.partition("-")[0],
            outbox.WAKE_WINDOW_MS,
            event.kind,
            encode_event(event),
        ]

    async def _timed(
        self, states: list[QueueState], step: Step, duration_s: float
    ) -> dict[str, Any]:
        latencies: list[float] = []
        end = time.perf_counter() + duration_s

        async def loop(state: QueueState) -> None:
            i = 0
            while (began := time.perf_counter()) < end:
                await step(state, i)
                latencies.append((time.perf_counter() - began) * 1000)
                i += 1

        before = await self.probe.snapshot()
        await asyncio.gather(*(loop(s) for s in states))
        window = self.probe.between(before, await self.probe.snapshot())
        cpu = window.cpu()
        return {
            "appends": len(latencies),
            "appends_per_s": round(len(latencies) / window.seconds, 1),
            "latency": latency_summary(latencies),
            "valkey_cpu_pct": cpu["valkey_cpu_pct"],
            "client_cpu_pct": cpu["bench_cpu_pct"],
            "irq_cpu_pct": cpu["irq_cpu_pct"],
            "other_cpu_pct": cpu["other_cpu_pct"],
            "other_processes": window.others,
            "valkey": window.valkey_counters,
            "redis_calls": window.redis_calls,
        }

    async def close(self) -> None:
        await self.redis.aclose()
