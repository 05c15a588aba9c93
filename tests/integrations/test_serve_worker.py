"""``junban serve`` runs the outbox groups in a child ``junban worker`` process beside its web
server (JUNBAN_WORKER_GROUPS, hub/outbox/child.py): webhooks go out from it, a child killed
with -9 is started again and loses nothing, and the child ends with the hub. A hub of its
own (its embedded Valkey), so no other runner serves its facilities."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from hub.embedded_redis import pdeathsig_preexec
from tests.conftest import HubProcess, make_facility, short_tempdir
from tests.integrations.test_webhooks import (  # noqa: F401 (receiver: the fixture)
    Receiver,
    add_hook,
    receiver,
    take,
    unique_name,
    until,
)


def workers_of(pid: int) -> list[int]:
    """The ``… -m hub worker …`` children of process ``pid`` (alive, not zombies)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if int(stat[1]) == pid and stat[0] != "Z" and b"worker" in argv:
            found.append(int(entry.name))
    return found


async def received(peer: Receiver, name: str, count: int) -> bool:
    await asyncio.sleep(0)
    return len(peer.log(name)["received"]) >= count


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_the_child_dies_with_its_parent_thread() -> None:
    assert pdeathsig_preexec() is not None  # Linux: the worker gets SIGTERM if the hub dies


async def test_serve_sends_webhooks_from_a_child_worker_it_restarts(
    receiver: Receiver,  # noqa: F811 (the fixture imported above)
) -> None:
    env = {"JUNBAN_REDIS_URL": "", "JUNBAN_INLINE_WORKERS": "",
           "JUNBAN_WORKER_GROUPS": "integrations",
           "JUNBAN_OUTBOX_LEASE_MS": "2000", "JUNBAN_OUTBOX_IDLE_MS": "2000"}  # fmt: skip
    hub = HubProcess(env, short_tempdir()).start()
    assert hub.proc is not None
    try:
        [first] = await until(lambda: asyncio.sleep(0, workers_of(hub.proc.pid)))  # type: ignore[union-attr]
        async with httpx.AsyncClient(base_url=hub.base_url, timeout=20) as client:
            facility = await make_facility(client, ("01",))
            name = unique_name()
            await add_hook(client, receiver, facility, name)
            await take(client, facility)
            await until(lambda: received(receiver, name, 1))
            os.kill(first, signal.SIGKILL)
            await take(client, facility)  # committed while no worker runs: it waits
            [second] = await until(
                lambda: asyncio.sleep(0, [p for p in workers_of(hub.proc.pid) if p != first])  # type: ignore[union-attr]
            )
            await until(lambda: received(receiver, name, 2), 20)  # once the lease lapses
            await take(client, facility)
            await until(lambda: received(receiver, name, 3))
        log = receiver.log(name)
        assert len(log["received"]) == 3
        assert second != first
    finally:
        hub.stop()
    deadline = time.monotonic() + 5
    while alive(second) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert not alive(second)  # stopped with the hub


def test_serve_refuses_an_unknown_worker_group() -> None:
    env = {**os.environ, "JUNBAN_WORKER_GROUPS": "integrations,bogus",
           "JUNBAN_DATA_DIR": str(short_tempdir())}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "hub", "serve", "--port", "1"],
        env=env, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 2
    assert "JUNBAN_WORKER_GROUPS: no group 'bogus'" in done.stderr
