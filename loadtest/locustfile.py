"""A clinic morning for Locust: the 07:30:00 opening rush, staff calling, phones and monitors.

    python -m loadtest.clinic_morning            # starts a hub, runs this headless, checks
    locust -f loadtest/locustfile.py --host http://127.0.0.1:8000 --jb-secret "$JUNBAN_SECRET"

At the test's start the facilities are created through the admin API (an operator token is
minted from the hub's secret), every counter's reception opened and its web reception
*closed*. ``--jb-opening-after`` seconds later (every user spawned, every watcher connected)
web reception opens on every counter at once: that moment is "07:30:00". Then:

- ``Patient``: takes a web ticket the instant reception opens (the rush), then one every
  0.5-1.5 s ("ticket issue" latency is Locust's request time). Each number answered is
  registered: a number given twice in one queue is a **duplicate**.
- ``Staff``: each owns a share of the counters and calls the next patient on each every
  ``--jb-service-s`` seconds, starting ``--jb-call-after`` s after the opening. Each called
  number must be higher than the one before on that counter (first come, first served).
- ``Phone`` (``queue:{info}``) and ``Monitor`` (``facility:{facility}``, one per facility):
  WebSocket watchers (websocket-client, gevent-friendly). Every state they get is checked:
  versions only grow within an epoch, no number twice in ``waiting``, no number called twice.
  A newly called number gives **call-to-screen**: staff request written -> watcher's receipt
  (custom request type ``WS``).

In headless runs with ``--run-time`` the last ``--jb-drain-s`` seconds issue no commands, so
every watcher must end holding its queue's final ``(epoch, v)`` (**dropped** otherwise); and
every ticket answered and not called must still be waiting, in order (**lost place**). Any
violation is a failed ``CHECK`` request and makes Locust exit with 1. ``--jb-results PATH``
writes the checks and the custom latencies as JSON. The hub needs its limits lifted
(``JUNBAN_RATE_IP``, ``JUNBAN_RATE_FACILITY``, ``JUNBAN_SERVICE_HOURS=00:00-24:00``,
``JUNBAN_WS_MAX_PER_IP``): see loadtest/README.md.
"""

from __future__ import annotations

import itertools
import json
import random
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent
import requests
import websocket
from gevent.event import Event
from gevent.pool import Pool
from locust import User, events, task
from locust.contrib.fasthttp import FastHttpUser
from locust.env import Environment

from hub.auth import Tokens
from loadtest.stats import latency_summary

MAX_EXAMPLES = 20


@dataclass
class Morning:
    """What every user of this process shares, reset at each test start."""

    infos: list[str] = field(default_factory=list)
    staff: dict[str, str] = field(default_factory=dict)
    """facility -> staff token"""
    opened: Event = field(default_factory=Event)
    opened_at: float = 0.0
    stop_at: float | None = None
    """Monotonic end of the run (headless ``--run-time``), None in the web UI."""
    drain_s: float = 5.0
    staff_ids: itertools.count[int] = field(default_factory=itertools.count)
    monitor_ids: itertools.count[int] = field(default_factory=itertools.count)
    issued: defaultdict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    called: defaultdict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    call_sent: dict[str, float] = field(default_factory=dict)
    watchers: list[WsWatcher] = field(default_factory=list)
    violations: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    examples: list[str] = field(default_factory=list)
    call_to_screen: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    issue_ms: list[float] = field(default_factory=list)
    counts: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    checks: dict[str, Any] = field(default_factory=dict)

    def violation(self, kind: str, detail: str) -> None:
        self.violations[kind] += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(f"{kind}: {detail}")
        fire(
            request_type="CHECK", name=kind, response_time=0, response_length=0,
            exception=AssertionError(detail), context={},
        )  # fmt: skip

    def quiet(self) -> bool:
        """True in the drain phase at the end of a headless run: issue no more commands."""
        return self.stop_at is not None and time.monotonic() > self.stop_at - self.drain_s


M = Morning()


def fire(**request: Any) -> None:
    """A custom request event (Locust's statistics and failure counts)."""
    events.request.fire(**request)  # type: ignore[no-untyped-call]


def options(environment: Environment) -> Any:
    """The parsed command line (with the ``--jb-*`` options above)."""
    assert environment.parsed_options is not None
    return environment.parsed_options


