"""The LINE channel against a local fake of LINE's API (tests/peers/line_fake.py, in its own
process: push, reply, quota; Bearer and body checks; retry-key dedupe), and webhooks signed
here with the channel secret, through a real hub: a wrong signature → 403 and nothing bound;
a link message binds and is answered; a trigger pushes; unfollow unbinds; a spent quota
sends the message by e-mail (aiosmtpd in this process). The e-mail channel end to end too:
subscribe → confirmation mail, call-next → the near mail."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import orjson
import pytest
import redis.asyncio as aioredis
from aiosmtpd.controller import Controller
from hypothesis import given
from hypothesis import strategies as st

from hub import keys
from hub import secrets as sealing
from hub.notify.channels import Message
from hub.notify.email import EmailChannel, Relay
from hub.notify.line import CODE_ALPHABET, LineChannel, link_code, link_url, retry_key, signature_ok
from hub.notify.rules import Subscribed
from hub.notify.store import NotifyStore
from tests.conftest import (
    SECRET,
    WITH_NOTIFY,
    HubProcess,
    bearer,
    free_port,
    make_facility,
    staff_headers,
    start_hub,
)
from tests.notify.conftest import SmtpSink, take_web, until
from tests.peerproc import PeerProcess

PEERS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "peers")
TOKEN = "line-test-token"
CHANNEL_SECRET = "line-channel-secret-for-tests"
BASIC_ID = "@123abcde"


class LineFake(PeerProcess):
    """tests/peers/line_fake.py in its own process."""

    script = "line_fake.py"
    label = "the LINE fake"

    def env(self) -> dict[str, str]:
        return {"LINE_FAKE_TOKEN": TOKEN}

    def control(self, **change: Any) -> None:
        assert httpx.post(self.url + "/_control", json=change, timeout=5).status_code == 200

    def log(self) -> dict[str, Any]:
        answer: dict[str, Any] = httpx.get(self.url + "/_control/log", timeout=5).json()
        return answer


@pytest.fixture(scope="module")
def line_server() -> Iterator[LineFake]:
    fake = LineFake().start()
    yield fake
    fake.stop()


@pytest.fixture
def line(line_server: LineFake) -> LineFake:
    line_server.control(reset=True)
    return line_server


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[SmtpSink, int]]:
    sink, port = SmtpSink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    yield sink, port
    controller.stop()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


def user_id() -> str:
    return "U" + secrets.token_hex(16)


def message(trigger: str = "near", n: int = 0, ticket: str | None = None) -> Message:
    return Message(
        facility="1234", info="1234-01", ticket_id=ticket or secrets.token_hex(4), number=43,
        trigger=trigger, n=n, ahead=3, clinic="デモクリニック", title="まもなく順番です",
        body="受付番号43番の方、まもなく順番です（あと3人）。", path="/q/1234-01/t/x",
    )  # fmt: skip


def channel(
    redis: aioredis.Redis, fake: LineFake, *, token: str = TOKEN, fallback: Any = None
) -> LineChannel:
    return LineChannel(
        redis, NotifyStore(redis), token=token, secret=CHANNEL_SECRET, basic_id=BASIC_ID,
        api=fake.url, fallback=fallback,
    )  # fmt: skip


def signed(body: bytes, secret: str = CHANNEL_SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return {
        "X-Line-Signature": base64.b64encode(digest).decode(),
        "Content-Type": "application/json",
    }


def event(kind: str, uid: str, text: str | None = None, reply: str = "reply-1") -> dict[str, Any]:
    found: dict[str, Any] = {
        "type": kind, "mode": "active", "timestamp": int(time.time() * 1000),
        "source": {"type": "user", "userId": uid}, "webhookEventId": secrets.token_hex(8),
        "deliveryContext": {"isRedelivery": False},
    }  # fmt: skip
    if text is not None:
        found["message"] = {"type": "text", "id": "1", "text": text}
        found["replyToken"] = reply
    return found


# -- pure parts --------------------------------------------------------------------------


def test_signatures_codes_and_urls() -> None:
    body = b'{"events":[]}'
    good = signed(body)["X-Line-Signature"]
    assert signature_ok(CHANNEL_SECRET, body, good)
    assert not signature_ok(CHANNEL_SECRET, body + b" ", good)
    assert not signature_ok("another secret", body, good)
    assert not signature_ok(CHANNEL_SECRET, body, None) and not signature_ok(
        CHANNEL_SECRET, body, ""
    )
    assert link_code("通知連携 ABC234") == "ABC234"
    assert link_code("通知連携\u3000abc234 ") == "ABC234"
    assert link_code("通知連携 ABC23") is None and link_code("こんにちは") is None
    assert link_url("@123abcde", "ABC234") == (
        "https://line.me/R/oaMessage/@123abcde/?%E9%80%9A%E7%9F%A5%E9%80%A3%E6%90%BA%20ABC234"
    )
    m = message()
    assert retry_key(m) == retry_key(m) != retry_key(message("called", ticket=m.ticket_id))


# -- the channel against the fake --------------------------------------------------------


async def test_a_push_retried_with_its_key_is_delivered_once(
    redis: aioredis.Redis, line: LineFake
) -> None:
    ch = channel(redis, line)
    uid, m = user_id(), message()
    first = await ch.send({"user_id": uid}, m)
    again = await ch.send({"user_id": uid}, m)
    assert first.ok and again.ok, (first, again)
    log = line.log()
    assert len(log["pushes"]) == 1 and log["pushes"][0]["to"] == uid
    assert log["pushes"][0]["retry_key"] == retry_key(m)
    text = log["pushes"][0]["messages"][0]["text"]
    assert text.startswith("【デモクリニック】まもなく順番です（43番）") and "http" not in text
    assert [r["why"] for r in log["refused"]] == ["retry key"]
    await ch.aclose()


async def test_a_wrong_token_fails_and_a_5xx_retries(redis: aioredis.Redis, line: LineFake) -> None:
    wrong = channel(redis, line, token="not-the-token")
    result = await wrong.send({"user_id": user_id()}, message())
    assert not result.ok and not result.retry and "401" in result.detail
    await wrong.aclose()
    ch = channel(redis, line)
    line.control(fail5xx=1)
    result = await ch.send({"user_id": user_id()}, message())
    assert not result.ok and result.retry
    assert line.log()["pushes"] == []
    await ch.aclose()


async def test_a_spent_quota_goes_by_email(
    redis: aioredis.Redis, line: LineFake, smtp: tuple[SmtpSink, int]
) -> None:
    sink, port = smtp
    mail = EmailChannel(Relay.parse(f"smtp://127.0.0.1:{port}"), "noreply@junban.example.jp")
    ch = channel(redis, line, fallback=mail)
    assert ch.check_target({"email": "Pat@Example.JP"}) == {"email": "Pat@example.jp"}
    line.control(limit=1, used=0)
    assert (await ch.send({"user_id": user_id()}, message())).ok  # the last one of the month
    before = len(sink.mails)
    # the quota read is cached: the push itself answers 429 "monthly limit"
    m = message("called")
    result = await ch.send({"user_id": user_id(), "email": "pat@example.jp"}, m)
    assert result.ok and "quota" in result.detail, result
    assert len(sink.mails) == before + 1
    assert sink.mails[-1][1] == ["pat@example.jp"]
    assert sink.mails[-1][2]["Subject"] == "【デモクリニック】まもなく順番です（43番）"
    # now known spent: no push is tried; without an e-mail the result says why
    result = await ch.send({"user_id": user_id()}, message())
    assert not result.ok and not result.retry and result.detail == "quota"
    assert len(line.log()["pushes"]) == 1
    await ch.aclose()
    line.control(limit=None)
    fresh = channel(redis, line)
    assert (await fresh.send({"user_id": user_id()}, message())).ok
    await fresh.aclose()


async def test_link_binds_and_unfollow_unbinds(redis: aioredis.Redis, line: LineFake) -> None:
    sealing.configure(SECRET)
    ch = channel(redis, line)
    store = NotifyStore(redis)
    facility, ticket = "77" + str(secrets.randbelow(10**6)).zfill(6), "t" + secrets.token_hex(3)
    sub = Subscribed(f"{facility}-01", 43, 3, time.strftime("%Y-%m-%d"))
    answer = await ch.begin_link(facility, f"{facility}-01", ticket, sub, {})
    code = answer["code"]
    assert len(code) == 6 and answer["url"] == link_url(BASIC_ID, code)
    assert await redis.ttl(keys.line_code(code)) > 1700
    uid = user_id()
    body = orjson.dumps(
        {"destination": "U0", "events": [event("message", uid, f"通知連携 {code}")]}
    )
    done = await ch.webhook("operator", body, signed(body)["X-Line-Signature"])
    assert done["linked"] == 1
    assert (await store.targets(facility, ticket))["line"][1] == {"user_id": uid}
    assert line.log()["replies"][-1]["messages"][0]["text"] == "43番の通知を設定しました"
    again = await ch.webhook("operator", body, signed(body)["X-Line-Signature"])  # code used
    assert (
        again["unknown_codes"] == 1 and "期限" in line.log()["replies"][-1]["messages"][0]["text"]
    )
    gone = orjson.dumps({"events": [event("unfollow", uid)]})
    assert (await ch.webhook("operator", gone, signed(gone)["X-Line-Signature"]))["unfollowed"] == 1
    assert "line" not in await store.targets(facility, ticket)
    await ch.aclose()


# -- through a real hub --------------------------------------------------------------------


@pytest.fixture(scope="module")
def line_hub(
    redis_url: str, line_server: LineFake, smtp: tuple[SmtpSink, int]
) -> Iterator[HubProcess]:
    process = start_hub(
        redis_url,
        JUNBAN_LINE_API=line_server.url, JUNBAN_LINE_TOKEN=TOKEN,
        JUNBAN_LINE_SECRET=CHANNEL_SECRET, JUNBAN_LINE_BASIC_ID=BASIC_ID,
        JUNBAN_SMTP_URL=f"smtp://127.0.0.1:{smtp[1]}", JUNBAN_MAIL_FROM="noreply@junban.example.jp",
        **WITH_NOTIFY,
    )  # fmt: skip
    yield process
    process.stop()


@pytest.fixture
async def hub_client(line_hub: HubProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=line_hub.base_url, timeout=20) as c:
        yield c


async def _queue_of_three(client: httpx.AsyncClient) -> tuple[str, str, str, int]:
    """A fresh facility with no quiet hours and three web tickets: the queue, and the
    third's id, token and number (two ahead of it)."""
    facility = await make_facility(client, ("01",))
    r = await client.put(
        f"/v1/facilities/{facility}/notify/settings",
        json={"threshold_default": 1, "quiet_from": "00:00", "quiet_to": "00:00"},
        headers=staff_headers(facility),
    )
    assert r.status_code == 200, r.text
    info = f"{facility}-01"
    await take_web(client, info)
    await take_web(client, info)
    ticket_id, token, number = await take_web(client, info)
    return info, ticket_id, token, number


