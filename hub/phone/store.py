"""Redis I/O of the phone call-out option: settings, providers, the worker's index of
consenting tickets, pending calls, and the calls themselves (``jb:{F}:call:{id}`` current
state, ``jb:{F}:calls`` history stream), placed by ``lua/place_call.lua``."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from importlib import resources
from typing import Any

import msgspec
from redis.asyncio import Redis

from hub import keys
from hub import secrets as sealing
from hub.phone.providers.base import FINAL, ProviderConfig
from hub.phone.rules import MAX_CALLS_PER_TICKET, Known, PhoneSettings

MAX_ACTIVE = 2
"""Calls in progress at once per facility (Art. 37)."""
STALE_ACTIVE_MS = 600_000
"""A call still "in progress" after 10 minutes no longer counts against ``MAX_ACTIVE``."""
HISTORY_MAXLEN = 200_000
TWO_DAYS_S = 2 * 86400


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _lua(name: str) -> str:
    return resources.files("hub.phone").joinpath("lua", name).read_text()


class PhoneStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._place = redis.register_script(_lua("place_call.lua"))

    # ---- settings and providers ------------------------------------------------------

    async def settings(self, facility: str) -> PhoneSettings:
        raw = await self.redis.get(keys.phone_settings(facility))
        if raw is None:
            return PhoneSettings()
        return msgspec.json.decode(raw, type=PhoneSettings)

    async def put_settings(self, facility: str, settings: PhoneSettings) -> None:
        await self.redis.set(keys.phone_settings(facility), msgspec.json.encode(settings))

    async def provider(self, name: str) -> ProviderConfig | None:
        raw = await self.redis.get(keys.phone_provider(name))
        if raw is None:
            return None
        data = json.loads(raw)
        token = sealing.unseal(f"phone:{name}", data.get("auth_token", "")) or ""
        return ProviderConfig(
            name=name,
            kind=str(data.get("kind", "twiml")),
            base_url=str(data.get("base_url", "")),
            account_sid=str(data.get("account_sid", "")),
            auth_token=token,
        )

    async def put_provider(self, config: ProviderConfig) -> None:
        data = {
            **asdict(config),
            "auth_token": sealing.seal(f"phone:{config.name}", config.auth_token),
        }
        await self.redis.set(keys.phone_provider(config.name), json.dumps(data))

    # ---- the worker's index of consenting tickets -----------------------------------

    async def known(self, facility: str) -> dict[str, Known]:
        raw = await self.redis.hgetall(keys.phone_known(facility))
        out: dict[str, Known] = {}
        for tid, value in raw.items():
            try:
                out[_text(tid)] = Known(**json.loads(value))
            except (ValueError, TypeError):
                continue
        return out

    async def save_known(
        self, facility: str, before: dict[str, Known], after: dict[str, Known]
    ) -> None:
        key = keys.phone_known(facility)
        gone = [tid for tid in before if tid not in after]
        changed: dict[Any, Any] = {
            tid: json.dumps(asdict(k)) for tid, k in after.items() if before.get(tid) != k
        }
        if not gone and not changed:
            return
        async with self.redis.pipeline(transaction=True) as pipe:
            if gone:
                pipe.hdel(key, *gone)
            if changed:
                pipe.hset(key, mapping=changed)
                pipe.expire(key, TWO_DAYS_S)
            await pipe.execute()

    # ---- pending calls (retries, deferred) -------------------------------------------

    async def defer(self, facility: str, item: dict[str, Any], due: float) -> None:
        await self.redis.zadd(keys.phone_pending(facility), {json.dumps(item): int(due * 1000)})

    async def due(self, facility: str, now: float) -> list[dict[str, Any]]:
        """Take the pending calls that are due (each taken by one consumer only)."""
        key = keys.phone_pending(facility)
        found: Any = await self.redis.zrangebyscore(key, "-inf", int(now * 1000), start=0, num=20)
        out = []
        for member in found:
            if await self.redis.zrem(key, member):
                out.append(json.loads(member))
        return out

    # ---- calls --------------------------------------------------------------------------

    async def place(
        self,
        facility: str,
        call_id: str,
        ticket_id: str,
        trigger: str,
        settings: PhoneSettings,
        fields: dict[str, str],
        now: float,
    ) -> str:
        """Record the call ``queued`` if the limits allow: ``ok`` | ``duplicate`` | ``busy``
        | ``daily_cap`` | ``monthly_cap`` | ``ticket_cap``. ``manual`` calls skip the
        once-per-trigger key."""
        day = time.strftime("%Y%m%d", time.gmtime(now + 9 * 3600))
        result = await self._place(
            keys=[
                keys.call_dedupe(facility, ticket_id, trigger),
                keys.call_active(facility),
                keys.call_count(facility, day),
                keys.call_count(facility, day[:6]),
                keys.call(facility, call_id),
                keys.calls(facility),
                keys.phone_ticket_calls(facility),
            ],
            args=[
                call_id,
                ticket_id,
                int(now * 1000),
                "0" if trigger == "manual" else "1",
                settings.daily_cap,
                settings.monthly_cap,
                MAX_ACTIVE,
                MAX_CALLS_PER_TICKET,
                STALE_ACTIVE_MS,
                HISTORY_MAXLEN,
                *(x for pair in fields.items() for x in pair),
            ],
        )
        return _text(result)

    async def update(
        self, facility: str, call_id: str, status: str, now: float, **fields: str
    ) -> dict[str, str]:
        """Set the call's state (history gets one entry per change); a final state takes
        it off the active set. The call's record after the change ({} if unknown)."""
        key = keys.call(facility, call_id)
        if not await self.redis.exists(key):
            return {}
        async with self.redis.pipeline(transaction=True) as pipe:
            state: dict[Any, Any] = {"status": status, "updated": str(int(now * 1000)), **fields}
            pipe.hset(key, mapping=state)
            change: dict[Any, Any] = {"call": call_id, "status": status, **fields}
            pipe.xadd(
                keys.calls(facility),
                change,
                maxlen=HISTORY_MAXLEN,
                approximate=True,
            )
            if status in FINAL:
                pipe.zrem(keys.call_active(facility), call_id)
            await pipe.execute()
        return await self.get(facility, call_id)

    async def set_fields(self, facility: str, call_id: str, **fields: str) -> None:
        mapping: dict[Any, Any] = fields
        await self.redis.hset(keys.call(facility, call_id), mapping=mapping)

    async def get(self, facility: str, call_id: str) -> dict[str, str]:
        raw = await self.redis.hgetall(keys.call(facility, call_id))
        return {_text(k): _text(v) for k, v in raw.items()}

    async def active(self, facility: str) -> list[tuple[str, float]]:
        found: Any = await self.redis.zrange(keys.call_active(facility), 0, -1, withscores=True)
        return [(_text(member), score / 1000) for member, score in found]

    async def history(self, facility: str, since: float, until: float) -> list[dict[str, str]]:
        """The calls first recorded in [since, until) (epoch s), oldest first."""
        entries: Any = await self.redis.xrange(
            keys.calls(facility), min=str(int(since * 1000)), max=str(int(until * 1000) - 1)
        )
        ids: dict[str, None] = {}
        for _, fields in entries:
            ids[_text(fields.get(b"call", b""))] = None
        ids.pop("", None)
        async with self.redis.pipeline(transaction=False) as pipe:
            for call_id in ids:
                pipe.hgetall(keys.call(facility, call_id))
            records = await pipe.execute()
        out = []
        for call_id, raw in zip(ids, records, strict=True):
            if raw:
                out.append({"id": call_id, **{_text(k): _text(v) for k, v in raw.items()}})
        return out
