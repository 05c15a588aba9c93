"""Web Push, server half (design "Tests": web-push-testing 1.2.2, a real RFC 8030 push service
that checks the VAPID JWT and decrypts the aes128gcm payload): the channel's send reaches it
with the Japanese text intact, an expired subscription answers 410 and the channel says
``gone``, the VAPID key is generated once, and bad subscriptions are refused at subscribe."""

from __future__ import annotations

import base64
import json
import stat
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import redis.asyncio as aioredis
from hypothesis import given
from hypothesis import strategies as st

from hub import keys
from hub.errors import BadRequest, Unprocessable
from hub.notify.channels import Message
from hub.notify.webpush import MAX_PAYLOAD, WebPushChannel, load_vapid, payload_of, public_key
from hub.settings import Settings, SettingsError
from tests.conftest import (
    WITH_NOTIFY,
    HubProcess,
    bearer,
    free_port,
    make_facility,
    staff_headers,
    start_hub,
)
from tests.notify.conftest import PushService, take_desk, take_web, until

SUBJECT = "mailto:ops@junban.example"


@pytest.fixture(scope="module")
def push() -> Iterator[PushService]:
    service = PushService()
    yield service
    service.stop()


def settings_for(data_dir: Path, **changes: object) -> Settings:
    base = Settings(data_dir=data_dir, vapid_subject=SUBJECT, integrations_allow_loopback=True)
    return replace(base, **changes)  # type: ignore[arg-type]


