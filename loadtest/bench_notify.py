"""Benchmark of patient notifications (issue 17's bars, design reaching-patients.md § Bar).

    python -m loadtest.bench_notify [--quick] [--only email,push,phone] [--patients N]
        [--facilities K] [--rate R] [--seconds S] [--wait-quiet N]

One hub (``junban serve --demo``, inline workers ``integrations,notify,phone``) with one queue
per facility (``--facilities``, default 1) holding ``--patients`` web tickets in all (default
1000), each subscribed by e-mail and/or Web Push with threshold 3 (and, for ``phone``, with a
JP mobile number of its own and phone consent). Staff then call next at a steady rate
(``--rate``, default 5 calls/s round robin over the queues, for ``--seconds``, default 20, or
until the queues are empty). Each call-next commits a ``called`` notification for the called
ticket and a ``near`` one for the ticket whose place falls to the threshold.

- ``email``: an SMTP server (aiosmtpd, its own process) logs the CLOCK_MONOTONIC time at
  which it accepted each mail (end of DATA) and its Message-ID, which the hub derives from
  (facility, ticket, trigger, n): the bench computes the same digest and knows which
  call-next caused each mail. Bar: p95 <= 2 s.
- ``push``: the local push service ``web-push-testing`` (Node, tests/peers) run through a
  small wrapper that logs the CLOCK_MONOTONIC time (``process.hrtime``) at which it accepted
  and decrypted each message (payload: trigger and number). Bar: p95 <= 1 s.
- ``phone``: the TwiML call simulator (tests/peers/call_simulator.py, its own process) as the
  provider ``sim`` of every facility (threshold 3, window 00:00-24:00, trigger ``near``
  only); the hub's public URL is its own address (the simulator posts signed status
  callbacks there). Arrival = the simulator's logged receipt of the ``Calls.json`` request
  (wall clock, moved to CLOCK_MONOTONIC by the bench). Bar: p95 <= 2 s. The hub places at
  most 2 calls at once per facility (a third is deferred 20 s): at 5 calls/s in one queue
  most ``near`` calls are deferred; ``--facilities 10`` spreads the same rate.

Latency = arrival at the peer - arrival of the call-next answer (200) that caused it, both
CLOCK_MONOTONIC on this machine (negative when the worker is faster than the answer's way
back). Sends/s = notifications arrived / (last arrival - first call sent).

Writes ``loadtest/results/notify-<timestamp>.{json,md}``. See loadtest/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import hashlib
import multiprocessing
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from hub import keys
from loadtest import cli, hubproc, rawhttp, report
from loadtest.bench_core import QUIET_PCT, Api
from loadtest.hubproc import HubProcess
from loadtest.loadgen import QueueTarget
from loadtest.probes import Probe, wait_quiet
from loadtest.stats import fmt_ms, percentile

CHANNELS = ("email", "push", "phone")
"""What ``--only`` chooses from."""
BARS_MS = {"email": 2000.0, "push": 1000.0, "phone": 2000.0}
TRIGGERS = {"email": ("near", "called"), "push": ("near", "called"), "phone": ("near",)}
"""The triggers each figure expects (the phone call-out is set to ``near`` only)."""
SIM_SCRIPT = Path(__file__).resolve().parents[1] / "tests/peers/call_simulator.py"
SIM_SID, SIM_TOKEN = "AC" + "5" * 32, "sim-auth-token-0123456789"
THRESHOLD = 3
MAIL_FROM = "notify@junban.example.jp"
VAPID_SUBJECT = "mailto:ops@junban.example"
PUSH_SRC = Path(__file__).resolve().parents[1] / "tests/peers/node_modules/web-push-testing/src"
HUB_ENV = {
    "JUNBAN_INTEGRATIONS_ALLOW_LOOPBACK": "1",
    "JUNBAN_INLINE_WORKERS": "integrations,notify,phone",  # inline, as when it was measured
    "JUNBAN_WORKER_GROUPS": "",
    "JUNBAN_MAIL_FROM": MAIL_FROM,
    "JUNBAN_VAPID_SUBJECT": VAPID_SUBJECT,
}
Result = dict[str, Any]


@dataclass(frozen=True)
class Params:
    """Everything that shapes the figures; the report prints it as is."""

    quick: bool = False
    patients: int = 1000
    facilities: int = 1
    rate: float = 5.0
    """Call-next per second, round robin over the queues (open loop)."""
    seconds: float = 20.0
    drain_timeout_s: float = 30.0
    """How long to wait after the last call for the last notification."""
    setup_connections: int = 8
    wait_quiet_s: float = 0.0
    only: tuple[str, ...] = CHANNELS

    @classmethod
    def quick_params(cls) -> Params:
        return cls(quick=True, patients=100, seconds=8.0, drain_timeout_s=15.0)


# ---- the peers, each in its own process ------------------------------------------------------


def _smtp_main(port: int, log_path: str) -> None:
    """An aiosmtpd server on ``port``: one JSON line per accepted mail, [monotonic, message
    id, subject], in ``log_path`` (runs in a spawned process until SIGTERM)."""
    import email
    import email.policy
    import threading

    from aiosmtpd.controller import Controller

    out = open(log_path, "ab", buffering=0)  # noqa: SIM115 (held until the process ends)

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            at = time.monotonic()
            content = envelope.original_content or envelope.content
            mail = email.message_from_bytes(content, policy=email.policy.default)
            line = [at, str(mail["Message-ID"] or ""), str(mail["Subject"] or "")]
            out.write(orjson.dumps(line) + b"\n")
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    controller.stop()


PUSH_WRAPPER = """
const [src, port, logPath] = process.argv.slice(1);
const fs = require('fs');
const TestingServer = require(src + '/server.js');
const {PushApiModel} = require(src + '/PushApiModel.js');
const model = new PushApiModel();
const log = fs.openSync(logPath, 'a');
const handle = model.handleNotification.bind(model);
model.handleNotification = async (clientHash, headers, body) => {
  const answer = await handle(clientHash, headers, body);
  const got = model.messages[clientHash];
  const at = Number(process.hrtime.bigint()) / 1e9;  // CLOCK_MONOTONIC (libuv)
  fs.writeSync(log, JSON.stringify([at, clientHash, got[got.length - 1]]) + '\\n');
  return answer;
};
new TestingServer(model, JSON.parse(port)).startServer();
"""


@dataclass
class Peer:
    """A receiver process that appends one JSON line per arrival to ``log_path``."""

    name: str
    log_path: Path
    port: int = field(default_factory=hubproc.free_port)
    pid: int = 0
    _stop: Callable[[], object] | None = None

    def arrivals(self) -> list[list[Any]]:
        if not self.log_path.exists():
            return []
        lines = self.log_path.read_bytes().splitlines()
        return [orjson.loads(line) for line in lines if line.strip()]

    def cpu_s(self) -> float:
        return hubproc.cpu_seconds(self.pid) if self.pid and hubproc.pid_alive(self.pid) else 0.0

    def stop(self) -> None:
        if self._stop is not None:
            self._stop()
            self._stop = None


async def _wait_port(port: int, alive: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError(f"{what} exited at start")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        return
    raise RuntimeError(f"{what} not listening after 30 s")


async def start_smtp(log_dir: Path) -> Peer:
    peer = Peer("smtp", log_dir / "smtp-arrivals.jsonl")
    context = multiprocessing.get_context("spawn")
    proc = context.Process(target=_smtp_main, args=(peer.port, str(peer.log_path)), daemon=True)
    proc.start()
    assert proc.pid is not None
    peer.pid = proc.pid

    def stop() -> None:
        if proc.is_alive():
            proc.terminate()
            proc.join(10)
        if proc.is_alive():
            proc.kill()
            proc.join(5)

    peer._stop = stop
    await _wait_port(peer.port, proc.is_alive, "the SMTP server")
    return peer


async def start_push(log_dir: Path) -> Peer:
    if not (PUSH_SRC / "server.js").is_file():
        raise RuntimeError("web-push-testing needs `npm ci --prefix tests/peers`")
    peer = Peer("push", log_dir / "push-arrivals.jsonl")
    command = ["node", "-e", PUSH_WRAPPER, str(PUSH_SRC), str(peer.port), str(peer.log_path)]
    with (log_dir / "push-service.log").open("wb") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    peer.pid = proc.pid
    peer._stop = functools.partial(hubproc.stop_process, proc)
    await _wait_port(peer.port, lambda: proc.poll() is None, "web-push-testing")
    return peer


async def start_simulator(log_dir: Path) -> Peer:
    """tests/peers/call_simulator.py (as tests/peerproc.py ``PeerProcess`` runs it). It logs
    each ``Calls.json`` request itself, with its wall-clock time (``GET /_control/log``)."""
    peer = Peer("phone", log_dir / "simulator-calls.jsonl")
    command = [sys.executable, str(SIM_SCRIPT), "--port", str(peer.port)]
    env = os.environ | {"SIM_ACCOUNT_SID": SIM_SID, "SIM_AUTH_TOKEN": SIM_TOKEN}
    with (log_dir / "simulator.log").open("wb") as log:
        proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    peer.pid = proc.pid
    peer._stop = functools.partial(hubproc.stop_process, proc)
    await _wait_port(peer.port, lambda: proc.poll() is None, "the call simulator")
    return peer


async def simulator_calls(peer: Peer) -> list[dict[str, Any]]:
    """The simulator's log of ``Calls.json`` requests (urllib: it answers HTTP/1.0)."""

    def get() -> list[dict[str, Any]]:
        url = f"http://127.0.0.1:{peer.port}/_control/log"
        with urllib.request.urlopen(url, timeout=10) as answer:
            calls: list[dict[str, Any]] = orjson.loads(answer.read())["calls"]
            return calls

    return await asyncio.to_thread(get)


