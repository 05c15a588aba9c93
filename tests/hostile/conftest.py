"""What the hostile-input tests share: a hub of their own per module (its limits and logs
are the test's alone) and made-up client addresses (every test hub believes
X-Forwarded-For from 127.0.0.1)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest

from tests.conftest import HubProcess, start_hub

_hosts = itertools.count(1)


def addresses(prefix: str) -> Callable[[], dict[str, str]]:
    """A maker of headers that each claim a client address of its own under ``prefix``
    (two octets, e.g. "192.0")."""

    def address() -> dict[str, str]:
        n = next(_hosts)
        return {"X-Forwarded-For": f"{prefix}.{n // 250 % 250}.{n % 250 + 1}"}

    return address


@pytest.fixture(scope="module")
def hub(redis_url: str) -> Iterator[HubProcess]:
    process = start_hub(redis_url)
    yield process
    process.stop()


@pytest.fixture
async def client(hub: HubProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=hub.base_url, timeout=120) as c:
        yield c
