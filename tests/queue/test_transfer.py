"""Property tests of moving tickets between counters (``rules.decide_transfer``): a state
machine drives three queues of one facility; a ticket is never lost, never in two lines,
keeps its id and number, and a repeated (or half-done, then retried) transfer changes
nothing more than completing it."""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import AsyncIterator
from datetime import date

import msgspec
import pytest
import redis.asyncio as aioredis
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from hub.app import connect_redis
from hub.errors import JunbanError
from hub.queue import rules, views
from hub.queue.actions import QueueActions
from hub.queue.events import QueueCreated
from hub.queue.facilities import Facility, FacilityStore
from hub.queue.model import (
    CallNext,
    Cancel,
    Command,
    Complete,
    IssueTicket,
    MarkAbsent,
    OpenReception,
    QueueConfig,
    QueueState,
    TransferIn,
)
from hub.queue.service import Idempotency, QueueService
from hub.queue.store import QueueStore, decode_event, encode_event
from hub.ratelimit import RateLimiter
from hub.settings import Settings
from tests import strategies as S
from tests.conftest import TOKENS, new_facility_number

FACILITY = "1234"
COUNTERS = ("01", "02", "03")
ACTIVE = frozenset({"waiting", "called", "absent"})
AT = S.START_AT + 3600  # 09:30 on the strategies' start day, Tokyo


def new_queue(counter: str, at: float = AT) -> QueueState:
    info = f"{FACILITY}-{counter}"
    state = rules.evolve_all(
        QueueState(info=info, epoch=S.EPOCH), [QueueCreated(at=at, info=info, config=QueueConfig())]
    )
    return run(state, OpenReception(at=at))


def run(state: QueueState, command: Command) -> QueueState:
    return rules.evolve_all(state, rules.decide(state, command))


def transfer(
    queues: dict[str, QueueState], ticket_id: str, source: str, to: str, at: float = AT
) -> None:
    out, into = rules.decide_transfer(queues[source], queues[to], ticket_id, at)
    for event in [*out, *into]:  # what the store keeps must read back the same
        assert decode_event(event.kind, encode_event(event)) == event
    queues[source] = rules.evolve_all(queues[source], out)
    queues[to] = rules.evolve_all(queues[to], into)


