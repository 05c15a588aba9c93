"""The clinic's settings API against a real hub: read and change the profile, rooms,
language, templates, schedule and closed days; bad input changes nothing; every change is
audited and shows live in the queues' public views; the scheduler opens and closes web
reception at a session's minute, once across two hubs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.channels.wsclient import LiveClient
from tests.conftest import HubProcess, make_facility, staff_headers, start_hub

TOKYO = ZoneInfo("Asia/Tokyo")


def settings_url(facility: str) -> str:
    return f"/v1/facilities/{facility}/settings"


async def read(client: httpx.AsyncClient, facility: str) -> dict[str, Any]:
    r = await client.get(settings_url(facility), headers=staff_headers(facility))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def audit_log(
    client: httpx.AsyncClient, facility: str, want: int, who: str | None = None
) -> list[dict[str, Any]]:
    """The facility's audit entries (of ``who``) once there are ``want`` (written after
    each answer), or whatever there is after 5 s."""
    deadline = time.monotonic() + 5
    while True:
        r = await client.get("/v1/admin/audit", headers=staff_headers(facility))
        assert r.status_code == 200, r.text
        found = [e for e in r.json()["entries"] if who is None or e["who"] == who]
        if len(found) >= want or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.05)


async def test_staff_read_the_whole_editable_record(client: httpx.AsyncClient) -> None:
    facility = await make_facility(client, ("01", "02"))
    body = await read(client, facility)
    assert body["facility"] == facility and body["name"] == f"Clinic {facility}"
    assert body["lang"] == "ja" and body["templates"] == [] and body["holidays_closed"] is False
    assert body["schedule"] == {d: [] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    assert [c["counter"] for c in body["counters"]] == ["01", "02"]
    assert body["counters"][0]["rooms"] == []
    config = body["queues"][0]["config"]
    assert config["requeue_offset"] == 3 and config["web_daily_cap"] is None
    assert {"close_web_at", "default_minutes", "tz"} <= set(config)
    assert body["queues"][0]["web_open"] is True
    holidays = body["upcoming_holidays"]
    assert len(holidays) == 6 and holidays[0]["name_ja"] and holidays[0]["name_en"]
    assert holidays == sorted(holidays, key=lambda h: str(h["date"]))


async def test_another_facilitys_staff_may_not_read_or_change(client: httpx.AsyncClient) -> None:
    facility = await make_facility(client, ("01",))
    other = staff_headers("1")
    assert (await client.get(settings_url(facility), headers=other)).status_code == 403
    r = await client.patch(settings_url(facility), json={"name": "X"}, headers=other)
    assert r.status_code == 403
    assert (await client.get(settings_url(facility))).status_code == 401
    assert (await read(client, facility))["name"] == f"Clinic {facility}"


async def test_a_profile_change_is_stored_audited_and_live_in_the_public_views(
    client: httpx.AsyncClient,
) -> None:
    facility = await make_facility(client, ("01", "02"))
    change = {
        "name": "さくら内科",
        "address": "東京都新宿区1-2-3",
        "hours": "月–金 9:00–12:00 / 15:00–18:00",
        "counters": {"01": "内科", "02": "小児科"},
        "rooms": {"01": {"1": "診察室1", "2": "診察室2"}},
        "lang": "ja+en",
        "templates": ["本日は混み合っています", "  "],
        "closed_days": ["2027-01-04", "2027-01-02"],
        "holidays_closed": True,
        "schedule": {"mon": [{"start": "15:00", "end": "18:00", "label": "午後"},
                             {"start": "09:00", "end": "12:00", "label": "午前"}]},
    }  # fmt: skip
    r = await client.patch(settings_url(facility), json=change, headers=staff_headers(facility))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["name"] == "さくら内科" and body["lang"] == "ja+en"
    assert body["templates"] == ["本日は混み合っています"]  # blank ones dropped
    assert body["closed_days"] == ["2027-01-02", "2027-01-04"]  # sorted
    assert [s["label"] for s in body["schedule"]["mon"]] == ["午前", "午後"]
    assert body["counters"][0]["rooms"] == [
        {"room": "1", "label": "診察室1"},
        {"room": "2", "label": "診察室2"},
    ]
    assert await read(client, facility) == body
    public = (await client.get(f"/v1/facilities/{facility}")).json()
    assert public["name"] == "さくら内科" and public["lang"] == "ja+en"
    assert [c["label"] for c in public["counters"]] == ["内科", "小児科"]
    view = (await client.get(f"/v1/queues/{facility}-01")).json()
    assert view["profile"] == {
        "name": "さくら内科",
        "label": "内科",
        "lang": "ja+en",
        "rooms": [{"room": "1", "label": "診察室1"}, {"room": "2", "label": "診察室2"}],
        "counters": ["01", "02"],
    }
    assert (await client.get(f"/v1/queues/{facility}-02")).json()["profile"]["label"] == "小児科"
    log = await audit_log(client, facility, 1, who="t")
    mine = [e for e in log if e["action"] == "PATCH /v1/facilities/{facility}/settings"]
    assert len(mine) == 1 and mine[0]["outcome"] == "ok" and mine[0]["facility"] == facility


BAD = [
    ({"lang": "fr"}, 422, "invalid_body"),
    ({"name": ""}, 422, "invalid_body"),
    ({"name": "   "}, 422, "invalid_body"),
    ({"counters": {}}, 422, "invalid_body"),
    ({"counters": {"1": "one digit"}}, 422, "invalid_body"),
    ({"rooms": {"07": {"1": "no such counter"}}}, 422, "invalid_body"),
    ({"schedule": {"mon": [{"start": "12:00", "end": "09:00"}]}}, 422, "invalid_body"),
    ({"schedule": {"mon": [{"start": "09:00", "end": "12:00"},
                           {"start": "11:00", "end": "13:00"}]}}, 422, "invalid_body"),
    ({"schedule": {"funday": [{"start": "09:00", "end": "12:00"}]}}, 422, "invalid_body"),
    ({"schedule": {"mon": [{"start": "9:00", "end": "12:00"}]}}, 422, "invalid_body"),
    ({"closed_days": ["2027-02-30"]}, 422, "invalid_body"),
    ({"closed_days": ["tomorrow"]}, 422, "invalid_body"),
    ({"templates": ["x"] * 21}, 422, "invalid_body"),
    ({"holidays_closed": "yes"}, 422, "invalid_body"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "status", "code"), BAD)
async def test_bad_input_is_a_clear_json_error_and_changes_nothing(
    client: httpx.AsyncClient, change: dict[str, Any], status: int, code: str
) -> None:
    facility = await make_facility(client, ("01",), open_all=False)
    ok = {"templates": ["a"], "lang": "en"}  # a valid part: not applied either
    before = await read(client, facility)
    r = await client.patch(
        settings_url(facility), json={**ok, **change}, headers=staff_headers(facility)
    )
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"] == code and error["message"]
    assert await read(client, facility) == before
    assert (await client.get(f"/v1/queues/{facility}-01")).json()["profile"] is None


async def test_bad_json_and_an_incomplete_put_change_nothing(client: httpx.AsyncClient) -> None:
    facility = await make_facility(client, ("01",), open_all=False)
    before = await read(client, facility)
    headers = {**staff_headers(facility), "Content-Type": "application/json"}
    r = await client.patch(settings_url(facility), content=b"{nope", headers=headers)
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_json"
    r = await client.put(settings_url(facility), json={"name": "Only a name"}, headers=headers)
    assert r.status_code == 422 and "counters" in r.json()["error"]["message"]
    assert await read(client, facility) == before


async def test_put_replaces_the_whole_profile(client: httpx.AsyncClient) -> None:
    facility = await make_facility(client, ("01",), open_all=False)
    headers = staff_headers(facility)
    first = {"lang": "en", "templates": ["a"], "holidays_closed": True}
    assert (await client.patch(settings_url(facility), json=first, headers=headers)).is_success
    r = await client.put(
        settings_url(facility), json={"name": "New", "counters": {"01": "A"}}, headers=headers
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["name"], body["address"], body["lang"]) == ("New", "", "ja")
    assert body["templates"] == [] and body["holidays_closed"] is False


async def test_adding_a_counter_creates_its_queue_and_removing_a_busy_one_is_refused(
    client: httpx.AsyncClient,
) -> None:
    facility = await make_facility(client, ("01", "02"))
    headers = staff_headers(facility)
    add = {"counters": {"01": "内科", "02": "外科", "03": "検査"}}
    r = await client.patch(settings_url(facility), json=add, headers=headers)
    assert r.status_code == 200, r.text
    view = await client.get(f"/v1/queues/{facility}-03")
    assert view.status_code == 200 and view.json()["profile"]["label"] == "検査"
    public = (await client.get(f"/v1/facilities/{facility}")).json()
    assert [q["info"] for q in public["queues"]][-1] == f"{facility}-03"

    ticket = (await client.post(f"/v1/queues/{facility}-02/tickets")).json()["ticket"]
    remove = {"counters": {"01": "内科", "03": "検査"}}
    r = await client.patch(settings_url(facility), json=remove, headers=headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "counter_busy"
    assert [c["counter"] for c in (await read(client, facility))["counters"]] == ["01", "02", "03"]

    cancel = f"/v1/queues/{facility}-02/tickets/{ticket['id']}/cancel"
    assert (await client.post(cancel, headers=headers)).status_code == 200
    r = await client.patch(settings_url(facility), json=remove, headers=headers)
    assert r.status_code == 200, r.text
    assert [c["counter"] for c in r.json()["counters"]] == ["01", "03"]
    gone = (await client.get(f"/v1/queues/{facility}-02")).json()
    assert gone["open"] is False and gone["web_open"] is False
    refused = await client.post(f"/v1/queues/{facility}-02/tickets")
    assert refused.status_code == 409


async def test_a_counter_added_while_a_facility_is_watched_joins_its_channel_live(
    client: httpx.AsyncClient, hub: HubProcess
) -> None:
    """An open monitor (the facility channel) gets the new counter's queue and its changes
    without reconnecting, after the first change of the settings and after a later one."""
    facility = await make_facility(client, ("01", "02"))
    headers = staff_headers(facility)
    live = await LiveClient.open(hub.base_url)
    try:
        await live.sub(f"facility:{facility}")
        seen = {(await live.state(f"facility:{facility}"))["data"]["info"] for _ in range(2)}
        assert seen == {f"{facility}-01", f"{facility}-02"}
        for counter, labels in (
            ("03", {"01": "内科", "02": "外科", "03": "検査"}),
            ("04", {"01": "内科", "02": "外科", "03": "検査", "04": "会計"}),
        ):
            r = await client.patch(
                settings_url(facility), json={"counters": labels}, headers=headers
            )
            assert r.status_code == 200, r.text
            info = f"{facility}-{counter}"
            for action in ("open", "web/open"):
                opened = await client.post(f"/v1/queues/{info}/{action}", headers=headers)
                assert opened.status_code == 200, opened.text
            assert (await client.post(f"/v1/queues/{info}/tickets")).status_code == 201
            frame = await live.until(
                lambda f, info=info: (
                    f["op"] == "state"
                    and f["data"]["info"] == info
                    and f["data"]["waiting_count"] == 1
                ),
                timeout=10,
            )
            assert frame["ch"] == f"facility:{facility}"
    finally:
        await live.close()


# ---- the scheduler ----------------------------------------------------------------------

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@pytest.fixture(scope="module")
def quick_hubs(redis_url: str) -> Iterator[tuple[HubProcess, HubProcess]]:
    """Two hubs on one Redis whose schedulers tick every 0.2 s."""
    hubs = (
        start_hub(redis_url, JUNBAN_SCHEDULE_TICK="0.2"),
        start_hub(redis_url, JUNBAN_SCHEDULE_TICK="0.2"),
    )
    yield hubs
    for hub in hubs:
        hub.stop()


async def this_minute() -> datetime:
    """Tokyo's current minute, at least 15 s before it ends (waits when it is later)."""
    now = datetime.now(TOKYO)
    if now.second >= 45:
        await asyncio.sleep(60.5 - now.second - now.microsecond / 1e6)
        now = datetime.now(TOKYO)
    return now.replace(second=0, microsecond=0)


