"""The demo provider: records what would be said (in memory and in the log) and reports
every call answered and completed; no network. The default of a facility."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from hub.phone.providers.base import CallRequest, CallUpdate, Placed

log = logging.getLogger("junban")


@dataclass(frozen=True, slots=True)
class Said:
    sid: str
    to: str
    text: str
    twiml: str


SAID: list[Said] = []
"""What this process would have said (newest last; the demo and tests read it)."""


class DevProvider:
    def __init__(self, name: str = "dev") -> None:
        self.name = name

    async def place(self, request: CallRequest) -> Placed:
        sid = "DEV" + secrets.token_hex(16)
        SAID.append(Said(sid, request.to, request.text, request.twiml))
        del SAID[:-100]
        log.info("phone (dev): would call %s: %s", request.to[:-4] + "****", request.text)
        return Placed(True, sid=sid)

    def parse_callback(
        self, url: str, params: Mapping[str, str], signature: str | None
    ) -> CallUpdate | None:
        return None  # the demo sends no callbacks: none is genuine

    async def fetch(self, sid: str) -> CallUpdate | None:
        return CallUpdate(sid=sid, status="completed", duration=0)
