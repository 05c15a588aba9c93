"""Start, watch and stop one ``junban serve --demo`` process for a benchmark.

The hub gets a fresh short temp data dir (its embedded Valkey's unix socket lives there),
a free port, a random secret (so the benchmark can mint tokens) and lifted rate limits.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from loadtest import rawhttp

CLK_TCK = os.sysconf("SC_CLK_TCK")
REPORTED_ENV = (
    "JUNBAN_RATE_IP",
    "JUNBAN_RATE_FACILITY",
    "JUNBAN_SERVICE_HOURS",
    "JUNBAN_REDIS_POOL",
)
"""The hub's environment the report shows (the secret and the temp dir are left out)."""
LIFTED_LIMITS = {
    "JUNBAN_RATE_IP": "1000000/1",
    "JUNBAN_RATE_FACILITY": "1000000/1",
    "JUNBAN_SERVICE_HOURS": "00:00-24:00",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cpu_seconds(pid: int, children: bool = False) -> float:
    """utime + stime of a process (+ cutime + cstime: its waited-for children, e.g. Valkey's
    AOF rewrite forks), from /proc/<pid>/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = [int(x) for x in stat[stat.rindex(")") + 2 :].split()[11:15]]
    return sum(fields if children else fields[:2]) / CLK_TCK


def junban_command() -> list[str]:
    script = Path(sys.executable).with_name("junban")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "hub.cli"]


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ")[-1][:1] != "Z"


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> int | str:
    """SIGTERM, then SIGKILL after ``timeout`` s: the exit code, or ``"killed"``."""
    if proc.poll() is not None:
        return proc.returncode
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
        return "killed"


@dataclass
class HubProcess:
    """One hub (``junban serve --demo``) with its embedded Valkey."""

    host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    data_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="jb", dir="/tmp")))
    redis_pool: int | None = None
    """None: the hub's default Redis pool size; N: ``JUNBAN_REDIS_POOL=N``."""
    extra_env: dict[str, str] = field(default_factory=dict)
    """More ``JUNBAN_*`` settings for this hub (e.g. lifted WebSocket limits)."""
    proc: subprocess.Popen[bytes] | None = None
    valkey_pid: int | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def redis_url(self) -> str:
        return f"unix://{self.data_dir / 'redis.sock'}"

    @property
    def redis_socket(self) -> Path:
        return self.data_dir / "redis.sock"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "hub.log"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("JUNBAN_")}
        env |= LIFTED_LIMITS | {"JUNBAN_DATA_DIR": str(self.data_dir), "JUNBAN_SECRET": self.secret}
        if self.redis_pool is not None:
            env["JUNBAN_REDIS_POOL"] = str(self.redis_pool)
        return env | self.extra_env

    def command(self) -> list[str]:
        return [*junban_command(), "serve", "--demo", "--host", self.host, "--port", str(self.port)]

    async def start(self, timeout: float = 60.0) -> None:
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                self.command(), env=self.env(), stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hub exited with {self.proc.returncode}:\n{self.log_tail()}")
            if await self._healthy():
                self.valkey_pid = self._read_valkey_pid()
                return
            await asyncio.sleep(0.1)
        raise RuntimeError(f"hub not healthy after {timeout:.0f} s:\n{self.log_tail()}")

    async def _healthy(self) -> bool:
        try:
            answer = await rawhttp.fetch(self.host, self.port, "GET", "/healthz")
        except OSError:
            return False
        return answer.status == 200

    def _read_valkey_pid(self) -> int | None:
        match = re.search(r"embedded Redis \(pid (\d+)\)", self.log_path.read_text())
        if match:
            return int(match.group(1))
        pidfile = self.data_dir / "redis.pid"
        return int(pidfile.read_text().strip()) if pidfile.exists() else None

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def log_warnings(self, top: int = 10) -> dict[str, int]:
        """WARNING/ERROR lines of the hub's log, counted by message (timestamps dropped)."""
        if not self.log_path.exists():
            return {}
        counts: dict[str, int] = {}
        for line in self.log_path.read_text(errors="replace").splitlines():
            match = re.match(r"^[\d-]+ [\d:,]+ (WARNING|ERROR|CRITICAL) (.*)$", line)
            if match:
                key = f"{match.group(1)} {match.group(2)[:200]}"
                counts[key] = counts.get(key, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: -kv[1])[:top])

    def stop(self, timeout: float = 20.0) -> dict[str, object]:
        """SIGTERM, then check the hub and its Valkey exited; what happened, for the report."""
        started = time.monotonic()
        code: int | None = None
        killed = False
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                code, killed = self.proc.wait(5), True
        valkey_gone = self.valkey_pid is None or _gone_within(self.valkey_pid, 10.0)
        return {
            "exit_code": code,
            "exited_after_s": round(time.monotonic() - started, 2),
            "needed_sigkill": killed,
            "valkey_exited": valkey_gone,
        }

    def remove_data(self) -> None:
        shutil.rmtree(self.data_dir, ignore_errors=True)


def _gone_within(pid: int, timeout: float) -> bool:
    """True once ``pid`` is gone (or a zombie); False if it still runs after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    return False


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text -> {'name{labels}': value} (comments dropped)."""
    values: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        values[name] = float(value)
    return values


async def scrape(hub: HubProcess) -> dict[str, float]:
    answer = await rawhttp.fetch(hub.host, hub.port, "GET", "/metrics")
    if answer.status != 200:
        raise RuntimeError(f"/metrics answered {answer.status}")
    return parse_metrics(answer.body.decode())
