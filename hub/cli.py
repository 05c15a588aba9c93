"""``junban serve | token``: the command line, the only place flags meet settings."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import signal
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn

from hub import __version__, usercli
from hub.auth import ROLES, Tokens, load_secret
from hub.channels.protocol import MAX_FRAME_BYTES
from hub.embedded_redis import EmbeddedRedis, EmbeddedRedisError, find_server_binary
from hub.outbox import workercli
from hub.outbox.child import WorkerChild
from hub.queue.store import OUTBOX_GROUPS
from hub.settings import Settings

if TYPE_CHECKING:
    from hub.app import Services

log = logging.getLogger("junban")

DEMO_FACILITY = "1234"
DEMO_USER, DEMO_PASSWORD = "demo-staff", "junban-demo"


def parse_ttl(text: str) -> int:
    """``"8h"`` -> 28800; accepts s, m, h, d suffixes or plain seconds."""
    match = re.fullmatch(r"(\d+)([smhd]?)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 90s, 30m, 8h, 2d)")
    unit = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    return int(match.group(1)) * unit


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="junban", description="Junban clinic queue hub")
    parser.add_argument("--version", action="version", version=f"junban {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the hub (embedded Redis unless REDIS_URL)")
    serve.add_argument("--demo", action="store_true", help="seed facility 1234 and open it")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--data-dir", type=Path)
    token = commands.add_parser("token", help="print a signed token")
    token.add_argument("--role", required=True, choices=ROLES)
    token.add_argument("--facility")
    token.add_argument("--ttl", type=parse_ttl, default=8 * 3600)
    token.add_argument("--subject", default="cli")
    _contracts_parser(commands)
    worker = commands.add_parser(
        "worker", help="run outbox consumer groups only (needs JUNBAN_REDIS_URL)"
    )
    worker.add_argument("groups", nargs="+", help="e.g. integrations")
    usercli.add_parser(commands)
    return parser


def _contracts_parser(commands: Any) -> None:
    """``junban contracts ...``: the operator's contract API over HTTP (a running hub)."""
    contracts = commands.add_parser("contracts", help="operator: contracts of a running hub")
    contracts.add_argument("--url", help="the hub (default http://HOST:PORT from JUNBAN_*)")
    sub = contracts.add_subparsers(dest="action", required=True)
    listing = sub.add_parser("list", help="every contract")
    listing.add_argument("--status")
    listing.add_argument("--facility")
    sub.add_parser("show", help="one contract").add_argument("id")
    apply = sub.add_parser("apply", help="record an application")
    apply.add_argument("--applicant", required=True)
    apply.add_argument("--items", default="reservation", help="comma separated")
    apply.add_argument("--options", default="", help="comma separated: emr,phone,api")
    apply.add_argument("--fee", action="append", default=[], help="part=yen per month")
    apply.add_argument("--initial-fee", type=int, default=0)
    apply.add_argument("--minimum-term-months", type=int, default=0)
    approve = sub.add_parser("approve", help="assign numbers, create the facility")
    approve.add_argument("id")
    approve.add_argument("--name", required=True)
    approve.add_argument("--facility")
    approve.add_argument("--counter", action="append", default=[], help="01=label")
    approve.add_argument("--start-date")
    suspend = sub.add_parser("suspend", help="suspend (Art. 12)")
    suspend.add_argument("id")
    suspend.add_argument("--reason", required=True)
    sub.add_parser("resume", help="resume").add_argument("id")
    cancel = sub.add_parser("cancel", help="cancel (Art. 15, 16)")
    cancel.add_argument("id")
    cancel.add_argument("--by", required=True, choices=("operator", "customer", "interruption"))
    cancel.add_argument("--on")
    cancel.add_argument("--designated-month")
    cancel.add_argument("--interruption")
    invoice = sub.add_parser("invoice", help="a monthly invoice")
    invoice.add_argument("id")
    invoice.add_argument("month", help="YYYY-MM")
    invoice.add_argument("--csv", action="store_true")


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    # one INFO line per outbound request (webhooks, EMR) would flood the log: failures are
    # in the delivery log, and what goes wrong on the wire is logged at WARNING
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except ValueError as exc:
        print(f"junban: {exc}", file=sys.stderr)
        return 2
    if getattr(args, "data_dir", None):
        settings = replace(settings, data_dir=args.data_dir)
    if args.command == "token":
        return _token(settings, args)
    if args.command == "contracts":
        return _contracts(settings, args)
    if args.command == "users":
        return usercli.run(settings, args)
    if args.command == "worker":
        return workercli.run(settings, tuple(args.groups))
    return _serve(settings, args)


