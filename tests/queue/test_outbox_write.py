"""The write side of the outbox (append.lua / append_pair.lua and ``hub/queue/outbox.py``)
against a real Redis, Annotate and patient_ref (domain, views, snapshots, the HTTP route)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any, cast

import httpx
import msgspec
import orjson
import pytest
import redis.asyncio as aioredis
from hypothesis import given
from hypothesis import strategies as st

from hub import keys
from hub.app import connect_redis
from hub.auth import Principal
from hub.errors import BadRequest, JunbanError, NotFound
from hub.queue import annotate, outbox, rules, views
from hub.queue.actions import QueueActions, TicketOrder
from hub.queue.events import MessageSet, TicketIssued
from hub.queue.facilities import Facility, FacilityStore
from hub.queue.model import (
    Annotate,
    CallNext,
    IssueTicket,
    OpenReception,
    OpenWeb,
    QueueConfig,
    QueueState,
    Ticket,
)
from hub.queue.service import Idempotency, QueueService
from hub.queue.store import QueueStore, decode_state, encode_state
from hub.ratelimit import RateLimiter
from hub.settings import Settings
from tests.conftest import TOKENS, new_facility_number, staff_headers

Entry = tuple[str, dict[str, Any]]


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = connect_redis(redis_url)
    yield client
    await client.aclose()


async def actions_on(client: aioredis.Redis, counters: tuple[str, ...] = ("01",)) -> QueueActions:
    store = QueueStore(client, stream_maxlen=100_000, idempotency_ttl_s=60)
    facilities = FacilityStore(client)
    service = QueueService(store, facilities)
    settings = Settings.from_env({})
    return QueueActions(service, store, facilities, RateLimiter(client), TOKENS, settings)


async def new_facility(actions: QueueActions, counters: tuple[str, ...] = ("01",)) -> str:
    number = new_facility_number()
    facility = Facility(number=number, name="t", counters={c: "" for c in counters})
    assert await actions.service.create_facility(facility, QueueConfig(), time.time())
    for counter in counters:
        for command in (OpenReception(at=time.time()), OpenWeb(at=time.time())):
            await actions.service.execute(f"{number}-{counter}", command, lambda s: None)
    return number


async def entries(client: aioredis.Redis, facility: str) -> list[Entry]:
    """The facility's outbox, fields decoded (``e`` as plain data)."""
    raw = cast(list[tuple[bytes, dict[bytes, bytes]]], await client.xrange(keys.outbox(facility)))
    out: list[Entry] = []
    for entry_id, fields in raw:
        assert set(fields) == {b"info", b"v", b"epoch", b"kinds", b"e"}
        out.append(
            (
                entry_id.decode(),
                {
                    "info": fields[b"info"].decode(),
                    "v": int(fields[b"v"]),
                    "epoch": fields[b"epoch"].decode(),
                    "kinds": fields[b"kinds"].decode().split(","),
                    "e": outbox.decode(fields[b"e"]),
                },
            )
        )
    return out


def issue(ticket_id: str, **fields: Any) -> IssueTicket:
    return IssueTicket(at=time.time(), ticket_id=ticket_id, channel="desk", **fields)


async def test_every_committed_batch_has_one_entry_and_a_refused_one_none(
    redis: aioredis.Redis,
) -> None:
    actions = await actions_on(redis)
    number = await new_facility(actions)
    info, service = f"{number}-01", actions.service
    before = await entries(redis, number)
    # the group is made first: it sees queue_created, then reception_opened, web_opened
    assert [e["kinds"] for _, e in before] == [
        ["queue_created"],
        ["day_started", "reception_opened"],
        ["web_opened"],
    ]
    assert [e["v"] for _, e in before] == [1, 2, 3]
    await service.execute(info, issue("a", name="Sato", phone="0900"), lambda s: None)
    after = await entries(redis, number)
    assert len(after) == len(before) + 1
    state = await actions.store.load(info)
    assert state is not None
    _, entry = after[-1]
    assert (entry["info"], entry["v"], entry["epoch"]) == (info, state.version, state.epoch)
    assert entry["kinds"] == ["ticket_issued"]
    body = entry["e"]
    assert body["day"] == state.day and body["waiting"] == ["a"]
    [(kind, payload)] = body["events"]
    assert kind == "ticket_issued" and payload["ticket"]["id"] == "a"
    staff = orjson.loads(orjson.dumps(views.ticket_staff(state.tickets["a"])))
    assert body["tickets"] == {"a": staff}
    assert body["tickets"]["a"]["name"] == "Sato" and body["tickets"]["a"]["patient_ref"] is None

    # refused (nobody else waits, so a second call-next is refused), unchanged (open twice):
    # no entry; the call that did happen has one, without "waiting"... it changed: with it
    await service.execute(info, CallNext(at=time.time(), room="1"), lambda s: None)
    with pytest.raises(JunbanError) as refused:
        await service.execute(info, CallNext(at=time.time(), room="2"), lambda s: None)
    assert refused.value.code == "queue_empty"
    await service.execute(info, OpenReception(at=time.time()), lambda s: None)
    final = await entries(redis, number)
    assert len(final) == len(after) + 1
    assert final[-1][1]["kinds"] == ["ticket_called"] and final[-1][1]["e"]["waiting"] == []
    assert final[-1][1]["e"]["tickets"]["a"]["status"] == "called"


