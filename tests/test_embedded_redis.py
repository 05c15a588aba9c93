"""The embedded valkey-server, against the real binary (no mocks)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from hub.embedded_redis import EmbeddedRedis, EmbeddedRedisError, find_server_binary


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    """A fresh data dir whose socket path is short enough for a unix socket."""
    if len(str(tmp_path / "redis.sock")) < 90:
        yield tmp_path
        return
    short = Path(tempfile.mkdtemp(prefix="jb"))
    try:
        yield short
    finally:
        shutil.rmtree(short, ignore_errors=True)


@pytest.fixture
def servers() -> Iterator[list[EmbeddedRedis]]:
    """Servers registered here are stopped after the test even if it fails."""
    started: list[EmbeddedRedis] = []
    yield started
    for server in started:
        server.stop()


def client_for(server: EmbeddedRedis) -> redis.Redis:
    return redis.Redis.from_url(server.url, socket_timeout=2, protocol=3)


def pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def test_start_ping_stop(data_dir: Path, servers: list[EmbeddedRedis]) -> None:
    server = EmbeddedRedis(data_dir)
    servers.append(server)
    server.start()
    assert server.url == f"unix://{data_dir.absolute()}/redis.sock"
    assert server.socket_path == data_dir.absolute() / "redis.sock"
    assert server.is_running()
    pid = server.pid
    assert pid is not None
    client = client_for(server)
    try:
        assert client.ping() is True
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("port") == {"port": "0"}
    finally:
        client.close()
    assert (data_dir / "junban.lock").read_text().strip() == str(os.getpid())

    server.stop()
    assert not server.is_running()
    assert server.pid is None
    assert pid_gone(pid)
    assert not server.socket_path.exists()
    server.stop()  # idempotent


def test_context_manager_and_mode(data_dir: Path) -> None:
    target = data_dir / "fresh" / "data"
    with EmbeddedRedis(target) as server:
        assert client_for(server).ping() is True
        assert (target.stat().st_mode & 0o777) == 0o700
    assert not server.is_running()
    assert not server.socket_path.exists()


def test_acknowledged_writes_survive_sigkill(data_dir: Path, servers: list[EmbeddedRedis]) -> None:
    server = EmbeddedRedis(data_dir)
    servers.append(server)
    server.start()
    client = client_for(server)
    client.set("visit:1", "waiting")
    for n in range(50):
        client.set(f"k:{n}", n)
    entry_id = client.xadd("events", {"type": "joined", "ticket": "A-001"})
    client.close()
    old_pid = server.pid
    assert old_pid is not None

    server.kill()
    assert not server.is_running()
    assert pid_gone(old_pid)
    assert server.socket_path.exists()  # left behind by the SIGKILL

    server.start()
    assert server.pid not in (None, old_pid)
    client = client_for(server)
    try:
        assert client.get("visit:1") == b"waiting"
        assert client.get("k:49") == b"49"
        entries = client.xrange("events")
        assert entries is not None
        assert [e[0] for e in entries] == [entry_id]
        assert entries[0][1] == {b"type": b"joined", b"ticket": b"A-001"}
    finally:
        client.close()


def test_second_owner_is_refused(data_dir: Path, servers: list[EmbeddedRedis]) -> None:
    first = EmbeddedRedis(data_dir)
    servers.append(first)
    first.start()
    second = EmbeddedRedis(data_dir)
    with pytest.raises(EmbeddedRedisError, match="already using") as info:
        second.start()
    assert f"pid {os.getpid()}" in str(info.value)
    assert "JUNBAN_DATA_DIR" in str(info.value)
    assert not second.is_running()
    second.stop()  # must not remove the first one's socket
    assert first.is_running()
    client = client_for(first)
    try:
        assert client.ping() is True
    finally:
        client.close()


def test_stale_socket_and_pidfile(data_dir: Path, servers: list[EmbeddedRedis]) -> None:
    (data_dir / "redis.sock").write_text("not a socket")
    dead = subprocess.Popen(["true"])
    dead.wait()
    (data_dir / "redis.pid").write_text(f"{dead.pid}\n")
    server = EmbeddedRedis(data_dir)
    servers.append(server)
    server.start()
    client = client_for(server)
    try:
        assert client.ping() is True
    finally:
        client.close()
    assert (data_dir / "redis.pid").read_text().strip() == str(server.pid)


def test_orphan_server_is_shut_down_and_its_data_kept(
    data_dir: Path, servers: list[EmbeddedRedis]
) -> None:
    sock = data_dir.absolute() / "redis.sock"
    orphan = subprocess.Popen(
        [find_server_binary(), "--port", "0", "--unixsocket", str(sock)]
        + ["--dir", str(data_dir.absolute()), "--appendonly", "yes", "--save", ""]
        + ["--logfile", str(data_dir.absolute() / "orphan.log")],
        stdin=subprocess.DEVNULL,
    )
    try:
        raw = redis.Redis(unix_socket_path=str(sock), socket_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                if raw.ping():
                    break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        raw.set("from-orphan", "kept")
        raw.xadd("events", {"n": "1"})
        raw.close()

        server = EmbeddedRedis(data_dir)
        servers.append(server)
        server.start()
        assert orphan.wait(timeout=5) == 0  # it was shut down cleanly
        assert server.pid != orphan.pid
        client = client_for(server)
        try:
            assert client.get("from-orphan") == b"kept"
            assert client.xlen("events") == 1
        finally:
            client.close()
    finally:
        if orphan.poll() is None:
            orphan.kill()
        orphan.wait()


def test_supervisor_restarts_after_crash(data_dir: Path, servers: list[EmbeddedRedis]) -> None:
    server = EmbeddedRedis(data_dir)
    servers.append(server)
    server.start()
    client = client_for(server)
    client.set("survives", "yes")
    client.close()
    messages: list[str] = []
    restarted = threading.Event()

    def on_restart(message: str) -> None:
        messages.append(message)
        restarted.set()

    server.supervise(on_restart)
    old_pid = server.pid
    assert old_pid is not None
    server.kill()
    assert restarted.wait(5), "supervisor did not restart the server within 5 s"
    assert server.is_running()
    assert server.pid not in (None, old_pid)
    assert str(old_pid) in messages[0] and "restarted" in messages[0]
    client = client_for(server)
    try:
        assert client.get("survives") == b"yes"
    finally:
        client.close()

    # stop() must win over the supervisor: nothing comes back afterwards.
    new_pid = server.pid
    assert new_pid is not None
    server.stop()
    time.sleep(0.5)
    assert not server.is_running()
    assert pid_gone(new_pid)
    assert len(messages) == 1


def test_startup_failure_is_quick_and_releases_lock(
    data_dir: Path, servers: list[EmbeddedRedis]
) -> None:
    bad = EmbeddedRedis(data_dir, extra_config={"no-such-directive": "1"}, startup_timeout=10)
    began = time.monotonic()
    with pytest.raises(EmbeddedRedisError) as info:
        bad.start()
    assert time.monotonic() - began < 5
    text = str(info.value)
    assert "exited during startup" in text
    assert "no-such-directive" in text  # the server's own complaint is shown
    assert not bad.is_running()

    good = EmbeddedRedis(data_dir)
    servers.append(good)
    good.start()
    client = client_for(good)
    try:
        assert client.ping() is True
    finally:
        client.close()


def test_startup_timeout_never_hangs(data_dir: Path, servers: list[EmbeddedRedis]) -> None:
    # A "server" that never opens the socket: a shell script that ignores its arguments.
    fake = data_dir / "fake-server"
    fake.write_text("#!/bin/sh\necho 'pretending to start' >&2\nexec sleep 60\n")
    fake.chmod(0o755)
    server = EmbeddedRedis(data_dir, binary=str(fake), startup_timeout=1)
    began = time.monotonic()
    with pytest.raises(EmbeddedRedisError, match="did not answer PING") as info:
        server.start()
    assert time.monotonic() - began < 4
    assert "pretending to start" in str(info.value)
    again = EmbeddedRedis(data_dir)
    servers.append(again)
    again.start()  # the lock was released
    assert again.is_running()


def test_find_server_binary(tmp_path: Path) -> None:
    found = find_server_binary()
    assert os.access(found, os.X_OK)
    not_exec = tmp_path / "valkey-server"
    not_exec.write_text("#!/bin/sh\n")
    not_exec.chmod(0o644)
    with pytest.raises(EmbeddedRedisError, match="JUNBAN_REDIS_SERVER_BIN"):
        find_server_binary(str(not_exec))
    with pytest.raises(EmbeddedRedisError):
        find_server_binary(str(tmp_path / "missing"))
    assert find_server_binary(found) == str(Path(found).resolve())


def test_server_dies_with_its_parent(data_dir: Path) -> None:
    # A child Python process owns the server and is SIGKILLed: PDEATHSIG stops the server.
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from hub.embedded_redis import EmbeddedRedis\n"
        "s = EmbeddedRedis(Path(sys.argv[1])); s.start()\n"
        "print(s.pid, flush=True); time.sleep(60)\n"
    )
    owner = subprocess.Popen(
        [sys.executable, "-c", code, str(data_dir)],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[1],
    )
    try:
        assert owner.stdout is not None
        server_pid = int(owner.stdout.readline())
        owner.send_signal(signal.SIGKILL)
        owner.wait()
        deadline = time.monotonic() + 5
        while not pid_gone(server_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pid_gone(server_pid)
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
        if owner.stdout is not None:
            owner.stdout.close()
    # The lock died with the owner, and the AOF is intact: a new owner starts fine.
    with EmbeddedRedis(data_dir) as server:
        assert server.is_running()
