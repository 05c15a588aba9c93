"""E-mail notifications: ``EmailChannel`` sends through an SMTP relay with ``aiosmtplib``.

``JUNBAN_SMTP_URL`` names the relay: ``smtp://user:pass@host:587?starttls=1`` (STARTTLS),
``smtps://user:pass@host:465`` (implicit TLS) or ``smtp://host:25`` (plain, a local relay);
``?cafile=/path`` trusts that CA (a relay with a private certificate). ``JUNBAN_MAIL_FROM``
is the sender; either unset = no e-mail channel. The relay signs DKIM.

Each mail: the subject number first (【デモクリニック】まもなく順番です（43番）), a short UTF-8
body with **no URL** unless the patient asked for one (Japanese carrier filters, SoftBank's
URL refusal), ``Auto-Submitted: auto-generated`` and a ``Message-ID`` derived from (ticket,
trigger, n), so a repeat after a crash carries the same id. A refused or hanging relay
(connect error, timeout after 10 s, 4xx) answers ``retry``; a recipient refused with 5xx
answers ``gone``. ``carrier_hint`` names the Japanese carrier (and iCloud) mail services that
drop mail from senders the patient has not allowed.
"""

from __future__ import annotations

import hashlib
import logging
import re
import ssl
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from hub.errors import Unprocessable
from hub.notify.channels import Message, SendResult
from hub.settings import Settings

log = logging.getLogger("junban.notify.email")

TIMEOUT_S = 10.0
"""A relay that does not answer within 10 s is retried later."""
MAX_ADDRESS = 254
_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}"
"""Local parts as Japanese carriers issued them: consecutive dots and a dot before the @
(``taro..yamada.@docomo.ne.jp``) are not RFC 5322, but real and deliverable."""
_DOMAIN = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
ADDRESS = re.compile(rf"{_LOCAL}@{_DOMAIN}")

CARRIERS: dict[str, tuple[str, ...]] = {
    "docomo": ("docomo.ne.jp",),
    "au": ("ezweb.ne.jp", "au.com", "biz.ezweb.ne.jp", "uqmobile.jp"),
    "softbank": ("softbank.ne.jp", "i.softbank.ne.jp", "ymobile.ne.jp", "y-mobile.ne.jp"),
    "rakuten": ("rakumail.jp",),
    "icloud": ("icloud.com", "me.com", "mac.com"),
}
"""Mail services that silently drop mail from senders the patient has not allowed (the page
shows the steps to allow the sender's domain for each)."""


def carrier_hint(address: str) -> str | None:
    """The carrier mail service of ``address`` (``docomo``, ``au``, ``softbank``,
    ``rakuten``, ``icloud``), or None for any other address."""
    domain = address.rpartition("@")[2].lower().rstrip(".")
    for carrier, domains in CARRIERS.items():
        if any(domain == d or domain.endswith("." + d) for d in domains):
            return carrier
    return None


def check_address(raw: object) -> str:
    """``raw`` as a sane e-mail address (domain lower-cased); else 422 ``invalid_email``."""
    if not isinstance(raw, str):
        raise Unprocessable("email must be a string", code="invalid_email")
    address = raw.strip()
    if len(address) > MAX_ADDRESS or not ADDRESS.fullmatch(address):
        raise Unprocessable("email is not an address like name@example.jp", code="invalid_email")
    local, _, domain = address.rpartition("@")
    return f"{local}@{domain.lower()}"


@dataclass(frozen=True, slots=True)
class Relay:
    """Where and how to hand mail over (parsed from ``JUNBAN_SMTP_URL``)."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    implicit_tls: bool = False
    starttls: bool = False
    cafile: str | None = None

    @classmethod
    def parse(cls, url: str) -> Relay:
        """``ValueError`` when ``url`` is not ``smtp[s]://[user:pass@]host[:port][?starttls=1]``."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("expected smtp://[user:pass@]host[:port][?starttls=1] or smtps://…")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        starttls = query.get("starttls", "0") in ("1", "true", "yes")
        implicit = scheme == "smtps"
        if implicit and starttls:
            raise ValueError("smtps:// is implicit TLS: starttls=1 does not apply")
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if implicit else 587 if starttls else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            implicit_tls=implicit,
            starttls=starttls,
            cafile=query.get("cafile"),
        )


