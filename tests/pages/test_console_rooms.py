"""The staff console with several rooms on one counter, re-queueing, transfers between
counters and English, in real headless Chromium against a real hub."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.async_api import Browser, Locator, Page, expect

from tests.conftest import HubProcess, make_facility, staff_headers
from tests.pages.conftest import DESK, PASSWORD, TV, Opener, monitor_token, screenshot, staff_user


def row(page: Page, list_id: str, number: int) -> Locator:
    return page.locator(f'#{list_id} li[data-number="{number}"]')


async def take(client: httpx.AsyncClient, info: str, n: int = 1) -> None:
    for _ in range(n):
        r = await client.post(f"/v1/queues/{info}/tickets")
        assert r.status_code == 201, r.text


async def tickets(client: httpx.AsyncClient, info: str) -> dict[int, dict[str, Any]]:
    """Today's tickets of the queue by number, as the staff API has them."""
    facility = info.split("-")[0]
    r = await client.get(f"/v1/queues/{info}/staff", headers=staff_headers(facility))
    assert r.status_code == 200, r.text
    return {t["number"]: t for t in r.json()["tickets"]}


async def key(console: Page, letter: str) -> None:
    """A shortcut key, once the page is ready for it (no action in flight on this room)."""
    await expect(console.locator("#call-next")).to_be_enabled()
    await console.locator("body").press(letter)


async def use_room(console: Page, room: str) -> None:
    await console.fill("#room", room)
    await console.locator("#room").blur()  # keys typed into the field are no shortcuts
    await expect(console.locator("#my-room-name")).to_have_text(f"{room}番")


async def test_two_consoles_on_two_rooms_act_each_on_their_own_patient(
    client: httpx.AsyncClient, consoles: Opener
) -> None:
    """Console A serves room 1 and console B room 2 of the same counter. B calls after A, so
    B's patient is the newest call: A's R, A and C (keys and its panel's buttons) must still
    act on A's own patient, and B's on B's; the staff API shows each change on the right
    ticket only."""
    facility = await make_facility(client, ("01",))
    info = f"{facility}-01"
    await take(client, info, 4)
    user = await staff_user(client, facility)
    a = await consoles(facility, user)
    b = await consoles(facility, user)
    await use_room(a, "1")
    await use_room(b, "2")

    await key(a, "n")
    await expect(a.locator("#my-room-patient")).to_have_text("1番を呼び出し中")
    await key(b, "n")
    await expect(b.locator("#my-room-patient")).to_have_text("2番を呼び出し中")
    await expect(row(a, "calling", 2)).to_be_visible()  # the newest call is B's
    state = await tickets(client, info)
    assert (state[1]["room"], state[2]["room"]) == ("1", "2")

    await key(a, "r")  # A recalls: its own patient, not the newest call
    await expect(row(b, "calling", 1)).to_contain_text("再呼出 1")
    state = await tickets(client, info)
    assert (state[1]["recalls"], state[2]["recalls"]) == (1, 0)

    await b.locator('#my-room-actions [data-action="recall"]').click()  # B's panel button
    await expect(row(a, "calling", 2)).to_contain_text("再呼出 1")
    state = await tickets(client, info)
    assert (state[1]["recalls"], state[2]["recalls"]) == (1, 1)

    await key(a, "c")  # A completes its own patient; B's stays called
    await expect(row(b, "done", 1)).to_be_attached()
    state = await tickets(client, info)
    assert (state[1]["status"], state[2]["status"]) == ("done", "called")
    await expect(a.locator("#my-room-patient")).to_have_text("この診察室で呼び出し中の方はいません")

    await key(b, "a")  # B marks its own patient absent
    await expect(row(a, "absent", 2)).to_be_visible()
    assert (await tickets(client, info))[2]["status"] == "absent"

    await key(a, "r")  # nobody in room 1 now: a clear message, and nothing happens
    await expect(a.locator("#error")).to_contain_text("この診察室（1番）で呼び出し中の方はいません")
    assert [t["recalls"] for t in (await tickets(client, info)).values()] == [1, 1, 0, 0]

    await key(a, "n")
    await expect(a.locator("#my-room-patient")).to_have_text("3番を呼び出し中")
    await key(b, "n")
    await expect(b.locator("#my-room-patient")).to_have_text("4番を呼び出し中")
    await a.locator('#my-room-actions [data-action="absent"]').click()
    await expect(row(b, "absent", 3)).to_be_visible()
    state = await tickets(client, info)
    assert (state[3]["status"], state[4]["status"]) == ("absent", "called")
    await b.locator('#my-room-actions [data-action="complete"]').click()
    await expect(row(a, "done", 4)).to_be_attached()
    state = await tickets(client, info)
    assert {n: t["status"] for n, t in state.items()} == {
        1: "done",
        2: "absent",
        3: "absent",
        4: "done",
    }
    await screenshot(a, "console-rooms-a")


