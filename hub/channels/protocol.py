"""The live-channel wire protocol: client frames, server frames, codecs and close codes.

Client → server (``junban.json`` text frames or ``junban.msgpack`` binary frames)::

    {"op": "auth", "token": str}
    {"op": "sub", "ch": str, "v": int?, "epoch": str?}
    {"op": "unsub", "ch": str}
    {"op": "ping"}

Server → client: ``state`` (the whole current view of a channel), ``subscribed``,
``unsubscribed``, ``error`` and ``pong``. A state frame is encoded once per publication,
channel and codec (``Publication.ws_frame``) and the same bytes go to every subscriber.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgpack
import msgspec
import orjson
from websockets.frames import Frame, Opcode

from hub.errors import Close
from hub.jsondepth import MAX_DEPTH, too_deep

# the close codes the hub sends (hub.errors.Close is the one list, docs/api.md its table)
MALFORMED = Close.MALFORMED
BAD_TOKEN = Close.BAD_TOKEN
TOO_SLOW = Close.TOO_SLOW
RATE_LIMITED = Close.RATE_LIMITED
SERVICE_RESTART = Close.SERVICE_RESTART
GOING_AWAY = Close.GOING_AWAY

JSON, MSGPACK = "junban.json", "junban.msgpack"
SUBPROTOCOLS = (MSGPACK, JSON)
MAX_FRAME_BYTES = 64 * 1024


class Auth(msgspec.Struct, tag_field="op", tag="auth"):
    token: str


class Sub(msgspec.Struct, tag_field="op", tag="sub"):
    ch: str
    v: int | None = None
    epoch: str | None = None


class Unsub(msgspec.Struct, tag_field="op", tag="unsub"):
    ch: str


class Ping(msgspec.Struct, tag_field="op", tag="ping"):
    pass


ClientFrame = Auth | Sub | Unsub | Ping
_json_decoder = msgspec.json.Decoder(ClientFrame)
_msgpack_decoder = msgspec.msgpack.Decoder(ClientFrame)


class MalformedFrame(ValueError):
    """A client frame that is not one of the four documented shapes."""


def decode_client_frame(data: bytes, *, text: bool) -> ClientFrame:
    """Decode a client frame: JSON in text frames, msgpack in binary ones. JSON nested
    deeper than ``jsondepth.MAX_DEPTH`` is malformed before it is decoded."""
    if text and too_deep(data):
        raise MalformedFrame(f"nested deeper than {MAX_DEPTH} levels")
    try:
        frame: ClientFrame = _json_decoder.decode(data) if text else _msgpack_decoder.decode(data)
        return frame
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
        raise MalformedFrame(str(exc) or type(exc).__name__) from exc


def choose_subprotocol(offered: list[str] | tuple[str, ...]) -> str | None:
    """msgpack when offered, else json when offered, else none (JSON is the default)."""
    for name in SUBPROTOCOLS:
        if name in offered:
            return name
    return None


def ws_frame(payload: bytes, *, binary: bool) -> bytes:
    """One unmasked server-to-client WebSocket frame (no compression: bytes are shared)."""
    opcode = Opcode.BINARY if binary else Opcode.TEXT
    return Frame(opcode, payload).serialize(mask=False)


def control_frame(message: dict[str, Any], codec: str) -> bytes:
    """A small non-state frame (subscribed, error, pong), encoded for one connection."""
    if codec == MSGPACK:
        return ws_frame(msgpack.packb(message), binary=True)
    return ws_frame(orjson.dumps(message), binary=False)


def newer(candidate: tuple[str, int], known: tuple[str, int] | None) -> bool:
    """Order of states (docs/api.md): a different epoch always wins, then a higher ``v``."""
    if known is None:
        return True
    return candidate[0] != known[0] or candidate[1] > known[1]


@dataclass(slots=True)
class Publication:
    """One state of one channel's data, with its wire encodings made on first use."""

    epoch: str
    v: int
    data_json: bytes
    info: str
    _data: Any = None
    _frames: dict[tuple[str, str], bytes] = field(default_factory=dict)
    version: tuple[str, int] = field(init=False)
    """``(epoch, v)``, made once: every subscriber's delivery reads it."""

    def __post_init__(self) -> None:
        self.version = (self.epoch, self.v)

    def data(self) -> Any:
        if self._data is None:
            self._data = orjson.loads(self.data_json)
        return self._data

    def ws_frame(self, ch: str, codec: str) -> bytes:
        """The state frame for channel ``ch`` in ``codec``, built once and then shared."""
        key = (ch, codec)
        frame = self._frames.get(key)
        if frame is None:
            if codec == MSGPACK:
                message = {
                    "op": "state",
                    "ch": ch,
                    "v": self.v,
                    "epoch": self.epoch,
                    "data": self.data(),
                }
                frame = ws_frame(msgpack.packb(message), binary=True)
            else:
                head = orjson.dumps({"op": "state", "ch": ch, "v": self.v, "epoch": self.epoch})
                frame = ws_frame(head[:-1] + b',"data":' + self.data_json + b"}", binary=False)
            self._frames[key] = frame
        return frame

    def sse_event(self) -> bytes:
        """The Server-Sent Events record of this state (``id`` is ``v``, as docs/api.md says;
        Last-Event-ID may also be ``epoch.v``, see hub/web/live.py)."""
        key = ("", "sse")
        event = self._frames.get(key)
        if event is None:
            event = b"event: state\nid: %d\ndata: %s\n\n" % (self.v, self.data_json)
            self._frames[key] = event
        return event
