"""The call-out rules (pure), the script, the numbers and the signature, property-tested."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from hub.phone import rules, script
from hub.phone.numbers import mask, to_e164
from hub.phone.providers.base import twilio_signature
from hub.phone.rules import Known, PhoneSettings
from hub.queue import events as ev
from hub.queue.model import Ticket
from hub.queue.store import decode_event, decode_state, encode_event

INFO = "1234-01"
TZ = "Asia/Tokyo"
SERVER = ("06:00", "24:00")


def view(tid: str, number: int, status: str, consent: bool) -> dict[str, Any]:
    return {
        "id": tid,
        "number": number,
        "status": status,
        "phone": f"+8190{number:08d}",
        "phone_consent": {"at": 1.0, "by": "patient", "text_version": "v"} if consent else None,
    }


# A queue simulated as a list of ticket ids; the steps are issue / call next / cancel
steps = st.lists(
    st.tuples(st.sampled_from(["issue", "next", "cancel"]), st.booleans(), st.integers(0, 9)),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(steps, st.integers(1, 10), st.booleans())
def test_near_at_most_once_per_ticket_only_with_consent_and_only_while_waiting(
    plan: list[tuple[str, bool, int]], threshold: int, called_on: bool
) -> None:
    config = PhoneSettings(
        threshold=threshold, triggers=("near", "called") if called_on else ("near",)
    )
    waiting: list[str] = []
    consent: dict[str, bool] = {}
    status: dict[str, str] = {}
    known: dict[str, Known] = {}
    fired: list[tuple[str, str]] = []
    for n, (op, agrees, pick) in enumerate(plan):
        events: list[Any] = []
        touched: list[str] = []
        if op == "issue":
            tid = f"t{n}"
            waiting.append(tid)
            consent[tid], status[tid] = agrees, "waiting"
            touched = [tid]
            events = [["ticket_issued", {"at": 1.0, "ticket": {"id": tid}}]]
        elif op == "next" and waiting:
            tid = waiting.pop(0)
            status[tid] = "called"
            touched = [tid]
            events = [["ticket_called", {"at": 1.0, "ticket_id": tid, "room": "1"}]]
        elif op == "cancel" and waiting:
            tid = waiting.pop(pick % len(waiting))
            status[tid] = "cancelled"
            touched = [tid]
            events = [["ticket_cancelled", {"at": 1.0, "ticket_id": tid}]]
        else:
            continue
        body = {
            "events": events,
            "tickets": {t: view(t, int(t[1:]) + 1, status[t], consent[t]) for t in touched},
            "waiting": list(waiting),
        }
        decision = rules.triggers(INFO, body, known, config)
        known = decision.known
        for c in decision.candidates:
            assert consent[c.ticket_id], "no consent, no call"
            if c.trigger == "near":
                assert status[c.ticket_id] == "waiting"
                assert c.ahead is not None and c.ahead <= threshold
                assert waiting.index(c.ticket_id) == c.ahead
            else:
                assert c.trigger == "called" and called_on and status[c.ticket_id] == "called"
            fired.append((c.ticket_id, c.trigger))
    assert len(fired) == len(set(fired)), "at most one call per (ticket, trigger)"
    assert all(status[t] in ("waiting", "called") for t in known)


def test_a_ticket_that_joins_within_the_threshold_is_not_called_for_near() -> None:
    config = PhoneSettings(threshold=2)
    body = {
        "events": [["ticket_issued", {"ticket": {"id": "a"}}]],
        "tickets": {"a": view("a", 1, "waiting", True)},
        "waiting": ["a"],
    }
    decision = rules.triggers(INFO, body, {}, config)
    assert decision.candidates == () and decision.known["a"].ahead == 0


def local(hour: int, minute: int = 0, day: int = 7) -> float:
    return datetime(2026, 12, day, hour, minute, tzinfo=ZoneInfo(TZ)).timestamp()


@given(st.integers(0, 23), st.integers(0, 59), st.integers(1, 28))
def test_the_call_window_is_server_hours_and_clinic_window(h: int, m: int, day: int) -> None:
    at = local(h, m, day)
    inside = rules.in_window(at, TZ, ("08:00", "21:00"), SERVER)
    assert inside == (8 <= h < 21)
    assert rules.in_window(at, TZ, ("00:00", "24:00"), ("06:00", "24:00")) == (h >= 6)


def test_the_window_edges() -> None:
    window = ("08:00", "21:00")
    assert not rules.in_window(local(7, 59), TZ, window, SERVER)
    assert rules.in_window(local(8, 0), TZ, window, SERVER)
    assert rules.in_window(local(20, 59), TZ, window, SERVER)
    assert not rules.in_window(local(21, 0), TZ, window, SERVER)
    assert not rules.in_window(local(0, 0, 8), TZ, window, SERVER)  # the day boundary


@given(
    st.sampled_from(["completed", "busy", "no-answer", "failed", "unknown"]),
    st.integers(1, 3),
    st.sampled_from(["near", "called", "manual"]),
    st.sampled_from([None, "waiting", "called"]),
    st.booleans(),
)
def test_one_retry_only_on_busy_or_no_answer_while_waiting(
    status: str, attempt: int, trigger: str, ticket: str | None, retry: bool
) -> None:
    known = None if ticket is None else Known(INFO, 1, "+819012345678", ticket)
    got = rules.retry_of(status, attempt, trigger, known, PhoneSettings(retry=retry))
    expected = (
        retry and status in ("busy", "no-answer") and attempt == 1 and trigger != "manual"
        and ticket == "waiting"
    )  # fmt: skip
    assert got == expected


@given(st.text(max_size=30), st.integers(1, 9999), st.one_of(st.none(), st.integers(0, 10)))
def test_the_script_says_it_twice_in_japanese_with_digits_and_no_name(
    clinic: str, number: int, ahead: int | None
) -> None:
    clinic = "".join(c for c in clinic if c.isprintable() and c not in "\ud800\udfff") or "医院"
    text = script.text(clinic, number, "near", ahead)
    assert f"受付番号{number}番の方" in text
    root = ET.fromstring(script.twiml(text))
    says = root.findall("Say")
    assert len(says) == 2 and all(s.get("language") == "ja-JP" for s in says)
    assert says[0].text == says[1].text == text
    assert [el.tag for el in root] == ["Say", "Pause", "Say", "Hangup"]


@given(st.dictionaries(st.text("abcXYZ", min_size=1, max_size=8), st.text(max_size=20), max_size=8))
def test_the_signature_is_twilios(params: dict[str, str]) -> None:
    url = "https://hub.example.jp/v1/integrations/phone/sim/status?f=1234&c=ab12"
    signature = twilio_signature("token-1", url, params)
    assert RequestValidator("token-1").validate(url, params, signature)
    assert not RequestValidator("token-2").validate(url, params, signature)


def test_numbers_are_e164_and_masked() -> None:
    assert to_e164("090-1234-5678") == "+819012345678"
    assert to_e164("０３－１２３４－５６７８") == "+81312345678"
    assert mask("+819012345678") == "090-****-5678"
    assert mask("+81312345678") == "03-****-5678"


def test_events_and_snapshots_without_phone_consent_still_load() -> None:
    ticket = Ticket(id="a", number=1, channel="web", issued_at=1.0)
    data = encode_event(ev.TicketIssued(at=1.0, ticket=ticket))
    import msgspec

    old = msgspec.msgpack.decode(data)
    assert "phone_consent" not in old["ticket"]  # left out at its default: as before it existed
    loaded = decode_event("ticket_issued", msgspec.msgpack.encode(old))
    assert isinstance(loaded, ev.TicketIssued) and loaded.ticket.phone_consent is None
    with_consent = Ticket(id="b", number=2, channel="desk", issued_at=1.0,
                          phone_consent=(2.0, "staff-1", "phone-consent-1"))  # fmt: skip
    back = decode_event("ticket_issued", encode_event(ev.TicketIssued(at=2.0, ticket=with_consent)))
    assert isinstance(back, ev.TicketIssued)
    assert back.ticket.phone_consent == (2.0, "staff-1", "phone-consent-1")
    from hub.queue.model import QueueState

    state = QueueState(info=INFO, tickets={"a": ticket})
    snap = msgspec.msgpack.decode(msgspec.msgpack.encode(state))
    assert "phone_consent" not in snap["tickets"]["a"]
    assert decode_state(msgspec.msgpack.encode(snap)).tickets["a"].phone_consent is None


def test_near_fires_when_the_ticket_crosses_its_threshold() -> None:
    config = PhoneSettings(threshold=1)
    known: dict[str, Known] = {}
    body = {
        "events": [],
        "tickets": {"c": view("c", 3, "waiting", True)},
        "waiting": ["a", "b", "c"],
    }
    known = rules.triggers(INFO, body, known, config).known
    moved = rules.triggers(
        INFO, {"events": [], "tickets": {}, "waiting": ["b", "c"]}, known, config
    )
    assert [(c.ticket_id, c.trigger, c.ahead) for c in moved.candidates] == [("c", "near", 1)]
    again = rules.triggers(
        INFO, {"events": [], "tickets": {}, "waiting": ["c"]}, moved.known, config
    )
    assert again.candidates == ()


def test_a_new_day_forgets_the_queues_tickets() -> None:
    known = {
        "a": Known(INFO, 1, "+819012345678", "waiting", 5),
        "b": Known("1234-02", 1, "+8190", "waiting"),
    }
    body = {
        "events": [["day_started", {"at": 1.0, "day": "2026-12-08"}]],
        "tickets": {},
        "waiting": [],
    }
    assert set(rules.triggers(INFO, body, known, PhoneSettings()).known) == {"b"}