async def test_requeue_to_the_end_from_the_console(
    client: httpx.AsyncClient, consoles: Opener
) -> None:
    """「最後尾へ」 (requeue {to_end}) from this room's panel and from a row: the patient goes
    behind everyone waiting, not requeue_offset places back."""
    facility = await make_facility(client, ("01",))
    info = f"{facility}-01"
    await take(client, info, 5)
    console = await consoles(facility, await staff_user(client, facility))
    await key(console, "n")
    await expect(console.locator("#my-room-patient")).to_have_text("1番を呼び出し中")
    await console.locator('#my-room-actions [data-action="requeue_end"]').click()
    await expect(row(console, "waiting", 1)).to_be_visible()
    view = (await client.get(f"/v1/queues/{info}")).json()
    assert view["waiting"] == [2, 3, 4, 5, 1]

    await key(console, "n")
    await expect(row(console, "calling", 2)).to_be_visible()
    await row(console, "calling", 2).get_by_role("button", name="2番を最後尾に戻す").click()
    await expect(row(console, "waiting", 2)).to_be_visible()
    view = (await client.get(f"/v1/queues/{info}")).json()
    assert view["waiting"] == [3, 4, 5, 1, 2]
    state = await tickets(client, info)
    assert state[2]["requeued"] is True and state[2]["status"] == "waiting"

    # the plain 「列に戻す」 still puts a patient requeue_offset (3) places back
    await key(console, "n")
    await expect(row(console, "calling", 3)).to_be_visible()
    await row(console, "calling", 3).get_by_role("button", name="3番を列に戻す").click()
    await expect(row(console, "waiting", 3)).to_be_visible()
    assert (await client.get(f"/v1/queues/{info}")).json()["waiting"] == [4, 5, 1, 3, 2]


