"""Notifications end to end: a real hub process (its inline ``notify`` outbox group), a real
Redis and a real SMTP server (aiosmtpd on 127.0.0.1, the e-mail channel of hub/notify/email.py).
A patient subscribes; the queue moves; the mails that arrive are the proof."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from aiosmtpd.controller import Controller

from hub import keys
from tests.conftest import (
    WITH_NOTIFY,
    HubProcess,
    bearer,
    free_port,
    make_facility,
    staff_headers,
    start_hub,
)
from tests.notify.conftest import SmtpSink, take_desk, until

NAME, PHONE, ADDRESS = "山田 太郎", "09012345678", "taro.notify@example.jp"


class RefusingSink(SmtpSink):
    """Refuses recipients whose address starts with ``gone`` (550: the mailbox is gone)."""

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.startswith("gone"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpSink]:
    sink, port = RefusingSink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    sink.port = port  # type: ignore[attr-defined]
    yield sink
    controller.stop()


def _env(smtp: SmtpSink) -> dict[str, str]:
    return {
        "JUNBAN_SMTP_URL": f"smtp://127.0.0.1:{smtp.port}",  # type: ignore[attr-defined]
        "JUNBAN_MAIL_FROM": "notify@junban.example.jp",
        "JUNBAN_OUTBOX_SWEEP": "1",
        **WITH_NOTIFY,
    }


@pytest.fixture(scope="module")
def mail_hub(redis_url: str, smtp: SmtpSink) -> Iterator[HubProcess]:
    process = start_hub(redis_url, **_env(smtp))
    yield process
    process.stop()
    shutil.rmtree(process.data_dir, ignore_errors=True)


@pytest.fixture
async def client(mail_hub: HubProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=mail_hub.base_url, timeout=20) as c:
        yield c


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_url)
    yield client
    await client.aclose()


async def no_quiet_hours(client: httpx.AsyncClient, facility: str, **body: Any) -> None:
    settings = {"threshold_default": 3, "quiet_from": "00:00", "quiet_to": "00:00", **body}
    r = await client.put(f"/v1/facilities/{facility}/notify/settings", json=settings,
                         headers=staff_headers(facility))  # fmt: skip
    assert r.status_code == 200, r.text


async def web_ticket(client: httpx.AsyncClient, info: str) -> tuple[str, str, int]:
    r = await client.post(f"/v1/queues/{info}/tickets",
                          json={"channel": "web", "name": NAME, "phone": PHONE})  # fmt: skip
    assert r.status_code == 201, r.text
    answer = r.json()
    return answer["ticket"]["id"], answer["token"], answer["ticket"]["number"]


async def subscribe(
    client: httpx.AsyncClient, info: str, ticket: str, token: str, **body: Any
) -> dict[str, Any]:
    r = await client.post(f"/v1/queues/{info}/tickets/{ticket}/notifications",
                          json={"channel": "email", "email": ADDRESS, **body},
                          headers=bearer(token))  # fmt: skip
    assert r.status_code == 201, r.text
    answer: dict[str, Any] = r.json()
    return answer


async def staff_post(client: httpx.AsyncClient, info: str, path: str) -> None:
    r = await client.post(f"/v1/queues/{info}/{path}", json={},
                          headers=staff_headers(info.split("-")[0]))  # fmt: skip
    assert r.status_code == 200, r.text


def mails(smtp: SmtpSink, number: int, clinic: str) -> list[str]:
    """The subjects of the notifications (not the confirmation) for ticket ``number``."""
    found = []
    for _, _, mail in smtp.mails:
        subject = str(mail["Subject"])
        if clinic in subject and f"{number}番" in subject and "通知の登録" not in subject:
            found.append(subject)
    return found


def confirmations(smtp: SmtpSink, clinic: str) -> list[str]:
    subjects = [str(m["Subject"]) for _, _, m in smtp.mails]
    return [s for s in subjects if clinic in s and "通知の登録" in s]


async def settle(client: httpx.AsyncClient, info: str, smtp: SmtpSink, clinic: str) -> None:
    """A barrier: a second patient is called and told so, so whatever the worker was going
    to do with the entries before has been done."""
    ticket, token, number = await web_ticket(client, info)
    await subscribe(client, info, ticket, token, threshold=1)
    await staff_post(client, info, f"tickets/{ticket}/call")
    await until(lambda: _found(mails(smtp, number, clinic)))


async def _found(items: list[str]) -> list[str] | None:
    return items or None


async def test_near_once_then_called_and_no_personal_data_in_the_log(
    client: httpx.AsyncClient, smtp: SmtpSink, mail_hub: HubProcess, redis: aioredis.Redis
) -> None:
    facility = await make_facility(client)
    clinic, info = f"Clinic {facility}", f"{facility}-01"
    await no_quiet_hours(client, facility)
    for _ in range(5):
        await take_desk(client, info, name="佐藤 花子", phone="0311112222")
    ticket, token, number = await web_ticket(client, info)
    answer = await subscribe(client, info, ticket, token, threshold=3)
    assert answer["channel"] == "email" and answer["threshold"] == 3
    assert answer["near_done"] is False  # 5 ahead
    await until(lambda: _found(confirmations(smtp, clinic)))
    await staff_post(client, info, "call-next")  # 4 ahead: nothing yet
    await asyncio.sleep(1.0)
    assert mails(smtp, number, clinic) == []
    await staff_post(client, info, "call-next")  # 3 ahead: near
    near = await until(lambda: _found(mails(smtp, number, clinic)))
    assert near == [f"【{clinic}】まもなく順番です（{number}番）"]  # the clinic named once
    await staff_post(client, info, "call-next")  # 2 ahead: near went already
    await staff_post(client, info, f"tickets/{ticket}/call")
    both = await until(lambda: _found([s for s in mails(smtp, number, clinic) if "お呼び" in s]))
    assert len(both) == 1
    assert len(mails(smtp, number, clinic)) == 2  # one near, one called
    staff = await client.get(f"/v1/queues/{info}/tickets/{ticket}",
                             headers=staff_headers(facility))  # fmt: skip
    assert staff.json()["ticket"]["annotations"]["notify.sent"].startswith("called:email")
    stored = await redis.hgetall(keys.ntf(facility, ticket))
    assert stored and ADDRESS not in repr(stored)  # sealed at rest
    assert await redis.get(keys.ntf_sent(facility, ticket, "near", 0)) == b"sent"
    log = mail_hub.log.read_text()
    for personal in (ADDRESS, NAME, "佐藤", PHONE, "0311112222"):
        assert personal not in log


async def test_a_redelivered_entry_a_restart_and_a_second_hub_send_nothing_twice(
    client: httpx.AsyncClient, smtp: SmtpSink, redis: aioredis.Redis, redis_url: str
) -> None:
    facility = await make_facility(client)
    clinic, info = f"Clinic {facility}", f"{facility}-01"
    await no_quiet_hours(client, facility)
    await take_desk(client, info)
    ticket, token, number = await web_ticket(client, info)
    await subscribe(client, info, ticket, token, threshold=1)  # 1 ahead: near done at once
    await staff_post(client, info, "call-next")
    await staff_post(client, info, "call-next")  # calls our ticket
    await until(lambda: _found(mails(smtp, number, clinic)))
    # the same outbox entries again, as after a crash before the acknowledgement
    entries: list[Any] = await redis.xrange(keys.outbox(facility)) or []
    second = start_hub(redis_url, **_env(smtp))
    try:
        for _, fields in entries:
            await redis.xadd(keys.outbox(facility), fields)
        await redis.publish(keys.OUTBOX_WAKE, facility)
        await settle(client, info, smtp, clinic)
        async with httpx.AsyncClient(base_url=second.base_url, timeout=20) as other:
            await settle(other, info, smtp, clinic)
    finally:
        second.stop()
        shutil.rmtree(second.data_dir, ignore_errors=True)
    sent = mails(smtp, number, clinic)
    assert len(sent) == 1 and sent[0].endswith(f"】お呼びしています（{number}番）")


async def test_quiet_hours_and_opt_out_send_nothing(
    client: httpx.AsyncClient, smtp: SmtpSink
) -> None:
    facility = await make_facility(client)
    clinic, info = f"Clinic {facility}", f"{facility}-01"
    await no_quiet_hours(client, facility, quiet_from="00:00", quiet_to="24:00")  # all quiet
    quiet, token, quiet_number = await web_ticket(client, info)
    await subscribe(client, info, quiet, token)
    await staff_post(client, info, f"tickets/{quiet}/call")
    await asyncio.sleep(1.5)
    await no_quiet_hours(client, facility)  # the window is back: nothing is sent later
    gone, gone_token, gone_number = await web_ticket(client, info)
    await subscribe(client, info, gone, gone_token)
    r = await client.delete(f"/v1/queues/{info}/tickets/{gone}/notifications/email",
                            headers=bearer(gone_token))  # fmt: skip
    assert r.status_code == 200 and r.json() == {"channel": "email", "removed": True}
    await staff_post(client, info, f"tickets/{gone}/call")
    await settle(client, info, smtp, clinic)
    assert mails(smtp, quiet_number, clinic) == []
    assert mails(smtp, gone_number, clinic) == []


async def test_routes_refuse_what_they_should(client: httpx.AsyncClient) -> None:
    facility = await make_facility(client)
    info = f"{facility}-01"
    ticket, token, _ = await web_ticket(client, info)
    other, other_token, _ = await web_ticket(client, info)
    path = f"/v1/queues/{info}/tickets/{ticket}/notifications"
    r = await client.post(path, json={"channel": "email", "email": ADDRESS})
    assert r.status_code == 401
    r = await client.post(path, json={"channel": "email", "email": ADDRESS},
                          headers=bearer(other_token))  # fmt: skip
    assert r.status_code == 403
    r = await client.post(path, json={"channel": "webpush", "subscription": {}},
                          headers=bearer(token))  # fmt: skip
    assert r.status_code == 404 and r.json()["error"]["code"] == "channel_unavailable"
    r = await client.post(path, json={"channel": "email", "email": ADDRESS, "threshold": 11},
                          headers=bearer(token))  # fmt: skip
    assert r.status_code == 422
    r = await client.post(path, json={"channel": "email", "email": "not-an-address"},
                          headers=bearer(token))  # fmt: skip
    assert r.status_code in (400, 422)
    r = await client.get("/v1/push/key")
    assert r.status_code == 404 and r.json()["error"]["code"] == "push_disabled"
    r = await client.delete(f"/v1/queues/{info}/tickets/{ticket}", headers=bearer(token))
    assert r.status_code == 200
    r = await client.post(path, json={"channel": "email", "email": ADDRESS},
                          headers=bearer(token))  # fmt: skip
    assert r.status_code == 409 and r.json()["error"]["code"] == "ticket_finished"
    settings = f"/v1/facilities/{facility}/notify/settings"
    assert (await client.put(settings, json={"quiet_from": "25:00"},
                             headers=staff_headers(facility))).status_code == 422  # fmt: skip
    assert (await client.get(settings, headers=bearer(token))).status_code == 403
    got = await client.get(settings, headers=staff_headers(facility))
    assert got.json()["channels"] == ["email"] and got.json()["quiet_from"] == "21:00"
    assert other


async def test_a_gone_address_is_dropped_at_its_first_refusal(
    client: httpx.AsyncClient, smtp: SmtpSink, redis: aioredis.Redis
) -> None:
    facility = await make_facility(client)
    clinic, info = f"Clinic {facility}", f"{facility}-01"
    await no_quiet_hours(client, facility)
    ticket, token, _ = await web_ticket(client, info)
    await subscribe(client, info, ticket, token, email="gone.box@example.jp")
    assert await redis.hget(keys.ntf_tickets(facility), ticket) is not None
    await staff_post(client, info, f"tickets/{ticket}/call")

    async def dropped() -> bool:
        return not await redis.exists(keys.ntf(facility, ticket))

    await until(dropped)
    assert await redis.hget(keys.ntf_tickets(facility), ticket) is None
    await settle(client, info, smtp, clinic)  # the worker goes on with the others
