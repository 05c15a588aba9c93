"""The clinic admin rules (hub/staff.py ``check_admin_change``), property-tested: whatever
sequence of demotions and removals is allowed, a facility that had an admin keeps one, and
no admin ever demotes or removes themselves; and the temporary passwords' shape."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from hub.errors import Conflict, Forbidden, JunbanError
from hub.staff import OPERATOR, TEMP_ALPHABET, Actor, check_admin_change, temporary_password
from hub.users import check_password_policy

NAMES = st.sampled_from(["ann", "ben", "cho", "dai", "eri"])
STEP = st.tuples(st.one_of(st.none(), NAMES), NAMES, st.booleans())
"""(actor: None = the operator, target, stays_admin)."""


@given(admins=st.sets(NAMES, min_size=1), steps=st.lists(STEP, max_size=20))
def test_a_facility_with_admins_always_keeps_one(
    admins: set[str], steps: list[tuple[str | None, str, bool]]
) -> None:
    current = set(admins)
    for actor_name, target, stays in steps:
        actor = Actor(actor_name)
        try:
            check_admin_change(current, actor, target, stays_admin=stays)
        except Forbidden:
            assert actor_name is not None and actor_name not in current
            continue
        except Conflict as exc:
            assert not stays
            assert exc.code in ("own_account", "last_admin")
            assert exc.code != "own_account" or target == actor_name
            assert exc.code != "last_admin" or current == {target}
            continue
        assert actor_name is None or actor_name in current  # only admins act
        assert stays or target != actor_name  # never themselves
        if stays:
            current.add(target)
        else:
            current.discard(target)
        assert current, "the last admin went"


@given(admins=st.sets(NAMES), target=NAMES)
def test_granting_admin_is_always_allowed_to_the_operator(admins: set[str], target: str) -> None:
    check_admin_change(admins, OPERATOR, target, stays_admin=True)


@given(admins=st.sets(NAMES), actor=NAMES, target=NAMES, stays=st.booleans())
def test_a_staff_actor_who_is_no_admin_is_refused(
    admins: set[str], actor: str, target: str, stays: bool
) -> None:
    outsider = {a for a in admins if a != actor}
    try:
        check_admin_change(outsider, Actor(actor), target, stays_admin=stays)
    except JunbanError as exc:
        assert exc.code == "forbidden"
    else:
        raise AssertionError("a non-admin actor was allowed")


def test_temporary_passwords_are_random_and_pass_the_policy() -> None:
    seen = {temporary_password() for _ in range(200)}
    assert len(seen) == 200
    shape = re.compile(rf"^[{TEMP_ALPHABET}]{{4}}-[{TEMP_ALPHABET}]{{4}}-[{TEMP_ALPHABET}]{{4}}\Z")
    for password in seen:
        assert shape.match(password), password
        check_password_policy(password, "nurse")
