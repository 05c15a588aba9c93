"""Pure rules of the integrations: the v1 event mapping, the retry schedule, sealed secrets,
the outbound guard and the CSV writer (no I/O)."""

from __future__ import annotations

import csv
import io
import ipaddress
from dataclasses import dataclass

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub import csvout
from hub.errors import BadRequest, JunbanError
from hub.integrations import schedule
from hub.integrations.events import EVENT_TYPES, events_of, from_record, payload, to_record
from hub.integrations.guard import check_url, refusal
from hub.outbox.entry import OutboxEntry
from hub.queue import outbox
from hub.queue.events import QueueCreated
from hub.queue.evolve import evolve_all
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
    Recall,
    Requeue,
)
from hub.queue.rules import decide
from hub.queue.store import encode_event
from hub.secrets import Sealer
from tests import strategies as S

# ---- events: any command sequence → v1 events ------------------------------------------------


@dataclass(frozen=True)
class Step:
    op: str
    ref: int
    name: str


steps = st.lists(
    st.builds(
        Step,
        st.sampled_from(
            ["issue", "issue", "call", "complete", "cancel", "recall", "absent", "requeue"]
        ),  # fmt: skip
        st.integers(0, 20),
        st.sampled_from(["", "山田 太郎"]),
    ),
    max_size=40,
)


def command(step: Step, n: int, at: float, issued: list[str]) -> Command:
    target = issued[step.ref % len(issued)] if issued else "none"
    if step.op == "issue":
        return IssueTicket(at=at, ticket_id=f"t{n}", channel="desk", name=step.name,
                           phone="09012345678" if step.name else "")  # fmt: skip
    if step.op == "call":
        return CallNext(at=at)
    by_ticket: dict[str, type[Command]] = {"complete": Complete, "cancel": Cancel,
                                          "recall": Recall, "absent": MarkAbsent}  # fmt: skip
    if step.op in by_ticket:
        return by_ticket[step.op](at=at, ticket_id=target)  # type: ignore[call-arg]
    return Requeue(at=at, ticket_id=target)


def run(plan: list[Step]) -> tuple[list[OutboxEntry], set[str]]:
    """The outbox entries of ``plan`` as the store would write them, and the ids issued."""
    at = S.START_AT
    state = evolve_all(QueueState(info=S.INFO, epoch=S.EPOCH),
                       [QueueCreated(at=at, info=S.INFO, config=QueueConfig())])  # fmt: skip
    entries: list[OutboxEntry] = []
    issued: list[str] = []
    version = 1
    for n, step in enumerate([Step("open", 0, ""), *plan]):
        at += 7
        cmd = OpenReception(at=at) if step.op == "open" else command(step, n, at, issued)
        try:
            events = decide(state, cmd)
        except JunbanError:
            continue
        before = list(state.waiting)
        state = evolve_all(state, events)
        version += len(events)
        state.version = version
        issued += [e.ticket.id for e in events if e.kind == "ticket_issued"]  # type: ignore[attr-defined]
        entry = outbox.build(state, events, [encode_event(e) for e in events], before)
        if entry is None:
            continue
        entries.append(OutboxEntry(id=f"{int(at * 1000)}-0", facility="1234", info=S.INFO,
                                   v=version, epoch=S.EPOCH, kinds=tuple(entry.kinds.split(",")),
                                   body=outbox.decode(entry.e)))  # fmt: skip
    return entries, set(issued)


@settings(max_examples=60, deadline=None)
@given(steps)
def test_event_ids_are_unique_stable_and_in_version_order(plan: list[Step]) -> None:
    entries, issued = run(plan)
    mapped = [e for entry in entries for e in events_of(entry)]
    again = [e for entry in entries for e in events_of(entry)]
    assert mapped == again  # stable: the same ids and bodies every time
    ids = [e.id for e in mapped]
    assert len(ids) == len(set(ids))
    versions = [e.data["v"] for e in mapped]
    assert versions == sorted(versions)
    issued_events = [e.data["ticket"]["id"] for e in mapped if e.type == "ticket.issued"]
    assert sorted(issued_events) == sorted(issued)  # one ticket.issued per issued ticket
    for event in mapped:
        assert event.type in EVENT_TYPES
        assert event.id.startswith(f"evt_{S.INFO}_{S.EPOCH}_{event.data['v']}_")
        assert from_record(to_record(event)) == event


@settings(max_examples=30, deadline=None)
@given(steps)
def test_names_and_phones_only_for_personal_endpoints(plan: list[Step]) -> None:
    entries, _ = run([Step("issue", 0, "山田 太郎"), *plan])
    for event in [e for entry in entries for e in events_of(entry)]:
        anonymous = orjson.loads(payload(event, personal=False))
        personal = orjson.loads(payload(event, personal=True))
        assert set(anonymous) == {"type", "timestamp", "data"}
        assert "name" not in anonymous["data"]["ticket"]
        assert "phone" not in anonymous["data"]["ticket"]
        if event.data["ticket"]["id"] == "t1":  # the first step's ticket carries a name
            assert personal["data"]["ticket"]["name"] == "山田 太郎"
        assert b"\xe5\xb1\xb1" not in payload(event, personal=False)  # 山 nowhere


# ---- the retry schedule -----------------------------------------------------------------------

jitters = st.floats(-0.1, 0.1)


