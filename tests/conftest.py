"""Shared fixtures: a real Redis (embedded Valkey or JUNBAN_REDIS_URL) and real hub processes."""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from hub.auth import Tokens
from hub.embedded_redis import EmbeddedRedis, find_server_binary

SECRET = "junban-test-secret-0123456789abcdef0123"
TOKENS = Tokens(SECRET)
OPERATOR = {"Authorization": f"Bearer {TOKENS.issue('operator', subject='test-operator')}"}
OPEN_ALL_DAY = "00:00-24:00"


def staff_headers(facility: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS.issue('staff', subject='t', facility=facility)}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> int:
    """SIGTERM, then SIGKILL after ``timeout`` s; the exit code (a stopped one is left)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def short_tempdir() -> Path:
    """A temp dir short enough for a unix socket path."""
    return Path(tempfile.mkdtemp(prefix="jb", dir="/tmp"))


class HubProcess:
    """A real ``junban serve`` process on a free port."""

    def __init__(self, env: dict[str, str], data_dir: Path, args: tuple[str, ...] = ()) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.env = {
            **os.environ,
            "JUNBAN_SECRET": SECRET,
            "JUNBAN_DATA_DIR": str(data_dir),
            "JUNBAN_SERVICE_HOURS": OPEN_ALL_DAY,
            "JUNBAN_RATE_IP": "1000000/1",
            "JUNBAN_RATE_FACILITY": "1000000/1",
            # tests act as many clients through X-Forwarded-For (the hub trusts no proxy
            # unless told; tests/hostile/test_small_items.py checks that default)
            "JUNBAN_TRUSTED_PROXIES": "127.0.0.1",
            # integration endpoints on loopback (the test peers), retries 500 times sooner
            "JUNBAN_INTEGRATIONS_ALLOW_LOOPBACK": "1",
            "JUNBAN_RETRY_SCALE": "0.002",
            # the notify and phone groups send through what each hub is configured with
            # (SMTP, VAPID, its public URL): a test hub runs them only when its test says so,
            # or a hub without that configuration could take a facility's lease and serve it
            "JUNBAN_INLINE_WORKERS": "integrations",
            "JUNBAN_WORKER_GROUPS": "",  # in the hub's process: a test sees its runner's work
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data_dir / "hub.log"

    def start(self, timeout: float = 20.0) -> HubProcess:
        command = [sys.executable, "-m", "hub.cli", "serve", "--port", str(self.port), *self.args]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(command, env=self.env, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hub exited early:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(self.base_url + "/healthz", timeout=0.5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"hub did not start:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, 15)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real Redis for the whole run: JUNBAN_REDIS_URL, else a private embedded Valkey."""
    external = os.environ.get("JUNBAN_REDIS_URL")
    if external:
        yield external
        return
    data_dir = short_tempdir()
    server = EmbeddedRedis(data_dir, find_server_binary(os.environ.get("JUNBAN_REDIS_SERVER_BIN")))
    with server:
        yield server.url
    shutil.rmtree(data_dir, ignore_errors=True)


WITH_NOTIFY = {"JUNBAN_INLINE_WORKERS": "integrations,notify"}
"""A hub that also sends notifications (tests/notify, the patient push page)."""
WITH_PHONE = {"JUNBAN_INLINE_WORKERS": "integrations,phone"}
"""A hub that also places calls (tests/phone, the call history page)."""


def start_hub(redis_url: str, **env: str) -> HubProcess:
    return HubProcess({"JUNBAN_REDIS_URL": redis_url, **env}, short_tempdir()).start()


@pytest.fixture(scope="session")
def hub(redis_url: str) -> Iterator[HubProcess]:
    """The shared hub process (service hours all day, rate limits lifted)."""
    process = start_hub(redis_url)
    yield process
    process.stop()


@pytest.fixture
async def client(hub: HubProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=hub.base_url, timeout=20) as c:
        yield c


def new_facility_number() -> str:
    return str(random.randint(10_000_000, 99_999_999))


async def make_facility(
    client: httpx.AsyncClient, counters: tuple[str, ...] = ("01", "02"), *, open_all: bool = True
) -> str:
    """A fresh facility through the admin API, its counters open for desk and web tickets."""
    number = new_facility_number()
    body = {
        "number": number,
        "name": f"Clinic {number}",
        "address": "1-1 Test-cho",
        "hours": "9-18",
        "counters": {c: f"counter {c}" for c in counters},
    }
    response = await client.post("/v1/admin/facilities", json=body, headers=OPERATOR)
    assert response.status_code == 201, response.text
    if open_all:
        for counter in counters:
            for action in ("open", "web/open"):
                r = await client.post(
                    f"/v1/queues/{number}-{counter}/{action}", headers=staff_headers(number)
                )
                assert r.status_code == 200, r.text
    return number


@pytest.fixture
async def facility(client: httpx.AsyncClient) -> str:
    return await make_facility(client)


@pytest.fixture(scope="session")
def fuzz_hub(redis_url: str) -> Iterator[HubProcess]:
    """A hub for the frame fuzzer (its own process, so its connection count is its own)."""
    process = start_hub(redis_url)
    yield process
    process.stop()
