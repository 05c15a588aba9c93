"""The reception kiosk (paired like a monitor, issues kiosk tickets only) and the tickets'
short links (``/t/{facility}/{code}``), over real HTTP against a real hub and Redis."""

from __future__ import annotations

import asyncio
import itertools
import math
import random
import re
from urllib.parse import urlsplit

import httpx
import redis.asyncio as aioredis
from hypothesis import given
from hypothesis import strategies as st

from hub import keys
from hub.pairing import KIOSK_TOKEN_TTL_S
from hub.queue import calendar
from hub.shortlinks import ALPHABET, CODE_LENGTH, GRACE_S, OPEN_LIMIT_PER_IP, lifetime_s
from tests.conftest import OPERATOR, TOKENS, bearer, make_facility, staff_headers

_addresses = itertools.count(random.randint(1, 200) * 250)


def address() -> dict[str, str]:
    """A client address of its own (the test client is a trusted proxy)."""
    n = next(_addresses)
    return {"X-Forwarded-For": f"10.{n // 62500 % 250}.{n // 250 % 250}.{n % 250 + 1}"}


async def pair_kiosk(client: httpx.AsyncClient, facility: str) -> str:
    made = await client.post(
        f"/v1/facilities/{facility}/kiosk-pairings", headers=staff_headers(facility)
    )
    assert made.status_code == 201, made.text
    code = made.json()["code"]
    assert re.fullmatch(r"[0-9]{8}", code)
    claimed = await client.post(
        f"/v1/facilities/{facility}/kiosk-pairings/{code}/claim", headers=address()
    )
    assert claimed.status_code == 200, claimed.text
    body = claimed.json()
    assert (body["role"], body["facility"]) == ("kiosk", facility)
    assert body["expires_in"] == KIOSK_TOKEN_TTL_S
    token: str = body["token"]
    return token


async def test_a_kiosk_code_pairs_a_kiosk_once_and_is_no_monitor_code(
    client: httpx.AsyncClient, facility: str
) -> None:
    token = await pair_kiosk(client, facility)
    principal = TOKENS.verify(token)
    assert (principal.role, principal.facility) == ("kiosk", facility)
    made = await client.post(
        f"/v1/facilities/{facility}/kiosk-pairings", headers=staff_headers(facility)
    )
    code = made.json()["code"]
    as_monitor = await client.post(
        f"/v1/facilities/{facility}/monitor-pairings/{code}/claim", headers=address()
    )
    assert as_monitor.status_code == 404  # a kiosk code pairs no monitor, and is not spent
    me = address()
    url = f"/v1/facilities/{facility}/kiosk-pairings/{code}/claim"
    assert (await client.post(url, headers=me)).status_code == 200
    again = await client.post(url, headers=me)
    assert again.status_code == 404
    assert again.json()["error"]["code"] == "unknown_pairing_code"


async def test_only_staff_of_the_facility_make_kiosk_codes(
    client: httpx.AsyncClient, facility: str
) -> None:
    url = f"/v1/facilities/{facility}/kiosk-pairings"
    other = await make_facility(client, ("01",), open_all=False)
    kiosk = await pair_kiosk(client, facility)
    assert (await client.post(url)).status_code == 401
    assert (await client.post(url, headers=staff_headers(other))).status_code == 403
    assert (await client.post(url, headers=bearer(kiosk))).status_code == 403
    assert (await client.post(url, headers=OPERATOR)).status_code == 201


async def test_a_kiosk_issues_kiosk_tickets_at_its_own_facility_only(
    client: httpx.AsyncClient, facility: str
) -> None:
    kiosk = bearer(await pair_kiosk(client, facility))
    tickets = f"/v1/queues/{facility}-01/tickets"
    plain = await client.post(tickets, headers=kiosk)
    assert plain.status_code == 201, plain.text
    explicit = await client.post(tickets, json={"channel": "kiosk"}, headers=kiosk)
    assert explicit.status_code == 201, explicit.text
    assert explicit.json()["ticket"]["number"] == plain.json()["ticket"]["number"] + 1
    staff = await client.get(f"/v1/queues/{facility}-01/staff", headers=staff_headers(facility))
    assert staff.status_code == 200
    channels = {t["id"]: t["channel"] for t in staff.json()["tickets"]}
    assert channels[plain.json()["ticket"]["id"]] == "kiosk"
    assert channels[explicit.json()["ticket"]["id"]] == "kiosk"
    for body in ({"channel": "desk"}, {"channel": "phone"}, {"channel": "web"}):
        refused = await client.post(tickets, json=body, headers=kiosk)
        assert refused.status_code == 403, (body, refused.text)
        assert refused.json()["error"]["code"] == "forbidden"
    priority = await client.post(tickets, json={"priority": True}, headers=kiosk)
    assert priority.status_code == 403
    other = await make_facility(client, ("01",))
    foreign = await client.post(f"/v1/queues/{other}-01/tickets", headers=kiosk)
    assert foreign.status_code == 403 and foreign.json()["error"]["code"] == "forbidden"
    foreign = await client.post(
        f"/v1/queues/{other}-01/tickets", json={"channel": "kiosk"}, headers=kiosk
    )
    assert foreign.status_code == 403
    after = await client.get(f"/v1/queues/{other}-01")
    assert after.json()["waiting"] == []


