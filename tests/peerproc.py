"""A test peer (a fake provider, a simulator) in its own process, on a free loopback port:
started and awaited through its ``/_health``, stopped on the way out."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Self

import httpx

from tests.conftest import free_port, stop_process

PEERS = Path(__file__).resolve().parent / "peers"


class PeerProcess:
    """Subclasses name their ``script`` (in tests/peers), a ``label`` for errors and the
    environment they need (``env``)."""

    script = ""
    label = "the peer"

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def env(self) -> dict[str, str]:
        return {}

    def start(self, timeout: float = 15.0) -> Self:
        command = [sys.executable, str(PEERS / self.script), "--port", str(self.port)]
        self.proc = subprocess.Popen(command, env={**os.environ, **self.env()})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.label} exited early")
            try:
                if httpx.get(self.url + "/_health", timeout=0.5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.label} did not start")

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
