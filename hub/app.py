"""The composition root: ``create_app(settings)`` wires Redis, the queue core and the routes."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Route

from hub import secrets as sealing
from hub.accounts import AccountService, LoginGuard, TokenVersions, UserStore
from hub.analytics.service import AnalyticsService
from hub.apikeys import ApiKeyService, ApiKeyStore
from hub.audit import AuditLog
from hub.auth import Tokens, load_secret
from hub.booking.service import BookingService
from hub.booking.store import BookStore
from hub.booking.writer import BookWriters
from hub.channels import wsprotocol
from hub.channels.bridge import Bridge
from hub.channels.registry import ChannelRegistry
from hub.channels.runtime import LiveRuntime
from hub.clinic_settings import ClinicSettings
from hub.contracts.gates import check_api_option
from hub.contracts.service import ContractService
from hub.contracts.store import ContractStore
from hub.contracts.sync import FacilitySync
from hub.errorhandlers import EXCEPTION_HANDLERS
from hub.errors import JunbanError
from hub.facilities import FacilityService
from hub.integrations.dispatch import IntegrationsGroup
from hub.integrations.emr import EmrService
from hub.integrations.feed import EventFeed
from hub.integrations.service import IntegrationService
from hub.integrations.wiring import build_integrations
from hub.notify.wiring import Notify, build_notify
from hub.outbox.consumer import Group
from hub.outbox.dead import DeadLetters
from hub.outbox.runner import OutboxRunner, runner_for, start_inline
from hub.pairing import PairingCodes, PairingService
from hub.phone.wiring import PhoneService, build_phone
from hub.queue.actions import QueueActions
from hub.queue.facilities import FacilityStore
from hub.queue.scheduler import Scheduler
from hub.queue.service import QueueService
from hub.queue.store import QueueStore
from hub.ratelimit import RateLimiter
from hub.redispack import hiredis_packing
from hub.routes import API_ROUTES as API_ROUTES  # re-exported: apidocs, tests
from hub.settings import Settings
from hub.shortlinks import ShortLinkService, ShortLinkStore
from hub.staff import StaffService
from hub.web import ops, pages
from hub.web.cors import PublicCORS
from hub.web.openapi import build_openapi
from hub.web.routing import serve

log = logging.getLogger("junban")


@dataclass
class Services:
    """Everything the edge may use, built once per process (``build_services``): the use
    cases that handlers call, what the router needs to authenticate and audit, and the
    stores the keepers and the live channels read."""

    settings: Settings
    redis: aioredis.Redis
    tokens: Tokens
    versions: TokenVersions
    audit: AuditLog
    # the use cases (hub/web handlers call these)
    queues: QueueActions
    contracts: ContractService
    facilities: FacilityService
    clinic: ClinicSettings
    accounts: AccountService
    staff: StaffService
    pairing: PairingService
    shortlinks: ShortLinkService
    apikeys: ApiKeyService
    feed: EventFeed
    integrations: IntegrationService
    emr: EmrService
    phone: PhoneService
    notify: Notify
    # the stores and engines behind them
    queue_store: QueueStore
    facility_store: FacilityStore
    queue_service: QueueService
    contract_store: ContractStore
    sync: FacilitySync
    users: UserStore
    scheduler: Scheduler
    dead_letters: DeadLetters
    analytics: AnalyticsService
    bookings: BookingService
    outbox_groups: list[Group]  # those JUNBAN_INLINE_WORKERS may name; replay hands back to
    live: LiveRuntime | None = None
    bridge: Bridge | None = None
    _day_keeper: asyncio.Task[None] | None = None
    _revoker: asyncio.Task[None] | None = None
    _contract_keeper: asyncio.Task[None] | None = None
    _scheduler: asyncio.Task[None] | None = None
    _summariser: asyncio.Task[None] | None = None
    _booking_keeper: asyncio.Task[None] | None = None
    _outbox: asyncio.Task[None] | None = None

    async def _api_gate(self, facility: str) -> None:
        """Refuse (403 ``option_not_contracted``) another site's page watching a facility
        without the API option (Table 1); an unknown facility is the channel's business."""
        record = await self.facility_store.cached(facility)
        if record is not None:
            check_api_option(record, origin="foreign", own_origins=(), partner=False)

    async def redis_problem(self, timeout: float) -> str | None:
        """None when Redis answers a PING within ``timeout`` seconds, else what went wrong."""
        try:
            await asyncio.wait_for(self.redis.ping(), timeout=timeout)
        except (RedisError, OSError, TimeoutError) as exc:
            return str(exc) or "timeout"
        return None

    async def start_live(self) -> None:
        """Start this process's channel registry and its Redis pub/sub bridge."""
        channels = ChannelRegistry()
        self.bridge = bridge = Bridge(self.redis, channels, self.facility_store, self.queue_store)
        await bridge.start()
        self.live = live = LiveRuntime(
            channels, self.tokens, self.settings, versions=self.versions, api_gate=self._api_gate
        )
        self.accounts.on_revoked = live.close_revoked
        wsprotocol.install(self.live)
        self._day_keeper = asyncio.create_task(self._keep_days(channels), name="day keeper")
        self._revoker = asyncio.create_task(self._close_revoked(self.live), name="revoker")
        self._contract_keeper = asyncio.create_task(self._keep_contracts(), name="contracts")
        self._scheduler = asyncio.create_task(self.scheduler.run_forever(), name="scheduler")
        self._summariser = asyncio.create_task(
            self.analytics.keep(self.settings.analytics_keep_s), name="analytics"
        )
        self._booking_keeper = asyncio.create_task(
            self.bookings.keep(self.settings.bookings_keep_s), name="bookings"
        )
        workers = self.settings.inline_workers  # the outbox groups that run in this process
        self._outbox = start_inline(
            self.redis, self.outbox_groups, workers, self.facility_store, self.settings
        )

    def outbox_runner(self, names: tuple[str, ...]) -> OutboxRunner:
        """The outbox runner of the named groups (``ValueError`` names an unknown one)."""
        return runner_for(self.redis, self.outbox_groups, names, self.facility_store, self.settings)

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

    async def _keep_days(self, channels: ChannelRegistry) -> None:
        """Roll the queues this process's clients watch into a new day, so a monitor left
        on overnight shows today's (empty) queue in the morning, not yesterday's calls."""
        while True:
            await asyncio.sleep(self.settings.day_check_s)
            now = time.time()
            for info, pub in list(channels.latest.items()):
                try:
                    await self.queue_service.roll_day_if_stale(info, pub.data(), now)
                except (JunbanError, RedisError) as exc:
                    log.warning("could not start the day on %s: %s", info, exc)
                except Exception:  # keep the keeper alive whatever one queue does
                    log.exception("could not start the day on %s", info)

    async def stop_live(self) -> None:
        wsprotocol.install(None)
        keepers = (self._day_keeper, self._revoker, self._contract_keeper, self._scheduler)
        for task in (*keepers, self._summariser, self._booking_keeper):
            if task is not None:
                task.cancel()
        if self._outbox is not None:  # gives back its leases on the way out
            self._outbox.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._outbox
        for group in [g for g in self.outbox_groups if isinstance(g, IntegrationsGroup)]:
            await group.aclose()  # the endpoint dispatchers
        await self.phone.aclose()  # the call provider's HTTP client
        if self.bridge is not None:
            await self.bridge.stop()


