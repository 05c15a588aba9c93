"""Subscriptions and sent markers in Redis (issue 17, docs/notifications.md).

- ``jb:{F}:ntf:{ticket}`` hash: channel -> the target JSON sealed with hub.secrets (aad: the
  key and the channel), and ``threshold``; expires two days after the ticket's day.
- ``jb:{F}:ntf:tickets`` hash: ticket -> JSON ``Subscribed`` (info, number, threshold, day,
  lang), and ``near:{ticket}`` -> "1" once ``near`` went (its own field: the worker sets it
  while a patient may subscribe another channel).
- ``jb:{F}:ntf:sent:{ticket}:{trigger}:{n}``: the claim (SET NX EX 120) then ``sent`` (2 d).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from redis.asyncio import Redis

from hub import keys
from hub import secrets as sealing
from hub.notify.rules import Subscribed
from hub.outbox.consumer import wake_group

CLAIM_S = 120
SENT_S = 2 * 86_400
KEEP_DAYS = 2
"""Subscriptions expire this many days after the end of their ticket's day."""

_DROP_IF_SAME = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 1
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def expires_at(day: str, tz: str) -> int:
    """The epoch second a subscription of a ticket of ``day`` (YYYY-MM-DD, facility time)
    expires: the end of that day plus ``KEEP_DAYS``."""
    try:
        start = dt.datetime.combine(dt.date.fromisoformat(day), dt.time(), ZoneInfo(tz))
    except ValueError:
        start = dt.datetime.now(dt.UTC)
    return int((start + dt.timedelta(days=1 + KEEP_DAYS)).timestamp())


def _aad(key: str, channel: str) -> str:
    return f"{key}/{channel}"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class NotifyStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def subscribe(
        self,
        facility: str,
        ticket_id: str,
        channel: str,
        target: dict[str, Any],
        sub: Subscribed,
        expire_at: int,
    ) -> None:
        """Store (or replace) the ticket's target on ``channel`` and its index entry, then
        tell the runners the ``notify`` group has work in the facility now."""
        key = keys.ntf(facility, ticket_id)
        sealed = sealing.seal(_aad(key, channel), orjson.dumps(target).decode())
        index = keys.ntf_tickets(facility)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={channel: sealed, "threshold": str(sub.threshold)})
            pipe.expireat(key, expire_at)
            pipe.hset(index, ticket_id, orjson.dumps(sub.to_json()))
            if sub.near_done:
                pipe.hset(index, f"near:{ticket_id}", "1")
            await pipe.execute()
        await wake_group(self.redis, facility, "notify")

    async def unsubscribe(self, facility: str, ticket_id: str, channel: str) -> bool:
        """Remove the ticket's ``channel`` (at once: the worker re-reads before each send);
        the last channel removes the ticket from the index. Whether there was one."""
        key = keys.ntf(facility, ticket_id)
        removed = int(await self.redis.hdel(key, channel))
        await self._forget_if_empty(facility, ticket_id)
        return removed > 0

    async def _forget_if_empty(self, facility: str, ticket_id: str) -> None:
        fields = await self.redis.hkeys(keys.ntf(facility, ticket_id))
        if not [f for f in fields if _text(f) != "threshold"]:
            await self.redis.delete(keys.ntf(facility, ticket_id))
            await self.redis.hdel(keys.ntf_tickets(facility), ticket_id, f"near:{ticket_id}")

    async def index(self, facility: str) -> dict[str, Subscribed]:
        """The subscribed tickets of the facility (the worker's view)."""
        raw = await self.redis.hgetall(keys.ntf_tickets(facility))
        fields = {_text(k): v for k, v in raw.items()}
        out: dict[str, Subscribed] = {}
        for name, value in fields.items():
            if name.startswith("near:"):
                continue
            try:
                sub = Subscribed.from_json(orjson.loads(value))
            except (ValueError, KeyError, TypeError):
                continue
            if f"near:{name}" in fields and not sub.near_done:
                sub = Subscribed(sub.info, sub.number, sub.threshold, sub.day, True, sub.lang)
            out[name] = sub
        return out

    async def has_any(self, facility: str) -> bool:
        return bool(await self.redis.hlen(keys.ntf_tickets(facility)))

    async def near_done(self, facility: str, ticket_id: str) -> None:
        await self.redis.hset(keys.ntf_tickets(facility), f"near:{ticket_id}", "1")

    async def targets(self, facility: str, ticket_id: str) -> dict[str, tuple[str, dict[str, Any]]]:
        """channel -> (sealed value, target) as stored now; unreadable ones are left out."""
        key = keys.ntf(facility, ticket_id)
        raw = await self.redis.hgetall(key)
        out: dict[str, tuple[str, dict[str, Any]]] = {}
        for name, value in raw.items():
            channel, sealed = _text(name), _text(value)
            if channel == "threshold":
                continue
            plain = sealing.unseal(_aad(key, channel), sealed)
            if plain is None:
                continue
            try:
                target = orjson.loads(plain)
            except orjson.JSONDecodeError:
                continue
            if isinstance(target, dict):
                out[channel] = (sealed, target)
        return out

    async def drop_if_same(self, facility: str, ticket_id: str, channel: str, sealed: str) -> bool:
        """Delete the target on ``channel`` only if it is still ``sealed`` (a patient who
        subscribed again in between keeps the new one)."""
        key = keys.ntf(facility, ticket_id)
        dropped = int(await self.redis.eval(_DROP_IF_SAME, 1, key, channel, sealed))
        if dropped:
            await self._forget_if_empty(facility, ticket_id)
        return dropped > 0

    async def claim(self, facility: str, ticket_id: str, trigger: str, n: int, who: str) -> bool:
        """Take (ticket, trigger, n) for sending: False when it is sent or another holds it."""
        key = keys.ntf_sent(facility, ticket_id, trigger, n)
        return bool(await self.redis.set(key, f"claim:{who}", nx=True, ex=CLAIM_S))

    async def mark_sent(self, facility: str, ticket_id: str, trigger: str, n: int) -> None:
        await self.redis.set(keys.ntf_sent(facility, ticket_id, trigger, n), "sent", ex=SENT_S)

    async def release(self, facility: str, ticket_id: str, trigger: str, n: int, who: str) -> None:
        """Give a claim back (the send failed and will be retried)."""
        key = keys.ntf_sent(facility, ticket_id, trigger, n)
        await self.redis.eval(_RELEASE, 1, key, f"claim:{who}")

    async def settings(self, facility: str) -> dict[str, Any]:
        raw = await self.redis.get(keys.notify_settings(facility))
        if raw is None:
            return {}
        data = orjson.loads(raw)
        return data if isinstance(data, dict) else {}

    async def put_settings(self, facility: str, data: dict[str, Any]) -> None:
        await self.redis.set(keys.notify_settings(facility), orjson.dumps(data))
