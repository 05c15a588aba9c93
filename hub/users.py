"""Staff and operator user accounts in one Redis hash (``jb:users``): name, argon2 password
hash, role, facility, clinic admin flag, and whether the password is a temporary one."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, cast

import msgspec
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from redis.asyncio import Redis

from hub import keys
from hub.errors import Unprocessable

PASSWORD_MIN = 8
"""Shortest password accepted (NIST SP 800-63B: at least 8)."""
PASSWORD_MAX = 200


def check_password_policy(password: str, user: str) -> None:
    """422 ``weak_password`` unless ``password`` is 8 to 200 characters and not the name."""
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise Unprocessable(
            f"a password has {PASSWORD_MIN} to {PASSWORD_MAX} characters", code="weak_password"
        )
    if password.strip().casefold() == user.strip().casefold():
        raise Unprocessable("a password may not be the user name", code="weak_password")


_hasher = PasswordHasher()


@dataclass(frozen=True, slots=True)
class User:
    name: str
    password_hash: str
    role: str
    facility: str | None = None
    admin: bool = False
    """A clinic admin: manages its facility's staff accounts (hub.staff)."""
    must_change: bool = False
    """The password is a temporary one: a login may only change it."""


_decoder = msgspec.msgpack.Decoder(User)


class UserStore:
    """Users in one Redis hash; hashing and checking run off the event loop."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def add(
        self,
        name: str,
        password: str,
        role: str,
        facility: str | None,
        *,
        admin: bool = False,
        must_change: bool = False,
    ) -> User | None:
        """The new user; None when the name is taken (nothing is overwritten)."""
        password_hash = await hash_password(password)
        user = User(name, password_hash, role, facility, admin=admin, must_change=must_change)
        created = await self.redis.hsetnx(keys.USERS, name, msgspec.msgpack.encode(user))
        return user if created else None

    async def set_password(
        self, name: str, password: str, *, must_change: bool = False
    ) -> User | None:
        """Store a new hash for ``name`` (None when there is no such user)."""
        password_hash = await hash_password(password)

        def change(users: dict[str, User]) -> dict[str, User | None]:
            user = users.get(name)
            if user is None:
                return {}
            return {name: replace(user, password_hash=password_hash, must_change=must_change)}

        changed = (await self.change(change)).get(name)
        return changed

    async def change(
        self, decide: Callable[[dict[str, User]], dict[str, User | None]]
    ) -> dict[str, User | None]:
        """Read every user, let ``decide`` say which to store (None: delete) and store that
        atomically (``Redis.transaction`` on the users' hash: a concurrent change reruns
        ``decide``); what was stored. ``decide`` may raise to change nothing."""

        async def attempt(pipe: Any) -> dict[str, User | None]:
            raw: dict[bytes, bytes] = await pipe.hgetall(keys.USERS)
            users = {k.decode(): _decoder.decode(v) for k, v in raw.items()}
            changes = decide(users)
            pipe.multi()
            for name, user in changes.items():
                if user is None:
                    pipe.hdel(keys.USERS, name)
                    pipe.hdel(keys.LAST_LOGINS, name)
                else:
                    pipe.hset(keys.USERS, name, msgspec.msgpack.encode(user))
            return changes

        done: dict[str, User | None] = await self.redis.transaction(
            attempt, keys.USERS, value_from_callable=True
        )
        return done

    async def all(self) -> list[User]:
        raw = cast(dict[bytes, bytes], await self.redis.hgetall(keys.USERS))
        return [_decoder.decode(v) for v in raw.values()]

    async def logged_in(self, name: str, at: float) -> None:
        await self.redis.hset(keys.LAST_LOGINS, name, int(at))

    async def last_logins(self, names: list[str]) -> dict[str, int | None]:
        if not names:
            return {}
        raw: list[Any] = await self.redis.hmget(keys.LAST_LOGINS, names)
        return {n: None if v is None else int(v) for n, v in zip(names, raw, strict=True)}

    async def get(self, name: str) -> User | None:
        data = cast(bytes | None, await self.redis.hget(keys.USERS, name))
        return None if data is None else _decoder.decode(data)

    async def authenticate(self, name: str, password: str) -> User | None:
        """The user when the password matches; None otherwise (same cost either way)."""
        user = await self.get(name)
        stored = user.password_hash if user else _DUMMY_HASH
        try:
            await asyncio.to_thread(_hasher.verify, stored, password)
        except (VerificationError, InvalidHashError):
            return None
        return user


_DUMMY_HASH = _hasher.hash("not a real password")


async def hash_password(password: str) -> str:
    """The argon2 hash of ``password``, computed off the event loop."""
    return await asyncio.to_thread(_hasher.hash, password)