def connect_redis(url: str, pool_size: int = 64, timeout_s: float = 2.0) -> aioredis.Redis:
    """One client over a bounded pool: a burst waits for a free connection instead of
    failing. RESP2 pinned (the protocol the scripts and parsers are written for).

    Deadlines (``timeout_s``, JUNBAN_REDIS_TIMEOUT): connecting, the wait for a pooled
    connection and each reply are bounded by it, so a stalled Redis fails a command with a
    ``RedisError`` (503 ``redis_unavailable`` with Retry-After) instead of hanging the
    request. A timed-out command is never re-sent (no retries): it may or may not have run,
    and the version check of an append and the client's Idempotency-Key settle which. The
    pub/sub link is not cut by this deadline: the bridge reads with its own short timeout
    and probes the link itself. Commands are packed by hiredis (``hub/redispack.py``)."""
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=pool_size,
        timeout=timeout_s,
        protocol=2,
        socket_connect_timeout=timeout_s,
        socket_timeout=timeout_s,
        retry=Retry(NoBackoff(), 0),
    )
    pool.connection_class = hiredis_packing(pool.connection_class)
    return aioredis.Redis.from_pool(pool)  # the client owns the pool: aclose() closes it


def build_services(settings: Settings) -> Services:
    if settings.redis_url is None:
        raise RuntimeError("create_app needs JUNBAN_REDIS_URL (junban serve sets it)")
    client = connect_redis(settings.redis_url, settings.redis_pool, settings.redis_timeout_s)
    store = QueueStore(
        client,
        stream_maxlen=settings.stream_maxlen,
        idempotency_ttl_s=settings.idempotency_ttl_s,
    )
    facilities = FacilityStore(client)
    service = QueueService(store, facilities)
    contract_store = ContractStore(client)
    sync = FacilitySync(contract_store, facilities, service)
    users = UserStore(client)
    tokens = Tokens(load_secret(settings.secret, settings.data_dir))
    sealing.configure(load_secret(settings.secret, settings.data_dir), settings.secret_previous)
    limiter = RateLimiter(client)
    versions = TokenVersions(client)
    login_guard = LoginGuard(client, *_throttle(settings.login_throttle))
    audit = AuditLog(client, settings.audit_maxlen)
    accounts = AccountService(
        users, login_guard, versions, tokens, limiter, audit, facilities, settings.token_ttl_s
    )
    contract_service = ContractService(contract_store, facilities, service, sync)
    queues = QueueActions(service, store, facilities, limiter, tokens, settings)
    wired = build_integrations(client, settings, facilities, queues)
    notified = build_notify(client, settings, facilities, queues)
    phone = build_phone(client, settings, facilities, queues)
    groups: list[Group] = [wired.group, notified.group, phone.group]  # the outbox groups here
    return Services(
        settings=settings,
        redis=client,
        tokens=tokens,
        versions=versions,
        audit=audit,
        queues=queues,
        contracts=contract_service,
        facilities=FacilityService(facilities, store, service, contract_service, limiter),
        clinic=ClinicSettings(facilities, store, service),
        accounts=accounts,
        staff=StaffService(accounts),
        pairing=PairingService(PairingCodes(client), facilities, limiter, tokens),
        shortlinks=ShortLinkService(ShortLinkStore(client), queues, limiter, tokens),
        apikeys=ApiKeyService(ApiKeyStore(client), facilities, limiter),
        feed=EventFeed(client, facilities),
        integrations=wired.service,
        emr=wired.emr,
        phone=phone.service,
        notify=notified,
        queue_store=store,
        facility_store=facilities,
        queue_service=service,
        contract_store=contract_store,
        sync=sync,
        users=users,
        scheduler=Scheduler(facilities, queues, audit, settings.schedule_tick_s),
        dead_letters=DeadLetters(client, facilities, groups),
        analytics=AnalyticsService(client, facilities, service),
        bookings=BookingService(
            BookWriters(BookStore(client, settings.idempotency_ttl_s)),
            queues,
            facilities,
            tokens,
            settings,
        ),
        outbox_groups=groups,
    )


def _throttle(setting: tuple[int, float]) -> tuple[int, int]:
    failures, seconds = setting
    return failures, max(1, int(seconds))


def create_app(settings: Settings) -> Starlette:
    """The Starlette app over the Redis at ``settings.redis_url``."""
    services = build_services(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await services.start_live()
        # Everything loaded so far (modules, routes, settings) lives as long as the process:
        # keep it out of the cyclic GC, whose full collections otherwise scan it each time and
        # pause every request in flight (measured in loadtest/README.md, "GC pauses").
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await services.stop_live()
            await services.redis.aclose()

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
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[Middleware(PublicCORS)],
    )
    app.state.services = services
    app.state.openapi = build_openapi(API_ROUTES, ops.OPS_PATHS)
    return app


def app_from_env() -> Starlette:
    """uvicorn factory for ``--workers N``: each worker builds its app from JUNBAN_* vars."""
    return create_app(Settings.from_env())