async def _call_next(client: httpx.AsyncClient, info: str) -> None:
    facility = info.partition("-")[0]
    r = await client.post(f"/v1/queues/{info}/call-next", headers=staff_headers(facility))
    assert r.status_code == 200, r.text


async def test_line_through_the_hub(hub_client: httpx.AsyncClient, line: LineFake) -> None:
    info, ticket_id, token, number = await _queue_of_three(hub_client)
    r = await hub_client.post(
        f"/v1/queues/{info}/tickets/{ticket_id}/notifications",
        json={"channel": "line", "threshold": 1}, headers=bearer(token),
    )  # fmt: skip
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    assert r.json()["url"] == link_url(BASIC_ID, code)
    uid = user_id()
    body = orjson.dumps(
        {"destination": "U0", "events": [event("message", uid, f"通知連携 {code}")]}
    )
    hook = "/v1/integrations/line/operator/webhook"
    forged = await hub_client.post(hook, content=body, headers=signed(body, "wrong secret"))
    assert forged.status_code == 403 and forged.json()["error"]["code"] == "bad_signature"
    unsigned = await hub_client.post(
        hook, content=body, headers={"Content-Type": "application/json"}
    )
    assert unsigned.status_code == 403
    assert line.log()["replies"] == []  # nothing bound, nothing answered
    other = await hub_client.post(
        "/v1/integrations/line/9999/webhook", content=body, headers=signed(body)
    )
    assert other.status_code == 404 and other.json()["error"]["code"] == "unknown_line_account"
    linked = await hub_client.post(hook, content=body, headers=signed(body))
    assert linked.status_code == 200 and linked.json()["linked"] == 1, linked.text
    assert line.log()["replies"][0]["messages"][0]["text"] == f"{number}番の通知を設定しました"

    await _call_next(hub_client, info)  # one ahead now: near

    async def pushed() -> list[dict[str, Any]] | None:
        found = [p for p in line.log()["pushes"] if p["to"] == uid]
        return found or None

    [push] = await until(pushed)
    assert f"（{number}番）" in push["messages"][0]["text"] and push["retry_key"]

    bye = orjson.dumps({"events": [event("unfollow", uid)]})
    assert (await hub_client.post(hook, content=bye, headers=signed(bye))).json()["unfollowed"] == 1
    await _call_next(hub_client, info)
    await _call_next(hub_client, info)  # called: nobody to tell any more
    await asyncio.sleep(2)  # the worker would have pushed by now
    assert len([p for p in line.log()["pushes"] if p["to"] == uid]) == 1