class Stages(RuleBasedStateMachine):
    """Tickets issued at any counter, called, finished and moved between the counters; a
    model says at which counter each ticket must be."""

    @initialize()
    def start(self) -> None:
        self.queues = {c: new_queue(c) for c in COUNTERS}
        self.at = AT
        self.home: dict[str, str] = {}  # ticket id -> counter where it is (or ended)
        self.numbers: dict[str, int] = {}
        self.issued = 0

    def tick(self) -> float:
        self.at += 7
        return self.at

    @rule(counter=st.sampled_from(COUNTERS))
    def issue(self, counter: str) -> None:
        self.issued += 1
        ticket_id = f"t{self.issued}"
        command = IssueTicket(at=self.tick(), ticket_id=ticket_id, channel="desk")
        self.queues[counter] = run(self.queues[counter], command)
        self.home[ticket_id] = counter
        self.numbers[ticket_id] = self.queues[counter].tickets[ticket_id].number

    @rule(counter=st.sampled_from(COUNTERS), room=st.sampled_from(("1", "2")))
    def call_next(self, counter: str, room: str) -> None:
        state = self.queues[counter]
        if state.waiting:
            self.queues[counter] = run(state, CallNext(at=self.tick(), room=room))

    @rule(data=st.data(), kind=st.sampled_from((Complete, Cancel, MarkAbsent)))
    def finish(self, data: st.DataObject, kind: type[Complete | Cancel | MarkAbsent]) -> None:
        if not self.home:
            return
        ticket_id = data.draw(st.sampled_from(sorted(self.home)))
        counter = self.home[ticket_id]
        try:
            self.queues[counter] = run(
                self.queues[counter], kind(at=self.tick(), ticket_id=ticket_id)
            )
        except JunbanError as err:
            assert err.code == "illegal_transition"

    @precondition(lambda self: bool(self.home))
    @rule(data=st.data(), to=st.sampled_from(COUNTERS), repeat=st.booleans())
    def move(self, data: st.DataObject, to: str, repeat: bool) -> None:
        ticket_id = data.draw(st.sampled_from(sorted(self.home)))
        source = self.home[ticket_id]
        status = self.queues[source].tickets[ticket_id].status
        before = copy.deepcopy(self.queues)
        try:
            transfer(self.queues, ticket_id, source, to, self.tick())
        except JunbanError as err:
            assert self.queues == before  # a refusal changes nothing
            if to == source:
                assert err.code == "invalid_body"
            else:
                assert (err.code, status) == ("illegal_transition", status)
                assert status not in ACTIVE
            return
        assert to != source and status in ACTIVE
        self.home[ticket_id] = to
        if repeat:  # the same request again (a retry): nothing changes
            after = copy.deepcopy(self.queues)
            out, into = rules.decide_transfer(
                self.queues[source], self.queues[to], ticket_id, self.at
            )
            assert (out, into) == ([], [])
            assert self.queues == after

    @precondition(lambda self: bool(self.home))
    @rule(data=st.data(), to=st.sampled_from(COUNTERS))
    def move_after_a_crash(self, data: st.DataObject, to: str) -> None:
        """Only the target's half got written (two separate writes, a crash between them):
        the retry completes the source's half and adds nothing to the target."""
        ticket_id = data.draw(st.sampled_from(sorted(self.home)))
        source = self.home[ticket_id]
        if to == source or self.queues[source].tickets[ticket_id].status not in ACTIVE:
            return
        at = self.tick()
        out, into = rules.decide_transfer(self.queues[source], self.queues[to], ticket_id, at)
        self.queues[to] = rules.evolve_all(self.queues[to], into)  # crash before `out`
        waiting_there = list(self.queues[to].waiting)
        transfer(self.queues, ticket_id, source, to, at + 1)
        assert self.queues[to].waiting == waiting_there  # not a second time
        self.home[ticket_id] = to

    @invariant()
    def each_ticket_is_where_the_model_says_and_nowhere_else_active(self) -> None:
        for ticket_id, counter in self.home.items():
            here = self.queues[counter].tickets[ticket_id]
            assert here.status != "transferred"
            assert here.number == self.numbers[ticket_id]  # keeps its number
            for other in COUNTERS:
                ticket = self.queues[other].tickets.get(ticket_id)
                if other != counter and ticket is not None:
                    assert ticket.status == "transferred"
                    assert ticket.id not in self.queues[other].waiting
                    assert ticket.id not in self.queues[other].calling

    @invariant()
    def lines_hold_exactly_their_waiting_and_called_tickets(self) -> None:
        for state in self.queues.values():
            assert len(set(state.waiting)) == len(state.waiting)
            assert {t.id for t in state.tickets.values() if t.status == "waiting"} == set(
                state.waiting
            )
            assert {t.id for t in state.tickets.values() if t.status == "called"} == set(
                state.calling
            )

    @invariant()
    def a_called_transferred_ticket_shows_where_it_came_from(self) -> None:
        for counter, state in self.queues.items():
            view = views.public_view(state)
            for entry, tid in zip(view["calling"], state.calling, strict=True):
                came = state.tickets[tid].from_counter
                assert entry.get("from") == came
                assert came != counter


TestStages = Stages.TestCase
TestStages.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)


def two_counters() -> dict[str, QueueState]:
    queues = {c: new_queue(c) for c in COUNTERS[:2]}
    for i in range(1, 4):  # 01 issues 1..3, 02 issues 1..3: numbers collide on purpose
        for c in COUNTERS[:2]:
            queues[c] = run(queues[c], IssueTicket(at=AT, ticket_id=f"{c}-{i}", channel="desk"))
    return queues


def test_a_ticket_joins_the_end_of_the_target_line_keeping_id_and_number() -> None:
    queues = two_counters()
    queues["01"] = run(queues["01"], CallNext(at=AT, room="2"))
    transfer(queues, "01-1", "01", "02")
    moved = queues["02"].tickets["01-1"]
    assert (moved.number, moved.status, moved.from_counter, moved.room) == (
        1,
        "waiting",
        "01",
        None,
    )
    assert queues["02"].waiting == ["02-1", "02-2", "02-3", "01-1"]
    left = queues["01"].tickets["01-1"]
    assert (left.status, left.to_counter, left.hops) == ("transferred", "02", 1)
    assert "01-1" not in queues["01"].calling and "01-1" not in queues["01"].waiting
    assert views.public_view(queues["02"])["waiting"] == [1, 2, 3, 1]
    for _ in range(4):
        queues["02"] = run(queues["02"], CallNext(at=AT, room="1"))
    assert views.public_view(queues["02"])["calling"][0] == {
        "number": 1,
        "room": "1",
        "recalls": 0,
        "from": "01",
    }
    assert views.ticket_public(queues["01"].tickets["01-1"])["to"] == "02"


