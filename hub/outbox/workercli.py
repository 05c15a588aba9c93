"""``junban worker <group>…``: only the outbox runner of those groups, for scale-out (the
hubs' Redis in JUNBAN_REDIS_URL), until SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

import uvloop

from hub.settings import Settings

log = logging.getLogger("junban")


def run(settings: Settings, groups: tuple[str, ...]) -> int:
    """``junban worker <group>…``: only the outbox runner of those groups, until SIGTERM."""
    if settings.redis_url is None:
        print("junban worker: needs JUNBAN_REDIS_URL (the hubs' Redis)", file=sys.stderr)
        return 2
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:  # as the web server
        return runner.run(_run(settings, groups))


async def _run(settings: Settings, groups: tuple[str, ...]) -> int:
    from hub.app import build_services

    services = build_services(settings)
    try:
        runner = services.outbox_runner(groups)
    except ValueError as exc:
        print(f"junban worker: {exc}", file=sys.stderr)
        await services.redis.aclose()
        return 2
    task = asyncio.create_task(runner.run(), name="outbox")
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, task.cancel)
    log.info("outbox worker %s serving %s", runner.consumer, ", ".join(groups))
    try:
        await task
    except asyncio.CancelledError:
        pass
    finally:
        await services.redis.aclose()
    log.info("outbox worker stopped")
    return 0
