"""Admission of live connections (WebSockets, SSE streams): per-address and per-token caps.

One ``Admission`` per kind of connection and per process counts the connections it let in,
by client address and by token, and refuses one that would go over a cap:

- **per token** (``max_per_token``): every connection that presents a token counts against
  its token's identity: role, facility, information number and subject. All tokens of one
  login account (``staff:alice``), of one paired monitor, of one patient's ticket share one
  count, so minting more tokens for the same identity gains nothing.
- **per address** (``max_per_address``): anonymous connections and patient tokens count
  against their client address. IPv6 addresses count by their /64 network, the block one
  subscriber line is given, so rotating addresses within it gains nothing.
- **the clinic's own screens** (staff, monitor, kiosk, partner and operator tokens) do not count
  against the address: a waiting room behind one NAT address, busy with patients' phones,
  never shuts out its reception consoles and queue monitors. They are bounded per token,
  and such tokens come only from a login, a pairing by staff, or the operator.

A refused connection is counted nowhere. Every ``Seat`` that ``take`` hands out must be given
back once with ``release`` when the connection ends, whatever the way it ends; a seat
released twice is released once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hub.auth import Principal
from hub.keys import client_network

SCREEN_ROLES = frozenset({"operator", "staff", "monitor", "kiosk", "partner"})
"""Roles whose connections are not counted against their client address (see above)."""


def token_key(principal: Principal) -> str:
    """The identity a token is counted by (all tokens of one identity share one count)."""
    return "\0".join(
        (principal.role, principal.facility or "", principal.info or "", principal.subject)
    )


@dataclass(eq=False)
class Seat:
    """One admitted connection's place in the counts (what ``release`` gives back)."""

    address: str | None
    """The address key counted, or None (a screen role's token)."""
    token: str | None
    """The token key counted, or None (anonymous)."""
    released: bool = False


@dataclass
class Refusal:
    """Why a connection was refused: which cap, for the close reason or the 429 message."""

    by: str
    """``address`` or ``token``."""

    @property
    def message(self) -> str:
        where = "from this address" if self.by == "address" else "with this token"
        return f"too many connections {where}"


@dataclass
class Admission:
    """See the module docstring. Not thread-safe: one event loop owns it."""

    max_per_address: int
    max_per_token: int
    per_address: dict[str, int] = field(default_factory=dict)
    per_token: dict[str, int] = field(default_factory=dict)

    def take(self, ip: str, principal: Principal | None) -> Seat | Refusal:
        """Count a new connection from ``ip`` with ``principal`` (None: anonymous), or say
        which cap refuses it (then nothing is counted)."""
        token = token_key(principal) if principal is not None else None
        screen = principal is not None and principal.role in SCREEN_ROLES
        address = None if screen else client_network(ip)
        if token is not None and self.per_token.get(token, 0) >= self.max_per_token:
            return Refusal("token")
        if address is not None and self.per_address.get(address, 0) >= self.max_per_address:
            return Refusal("address")
        if token is not None:
            self.per_token[token] = self.per_token.get(token, 0) + 1
        if address is not None:
            self.per_address[address] = self.per_address.get(address, 0) + 1
        return Seat(address, token)

    def release(self, seat: Seat) -> None:
        """Give ``seat`` back (a second release of the same seat does nothing)."""
        if seat.released:
            return
        seat.released = True
        if seat.token is not None:
            _decrement(self.per_token, seat.token)
        if seat.address is not None:
            _decrement(self.per_address, seat.address)

    def retake(self, seat: Seat, ip: str, principal: Principal) -> Seat | Refusal:
        """The connection holding ``seat`` now presents ``principal``'s token: its new seat,
        or the refusal (then ``seat`` is released too: the connection must close)."""
        if seat.token == token_key(principal) and not seat.released:
            return seat
        self.release(seat)
        return self.take(ip, principal)


def _decrement(counts: dict[str, int], key: str) -> None:
    left = counts.get(key, 1) - 1
    if left > 0:
        counts[key] = left
    else:
        counts.pop(key, None)
