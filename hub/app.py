"""The composition root: ``create_app(settings)`` wires Redis, the queue core and the routes."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from hub.accounts import LoginGuard, TokenVersions, UserStore
from hub.audit import AuditLog
from hub.auth import Tokens, load_secret
from hub.channels import wsprotocol
from hub.channels.bridge import Bridge
from hub.channels.connection import LiveRuntime
from hub.channels.hub import ChannelHub
from hub.contracts.store import ContractStore
from hub.contracts.sync import FacilitySync
from hub.errors import JunbanError
from hub.queue.facilities import FacilityStore
from hub.queue.service import QueueService
from hub.queue.store import QueueStore
from hub.ratelimit import RateLimiter
from hub.settings import Settings
from hub.web import accounts, contracts, facilities, links, live, ops, pages, pairing, queues
from hub.web.cors import PublicCORS
from hub.web.openapi import build_openapi
from hub.web.routing import ApiRoute, json_response, serve

log = logging.getLogger("junban")

API_ROUTES: list[ApiRoute] = [
    *queues.ROUTES,
    *live.ROUTES,
    *facilities.ROUTES,
    *pairing.ROUTES,
    *links.ROUTES,
    *accounts.ROUTES,
    *contracts.ROUTES,
]


@dataclass
class Hub:
    """Everything a request handler may use, built once per process."""

    settings: Settings
    redis: aioredis.Redis
    store: QueueStore
    facilities: FacilityStore
    service: QueueService
    users: UserStore
    tokens: Tokens
    limiter: RateLimiter
    versions: TokenVersions
    login_guard: LoginGuard
    audit: AuditLog
    contracts: ContractStore
    sync: FacilitySync
    live: LiveRuntime | None = None
    bridge: Bridge | None = None
    _day_keeper: asyncio.Task[None] | None = None
    _revoker: asyncio.Task[None] | None = None
    _contract_keeper: asyncio.Task[None] | None = None

    async def start_live(self) -> None:
        """Start this process's channel registry and its Redis pub/sub bridge."""
        channels = ChannelHub()
        self.bridge = bridge = Bridge(self.redis, channels, self.facilities, self.store)
        await bridge.start()
        self.live = LiveRuntime(channels, self.tokens, self.settings, versions=self.versions)
        wsprotocol.install(self.live)
        self._day_keeper = asyncio.create_task(self._keep_days(channels), name="day keeper")
        self._revoker = asyncio.create_task(self._close_revoked(self.live), name="revoker")
        self._contract_keeper = asyncio.create_task(self._keep_contracts(), name="contracts")

    async def _keep_contracts(self) -> None:
        """Bring facilities in line with their contracts when a date arrives (a
        cancellation takes effect, an option ends) or a sync was interrupted."""
        while True:
            await asyncio.sleep(self.settings.day_check_s)
            try:
                await self.sync.run_due(time.time())
            except RedisError as exc:
                log.warning("could not check contracts: %s", exc)
            except Exception:  # keep the keeper alive whatever one round does
                log.exception("could not check contracts")

    async def _close_revoked(self, live: LiveRuntime) -> None:
        """Close this process's WebSockets whose login token was revoked elsewhere (one
        HMGET every ``revoke_check_s`` while any login-token connection is open)."""
        while True:
            await asyncio.sleep(self.settings.revoke_check_s)
            users = {c.principal.subject for c in live.signed_in if c.principal is not None}
            if not users:
                continue
            try:
                live.close_revoked(await self.versions.many(users))
            except RedisError as exc:
                log.warning("could not check token revocations: %s", exc)
            except Exception:  # keep the revoker alive whatever one round does
                log.exception("could not check token revocations")

    async def _keep_days(self, channels: ChannelHub) -> None:
        """Roll the queues this process's clients watch into a new day, so a monitor left
        on overnight shows today's (empty) queue in the morning, not yesterday's calls."""
        while True:
            await asyncio.sleep(self.settings.day_check_s)
            now = time.time()
            for info, pub in list(channels.latest.items()):
                try:
                    await self.service.roll_day_if_stale(info, pub.data(), now)
                except (JunbanError, RedisError) as exc:
                    log.warning("could not start the day on %s: %s", info, exc)
                except Exception:  # keep the keeper alive whatever one queue does
                    log.exception("could not start the day on %s", info)

    async def stop_live(self) -> None:
        wsprotocol.install(None)
        for task in (self._day_keeper, self._revoker, self._contract_keeper):
            if task is not None:
                task.cancel()
        if self.bridge is not None:
            await self.bridge.stop()


