"""Builds the phone call-out option for one hub process: its store, service and the
``phone`` outbox group (called from ``hub.app.build_services``; the root stays small)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import redis.asyncio as aioredis

from hub.integrations.guard import outbound_client
from hub.phone.service import PhoneService as PhoneService
from hub.phone.store import PhoneStore
from hub.phone.worker import PhoneGroup
from hub.queue.actions import QueueActions
from hub.queue.facilities import FacilityStore
from hub.settings import Settings


@dataclass(frozen=True, slots=True)
class Phone:
    service: PhoneService
    group: PhoneGroup
    """The ``phone`` outbox group."""


def build_phone(
    client: aioredis.Redis, settings: Settings, facilities: FacilityStore, queues: QueueActions
) -> Phone:
    def http() -> httpx.AsyncClient:  # providers are public services; loopback in tests only
        loopback = settings.integrations_allow_loopback
        return outbound_client(allow_private=loopback, allow_loopback=loopback)

    service = PhoneService(
        PhoneStore(client),
        facilities,
        queues,
        http,
        public_url=settings.public_url or "http://127.0.0.1:8000",
        server_hours=settings.service_hours,
        retry_scale=settings.retry_scale,
    )
    return Phone(service=service, group=PhoneGroup(service))