async def test_a_conflicting_or_duplicate_append_writes_no_entry(redis: aioredis.Redis) -> None:
    actions = await actions_on(redis)
    number = await new_facility(actions)
    info, store = f"{number}-01", actions.store
    state = await store.load(info)
    assert state is not None
    count = len(await entries(redis, number))
    event = MessageSet(at=time.time(), text="m")
    stale = rules.evolve_all(state, [event])
    stale.version = state.version + 1
    result = await store.append(stale, [event], state.version - 1)
    assert result.outcome == "conflict"
    assert len(await entries(redis, number)) == count
    ok = await store.append(stale, [event], state.version, [("k1", b"answer")])
    assert ok.outcome == "ok" and len(await entries(redis, number)) == count + 1
    again = rules.evolve_all(stale, [event])
    again.version = stale.version + 1
    dup = await store.append(again, [event], stale.version, [("k1", b"answer")])
    assert dup.outcome == "dup"
    assert len(await entries(redis, number)) == count + 1
    # an idempotent retry through the service replays the first answer: no entry either
    idem = Idempotency("k2", "fp")
    first = await actions.service.execute(info, issue("x"), lambda s: s.version, idem)
    n = len(await entries(redis, number))
    assert await actions.service.execute(info, issue("x"), lambda s: s.version, idem) == first
    assert len(await entries(redis, number)) == n


async def test_500_takes_add_only_a_handful_of_entries(redis: aioredis.Redis) -> None:
    actions = await actions_on(redis)
    number = await new_facility(actions)
    info, service = f"{number}-01", actions.service
    count = len(await entries(redis, number))
    batches = service.writer(info).batches
    await asyncio.gather(
        *[service.execute(info, issue(f"b{i}"), lambda s: None) for i in range(500)]
    )
    written = (await entries(redis, number))[count:]
    assert len(written) == service.writer(info).batches - batches <= 5
    seen = [tid for _, e in written for tid in e["e"]["tickets"]]
    assert sorted(seen) == sorted(f"b{i}" for i in range(500))  # each ticket in one entry
    assert sum(len(e["e"]["events"]) for _, e in written) == 500
    assert all(e["kinds"] == ["ticket_issued"] for _, e in written)  # each kind once
    assert written[-1][1]["e"]["waiting"] == (await actions.store.load(info)).waiting  # type: ignore[union-attr]


async def test_the_wake_is_published_once_per_window_and_not_for_annotations(
    redis: aioredis.Redis, redis_url: str
) -> None:
    actions = await actions_on(redis)
    number = await new_facility(actions)
    info = f"{number}-01"
    window = outbox.WAKE_WINDOW_MS / 1000
    await actions.service.execute(info, issue("w"), lambda s: None)
    written = len(await entries(redis, number))
    listener = connect_redis(redis_url)
    pubsub = listener.pubsub()

    async def wakes() -> list[bytes]:
        woken = []
        while (message := await pubsub.get_message(timeout=0.3)) is not None:
            if message["type"] == "message":
                woken.append(message["data"])
        return woken

    try:
        await pubsub.subscribe(keys.OUTBOX_WAKE)
        assert (await pubsub.get_message(timeout=2))["type"] == "subscribe"
        await asyncio.sleep(window)  # past the window of the first issue
        await actions.annotate(info, "w", "emr.status", "sent")  # no entry, no wake
        await actions.service.execute(info, issue("v"), lambda s: None)
        await actions.service.execute(info, issue("u"), lambda s: None)  # same window
        assert await wakes() == [number.encode()]
        await asyncio.sleep(window)
        await actions.service.execute(info, issue("t"), lambda s: None)
        assert await wakes() == [number.encode()]
        assert len(await entries(redis, number)) == written + 3  # each entry all the same
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]
        await listener.aclose()


