"""The names every notification channel shares: the message, the result of a send, the
channel protocol and the registry ``CHANNELS`` (filled by hub/notify/wiring.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Message:
    """One notification to one ticket's patient: the number first, never a personal name."""

    facility: str
    info: str
    ticket_id: str
    number: int
    trigger: str
    """``near`` | ``called`` | ``recalled`` | ``absent``."""
    n: int
    """The trigger's count (the recall number; 0 otherwise)."""
    ahead: int | None
    clinic: str
    """The facility's name (its profile)."""
    title: str
    body: str
    """Title and body in the message's language (hub/notify/messages.py)."""
    path: str
    """The ticket page's path ``/q/{info}/t/{id}`` (no token)."""
    lang: str = "ja"


@dataclass(frozen=True, slots=True)
class SendResult:
    """What a channel made of one send."""

    ok: bool
    gone: bool = False
    """The target is gone for good (push 404/410): drop it."""
    retry: bool = False
    """Try again later (5xx, timeouts)."""
    detail: str = ""


class NotifyChannel(Protocol):
    """A way to reach a patient (``webpush``, ``email``, ``line``)."""

    name: str

    async def send(self, target: dict[str, Any], message: Message) -> SendResult:
        """Deliver ``message`` to ``target`` (the stored, unsealed subscription part)."""
        ...

    def check_target(self, raw: dict[str, Any]) -> dict[str, Any]:
        """Validate the subscribe body's part for this channel and return the target to
        store; raise hub.errors.BadRequest/Unprocessable with a clear code."""
        ...


CHANNELS: dict[str, NotifyChannel] = {}
"""The channels this hub has, by name (filled by hub/notify/wiring.py from the settings)."""
