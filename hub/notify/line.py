"""LINE notifications: ``LineChannel`` links a ticket to a LINE user and pushes to them, by
plain ``httpx`` to three Messaging API calls (push, reply, quota consumption) with the
channel access token as Bearer (``line-bot-sdk`` is not used: aiohttp and pydantic for three
calls). Settings: ``JUNBAN_LINE_API`` (default https://api.line.me), ``JUNBAN_LINE_TOKEN``,
``JUNBAN_LINE_SECRET``, ``JUNBAN_LINE_BASIC_ID``; any of the last three unset = LINE off.

- **Linking**: subscribing answers a 6-character code (``jb:line:code:{code}``, EX 30 min)
  and ``https://line.me/R/oaMessage/{basicId}/?通知連携%20{code}``; the patient sends the
  prefilled message; the webhook's message event carries the code; the hub binds the
  sender's ``userId`` to the ticket's subscription and **replies** (free)
  「43番の通知を設定しました」. ``unfollow`` removes the user's bindings
  (``jb:line:user:{userId}``).
- **Webhook** ``POST /v1/integrations/line/{account}/webhook``: ``X-Line-Signature`` is the
  base64 HMAC-SHA256 of the raw body with the channel secret; a wrong one → 403
  ``bad_signature`` and nothing is bound. Only the operator's account (``operator``)
  exists today; a clinic's own channel is a later step (404 ``unknown_line_account``).
- **Push** at a trigger carries ``X-Line-Retry-Key``, a UUID derived from (facility, ticket,
  trigger, n): a retried push is refused by LINE (409) and counts as delivered.
- **Quota**: before a push the month's quota and consumption are read (cached 60 s); once
  spent (or a push answers 429 "monthly limit"), the message goes by e-mail to the address
  the patient gave with the LINE subscription (``{"channel": "line", "email": …}``), and
  the operator is told (a warning in the log). Without one the result is ``ok=False,
  detail="quota"`` (not retried: it will not help this month); a ticket that also has an
  e-mail subscription gets that mail from the worker anyway.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

import httpx
import orjson
from redis.asyncio import Redis

from hub import keys
from hub.errors import BadRequest, Forbidden, NotFound
from hub.notify.channels import Message, NotifyChannel, SendResult
from hub.notify.email import check_address, subject
from hub.notify.rules import Subscribed
from hub.notify.store import NotifyStore, expires_at
from hub.queue.facilities import FacilityStore
from hub.settings import Settings

log = logging.getLogger("junban.notify.line")

CODE_TTL_S = 30 * 60
CODE_LENGTH = 6
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
"""No 0/O, 1/I: the code is read on one screen and typed, at worst, on another."""
LINK_WORD = "通知連携"
LINK_TEXT = re.compile(rf"\s*{LINK_WORD}[\s\u3000]*([A-Za-z0-9]{{{CODE_LENGTH}}})\s*")
QUOTA_CACHE_S = 60.0
TIMEOUT_S = 10.0
RETRY_NAMESPACE = uuid.UUID("6f1c1c53-5a5e-4d2a-9d55-6a756e62616e")
ACCOUNT = "operator"
"""The one LINE account configured from the settings (the operator's official account)."""

TzOf = Callable[[str], Awaitable[str]]


def signature_ok(secret: str, body: bytes, signature: str | None) -> bool:
    """Whether ``signature`` is the base64 HMAC-SHA256 of ``body`` with ``secret``."""
    if not signature:
        return False
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(digest), signature.strip().encode())


def retry_key(message: Message) -> str:
    """The ``X-Line-Retry-Key`` of a message: one UUID per (facility, ticket, trigger, n)."""
    name = f"{message.facility}:{message.ticket_id}:{message.trigger}:{message.n}"
    return str(uuid.uuid5(RETRY_NAMESPACE, name))


def link_url(basic_id: str, code: str) -> str:
    """The URL that opens a chat with the account, ``通知連携 {code}`` prefilled."""
    return (
        f"https://line.me/R/oaMessage/{quote(basic_id, safe='@')}/?{quote(f'{LINK_WORD} {code}')}"
    )


def link_code(text: str) -> str | None:
    """The code in a chat message ``通知連携 ABC234`` (upper-cased), or None."""
    found = LINK_TEXT.fullmatch(text)
    return found.group(1).upper() if found else None


def push_text(message: Message) -> str:
    """The pushed text: the number first, the message's body, no URL, no name."""
    return f"{subject(message.clinic, message.title, message.number)}\n{message.body}"