# ---- options and setup ---------------------------------------------------------------------


@events.init_command_line_parser.add_listener  # type: ignore[untyped-decorator]
def _options(parser: Any) -> None:
    add = parser.add_argument
    add("--jb-secret", env_var="JUNBAN_SECRET", default="", help="the hub's JUNBAN_SECRET")
    add("--jb-facilities", type=int, default=200, help="facilities to create")
    add("--jb-counters", type=int, default=2, help="counters per facility")
    add("--jb-first-facility", type=int, default=200000, help="number of the first facility")
    add("--jb-patients", type=int, default=100, help="Patient users")
    add("--jb-phones", type=int, default=100, help="Phone watcher users (queue channel)")
    add("--jb-staff", type=int, default=20, help="Staff users (counters shared among them)")
    add("--jb-opening-after", type=float, default=15.0, help="s from start to web opening")
    add("--jb-call-after", type=float, default=5.0, help="s after the opening staff start")
    add("--jb-service-s", type=float, default=20.0, help="s between calls on one counter")
    add("--jb-drain-s", type=float, default=5.0, help="quiet s at the end (headless)")
    add("--jb-results", default="", help="write the checks and latencies to this JSON file")


@events.init.add_listener  # type: ignore[untyped-decorator]
def _init(environment: Environment, **_: Any) -> None:
    o = environment.parsed_options
    if o is None:
        return
    Patient.fixed_count = o.jb_patients
    Phone.fixed_count = o.jb_phones
    Monitor.fixed_count = o.jb_facilities
    Staff.fixed_count = o.jb_staff