# ---- setting up the queues -----------------------------------------------------------------


@dataclass
class Patient:
    queue: QueueTarget
    ticket: str
    token: str
    number: int
    near_done: bool = True
    """Within the threshold when subscribed (no ``near`` expected): the queue's order."""
    client_hash: str = ""
    phone: str = ""
    """E.164, when the ticket consents to calls."""


def facility_of(queue: QueueTarget) -> str:
    return queue.info.split("-")[0]


def message_id(facility: str, ticket: str, trigger: str, n: int = 0) -> str:
    """The Message-ID hub/notify/email.py gives this notification (domain left out)."""
    digest = hashlib.sha256(f"{facility}:{ticket}:{trigger}:{n}".encode()).hexdigest()[:32]
    return f"<{digest}@"


async def in_pool(jobs: list[Callable[[Api], Awaitable[None]]], hub: HubProcess, n: int) -> None:
    """Run ``jobs`` in order on ``n`` kept-alive connections."""
    work = iter(jobs)

    async def lane() -> None:
        api = Api(hub)
        try:
            for job in work:
                await job(api)
        finally:
            api.close()

    await asyncio.gather(*(lane() for _ in range(n)))


async def push_key(api: Api) -> str:
    answer = await api.expect(200, "GET", "/v1/push/key")
    return str(orjson.loads(answer.body)["key"])


