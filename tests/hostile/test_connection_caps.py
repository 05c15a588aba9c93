"""Connection caps per address and per token (WebSocket and SSE), provoked on a real hub.

One address opening streams until the cap is refused (429 ``too_many_connections`` / close
4429) while the clinic's own screens (staff, monitor tokens) behind the same address still
connect, one token is refused past its own cap however many times it is reissued, and a
closed stream gives its place back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator

import httpx
import orjson
import pytest

from hub.auth import Principal
from hub.channels.admission import Admission, Refusal, Seat
from hub.keys import client_network
from tests.channels.wsclient import LiveClient
from tests.conftest import TOKENS, HubProcess, make_facility, start_hub

CAP_IP, CAP_TOKEN = 20, 3
CAPS = {
    "JUNBAN_SSE_MAX_PER_IP": str(CAP_IP),
    "JUNBAN_SSE_MAX_PER_TOKEN": str(CAP_TOKEN),
    "JUNBAN_WS_MAX_PER_IP": str(CAP_IP),
    "JUNBAN_WS_MAX_PER_TOKEN": str(CAP_TOKEN),
}


class Stream:
    """One raw SSE request: its status, headers and (for a refusal) JSON body."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body: dict[str, object] = {}

    @classmethod
    async def open(cls, port: int, info: str, headers: dict[str, str] | None = None) -> Stream:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        writer.write(f"GET /v1/queues/{info}/events HTTP/1.1\r\nHost: x\r\n{extra}\r\n".encode())
        stream = cls(reader, writer)
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            status_line, *lines = head.decode().split("\r\n")
            stream.status = int(status_line.split()[1])
            stream.headers = {
                k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines if ln)
            }
            if stream.status != 200:
                length = int(stream.headers.get("content-length", "0"))
                stream.body = orjson.loads(await asyncio.wait_for(reader.readexactly(length), 5))
        except BaseException:
            await stream.close()
            raise
        return stream

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except OSError:
            pass


@pytest.fixture(scope="module")
def capped_hub(redis_url: str) -> Iterator[HubProcess]:
    process = start_hub(redis_url, **CAPS)
    yield process
    process.stop()


async def _info(hub: HubProcess) -> str:
    async with httpx.AsyncClient(base_url=hub.base_url, timeout=10) as client:
        return f"{await make_facility(client, ('01',))}-01"


def _bearer(token: str, **more: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **more}


async def _serves_normally(hub: HubProcess, info: str, requests: int = 20) -> float:
    """A normal client's GETs of the queue all answer 200; their slowest, in seconds."""
    slowest = 0.0
    async with httpx.AsyncClient(base_url=hub.base_url, timeout=10) as client:
        for _ in range(requests):
            began = time.perf_counter()
            response = await client.get(f"/v1/queues/{info}")
            slowest = max(slowest, time.perf_counter() - began)
            assert response.status_code == 200, response.text
    return slowest


