"""Fixtures of the phone call-out tests: the TwiML call simulator (tests/peers/
call_simulator.py, a real HTTP server in a subprocess) and a hub whose public URL is its own
address (callbacks are signed over it), sweeping its outbox often."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import WITH_PHONE, HubProcess, short_tempdir
from tests.peerproc import PeerProcess

PEERS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "peers")
SIM_SID = "AC" + "5" * 32
SIM_TOKEN = "sim-auth-token-0123456789"


class CallSimulator(PeerProcess):
    script = "call_simulator.py"
    label = "the call simulator"

    def env(self) -> dict[str, str]:
        return {"SIM_ACCOUNT_SID": SIM_SID, "SIM_AUTH_TOKEN": SIM_TOKEN}

    def control(self, **change: Any) -> None:
        assert httpx.post(self.url + "/_control", json=change, timeout=5).status_code == 200

    def log(self) -> dict[str, Any]:
        answer: dict[str, Any] = httpx.get(self.url + "/_control/log", timeout=5).json()
        return answer


@pytest.fixture(scope="session")
def simulator() -> Iterator[CallSimulator]:
    sim = CallSimulator().start()
    yield sim
    sim.stop()


@pytest.fixture
def sim(simulator: CallSimulator) -> CallSimulator:
    simulator.control(reset=True)
    return simulator


def phone_hub(redis_url: str) -> HubProcess:
    """A hub (not started) whose JUNBAN_PUBLIC_URL is its own address."""
    process = HubProcess({"JUNBAN_REDIS_URL": redis_url}, short_tempdir())
    process.env.update(
        JUNBAN_PUBLIC_URL=process.base_url,
        **WITH_PHONE,
        JUNBAN_OUTBOX_SWEEP="0.3",
        JUNBAN_RETRY_SCALE="0.01",  # the 3-minute retry after 1.8 s, reconciliation after 1.2 s
    )
    return process


@pytest.fixture
def hub_process(redis_url: str) -> Iterator[HubProcess]:
    process = phone_hub(redis_url).start()
    yield process
    process.stop()