async def test_a_transfer_writes_one_entry_per_queue_source_first(redis: aioredis.Redis) -> None:
    actions = await actions_on(redis)
    number = await new_facility(actions, ("01", "02"))
    source, target = f"{number}-01", f"{number}-02"
    await actions.service.execute(source, issue("t", patient_ref="P-1"), lambda s: None)
    count = len(await entries(redis, number))
    await actions.transfer(source, "t", "02", None, time.time())
    written = (await entries(redis, number))[count:]
    assert [(e["info"], e["kinds"]) for _, e in written] == [
        (source, ["ticket_transferred_out"]),
        (target, ["ticket_transferred_in"]),
    ]
    states = {i: await actions.store.load(i) for i in (source, target)}
    for _, e in written:
        state = states[e["info"]]
        assert state is not None and (e["v"], e["epoch"]) == (state.version, state.epoch)
        assert e["e"]["waiting"] == state.waiting
    assert written[0][1]["e"]["tickets"]["t"]["status"] == "transferred"
    assert written[1][1]["e"]["tickets"]["t"]["patient_ref"] == "P-1"


async def test_the_consumer_group_is_made_with_the_facility(redis: aioredis.Redis) -> None:
    actions = await actions_on(redis)
    number = await new_facility(actions)
    groups = await redis.xinfo_groups(keys.outbox(number))
    assert sorted(g["name"] for g in groups) == [b"integrations", b"notify", b"phone"]
    # read through "phone", which no hub of this test session runs meanwhile (the shared
    # hub's inline "integrations" consumer may have read the entries already)
    read = cast(list[Any], await redis.xreadgroup("phone", "c1", {keys.outbox(number): ">"}, 100))
    assert read and len(read[0][1]) == len(await entries(redis, number))  # it saw them all


# ---- Annotate --------------------------------------------------------------------------------


async def test_annotations_show_to_staff_only_and_an_unchanged_one_is_no_version(
    redis: aioredis.Redis,
) -> None:
    actions = await actions_on(redis)
    number = await new_facility(actions)
    info, store = f"{number}-01", actions.store
    await actions.service.execute(info, issue("a"), lambda s: None)
    count = len(await entries(redis, number))
    version = (await store.load(info)).version  # type: ignore[union-attr]
    await actions.annotate(info, "a", "emr.status", "sent")
    await actions.annotate(info, "a", "emr.acceptance_id", "00012")
    await actions.annotate(info, "a", "emr.status", "failed")
    state = await store.load(info)
    assert state is not None and state.version == version + 3
    await actions.annotate(info, "a", "emr.status", "failed")  # unchanged: nothing
    assert (await store.load(info)).version == version + 3  # type: ignore[union-attr]
    assert len(await entries(redis, number)) == count  # no entry for annotations
    staff = views.staff_view(state)["tickets"][0]
    assert staff["annotations"] == {"emr.status": "failed", "emr.acceptance_id": "00012"}
    assert state.tickets["a"].annotations == (
        ("emr.status", "failed"),
        ("emr.acceptance_id", "00012"),
    )
    replayed = rules.evolve_all(
        QueueState(info=info, epoch=state.epoch), await store.read_events(info)
    )
    replayed.version = state.version
    assert replayed == state  # the stream folds to what the writer holds
    public = orjson.dumps(views.public_view(state)) + orjson.dumps(views.ticket_view(state, "a"))
    stored_view = cast(bytes, await redis.hget(keys.queue(info), "view"))
    for text in (public, stored_view):
        assert b"emr" not in text and b"annotations" not in text and b"patient_ref" not in text
    with pytest.raises(NotFound) as unknown:
        await actions.annotate(info, "nope", "emr.status", "sent")
    assert unknown.value.code == "unknown_ticket"
    for key, value in (("EMR", "x"), ("emr.status", "x" * 201)):
        with pytest.raises(JunbanError) as bad:
            await actions.annotate(info, "a", key, value)
        assert bad.value.code == "invalid_annotation"


