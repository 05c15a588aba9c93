"""The audit log: who did what, when, from where, with what outcome. Append-only.

Every staff and operator action through the API is one entry (``hub.web.routing`` writes it
after the action; logins, failed and throttled ones too, are written by the login use case).
Entries live in Redis streams, never trimmed unless ``JUNBAN_AUDIT_MAXLEN`` says so:

- ``jb:{facility}:audit``: everything done to one facility (its staff's actions, and the
  operator's actions that target it), in the facility's hash tag;
- ``jb:audit:ops``: every operator action, and account events (login, failure, throttling,
  revocation) of operators and of unknown names.

An entry's stream id is its time (ms) and its order; fields are flat strings (see ``FIELDS``).
"""

from __future__ import annotations

import csv
import io
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

from hub import csvsafe, keys, metrics

log = logging.getLogger("junban.audit")

FIELDS = (
    "at",
    "who",
    "role",
    "actor_facility",
    "action",
    "facility",
    "target",
    "ip",
    "user_agent",
    "status",
    "outcome",
)
"""Columns of an entry (and of the CSV export, after ``id``)."""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One action. ``outcome`` is ``ok`` or the error code; ``status`` the HTTP status."""

    who: str
    role: str
    action: str
    status: int
    outcome: str
    actor_facility: str = ""
    facility: str = ""
    """The facility acted on ("" when none, e.g. creating a user)."""
    target: str = ""
    """What was acted on inside it: information number, ticket id, contract id, user."""
    ip: str = ""
    user_agent: str = ""
    at: float = 0.0

    def fields(self) -> dict[str, str]:
        stamp = datetime.fromtimestamp(self.at, UTC).isoformat(timespec="milliseconds")
        return {
            "at": stamp,
            "who": self.who[:100],
            "role": self.role,
            "actor_facility": self.actor_facility,
            "action": self.action[:200],
            "facility": self.facility,
            "target": self.target[:300],
            "ip": self.ip[:64],
            "user_agent": self.user_agent[:200],
            "status": str(self.status),
            "outcome": self.outcome[:64],
        }


def storage_failed(exc: BaseException) -> bool:
    """Is ``exc`` Redis failing (down, stalled, timed out) rather than a bug?"""
    return isinstance(exc, RedisError | OSError)


PAGE_MAX = 1000
"""The most entries one read returns."""


class AuditLog:
    """Appends entries to the facility's stream and/or the operator stream; reads them back.

    Guarantee: an entry, once appended, is never changed; it is removed only by the
    approximate ``maxlen`` trim when one is configured (0 = never).
    """

    def __init__(self, redis: Redis, maxlen: int = 0) -> None:
        self.redis = redis
        self.maxlen = maxlen

    def streams_for(self, entry: AuditEntry) -> list[str]:
        streams = [keys.audit(entry.facility)] if entry.facility else []
        if entry.role == "operator" or not entry.facility:
            streams.append(keys.OPERATOR_AUDIT)
        return streams

    async def append(self, entry: AuditEntry) -> None:
        """One round trip (a pipeline when the entry goes to two streams)."""
        fields: Any = entry.fields()
        streams = self.streams_for(entry)
        trim: dict[str, Any] = {"maxlen": self.maxlen, "approximate": True} if self.maxlen else {}
        if len(streams) == 1:
            await self.redis.xadd(streams[0], fields, **trim)
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for stream in streams:
                pipe.xadd(stream, fields, **trim)
            await pipe.execute()

    async def append_quietly(self, entry: AuditEntry, retries: int = 0) -> None:
        """Append ``entry``, retrying ``retries`` times; a failure is logged and counted,
        never raised (it must not turn the action's answer into an error)."""
        for attempt in range(retries + 1):
            try:
                await self.append(entry)
                return
            except RedisError as exc:
                if attempt == retries:
                    metrics.AUDIT_FAILURES.inc()
                    log.error("audit entry lost (%s): %s", exc, entry)

    async def read(
        self, facility: str | None, *, since_ms: int | None, after: str | None, limit: int
    ) -> list[dict[str, str]]:
        """Up to ``limit`` entries of ``facility``'s log (None: the operator's), oldest first,
        from ``since_ms`` (inclusive) or after the stream id ``after`` (exclusive, paging)."""
        stream = keys.OPERATOR_AUDIT if facility is None else keys.audit(facility)
        start = f"({after}" if after else (str(since_ms) if since_ms is not None else "-")
        rows = cast(
            list[tuple[bytes, dict[bytes, bytes]]],
            await self.redis.xrange(stream, min=start, max="+", count=limit),
        )
        return [_entry(entry_id, data) for entry_id, data in rows]

    async def read_all(
        self, facility: str | None, *, since_ms: int | None, after: str | None, limit: int
    ) -> list[dict[str, str]]:
        """Like ``read``, for up to ``limit`` entries fetched ``PAGE_MAX`` at a time."""
        entries: list[dict[str, str]] = []
        while len(entries) < limit:
            page = await self.read(
                facility, since_ms=since_ms, after=after, limit=min(PAGE_MAX, limit - len(entries))
            )
            entries += page
            if len(page) < PAGE_MAX:
                break
            after = page[-1]["id"]
        return entries


def _entry(entry_id: bytes, data: dict[bytes, bytes]) -> dict[str, str]:
    entry = {"id": entry_id.decode()}
    for name in FIELDS:
        entry[name] = data.get(name.encode(), b"").decode(errors="replace")
    return entry


def to_csv(entries: Iterable[dict[str, str]]) -> str:
    """RFC 4180 CSV with a header row; cells that a spreadsheet would run as a formula
    are prefixed with a quote (``hub.csvsafe.cell``: OWASP CSV injection)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(("id", *FIELDS))
    for entry in entries:
        writer.writerow([csvsafe.cell(entry.get(name, "")) for name in ("id", *FIELDS)])
    return out.getvalue()


READ_DEDUPE_S = 600.0
"""A staff/operator read identical to one audited less than this ago (same subject, role,
address, route, target and outcome) is not written again (a console polling GET /staff)."""


class ReadDedupe:
    """Which audited reads this process wrote in the last ``window_s`` seconds: a repeat of
    the same read (who, role, address, action, facility, target, status, outcome) is not
    written again within the window. In-process and bounded (``max_keys``; when full, the
    expired keys go, and if none had, all of them: at worst a read is written once more)."""

    def __init__(self, window_s: float = READ_DEDUPE_S, max_keys: int = 50_000) -> None:
        self.window_s = window_s
        self.max_keys = max_keys
        self._until: dict[tuple[str, ...], float] = {}

    def first(self, entry: AuditEntry) -> bool:
        """True when ``entry`` must be written (and remember it for the window)."""
        now = time.monotonic()
        key = (entry.who, entry.role, entry.ip, entry.action, entry.facility, entry.target,
               str(entry.status), entry.outcome)  # fmt: skip
        until = self._until.get(key)
        if until is not None and until > now:
            return False
        if len(self._until) >= self.max_keys:
            self._until = {k: t for k, t in self._until.items() if t > now}
            if len(self._until) >= self.max_keys:
                self._until.clear()
        self._until[key] = now + self.window_s
        return True