def test_a_ticket_can_come_back_and_leave_again() -> None:
    queues = two_counters()
    transfer(queues, "01-2", "01", "02")
    transfer(queues, "01-2", "02", "01")
    back = queues["01"].tickets["01-2"]
    assert (back.status, back.from_counter, back.hops) == ("waiting", "02", 2)
    assert queues["01"].waiting == ["01-1", "01-3", "01-2"]  # the end, not its old place
    transfer(queues, "01-2", "01", "02")
    assert queues["02"].tickets["01-2"].hops == 3
    assert queues["02"].waiting.count("01-2") == 1


@given(status=st.sampled_from(("done", "cancelled")), day=S.dates())
def test_a_finished_ticket_is_not_transferred(status: str, day: date) -> None:
    queues = two_counters()
    finish = (
        [CallNext(at=AT), Complete(at=AT, ticket_id="01-1")]
        if status == "done"
        else [Cancel(at=AT, ticket_id="01-1")]
    )
    for command in finish:
        queues["01"] = run(queues["01"], command)
    before = copy.deepcopy(queues)
    with pytest.raises(JunbanError) as refused:
        rules.decide_transfer(queues["01"], queues["02"], "01-1", AT)
    assert (refused.value.code, refused.value.extra) == ("illegal_transition", {"status": status})
    assert queues == before


def test_same_counter_other_facility_and_unknown_ticket_are_refused() -> None:
    queues = two_counters()
    other = QueueState(info="9999-02", epoch=S.EPOCH)
    for target, code in ((queues["01"], "invalid_body"), (other, "invalid_body")):
        with pytest.raises(JunbanError) as refused:
            rules.decide_transfer(queues["01"], target, "01-1", AT)
        assert refused.value.code == code
    with pytest.raises(JunbanError) as refused:
        rules.decide_transfer(queues["01"], queues["02"], "nope", AT)
    assert refused.value.code == "unknown_ticket"


def test_the_target_refuses_a_ticket_it_holds_active_with_fewer_hops() -> None:
    """Cannot happen through decide_transfer; the rule still refuses rather than duplicate."""
    queues = two_counters()
    ahead = msgspec.structs.replace(queues["02"].tickets["02-1"], hops=1)
    with pytest.raises(JunbanError) as refused:
        rules.decide(queues["02"], TransferIn(at=AT, ticket=ahead, source="01"))
    assert (refused.value.code, refused.value.extra) == (
        "illegal_transition",
        {"status": "waiting"},
    )
    same = queues["02"].tickets["02-1"]  # as many hops: it arrived already (a retry)
    assert rules.decide(queues["02"], TransferIn(at=AT, ticket=same, source="01")) == []


# ---- the use case and append_pair.lua against a real Redis ------------------------------------


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = connect_redis(redis_url)
    yield client
    await client.aclose()


async def actions_on(client: aioredis.Redis) -> tuple[QueueActions, str]:
    """The queue use cases over a real Redis, and a new facility with counters 01 and 02."""
    store = QueueStore(client, stream_maxlen=100_000, idempotency_ttl_s=60)
    facilities = FacilityStore(client)
    service = QueueService(store, facilities)
    settings = Settings.from_env({})
    actions = QueueActions(service, store, facilities, RateLimiter(client), TOKENS, settings)
    number = new_facility_number()
    facility = Facility(number=number, name="t", counters={"01": "", "02": ""})
    await service.create_facility(facility, QueueConfig(), time.time())
    for counter in ("01", "02"):
        await service.execute(f"{number}-{counter}", OpenReception(at=time.time()), lambda s: None)
    return actions, number


