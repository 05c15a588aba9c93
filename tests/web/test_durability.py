"""`junban serve` on its embedded Redis: acknowledged commands survive a kill -9 of Redis."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx

from tests.conftest import HubProcess, short_tempdir, staff_headers


def redis_pid(data_dir: Path) -> int:
    return int((data_dir / "redis.pid").read_text().strip())


def wait_for(predicate: object, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():  # type: ignore[operator]
                return
        except (httpx.HTTPError, OSError, ValueError):
            pass
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


def test_acknowledged_tickets_survive_redis_kill_9() -> None:
    env = {"JUNBAN_REDIS_URL": ""}  # no URL: junban serve starts its own embedded Valkey
    hub = HubProcess(env, short_tempdir(), args=("--demo",)).start()
    try:
        with httpx.Client(base_url=hub.base_url, timeout=10) as client:
            numbers = [
                client.post("/v1/queues/1234-01/tickets").json()["ticket"]["number"]
                for _ in range(20)
            ]
            called = client.post("/v1/queues/1234-01/call-next", headers=staff_headers("1234"))
            assert called.status_code == 200
            before = client.get("/v1/queues/1234-01").json()
            old_pid = redis_pid(hub.data_dir)
            os.kill(old_pid, signal.SIGKILL)
            wait_for(
                lambda: (
                    redis_pid(hub.data_dir) != old_pid and client.get("/readyz").status_code == 200
                )
            )
            after = client.get("/v1/queues/1234-01").json()
            assert after == before
            assert after["last_number"] == max(numbers) == 20
            assert after["calling"] == [{"number": 1, "room": "1", "recalls": 0}]
            wait_for(lambda: client.post("/v1/queues/1234-01/tickets").status_code == 201)
            assert client.get("/v1/queues/1234-01").json()["last_number"] == 21
    finally:
        hub.stop()
    assert not (hub.data_dir / "redis.sock").exists()


def test_second_serve_on_same_data_dir_says_why() -> None:
    data_dir = short_tempdir()
    first = HubProcess({"JUNBAN_REDIS_URL": ""}, data_dir).start()
    try:
        second = HubProcess({"JUNBAN_REDIS_URL": ""}, data_dir)
        try:
            second.start(timeout=10)
            raise AssertionError("a second serve on the same data dir must not start")
        except RuntimeError as exc:
            assert "already using" in str(exc)
        with httpx.Client(base_url=first.base_url) as client:
            assert client.get("/readyz").status_code == 200
    finally:
        first.stop()
