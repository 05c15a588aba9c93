"""The voice provider protocol: place a call, check and parse a status callback, fetch a
call's state (reconciliation when a callback never comes)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

STATUSES = frozenset(
    {
        "queued",
        "initiated",
        "ringing",
        "answered",
        "completed",
        "busy",
        "no-answer",
        "failed",
        "unknown",
    }
)
FINAL = frozenset({"completed", "busy", "no-answer", "failed", "unknown"})
_PROVIDER_STATUS = {"in-progress": "answered", "canceled": "failed"}


def normal_status(raw: str) -> str:
    """A provider's ``CallStatus`` in the hub's words (``in-progress`` → ``answered``)."""
    status = _PROVIDER_STATUS.get(raw, raw)
    return status if status in STATUSES else "unknown"


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    """One operator-configured provider (the auth token unsealed, in memory only)."""

    name: str
    kind: str  # "twiml" | "dev"
    base_url: str = ""
    account_sid: str = ""
    auth_token: str = ""


@dataclass(frozen=True, slots=True)
class CallRequest:
    to: str
    caller: str
    twiml: str
    status_url: str
    text: str = ""


@dataclass(frozen=True, slots=True)
class Placed:
    ok: bool
    sid: str = ""
    detail: str = ""


@dataclass(frozen=True, slots=True)
class CallUpdate:
    sid: str
    status: str
    duration: int | None = None


class CallProvider(Protocol):
    name: str

    async def place(self, request: CallRequest) -> Placed: ...

    def parse_callback(
        self, url: str, params: Mapping[str, str], signature: str | None
    ) -> CallUpdate | None:
        """The update a signed callback reports; None when the signature is missing or
        wrong (the route answers 403 and changes nothing)."""
        ...

    async def fetch(self, sid: str) -> CallUpdate | None: ...


def twilio_signature(token: str, url: str, params: Mapping[str, str]) -> str:
    """``X-Twilio-Signature``: base64 HMAC-SHA1 with the auth token over the full URL
    followed by the POST parameters sorted by name, each name then value."""
    data = url + "".join(f"{k}{params[k]}" for k in sorted(params))
    digest = hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def signature_ok(token: str, url: str, params: Mapping[str, str], signature: str | None) -> bool:
    if not token or not signature:
        return False
    return hmac.compare_digest(twilio_signature(token, url, params), signature)
