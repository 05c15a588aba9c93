"""The delivery log ``jb:{F}:deliveries``: one stream entry per attempt, kept 30 days.

Fields: ``event`` (id), ``type``, ``endpoint``, ``kind``, ``attempt``, ``status`` (HTTP
status or ""), ``result`` (``ok`` / ``retry`` / ``failed`` / ``disabled``), ``ms`` (how
long the attempt took), ``info``, ``ticket`` and ``detail`` (the first 512 bytes of the
answer, or the adapter's message). No payload, no name, no phone, no secret.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from hub import keys
from hub.csvout import local_time
from hub.integrations.events import IntegrationEvent
from hub.integrations.senders import Outcome, clip

RETENTION_S = 30 * 86400
READ_MAX = 1000
CSV_MAX = 100_000
CSV_HEADERS = (
    "日時", "イベントID", "種類", "連携先", "連携方式", "試行", "HTTPステータス", "結果",
    "所要ミリ秒", "受付番号ID", "チケットID", "応答",
)  # fmt: skip
FIELDS = (
    "at", "event", "type", "endpoint", "kind", "attempt", "status", "result", "ms", "info",
    "ticket", "detail",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Attempt:
    event: IntegrationEvent
    endpoint_id: str
    kind: str
    attempt: int
    outcome: Outcome
    result: str
    ms: int
    at: float


def record_attempt(pipe: Pipeline, facility: str, attempt: Attempt) -> None:
    """Queue the XADD of one attempt on ``pipe`` (trimmed to 30 days by MINID)."""
    ticket = attempt.event.data.get("ticket")
    ticket_id = ticket.get("id", "") if isinstance(ticket, dict) else ""
    fields: dict[str, Any] = {
        "at": repr(attempt.at),
        "event": attempt.event.id,
        "type": attempt.event.type,
        "endpoint": attempt.endpoint_id,
        "kind": attempt.kind,
        "attempt": attempt.attempt,
        "status": "" if attempt.outcome.status is None else attempt.outcome.status,
        "result": attempt.result,
        "ms": attempt.ms,
        "info": attempt.event.info,
        "ticket": ticket_id or "",
        "detail": clip(attempt.outcome.detail),
    }
    oldest_ms = int((attempt.at - RETENTION_S) * 1000)
    pipe.xadd(keys.deliveries(facility), fields, minid=f"{oldest_ms}-0", approximate=True)  # type: ignore[arg-type]


def _row(entry_id: bytes, fields: dict[bytes, bytes]) -> dict[str, Any]:
    text = {k.decode(): v.decode(errors="replace") for k, v in fields.items()}
    row: dict[str, Any] = {"id": entry_id.decode()}
    for name in FIELDS:
        value: Any = text.get(name, "")
        if name in ("attempt", "ms") or (name == "status" and value):
            value = int(value) if str(value).isdigit() else value
        elif name == "at":
            value = float(value) if value else 0.0
        elif name == "status":
            value = None
        row[name] = value
    return row


async def read(
    redis: Redis,
    facility: str,
    *,
    limit: int,
    endpoint_id: str | None = None,
    before: str | None = None,
) -> list[dict[str, Any]]:
    """The newest attempts first (of one endpoint when ``endpoint_id``), up to ``limit``,
    older than the entry id ``before`` when given."""
    out: list[dict[str, Any]] = []
    if before is not None and not any(part.strip("0") for part in before.split("-")):
        return out  # nothing is older than 0-0
    top = f"({before}" if before else "+"
    while len(out) < limit:
        page = cast(
            list[tuple[bytes, dict[bytes, bytes]]],
            await redis.xrevrange(keys.deliveries(facility), max=top, min="-", count=500),
        )
        if not page:
            break
        for entry_id, fields in page:
            row = _row(entry_id, fields)
            if endpoint_id is None or row["endpoint"] == endpoint_id:
                out.append(row)
                if len(out) >= limit:
                    break
        top = f"({page[-1][0].decode()}"
    return out


def csv_rows(rows: Sequence[dict[str, Any]], zone: str) -> list[list[object]]:
    """The CSV rows of ``rows`` (times in ``zone`` as ``YYYY/MM/DD HH:MM:SS``)."""
    return [
        [
            local_time(float(r["at"] or 0), zone),
            r["event"],
            r["type"],
            r["endpoint"],
            r["kind"],
            r["attempt"],
            "" if r["status"] is None else r["status"],
            r["result"],
            r["ms"],
            r["info"],
            r["ticket"],
            r["detail"],
        ]
        for r in rows
    ]
