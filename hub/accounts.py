"""Staff and operator user accounts: names, argon2 password hashes, role and facility."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import cast

import msgspec
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from redis.asyncio import Redis

from hub import keys

_hasher = PasswordHasher()


@dataclass(frozen=True, slots=True)
class User:
    name: str
    password_hash: str
    role: str
    facility: str | None = None


_decoder = msgspec.msgpack.Decoder(User)


class UserStore:
    """Users in one Redis hash; hashing and checking run off the event loop."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def add(self, name: str, password: str, role: str, facility: str | None) -> User | None:
        """The new user; None when the name is taken (nothing is overwritten)."""
        password_hash = await asyncio.to_thread(_hasher.hash, password)
        user = User(name=name, password_hash=password_hash, role=role, facility=facility)
        created = await self.redis.hsetnx(keys.USERS, name, msgspec.msgpack.encode(user))
        return user if created else None

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