def hhmm(moment: datetime) -> str:
    return moment.strftime("%H:%M")


async def web_state(client: httpx.AsyncClient, info: str, want: bool) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        view: dict[str, Any] = (await client.get(f"/v1/queues/{info}")).json()
        if view["web_open"] is want or time.monotonic() > deadline:
            return view
        await asyncio.sleep(0.1)


async def test_a_session_opens_and_closes_web_reception_at_its_minute_once(
    quick_hubs: tuple[HubProcess, HubProcess],
) -> None:
    async with httpx.AsyncClient(base_url=quick_hubs[0].base_url, timeout=20) as client:
        minute = await this_minute()
        if minute.hour == 0 and minute.minute < 2 or minute.hour == 23 and minute.minute > 56:
            pytest.skip("the sessions would cross midnight")
        day = WEEKDAYS[minute.weekday()]
        opening = await make_facility(client, ("01", "02"), open_all=False)
        closing = await make_facility(client, ("01",), open_all=True)
        starts_now = {day: [{"start": hhmm(minute), "end": hhmm(minute + timedelta(minutes=2))}]}
        ends_now = {day: [{"start": hhmm(minute - timedelta(minutes=2)), "end": hhmm(minute)}]}
        for number, week in ((opening, starts_now), (closing, ends_now)):
            r = await client.patch(
                settings_url(number), json={"schedule": week}, headers=staff_headers(number)
            )
            assert r.status_code == 200, r.text

        for counter in ("01", "02"):
            view = await web_state(client, f"{opening}-{counter}", True)
            assert view["open"] is True and view["web_open"] is True
        view = await web_state(client, f"{closing}-01", False)
        assert view["web_open"] is False and view["open"] is True

        # staff close web reception by hand during the session: the schedule, already
        # applied this minute, does not open it again (on either hub)
        staff = staff_headers(opening)
        r = await client.post(f"/v1/queues/{opening}-01/web/close", headers=staff)
        assert r.status_code == 200
        await asyncio.sleep(1.5)
        assert (await client.get(f"/v1/queues/{opening}-01")).json()["web_open"] is False

        entries = await audit_log(client, opening, 1, who="schedule")
        assert len(entries) == 1  # two hubs, many ticks: applied once
        entry = entries[0]
        assert entry["role"] == "system" and entry["action"] == "schedule open web reception"
        assert entry["target"] == f"{minute.date().isoformat()}:{hhmm(minute)}:open"
        closed = await audit_log(client, closing, 1, who="schedule")
        assert [e["action"] for e in closed] == ["schedule close web reception"]


async def test_a_closed_day_opens_nothing(quick_hubs: tuple[HubProcess, HubProcess]) -> None:
    async with httpx.AsyncClient(base_url=quick_hubs[1].base_url, timeout=20) as client:
        minute = await this_minute()
        if minute.hour == 23 and minute.minute > 56:
            pytest.skip("the session would cross midnight")
        day = WEEKDAYS[minute.weekday()]
        facility = await make_facility(client, ("01",), open_all=False)
        change = {
            "schedule": {
                day: [{"start": hhmm(minute), "end": hhmm(minute + timedelta(minutes=2))}]
            },
            "closed_days": [minute.date().isoformat()],
        }
        r = await client.patch(settings_url(facility), json=change, headers=staff_headers(facility))
        assert r.status_code == 200 and r.json()["web_scheduled_open"] is False
        await asyncio.sleep(1.5)
        assert (await client.get(f"/v1/queues/{facility}-01")).json()["web_open"] is False
        assert await audit_log(client, facility, 1, who="schedule") == []
