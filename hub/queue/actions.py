"""The use cases of one queue that the HTTP layer calls: read today's queue, take a ticket
under the facility's limits (Art. 37), and run a staff command.

A handler parses its request into the plain values these take and renders what they return;
every rule (who may issue which ticket, which limit applies, what "today" is) lives here or
in ``rules``, every Redis call in the stores.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from typing import Any

import orjson

from hub import metrics
from hub.auth import Tokens
from hub.errors import Forbidden, NotFound, RateLimited
from hub.queue import calendar, rules, views
from hub.queue.facilities import FacilityStore
from hub.queue.model import Command, Configure, DayStarted, IssueTicket, QueueConfig, QueueState
from hub.queue.service import Idempotency, QueueService, Responder
from hub.queue.store import QueueStore
from hub.ratelimit import RateLimiter
from hub.settings import Settings


@dataclass(frozen=True, slots=True)
class TicketOrder:
    """What a caller asks for when taking a ticket (the parsed body, and who asks)."""

    staff: bool
    """The caller is staff of the queue's facility (or the operator)."""
    client_ip: str
    channel: str | None = None
    name: str = ""
    phone: str = ""
    note: str = ""
    priority: bool = False


@dataclass(frozen=True, slots=True)
class PublicView:
    """A queue's public view as stored (JSON bytes) with its version and epoch."""

    body: bytes
    version: int
    epoch: str


class QueueActions:
    """Every use case of a queue the web layer needs, over the stores and the writer."""

    def __init__(
        self,
        service: QueueService,
        store: QueueStore,
        facilities: FacilityStore,
        limiter: RateLimiter,
        tokens: Tokens,
        settings: Settings,
    ) -> None:
        self.service = service
        self.store = store
        self.facilities = facilities
        self.limiter = limiter
        self.tokens = tokens
        self.settings = settings

    async def public_view(self, info: str, now: float) -> PublicView:
        """Today's public view: a queue nobody has touched today is started first, so a
        monitor never shows yesterday's calls. 404 ``unknown_queue``."""
        found = await self.store.load_view(info)
        if found is None:
            raise NotFound("no such queue", code="unknown_queue")
        parsed = orjson.loads(found[0])
        if await self.service.roll_day_if_stale(info, parsed, now):
            found = await self.store.load_view(info) or found
            parsed = orjson.loads(found[0])
        return PublicView(body=found[0], version=found[1], epoch=str(parsed.get("epoch", "")))

    async def exists(self, info: str) -> bool:
        return await self.store.load_view(info) is not None

    async def today(self, info: str, now: float) -> QueueState:
        """The queue as of now: if no command has started today yet, yesterday's tickets
        are gone already (as the first command will make them), without writing anything.
        404 ``unknown_queue``."""
        state = await self.store.load(info)
        if state is None:
            raise NotFound("no such queue", code="unknown_queue")
        day = calendar.business_day(now, state.config.tz)
        return rules.evolve(state, DayStarted(at=now, day=day)) if day > state.day else state

    async def ticket_today(self, info: str, ticket_id: str, now: float) -> QueueState:
        """Today's queue, which holds ``ticket_id``; 404 ``unknown_ticket`` otherwise."""
        state = await self.today(info, now)
        if ticket_id not in state.tickets:
            raise NotFound("no such ticket in today's queue", code="unknown_ticket")
        return state

    async def take_ticket(
        self, info: str, facility: str, order: TicketOrder, idem: Idempotency | None, now: float
    ) -> dict[str, Any]:
        """Issue a ticket: a web ticket for anyone (counted against Art. 37's limits), a
        desk, kiosk, phone or priority ticket for staff only. A retried Idempotency-Key gets
        its first ticket back before any limit is counted. The answer carries the ticket's
        view, the patient's token and the page URL."""
        channel = order.channel or ("desk" if order.staff else "web")
        if not order.staff and (channel != "web" or order.priority):
            raise Forbidden("only staff may issue desk, kiosk, phone or priority tickets")
        if idem is not None:
            first = await self.service.replay(info, idem)
            if first is not None:
                return dict(first)
        if not order.staff:
            await self._count_web_ticket(facility, order.client_ip)
        ticket_id = secrets.token_urlsafe(9)
        command = IssueTicket(
            at=now,
            ticket_id=ticket_id,
            channel=channel,
            name=order.name,
            phone=order.phone,
            note=order.note,
            priority=order.priority,
            service_hours=self.settings.service_hours if channel == "web" else None,
        )

        def respond(state: QueueState) -> dict[str, Any]:
            return {
                **views.ticket_view(state, ticket_id),
                "token": self.tokens.patient(info, ticket_id),
                "url": f"/q/{info}/t/{ticket_id}",
            }

        result: dict[str, Any] = await self.service.execute(info, command, respond, idem)
        return result

    async def _count_web_ticket(self, facility: str, client_ip: str) -> None:
        """Art. 37: the facility's own limits when the operator set some (read from this
        process's 2-second cache of the record), else the global ones; one GCRA call."""
        record = await self.facilities.cached(facility)
        rate_ip = (record.rate_ip if record else None) or self.settings.rate_ip
        rate = (record.rate if record else None) or self.settings.rate_facility
        try:
            limits = [("ip", client_ip, rate_ip), ("facility", facility, rate)]
            await self.limiter.hit(limits, facility)
        except RateLimited:
            if record is not None and (record.rate or record.rate_ip):
                metrics.FACILITY_LIMITED.labels(facility).inc()
            raise

    async def run(
        self, info: str, command: Command, respond: Responder, idem: Idempotency | None
    ) -> Any:
        """Run one command on the queue (group-committed); ``respond(state after it)``."""
        return await self.service.execute(info, command, respond, idem)

    async def configure(
        self, info: str, facility: str, config: QueueConfig, idem: Idempotency | None, now: float
    ) -> Any:
        """Set the queue's configuration; its time zone is always the facility's."""
        record = await self.facilities.get(facility)
        if record is None:
            raise NotFound("no such queue", code="unknown_queue")
        command = Configure(at=now, config=replace(config, tz=record.tz))
        return await self.service.execute(info, command, views.staff_view, idem)