async def test_transfers_racing_other_commands_lose_and_double_nothing(
    redis: aioredis.Redis,
) -> None:
    """Transfers from 01 to 02 while 01's writer issues and calls and 02's writer issues,
    all at once: every ticket ends up active in exactly one queue, the stored streams replay
    to the same states, and the writers (whose cached states the transfers outdated) reload."""
    actions, number = await actions_on(redis)
    source, target = f"{number}-01", f"{number}-02"
    service = actions.service
    for i in range(12):
        await service.execute(
            source, IssueTicket(at=time.time(), ticket_id=f"s{i}", channel="desk"), lambda s: None
        )

    async def move(i: int) -> None:
        await actions.transfer(source, f"s{i}", "02", None, time.time())

    async def issue(info: str, ticket_id: str) -> None:
        command = IssueTicket(at=time.time(), ticket_id=ticket_id, channel="desk")
        await service.execute(info, command, lambda s: None)

    async def call() -> None:
        try:
            await service.execute(source, CallNext(at=time.time(), room="9"), lambda s: None)
        except JunbanError as err:  # the line may be empty or the ticket moved
            assert err.code == "queue_empty"

    work = [move(i) for i in range(0, 12, 2)]
    work += [issue(source, f"x{i}") for i in range(4)] + [issue(target, f"y{i}") for i in range(4)]
    work += [call() for _ in range(3)]
    results = await asyncio.gather(*work, return_exceptions=True)
    for result in results:  # a move may meet a ticket the calls took: still one place only
        assert result is None or (
            isinstance(result, JunbanError) and result.code == "illegal_transition"
        ), result
    states = {info: await actions.store.load(info) for info in (source, target)}
    a, b = states[source], states[target]
    assert a is not None and b is not None
    for ticket_id in {*a.tickets, *b.tickets}:
        active = [
            s.info
            for s in (a, b)
            if ticket_id in s.tickets and s.tickets[ticket_id].status != "transferred"
        ]
        assert len(active) == 1, (ticket_id, active)
    for s in (a, b):  # the stream replays to the state the writers and readers see
        replayed = rules.evolve_all(
            QueueState(info=s.info), await actions.store.read_events(s.info)
        )
        assert replayed.tickets == s.tickets and replayed.waiting == s.waiting
    moved = [t for t in b.tickets.values() if t.from_counter == "01"]
    assert moved and all(a.tickets[t.id].to_counter == "02" for t in moved)
    # the writers of this process had outdated states: their next commands still work
    await issue(source, "after-1")
    await issue(target, "after-2")
    assert (await actions.store.load(target)).tickets["after-2"].number == b.last_number + 1  # type: ignore[union-attr]


async def test_a_retried_key_replays_and_a_half_done_transfer_is_completed(
    redis: aioredis.Redis,
) -> None:
    actions, number = await actions_on(redis)
    source, target = f"{number}-01", f"{number}-02"
    for ticket_id in ("a", "b"):
        command = IssueTicket(at=time.time(), ticket_id=ticket_id, channel="desk")
        await actions.service.execute(source, command, lambda s: None)
    idem = Idempotency("k1", "fp")
    first = await actions.transfer(source, "a", "02", idem, time.time())
    assert await actions.transfer(source, "a", "02", idem, time.time()) == first
    with pytest.raises(JunbanError) as reused:
        await actions.transfer(source, "a", "02", Idempotency("k1", "other"), time.time())
    assert reused.value.code == "idempotency_key_reused"

    # a crash between two separate writes (what the one Lua call rules out): only the
    # target's half is stored; the retry completes the source's half, nothing twice
    at = time.time()
    src, dst = await actions.store.load(source), await actions.store.load(target)
    assert src is not None and dst is not None
    _, into = rules.decide_transfer(src, dst, "b", at)
    half = rules.evolve_all(dst, into)
    half.version = dst.version + 1
    assert await actions.store.append_pair((src, []), (half, into)) == "ok"
    answer = await actions.transfer(source, "b", "02", None, time.time())
    assert answer["ticket"]["status"] == "transferred"
    after = await actions.store.load(target)
    assert after is not None and after.waiting == ["a", "b"]
    assert (await actions.store.load(source)).waiting == []  # type: ignore[union-attr]
    # a stale version is refused as a whole: neither queue changes
    stale = rules.evolve_all(src, [])
    assert await actions.store.append_pair((stale, into), (half, into)) == "conflict"
