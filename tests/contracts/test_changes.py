"""The operator commands' own pure rules: the Art. 12 reason of a facility's suspension,
the Art. 37 limit window and the API option gate (Table 1)."""

from __future__ import annotations

from typing import get_args

import pytest

from hub.contracts import changes
from hub.contracts.gates import check_api_option
from hub.contracts.model import SuspensionReason
from hub.errors import Forbidden, Unprocessable
from hub.queue.facilities import Facility

OWN = {"https://hub.example"}


def test_a_facility_under_contract_is_suspended_only_for_an_art12_reason() -> None:
    for reason in get_args(SuspensionReason):
        assert changes.art12_reason(reason) == reason
    with pytest.raises(Unprocessable) as refused:
        changes.art12_reason("holiday")
    assert refused.value.code == "invalid_reason"
    assert ", ".join(get_args(SuspensionReason)) in str(refused.value)


def test_a_limit_window_is_1_to_86400_seconds() -> None:
    assert changes.rate_limit("600/60", "rate") == (600, 60.0)
    assert changes.rate_limit(None, "rate") is None
    for text in ("10/0", "10/86401"):
        with pytest.raises(Unprocessable):
            changes.rate_limit(text, "rate")


def test_without_the_api_option_only_the_hubs_own_pages_get_the_facility() -> None:
    bare = Facility(number="1", name="x", options=())
    check_api_option(bare, None, OWN, partner=False)
    check_api_option(bare, "https://hub.example/", OWN, partner=False)
    for origin, partner in (("https://elsewhere.example", False), (None, True)):
        with pytest.raises(Forbidden) as refused:
            check_api_option(bare, origin, OWN, partner)
        assert refused.value.code == "option_not_contracted"
    contracted = Facility(number="1", name="x", options=("api",))
    check_api_option(contracted, "https://elsewhere.example", OWN, partner=True)