async def test_a_kiosk_ticket_follows_reception_not_web_acceptance(
    client: httpx.AsyncClient, facility: str
) -> None:
    """Web closed: the kiosk still issues (the patient is at the desk); reception closed: 409."""
    kiosk = bearer(await pair_kiosk(client, facility))
    info = f"{facility}-01"
    await client.post(f"/v1/queues/{info}/web/close", headers=staff_headers(facility))
    assert (await client.post(f"/v1/queues/{info}/tickets", headers=kiosk)).status_code == 201
    await client.post(f"/v1/queues/{info}/close", headers=staff_headers(facility))
    closed = await client.post(f"/v1/queues/{info}/tickets", headers=kiosk)
    assert closed.status_code == 409 and closed.json()["error"]["code"] == "reception_closed"


async def test_a_kiosk_token_may_do_nothing_else(client: httpx.AsyncClient, facility: str) -> None:
    kiosk = bearer(await pair_kiosk(client, facility))
    info = f"{facility}-01"
    taken = await client.post(f"/v1/queues/{info}/tickets", headers=kiosk)
    ticket_id = taken.json()["ticket"]["id"]
    for method, path in (
        ("GET", f"/v1/queues/{info}/staff"),
        ("POST", f"/v1/queues/{info}/call-next"),
        ("POST", f"/v1/queues/{info}/close"),
        ("POST", f"/v1/queues/{info}/tickets/{ticket_id}/complete"),
        ("GET", f"/v1/queues/{info}/tickets/{ticket_id}"),
        ("DELETE", f"/v1/queues/{info}/tickets/{ticket_id}"),
        ("GET", f"/v1/queues/{info}/tickets/{ticket_id}/link"),
        ("POST", f"/v1/facilities/{facility}/monitor-pairings"),
    ):
        r = await client.request(method, path, headers=kiosk)
        assert r.status_code == 403, (method, path, r.text)
    assert (await client.get(f"/v1/queues/{info}", headers=kiosk)).status_code == 200
    assert (await client.get(f"/v1/facilities/{facility}", headers=kiosk)).status_code == 200


async def _link(client: httpx.AsyncClient, info: str, token: str) -> dict[str, str]:
    taken_link = await client.get(
        f"/v1/queues/{info}/tickets/{TOKENS.verify(token).ticket}/link", headers=bearer(token)
    )
    assert taken_link.status_code == 200, taken_link.text
    body: dict[str, str] = taken_link.json()
    return body


async def test_the_short_link_redirects_to_the_ticket_page_with_its_token(
    client: httpx.AsyncClient, facility: str
) -> None:
    kiosk = bearer(await pair_kiosk(client, facility))
    info = f"{facility}-02"
    taken = (await client.post(f"/v1/queues/{info}/tickets", headers=kiosk)).json()
    link = await _link(client, info, taken["token"])
    short = urlsplit(link["short_url"])
    match = re.fullmatch(rf"/t/{facility}/([{ALPHABET}]+)", short.path)
    assert match and len(match.group(1)) == CODE_LENGTH, link["short_url"]
    assert len(link["short_url"]) < 60 < len(link["url"])
    assert link["qr_svg"].startswith("<svg")
    again = await _link(client, info, taken["token"])
    assert again["short_url"] == link["short_url"]  # one code per ticket
    staff = await client.get(
        f"/v1/queues/{info}/tickets/{taken['ticket']['id']}/link", headers=staff_headers(facility)
    )
    assert staff.json()["short_url"] == link["short_url"]

    opened = await client.get(short.path, headers=address())
    assert opened.status_code == 303, opened.text
    assert opened.headers["cache-control"] == "no-store"
    target = urlsplit(opened.headers["location"])
    assert target.path == f"/q/{info}/t/{taken['ticket']['id']}"
    token = target.fragment.removeprefix("token=")
    principal = TOKENS.verify(token)
    assert (principal.role, principal.info, principal.ticket) == (
        "patient",
        info,
        taken["ticket"]["id"],
    )
    followed = await client.get(
        f"/v1/queues/{info}/tickets/{taken['ticket']['id']}", headers=bearer(token)
    )
    assert followed.status_code == 200
    upper = await client.get(short.path.upper().replace("/T/", "/t/"), headers=address())
    assert upper.status_code == 303  # read aloud or typed in capitals: the same link


