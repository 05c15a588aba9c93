"""``junban serve | token``: the command line, the only place flags meet settings."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path

import uvicorn

from hub.auth import ROLES, Tokens, load_secret
from hub.channels.protocol import MAX_FRAME_BYTES
from hub.embedded_redis import EmbeddedRedis, EmbeddedRedisError, find_server_binary
from hub.settings import Settings

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
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except ValueError as exc:
        print(f"junban: a JUNBAN_* setting is not valid: {exc}", file=sys.stderr)
        return 2
    if getattr(args, "data_dir", None):
        settings = replace(settings, data_dir=args.data_dir)
    if args.command == "token":
        return _token(settings, args)
    return _serve(settings, args)


def _token(settings: Settings, args: argparse.Namespace) -> int:
    if args.role != "operator" and not args.facility:
        print(f"junban token: a {args.role} token needs --facility", file=sys.stderr)
        return 2
    tokens = Tokens(load_secret(settings.secret, settings.data_dir))
    print(tokens.issue(args.role, subject=args.subject, facility=args.facility, ttl_s=args.ttl))
    return 0


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    settings = replace(settings, host=args.host or settings.host, port=args.port or settings.port)
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
    try:
        if args.demo:
            asyncio.run(_seed_demo(settings))
        _run_uvicorn(settings, args.workers)
    finally:
        if embedded is not None:
            embedded.stop()
    return 0


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _run_uvicorn(settings: Settings, workers: int) -> None:
    assert settings.redis_url is not None and settings.secret is not None
    # worker processes build their app from the environment (hub.app.app_from_env)
    os.environ["JUNBAN_REDIS_URL"] = settings.redis_url
    os.environ["JUNBAN_SECRET"] = settings.secret
    os.environ["JUNBAN_DATA_DIR"] = str(settings.data_dir)
    uvicorn.run(
        "hub.app:app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        loop="uvloop",
        http="httptools",
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


async def _seed_demo(settings: Settings) -> None:
    from hub.app import build_hub
    from hub.queue.facilities import Facility
    from hub.queue.model import OpenReception, OpenWeb, QueueConfig

    hub = build_hub(settings)
    now = time.time()
    try:
        if await hub.facilities.get(DEMO_FACILITY) is None:
            facility = Facility(
                number=DEMO_FACILITY,
                name="Demo Clinic",
                address="1-2-3 Shibuya, Tokyo",
                hours="Mon–Fri 9:00–12:00 / 15:00–18:00, Sat 9:00–12:00",
                message="本日は通常どおり診療しています。",
                counters={"01": "内科", "02": "小児科"},
            )
            await hub.service.create_facility(facility, QueueConfig(), now)
            await hub.service.set_message(facility, facility.message, now)
        if await hub.users.get(DEMO_USER) is None:
            await hub.users.add(DEMO_USER, DEMO_PASSWORD, "staff", DEMO_FACILITY)
        for counter in ("01", "02"):
            info = f"{DEMO_FACILITY}-{counter}"
            await hub.service.execute(info, OpenReception(at=now), lambda s: None)
            await hub.service.execute(info, OpenWeb(at=now), lambda s: None)
        token = hub.tokens.issue("staff", subject=DEMO_USER, facility=DEMO_FACILITY)
    finally:
        await hub.redis.aclose()
    base = f"http://{settings.host}:{settings.port}"
    print(
        '\nJunban demo is ready: facility 1234 "Demo Clinic", counters 01 and 02, open.\n'
        f"  queue view     {base}/v1/queues/1234-01\n"
        f"  take a ticket  curl -X POST {base}/v1/queues/1234-01/tickets\n"
        f"  facility       {base}/v1/facilities/1234\n"
        f"  API            {base}/openapi.json\n"
        f"  staff login    user {DEMO_USER!r}, password {DEMO_PASSWORD!r}\n"
        f"  staff token    {token}\n",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
