"""Web Push (RFC 8030 protocol, RFC 8291 aes128gcm payload, RFC 8292 VAPID): the channel
``webpush``.

The VAPID key pair is generated once into the data folder (``DATA_DIR/vapid.pem``, mode
0600, like the token secret) and shared by every process of the hub; its public half is what
``GET /v1/push/key`` gives the patient page for ``PushManager.subscribe``. Web Push is on only
when ``JUNBAN_VAPID_SUBJECT`` is set (hub/settings.py refuses a localhost subject at start).

pywebpush encrypts the payload (``WebPusher.encode``) and py_vapid signs the JWT (``exp``
12 h). The request itself goes through the outbound guard (hub/integrations/guard.py): a push
endpoint comes from a patient's browser, so it is treated like any endpoint given to the hub:
``https`` only, no private, loopback or link-local address (checked again at connect time,
so DNS rebinding cannot reach an inner address), no redirects.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
import re
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid
from pywebpush import WebPusher

from hub.errors import Unprocessable
from hub.integrations.guard import check_url, outbound_client
from hub.notify.channels import CHANNELS, Message, SendResult
from hub.settings import Settings

TTL_S = 600
"""A message not delivered within 10 minutes is stale (the queue moved on)."""
JWT_LIFETIME_S = 12 * 3600
MAX_PAYLOAD = 1024
KEY_FILE = "vapid.pem"
_B64URL = re.compile(r"\A[A-Za-z0-9_-]+={0,2}\Z")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_vapid(data_dir: Path) -> Vapid:
    """The hub's VAPID key pair: read from ``data_dir/vapid.pem``, else generated there once
    (created exclusively, so two processes starting together agree on one key)."""
    path = data_dir / KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fresh = Vapid()
        fresh.generate_keys()
        pem = fresh.private_pem()
        temp = data_dir / f".{KEY_FILE}.{secrets.token_hex(6)}"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, pem)
        finally:
            os.close(fd)
        try:
            os.link(temp, path)  # fails if another process won the race: use its key
        except FileExistsError:
            pass
        finally:
            temp.unlink(missing_ok=True)
    return Vapid.from_pem(path.read_bytes())


def public_key_of(vapid: Vapid) -> str:
    """The application server key as ``PushManager.subscribe`` takes it (base64url, the
    uncompressed P-256 point)."""
    raw = vapid.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return _b64url(raw)


def payload_of(message: Message) -> bytes:
    """The push payload (JSON, at most 1 KB): what the service worker shows and opens.
    No name, no phone: the number, the clinic, the title, the body and the ticket's path."""
    data: dict[str, Any] = {
        "title": message.title,
        "body": message.body,
        "path": message.path,
        "number": message.number,
        "ahead": message.ahead,
        "trigger": message.trigger,
        "ticket": message.ticket_id,
        "clinic": message.clinic,
    }
    raw = orjson.dumps(data)
    while len(raw) > MAX_PAYLOAD:  # too long: shorten the longest text (body, clinic, title)
        longest = max(("body", "clinic", "title"), key=lambda field: len(data[field]))
        if not data[longest]:
            break
        data[longest] = data[longest][: len(data[longest]) * 3 // 4]
        raw = orjson.dumps(data)
    return raw


class WebPushChannel:
    """``NotifyChannel`` ``webpush``: one subscription (``{endpoint, keys: {p256dh, auth}}``)
    per ticket and browser."""

    name = "webpush"

    def __init__(self, settings: Settings, *, timeout_s: float = 10.0) -> None:
        if not settings.vapid_subject:
            raise ValueError("Web Push needs JUNBAN_VAPID_SUBJECT")
        self.subject = settings.vapid_subject
        self.vapid = load_vapid(settings.data_dir)
        self.public_key = public_key_of(self.vapid)
        self.allow_loopback = settings.integrations_allow_loopback
        own = urlsplit(settings.public_url).hostname if settings.public_url else None
        self.own_hosts = tuple(h for h in (own,) if h)
        self.timeout_s = timeout_s
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def check_target(self, raw: dict[str, Any]) -> dict[str, Any]:
        """The subscribe body's ``subscription`` (a ``PushSubscription.toJSON()``): an
        ``https`` endpoint (plain http to loopback only where tests allow it) and the keys
        ``p256dh`` (65-byte P-256 point) and ``auth`` (16 bytes), base64url."""
        sub = raw.get("subscription")
        if not isinstance(sub, dict):
            raise Unprocessable("subscription: a PushSubscription object", code="invalid_body")
        endpoint = sub.get("endpoint")
        keys = sub.get("keys")
        if not isinstance(endpoint, str) or not isinstance(keys, dict):
            raise Unprocessable("subscription needs endpoint and keys", code="invalid_body")
        check_url(
            endpoint,
            allow_private=False,
            allow_loopback=self.allow_loopback,
            own_hosts=self.own_hosts,
        )
        p256dh, auth = keys.get("p256dh"), keys.get("auth")
        decoded: list[bytes] = []
        for field, value in (("p256dh", p256dh), ("auth", auth)):
            if not isinstance(value, str) or len(value) > 200 or not _B64URL.match(value):
                raise Unprocessable(f"subscription.keys.{field}: base64url", code="invalid_body")
            try:
                decoded.append(_b64url_decode(value))
            except (binascii.Error, ValueError) as exc:
                raise Unprocessable(
                    f"subscription.keys.{field}: base64url", code="invalid_body"
                ) from exc
        if len(decoded[0]) != 65 or decoded[0][0] != 4:
            raise Unprocessable("subscription.keys.p256dh: a P-256 public key", code="invalid_body")
        if len(decoded[1]) != 16:
            raise Unprocessable("subscription.keys.auth: 16 bytes", code="invalid_body")
        return {"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}}

    def headers_for(self, endpoint: str, message: Message) -> dict[str, str]:
        """The push request's headers but the encryption's: VAPID, TTL, Urgency, Topic."""
        parts = urlsplit(endpoint)
        claims: dict[str, str | int] = {
            "aud": f"{parts.scheme}://{parts.netloc}",
            "sub": self.subject,
            "exp": int(time.time()) + JWT_LIFETIME_S,
        }
        headers: dict[str, str] = dict(self.vapid.sign(claims))
        topic = re.sub(r"[^A-Za-z0-9_-]", "", f"t{message.ticket_id}")[:32]
        headers.update(
            {
                "TTL": str(TTL_S),
                "Urgency": "high",
                "Topic": topic,
                "Content-Type": "application/octet-stream",
                "Content-Encoding": "aes128gcm",
            }
        )
        return headers

    def _http(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._client is None or self._client.is_closed or self._loop is not loop:
            self._loop = loop  # a pooled client belongs to the event loop that made it
            self._client = outbound_client(
                allow_private=False,
                allow_loopback=self.allow_loopback,
                timeout_s=self.timeout_s,
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def send(self, target: dict[str, Any], message: Message) -> SendResult:
        """Encrypt and send; 201/202 ok, 404/410 gone, 429/5xx and network errors retry,
        anything else (400, 401, 403, 413: our request or key is wrong) fails for good."""
        endpoint = str(target.get("endpoint", ""))
        try:
            encoded = WebPusher(target).encode(payload_of(message), "aes128gcm")
        except Exception as exc:  # pywebpush raises plain exceptions for bad keys
            return SendResult(ok=False, gone=True, detail=f"bad subscription: {exc}"[:200])
        headers = self.headers_for(endpoint, message)
        try:
            response = await self._http().post(endpoint, content=encoded["body"], headers=headers)
        except httpx.HTTPError as exc:
            return SendResult(ok=False, retry=True, detail=f"{type(exc).__name__}: {exc}"[:200])
        status = response.status_code
        detail = f"{status} {response.text[:160]}".strip()
        if status in (200, 201, 202):
            return SendResult(ok=True, detail=str(status))
        if status in (404, 410):
            return SendResult(ok=False, gone=True, detail=detail)
        if status == 429 or status >= 500:
            return SendResult(ok=False, retry=True, detail=detail)
        return SendResult(ok=False, detail=detail)


def build(settings: Settings) -> WebPushChannel | None:
    """The Web Push channel for these settings, or None when ``JUNBAN_VAPID_SUBJECT`` is
    unset (Web Push off)."""
    return WebPushChannel(settings) if settings.vapid_subject else None


def public_key(settings: Settings | None = None) -> str | None:
    """The VAPID public key for ``GET /v1/push/key``, or None when Web Push is off: the
    channel built for ``settings``, or without them the one registered in ``CHANNELS``."""
    channel = build(settings) if settings is not None else CHANNELS.get("webpush")
    return channel.public_key if isinstance(channel, WebPushChannel) else None
