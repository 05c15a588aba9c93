"""Channel names and who may subscribe to them (docs/api.md, "WebSocket").

queue:{info}          public view of one queue          anyone
facility:{facility}   public views of all its counters  anyone
staff:{info}          staff view (personal data)        staff of that facility, operator
ticket:{info}:{id}    one ticket                        that ticket's token, staff
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hub.auth import Principal
from hub.errors import BadRequest, Forbidden, Unauthorized

_PATTERNS = {
    "queue": re.compile(r"^queue:([0-9]{1,8})-([0-9]{2})\Z"),
    "facility": re.compile(r"^facility:([0-9]{1,8})\Z"),
    "staff": re.compile(r"^staff:([0-9]{1,8})-([0-9]{2})\Z"),
    "ticket": re.compile(r"^ticket:([0-9]{1,8})-([0-9]{2}):([A-Za-z0-9_-]{1,32})\Z"),
}


@dataclass(frozen=True, slots=True)
class Channel:
    name: str
    kind: str
    facility: str
    info: str | None = None
    ticket: str | None = None

    @property
    def private(self) -> bool:
        """Staff and ticket channels need the queue's full state, not only its public view."""
        return self.kind in ("staff", "ticket")


def parse_channel(name: str) -> Channel:
    kind = name.partition(":")[0]
    pattern = _PATTERNS.get(kind)
    match = pattern.match(name) if pattern else None
    if match is None:
        raise BadRequest(f"unknown channel {name[:80]!r}", code="unknown_channel")
    facility = match.group(1)
    if kind == "facility":
        return Channel(name, kind, facility)
    info = f"{facility}-{match.group(2)}"
    ticket = match.group(3) if kind == "ticket" else None
    return Channel(name, kind, facility, info, ticket)


def authorize(channel: Channel, principal: Principal | None) -> None:
    """Raise Unauthorized/Forbidden unless ``principal`` may watch ``channel``."""
    if channel.kind in ("queue", "facility"):
        return
    if principal is None:
        raise Unauthorized(f"{channel.kind} channels need a token", code="unauthorized")
    if principal.is_staff_of(channel.facility):
        return
    if channel.kind == "ticket" and channel.info is not None and channel.ticket is not None:
        if principal.holds_ticket(channel.info, channel.ticket):
            return
    raise Forbidden(f"this token may not watch {channel.name}", code="forbidden")