class Admin:
    """Blocking admin/staff calls for the setup and the final checks (gevent-patched)."""

    def __init__(self, host: str, secret: str) -> None:
        self.host, self.tokens = host.rstrip("/"), Tokens(secret)
        self.http = requests.Session()
        self.operator = self.tokens.issue("operator", subject="locust")

    def post(self, path: str, token: str, body: Any = None, ok: tuple[int, ...] = (200,)) -> Any:
        answer = self.http.post(
            self.host + path, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        if answer.status_code not in ok:
            raise RuntimeError(f"POST {path} -> {answer.status_code} {answer.text[:200]}")
        return answer

    def view(self, info: str) -> dict[str, Any]:
        answer = self.http.get(f"{self.host}/v1/queues/{info}", timeout=30)
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        return result


@events.test_start.add_listener  # type: ignore[untyped-decorator]
def _test_start(environment: Environment, **_: Any) -> None:
    global M
    o = options(environment)
    M = Morning()
    M.drain_s = o.jb_drain_s
    if o.run_time:
        M.stop_at = time.monotonic() + o.run_time
    admin = Admin(environment.host or "", o.jb_secret)
    counters = {f"{c:02d}": "" for c in range(1, o.jb_counters + 1)}
    facilities = [str(o.jb_first_facility + i) for i in range(o.jb_facilities)]

    def seed(number: str) -> None:
        body = {"number": number, "name": f"Clinic {number}", "counters": counters}
        admin.post("/v1/admin/facilities", admin.operator, body, ok=(201, 409))
        M.staff[number] = staff = admin.tokens.issue("staff", subject="locust", facility=number)
        for counter in counters:
            admin.post(f"/v1/queues/{number}-{counter}/open", staff)
            admin.post(f"/v1/queues/{number}-{counter}/web/close", staff)

    Pool(20).map(seed, facilities)
    M.infos = [f"{f}-{c}" for f in facilities for c in counters]
    gevent.spawn_later(o.jb_opening_after, _open_web, admin)


def _open_web(admin: Admin) -> None:
    """07:30:00: web reception opens on every counter at once; then the rush is let go."""
    started = time.monotonic()

    def open_one(info: str) -> None:
        admin.post(f"/v1/queues/{info}/web/open", M.staff[info.split("-")[0]])

    Pool(100).map(open_one, M.infos)
    M.opened_at = time.monotonic()
    M.counts["web_open_all_ms"] = round((M.opened_at - started) * 1000)
    M.opened.set()


# ---- HTTP users ----------------------------------------------------------------------------


class Patient(FastHttpUser):
    """A stream of web patients: the first presses "take a ticket" at the opening."""

    def wait_time(self) -> float:
        return random.uniform(0.5, 1.5)

    @task
    def take_ticket(self) -> None:
        M.opened.wait()
        if M.quiet():
            return
        info = random.choice(M.infos)
        headers = {"Idempotency-Key": uuid.uuid4().hex}
        started = time.monotonic()
        with self.client.post(
            f"/v1/queues/{info}/tickets", headers=headers, name="ticket issue",
            catch_response=True,
        ) as answer:  # fmt: skip
            if answer.status_code != 201:
                answer.failure(f"{answer.status_code} {(answer.text or '')[:120]}")
                return
            M.issue_ms.append((time.monotonic() - started) * 1000)
            number = int(answer.json()["ticket"]["number"])
        if number in M.issued[info]:
            M.violation("duplicate ticket number", f"{info} number {number} given twice")
        M.issued[info].add(number)


class Staff(FastHttpUser):
    """Calls the next patient on its counters, each every ``--jb-service-s`` seconds."""

    def on_start(self) -> None:
        o = options(self.environment)
        me, share = next(M.staff_ids) % o.jb_staff, o.jb_staff
        self.mine = M.infos[me::share]
        self.gap = o.jb_service_s / max(len(self.mine), 1)
        self.call_after = o.jb_call_after

    def wait_time(self) -> float:
        gap: float = self.gap
        return gap

    @task
    def call_next(self) -> None:
        M.opened.wait()
        gevent.sleep(max(0.0, M.opened_at + self.call_after - time.monotonic()))
        if M.quiet() or not self.mine:
            return
        info = self.mine[0]
        self.mine.append(self.mine.pop(0))
        token = M.staff[info.split("-")[0]]
        M.call_sent[info] = time.monotonic()
        with self.client.post(
            f"/v1/queues/{info}/call-next", json={"room": "1"}, name="call next",
            headers={"Authorization": f"Bearer {token}"}, catch_response=True,
        ) as answer:  # fmt: skip
            if answer.status_code == 409 and b"queue_empty" in (answer.content or b""):
                M.counts["call_next_empty"] += 1
                answer.success()
                return
            if answer.status_code != 200:
                answer.failure(f"{answer.status_code} {(answer.text or '')[:120]}")
                return
            number = int(answer.json()["called"]["number"])
        called = M.called[info]
        if called and number <= called[-1]:
            M.violation("called out of order", f"{info}: {number} after {called[-1]}")
        called.append(number)


# ---- WebSocket users -----------------------------------------------------------------------


@dataclass
class Held:
    """What one watcher holds of one queue."""

    epoch: str = ""
    v: int = -1
    calling: frozenset[int] = frozenset()
    ever_called: set[int] = field(default_factory=set)


class WsWatcher(User):
    """One WebSocket holding one subscription, checking every state it is sent."""

    abstract = True
    kind = "watcher"

    def channel(self) -> str:
        raise NotImplementedError

    def on_start(self) -> None:
        self.held: dict[str, Held] = {}
        url = (self.environment.host or "").replace("http", "ws", 1).rstrip("/") + "/v1/ws"
        started = time.monotonic()
        self.ws = websocket.create_connection(url, subprotocols=["junban.json"], timeout=30)
        self.ws.settimeout(None)
        self.ws.send(json.dumps({"op": "sub", "ch": self.channel()}))
        fire(
            request_type="WS", name=f"connect+sub ({self.kind})",
            response_time=(time.monotonic() - started) * 1000, response_length=0,
            exception=None, context={},
        )  # fmt: skip
        M.watchers.append(self)

    def on_stop(self) -> None:
        self.ws.close()  # it stays in M.watchers: the final check reads what it held

    @task
    def receive(self) -> None:
        while True:
            raw = self.ws.recv()
            now = time.monotonic()
            frame = json.loads(raw)
            if frame.get("op") == "state":
                self.state(frame, now, len(raw))
            elif frame.get("op") == "error":
                M.violation("error frame", str(frame)[:200])

    def state(self, frame: dict[str, Any], now: float, size: int) -> None:
        data = frame["data"]
        info = data["info"]
        held = self.held.setdefault(info, Held())
        epoch, v = frame["epoch"], int(frame["v"])
        if epoch == held.epoch and v <= held.v:
            M.violation("version did not grow", f"{self.kind} {info}: v {v} after {held.v}")
            return
        if epoch != held.epoch:
            held.ever_called.clear()
        waiting = data.get("waiting") or []
        if len(set(waiting)) != len(waiting):
            M.violation("number twice in waiting", f"{info} v {v}: {waiting}")
        calling = frozenset(int(c["number"]) for c in data.get("calling") or [])
        new = calling - held.calling if held.v >= 0 else frozenset()
        for number in new:
            if number in held.ever_called:
                M.violation("number called twice", f"{self.kind} {info}: {number}")
            sent = M.call_sent.get(info)
            if sent is not None:
                ms = (now - sent) * 1000
                M.call_to_screen[self.kind].append(ms)
                fire(
                    request_type="WS", name=f"call-to-screen ({self.kind})", response_time=ms,
                    response_length=size, exception=None, context={},
                )  # fmt: skip
        held.ever_called |= calling
        held.epoch, held.v, held.calling = epoch, v, calling


class Phone(WsWatcher):
    """A patient's phone watching one queue."""

    kind = "phone"

    def channel(self) -> str:
        return f"queue:{random.choice(M.infos)}"


class Monitor(WsWatcher):
    """A waiting-room monitor: every counter of one facility."""

    kind = "monitor"

    def channel(self) -> str:
        facilities = sorted({info.split("-")[0] for info in M.infos})
        return f"facility:{facilities[next(M.monitor_ids) % len(facilities)]}"


# ---- the final checks ----------------------------------------------------------------------


@events.test_stop.add_listener  # type: ignore[untyped-decorator]
def _test_stop(environment: Environment, **_: Any) -> None:
    if not M.infos or not M.opened.is_set():
        return
    admin = Admin(environment.host or "", options(environment).jb_secret)
    views = dict(zip(M.infos, Pool(20).map(admin.view, M.infos), strict=True))
    lost = unanswered = 0
    for info, view in views.items():
        waiting = [int(n) for n in view.get("waiting") or []]
        calling = {int(c["number"]) for c in view.get("calling") or []}
        if waiting != sorted(waiting):
            M.violation("waiting out of order", f"{info}: {waiting}")
        missing = M.issued[info] - set(M.called[info]) - set(waiting) - calling
        lost += len(missing)
        if missing:
            M.violation("lost place", f"{info}: numbers {sorted(missing)[:10]} not waiting")
        unanswered += len(set(waiting) - M.issued[info])
    stale = 0
    if M.stop_at is not None:
        for watcher in list(M.watchers):
            if not watcher.held:
                stale += 1
                M.violation("dropped: watcher got no state", f"{watcher.kind}")
            for info, held in watcher.held.items():
                latest = (views[info]["epoch"], int(views[info]["v"]))
                if (held.epoch, held.v) != latest:
                    stale += 1
                    detail = f"{watcher.kind} {info}: holds v {held.v}, latest {latest[1]}"
                    M.violation("dropped: watcher missed the latest state", detail)
    M.checks = {
        "queues_checked": len(views),
        "tickets_answered": sum(len(s) for s in M.issued.values()),
        "calls_answered": sum(len(c) for c in M.called.values()),
        "lost_place": lost,
        "waiting_not_answered": unanswered,
        "watchers_checked": len(M.watchers) if M.stop_at is not None else None,
        "watchers_stale": stale,
    }
    _write_results(environment)


def _write_results(environment: Environment) -> None:
    path = options(environment).jb_results
    if not path:
        return
    out = {
        "checks": M.checks,
        "violations": dict(M.violations),
        "violation_examples": M.examples,
        "counts": dict(M.counts),
        "call_to_screen_ms": {k: latency_summary(v) for k, v in M.call_to_screen.items()},
        "ticket_issue_ms": latency_summary(M.issue_ms),
        "queues": len(M.infos),
    }
    Path(path).write_text(json.dumps(out, indent=2) + "\n")


@events.quitting.add_listener  # type: ignore[untyped-decorator]
def _quitting(environment: Environment, **_: Any) -> None:
    if M.violations:
        environment.process_exit_code = 1
