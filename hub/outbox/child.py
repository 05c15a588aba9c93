"""The outbox worker that ``junban serve`` runs beside its web server: one child process,
``junban worker <group>…`` (``JUNBAN_WORKER_GROUPS``, by default every group), so webhook
attempts, notifications and call-outs never share the event loop, nor the core, that
answers patients and staff. On the 2-core test VM, with 200 facilities' webhooks failing
at once, call-next p95 went from 11 ms to 379 ms with the groups inline and stayed at
3.5–3.6 ms with them in this worker (``python -m loadtest.bench_outbox --only failing``).

Guarantees: the child is restarted when it exits on its own (after 1 s, doubling up to
30 s while it keeps failing within a minute of its start); ``stop`` ends it (SIGTERM, so it
gives its leases back, then SIGKILL after ``STOP_S``) and it is never restarted after;
Linux sends it SIGTERM if the hub dies without stopping it (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import threading
import time

from hub.embedded_redis import pdeathsig_preexec

log = logging.getLogger("junban")

STOP_S = 10.0
"""SIGTERM, then SIGKILL after this long (the worker gives its leases back within 3 s)."""
BACKOFF_S = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
STABLE_S = 60.0
"""A child that ran this long before it exited is restarted at the first backoff step."""


class WorkerChild:
    """``junban worker <groups>`` as a supervised child of this process (module docstring).
    Its environment is this process's, which ``junban serve`` has filled with the Redis URL,
    the secret and the data directory by then."""

    def __init__(self, groups: tuple[str, ...]) -> None:
        self.groups = groups
        self.proc: subprocess.Popen[bytes] | None = None
        self._started = 0.0
        self._stopping = threading.Event()
        self._state = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._spawn()
        self._thread = threading.Thread(target=self._supervise, name="outbox worker", daemon=True)
        self._thread.start()

    def _spawn(self) -> None:
        command = [sys.executable, "-m", "hub", "worker", *self.groups]
        with self._state:
            if self._stopping.is_set():
                return
            self.proc = subprocess.Popen(
                command, env=dict(os.environ), stdin=subprocess.DEVNULL,
                preexec_fn=pdeathsig_preexec(),
            )  # fmt: skip
            self._started = time.monotonic()
        log.info("outbox worker (pid %s) serving %s", self.proc.pid, ", ".join(self.groups))

    def _supervise(self) -> None:
        step = 0
        while not self._stopping.wait(0.5):
            proc = self.proc
            if proc is None or proc.poll() is None:
                continue
            if time.monotonic() - self._started >= STABLE_S:
                step = 0
            delay = BACKOFF_S[min(step, len(BACKOFF_S) - 1)]
            step += 1
            log.warning(
                "outbox worker (pid %s) exited with %s: restarting in %g s",
                proc.pid, proc.returncode, delay,
            )  # fmt: skip
            if self._stopping.wait(delay):
                return
            self._spawn()

    def stop(self) -> None:
        """End the child (SIGTERM, then SIGKILL after ``STOP_S``); never restarted after."""
        with self._state:
            self._stopping.set()
            proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(STOP_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(5)
        if self._thread is not None:
            self._thread.join(2)
