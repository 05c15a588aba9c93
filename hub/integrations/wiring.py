"""Builds the EMR link option and webhooks for one hub process: the senders and lookups of
each endpoint kind, the endpoint store and the outbox group that feeds them (called from
``hub.app.build_services``; the composition root stays small)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import redis.asyncio as aioredis

from hub.integrations.dispatch import IntegrationsGroup
from hub.integrations.emr import LOOKUPS, EmrService
from hub.integrations.endpoints import EndpointStore
from hub.integrations.fhir import FhirLookup, FhirSender
from hub.integrations.guard import outbound_client
from hub.integrations.orca import OrcaLookup, OrcaSender, facility_zone, ticket_annotations
from hub.integrations.senders import SENDERS
from hub.integrations.service import IntegrationService
from hub.integrations.webhooks import WebhookSender
from hub.outbox.runner import consumer_name
from hub.queue.actions import QueueActions
from hub.queue.facilities import FacilityStore
from hub.settings import Settings


@dataclass(frozen=True, slots=True)
class Integrations:
    endpoints: EndpointStore
    service: IntegrationService
    emr: EmrService
    group: IntegrationsGroup
    """The ``integrations`` outbox group: copies events to endpoints and runs their senders."""


def build_integrations(
    client: aioredis.Redis, settings: Settings, facilities: FacilityStore, queues: QueueActions
) -> Integrations:
    allow_loopback = settings.integrations_allow_loopback

    def http_client(allow_private: bool) -> httpx.AsyncClient:  # the guard's, per endpoint
        return outbound_client(allow_private=allow_private, allow_loopback=allow_loopback)

    SENDERS["webhook"] = WebhookSender(allow_loopback=allow_loopback)
    SENDERS["fhir"] = FhirSender(http_client)
    LOOKUPS["fhir"] = FhirLookup(http_client)
    SENDERS["orca"] = OrcaSender(
        http_client,
        facility_zone(facilities),
        ticket_annotations(queues),
        busy_delay_s=5.0 * settings.retry_scale,
    )
    LOOKUPS["orca"] = OrcaLookup(http_client)
    endpoints = EndpointStore(client)
    return Integrations(
        endpoints=endpoints,
        service=IntegrationService(
            client,
            endpoints,
            facilities,
            allow_loopback=allow_loopback,
            public_url=settings.public_url,
        ),
        emr=EmrService(facilities.cached, endpoints.list),
        group=IntegrationsGroup(
            client,
            endpoints,
            queues.annotate,
            facilities.get,
            consumer=consumer_name(),
            retry_scale=settings.retry_scale,
        ),
    )
