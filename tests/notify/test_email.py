"""The e-mail channel against a real SMTP server (aiosmtpd in this process on 127.0.0.1):
plain, STARTTLS and implicit TLS with a self-signed certificate made here; the headers, the
Japanese subject decoded intact, no URL by default, the confirmation mail; a refusing or
hanging relay answers ``retry``."""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from hypothesis import given
from hypothesis import strategies as st

from hub.errors import Unprocessable
from hub.notify.channels import Message
from hub.notify.email import EmailChannel, Relay, carrier_hint, check_address, subject
from tests.conftest import free_port
from tests.notify.conftest import SmtpSink, self_signed

CLINIC = "デモクリニック"


def message(trigger: str = "near", n: int = 0, ticket: str = "T43") -> Message:
    return Message(
        facility="1234", info="1234-01", ticket_id=ticket, number=43, trigger=trigger, n=n,
        ahead=3, clinic=CLINIC, title="まもなく順番です",
        body="受付番号43番の方、まもなく順番です（あと3人）。受付の近くでお待ちください。",
        path=f"/q/1234-01/t/{ticket}",
    )  # fmt: skip


@pytest.fixture
def plain_server() -> Iterator[tuple[SmtpSink, int]]:
    sink, port = SmtpSink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    return self_signed(tmp_path)


def _server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def _authenticator(server: object, session: object, envelope: object, mechanism: str,
                   auth_data: object) -> AuthResult:  # fmt: skip
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        b"relay-user",
        b"relay-pass",
    )
    return AuthResult(success=ok)


def _channel(port: int, **kw: object) -> EmailChannel:
    relay = Relay.parse(f"smtp://127.0.0.1:{port}")
    return EmailChannel(relay, "noreply@junban.example.jp", **kw)  # type: ignore[arg-type]


async def test_a_near_mail_has_the_number_first_subject_and_no_url(
    plain_server: tuple[SmtpSink, int],
) -> None:
    sink, port = plain_server
    channel = _channel(port, public_url="https://junban.example.jp")
    result = await channel.send({"email": "patient@example.jp", "link": False}, message())
    assert result.ok, result
    [(sender, rcpts, mail)] = sink.mails
    assert sender == "noreply@junban.example.jp" and rcpts == ["patient@example.jp"]
    assert mail["Subject"] == "【デモクリニック】まもなく順番です（43番）"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert re.fullmatch(r"<[0-9a-f]{32}@junban\.example\.jp>", mail["Message-ID"])
    body = mail.get_content()
    assert "受付番号43番の方、まもなく順番です" in body
    assert "http" not in body and "/q/" not in body
    assert mail.get_content_charset() == "utf-8"


async def test_the_message_id_is_the_same_for_a_repeat_and_differs_per_trigger(
    plain_server: tuple[SmtpSink, int],
) -> None:
    sink, port = plain_server
    channel = _channel(port)
    target = {"email": "patient@example.jp"}
    for m in (message(), message(), message("called"), message("recalled", 1)):
        assert (await channel.send(target, m)).ok
    ids = [mail["Message-ID"] for _, _, mail in sink.mails]
    assert ids[0] == ids[1] and len(set(ids)) == 3


async def test_a_link_only_when_the_patient_asked(plain_server: tuple[SmtpSink, int]) -> None:
    sink, port = plain_server
    channel = _channel(port, public_url="https://junban.example.jp/")
    target = channel.check_target({"email": "patient@example.jp", "link": True})
    assert (await channel.send(target, message())).ok
    body = sink.mails[0][2].get_content()
    assert "https://junban.example.jp/q/1234-01/t/T43" in body


async def test_the_confirmation_mail(plain_server: tuple[SmtpSink, int]) -> None:
    sink, port = plain_server
    channel = _channel(port)
    result = await channel.confirm({"email": "patient@example.jp"}, CLINIC, 43)
    assert result.ok
    mail = sink.mails[0][2]
    assert mail["Subject"] == "【デモクリニック】通知の登録を受け付けました（43番）"
    assert "43番" in mail.get_content() and "http" not in mail.get_content()
    assert mail["Auto-Submitted"] == "auto-generated"


async def test_starttls_with_auth(certificate: tuple[Path, Path]) -> None:
    sink, port = SmtpSink(), free_port()
    controller = Controller(
        sink, hostname="127.0.0.1", port=port, tls_context=_server_context(certificate),
        require_starttls=True, authenticator=_authenticator, auth_required=True,
    )  # fmt: skip
    controller.start()
    try:
        relay = Relay.parse(
            f"smtp://relay-user:relay-pass@127.0.0.1:{port}?starttls=1&cafile={certificate[0]}"
        )
        assert relay.starttls and not relay.implicit_tls
        channel = EmailChannel(relay, "noreply@junban.example.jp")
        result = await channel.send({"email": "patient@docomo.ne.jp"}, message("called"))
        assert result.ok, result
        assert sink.mails[0][2]["Subject"] == "【デモクリニック】まもなく順番です（43番）"
        assert sink.mails[0][1] == ["patient@docomo.ne.jp"]
    finally:
        controller.stop()