async def test_an_annotation_in_a_mixed_batch_stays_out_of_the_entry(
    redis: aioredis.Redis,
) -> None:
    actions = await actions_on(redis)
    number = await new_facility(actions)
    info, service = f"{number}-01", actions.service
    await service.execute(info, issue("a"), lambda s: None)
    count = len(await entries(redis, number))
    batches = service.writer(info).batches
    await asyncio.gather(
        service.execute(
            info,
            Annotate(at=time.time(), ticket_id="a", key="emr.status", value="sent"),
            lambda s: None,
        ),
        service.execute(info, issue("b"), lambda s: None),
    )
    written = (await entries(redis, number))[count:]
    assert len(written) == service.writer(info).batches - batches
    assert all("ticket_annotated" not in e["kinds"] for _, e in written)
    assert [k for _, e in written for k, _ in e["e"]["events"]] == ["ticket_issued"]


# ---- patient_ref -----------------------------------------------------------------------------


async def test_patient_ref_on_taking_and_linking(redis: aioredis.Redis) -> None:
    actions = await actions_on(redis)
    number = await new_facility(actions)
    info = f"{number}-01"
    order = TicketOrder(staff=True, client_ip="127.0.0.1", channel="desk", patient_ref="00123")
    taken = await actions.take_ticket(info, number, order, None, time.time())
    assert "patient_ref" not in orjson.dumps(taken).decode()  # the patient's view
    tid = taken["ticket"]["id"]
    _, entry = (await entries(redis, number))[-1]
    assert entry["e"]["tickets"][tid]["patient_ref"] == "00123"
    who = Principal(role="staff", subject="yamada", facility=number)
    answer = await actions.set_patient_ref(info, tid, "A-77", who)
    assert answer["ticket"]["patient_ref"] == "A-77"
    _, linked = (await entries(redis, number))[-1]
    assert linked["kinds"] == ["ticket_linked"] and "waiting" not in linked["e"]
    assert linked["e"]["events"][0][1]["by"] == "yamada"
    count = len(await entries(redis, number))
    await actions.set_patient_ref(info, tid, "A-77", who)  # the same: nothing
    assert len(await entries(redis, number)) == count
    for bad in ("", "a b", "x" * 21, "番号"):
        with pytest.raises(BadRequest) as refused:
            await actions.set_patient_ref(info, tid, bad, who)
        assert refused.value.code == "invalid_patient_ref"
        with pytest.raises(BadRequest):
            await actions.take_ticket(
                info, number, TicketOrder(staff=True, client_ip="1", patient_ref=bad), None, 0
            )


@given(st.text(max_size=30))
def test_patient_ref_is_checked_by_its_pattern(text: str) -> None:
    fits = re.fullmatch(r"[0-9A-Za-z-]{1,20}", text) is not None
    try:
        assert annotate.check_patient_ref(text) == text
        assert fits
    except BadRequest as err:
        assert not fits and err.code == "invalid_patient_ref"


@given(st.from_regex(r"\A[0-9A-Za-z-]{1,20}\Z"))
def test_every_patient_card_number_fits(text: str) -> None:
    assert annotate.check_patient_ref(text) == text


def test_snapshots_keep_the_new_fields_and_old_ones_still_load() -> None:
    state = QueueState(info="1-01", epoch="e", version=3)
    ticket = Ticket(id="a", number=1, channel="desk", issued_at=1.0, patient_ref="9")
    rules.apply_in_place(state, TicketIssued(at=1.0, ticket=ticket))
    command = Annotate(at=2.0, ticket_id="a", key="emr.status", value="sent")
    [event] = annotate.annotate(state, command)
    state = rules.evolve(state, event)
    assert annotate.annotate(state, command) == []  # unchanged: no event
    assert decode_state(encode_state(state)) == state
    assert state.tickets["a"].annotations == (("emr.status", "sent"),)
    old = msgspec.to_builtins(state)  # a snapshot written before the fields existed
    for t in old["tickets"].values():
        del t["patient_ref"], t["annotations"]
    loaded = decode_state(msgspec.msgpack.encode(old))
    assert loaded.tickets["a"].patient_ref is None and loaded.tickets["a"].annotations == ()


