"""The notification use cases the routes call (hub/web/notify.py): subscribe a ticket to a
channel, opt out, the Web Push public key, and the facility's notification settings."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from hub.errors import Conflict, NotFound, Unprocessable
from hub.notify import rules
from hub.notify.channels import NotifyChannel
from hub.notify.rules import DEFAULT_THRESHOLD, Subscribed
from hub.notify.store import NotifyStore, expires_at
from hub.notify.worker import DEFAULT_QUIET
from hub.queue import views
from hub.queue.actions import QueueActions
from hub.queue.facilities import FacilityStore

log = logging.getLogger("junban")

OPEN = ("waiting", "called")
"""The statuses a ticket may be subscribed in."""


class NotifyService:
    def __init__(
        self,
        store: NotifyStore,
        channels: Mapping[str, NotifyChannel],
        queues: QueueActions,
        facilities: FacilityStore,
    ) -> None:
        self.store = store
        self.channels = channels
        self.queues = queues
        self.facilities = facilities

    def _channel(self, name: str) -> NotifyChannel:
        channel = self.channels.get(name)
        if channel is None:
            raise NotFound(
                f"notifications by {name} are not set up here", code="channel_unavailable"
            )
        return channel

    async def settings(self, facility: str) -> dict[str, Any]:
        """The facility's notification settings, defaults filled in."""
        if await self.facilities.cached(facility) is None:
            raise NotFound("no such facility", code="unknown_facility")
        stored = await self.store.settings(facility)
        return {
            "threshold_default": int(stored.get("threshold_default", DEFAULT_THRESHOLD)),
            "quiet_from": str(stored.get("quiet_from", DEFAULT_QUIET[0])),
            "quiet_to": str(stored.get("quiet_to", DEFAULT_QUIET[1])),
            "channels": sorted(self.channels),
        }

    async def put_settings(
        self, facility: str, threshold_default: int, quiet_from: str, quiet_to: str
    ) -> dict[str, Any]:
        """Set the default ``near`` threshold and the quiet hours (HH:MM, facility time)."""
        if await self.facilities.cached(facility) is None:
            raise NotFound("no such facility", code="unknown_facility")
        if threshold_default not in rules.THRESHOLDS:
            raise Unprocessable("threshold_default: 1 to 10", code="invalid_body")
        for name, value in (("quiet_from", quiet_from), ("quiet_to", quiet_to)):
            if not rules.check_hhmm(value):
                raise Unprocessable(f"{name}: HH:MM, 00:00 to 24:00", code="invalid_body")
        await self.store.put_settings(
            facility,
            {
                "threshold_default": threshold_default,
                "quiet_from": quiet_from,
                "quiet_to": quiet_to,
            },
        )
        return await self.settings(facility)

    async def subscribe(
        self, info: str, ticket_id: str, body: dict[str, Any], now: float
    ) -> dict[str, Any]:
        """Subscribe today's ticket to ``body["channel"]`` (the channel checks its part of
        the body). A ticket already within its threshold has ``near`` done at once."""
        name = str(body.get("channel", ""))
        channel = self._channel(name)
        facility = info.partition("-")[0]
        state = await self.queues.ticket_today(info, ticket_id, now)
        ticket = state.tickets[ticket_id]
        if ticket.status not in OPEN:
            raise Conflict("this ticket is no longer waiting", code="ticket_finished")
        target = channel.check_target(body)
        threshold = body.get("threshold")
        if threshold is None:
            threshold = (await self.settings(facility))["threshold_default"]
        lang = "en" if body.get("lang") == "en" else "ja"
        ahead = views.ahead_of(state, ticket_id) if ticket.status == "waiting" else None
        near_done = rules.near_at_subscribe(ahead, ticket.status, int(threshold))
        sub = Subscribed(info, ticket.number, int(threshold), state.day, near_done, lang)
        linking = getattr(channel, "begin_link", None)
        if callable(linking):  # LINE: the target is bound later, by the webhook
            answer: dict[str, Any] = await linking(facility, info, ticket_id, sub, target)
            return {"channel": name, "threshold": sub.threshold, "near_done": near_done, **answer}
        expire = expires_at(state.day, state.config.tz)
        await self.store.subscribe(facility, ticket_id, name, target, sub, expire)
        answer = {"channel": name, "threshold": sub.threshold, "near_done": near_done}
        confirm = getattr(channel, "confirm", None)
        if callable(confirm):  # e-mail: the confirmation mail catches typos at once
            record = await self.facilities.cached(facility)
            result = await confirm(target, record.name if record else "", ticket.number)
            answer["confirmation_sent"] = bool(getattr(result, "ok", False))
            domain = getattr(channel, "domain", None)
            if isinstance(domain, str):
                answer["sender_domain"] = domain
            hint = getattr(channel, "carrier_hint", None)
            if callable(hint):  # carrier mail drops unknown senders: the page explains
                answer["carrier"] = hint(str(target.get("email", "")))
        log.info("notify %s/%s: subscribed by %s", info, ticket_id, name)
        return answer

    async def unsubscribe(self, info: str, ticket_id: str, channel: str) -> dict[str, Any]:
        """Opt out of ``channel`` (acts at once). Unknown channel names are 404."""
        if channel not in self.channels and channel not in ("webpush", "email", "line"):
            raise NotFound("no such notification channel", code="channel_unavailable")
        removed = await self.store.unsubscribe(info.partition("-")[0], ticket_id, channel)
        if removed:
            log.info("notify %s/%s: unsubscribed from %s", info, ticket_id, channel)
        return {"channel": channel, "removed": removed}

    async def line_webhook(
        self, account: str, body: bytes, signature: str | None
    ) -> dict[str, Any]:
        """One LINE webhook delivery (hub/notify/line.py): link codes bind, unfollow unbinds;
        403 ``bad_signature`` binds nothing; 404 when LINE is not set up."""
        handle = getattr(self.channels.get("line"), "webhook", None)
        if not callable(handle):
            raise NotFound("LINE is not set up on this hub", code="channel_unavailable")
        done: dict[str, Any] = await handle(account, body, signature)
        return done

    def push_key(self) -> dict[str, str]:
        """The VAPID public key the page subscribes with; 404 ``push_disabled`` without."""
        channel = self.channels.get("webpush")
        key = getattr(channel, "public_key", None) if channel is not None else None
        if not isinstance(key, str):
            raise NotFound("Web Push is not set up on this hub", code="push_disabled")
        return {"key": key}
