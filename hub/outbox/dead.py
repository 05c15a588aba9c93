"""Dead letters of the outbox: the entries a group failed on ``MAX_DELIVERIES`` times,
listed for the facility's staff and replayed.

Replay hands the entry back to the group it died in (``group.handle`` with that one entry,
its original id and fields), not to the outbox: a new outbox entry would reach every group
again (a second "almost your turn" message, a second ORCA acceptance). On success the dead
letter is deleted; on failure it stays and the caller gets 503 ``replay_failed``.
"""

from __future__ import annotations

import re
from typing import Any, cast

from redis.asyncio import Redis

from hub import keys
from hub.errors import NotFound, Unavailable
from hub.outbox.consumer import Group
from hub.outbox.entry import parse_entry
from hub.queue.facilities import FacilityStore

DEAD_ID = re.compile(r"\d{1,20}-\d{1,20}")
LIST_LIMIT = 200


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _row(dead_id: bytes, fields: dict[bytes, bytes]) -> dict[str, Any]:
    text = {_text(k): v for k, v in fields.items()}
    kinds = _text(text.get("kinds", b""))
    version = _text(text.get("v", b"0"))
    return {
        "id": _text(dead_id),
        "entry": _text(text.get("entry", b"")),
        "group": _text(text.get("group", b"")),
        "deliveries": int(_text(text.get("deliveries", b"0")) or 0),
        "error": _text(text.get("error", b"")),
        "info": _text(text.get("info", b"")),
        "v": int(version) if version.isdigit() else 0,
        "kinds": [k for k in kinds.split(",") if k],
        "at": int(_text(dead_id).split("-")[0]) / 1000,
    }


class DeadLetters:
    """The facility staff's view of its outbox dead letters (``jb:{F}:outbox:dead``)."""

    def __init__(self, redis: Redis, facilities: FacilityStore, groups: list[Group]) -> None:
        self.redis = redis
        self.facilities = facilities
        self.groups = groups
        """The groups this process knows (the app's registry; replay needs the dead
        letter's group among them)."""

    async def _known(self, facility: str) -> None:
        if await self.facilities.cached(facility) is None:
            raise NotFound("no such facility", code="unknown_facility")

    async def list(self, facility: str) -> dict[str, Any]:
        """The newest dead letters first (at most ``LIST_LIMIT``)."""
        await self._known(facility)
        found = await self.redis.xrevrange(keys.outbox_dead(facility), count=LIST_LIMIT)
        rows = cast(list[tuple[bytes, dict[bytes, bytes]]], found)
        return {"dead": [_row(dead_id, fields) for dead_id, fields in rows]}

    async def replay(self, facility: str, dead_id: str) -> dict[str, Any]:
        """Hand the dead letter back to its group; deleted when the group took it."""
        await self._known(facility)
        stream = keys.outbox_dead(facility)
        found = []
        if DEAD_ID.fullmatch(dead_id):
            found = cast(list[Any], await self.redis.xrange(stream, dead_id, dead_id))
        if not found:
            raise NotFound("no such dead letter", code="unknown_dead_letter")
        fields = cast(dict[bytes, bytes], found[0][1])
        row = _row(found[0][0], fields)
        group = next((g for g in self.groups if g.name == row["group"]), None)
        if group is None:
            raise Unavailable(f"no outbox group {row['group']!r} here", code="replay_failed")
        try:
            entry = parse_entry(facility, row["entry"], fields)
            await group.handle(facility, [entry])
        except Exception as exc:
            message = f"the group failed again: {type(exc).__name__}: {exc}"[:512]
            raise Unavailable(message, code="replay_failed") from exc
        await self.redis.xdel(stream, dead_id)
        return {"replayed": row}
