"""One WebSocket client's state machine: auth, subscriptions, limits and bounded output.

Output is conflating: while the socket is full (the transport paused writing), a new state
for a channel replaces the one waiting, so a slow client gets the newest state, never a
backlog; a client whose socket stays full ``ws_slow_s`` is closed with 4408.

A login token (one with a token version, ``tv``) is checked against its account's current
version before it counts (``?token=`` at the upgrade, or an ``auth`` frame): a revoked one
closes the socket with 4401 ``token_revoked``. The check is a dict lookup when this process
knows the version (``TokenVersions.cached``), else one HGET; meanwhile the client's frames
wait in order, so no private channel is answered before the token is known good.

Admission (``hub/channels/admission.py``): a connection is counted per client address and per
token (``JUNBAN_WS_MAX_PER_IP``, ``JUNBAN_WS_MAX_PER_TOKEN``); one over a cap is closed with
4429. A ``?token=`` is verified before the connection is counted, so a staff or monitor token
is never refused because its address is busy with anonymous phones; an ``auth`` frame moves
the connection's count to its token (4429 when that token is at its cap).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from hub import metrics
from hub.auth import Principal
from hub.channels import protocol
from hub.channels.admission import Refusal, Seat
from hub.channels.names import Channel, authorize, parse_channel
from hub.channels.protocol import Auth, Ping, Publication, Sub, Unsub
from hub.channels.runtime import LiveRuntime, Sink
from hub.errors import JunbanError, Unavailable

if TYPE_CHECKING:
    from hub.accounts import TokenVersions

log = logging.getLogger("junban")


class Connection:
    """See the module docstring."""

    __slots__ = (
        "rt",
        "sink",
        "codec",
        "ip",
        "principal",
        "subs",
        "known",
        "pending",
        "paused_since",
        "closed",
        "_bucket",
        "_bucket_at",
        "_timer",
        "_expiry",
        "_held",
        "_checking",
        "_seat",
        "foreign",
    )

    def __init__(
        self, rt: LiveRuntime, sink: Sink, codec: str, ip: str, foreign: bool = False
    ) -> None:
        self.rt = rt
        self.foreign = foreign
        """Opened by another site's page (its Origin is not the hub's): public channels of a
        facility without the API option are refused (``LiveRuntime.api_gate``)."""
        self.sink = sink
        self.codec = codec
        self.ip = ip
        self.principal: Principal | None = None
        self.subs: dict[str, Channel] = {}
        self.known: dict[tuple[str, str], tuple[str, int]] = {}
        self.pending: dict[tuple[str, str], tuple[Channel, Publication]] = {}
        self.paused_since = 0.0
        """monotonic time the socket filled up; 0.0 while it drains normally."""
        self.closed = False
        self._bucket = float(rt.settings.ws_frame_rate[0])
        self._bucket_at = time.monotonic()
        self._timer: asyncio.TimerHandle | None = None
        self._expiry: asyncio.TimerHandle | None = None
        self._held: list[protocol.ClientFrame] | None = None
        """Frames that arrived while a token's version is being checked (None: none is)."""
        self._checking: asyncio.Task[None] | None = None
        self._seat: Seat | None = None

    # ---- lifecycle ----------------------------------------------------------------------

    def open(self, token: str | None) -> None:
        """Admit the connection (4429 over a cap), then authenticate ``token`` if given (4401
        when it is bad)."""
        rt = self.rt
        rt.connections += 1
        principal = None
        if token is not None:
            try:
                principal = rt.tokens.verify(token)
            except JunbanError as exc:
                self.close(protocol.BAD_TOKEN, exc.code)
                return
        seat = rt.ws_caps.take(self.ip, principal)
        if isinstance(seat, Refusal):
            self.close(protocol.RATE_LIMITED, seat.message)
            return
        self._seat = seat
        if principal is not None:
            self._verified(principal)
        self._arm_idle_timer()

    def close(self, code: int, reason: str) -> None:
        if not self.closed:
            metrics.WS_CLOSES.labels(str(int(code))).inc()
            try:
                self.sink.close_with(code, reason)
            finally:
                self.gone()

    def gone(self) -> None:
        """The socket is closed (by us or the peer): leave every channel."""
        if self.closed:
            return
        self.closed = True
        rt = self.rt
        rt.connections -= 1
        rt.signed_in.pop(self, None)
        if self._seat is not None:
            rt.ws_caps.release(self._seat)
            self._seat = None
        for channel in self.subs.values():
            rt.channels.unsubscribe(self, channel)
        self.subs.clear()
        self.pending.clear()
        for timer in (self._timer, self._expiry):
            if timer is not None:
                timer.cancel()
        if self._checking is not None:
            self._checking.cancel()
            self._checking = None
        self._held = None

    # ---- inbound ------------------------------------------------------------------------

    def on_frame(self, data: bytes, *, text: bool) -> None:
        if self.closed:
            return
        if not self._take_token():
            self.close(protocol.RATE_LIMITED, "too many frames")
            return
        try:
            frame = protocol.decode_client_frame(data, text=text)
        except protocol.MalformedFrame as exc:
            self.close(protocol.MALFORMED, f"malformed frame: {exc}"[:120])
            return
        if self._held is not None:  # a token's version is being checked: keep the order
            self._held.append(frame)
            return
        self._dispatch(frame)

    def _dispatch(self, frame: protocol.ClientFrame) -> None:
        if isinstance(frame, Sub):
            self._subscribe(frame)
        elif isinstance(frame, Unsub):
            self._unsubscribe(frame.ch)
        elif isinstance(frame, Auth):
            self._auth(frame.token)
        elif isinstance(frame, Ping):
            self._send({"op": "pong"})

    def _take_token(self) -> bool:
        count, window = self.rt.settings.ws_frame_rate
        now = time.monotonic()
        self._bucket = min(count, self._bucket + (now - self._bucket_at) * count / window)
        self._bucket_at = now
        if self._bucket < 1:
            return False
        self._bucket -= 1
        return True

    def _auth(self, token: str) -> None:
        """(Re)authenticate: a revoked login token closes the connection (4401), private
        channels the new token may not watch are dropped, and the connection closes (4401)
        when the token expires."""
        try:
            principal = self.rt.tokens.verify(token)
        except JunbanError as exc:
            self.close(protocol.BAD_TOKEN, exc.code)
            return
        self._verified(principal)

    def _verified(self, principal: Principal) -> None:
        """``principal``'s token verified: check its version (a revoked one closes with
        4401), then sign in with it."""
        versions = self.rt.versions
        if principal.token_version is None or versions is None:
            self._signed_in(principal)
            return
        current = versions.cached(principal.subject)
        if current is not None:
            self._check_version(principal, current)
            return
        self._held = self._held if self._held is not None else []
        self._checking = asyncio.get_running_loop().create_task(
            self._fetch_version(principal, versions)
        )

    async def _fetch_version(self, principal: Principal, versions: TokenVersions) -> None:
        try:
            current = await versions.current(principal.subject)
        except Exception as exc:  # storage down: the token cannot be checked, so not served
            log.warning("could not check a token's version: %s", exc)
            self._checking = None
            self.close(protocol.SERVICE_RESTART, "token check unavailable, retry")
            return
        self._checking = None
        if self.closed:
            return
        held, self._held = self._held or [], None
        self._check_version(principal, current)
        self._replay(held)

    def _replay(self, held: list[protocol.ClientFrame]) -> None:
        """Dispatch the frames held during a check, in order, until another check holds."""
        while held and self._held is None and not self.closed:
            self._dispatch(held.pop(0))
        if held and self._held is not None:  # a frame among them started a check
            self._held[:0] = held

    def _check_version(self, principal: Principal, current: int) -> None:
        assert principal.token_version is not None
        if principal.token_version < current:
            self.close(protocol.BAD_TOKEN, "token_revoked")
            return
        self._signed_in(principal)

    def _signed_in(self, principal: Principal) -> None:
        if self._seat is not None:  # counted under the token from now on (4429: at its cap)
            seat = self.rt.ws_caps.retake(self._seat, self.ip, principal)
            self._seat = seat if isinstance(seat, Seat) else None
            if isinstance(seat, Refusal):
                self.close(protocol.RATE_LIMITED, seat.message)
                return
        self.principal = principal
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        if principal.token_version is not None:
            self.rt.signed_in[self] = None
        else:
            self.rt.signed_in.pop(self, None)
        if principal.expires_at is not None:
            loop = asyncio.get_running_loop()
            delay = max(0.0, principal.expires_at - time.time())
            self._expiry = loop.call_later(delay, self._expired)
        for channel in [c for c in self.subs.values() if c.private]:
            try:
                authorize(channel, principal)
            except JunbanError as exc:
                self.channel_gone(channel, exc.code, exc.message)

    def _expired(self) -> None:
        self._expiry = None
        self.close(protocol.BAD_TOKEN, "token_expired")

    def _subscribe(self, frame: Sub) -> None:
        try:
            channel = parse_channel(frame.ch)
            authorize(channel, self.principal)
        except JunbanError as exc:
            self._error(exc.code, exc.message, frame.ch)
            return
        gate = self.rt.api_gate
        if self.foreign and gate is not None and not channel.private:
            self._held = self._held if self._held is not None else []
            self._checking = asyncio.get_running_loop().create_task(
                self._gated(gate, frame, channel)
            )
            return
        self._join(frame, channel)

    async def _gated(
        self, gate: Callable[[str], Awaitable[None]], frame: Sub, channel: Channel
    ) -> None:
        """Join ``channel`` once the API option allows it (frames meanwhile wait in order)."""
        try:
            await gate(channel.facility)
            refusal = None
        except JunbanError as exc:
            refusal = exc
        except Exception as exc:  # storage down: not served, the client retries
            log.warning("could not check a facility's API option: %s", exc)
            refusal = Unavailable("could not check the API option, retry", code="unavailable")
        self._checking = None
        if self.closed:
            return
        held, self._held = self._held or [], None
        if refusal is None:
            self._join(frame, channel)
        else:
            self._error(refusal.code, refusal.message, frame.ch)
        self._replay(held)

    def _join(self, frame: Sub, channel: Channel) -> None:
        if channel.name in self.subs:
            self._unsubscribe(channel.name, quiet=True)
        elif len(self.subs) >= self.rt.settings.ws_max_subscriptions:
            self._error(
                code="too_many_subscriptions",
                message="unsubscribe from something first",
                ch=frame.ch,
            )
            return
        if frame.v is not None and frame.epoch is not None and channel.info is not None:
            self.known[(channel.name, channel.info)] = (frame.epoch, frame.v)
        self.subs[channel.name] = channel
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._send({"op": "subscribed", "ch": channel.name})
        self.rt.channels.subscribe(self, channel)

    def _unsubscribe(self, name: str, quiet: bool = False) -> None:
        channel = self.subs.pop(name, None)
        if channel is not None:
            self.rt.channels.unsubscribe(self, channel)
            for key in [k for k in self.known if k[0] == name]:
                del self.known[key]
            for key in [k for k in self.pending if k[0] == name]:
                del self.pending[key]
        if not quiet:
            self._send({"op": "unsubscribed", "ch": name})
        if not self.subs:
            self._arm_idle_timer()

    def _arm_idle_timer(self) -> None:
        if self._timer is None and not self.closed:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self.rt.settings.ws_idle_s, self._idle)

    def _idle(self) -> None:
        self._timer = None
        if not self.subs:
            self.close(protocol.GOING_AWAY, "idle: no subscriptions")

    # ---- outbound -----------------------------------------------------------------------

    def deliver(self, channel: Channel, pub: Publication) -> None:
        """The hot path: two dict lookups and one write of shared bytes (``newer`` inlined:
        this runs once per subscriber per change)."""
        name = channel.name
        if self.subs.get(name) is not channel:
            return
        key = (name, pub.info)
        version = pub.version
        held = self.known.get(key)
        if held is not None and held[0] == version[0] and version[1] <= held[1]:
            return
        if self.paused_since:
            self.pending[key] = (channel, pub)
            return
        self.known[key] = version
        self.sink.write_frame(pub.ws_frame(name, self.codec))

    def channel_gone(self, channel: Channel, code: str, message: str) -> None:
        self._error(code, message, channel.name)
        self._unsubscribe(channel.name, quiet=True)

    def pause(self) -> None:
        if not self.paused_since:
            self.paused_since = since = time.monotonic()
            loop = asyncio.get_running_loop()
            loop.call_later(self.rt.settings.ws_slow_s, self._check_slow, since)

    def resume(self) -> None:
        self.paused_since = 0.0
        pending, self.pending = self.pending, {}
        for channel, pub in pending.values():
            self.deliver(channel, pub)

    def _check_slow(self, since: float) -> None:
        if self.paused_since == since and not self.closed:
            self.close(protocol.TOO_SLOW, "too slow to keep up")

    def _send(self, message: dict[str, Any]) -> None:
        self.sink.write_frame(protocol.control_frame(message, self.codec))

    def _error(self, code: str, message: str, ch: str | None = None) -> None:
        frame: dict[str, Any] = {"op": "error", "code": code, "message": message}
        if ch is not None:
            frame["ch"] = ch[:128]
        self._send(frame)