@given(st.floats(0, 2e9), st.lists(jitters, min_size=9, max_size=9), st.floats(0.001, 10))
def test_the_schedule_rises_and_ends_after_eight(
    first: float, wob: list[float], scale: float
) -> None:  # noqa: E501
    times = [schedule.retry_at(k, first, wob[k - 1], scale) for k in range(1, 9)]
    assert times[0] == first
    assert all(t is not None for t in times)
    assert all(a < b for a, b in zip(times, times[1:], strict=False))  # type: ignore[operator]
    assert schedule.retry_at(9, first, wob[8], scale) is None
    assert schedule.retry_at(0, first) is None


@given(jitters)
def test_the_eighth_attempt_is_27_h_35_min_after_the_first(jitter: float) -> None:
    eighth = schedule.retry_at(8, 0.0, jitter)
    nominal = 27 * 3600 + 35 * 60 + 5
    assert eighth is not None and abs(eighth - nominal) <= 0.1 * nominal + 1e-6
    assert schedule.retry_at(8, 0.0) == nominal
    assert schedule.retry_at(2, 100.0) == 105.0


# ---- sealed secrets --------------------------------------------------------------------------

KEY = "k" * 40


@given(st.text(max_size=200), st.text(min_size=1, max_size=50))
def test_a_sealed_secret_opens_for_its_owner_only(secret: str, owner: str) -> None:
    sealer = Sealer(KEY)
    token = sealer.seal(owner, secret)
    assert len(secret) < 8 or secret not in token
    assert sealer.unseal(owner, token) == secret
    assert sealer.unseal(owner + "x", token) is None  # moved to another endpoint
    assert Sealer("another secret of 32 bytes or more!").unseal(owner, token) is None
    assert sealer.seal(owner, secret) != token  # a fresh nonce each time


def test_the_previous_secret_still_opens_and_asks_for_a_reseal() -> None:
    old = Sealer("old secret " * 4).seal("jb:{1}:ep:ep_1", "whsec_x")
    rotated = Sealer("new secret " * 4, previous="old secret " * 4)
    assert rotated.unseal("jb:{1}:ep:ep_1", old) == "whsec_x"
    assert rotated.needs_reseal(old)
    assert not rotated.needs_reseal(rotated.seal("a", "b"))
    assert rotated.unseal("a", old[:-2]) is None and rotated.unseal("a", "junk") is None
    assert old.startswith("v1.")


# ---- the outbound guard ----------------------------------------------------------------------

REFUSED = ["ftp://example.com/", "https://user:pw@example.com/", "https://169.254.169.254/",
           "https://10.0.0.1/", "https://192.168.1.1/", "https://[::1]/", "https://127.0.0.1/",
           "https://localhost/", "https://[::ffff:127.0.0.1]/", "https://0.0.0.0/",
           "http://example.com/", "https://[fe80::1]/", "https://224.0.0.1/", "not a url",
           "https://hub.example.jp/"]  # fmt: skip


@pytest.mark.parametrize("url", REFUSED)
def test_the_guard_refuses(url: str) -> None:
    with pytest.raises(BadRequest) as caught:
        check_url(url, allow_private=False, allow_loopback=False, own_hosts=["hub.example.jp"])
    assert caught.value.code == "bad_endpoint_url"


def test_the_guard_allows_public_https_and_what_is_allowed() -> None:
    check_url("https://example.com/hook", allow_private=False, allow_loopback=False)
    check_url("https://8.8.8.8:8443/x", allow_private=False, allow_loopback=False)
    check_url("https://10.0.0.1/", allow_private=True, allow_loopback=False)
    check_url("http://127.0.0.1:8000/", allow_private=False, allow_loopback=True)
    with pytest.raises(BadRequest):  # link-local stays refused whatever is allowed
        check_url("http://169.254.169.254/", allow_private=True, allow_loopback=True)


@given(st.ip_addresses())
def test_only_global_addresses_pass_by_default(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:  # noqa: E501
    reason = refusal(ip, allow_private=False, allow_loopback=False)
    inner = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped else ip
    if reason is None:
        assert inner.is_global and not inner.is_multicast
    else:
        assert not inner.is_global or inner.is_multicast or inner.is_reserved


# ---- CSV ---------------------------------------------------------------------------------------


@given(st.lists(st.lists(st.text(max_size=20), min_size=2, max_size=2), max_size=10))
def test_csv_has_bom_crlf_and_no_formula(rows: list[list[str]]) -> None:
    text = csvout.to_text(rows, ["日時", "応答"])
    assert text.startswith("\ufeff日時,応答\r\n")
    parsed = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline="")))
    assert len(parsed) == len(rows) + 1
    for row in parsed[1:]:
        for value in row:
            assert value[:1] not in ("=", "+", "-", "@") or value.startswith("'")


def test_csv_cells_and_disposition() -> None:
    text = csvout.to_text([["=cmd|' /C calc'!A0", None]], ["a", "b"])
    assert "'=cmd" in text and text.endswith("\r\n")
    header = csvout.disposition("配信ログ-1234.csv")
    assert header.startswith('attachment; filename="1234.csv"') or 'filename="' in header
    assert "filename*=UTF-8''%E9%85%8D%E4%BF%A1" in header
    assert header.encode("ascii")  # an ASCII header value
    assert csvout.local_time(0) == ""
    assert csvout.local_time(1_700_000_000, "Asia/Tokyo") == "2023/11/15 07:13:20"