async def setup_phone(api: Api, sim_port: int, queues: tuple[QueueTarget, ...]) -> None:
    """The provider ``sim`` (the simulator) and each facility's call-out settings."""
    provider = {
        "kind": "twiml",
        "base_url": f"http://127.0.0.1:{sim_port}",
        "account_sid": SIM_SID,
        "auth_token": SIM_TOKEN,
    }
    await api.expect(200, "PUT", "/v1/admin/phone/providers/sim", provider, api.operator)
    body = {
        "threshold": THRESHOLD,
        "window_from": "00:00",
        "window_to": "24:00",
        "provider": "sim",
        "caller": "03-1234-5678",
        "triggers": ["near"],
    }
    for q in queues:
        path = f"/v1/facilities/{facility_of(q)}/phone/settings"
        await api.expect(200, "PUT", path, body, q.staff_token)


async def setup(
    hub: HubProcess, api: Api, push: Peer | None, sim_port: int, p: Params
) -> dict[str, list[Patient]]:
    """The queues, full of subscribed web tickets: info -> patients in their order."""
    queues = await api.new_queues(p.facilities, 1)
    quiet = {"threshold_default": THRESHOLD, "quiet_from": "00:00", "quiet_to": "00:00"}
    for q in queues:
        path = f"/v1/facilities/{facility_of(q)}/notify/settings"
        await api.expect(200, "PUT", path, quiet, q.staff_token)
    if "phone" in p.only:
        await setup_phone(api, sim_port, queues)
    key = await push_key(api) if push is not None else ""
    patients: dict[str, list[Patient | None]] = {
        q.info: [None] * (p.patients // len(queues) + (i < p.patients % len(queues)))
        for i, q in enumerate(queues)
    }
    jobs: list[Callable[[Api], Awaitable[None]]] = []
    for q in queues:
        for index in range(len(patients[q.info])):
            serial = 10_000_000 + len(jobs)  # unique over the queues: the phone number
            jobs.append(_subscriber(q, index, serial, patients[q.info], key, push, p))
    await in_pool(jobs, hub, p.setup_connections)
    done = {info: [x for x in got if x is not None] for info, got in patients.items()}
    for info, got in done.items():  # the queue's order is the take order (the numbers)
        got.sort(key=lambda x: x.number)
        for ahead, x in enumerate(got):
            x.near_done = ahead <= THRESHOLD
        if len(got) != len(patients[info]):
            raise RuntimeError(f"{info}: {len(got)} of {len(patients[info])} tickets set up")
    return done


def _subscriber(
    q: QueueTarget,
    index: int,
    serial: int,
    out: list[Patient | None],
    key: str,
    push: Peer | None,
    p: Params,
) -> Callable[[Api], Awaitable[None]]:
    async def job(api: Api) -> None:
        take: dict[str, Any] = {"channel": "web"}
        if "phone" in p.only:  # a JP mobile number per ticket, consenting to calls
            take |= {"phone": f"090{serial:08d}", "phone_consent": True}
        path = f"/v1/queues/{q.info}/tickets"
        answer = await api.expect(201, "POST", path, take)
        taken = orjson.loads(answer.body)
        patient = Patient(q, taken["ticket"]["id"], taken["token"], taken["ticket"]["number"])
        if "phone" in p.only:
            patient.phone = f"+8190{serial:08d}"
        path = f"/v1/queues/{q.info}/tickets/{patient.ticket}/notifications"
        if "email" in p.only:
            body = {
                "channel": "email",
                "email": f"p{serial}@bench.example.jp",
                "threshold": THRESHOLD,
            }
            await api.expect(201, "POST", path, body, patient.token)
        if push is not None:
            sub_body = {"userVisibleOnly": "true", "applicationServerKey": key}
            got = await rawhttp.fetch(
                "127.0.0.1", push.port, "POST", "/subscribe", body=orjson.dumps(sub_body),
                headers={"Content-Type": "application/json"},
            )  # fmt: skip
            if got.status != 200:
                raise RuntimeError(f"push service /subscribe -> {got.status} {got.body[:200]!r}")
            sub = orjson.loads(got.body)["data"]
            patient.client_hash = sub["clientHash"]
            body = {
                "channel": "webpush",
                "subscription": {"endpoint": sub["endpoint"], "keys": sub["keys"]},
                "threshold": THRESHOLD,
            }
            await api.expect(201, "POST", path, body, patient.token)
        out[index] = patient

    return job


# ---- the calls ----------------------------------------------------------------------------


@dataclass
class Expected:
    """What each call-next answer should cause: (ticket, trigger) -> the answer's arrival."""

    cause: dict[tuple[str, str], float] = field(default_factory=dict)
    calls: int = 0
    empty: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    call_ms: list[float] = field(default_factory=list)
    first_sent: float = 0.0
    last_answer: float = 0.0


async def call_loop(hub: HubProcess, queues: dict[str, list[Patient]], p: Params) -> Expected:
    """Call next at ``p.rate`` (call ``i`` due at start + i / rate, queue ``i % K``) until
    ``p.seconds`` passed or every queue is empty. Each 200 answer, in arrival order, moves
    the bench's copy of the queue: its called ticket expects ``called``, and every waiting
    ticket not yet near whose place is now within the threshold expects ``near``."""
    exp = Expected()
    waiting = {info: list(ps) for info, ps in queues.items()}
    near_due = {x.ticket for ps in queues.values() for x in ps if not x.near_done}
    targets = [ps[0].queue for ps in queues.values()]
    host = f"{hub.host}:{hub.port}"
    requests = [
        rawhttp.build_request(
            "POST",
            f"/v1/queues/{q.info}/call-next",
            host=host,
            body=b"{}",
            headers={
                "Authorization": f"Bearer {q.staff_token}",
                "Content-Type": "application/json",
            },
        )
        for q in targets
    ]
    pool: asyncio.Queue[rawhttp.RawConnection] = asyncio.Queue()
    for _ in range(4):
        pool.put_nowait(await rawhttp.connect(hub.host, hub.port))

    def moved(info: str, called: str, at: float) -> None:
        exp.cause[(called, "called")] = at
        line = waiting[info]
        waiting[info] = line = [x for x in line if x.ticket != called]
        for ahead, x in enumerate(line):
            if ahead > THRESHOLD:
                break
            if x.ticket in near_due:
                near_due.discard(x.ticket)
                exp.cause[(x.ticket, "near")] = at

    async def one(i: int, due: float) -> None:
        conn = await pool.get()
        q = targets[i % len(targets)]
        try:
            answer = await conn.request(requests[i % len(requests)])
        except (OSError, rawhttp.HttpError) as exc:
            exp.errors[type(exc).__name__] = exp.errors.get(type(exc).__name__, 0) + 1
            conn = await rawhttp.connect(hub.host, hub.port)
        else:
            exp.call_ms.append((answer.at - due) * 1000)
            exp.last_answer = max(exp.last_answer, answer.at)
            if answer.status == 200:
                exp.calls += 1
                moved(q.info, orjson.loads(answer.body)["called"]["id"], answer.at)
            elif answer.status == 409:
                exp.empty += 1
            else:
                key = f"{answer.status} {answer.body[:80]!r}"
                exp.errors[key] = exp.errors.get(key, 0) + 1
        pool.put_nowait(conn)

    count = max(1, round(p.rate * p.seconds))
    start = time.perf_counter() + 0.05
    exp.first_sent = start
    tasks = []
    for i in range(count):
        if not any(waiting.values()):
            break
        due = start + i / p.rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    while not pool.empty():
        pool.get_nowait().close()
    return exp


# ---- matching arrivals to causes -----------------------------------------------------------


def pcts(values: list[float]) -> dict[str, float]:
    """count, p50, p95, p99, max, min (ms)."""
    ordered = sorted(values)
    nan = float("nan")
    return {
        "count": len(ordered),
        "p50_ms": round(percentile(ordered, 50), 2),
        "p95_ms": round(percentile(ordered, 95), 2),
        "p99_ms": round(percentile(ordered, 99), 2),
        "max_ms": round(ordered[-1], 2) if ordered else nan,
        "min_ms": round(ordered[0], 2) if ordered else nan,
    }


def email_arrivals(peer: Peer, patients: list[Patient]) -> dict[tuple[str, str], list[float]]:
    """(ticket, trigger) -> arrival times of its notification mails (confirmations and mails
    of other triggers are left out)."""
    ids = {}
    for x in patients:
        for trigger in ("near", "called"):
            ids[message_id(facility_of(x.queue), x.ticket, trigger)] = (x.ticket, trigger)
    found: dict[tuple[str, str], list[float]] = {}
    for at, mid, _subject in peer.arrivals():
        key = ids.get(str(mid).split("@")[0] + "@")
        if key is not None:
            found.setdefault(key, []).append(float(at))
    return found


def push_arrivals(peer: Peer, patients: list[Patient]) -> dict[tuple[str, str], list[float]]:
    by_hash = {x.client_hash: x.ticket for x in patients if x.client_hash}
    found: dict[tuple[str, str], list[float]] = {}
    for at, client_hash, payload in peer.arrivals():
        ticket = by_hash.get(client_hash)
        if ticket is None:
            continue
        trigger = str(orjson.loads(payload).get("trigger"))
        found.setdefault((ticket, trigger), []).append(float(at))
    return found


async def phone_arrivals(peer: Peer, patients: list[Patient]) -> dict[tuple[str, str], list[float]]:
    """(ticket, "near") -> the simulator's receipt of each ``Calls.json`` request to its
    number, moved from the wall clock the simulator logs to CLOCK_MONOTONIC."""
    by_phone = {x.phone: x.ticket for x in patients if x.phone}
    offset = time.time() - time.perf_counter()
    found: dict[tuple[str, str], list[float]] = {}
    for call in await simulator_calls(peer):
        ticket = by_phone.get(str(call.get("to")))
        if ticket is not None:
            found.setdefault((ticket, "near"), []).append(float(call["at"]) - offset)
    return found


def expected_of(exp: Expected, name: str) -> dict[tuple[str, str], float]:
    return {k: at for k, at in exp.cause.items() if k[1] in TRIGGERS[name]}


def figures(exp: Expected, name: str, arrived: dict[tuple[str, str], list[float]]) -> Result:
    expected = expected_of(exp, name)
    delays = {"near": [], "called": []}  # type: dict[str, list[float]]
    for key, at in expected.items():
        if key in arrived:
            delays[key[1]].append((arrived[key][0] - at) * 1000)
    everything = delays["near"] + delays["called"]
    unexpected = sorted(k for k in arrived if k not in expected)
    times = [t for k, ts in arrived.items() if k in expected for t in ts]
    bar_ms = BARS_MS[name]
    out: Result = {
        "expected": len(expected),
        "arrived": len(everything),
        "repeated": sum(len(ts) - 1 for k, ts in arrived.items() if k in expected),
        "unexpected": len(unexpected),
        "unexpected_sample": [list(k) for k in unexpected[:5]],
        "latency": pcts(everything),
        "latency_near": pcts(delays["near"]),
        "latency_called": pcts(delays["called"]),
        "bar_p95_ms": bar_ms,
    }
    complete = len(everything) == len(expected) > 0  # a missing one fails the bar
    out["meets_bar"] = complete and out["latency"]["p95_ms"] <= bar_ms
    if times:
        span = max(times) - exp.first_sent
        out["sends_per_s"] = round(len(times) / span, 1) if span > 0 else None
        out["last_arrival_after_first_call_s"] = round(span, 2)
    return out


async def drain(
    exp: Expected, peers: dict[str, Peer], patients: list[Patient], deadline: float
) -> dict[str, dict[tuple[str, str], list[float]]]:
    readers = {"email": email_arrivals, "push": push_arrivals}
    while True:
        got: dict[str, dict[tuple[str, str], list[float]]] = {}
        for name, peer in peers.items():
            if name == "phone":
                got[name] = await phone_arrivals(peer, patients)
            else:
                got[name] = readers[name](peer, patients)
        complete = all(all(k in got[n] for k in expected_of(exp, n)) for n in got)
        if complete or time.monotonic() > deadline:
            return got
        await asyncio.sleep(0.25)


async def phone_state(probe: Probe, queues: dict[str, list[Patient]]) -> dict[str, int]:
    """Summed over the facilities: the call history stream's records (one per state change
    of a call), calls in progress, and calls deferred (``busy``: two calls at once already)
    still pending."""
    out = {"call_stream_records": 0, "active": 0, "pending": 0}
    for ps in queues.values():
        f = facility_of(ps[0].queue)
        out["call_stream_records"] += int(await probe.redis.xlen(keys.calls(f)))
        out["active"] += int(await probe.redis.zcard(keys.call_active(f)))
        out["pending"] += int(await probe.redis.zcard(keys.phone_pending(f)))
    return out


# ---- the run ------------------------------------------------------------------------------

_log = cli.logger("bench_notify")


async def measure(hub: HubProcess, peers: dict[str, Peer], p: Params, results: Result) -> None:
    api, probe = Api(hub), Probe(hub)
    try:
        started = time.monotonic()
        sim_port = peers["phone"].port if "phone" in peers else 0
        queues = await setup(hub, api, peers.get("push"), sim_port, p)
        patients = [x for ps in queues.values() for x in ps]
        results["setup_s"] = round(time.monotonic() - started, 1)
        _log(f"{len(patients)} patients subscribed in {results['setup_s']} s; settling")
        await asyncio.sleep(1.0)  # the confirmation mails of the last subscriptions
        before = await probe.snapshot()
        peer_cpu0 = {name: peer.cpu_s() for name, peer in peers.items()}
        _log(f"call-next at {p.rate}/s for up to {p.seconds} s")
        exp = await call_loop(hub, queues, p)
        _log(f"{exp.calls} calls answered; waiting for {len(exp.cause)} (ticket, trigger)")
        got = await drain(exp, peers, patients, time.monotonic() + p.drain_timeout_s)
        window = probe.between(before, await probe.snapshot())
        cpu = window.cpu()
        for name, peer in peers.items():
            cpu[f"{name}_peer_cpu_pct"] = window.pct(peer.cpu_s() - peer_cpu0[name])
        results["calls"] = {
            "answered_200": exp.calls,
            "queue_empty_409": exp.empty,
            "errors": exp.errors,
            "call_next_ms": pcts(exp.call_ms),
            "expected_called": sum(1 for k in exp.cause if k[1] == "called"),
            "expected_near": sum(1 for k in exp.cause if k[1] == "near"),
        }
        for name, found in got.items():
            results[name] = figures(exp, name, found)
        if "phone" in results:
            results["phone"]["hub_state"] = await phone_state(probe, queues)
            if results["phone"]["arrived"] < results["phone"]["expected"]:
                results["phone"]["note"] = (
                    f"{p.rate / p.facilities:g} calls/s per facility; hub state after the "
                    f"drain {results['phone']['hub_state']}"
                )
        results["cpu"] = cpu
        sent = sum(results[name]["arrived"] for name in got)
        if sent:  # the hub's CPU over the window (call-next handling included) per arrival
            results["hub_cpu_ms_per_notification"] = round(window.hub_s * 1000 / sent, 2)
        last = [t for name, found in got.items() for k, ts in found.items()
                if k in expected_of(exp, name) for t in ts]  # fmt: skip
        if last and max(last) > exp.first_sent:
            results["sends_per_s_all"] = round(len(last) / (max(last) - exp.first_sent), 1)
        results["other_processes"] = window.others
    finally:
        api.close()
        await probe.close()


async def main_async(params: Params, keep_data: bool) -> Result:
    busy = await wait_quiet(QUIET_PCT, params.wait_quiet_s)
    hub = HubProcess()
    results: Result = {
        "started": datetime.now().astimezone().isoformat(timespec="seconds"),
        "params": asdict(params),
        "machine": report.machine_info() | {"busy_before_run_pct": busy},
    }
    peers: dict[str, Peer] = {}
    task = asyncio.current_task()
    if task is not None:  # SIGTERM (e.g. from `timeout`): stop the hub and the peers first
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        env = dict(HUB_ENV)
        if "email" in params.only:
            peers["email"] = await start_smtp(hub.data_dir)
            env["JUNBAN_SMTP_URL"] = f"smtp://127.0.0.1:{peers['email'].port}"
        else:
            env.pop("JUNBAN_MAIL_FROM")
        if "push" in params.only:
            peers["push"] = await start_push(hub.data_dir)
        if "phone" in params.only:  # status callbacks come back to the hub's own address
            peers["phone"] = await start_simulator(hub.data_dir)
            env["JUNBAN_PUBLIC_URL"] = f"http://{hub.host}:{hub.port}"
        hub.extra_env = env
        results["hub"] = {"command": " ".join(hub.command()), "env": env}
        results["peers"] = {name: {"pid": x.pid, "port": x.port} for name, x in peers.items()}
        _log(f"starting the hub on port {hub.port}, data dir {hub.data_dir}")
        await hub.start()
        results["hub"] |= {"pid": hub.pid, "valkey_pid": hub.valkey_pid}
        results["software"] = await report.software_info(hub)
        await measure(hub, peers, params, results)
        missing = [n for n in params.only if not results.get(n, {}).get("arrived")]
        if missing:
            results["error"] = f"nothing arrived for {', '.join(missing)}"
    except (Exception, asyncio.CancelledError) as exc:
        results["error"] = f"{type(exc).__name__}: {exc}"
        _log(f"FAILED: {results['error']}\n{hub.log_tail()}")
    finally:
        for peer in peers.values():
            peer.stop()
        if hub.proc is not None:
            cli.stop_hub(hub, results, keep_data, _log)
        elif not keep_data:
            hub.remove_data()
        cli.write_results("notify", results, render, _log)
    return results


# ---- the report -----------------------------------------------------------------------------


def _row(*cells: Any) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _lat(s: dict[str, float]) -> str:
    return " / ".join(fmt_ms(s[k]) for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms"))


TITLES = {
    "email": "call-next answered → e-mail accepted by the SMTP server",
    "push": "call-next answered → Web Push received by the push service",
    "phone": "call-next answered (near trigger) → Calls.json request at the call simulator",
}


def _bar(f: Result) -> str:
    verdict = "met" if f["meets_bar"] else "NOT met"
    if f["arrived"] < f["expected"]:
        verdict += f" ({f['expected'] - f['arrived']} missing)"
    return f"p95 ≤ {fmt_ms(f['bar_p95_ms'])} ms: {verdict}"


def _notes(name: str, f: Result) -> str:
    notes = [f"{t} {_lat(f['latency_' + t])}" for t in TRIGGERS[name] if len(TRIGGERS[name]) > 1]
    notes.append(f"min {fmt_ms(f['latency']['min_ms'])}")
    notes.append(f"repeated {f['repeated']}, unexpected {f['unexpected']}")
    if f.get("note"):
        notes.append(str(f["note"]))
    return "; ".join(notes)


def render(results: Result) -> str:
    m, p = results["machine"], results["params"]
    calls, hub = results.get("calls", {}), results.get("hub", {})
    out = [
        f"# Notifications benchmark — {results['started']}",
        "",
        f"- machine: {m['nproc']} CPUs, {m['cpu_model']}, Python {m['python']}; busy before "
        f"the run {m.get('busy_before_run_pct')} % (100 = one core). Hub (with its inline "
        "notify worker), Valkey, SMTP server, push service and bench share it.",
        f"- code: git {results.get('software', {}).get('git_commit', '?')}",
        f"- hub: `{hub.get('command')}` with {hub.get('env')}",
        f"- load: {p['patients']} subscribed patients in {p['facilities']} queue(s), threshold "
        f"{THRESHOLD}, call-next at {p['rate']}/s for up to {p['seconds']} s; "
        f"{calls.get('answered_200', '–')} calls answered, call-next p50/p95/p99/max "
        f"{_lat(calls['call_next_ms']) if calls else '–'} ms; setup {results.get('setup_s')} s",
        "",
        "| figure | arrived | p50 / p95 / p99 / max ms | bar | sends/s | notes |",
        "|---|---|---|---|---|---|",
    ]
    for name in CHANNELS:
        f = results.get(name)
        if not f:
            continue
        out.append(
            _row(
                TITLES[name],
                f"{f['arrived']} of {f['expected']}",
                _lat(f["latency"]),
                _bar(f),
                f.get("sends_per_s", "–"),
                _notes(name, f),
            )
        )
    if "cpu" in results:
        out += ["", f"- CPU % during the calls and the drain: {results['cpu']}"]
        out += [
            f"- the hub's sends/s, all channels (arrivals / first call to last arrival): "
            f"{results.get('sends_per_s_all', '–')}",
            f"- hub CPU per notification (call-next handling included): "
            f"{results.get('hub_cpu_ms_per_notification', '–')} ms",
        ]
    if "error" in results:
        out += ["", f"**FAILED**: {results['error']}"]
    out += [
        "",
        "Latency: from the call-next answer's arrival at the bench to the notification's "
        "arrival at the peer (both CLOCK_MONOTONIC on this machine). Sends/s: notifications "
        "arrived over the time from the first call to the last arrival (one hub process "
        "with its inline notify worker). Figures taken while other processes run (see "
        "`other_processes` in the JSON) are disturbed.",
        "",
    ]
    return "\n".join(out)


def parse_args(argv: list[str] | None = None) -> tuple[Params, argparse.Namespace]:
    parser = cli.new_parser("python -m loadtest.bench_notify", __doc__)
    add = parser.add_argument
    add("--quick", action="store_true", help="100 patients, 8 s (a smoke run)")
    add("--only", help=f"comma-separated subset of {','.join(CHANNELS)}")
    add("--patients", type=int, help="subscribed tickets in all (default 1000)")
    add("--facilities", type=int, help="facilities, one queue each (default 1)")
    add("--rate", type=float, help="call-next per second (default 5)")
    add("--seconds", type=float, help="how long to call (default 20)")
    add("--drain-timeout", type=float, help="wait after the last call (default 30 s)")
    add("--wait-quiet", type=float, help="before the run wait up to N s for an idle machine")
    add("--keep-data", action="store_true", help="keep the hub's temp data dir")
    args = parser.parse_args(argv)
    params = Params.quick_params() if args.quick else Params()
    overrides: dict[str, Any] = {
        "patients": args.patients,
        "facilities": args.facilities,
        "rate": args.rate,
        "seconds": args.seconds,
        "drain_timeout_s": args.drain_timeout,
        "wait_quiet_s": args.wait_quiet,
    }
    return cli.apply_overrides(parser, params, overrides, args.only, CHANNELS), args


def main(argv: list[str] | None = None) -> int:
    return cli.run(parse_args, main_async, argv)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
