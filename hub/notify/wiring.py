"""Builds the notification channels and the ``notify`` outbox group for one hub process
(called from ``hub.app.build_services``). A channel is there when its settings are:
Web Push with ``JUNBAN_VAPID_SUBJECT``, e-mail with ``JUNBAN_SMTP_URL`` and
``JUNBAN_MAIL_FROM``, LINE with its token and secret. A channel module that fails to import
or build is left out and logged (the others still work)."""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from hub.notify.channels import CHANNELS, NotifyChannel
from hub.notify.service import NotifyService
from hub.notify.store import NotifyStore
from hub.notify.worker import NotifyGroup
from hub.outbox.runner import consumer_name
from hub.queue.actions import QueueActions
from hub.queue.facilities import FacilityStore
from hub.settings import Settings

log = logging.getLogger("junban")


@dataclass(frozen=True, slots=True)
class Notify:
    store: NotifyStore
    service: NotifyService
    group: NotifyGroup
    """The ``notify`` outbox group."""


def _module(name: str) -> Any:
    try:
        return importlib.import_module(f"hub.notify.{name}")
    except ImportError as exc:
        log.warning("notifications: channel module %s not available (%s)", name, exc)
        return None


def _webpush(settings: Settings, client: aioredis.Redis) -> NotifyChannel | None:
    module = _module("webpush")
    channel: NotifyChannel | None = module.build(settings) if module else None
    return channel


def _email(settings: Settings, client: aioredis.Redis) -> NotifyChannel | None:
    if not (settings.smtp_url and settings.mail_from):
        return None
    module = _module("email")
    if module is None:
        return None
    build = getattr(module, "build", None)
    if callable(build):
        built: NotifyChannel | None = build(settings)
        return built
    relay = module.Relay.parse(settings.smtp_url)
    channel: NotifyChannel = module.EmailChannel(
        relay, settings.mail_from, public_url=settings.public_url
    )
    return channel


def _line(settings: Settings, client: aioredis.Redis) -> NotifyChannel | None:
    if not (settings.line_token and settings.line_secret):
        return None
    module = _module("line")
    build = getattr(module, "build", None) if module else None
    channel: NotifyChannel | None = build(settings, client) if callable(build) else None
    return channel


def build_channels(settings: Settings, client: aioredis.Redis) -> dict[str, NotifyChannel]:
    """The channels these settings turn on (also put in ``CHANNELS``)."""
    built: dict[str, NotifyChannel] = {}
    for name, make in (("webpush", _webpush), ("email", _email), ("line", _line)):
        channel = make(settings, client)  # a wrong setting stops the hub at start
        if channel is not None:
            built[name] = channel
    CHANNELS.clear()
    CHANNELS.update(built)
    return built


def build_notify(
    client: aioredis.Redis, settings: Settings, facilities: FacilityStore, queues: QueueActions
) -> Notify:
    channels = build_channels(settings, client)
    store = NotifyStore(client)
    return Notify(
        store=store,
        service=NotifyService(store, channels, queues, facilities),
        group=NotifyGroup(
            store, channels, queues.annotate, facilities.cached, consumer=consumer_name()
        ),
    )