async def test_transfer_from_the_console_shows_on_the_target_monitor(
    hub: HubProcess, client: httpx.AsyncClient, consoles: Opener, browser: Browser
) -> None:
    """A waiting ticket is moved to counter 02 from its row's menu, a called one from this
    room's panel: each keeps its id and number, leaves 01 and waits at the end of 02's line;
    called at 02 it carries "from": "01" in 02's public view and on the monitor; the
    patient's GET at 01 says where it went, with a token that opens it at 02."""
    facility = await make_facility(client, ("01", "02"))
    source, target = f"{facility}-01", f"{facility}-02"
    await take(client, source, 3)
    await take(client, target)
    patient = await client.post(f"/v1/queues/{source}/tickets")  # number 4 at 01
    assert patient.status_code == 201
    console = await consoles(facility, await staff_user(client, facility))
    tv_ctx = await browser.new_context(locale="ja-JP", viewport=TV)
    try:
        tv = await tv_ctx.new_page()
        await tv.goto(f"{hub.base_url}/monitor/{facility}#token={monitor_token(facility)}")
        card = tv.locator(f'article[data-info="{target}"]')

        # a waiting ticket, from its row's menu
        menu = row(console, "waiting", 2).locator("details.con-menu")
        await menu.locator("summary").click()
        await menu.get_by_role("button", name="2番をcounter 02へ移動").click()
        await expect(row(console, "waiting", 2)).to_have_count(0)
        await expect(row(console, "done", 2)).to_contain_text("counter 02へ移動")
        moved = (await tickets(client, source))[2]
        assert (moved["status"], moved["to"]) == ("transferred", "02")
        there = await tickets(client, target)
        assert there[2]["id"] == moved["id"] and there[2]["from"] == "01"
        assert (await client.get(f"/v1/queues/{target}")).json()["waiting"] == [1, 2]
        assert (await client.get(f"/v1/queues/{source}")).json()["waiting"] == [1, 3, 4]

        # the patient's ticket page can follow it: GET at 01 says where, with a token for 02
        followed = await client.get(
            f"/v1/queues/{source}/tickets/{patient.json()['ticket']['id']}",
            headers={"Authorization": f"Bearer {patient.json()['token']}"},
        )
        assert followed.json()["ticket"]["status"] == "waiting" and "moved" not in followed.json()

        # a called ticket, from this room's panel (the patient's own ticket, number 4)
        await console.locator(
            '#waiting li[data-number="4"] .con-actions > [data-action="call"]'
        ).click()
        await expect(console.locator("#my-room-patient")).to_have_text("4番を呼び出し中")
        await console.select_option("#my-transfer-to", "02")
        await console.click("#my-transfer")
        await expect(console.locator("#my-room-patient")).to_have_text(
            "この診察室で呼び出し中の方はいません"
        )
        assert (await client.get(f"/v1/queues/{target}")).json()["waiting"] == [1, 2, 4]
        ticket_id = patient.json()["ticket"]["id"]
        gone = await client.get(
            f"/v1/queues/{source}/tickets/{ticket_id}",
            headers={"Authorization": f"Bearer {patient.json()['token']}"},
        )
        assert gone.status_code == 200, gone.text
        body = gone.json()
        assert (body["ticket"]["status"], body["ticket"]["to"]) == ("transferred", "02")
        assert body["moved"]["url"] == f"/q/{target}/t/{ticket_id}"
        there_view = await client.get(
            f"/v1/queues/{target}/tickets/{ticket_id}",
            headers={"Authorization": f"Bearer {body['moved']['token']}"},
        )
        assert there_view.status_code == 200, there_view.text
        assert there_view.json()["ticket"]["from"] == "01"
        assert there_view.json()["ahead"] == 2

        # at counter 02 (tab 2) it shows where it came from; called, on 02's monitor too
        await console.locator("body").press("2")
        await expect(row(console, "waiting", 2).locator(".con-flag-from")).to_have_text(
            "counter 01から"
        )
        for _ in range(2):
            await key(console, "n")
        await expect(console.locator("#my-room-patient")).to_have_text("2番を呼び出し中")
        calling = (await client.get(f"/v1/queues/{target}")).json()["calling"]
        assert calling[0] == {"number": 2, "room": "1", "recalls": 0, "from": "01"}
        assert (await tickets(client, target))[1]["from"] is None  # 02's own ticket
        await expect(card.locator(".mon-now-number")).to_have_text("2")
        await expect(card.locator(".mon-from")).to_contain_text("counter 01")
        await screenshot(tv, "monitor-transfer")
        await screenshot(console, "console-transfer")
    finally:
        await tv_ctx.close()