async def test_email_through_the_hub(
    hub_client: httpx.AsyncClient, smtp: tuple[SmtpSink, int]
) -> None:
    sink, _ = smtp
    info, ticket_id, token, number = await _queue_of_three(hub_client)
    address = f"p{secrets.token_hex(3)}@docomo.ne.jp"
    r = await hub_client.post(
        f"/v1/queues/{info}/tickets/{ticket_id}/notifications",
        json={"channel": "email", "email": address, "threshold": 1}, headers=bearer(token),
    )  # fmt: skip
    assert r.status_code == 201, r.text
    answer = r.json()
    assert answer["confirmation_sent"] is True and answer["sender_domain"] == "junban.example.jp"
    assert answer["carrier"] == "docomo"
    mine = [m for _, to, m in sink.mails if to == [address]]
    assert "通知の登録を受け付けました" in mine[0]["Subject"]
    bad = await hub_client.post(
        f"/v1/queues/{info}/tickets/{ticket_id}/notifications",
        json={"channel": "email", "email": "not-an-address"}, headers=bearer(token),
    )  # fmt: skip
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_email"

    started = time.monotonic()
    await _call_next(hub_client, info)

    async def near_mail() -> Any:
        found = [
            m for _, to, m in sink.mails if to == [address] and "通知の登録" not in m["Subject"]
        ]
        return found or None

    [mail] = await until(near_mail)
    assert time.monotonic() - started < 5
    assert (
        mail["Subject"].endswith(f"（{number}番）") and mail["Auto-Submitted"] == "auto-generated"
    )
    assert "http" not in mail.get_content()


@given(
    st.text(alphabet=CODE_ALPHABET, min_size=6, max_size=6), st.sampled_from([" ", "\u3000", "  "])
)
def test_every_code_reads_back_from_its_message(code: str, space: str) -> None:
    assert link_code(f"通知連携{space}{code}") == code
    assert link_code(f"通知連携{space}{code.lower()}") == code
    assert link_code(f"通知連携{code}") == code  # the space dropped
    assert link_code(f"通知連携 {code}X") is None
