"""Shared Hypothesis strategies for the pure queue core: clocks, configs and commands.

Commands come out with ``at=0.0`` and, where they name a ticket, a *reference* instead of a
real id (``"?waiting:3"``, ``"?ever:7"``, ``"?unknown"``): the state machine stamps the time
and resolves the reference against the tickets it has issued (see ``resolve_ticket``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from hypothesis import strategies as st

from hub.queue.model import (
    CallNext,
    CallTicket,
    Cancel,
    Complete,
    Configure,
    IssueTicket,
    MarkAbsent,
    Notice,
    QueueConfig,
    Recall,
    Requeue,
    SetMessage,
    SetNotices,
    SetSuspended,
)

TOKYO = "Asia/Tokyo"
BERLIN = "Europe/Berlin"
INFO = "1234-01"
EPOCH = "e1"
START_AT = datetime(2025, 3, 3, 8, 30, tzinfo=ZoneInfo(TOKYO)).timestamp()
"""A Monday morning in Tokyo: the state machine's clock starts here."""

ROOMS = ("1", "2", "3")
STAFF_CHANNELS = ("desk", "kiosk", "phone")
SERVICE_HOURS = ("06:00", "24:00")
UNKNOWN_TICKET = "?unknown"

# ---- clocks ---------------------------------------------------------------------------------


def clock_steps() -> st.SearchStrategy[float]:
    """How long passes before a command: mostly seconds, often minutes, now and then most of
    an hour (longer pauses and nights are separate steps of the state machine)."""
    seconds = st.floats(min_value=0, max_value=60, allow_nan=False)
    return st.one_of(
        seconds,
        seconds,
        st.integers(min_value=60, max_value=10 * 60).map(float),
        st.integers(min_value=10 * 60, max_value=50 * 60).map(float),
    )


def local_midnight(day: date, tz: str) -> float:
    """The instant local midnight starts ``day`` in ``tz``."""
    return datetime.combine(day, time(0, 0), tzinfo=ZoneInfo(tz)).timestamp()


def next_local_midnight(at: float, tz: str) -> float:
    """The first local midnight strictly after ``at``."""
    today = datetime.fromtimestamp(at, ZoneInfo(tz)).date()
    return local_midnight(today + timedelta(days=1), tz)


def dates() -> st.SearchStrategy[date]:
    return st.dates(min_value=date(2000, 1, 1), max_value=date(2037, 12, 31))


def hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def clock_times() -> st.SearchStrategy[str]:
    """Well-formed "HH:MM" strings, 00:00 to 24:00."""
    return st.integers(min_value=0, max_value=24 * 60).map(hhmm)


MALFORMED_TIMES = (
    "", "7", "0730", "07:3", "07:300", "24:01", "12:60", "25:00", "7:5 ", " 07:30", "07.30",
    "-1:00", "+7:30", "1_0:00", "０７:３０", "٠٧:٣٠", "ab:cd", "07:30:00", "¹:00",
)  # fmt: skip
"""Strings a careless client might send as "HH:MM"; every one must be refused."""


def malformed_times() -> st.SearchStrategy[str]:
    return st.sampled_from(MALFORMED_TIMES)


# ---- configs --------------------------------------------------------------------------------


def configs(valid_only: bool = False) -> st.SearchStrategy[QueueConfig]:
    """Queue settings a clinic might send; about one in four invalid unless ``valid_only``."""
    valid = st.builds(
        QueueConfig,
        tz=st.just(TOKYO),
        web_daily_cap=st.one_of(st.none(), st.integers(0, 6)),
        requeue_offset=st.integers(0, 5),
        default_minutes=st.sampled_from([5.0, 2.0, 12.5]),
        close_web_at=st.one_of(st.none(), clock_times()),
    )
    if valid_only:
        return valid
    invalid = st.one_of(
        st.builds(QueueConfig, web_daily_cap=st.integers(-5, -1)),
        st.builds(QueueConfig, requeue_offset=st.integers(-5, -1)),
        st.builds(QueueConfig, default_minutes=st.sampled_from([0.0, -1.0])),
        st.builds(QueueConfig, close_web_at=malformed_times()),
        st.builds(
            QueueConfig, tz=st.sampled_from(["", "Mars/Olympus", "Asia", "../etc", "asia/tokyo"])
        ),
    )
    return st.one_of(valid, valid, valid, invalid)


def config_is_valid(config: QueueConfig) -> bool:
    """What ``Configure`` must accept: the rules' own checks, stated independently."""
    return (
        (config.web_daily_cap is None or config.web_daily_cap >= 0)
        and config.requeue_offset >= 0
        and 0.5 <= config.default_minutes <= 120
        and config.close_web_at not in MALFORMED_TIMES
        and config.tz in known_zones()
    )


@cache
def known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


# ---- personal data --------------------------------------------------------------------------

PERSONAL_PREFIXES = ("name:", "tel:", "note:")


def names() -> st.SearchStrategy[str]:
    """Empty or a recognisable name; now and then longer than the 100 allowed."""
    return st.one_of(st.just(""), st.text(min_size=1, max_size=100).map(lambda s: "name:" + s))


def phones() -> st.SearchStrategy[str]:
    """Empty or a recognisable phone; now and then longer than the 32 allowed."""
    return st.one_of(
        st.just(""), st.text("0123456789-", min_size=1, max_size=30).map(lambda s: "tel:" + s)
    )


