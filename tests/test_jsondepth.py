"""The JSON depth bound (hub/jsondepth.py): property-tested against a real parser."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from hub.jsondepth import MAX_DEPTH, too_deep

leaves = st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab')
documents = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=60,
)


def depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    return 0


@given(documents, st.integers(min_value=0, max_value=8))
def test_too_deep_agrees_with_the_parsed_depth(document: Any, limit: int) -> None:
    raw = json.dumps(document).encode()
    assert too_deep(raw, limit) == (depth(document) > limit)


def test_deep_nesting_inside_strings_does_not_count() -> None:
    raw = json.dumps({"name": "[" * 5000 + '\\"{' * 100}).encode()
    assert not too_deep(raw)


def test_the_attack_of_the_issue_is_caught() -> None:
    assert too_deep(b"[" * 2500 + b"]" * 2500)
    assert too_deep(b'{"name":' + b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1) + b"}")
    assert not too_deep(b'{"name":' + b"[" * (MAX_DEPTH - 1) + b"]" * (MAX_DEPTH - 1) + b"}")
