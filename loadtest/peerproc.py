"""The fan-out peers of bench_fanout: a Node ``ws`` broadcaster, a Node socket.io server and
a python-socketio server.

Benchmark-only dependencies go to the git-ignored ``loadtest/.peers/`` (``npm install
--prefix .peers/node ws@8 socket.io@4 redis@4``; ``pip install --target .peers/py --no-deps
python-socketio python-engineio bidict``), never into the product's environment. All three
servers subscribe to one Redis pub/sub channel of the hub's Valkey and send every message to
every client (see loadtest/peers/*).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from loadtest.hubproc import free_port

PeerKind = Literal["node-ws", "node-socketio", "python-socketio"]
HERE = Path(__file__).resolve().parent
PEERS = HERE / ".peers"
NODE_DIR = PEERS / "node"
PY_DIR = PEERS / "py"
NODE_PACKAGES = ("ws@8", "socket.io@4", "redis@4")
NODE_SCRIPTS = {"node-ws": "broadcast.js", "node-socketio": "socketio.js"}
PY_PACKAGES = ("python-socketio", "python-engineio", "bidict")


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout[-800:]}{done.stderr[-800:]}")


def install(kind: PeerKind) -> None:
    """Install the peer's dependencies into loadtest/.peers/ (once)."""
    if kind in NODE_SCRIPTS:
        modules = NODE_DIR / "node_modules"
        if not all((modules / name.rsplit("@", 1)[0]).exists() for name in NODE_PACKAGES):
            npm = shutil.which("npm")
            if npm is None:
                raise RuntimeError("npm not found")
            NODE_DIR.mkdir(parents=True, exist_ok=True)
            _run([npm, "install", "--prefix", str(NODE_DIR), *NODE_PACKAGES, "--no-audit",
                  "--no-fund", "--loglevel=error"])  # fmt: skip
    elif not (PY_DIR / "socketio").exists():
        PY_DIR.mkdir(parents=True, exist_ok=True)
        pip = [sys.executable, "-m", "pip", "install", "-q", "--target", str(PY_DIR), "--no-deps"]
        _run([*pip, *PY_PACKAGES])


def versions(kind: PeerKind) -> dict[str, str]:
    """Versions of what the peer runs on."""
    if kind in NODE_SCRIPTS:
        node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout
        out = {"node": node.strip()}
        for name in ("ws", "socket.io", "redis") if kind == "node-socketio" else ("ws", "redis"):
            package = NODE_DIR / "node_modules" / name / "package.json"
            if package.exists():
                import json

                out[name] = json.loads(package.read_text())["version"]
        return out
    found = {}
    for dist in PY_DIR.glob("*.dist-info"):
        name, _, version = dist.name.removesuffix(".dist-info").rpartition("-")
        found[name] = version
    return found


@dataclass
class PeerProcess:
    kind: PeerKind
    redis_socket: Path
    channel: str
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def path(self) -> str:
        """The WebSocket path the swarm connects to."""
        return "/" if self.kind == "node-ws" else "/socket.io/?EIO=4&transport=websocket"

    @property
    def mode(self) -> str:
        """How the swarm talks to it (``wsswarm.Mode``)."""
        return "plain" if self.kind == "node-ws" else "socketio"

    def command(self) -> tuple[list[str], dict[str, str]]:
        env = dict(os.environ)
        if self.kind in NODE_SCRIPTS:
            env |= {
                "PORT": str(self.port),
                "REDIS_SOCK": str(self.redis_socket),
                "CHANNEL": self.channel,
                "NODE_PATH": str(NODE_DIR / "node_modules"),
            }
            return ["node", str(HERE / "peers" / NODE_SCRIPTS[self.kind])], env
        env["PYTHONPATH"] = str(PY_DIR)
        script = str(HERE / "peers" / "sio_server.py")
        return [sys.executable, script, str(self.port), str(self.redis_socket), self.channel], env

    async def start(self, timeout: float = 30.0) -> None:
        install(self.kind)
        self.port = self.port or free_port()
        command, env = self.command()
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if b"ready" in self.log_path.read_bytes():
                return
            if self.proc.poll() is not None:
                break
            await asyncio.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.kind} did not start: {self.log_tail()}")

    @property
    def log_path(self) -> Path:
        return self.redis_socket.parent / f"{self.kind}.log"

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-800:] if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