def notes() -> st.SearchStrategy[str]:
    return st.one_of(st.just(""), st.text(min_size=1, max_size=40).map(lambda s: "note:" + s))


def messages() -> st.SearchStrategy[str]:
    """i-messages: never containing ':' so they cannot look like personal data."""
    return st.text("本日は混雑しています abc123", max_size=30)


# ---- commands -------------------------------------------------------------------------------


TICKET_POOLS = ("today", "waiting", "calling", "absent", "ever")


def ticket_refs() -> st.SearchStrategy[str]:
    """A reference to one of today's tickets (any, waiting, called or absent), to any ticket
    ever issued (earlier days included), or to one never issued."""
    index = st.integers(min_value=0, max_value=10_000)
    pooled = st.tuples(st.sampled_from(TICKET_POOLS), index).map(lambda p: f"?{p[0]}:{p[1]}")
    return st.one_of(pooled, pooled, pooled, pooled, st.just(UNKNOWN_TICKET))


NEVER_ISSUED = "never-issued"
"""The id ``resolve_ticket`` gives for ``UNKNOWN_TICKET`` or an empty pool; never issued."""


def resolve_ticket(ref: str, pools: Mapping[str, Sequence[str]]) -> str:
    """The real ticket id a ``ticket_refs`` reference stands for, given the machine's pools."""
    source, _, index = ref[1:].partition(":")
    pool = pools.get(source, ())
    return pool[int(index) % len(pool)] if pool else NEVER_ISSUED


def _issue_ids() -> st.SearchStrategy[str]:
    """``"?new"`` (a fresh id) most of the time, else a reference to reuse (a duplicate)."""
    return st.one_of(st.just("?new"), st.just("?new"), st.just("?new"), ticket_refs())


def web_issues() -> st.SearchStrategy[IssueTicket]:
    """Patients' web issues: never priority, usually bound to the server operating hours."""
    hours = st.sampled_from(
        [None, SERVICE_HOURS, SERVICE_HOURS, ("09:00", "18:00"), ("22:00", "02:00")]
    )
    return st.builds(
        IssueTicket,
        at=st.just(0.0),
        ticket_id=_issue_ids(),
        channel=st.just("web"),
        name=names(),
        phone=phones(),
        note=notes(),
        priority=st.just(False),
        service_hours=hours,
    )


def staff_issues() -> st.SearchStrategy[IssueTicket]:
    """Desk, kiosk and phone issues: sometimes priority, never bound to hours."""
    return st.builds(
        IssueTicket,
        at=st.just(0.0),
        ticket_id=_issue_ids(),
        channel=st.sampled_from(STAFF_CHANNELS),
        name=names(),
        phone=phones(),
        note=notes(),
        priority=st.booleans(),
        service_hours=st.none(),
    )


def issue_tickets() -> st.SearchStrategy[IssueTicket]:
    return st.one_of(web_issues(), staff_issues())


def call_nexts() -> st.SearchStrategy[CallNext]:
    return st.builds(CallNext, at=st.just(0.0), room=st.sampled_from(ROOMS))


def call_tickets() -> st.SearchStrategy[CallTicket]:
    return st.builds(
        CallTicket, at=st.just(0.0), ticket_id=ticket_refs(), room=st.sampled_from(ROOMS)
    )


def recalls() -> st.SearchStrategy[Recall]:
    return st.builds(Recall, at=st.just(0.0), ticket_id=ticket_refs())


def mark_absents() -> st.SearchStrategy[MarkAbsent]:
    return st.builds(MarkAbsent, at=st.just(0.0), ticket_id=ticket_refs())


def requeues() -> st.SearchStrategy[Requeue]:
    return st.builds(Requeue, at=st.just(0.0), ticket_id=ticket_refs(), to_end=st.booleans())


def completes() -> st.SearchStrategy[Complete]:
    return st.builds(Complete, at=st.just(0.0), ticket_id=ticket_refs())


def cancels() -> st.SearchStrategy[Cancel]:
    return st.builds(
        Cancel, at=st.just(0.0), ticket_id=ticket_refs(), by=st.sampled_from(["patient", "staff"])
    )


def set_messages() -> st.SearchStrategy[SetMessage]:
    return st.builds(SetMessage, at=st.just(0.0), text=messages())


def notices() -> st.SearchStrategy[Notice]:
    """Operator notices; one in five has a message over the 500-character limit."""
    text = st.one_of(messages(), messages(), messages(), messages(), st.just("x" * 501))
    return st.builds(
        Notice,
        id=st.sampled_from(["n1", "n2", "n3"]),
        kind=st.sampled_from(["interruption", "discontinuation"]),
        starts_at=st.floats(0, 2e9),
        ends_at=st.one_of(st.none(), st.floats(0, 2e9)),
        message=text,
        urgent=st.booleans(),
    )


def set_notices() -> st.SearchStrategy[SetNotices]:
    return st.builds(
        SetNotices, at=st.just(0.0), notices=st.lists(notices(), max_size=3).map(tuple)
    )


def set_suspendeds() -> st.SearchStrategy[SetSuspended]:
    return st.builds(SetSuspended, at=st.just(0.0), suspended=st.booleans())


def configures() -> st.SearchStrategy[Configure]:
    return st.builds(Configure, at=st.just(0.0), config=configs())
