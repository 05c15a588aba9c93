"""Clinic admins manage their facility's staff accounts (and the operator any account): list,
add, reset a forgotten password, unlock a throttled login, remove, grant or revoke admin.

A clinic admin is a staff user with ``admin: true``; its login token carries the ``adm``
claim (``hub.auth.Principal.admin``). A reset password, and the first password of a user a
clinic admin adds, is *temporary*: its login token (claim ``pwc``) may only change it
(``POST /v1/auth/password``); the reset also revokes every older token of the account.

The rules of who may change an admin (``check_admin_change``) are pure: an admin never
removes or demotes themselves (``own_account``), and a facility that has admins keeps at
least one (``last_admin``); a staff actor must still be an admin in the stored records (its
token's claim may be a few moments old).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import Any

from hub.accounts import AccountService
from hub.errors import Conflict, Forbidden, NotFound, Unprocessable
from hub.users import User, hash_password

USER_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}\Z")
"""A user name a clinic admin may choose: 1 to 64 of letters, digits and ``. _ @ -``."""
TEMP_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
"""No 0/o, 1/l/i: read aloud or copied by hand without mistakes."""


def temporary_password() -> str:
    """12 random characters (about 59 bits) in groups of four: ``k7dq-m2xa-p9fe``."""
    chars = "".join(secrets.choice(TEMP_ALPHABET) for _ in range(12))
    return "-".join(chars[i : i + 4] for i in range(0, 12, 4))


@dataclass(frozen=True, slots=True)
class Actor:
    """Who manages accounts: a clinic admin (``name``) or the operator (``name`` None)."""

    name: str | None = None


OPERATOR = Actor()


def check_admin_change(
    admins: Collection[str], actor: Actor, target: str, *, stays_admin: bool
) -> None:
    """Whether ``actor`` may leave ``target`` with (``stays_admin``) or without admin rights
    (demoted or removed), given the facility's current ``admins``; raises otherwise."""
    if actor.name is not None and actor.name not in admins:
        raise Forbidden("only the clinic's admins may do this", code="forbidden")
    if stays_admin:
        return
    if target == actor.name:
        raise Conflict("an admin may not remove or demote themselves", code="own_account")
    if target in admins and len(admins) <= 1:
        raise Conflict("the facility keeps at least one clinic admin", code="last_admin")


def admins_of(users: dict[str, User], facility: str) -> set[str]:
    return {u.name for u in users.values() if u.facility == facility and u.admin}


def _staff_of(users: dict[str, User], facility: str | None, name: str) -> User:
    """The user ``name`` (of ``facility`` unless None: the operator's routes); 404
    ``unknown_user`` for a user of another facility too (its existence is not told)."""
    user = users.get(name)
    if user is None or (facility is not None and (user.role, user.facility) != ("staff", facility)):
        raise NotFound("no such user in this facility", code="unknown_user")
    return user


class StaffService:
    """The clinic admin's account use cases; every one is audited by the router."""

    def __init__(self, accounts: AccountService) -> None:
        self.accounts = accounts
        self.users = accounts.users
        self.guard = accounts.guard

    async def list(self, facility: str) -> list[dict[str, Any]]:
        """The facility's staff accounts, by name: admin, temporary password, throttled
        state and last login (epoch seconds, None before the first recorded one)."""
        staff = sorted(
            (u for u in await self.users.all() if u.role == "staff" and u.facility == facility),
            key=lambda u: u.name,
        )
        last = await self.users.last_logins([u.name for u in staff])
        rows: list[dict[str, Any]] = []
        for user in staff:
            failures, wait = await self.guard.state(user.name)
            rows.append(
                {
                    "user": user.name,
                    "admin": user.admin,
                    "must_change_password": user.must_change,
                    "throttled": wait > 0,
                    "failures": failures,
                    "retry_after": round(wait),
                    "last_login": last.get(user.name),
                }
            )
        return rows

    async def add(
        self, facility: str, name: str, password: str | None, admin: bool, actor: Actor
    ) -> dict[str, Any]:
        """A new staff user of ``facility``; its first password (given, or generated and
        answered once as ``temporary_password``) must be changed at its first login."""
        if not USER_NAME_RE.match(name):
            raise Unprocessable(
                "a user name is 1 to 64 letters, digits and . _ @ - (starting with a letter "
                "or digit)",
                code="invalid_body",
            )
        if actor.name is not None:
            check_admin_change(admins_of(await _all(self), facility), actor, name, stays_admin=True)
        temporary = password is None
        chosen = password if password is not None else temporary_password()
        user = await self.accounts.create_user(
            name, chosen, "staff", facility, admin=admin, must_change=True
        )
        answer: dict[str, Any] = {"user": user.name, "admin": user.admin, "facility": facility}
        answer["must_change_password"] = True
        if temporary:
            answer["temporary_password"] = chosen
        return answer

    async def reset(self, facility: str | None, name: str, actor: Actor) -> dict[str, Any]:
        """A new temporary password for ``name`` (answered once): the old password stops
        working, every older token is revoked, and the next login must change it."""
        password = temporary_password()
        password_hash = await hash_password(password)

        def change(users: dict[str, User]) -> dict[str, User | None]:
            user = _staff_of(users, facility, name)
            if actor.name is not None and user.facility is not None:
                check_admin_change(admins_of(users, user.facility), actor, name, stays_admin=True)
            return {name: replace(user, password_hash=password_hash, must_change=True)}

        user = (await self.users.change(change))[name]
        await self.accounts.revoke(name)
        assert user is not None
        return {
            "user": name,
            "facility": user.facility,
            "temporary_password": password,
            "must_change_password": True,
        }

    async def unlock(self, facility: str | None, name: str, actor: Actor) -> dict[str, Any]:
        """Forget every failed login of ``name``: it may log in at once from anywhere."""
        users = await _all(self)
        user = _staff_of(users, facility, name)
        if actor.name is not None and user.facility is not None:
            check_admin_change(admins_of(users, user.facility), actor, name, stays_admin=True)
        was = await self.guard.unlock(name)
        return {"user": name, "facility": user.facility, "unlocked": True, "was_throttled": was}

    async def remove(self, facility: str, name: str, actor: Actor) -> dict[str, Any]:
        """Delete the account and revoke its tokens (its audit entries stay)."""

        def change(users: dict[str, User]) -> dict[str, User | None]:
            _staff_of(users, facility, name)
            check_admin_change(admins_of(users, facility), actor, name, stays_admin=False)
            return {name: None}

        await self.users.change(change)
        await self.accounts.revoke(name)
        await self.guard.unlock(name)
        return {"user": name, "removed": True}

    async def set_admin(
        self, facility: str, name: str, admin: bool, actor: Actor
    ) -> dict[str, Any]:
        """Grant or revoke clinic admin rights; the user's older tokens are revoked (their
        ``adm`` claim would be stale), so it logs in again."""

        def change(users: dict[str, User]) -> dict[str, User | None]:
            user = _staff_of(users, facility, name)
            check_admin_change(admins_of(users, facility), actor, name, stays_admin=admin)
            return {} if user.admin == admin else {name: replace(user, admin=admin)}

        changed = await self.users.change(change)
        if changed:
            await self.accounts.revoke(name)
        return {"user": name, "admin": admin, "changed": bool(changed)}


async def _all(service: StaffService) -> dict[str, User]:
    return {u.name: u for u in await service.users.all()}
