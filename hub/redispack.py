"""Redis commands packed by hiredis (C) rather than by redis-py's asyncio packer (Python).

redis-py's synchronous client packs with hiredis when it is installed
(``redis.connection.HiredisRespSerializer``); its asyncio connections always use the Python
packer, which re-joins the growing buffer for every argument: an append's EVALSHA (about 20
arguments, one of them the public view) took 23 µs to pack there and takes 8 µs here, of
about 300 µs of client CPU per append. ``hiredis_packing`` gives a pool's connection class
the same serializer the synchronous client uses; the bytes sent are
the same (``str`` as UTF-8, numbers as text; ``bool`` and ``None`` are refused as before,
with ``DataError``).
"""

from __future__ import annotations

from typing import Any

from redis.asyncio.connection import AbstractConnection
from redis.connection import HiredisRespSerializer

_serializer = HiredisRespSerializer()
_classes: dict[type[AbstractConnection], type[AbstractConnection]] = {}


def _pack_command(self: AbstractConnection, *args: Any) -> list[bytes]:
    packed: list[bytes] = _serializer.pack(*args)
    return packed


def hiredis_packing(cls: type[AbstractConnection]) -> type[AbstractConnection]:
    """A subclass of ``cls`` (TCP, unix socket or TLS) whose commands hiredis packs."""
    if cls not in _classes:
        attrs = {"pack_command": _pack_command, "__module__": __name__}
        _classes[cls] = type(f"Hiredis{cls.__name__}", (cls,), attrs)
    return _classes[cls]