def _contract_request(args: argparse.Namespace) -> tuple[str, str, dict[str, Any] | None]:
    """(method, path, body) of one ``junban contracts`` action."""
    base = "/v1/admin/contracts"
    one = f"{base}/{getattr(args, 'id', '')}"

    def pairs(items: list[str]) -> dict[str, str]:
        return dict(item.split("=", 1) for item in items)

    def clean(body: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in body.items() if v is not None}

    if args.action == "list":
        query = urllib.parse.urlencode(clean({"status": args.status, "facility": args.facility}))
        return "GET", base + (f"?{query}" if query else ""), None
    if args.action == "show":
        return "GET", one, None
    if args.action == "apply":
        items, options = args.items.split(","), [o for o in args.options.split(",") if o]
        fees = {part: int(yen) for part, yen in pairs(args.fee).items()}
        body = {
            "applicant": args.applicant,
            "items": items,
            "options": options,
            "fees": {"initial_fee": args.initial_fee, "monthly": fees},
            "minimum_term_months": args.minimum_term_months,
        }
        return "POST", base, body
    if args.action == "approve":
        counters = pairs(args.counter) or {"01": ""}
        body = clean(
            {
                "name": args.name,
                "facility": args.facility,
                "counters": counters,
                "start_date": args.start_date,
            }
        )
        return "POST", one + "/approve", body
    if args.action == "suspend":
        return "POST", one + "/suspend", {"reason": args.reason}
    if args.action == "resume":
        return "POST", one + "/resume", None
    if args.action == "cancel":
        body = clean(
            {
                "by": args.by,
                "on": args.on,
                "designated_month": args.designated_month,
                "interruption": args.interruption,
            }
        )
        return "POST", one + "/cancel", body
    suffix = "?format=csv" if args.csv else ""
    return "GET", f"{one}/invoices/{args.month}{suffix}", None


