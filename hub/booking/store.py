"""The booking books in Redis: one hash (``v``, ``state``) and one event stream per queue
and date (``hub/keys.py``), appended by ``book_append.lua`` with a version check."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date as Date
from datetime import timedelta
from importlib import resources
from typing import Literal, cast

import msgspec
from redis.asyncio import Redis

from hub import keys
from hub.booking.model import Book, BookEvent
from hub.queue import calendar

KEEP_DAYS = 8
"""A book expires this many days after its date (names and phones: personal data)."""

_encoder = msgspec.msgpack.Encoder()
_book_decoder = msgspec.msgpack.Decoder(Book)


@dataclass(frozen=True, slots=True)
class Appended:
    outcome: Literal["ok", "conflict", "dup"]
    value: int


class BookStore:
    def __init__(self, redis: Redis, idempotency_ttl_s: int) -> None:
        self.redis = redis
        self.idempotency_ttl_s = idempotency_ttl_s
        lua = resources.files("hub.booking").joinpath("lua")
        self._append = redis.register_script(lua.joinpath("book_append.lua").read_text())

    async def load(self, info: str, day: str) -> Book:
        """The book of ``day`` (empty, version 0, when nobody booked yet)."""
        data = cast(bytes | None, await self.redis.hget(keys.book(info, day), "state"))
        return Book(info=info, day=day) if data is None else _book_decoder.decode(data)

    async def load_many(self, info: str, days: list[str]) -> list[Book]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for day in days:
                pipe.hget(keys.book(info, day), "state")
            found = await pipe.execute()
        return [
            Book(info=info, day=day) if data is None else _book_decoder.decode(data)
            for day, data in zip(days, found, strict=True)
        ]

    async def version(self, info: str, day: str) -> int:
        v = await self.redis.hget(keys.book(info, day), "v")
        return int(v or 0)

    async def append(
        self,
        book: Book,
        events: list[BookEvent],
        expected: int,
        answers: list[tuple[str, bytes]],
        tz: str,
    ) -> Appended:
        """Write ``events`` and the ``book`` after them if the stored version is still
        ``expected``; idempotency answers under their keys."""
        expires = calendar.at_local(
            (Date.fromisoformat(book.day) + timedelta(days=KEEP_DAYS)).isoformat(), "00:00", tz
        )
        found = await self._append(
            keys=[
                keys.book(book.info, book.day),
                keys.book_log(book.info, book.day),
                *(keys.idempotency(book.info, key) for key, _ in answers),
            ],
            args=[
                expected,
                _encoder.encode(book),
                int(expires),
                self.idempotency_ttl_s,
                len(events),
                *(_encoder.encode(event) for event in events),
                *(answer for _, answer in answers),
            ],
        )
        outcome, value = found
        return Appended(cast(Literal["ok", "conflict", "dup"], outcome.decode()), int(value))

    async def stored_answer(self, info: str, key: str) -> bytes | None:
        return cast(bytes | None, await self.redis.get(keys.idempotency(info, key)))
