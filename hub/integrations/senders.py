"""What a sender is: one kind of endpoint (webhook, ORCA, FHIR) delivering one event.

``SENDERS`` is filled by the composition root (``hub/app.py``): ``webhook`` (webhooks.py),
``orca`` (orca.py), ``fhir`` (fhir.py). The dispatcher (dispatch.py) calls
``SENDERS[endpoint.kind].send`` for the head of each endpoint's stream and follows the
``Outcome``: done, retry on the schedule, stop retrying, or disable the endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from hub.integrations.endpoints import Endpoint
    from hub.integrations.events import IntegrationEvent

DETAIL_MAX = 512
"""The delivery log keeps the first 512 bytes of an answer."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of one delivery attempt."""

    ok: bool
    retry: bool = True
    """False: stop retrying this event (it is failed for good)."""
    status: int | None = None
    """The HTTP status, if an answer came."""
    detail: str = ""
    """The first 512 bytes of the answer, or the adapter's message."""
    annotations: tuple[tuple[str, str, str], ...] = ()
    """(ticket_id, key, value) to show staff through ``QueueActions.annotate``."""
    disable: bool = False
    """410 Gone: disable the endpoint."""


class Sender(Protocol):
    kind: str

    async def send(self, endpoint: Endpoint, event: IntegrationEvent) -> Outcome: ...


SENDERS: dict[str, Sender] = {}
"""kind -> sender; filled in hub/app.py."""


def clip(text: str, limit: int = DETAIL_MAX) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes (never inside a character)."""
    raw = text.encode()
    return text if len(raw) <= limit else raw[:limit].decode(errors="ignore")