def message(**changes: object) -> Message:
    base = Message(
        facility="1234",
        info="1234-1",
        ticket_id="Tk9",
        number=43,
        trigger="near",
        n=0,
        ahead=3,
        clinic="デモクリニック",
        title="まもなく順番です（43番）",
        body="デモクリニック：あと3人です。受付の近くでお待ちください。",
        path="/q/1234-1/t/Tk9",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


async def test_send_reaches_the_push_service_decrypted(push: PushService, tmp_path: Path) -> None:
    channel = WebPushChannel(settings_for(tmp_path))
    sub = push.subscribe(channel.public_key)
    target = channel.check_target(
        {"subscription": {"endpoint": sub["endpoint"], "keys": sub["keys"]}}
    )
    try:
        result = await channel.send(target, message())
        assert result.ok, result.detail
        assert not result.gone and not result.retry
        got = [json.loads(text) for text in push.messages(sub["clientHash"])]
    finally:
        await channel.aclose()
    assert got == [
        {
            "title": "まもなく順番です（43番）",
            "body": "デモクリニック：あと3人です。受付の近くでお待ちください。",
            "path": "/q/1234-1/t/Tk9",
            "number": 43,
            "ahead": 3,
            "trigger": "near",
            "ticket": "Tk9",
            "clinic": "デモクリニック",
        }
    ]


async def test_an_expired_subscription_is_gone(push: PushService, tmp_path: Path) -> None:
    channel = WebPushChannel(settings_for(tmp_path))
    sub = push.subscribe(channel.public_key)
    target = {"endpoint": sub["endpoint"], "keys": sub["keys"]}
    try:
        assert (await channel.send(target, message())).ok
        push.expire(sub["clientHash"])
        result = await channel.send(target, message(trigger="called", ahead=0))
    finally:
        await channel.aclose()
    assert result.gone and not result.ok and not result.retry
    assert result.detail.startswith("410")
    assert len(push.messages(sub["clientHash"])) == 1


async def test_the_service_checks_the_vapid_key(push: PushService, tmp_path: Path) -> None:
    """A subscription made for another server key refuses our JWT: a failure, not gone."""
    other = WebPushChannel(settings_for(tmp_path / "other"))
    channel = WebPushChannel(settings_for(tmp_path / "ours"))
    sub = push.subscribe(other.public_key)
    try:
        result = await channel.send({"endpoint": sub["endpoint"], "keys": sub["keys"]}, message())
    finally:
        await channel.aclose()
    assert not result.ok and not result.gone and not result.retry
    assert result.detail.startswith("400")
    assert push.messages(sub["clientHash"]) == []


async def test_an_unreachable_service_is_retried(push: PushService, tmp_path: Path) -> None:
    channel = WebPushChannel(settings_for(tmp_path))
    sub = push.subscribe(channel.public_key)
    target = {"endpoint": f"http://localhost:{free_port()}/notify/x", "keys": sub["keys"]}
    try:
        result = await channel.send(target, message())
    finally:
        await channel.aclose()
    assert result.retry and not result.ok and not result.gone


def test_headers_and_jwt(tmp_path: Path) -> None:
    channel = WebPushChannel(settings_for(tmp_path))
    headers = channel.headers_for("https://push.example.net/send/abc", message(ticket_id="A_b-9"))
    assert headers["TTL"] == "600"
    assert headers["Urgency"] == "high"
    assert headers["Topic"] == "tA_b-9"
    assert headers["Content-Type"] == "application/octet-stream"
    scheme, _, params = headers["Authorization"].partition(" ")
    assert scheme == "vapid"
    fields = dict(part.strip().split("=", 1) for part in params.split(","))
    assert fields["k"] == channel.public_key
    claims = jwt.decode(fields["t"], options={"verify_signature": False})
    assert claims["aud"] == "https://push.example.net"
    assert claims["sub"] == SUBJECT
    assert 11 * 3600 < claims["exp"] - time.time() <= 12 * 3600


def test_the_key_is_generated_once(tmp_path: Path) -> None:
    first = WebPushChannel(settings_for(tmp_path)).public_key
    assert WebPushChannel(settings_for(tmp_path)).public_key == first
    assert base64.urlsafe_b64decode(first + "=")[0] == 4  # an uncompressed P-256 point
    assert len(base64.urlsafe_b64decode(first + "=")) == 65
    mode = stat.S_IMODE((tmp_path / "vapid.pem").stat().st_mode)
    assert mode == 0o600
    assert load_vapid(tmp_path).private_pem() == load_vapid(tmp_path).private_pem()
    assert public_key(settings_for(tmp_path)) == first
    assert public_key(Settings(data_dir=tmp_path)) is None  # no subject: Web Push off


def test_a_localhost_subject_stops_the_hub() -> None:
    for bad in ("mailto:admin@localhost", "https://localhost:8000", "mailto:ops", "ops@x.jp"):
        with pytest.raises(SettingsError, match="JUNBAN_VAPID_SUBJECT"):
            Settings.from_env({"JUNBAN_VAPID_SUBJECT": bad})
    assert Settings.from_env({"JUNBAN_VAPID_SUBJECT": SUBJECT}).vapid_subject == SUBJECT
    assert Settings.from_env({}).vapid_subject is None


@given(st.text(max_size=2000), st.text(max_size=600), st.text(max_size=300))
def test_any_payload_stays_within_1_kb(body: str, clinic: str, title: str) -> None:
    raw = payload_of(message(body=body, clinic=clinic, title=title))
    assert len(raw) <= MAX_PAYLOAD
    data = json.loads(raw)
    assert body.startswith(data["body"]) and clinic.startswith(data["clinic"])
    assert data["number"] == 43 and data["trigger"] == "near"


def test_the_payload_stays_under_1_kb() -> None:
    raw = payload_of(message(body="お待ちください。" * 200, clinic="長い名前のクリニック" * 5))
    assert len(raw) <= MAX_PAYLOAD
    data = json.loads(raw)
    assert data["number"] == 43 and data["path"] == "/q/1234-1/t/Tk9"
    assert "name" not in data and "phone" not in data


P256 = base64.urlsafe_b64encode(b"\x04" + b"\x01" * 64).rstrip(b"=").decode()
AUTH = base64.urlsafe_b64encode(b"\x02" * 16).rstrip(b"=").decode()


KEYS = {"p256dh": P256, "auth": AUTH}
PUSH = "https://push.example.net/x"
BAD_URL = "bad_endpoint_url"
BAD_BODY = "invalid_body"


@pytest.mark.parametrize(
    ("subscription", "loopback", "code"),
    [
        (None, True, BAD_BODY),
        ({"endpoint": "https://fcm.googleapis.com/x"}, True, BAD_BODY),
        ({"endpoint": "http://push.example.net/x", "keys": KEYS}, False, BAD_URL),
        ({"endpoint": "http://localhost:1/x", "keys": KEYS}, False, BAD_URL),
        ({"endpoint": "https://localhost/x", "keys": KEYS}, False, BAD_URL),
        ({"endpoint": "https://10.0.0.1/x", "keys": KEYS}, True, BAD_URL),
        ({"endpoint": "https://169.254.169.254/x", "keys": KEYS}, True, BAD_URL),
        ({"endpoint": PUSH, "keys": {"p256dh": AUTH, "auth": AUTH}}, True, BAD_BODY),
        ({"endpoint": PUSH, "keys": {"p256dh": P256, "auth": P256}}, True, BAD_BODY),
        ({"endpoint": PUSH, "keys": {"p256dh": "a+b/", "auth": AUTH}}, True, BAD_BODY),
        ({"endpoint": PUSH, "keys": {"p256dh": P256, "auth": 5}}, True, BAD_BODY),
    ],
)  # fmt: skip
def test_bad_subscriptions_are_refused(
    tmp_path: Path, subscription: object, loopback: bool, code: str
) -> None:
    channel = WebPushChannel(settings_for(tmp_path, integrations_allow_loopback=loopback))
    with pytest.raises((BadRequest, Unprocessable)) as refused:
        channel.check_target({"subscription": subscription})
    assert refused.value.code == code


def test_a_good_subscription_is_kept_as_given(tmp_path: Path) -> None:
    channel = WebPushChannel(settings_for(tmp_path, integrations_allow_loopback=False))
    sub = {
        "endpoint": "https://fcm.googleapis.com/fcm/send/abc",
        "keys": {"p256dh": P256, "auth": AUTH},
    }
    assert channel.check_target({"subscription": {**sub, "expirationTime": None}}) == sub


# -- end to end: a real hub subscribes a ticket and its notify worker pushes ------------------


@pytest.fixture(scope="module")
def push_hub(redis_url: str) -> Iterator[HubProcess]:
    process = start_hub(redis_url, JUNBAN_VAPID_SUBJECT=SUBJECT, **WITH_NOTIFY)
    yield process
    process.stop()


async def test_call_next_pushes_near_then_called_and_a_410_drops_it(
    push: PushService, push_hub: HubProcess, redis_url: str
) -> None:
    async with httpx.AsyncClient(base_url=push_hub.base_url, timeout=20) as client:
        facility = await make_facility(client)
        info = f"{facility}-01"
        staff = staff_headers(facility)
        quiet = {"threshold_default": 3, "quiet_from": "00:00", "quiet_to": "00:00"}
        r = await client.put(
            f"/v1/facilities/{facility}/notify/settings", json=quiet, headers=staff
        )
        assert r.status_code == 200, r.text
        r = await client.get("/v1/push/key")
        assert r.status_code == 200, r.text
        key = r.json()["key"]
        assert (push_hub.data_dir / "vapid.pem").is_file()
        for _ in range(4):
            await take_desk(client, info)
        ticket_id, token, number = await take_web(client, info)
        sub = push.subscribe(key)
        body = {
            "channel": "webpush",
            "subscription": {"endpoint": sub["endpoint"], "keys": sub["keys"]},
            "threshold": 2,
        }
        path = f"/v1/queues/{info}/tickets/{ticket_id}/notifications"
        r = await client.post(path, json=body, headers=bearer(token))
        assert r.status_code == 201, r.text
        assert r.json() == {"channel": "webpush", "threshold": 2, "near_done": False}

        async def messages(count: int) -> list[dict[str, Any]] | None:
            got = [json.loads(m) for m in push.messages(sub["clientHash"])]
            return got if len(got) >= count else None

        async def call_next() -> None:
            r = await client.post(f"/v1/queues/{info}/call-next", json={"room": "1"}, headers=staff)
            assert r.status_code == 200, r.text

        await call_next()  # 3 ahead: nothing yet
        await call_next()  # 2 ahead: near
        near = (await until(lambda: messages(1)))[0]
        assert near["trigger"] == "near" and near["ahead"] == 2 and near["number"] == number
        assert near["path"] == f"/q/{info}/t/{ticket_id}" and str(number) in near["title"]
        assert "token" not in json.dumps(near)
        for _ in range(3):
            await call_next()  # 1, 0 ahead, then this ticket is called
        got = await until(lambda: messages(2))
        assert [m["trigger"] for m in got] == ["near", "called"]
        assert len(push.messages(sub["clientHash"])) == 2  # near once, not at 1 and 0 ahead

        # the browser dropped the subscription: the next message (a recall) gets 410 and the
        # hub deletes it; opting out afterwards finds nothing left to remove
        async with aioredis.from_url(redis_url) as before:
            assert await before.hexists(keys.ntf(facility, ticket_id), "webpush")
        push.expire(sub["clientHash"])
        r = await client.post(f"/v1/queues/{info}/tickets/{ticket_id}/recall", headers=staff)
        assert r.status_code == 200, r.text

        store = aioredis.from_url(redis_url)
        try:

            async def dropped() -> bool:
                return not await store.hexists(keys.ntf(facility, ticket_id), "webpush")

            assert await until(dropped)
        finally:
            await store.aclose()
        r = await client.delete(f"{path}/webpush", headers=bearer(token))
        assert r.status_code == 200, r.text
        assert r.json() == {"channel": "webpush", "removed": False}
        assert len(push.messages(sub["clientHash"])) == 2