def connect_redis(url: str, pool_size: int = 64) -> aioredis.Redis:
    """One client over a bounded pool: a burst waits for a free connection instead of
    failing. RESP2 pinned (the protocol the scripts and parsers are written for)."""
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=pool_size,
        timeout=10,
        protocol=2,
        socket_connect_timeout=5,
        socket_timeout=10,
    )
    return aioredis.Redis.from_pool(pool)  # the client owns the pool: aclose() closes it


def build_hub(settings: Settings) -> Hub:
    if settings.redis_url is None:
        raise RuntimeError("create_app needs JUNBAN_REDIS_URL (junban serve sets it)")
    client = connect_redis(settings.redis_url, settings.redis_pool)
    store = QueueStore(
        client,
        stream_maxlen=settings.stream_maxlen,
        idempotency_ttl_s=settings.idempotency_ttl_s,
    )
    facility_store = FacilityStore(client)
    service = QueueService(store, facility_store)
    contract_store = ContractStore(client)
    return Hub(
        settings=settings,
        redis=client,
        store=store,
        facilities=facility_store,
        service=service,
        users=UserStore(client),
        tokens=Tokens(load_secret(settings.secret, settings.data_dir)),
        limiter=RateLimiter(client),
        versions=TokenVersions(client),
        login_guard=LoginGuard(client, *_lockout(settings.login_lockout)),
        audit=AuditLog(client, settings.audit_maxlen),
        contracts=contract_store,
        sync=FacilitySync(contract_store, facility_store, service),
    )


def _lockout(setting: tuple[int, float]) -> tuple[int, int]:
    failures, seconds = setting
    return failures, max(1, int(seconds))


async def _junban_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, JunbanError)
    headers = None
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        headers = {"Retry-After": str(max(1, round(retry_after)))}
    return json_response(exc.body(), status=exc.status, headers=headers)


HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = HTTP_CODES.get(exc.status_code, "http_error")
    body = {"error": {"code": code, "message": str(exc.detail)}}
    return json_response(body, status=exc.status_code, headers=exc.headers)


async def _redis_error(request: Request, exc: Exception) -> Response:
    log.warning("redis error: %s", exc)
    body = {"error": {"code": "redis_unavailable", "message": "storage is unavailable, retry"}}
    return json_response(body, status=503)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error", exc_info=exc)
    return json_response({"error": {"code": "internal_error", "message": "internal error"}}, 500)


def create_app(settings: Settings) -> Starlette:
    """The Starlette app over the Redis at ``settings.redis_url``."""
    hub = build_hub(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await hub.start_live()
        # Everything loaded so far (modules, routes, settings) lives as long as the process:
        # keep it out of the cyclic GC, whose full collections otherwise scan it each time and
        # pause every request in flight (measured in loadtest/README.md, "GC pauses").
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await hub.stop_live()
            await hub.redis.aclose()

    routes: list[BaseRoute] = [Route(r.path, serve(r), methods=[r.method]) for r in API_ROUTES]
    routes += [
        Route("/healthz", ops.healthz),
        Route("/readyz", ops.readyz),
        Route("/metrics", ops.metrics),
        Route("/openapi.json", ops.openapi),
    ]
    routes += pages.ROUTES
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            JunbanError: _junban_error,
            HTTPException: _http_error,
            RedisError: _redis_error,
            Exception: _server_error,
        },
        middleware=[Middleware(PublicCORS)],
    )
    app.state.hub = hub
    app.state.openapi = build_openapi(API_ROUTES, ops.OPS_PATHS)
    return app


def app_from_env() -> Starlette:
    """uvicorn factory for ``--workers N``: each worker builds its app from JUNBAN_* vars."""
    return create_app(Settings.from_env())