def test_snapshots_leave_out_default_ticket_fields_and_full_ones_still_load() -> None:
    state = QueueState(info="1-01", epoch="e", version=1)
    ticket = Ticket(id="a", number=1, channel="web", issued_at=1.0)
    rules.apply_in_place(state, TicketIssued(at=1.0, ticket=ticket))
    stored = msgspec.msgpack.decode(encode_state(state))["tickets"]["a"]
    assert stored == {"id": "a", "number": 1, "channel": "web", "issued_at": 1.0}
    full = msgspec.to_builtins(state)  # as a snapshot written with every field
    full["tickets"]["a"] = {f: getattr(ticket, f) for f in Ticket.__struct_fields__}
    assert decode_state(msgspec.msgpack.encode(full)) == state


# ---- the HTTP route --------------------------------------------------------------------------


async def test_the_patient_ref_route(client: httpx.AsyncClient, facility: str) -> None:
    info = f"{facility}-01"
    staff = staff_headers(facility)
    taken = await client.post(
        f"/v1/queues/{info}/tickets", json={"channel": "desk", "patient_ref": "11"}, headers=staff
    )
    assert taken.status_code == 201, taken.text
    tid = taken.json()["ticket"]["id"]
    route = f"/v1/queues/{info}/tickets/{tid}/patient-ref"
    linked = await client.put(route, json={"patient_ref": "22-B"}, headers=staff)
    assert linked.status_code == 200 and linked.json()["ticket"]["patient_ref"] == "22-B"
    bad = await client.put(route, json={"patient_ref": "22 B"}, headers=staff)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_patient_ref"
    assert (await client.put(route, json={"patient_ref": "1"})).status_code == 401
    web = await client.post(f"/v1/queues/{info}/tickets", json={"patient_ref": "x y"})
    assert web.status_code == 400 and web.json()["error"]["code"] == "invalid_patient_ref"
    view = (await client.get(f"/v1/queues/{info}/staff", headers=staff)).json()
    assert [t["patient_ref"] for t in view["tickets"]] == ["22-B"]
    public = (await client.get(f"/v1/queues/{info}")).text
    assert "22-B" not in public and "patient_ref" not in public


async def test_the_consumers_parser_reads_every_entry(redis: aioredis.Redis) -> None:
    """What ``hub.outbox.entry.parse_entry`` (the read side) makes of the entries written."""
    from hub.outbox.entry import parse_entry

    actions = await actions_on(redis)
    number = await new_facility(actions)
    await actions.service.execute(f"{number}-01", issue("p", patient_ref="7"), lambda s: None)
    raw = cast(list[tuple[bytes, dict[bytes, bytes]]], await redis.xrange(keys.outbox(number)))
    parsed = [parse_entry(number, entry_id, fields) for entry_id, fields in raw]
    assert [p.v for p in parsed] == [1, 2, 3, 4] and parsed[-1].kinds == ("ticket_issued",)
    assert parsed[-1].body["tickets"]["p"]["patient_ref"] == "7"
    assert parsed[-1].id == raw[-1][0].decode() and parsed[-1].info == f"{number}-01"


async def test_a_ticket_with_phone_consent_marks_the_facility_before_its_entry(
    redis: aioredis.Redis,
) -> None:
    actions = await actions_on(redis)
    number = await new_facility(actions)
    info = f"{number}-01"
    plain = TicketOrder(staff=True, client_ip="127.0.0.1", channel="desk", phone="09012345678")
    await actions.take_ticket(info, number, plain, None, time.time())
    assert not await redis.exists(keys.phone_consented(number))  # the phone group skips it
    consenting = replace(plain, phone_consent=True)
    taken = await actions.take_ticket(info, number, consenting, None, time.time())
    assert await redis.exists(keys.phone_consented(number))
    assert 0 < await redis.ttl(keys.phone_consented(number)) <= 2 * 86400
    _, entry = (await entries(redis, number))[-1]
    assert entry["e"]["tickets"][taken["ticket"]["id"]]["phone_consent"]