class EmailChannel:
    """The ``email`` notification channel (``hub.notify.channels.NotifyChannel``)."""

    name = "email"

    def __init__(
        self,
        relay: Relay,
        sender: str,
        *,
        public_url: str | None = None,
        timeout_s: float = TIMEOUT_S,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.relay = relay
        self.sender = check_address(sender)
        self.domain = self.sender.rpartition("@")[2]
        """The sender's domain: the one patients on carrier mail must allow."""
        self.public_url = public_url.rstrip("/") if public_url else None
        self.timeout_s = timeout_s
        if tls_context is None and relay.cafile:
            tls_context = ssl.create_default_context(cafile=relay.cafile)
        self.tls_context = tls_context

    @classmethod
    def from_settings(
        cls, smtp_url: str | None, mail_from: str | None, public_url: str | None = None
    ) -> EmailChannel | None:
        """The channel, or None when ``JUNBAN_SMTP_URL`` or ``JUNBAN_MAIL_FROM`` is unset;
        ``ValueError`` naming the variable when one does not parse."""
        if not smtp_url or not mail_from:
            return None
        try:
            relay = Relay.parse(smtp_url)
        except ValueError as exc:
            raise ValueError(f"JUNBAN_SMTP_URL is not valid: {exc}") from exc
        try:
            return cls(relay, mail_from, public_url=public_url)
        except Unprocessable as exc:
            raise ValueError("JUNBAN_MAIL_FROM is not an e-mail address") from exc

    def check_target(self, raw: dict[str, Any]) -> dict[str, Any]:
        """``{"email": address, "link"?: bool}`` -> the target to store; 422 ``invalid_email``."""
        link = raw.get("link", False)
        if not isinstance(link, bool):
            raise Unprocessable("link must be true or false", code="invalid_body")
        return {"email": check_address(raw.get("email")), "link": link}

    def carrier_hint(self, address: str) -> str | None:
        """The carrier mail service of ``address`` (see ``carrier_hint``): the page then
        shows how to allow mail from ``domain``."""
        return carrier_hint(address)

    def compose(self, target: dict[str, Any], message: Message) -> EmailMessage:
        """The mail of ``message`` to ``target`` (no personal name; a URL only if asked)."""
        lines = [message.body, ""]
        if target.get("link") and self.public_url:
            lines += [f"受付画面: {self.public_url}{message.path}", ""]
        lines += [f"{message.clinic}", "このメールは送信専用です。返信はできません。"]
        digest = hashlib.sha256(
            f"{message.facility}:{message.ticket_id}:{message.trigger}:{message.n}".encode()
        ).hexdigest()[:32]
        return self._mail(
            target["email"],
            subject(message.clinic, message.title, message.number),
            "\n".join(lines),
            f"<{digest}@{self.domain}>",
        )

    def _mail(self, to: str, title: str, body: str, message_id: str) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = to
        mail["Subject"] = title
        mail["Date"] = formatdate(localtime=False, usegmt=True)
        mail["Message-ID"] = message_id
        mail["Auto-Submitted"] = "auto-generated"
        mail["X-Auto-Response-Suppress"] = "All"
        mail.set_content(body + "\n", charset="utf-8")
        return mail

    async def send(self, target: dict[str, Any], message: Message) -> SendResult:
        """Hand the mail to the relay: ok, ``retry`` (refused, hanging, 4xx) or ``gone``."""
        return await self._deliver(self.compose(target, message))

    async def confirm(self, target: dict[str, Any], clinic: str, number: int) -> SendResult:
        """The confirmation sent at subscribe: catches typos and is the test mail."""
        body = (
            f"{clinic}の受付番号{number}番の通知を、このメールアドレスで受け付けました。\n"
            "順番が近づいたときと呼び出しのときにお知らせします。\n\n"
            f"{clinic}\nこのメールは送信専用です。返信はできません。"
        )
        mail = self._mail(
            target["email"],
            subject(clinic, "通知の登録を受け付けました", number),
            body,
            make_msgid(domain=self.domain),
        )
        return await self._deliver(mail)

    async def _deliver(self, mail: EmailMessage) -> SendResult:
        relay = self.relay
        started = time.perf_counter()
        try:
            await aiosmtplib.send(
                mail,
                hostname=relay.host,
                port=relay.port,
                username=relay.username,
                password=relay.password,
                use_tls=relay.implicit_tls,
                start_tls=True if relay.starttls else False,
                tls_context=self.tls_context,
                timeout=self.timeout_s,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [error.code for error in exc.recipients]
            permanent = all(500 <= code < 600 for code in codes)
            log.warning("mail refused for its recipient: %s", codes)
            return SendResult(ok=False, gone=permanent, retry=not permanent, detail=str(codes))
        except aiosmtplib.SMTPResponseException as exc:
            transient = 400 <= exc.code < 500
            log.warning("mail relay answered %s: %s", exc.code, exc.message)
            return SendResult(ok=False, retry=transient, detail=f"smtp {exc.code}")
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            log.warning("mail relay unreachable: %r", exc)
            return SendResult(ok=False, retry=True, detail=type(exc).__name__)
        log.debug("mail accepted in %.0f ms", (time.perf_counter() - started) * 1000)
        return SendResult(ok=True)


def subject(clinic: str, title: str, number: int) -> str:
    """The subject, number first: 【デモクリニック】まもなく順番です（43番）."""
    suffix = f"（{number}番）"
    title = title.strip()
    if f"{number}番" in title:  # the title already names the number
        suffix = ""
    if title.startswith((f"【{clinic}】", f"[{clinic}]")):  # and the clinic (messages.py)
        return f"{title}{suffix}"
    return f"【{clinic}】{title}{suffix}"


def build(settings: Settings) -> EmailChannel | None:
    """The channel from ``JUNBAN_SMTP_URL`` and ``JUNBAN_MAIL_FROM`` (hub/notify/wiring.py);
    None when either is unset; ``ValueError`` naming the variable when one is wrong."""
    return EmailChannel.from_settings(settings.smtp_url, settings.mail_from, settings.public_url)
