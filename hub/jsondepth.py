"""A bound on how deeply a client's JSON may nest, checked before it is decoded.

No document the API accepts nests deeper than a few levels, while a 15 KB body of
``[[[[…`` nests 2,500 deep and makes a recursive decoder fail with ``RecursionError``.
``too_deep`` answers that in linear time, without decoding: it counts the brackets outside
strings. Bodies with few brackets (every real one) skip the scan, since their depth cannot
exceed their bracket count: the hot path pays two ``bytes.count`` calls.
"""

from __future__ import annotations

MAX_DEPTH = 32
"""The deepest nesting of arrays and objects a client's JSON may have."""

_OPEN, _CLOSE, _QUOTE, _ESCAPE = frozenset(b"[{"), frozenset(b"]}"), ord('"'), ord("\\")


def too_deep(raw: bytes, limit: int = MAX_DEPTH) -> bool:
    """True when the JSON text ``raw`` nests arrays/objects deeper than ``limit`` (strings
    are skipped, escapes honoured; malformed text is left to the decoder)."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    depth = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == _ESCAPE:
                escaped = True
            elif byte == _QUOTE:
                in_string = False
        elif byte == _QUOTE:
            in_string = True
        elif byte in _OPEN:
            depth += 1
            if depth > limit:
                return True
        elif byte in _CLOSE:
            depth -= 1
    return False