async def test_a_transfer_is_idempotent_and_refused_cleanly(
    client: httpx.AsyncClient, consoles: Opener
) -> None:
    """The API under the console's transfer: the same request again changes nothing (same
    answer), the same Idempotency-Key replays the first answer, a transfer to the same
    counter, a finished ticket or an unknown counter are clear 4xx errors."""
    facility = await make_facility(client, ("01", "02"))
    source, target = f"{facility}-01", f"{facility}-02"
    await take(client, source, 2)
    ids = {n: t["id"] for n, t in (await tickets(client, source)).items()}
    headers = {**staff_headers(facility), "Idempotency-Key": "move-1"}
    path = f"/v1/queues/{source}/tickets/{ids[1]}/transfer"
    first = await client.post(path, json={"to": "02"}, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json()["moved"]["info"] == target
    again = await client.post(path, json={"to": "02"}, headers=headers)
    assert again.json() == first.json()
    plain = await client.post(path, json={"to": "02"}, headers=staff_headers(facility))
    assert plain.status_code == 200 and plain.json()["moved"]["ticket"]["id"] == ids[1]
    assert (await client.get(f"/v1/queues/{target}")).json()["waiting"] == [1]
    assert (await client.get(f"/v1/queues/{source}")).json()["waiting"] == [2]
    refusals = [
        (ids[2], {"to": "01"}, 422),
        (ids[2], {"to": "07"}, 404),
        (ids[2], {"to": "2"}, 422),
        ("nope", {"to": "02"}, 404),
    ]
    for ticket_id, body, status in refusals:
        r = await client.post(
            f"/v1/queues/{source}/tickets/{ticket_id}/transfer",
            json=body,
            headers=staff_headers(facility),
        )
        assert r.status_code == status, (body, r.text)
        assert "error" in r.json()
    await client.post(
        f"/v1/queues/{source}/tickets/{ids[2]}/cancel", headers=staff_headers(facility)
    )
    r = await client.post(
        f"/v1/queues/{source}/tickets/{ids[2]}/transfer",
        json={"to": "02"},
        headers=staff_headers(facility),
    )
    assert (r.status_code, r.json()["error"]["code"]) == (409, "illegal_transition")
    other = await make_facility(client, ("01", "02"))
    r = await client.post(path, json={"to": "02"}, headers=staff_headers(other))
    assert r.status_code == 403


async def test_the_console_in_english(
    hub: HubProcess, client: httpx.AsyncClient, browser: Browser
) -> None:
    """?lang=en: the whole console in English (login, controls, rows, this room's panel,
    errors); the language button switches to Japanese in place."""
    facility = await make_facility(client, ("01", "02"))
    info = f"{facility}-01"
    await take(client, info, 2)
    user = await staff_user(client, facility)
    ctx = await browser.new_context(
        locale="ja-JP", viewport=DESK, extra_http_headers={"X-Forwarded-For": "198.18.3.21"}
    )
    errors: list[str] = []
    try:
        page = await ctx.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(f"{hub.base_url}/console/{facility}?lang=en")
        await expect(page.locator("#login-title")).to_have_text("Staff login")
        await page.fill("#login-form [name=user]", user)
        await page.fill("#login-form [name=password]", PASSWORD)
        await page.click("#login-form button")
        await expect(page.locator("#waiting-count")).to_have_text("2")
        await expect(page.locator("#call-next")).to_contain_text("Call next")
        await expect(page.locator("#open-state")).to_have_text("Open")
        await expect(page.locator("#settings-link")).to_have_attribute(
            "href", f"/console/{facility}/settings"
        )
        await expect(page.locator("#staff-link")).to_have_attribute(
            "href", f"/console/{facility}/staff"
        )
        await expect(row(page, "waiting", 1)).to_contain_text("arrived · waiting 0 min")
        await page.locator("body").press("r")
        await expect(page.locator("#error")).to_contain_text("Nobody is called into this room")
        await page.locator("body").press("n")
        await expect(page.locator("#my-room-patient")).to_have_text("Calling No. 1")
        await expect(
            row(page, "calling", 1).get_by_role("button", name="Recall No. 1")
        ).to_be_visible()
        await expect(row(page, "calling", 1)).to_contain_text("Room 1")
        await expect(page.locator("#net")).to_have_text("Live")
        await expect(page.locator("html")).to_have_attribute("lang", "en")
        await screenshot(page, "console-en")
        await page.click("#lang")
        await expect(page.locator("#call-next")).to_contain_text("次の方を呼ぶ")
        await expect(page.locator("#my-room-patient")).to_have_text("1番を呼び出し中")
        assert "lang=ja" in page.url
    finally:
        await ctx.close()
    assert errors == []


async def test_named_rooms_the_facility_language_and_templates(
    client: httpx.AsyncClient, consoles: Opener
) -> None:
    """The facility record names counter 01's rooms, says English and has i-message
    templates: the console (no ?lang) is English, calls into the chosen named room (a
    select), shows its name in this room's panel and offers the templates."""
    facility = await make_facility(client, ("01", "02"))
    info = f"{facility}-01"
    await take(client, info, 2)
    change = {
        "rooms": {"01": {"1": "Exam A", "2": "Exam B"}},
        "lang": "en",
        "templates": ["Running 20 minutes late", "Closed this afternoon"],
    }
    r = await client.patch(
        f"/v1/facilities/{facility}/settings", json=change, headers=staff_headers(facility)
    )
    assert r.status_code == 200, r.text
    console = await consoles(facility, await staff_user(client, facility))
    await expect(console.locator("#call-next")).to_contain_text("Call next")
    await expect(console.locator("#room")).to_be_hidden()
    select = console.locator("#room-select")
    await expect(select.locator("option")).to_have_text(["Exam A", "Exam B"])
    await select.select_option("2")
    await expect(console.locator("#my-room-name")).to_have_text("Exam B")
    await select.blur()
    await key(console, "n")
    await expect(console.locator("#my-room-patient")).to_have_text("Calling No. 1")
    await expect(row(console, "calling", 1)).to_contain_text("Exam B")
    assert (await tickets(client, info))[1]["room"] == "2"
    options = console.locator("#templates option")
    await expect(options).to_have_count(2)
    assert await options.evaluate_all("os => os.map(o => o.value)") == change["templates"]
    await console.locator("body").press("2")  # counter 02 has no named rooms: the free field
    await expect(console.locator("#room")).to_be_visible()
    await expect(console.locator("#room-select")).to_be_hidden()