async def test_implicit_tls(certificate: tuple[Path, Path]) -> None:
    sink, port = SmtpSink(), free_port()
    controller = Controller(
        sink, hostname="127.0.0.1", port=port, ssl_context=_server_context(certificate)
    )
    controller.start()
    try:
        relay = Relay.parse(f"smtps://127.0.0.1:{port}")
        assert relay.implicit_tls
        context = ssl.create_default_context(cafile=str(certificate[0]))
        channel = EmailChannel(relay, "noreply@junban.example.jp", tls_context=context)
        assert (await channel.send({"email": "p@example.jp"}, message())).ok
        assert len(sink.mails) == 1
        untrusted = EmailChannel(relay, "noreply@junban.example.jp", timeout_s=2)
        assert (await untrusted.send({"email": "p@example.jp"}, message())).retry
    finally:
        controller.stop()


async def test_a_refusing_relay_answers_retry() -> None:
    channel = _channel(free_port(), timeout_s=2)  # nothing listens there
    result = await channel.send({"email": "patient@example.jp"}, message())
    assert not result.ok and result.retry and result.detail


async def test_a_hanging_relay_answers_retry_after_the_timeout() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()  # accepts (in the backlog), never greets
        channel = _channel(listener.getsockname()[1], timeout_s=0.5)
        started = asyncio.get_running_loop().time()
        result = await channel.send({"email": "patient@example.jp"}, message())
        assert not result.ok and result.retry
        assert asyncio.get_running_loop().time() - started < 5


def test_addresses() -> None:
    assert check_address(" Taro@Example.JP ") == "Taro@example.jp"
    assert check_address("taro..yamada.@docomo.ne.jp") == "taro..yamada.@docomo.ne.jp"
    bad_ones: list[object] = ["", "taro", "taro@", "@example.jp", "taro@example", "a b@example.jp"]
    bad_ones += ["taro@exa_mple.jp", "x" * 250 + "@example.jp", "太郎@example.jp", 42, None]
    for bad in bad_ones:
        with pytest.raises(Unprocessable) as caught:
            check_address(bad)
        assert caught.value.code == "invalid_email"


def test_carrier_hints() -> None:
    assert carrier_hint("a@docomo.ne.jp") == "docomo"
    assert carrier_hint("a@ezweb.ne.jp") == "au" and carrier_hint("a@au.com") == "au"
    assert carrier_hint("a@i.softbank.ne.jp") == "softbank"
    assert carrier_hint("a@softbank.ne.jp") == "softbank"
    assert carrier_hint("a@iCloud.com") == "icloud"
    assert carrier_hint("a@gmail.com") is None
    assert carrier_hint("a@notdocomo.ne.jp") is None


def test_relay_urls_and_settings() -> None:
    relay = Relay.parse("smtp://user%40x:p%3Ass@mail.example.jp?starttls=1")
    assert (relay.host, relay.port, relay.username, relay.password) == (
        "mail.example.jp", 587, "user@x", "p:ss")  # fmt: skip
    assert Relay.parse("smtps://mail.example.jp").port == 465
    assert Relay.parse("smtp://mail.example.jp").port == 25
    for bad in ("http://mail.example.jp", "smtp://", "smtps://h?starttls=1"):
        with pytest.raises(ValueError):
            Relay.parse(bad)
    assert EmailChannel.from_settings(None, "a@example.jp") is None
    assert EmailChannel.from_settings("smtp://h", None) is None
    with pytest.raises(ValueError, match="JUNBAN_MAIL_FROM"):
        EmailChannel.from_settings("smtp://h", "not an address")


def test_the_subject_does_not_repeat_the_number() -> None:
    assert subject(CLINIC, "お呼びしています", 43) == "【デモクリニック】お呼びしています（43番）"
    assert (
        subject(CLINIC, "43番の方、お呼びしています", 43)
        == "【デモクリニック】43番の方、お呼びしています"
    )
    # the worker's titles already start with the clinic (hub/notify/messages.py)
    assert (
        subject(CLINIC, "【デモクリニック】まもなく順番です", 43)
        == "【デモクリニック】まもなく順番です（43番）"
    )


@given(st.text(max_size=300))
def test_any_text_is_an_address_or_invalid_email(text: str) -> None:
    try:
        address = check_address(text)
    except Unprocessable as exc:
        assert exc.code == "invalid_email"
    else:
        assert len(address) <= 254 and address.count("@") >= 1 and address == address.strip()
        assert address.encode("ascii")  # no SMTPUTF8 needed


@given(st.emails())
def test_ordinary_addresses_pass(address: str) -> None:
    if len(address) <= 254 and address.rpartition("@")[2].rpartition(".")[2].isalpha():
        checked = check_address(address)
        assert checked.lower() == address.lower()