class LineChannel:
    """The ``line`` notification channel (``hub.notify.channels.NotifyChannel``), its link
    codes and its webhook."""

    name = "line"

    def __init__(
        self,
        redis: Redis,
        store: NotifyStore,
        *,
        token: str,
        secret: str,
        basic_id: str,
        api: str = "https://api.line.me",
        fallback: NotifyChannel | None = None,
        tz_of: TzOf | None = None,
        timeout_s: float = TIMEOUT_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis = redis
        self.store = store
        self.secret = secret
        self.basic_id = basic_id
        self.fallback = fallback
        self.tz_of = tz_of
        self.clock = clock
        self.client = httpx.AsyncClient(
            base_url=api.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout_s,
            follow_redirects=False,
        )
        self._quota: tuple[float, bool] | None = None  # (checked at, spent)

    @classmethod
    def from_settings(
        cls,
        redis: Redis,
        store: NotifyStore,
        *,
        api: str,
        token: str | None,
        secret: str | None,
        basic_id: str | None,
        fallback: NotifyChannel | None = None,
        tz_of: TzOf | None = None,
    ) -> LineChannel | None:
        """The channel, or None when the token, the secret or the basic ID is unset."""
        if not (token and secret and basic_id):
            return None
        return cls(
            redis, store, token=token, secret=secret, basic_id=basic_id, api=api,
            fallback=fallback, tz_of=tz_of,
        )  # fmt: skip

    async def aclose(self) -> None:
        await self.client.aclose()

    # -- subscribing and linking ---------------------------------------------------------

    def check_target(self, raw: dict[str, Any]) -> dict[str, Any]:
        """The part stored until the link: the e-mail for the quota fallback, if given."""
        address = raw.get("email")
        return {} if address in (None, "") else {"email": check_address(address)}

    async def begin_link(
        self, facility: str, info: str, ticket_id: str, sub: Subscribed, target: dict[str, Any]
    ) -> dict[str, Any]:
        """A fresh link code for the ticket: ``{"code", "url", "expires_in"}``."""
        payload = orjson.dumps(
            {
                "facility": facility,
                "info": info,
                "ticket": ticket_id,
                "sub": sub.to_json(),
                "target": target,
            }  # fmt: skip
        )
        for _ in range(8):
            code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
            if await self.redis.set(keys.line_code(code), payload, nx=True, ex=CODE_TTL_S):
                return {
                    "code": code,
                    "url": link_url(self.basic_id, code),
                    "expires_in": CODE_TTL_S,
                }
        raise RuntimeError("no free LINE link code after 8 tries")

    async def webhook(self, account: str, body: bytes, signature: str | None) -> dict[str, Any]:
        """Handle one webhook delivery: 404 ``unknown_line_account``, 403
        ``bad_signature`` (nothing done), else each event: a link message binds and
        replies, ``unfollow`` unbinds. Answers what was done (LINE ignores it)."""
        if account != ACCOUNT:
            raise NotFound("no such LINE account on this hub", code="unknown_line_account")
        if not signature_ok(self.secret, body, signature):
            raise Forbidden("X-Line-Signature does not match", code="bad_signature")
        try:
            events = orjson.loads(body).get("events", [])
        except (orjson.JSONDecodeError, AttributeError) as exc:
            raise BadRequest("the body is not a LINE webhook", code="bad_json") from exc
        done = {"linked": 0, "unknown_codes": 0, "unfollowed": 0}
        for event in events if isinstance(events, list) else []:
            if not isinstance(event, dict):
                continue
            source = event.get("source") or {}
            user_id = source.get("userId") if isinstance(source, dict) else None
            if not isinstance(user_id, str) or not user_id:
                continue
            if event.get("type") == "unfollow":
                await self._unfollow(user_id)
                done["unfollowed"] += 1
                continue
            message = event.get("message") or {}
            text = message.get("text") if isinstance(message, dict) else None
            code = (
                link_code(text)
                if event.get("type") == "message" and isinstance(text, str)
                else None
            )  # noqa: E501
            if code is None:
                continue
            linked = await self._link(code, user_id)
            done["linked" if linked else "unknown_codes"] += 1
            token = event.get("replyToken")
            if isinstance(token, str) and token:
                await self._reply(token, linked)
        return done

    async def _link(self, code: str, user_id: str) -> str | None:
        """Bind ``user_id`` to the ticket the code names; the reply text, or None."""
        raw = await self.redis.getdel(keys.line_code(code))
        if raw is None:
            return None
        data = orjson.loads(raw)
        facility, ticket_id = str(data["facility"]), str(data["ticket"])
        sub = Subscribed.from_json(data["sub"])
        tz = await self.tz_of(facility) if self.tz_of is not None else "Asia/Tokyo"
        expire = expires_at(sub.day, tz)
        target = {**data.get("target", {}), "user_id": user_id}
        await self.store.subscribe(facility, ticket_id, self.name, target, sub, expire)
        bindings = keys.line_user(user_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.sadd(bindings, f"{facility}/{ticket_id}")
            pipe.expireat(bindings, expire)
            await pipe.execute()
        log.info("line: %s/%s linked", sub.info, ticket_id)
        return f"{sub.number}番の通知を設定しました"

    async def _unfollow(self, user_id: str) -> None:
        """Remove every binding of ``user_id`` (only where the stored user is still it)."""
        bindings = keys.line_user(user_id)
        for member in await self.redis.smembers(bindings):
            text = member.decode() if isinstance(member, bytes) else str(member)
            facility, _, ticket_id = text.partition("/")
            current = (await self.store.targets(facility, ticket_id)).get(self.name)
            if current is not None and current[1].get("user_id") == user_id:
                await self.store.drop_if_same(facility, ticket_id, self.name, current[0])
        await self.redis.delete(bindings)

    async def _reply(self, token: str, linked: str | None) -> None:
        text = linked or (
            "このコードは見つからないか、有効期限（30分）が切れています。"
            "受付画面からもう一度お試しください。"
        )
        body = {"replyToken": token, "messages": [{"type": "text", "text": text}]}
        try:
            r = await self.client.post("/v2/bot/message/reply", json=body)
        except httpx.HTTPError as exc:
            log.warning("line reply failed: %r", exc)
            return
        if r.status_code != 200:
            log.warning("line reply answered %s: %s", r.status_code, r.text[:200])

    # -- sending ---------------------------------------------------------------------------

    async def quota_spent(self) -> bool:
        """Whether this month's messages are used up (read at most once a minute; a
        failed read counts as not spent: the push itself will say)."""
        now = self.clock()
        if self._quota is not None and now - self._quota[0] < QUOTA_CACHE_S:
            return self._quota[1]
        try:
            quota = (await self.client.get("/v2/bot/message/quota")).json()
            spent = False
            if quota.get("type") == "limited":
                used = (await self.client.get("/v2/bot/message/quota/consumption")).json()
                spent = int(used.get("totalUsage", 0)) >= int(quota.get("value", 0))
        except (httpx.HTTPError, ValueError, TypeError, AttributeError) as exc:
            log.warning("line quota not readable: %r", exc)
            return False
        self._quota = (now, spent)
        return spent

    async def send(self, target: dict[str, Any], message: Message) -> SendResult:
        """Push ``message`` to the linked user: ok (also when LINE already accepted this
        retry key), ``retry`` (5xx, 429 rate, network), or the quota fallback."""
        user_id = target.get("user_id")
        if not isinstance(user_id, str) or not user_id:
            return SendResult(ok=False, detail="not linked yet")
        if await self.quota_spent():
            return await self._quota_fallback(target, message)
        body = {"to": user_id, "messages": [{"type": "text", "text": push_text(message)}]}
        try:
            r = await self.client.post(
                "/v2/bot/message/push", json=body, headers={"X-Line-Retry-Key": retry_key(message)}
            )
        except httpx.HTTPError as exc:
            return SendResult(ok=False, retry=True, detail=type(exc).__name__)
        if r.status_code == 200:
            return SendResult(ok=True)
        if r.status_code == 409 and "x-line-accepted-request-id" in r.headers:
            return SendResult(ok=True, detail="accepted before (retry key)")
        text = r.text[:200]
        if r.status_code == 429 and "monthly limit" in text:
            self._quota = (self.clock(), True)
            return await self._quota_fallback(target, message)
        if r.status_code == 429 or r.status_code >= 500:
            return SendResult(ok=False, retry=True, detail=f"line {r.status_code}")
        log.error("line push refused (%s): %s", r.status_code, text)
        return SendResult(ok=False, detail=f"line {r.status_code}")

    async def _quota_fallback(self, target: dict[str, Any], message: Message) -> SendResult:
        log.warning(
            "LINE: this month's message quota is used up; the operator should raise the plan "
            "(%s/%s %s goes by e-mail where the patient gave one)",
            message.info, message.ticket_id, message.trigger,
        )  # fmt: skip
        address = target.get("email")
        if self.fallback is None or not isinstance(address, str):
            return SendResult(ok=False, detail="quota")
        result = await self.fallback.send({"email": address, "link": False}, message)
        return SendResult(ok=result.ok, retry=result.retry, detail="quota: sent by e-mail")


def build(settings: Settings, redis: Redis) -> LineChannel | None:
    """The channel from the ``JUNBAN_LINE_*`` settings (hub/notify/wiring.py), with the
    e-mail channel (when set) as the quota fallback; None when LINE is not set up."""
    from hub.notify import email

    facilities = FacilityStore(redis)

    async def tz_of(facility: str) -> str:
        record = await facilities.cached(facility)
        return record.tz if record is not None else "Asia/Tokyo"

    return LineChannel.from_settings(
        redis, NotifyStore(redis), api=settings.line_api, token=settings.line_token,
        secret=settings.line_secret, basic_id=settings.line_basic_id,
        fallback=email.build(settings), tz_of=tz_of,
    )  # fmt: skip