async def _eventually(attempt: Callable[[], Awaitable[bool]], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not await attempt():
        assert time.monotonic() < deadline, "the place was never given back"
        await asyncio.sleep(0.1)


def _refused_sse(stream: Stream) -> bool:
    error = stream.body.get("error")
    return (
        stream.status == 429
        and isinstance(error, dict)
        and error.get("code") == "too_many_connections"
        and int(stream.headers.get("retry-after", "0")) >= 1
    )


async def test_sse_address_cap_refuses_the_flood_not_the_clinics_screens(
    capped_hub: HubProcess,
) -> None:
    hub = capped_hub
    info = await _info(hub)
    facility = info.split("-")[0]
    flood: list[Stream] = []
    try:
        for _ in range(CAP_IP * 3):
            flood.append(await Stream.open(hub.port, info))
        assert [s.status for s in flood[:CAP_IP]] == [200] * CAP_IP
        assert all(_refused_sse(s) for s in flood[CAP_IP:]), [s.status for s in flood]
        # patients' tokens share the address's count; the clinic's screens do not
        patient = await Stream.open(hub.port, info, _bearer(TOKENS.patient(info, "W001")))
        flood.append(patient)
        assert _refused_sse(patient)
        for role in ("monitor", "staff"):
            token = TOKENS.issue(role, subject="screen-1", facility=facility)
            flood.append(await Stream.open(hub.port, info, _bearer(token)))
            assert flood[-1].status == 200, role
        # another address (X-Forwarded-For from a trusted proxy) is not affected
        flood.append(await Stream.open(hub.port, info, {"X-Forwarded-For": "203.0.113.7"}))
        assert flood[-1].status == 200
        assert await _serves_normally(hub, info) < 2.0
        for stream in flood[:5]:
            await stream.close()

        async def admitted() -> bool:
            stream = await Stream.open(hub.port, info)
            flood.append(stream)
            return stream.status == 200

        await _eventually(admitted)
    finally:
        for stream in flood:
            await stream.close()


async def test_sse_token_cap_counts_the_identity_not_the_jwt(capped_hub: HubProcess) -> None:
    hub = capped_hub
    info = await _info(hub)
    facility = info.split("-")[0]
    # each token is minted anew (another iat): still one monitor, one count
    tokens = [
        TOKENS.issue("monitor", subject="tv-2", facility=facility, now=time.time() - n)
        for n in range(CAP_TOKEN + 2)
    ]
    streams: list[Stream] = []
    try:
        for token in tokens:
            streams.append(await Stream.open(hub.port, info, _bearer(token)))
        assert [s.status for s in streams[:CAP_TOKEN]] == [200] * CAP_TOKEN
        assert all(_refused_sse(s) for s in streams[CAP_TOKEN:])
        other = TOKENS.issue("monitor", subject="tv-3", facility=facility)
        streams.append(await Stream.open(hub.port, info, _bearer(other)))
        assert streams[-1].status == 200
        await streams[0].close()

        async def admitted() -> bool:
            stream = await Stream.open(hub.port, info, _bearer(tokens[0]))
            streams.append(stream)
            return stream.status == 200

        await _eventually(admitted)
        assert await _serves_normally(hub, info) < 2.0
    finally:
        for stream in streams:
            await stream.close()


async def _alive(client: LiveClient) -> bool:
    """The connection answers a ping (False: the hub closed it)."""
    try:
        await client.send({"op": "ping"})
        await client.until(lambda f: f["op"] == "pong", timeout=2)
    except Exception:
        return False
    return True


async def test_ws_address_cap_spares_screens_and_token_cap_holds(capped_hub: HubProcess) -> None:
    hub = capped_hub
    info = await _info(hub)
    facility = info.split("-")[0]
    opened: list[LiveClient] = []

    async def connect(token: str | None = None) -> LiveClient:
        opened.append(await LiveClient.open(hub.base_url, token=token))
        return opened[-1]

    try:
        held = [await connect() for _ in range(CAP_IP)]
        extra = await connect()
        assert await extra.closed_with() == 4429
        assert extra.ws.close_reason == "too many connections from this address"
        patient = await connect(TOKENS.patient(info, "W002"))
        assert await patient.closed_with() == 4429
        staff = TOKENS.issue("staff", subject="desk-2", facility=facility)
        screens = [await connect(staff) for _ in range(CAP_TOKEN)]
        for screen in screens:  # the address is full of phones: the screens still get in
            assert await _alive(screen)
        await screen.sub(f"staff:{info}")
        assert (await screen.until(lambda f: f["op"] == "subscribed"))["ch"] == f"staff:{info}"
        again = await connect(staff)
        assert await again.closed_with() == 4429
        assert again.ws.close_reason == "too many connections with this token"
        assert await _serves_normally(hub, info) < 2.0
        # an auth frame moves an anonymous connection's count to its token
        await held.pop().close()
        switch: LiveClient | None = None

        async def admitted() -> bool:
            nonlocal switch
            switch = await connect()
            return await _alive(switch)

        await _eventually(admitted)
        assert switch is not None
        await switch.send({"op": "auth", "token": staff})  # the token is at its cap
        assert await switch.closed_with() == 4429
        # a closed screen gives its place back, to the token only
        await screens[0].close()

        async def screen_admitted() -> bool:
            return await _alive(await connect(staff))

        await _eventually(screen_admitted)
    finally:
        for client in opened:
            await client.close()


def test_admission_counts_and_gives_back() -> None:
    """The counting itself: IPv6 by /64, screen roles per token only, releases once."""
    assert client_network("2001:db8::1") == client_network("2001:db8::ffff:2") == "2001:db8::/64"
    assert client_network("::ffff:192.0.2.1") == "192.0.2.1"
    caps = Admission(max_per_address=2, max_per_token=1)
    monitor = Principal(role="monitor", subject="tv", facility="1")
    seats = [caps.take("2001:db8::1", None), caps.take("2001:db8::2", None)]
    assert isinstance(caps.take("2001:db8::3", None), Refusal)
    assert isinstance(caps.take("2001:db9::3", None), Seat)
    first = caps.take("2001:db8::1", monitor)
    assert isinstance(first, Seat) and first.address is None
    assert isinstance(caps.take("192.0.2.9", monitor), Refusal)
    for seat in (*seats, first, first):
        assert isinstance(seat, Seat)
        caps.release(seat)
    assert caps.per_address == {"2001:db9::/64": 1} and caps.per_token == {}