async def test_unknown_expired_and_foreign_short_links_are_a_404_page(
    client: httpx.AsyncClient, facility: str, redis_url: str
) -> None:
    taken = (await client.post(f"/v1/queues/{facility}-01/tickets")).json()
    short = urlsplit((await _link(client, f"{facility}-01", taken["token"]))["short_url"]).path
    code = short.rsplit("/", 1)[1]
    other = await make_facility(client, ("01",), open_all=False)
    for path in (
        f"/t/{facility}/{'0' * CODE_LENGTH}",  # well formed, never issued
        f"/t/{facility}/short",
        f"/t/{facility}/{code}x",
        f"/t/{other}/{code}",  # the code belongs to another facility
        f"/t/12x/{code}",
        f"/t/{facility}",
        "/t/",
    ):
        r = await client.get(path, headers=address())
        assert r.status_code == 404, (path, r.status_code)
        assert r.headers["content-type"].startswith("text/html"), path
        assert "ページが見つかりません" in r.text and "Page not found" in r.text
        if path.startswith(f"/t/{facility}/"):  # a link's own words: it may have expired
            assert "has expired" in r.text and "有効期限" in r.text, path

    redis = aioredis.Redis.from_url(redis_url)
    try:
        ttl = await redis.ttl(keys.short_link(facility, code))
        assert GRACE_S < ttl <= 25 * 3600 + GRACE_S  # the end of the clinic's day + grace
        assert await redis.ttl(keys.ticket_short_link(f"{facility}-01", taken["ticket"]["id"]))
        await redis.pexpire(keys.short_link(facility, code), 50)
        await asyncio.sleep(0.2)
    finally:
        await redis.aclose()
    expired = await client.get(short, headers=address())
    assert expired.status_code == 404 and expired.headers["content-type"].startswith("text/html")
    assert "has expired" in expired.text


async def test_codes_are_random_and_opening_them_is_rate_limited(
    client: httpx.AsyncClient, facility: str
) -> None:
    """Codes: 10 characters of 32 (50 bits), all different, spread over the alphabet; one
    client network opening (or guessing) links is stopped after its per-minute budget."""
    codes = []
    for _ in range(40):
        taken = (await client.post(f"/v1/queues/{facility}-01/tickets")).json()
        url = (await _link(client, f"{facility}-01", taken["token"]))["short_url"]
        codes.append(url.rsplit("/", 1)[1])
    assert len(set(codes)) == len(codes)
    assert CODE_LENGTH * math.log2(len(ALPHABET)) >= 50
    letters = "".join(codes)
    assert len(set(letters)) >= 24  # 400 draws from 32 letters: all but a few appear
    guesser = address()
    limit = OPEN_LIMIT_PER_IP[0]
    statuses = []
    for _ in range(2 * limit):  # a burst of ``limit``, then one a second (GCRA)
        guess = "".join(random.choice(ALPHABET) for _ in range(CODE_LENGTH))
        statuses.append((await client.get(f"/t/{facility}/{guess}", headers=guesser)).status_code)
        if statuses[-1] != 404:
            break
    assert statuses[-1] == 429, statuses
    assert limit <= len(statuses) - 1 < 2 * limit - 1  # the burst, and what trickled in since
    real = await client.get(f"/t/{facility}/{codes[0]}", headers=guesser)
    assert real.status_code == 429 and int(real.headers["retry-after"]) >= 1
    assert (await client.get(f"/t/{facility}/{codes[0]}", headers=address())).status_code == 303


async def test_the_poster_qr_opens_the_counter_page(
    client: httpx.AsyncClient, facility: str
) -> None:
    r = await client.get(f"/v1/queues/{facility}-02/qr")
    assert r.status_code == 200
    assert r.json()["url"].endswith(f"/q/{facility}-02") and r.json()["qr_svg"].startswith("<svg")
    assert (await client.get(f"/v1/queues/{facility}-09/qr")).status_code == 404
    assert (await client.get("/v1/queues/12x-01/qr")).status_code == 400
    for page in ("kiosk", "poster"):
        assert (await client.get(f"/{page}/{facility}")).status_code == 200
        assert (await client.get(f"/{page}/12x")).status_code == 404


@given(
    now=st.floats(min_value=1.6e9, max_value=2.2e9),
    tz=st.sampled_from(["Asia/Tokyo", "UTC", "America/New_York", "Europe/London"]),
)
def test_a_short_link_lives_to_the_end_of_its_day_plus_the_grace(now: float, tz: str) -> None:
    day_left = lifetime_s(now, tz) - GRACE_S
    assert 0 < day_left <= 25 * 3600
    ends = now + day_left
    assert calendar.business_day(ends + 1, tz) > calendar.business_day(now, tz)
    if day_left > 1:
        assert calendar.business_day(ends - 1, tz) == calendar.business_day(now, tz)
