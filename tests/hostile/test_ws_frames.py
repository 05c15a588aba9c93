"""Malformed WebSocket frames on the wire (not just bad JSON): every one ends in a close
frame with the documented code, never a hang or a dropped hub, and the hub keeps serving."""

from __future__ import annotations

import base64
import os
import socket
import struct

import httpx
import pytest

from tests.conftest import HubProcess


def handshake(hub: HubProcess) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", hub.port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            "GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        assert chunk, "closed during the handshake"
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head[:80]
    return sock


def frame(opcode: int, payload: bytes, *, fin: bool = True, mask: bool = True) -> bytes:
    first = (0x80 if fin else 0) | opcode
    length = len(payload)
    masked = 0x80 if mask else 0
    if length < 126:
        header = struct.pack("!BB", first, masked | length)
    elif length < 65536:
        header = struct.pack("!BBH", first, masked | 126, length)
    else:
        header = struct.pack("!BBQ", first, masked | 127, length)
    if not mask:
        return header + payload
    key = os.urandom(4)
    return header + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def close_code(sock: socket.socket) -> int | None:
    """The code of the close frame the hub sends (None: the socket ended without one). The
    hub then waits for our close frame (the closing handshake), so stop reading at it."""
    data = b""
    try:
        while True:
            found = _close_frame(data)
            if found is not None:
                return found[0]
            chunk = sock.recv(65536)
            if not chunk:
                return None
            data += chunk
    except TimeoutError:
        pytest.fail(f"the hub neither closed nor answered: {data[:40]!r}")
    finally:
        sock.close()


def _close_frame(data: bytes) -> tuple[int | None] | None:
    """(code,) of the first complete close frame in ``data``; None while there is none."""
    while len(data) >= 2:
        opcode, length = data[0] & 0x0F, data[1] & 0x7F
        offset = 2
        if length == 126:
            if len(data) < 4:
                return None
            length, offset = struct.unpack("!H", data[2:4])[0], 4
        if len(data) < offset + length:
            return None
        payload = data[offset : offset + length]
        if opcode == 0x8:
            return (int(struct.unpack("!H", payload[:2])[0]) if len(payload) >= 2 else None,)
        data = data[offset + length :]
    return None


CASES = {
    "text that is not UTF-8": (frame(0x1, b"\xff\xfe\xfd"), {1007, 4400}),
    "a reserved opcode": (frame(0x3, b"x"), {1002}),
    "an unmasked client frame": (frame(0x1, b'{"op":"ping"}', mask=False), {1002}),
    "a fragmented ping": (frame(0x9, b"x", fin=False), {1002}),
    "a control frame over 125 bytes": (frame(0x9, b"x" * 200), {1002}),
    "a frame over the size limit": (frame(0x2, b"\x00" * 70_000), {1009}),
    "a continuation without a start": (frame(0x0, b"x"), {1002}),
    "JSON that is no frame": (frame(0x1, b'{"op":"launch"}'), {4400}),
    "msgpack garbage": (frame(0x2, b"\xc1\xc1\xc1"), {4400}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_malformed_frame_gets_a_close_code(hub: HubProcess, name: str) -> None:
    data, expected = CASES[name]
    sock = handshake(hub)
    sock.sendall(data)
    assert close_code(sock) in expected, name
    assert httpx.get(hub.base_url + "/healthz", timeout=5).status_code == 200
