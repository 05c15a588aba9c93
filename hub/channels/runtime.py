"""What the live connections of one process share: the channel registry, token checks,
settings, the admission counts of WebSockets and SSE streams, and the API-option gate."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from hub.auth import Tokens
from hub.channels import protocol
from hub.channels.admission import Admission
from hub.channels.registry import ChannelRegistry
from hub.settings import Settings

if TYPE_CHECKING:
    from hub.accounts import TokenVersions
    from hub.channels.connection import Connection


class Sink(Protocol):
    """Where a connection's bytes go (the WebSocket protocol object)."""

    def write_frame(self, data: bytes) -> None: ...

    def close_with(self, code: int, reason: str) -> None: ...


@dataclass
class LiveRuntime:
    """What connections of this process share, the admission counts of its WebSockets
    (``ws_caps``) and of its SSE streams (``sse_caps``) among them."""

    channels: ChannelRegistry
    tokens: Tokens
    settings: Settings
    connections: int = 0
    signed_in: dict[Connection, None] = field(default_factory=dict)
    """Connections authenticated with a revocable login token (an ordered set)."""
    versions: TokenVersions | None = None
    """Account token versions (None: login tokens are not checked for revocation here)."""
    api_gate: Callable[[str], Awaitable[None]] | None = None
    """Raises ``option_not_contracted`` when a facility's wait state may not be read from
    another site's page (the API option, Table 1); None: not checked."""
    ws_caps: Admission = field(init=False)
    sse_caps: Admission = field(init=False)

    def __post_init__(self) -> None:
        settings = self.settings
        self.ws_caps = Admission(settings.ws_max_per_ip, settings.ws_max_per_token)
        self.sse_caps = Admission(settings.sse_max_per_ip, settings.sse_max_per_token)

    def close_revoked(self, versions: dict[str, int]) -> int:
        """Close (4401 ``token_revoked``) each connection whose login token is older than
        its account's version in ``versions``; how many were closed."""
        revoked = [
            conn
            for conn in self.signed_in
            if conn.principal is not None
            and conn.principal.token_version is not None
            and conn.principal.token_version < versions.get(conn.principal.subject, 0)
        ]
        for conn in revoked:
            conn.close(protocol.BAD_TOKEN, "token_revoked")
        return len(revoked)