def _contracts(settings: Settings, args: argparse.Namespace) -> int:
    """Call the running hub's operator API with an operator token signed here."""
    try:
        method, path, body = _contract_request(args)
    except ValueError as exc:
        print(f"junban contracts: {exc} (use part=yen, 01=label)", file=sys.stderr)
        return 2
    base = args.url or settings.public_url or f"http://{settings.host}:{settings.port}"
    token = Tokens(load_secret(settings.secret, settings.data_dir)).issue(
        "operator", subject="cli", ttl_s=300
    )
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        base.rstrip("/") + path,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            text, ok = answer.read().decode(), True
    except urllib.error.HTTPError as exc:
        text, ok = exc.read().decode(), False
    except OSError as exc:
        print(f"junban contracts: cannot reach {base}: {exc}", file=sys.stderr)
        return 1
    if text.lstrip().startswith("{"):
        text = json.dumps(json.loads(text), ensure_ascii=False, indent=2)
    print(text, file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


def _token(settings: Settings, args: argparse.Namespace) -> int:
    if args.role != "operator" and not args.facility:
        print(f"junban token: a {args.role} token needs --facility", file=sys.stderr)
        return 2
    tokens = Tokens(load_secret(settings.secret, settings.data_dir))
    print(tokens.issue(args.role, subject=args.subject, facility=args.facility, ttl_s=args.ttl))
    return 0


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    settings = replace(settings, host=args.host or settings.host, port=args.port or settings.port)
    unknown = sorted(set(settings.worker_groups) - set(OUTBOX_GROUPS))
    if unknown:
        known = ", ".join(OUTBOX_GROUPS)
        print(
            f"junban serve: JUNBAN_WORKER_GROUPS: no group {unknown[0]!r} ({known})",
            file=sys.stderr,
        )
        return 2
    embedded: EmbeddedRedis | None = None
    if settings.redis_url is None:
        try:
            binary = find_server_binary(settings.redis_server_bin)
            embedded = EmbeddedRedis(settings.data_dir, binary)
            embedded.start()
        except EmbeddedRedisError as exc:
            print(f"junban serve: {exc}", file=sys.stderr)
            return 1
        embedded.supervise(lambda message: log.warning("embedded redis: %s", message))
        settings = replace(settings, redis_url=embedded.url)
        log.info("embedded Redis (pid %s) on %s", embedded.pid, embedded.url)
    secret = load_secret(settings.secret, settings.data_dir)
    settings = replace(settings, secret=secret)
    # uvicorn re-raises the SIGTERM it caught once it has shut down; without a handler of
    # ours that would end the process before the embedded Redis is stopped below.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    child = WorkerChild(settings.worker_groups) if settings.worker_groups else None
    try:
        if args.demo:
            asyncio.run(_seed_demo(settings))
        _export(settings)
        if child is not None:
            child.start()
        _run_uvicorn(settings, args.workers)
    finally:
        if child is not None:
            child.stop()  # before Redis: it gives its leases back
        if embedded is not None:
            embedded.stop()
    return 0


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _export(settings: Settings) -> None:
    """What the web server's processes (``hub.app.app_from_env``) and the outbox worker
    build their settings from: the environment."""
    assert settings.redis_url is not None and settings.secret is not None
    os.environ["JUNBAN_REDIS_URL"] = settings.redis_url
    os.environ["JUNBAN_SECRET"] = settings.secret
    os.environ["JUNBAN_DATA_DIR"] = str(settings.data_dir)
    # ... and the protocol of each web server process reads its head limits from there too
    os.environ["JUNBAN_MAX_HEADER"] = str(settings.header_max_bytes)
    os.environ["JUNBAN_HEADER_TIMEOUT"] = str(settings.header_timeout_s)


def _run_uvicorn(settings: Settings, workers: int) -> None:
    uvicorn.run(
        "hub.app:app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        loop="uvloop",
        http="hub.web.httpprotocol:HubHttpProtocol",  # httptools, head size and time bounded
        proxy_headers=True,
        forwarded_allow_ips=settings.trusted_proxies,
        access_log=False,
        timeout_graceful_shutdown=5,
        ws="hub.channels.wsprotocol:HubWebSocketProtocol",
        ws_max_size=MAX_FRAME_BYTES,
        ws_ping_interval=settings.ws_ping_s,
        ws_ping_timeout=20.0,
        ws_per_message_deflate=False,
    )


async def _seed_demo_contract(services: Services, now: float) -> None:
    """An active contract for 1234 with every item and option, started today."""
    from hub.contracts import lifecycle
    from hub.contracts.model import OPTIONS, SERVICE_ITEMS, FeePlan
    from hub.contracts.store import ContractRecord, new_contract_id
    from hub.contracts.sync import today

    if await services.contract_store.by_facility(DEMO_FACILITY) is not None:
        return
    fees = FeePlan(
        30_000, {"reservation": 9_800, "video": 5_000, "emr": 3_000, "phone": 3_000, "api": 2_000}
    )
    day = today(now)
    applied = lifecycle.apply(new_contract_id(), "Demo Clinic", SERVICE_ITEMS, fees, day, OPTIONS)
    contract = lifecycle.approve(applied, DEMO_FACILITY, ("01", "02"), day)
    record = ContractRecord(contract=contract, created_at=datetime.fromtimestamp(now, UTC))
    if await services.contract_store.create(record, now):
        await services.sync.run(record, now)


async def _seed_demo(settings: Settings) -> None:
    from hub.analytics.demo import seed_history
    from hub.app import build_services
    from hub.booking.demo import configure_demo
    from hub.queue.calendar import business_day
    from hub.queue.facilities import Facility
    from hub.queue.model import OpenReception, OpenWeb, QueueConfig

    services = build_services(settings)
    now = time.time()
    try:
        if await services.facility_store.get(DEMO_FACILITY) is None:
            facility = Facility(
                number=DEMO_FACILITY,
                name="Demo Clinic",
                address="1-2-3 Shibuya, Tokyo",
                hours="Mon–Fri 9:00–12:00 / 15:00–18:00, Sat 9:00–12:00",
                message="本日は通常どおり診療しています。",
                counters={"01": "内科", "02": "小児科"},
            )
            await services.queue_service.create_facility(facility, QueueConfig(), now)
            await services.queue_service.set_message(facility, facility.message, now)
            await configure_demo(services, f"{DEMO_FACILITY}-02", now)  # 小児科: bookings
        await _seed_demo_contract(services, now)
        if await services.users.get(DEMO_USER) is None:
            await services.users.add(
                DEMO_USER, DEMO_PASSWORD, "staff", DEMO_FACILITY, admin=True
            )  # the clinic's admin: the staff page /console/1234/staff works too
        for counter in ("01", "02"):
            info = f"{DEMO_FACILITY}-{counter}"
            await services.queue_service.execute(info, OpenReception(at=now), lambda s: None)
            await services.queue_service.execute(info, OpenWeb(at=now), lambda s: None)
            today = business_day(now, "Asia/Tokyo")  # made-up past days for the analytics page
            await seed_history(services.redis, info, 90, today)
        token = services.tokens.issue("staff", subject=DEMO_USER, facility=DEMO_FACILITY)
        monitor = services.tokens.issue(
            "monitor", subject="demo-monitor", facility=DEMO_FACILITY, ttl_s=30 * 86400
        )
    finally:
        await services.redis.aclose()
    base = f"http://{settings.host}:{settings.port}"
    print(
        '\nJunban demo is ready: facility 1234 "Demo Clinic", counters 01 and 02, open.\n'
        f"  patient page   {base}/q/1234-01\n"
        f"  staff console  {base}/console/1234   (user {DEMO_USER!r}, password {DEMO_PASSWORD!r})\n"
        f"  settings       {base}/console/1234/settings\n"
        f"  staff accounts {base}/console/1234/staff   (the demo user is the clinic's admin)\n"
        f"  integrations   {base}/console/1234/integrations   (webhooks, EMR, API keys)\n"
        f"  call history   {base}/console/1234/calls   (phone call-out option)\n"
        f"  analytics      {base}/console/1234/analytics   (90 made-up past days)\n"
        f"  bookings       {base}/console/1234/bookings   (time bands on counter 02: /q/1234-02)\n"
        f"  monitor (TV)   {base}/monitor/1234#token={monitor}\n"
        f"  kiosk          {base}/kiosk/1234   (pair it with a code from the console)\n"
        f"  QR poster      {base}/poster/1234\n"
        f'  partner widget <script src="{base}/widget.js" data-info="1234-01" async></script>\n'
        f"  queue view     {base}/v1/queues/1234-01\n"
        f"  take a ticket  curl -X POST {base}/v1/queues/1234-01/tickets\n"
        f"  facility       {base}/v1/facilities/1234\n"
        f"  API            {base}/openapi.json\n"
        f"  staff token    {token}\n",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
