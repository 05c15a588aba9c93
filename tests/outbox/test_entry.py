"""``parse_entry``: an outbox entry's fields as append.lua writes them, decoded (pure)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.outbox.entry import parse_entry

kinds = st.lists(st.from_regex(r"[a-z_]{1,20}", fullmatch=True), max_size=5)
payloads = st.dictionaries(
    st.text(max_size=8), st.integers(-(2**62), 2**62) | st.text(max_size=8), max_size=4
)


@given(
    v=st.integers(min_value=1, max_value=2**53),
    kind_list=kinds,
    events=st.lists(st.tuples(st.text(max_size=10), payloads), max_size=5),
    waiting=st.none() | st.lists(st.text(max_size=6), max_size=5),
    as_bytes=st.booleans(),
)
def test_the_fields_append_lua_writes_come_back(
    v: int,
    kind_list: list[str],
    events: list[tuple[str, dict[str, Any]]],
    waiting: list[str] | None,
    as_bytes: bool,
) -> None:
    body: dict[str, Any] = {"day": "2026-12-07", "events": [list(e) for e in events]}
    body["tickets"] = {"t1": {"id": "t1", "number": 3, "patient_ref": None}}
    if waiting is not None:
        body["waiting"] = waiting
    fields = {
        "info": "1234-01",
        "v": str(v),
        "epoch": "ep",
        "kinds": ",".join(kind_list),
        "e": msgspec.msgpack.encode(body),
    }
    raw = {k.encode(): (x if isinstance(x, bytes) else x.encode()) for k, x in fields.items()}
    entry = parse_entry("1234", b"17-0" if as_bytes else "17-0", raw)
    assert (entry.id, entry.facility, entry.info, entry.v, entry.epoch) == (
        "17-0",
        "1234",
        "1234-01",
        v,
        "ep",
    )
    assert entry.kinds == tuple(kind_list)
    assert entry.body == body


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {b"info": b"1-01", b"v": b"1", b"kinds": b"x"},  # no body
        {b"info": b"1-01", b"v": b"one", b"e": msgspec.msgpack.encode({})},
        {b"info": b"1-01", b"v": b"1", b"e": b"\xc1"},  # not msgpack
        {b"info": b"1-01", b"v": b"1", b"e": msgspec.msgpack.encode([1, 2])},  # not a map
    ],
)
def test_a_malformed_entry_is_a_value_error(fields: dict[bytes, bytes]) -> None:
    with pytest.raises(ValueError, match="malformed outbox entry 5-0"):
        parse_entry("1", "5-0", fields)
