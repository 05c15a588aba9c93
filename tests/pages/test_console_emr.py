"""The console's EMR link in real headless Chromium, end to end: a real hub sends tickets to
the ORCA fake (a real server in its own process); each ticket row shows the outcome
(✓ sent, 未連携 for a ticket without a patient-card number, ! failed with ORCA's message),
and 「患者検索」 finds the patient in the fake and links the ticket, which is then sent."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Locator, Page, expect

from tests.conftest import HubProcess, make_facility, staff_headers, start_hub
from tests.integrations.conftest import ORCA_PASSWORD, ORCA_USER, OrcaFake
from tests.pages.conftest import DESK, PASSWORD, screenshot, staff_user

_addresses = itertools.count(1)


@pytest.fixture(scope="module")
def emr_hub(redis_url: str) -> Iterator[HubProcess]:
    """A hub whose endpoints may be loopback http servers (the ORCA fake)."""
    process = start_hub(
        redis_url, JUNBAN_INTEGRATIONS_ALLOW_LOOPBACK="1", JUNBAN_RETRY_SCALE="0.001"
    )
    yield process
    process.stop()


@pytest.fixture(scope="module")
def orca() -> Iterator[OrcaFake]:
    fake = OrcaFake().start()
    yield fake
    fake.stop()


@pytest.fixture
async def api(emr_hub: HubProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=emr_hub.base_url, timeout=20) as c:
        yield c


@pytest.fixture
async def desk(browser: Browser) -> AsyncIterator[BrowserContext]:
    n = next(_addresses)
    ctx = await browser.new_context(
        locale="ja-JP",
        viewport=DESK,
        extra_http_headers={"X-Forwarded-For": f"172.29.{n // 250 % 250}.{n % 250 + 1}"},
    )
    yield ctx
    await ctx.close()


async def open_console(
    ctx: BrowserContext, base_url: str, facility: str, user: str, query: str = ""
) -> tuple[Page, list[str]]:
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(f"{base_url}/console/{facility}{query}")
    await page.fill("#login-form [name=user]", user)
    await page.fill("#login-form [name=password]", PASSWORD)
    await page.click("#login-form button")
    await expect(page.locator("#app")).to_be_visible()
    return page, errors


async def orca_endpoint(api: httpx.AsyncClient, facility: str, orca: OrcaFake) -> None:
    body = {
        "kind": "orca",
        "url": orca.url,
        "events": [],  # every type: issued, cancelled and linked (after a lookup)
        "personal": True,
        "enabled": True,
        "config": {
            "user": ORCA_USER,
            "counters": {"01": {"department": "01", "physician": "10001"}},
        },
        "secret": ORCA_PASSWORD,
    }
    r = await api.post(
        f"/v1/facilities/{facility}/integrations/endpoints",
        json=body,
        headers=staff_headers(facility),
    )
    assert r.status_code == 201, r.text


async def desk_ticket(api: httpx.AsyncClient, info: str, **body: object) -> dict:  # type: ignore[type-arg]
    facility = info.split("-")[0]
    r = await api.post(
        f"/v1/queues/{info}/tickets",
        json={"channel": "desk", **body},
        headers=staff_headers(facility),
    )
    assert r.status_code == 201, r.text
    return r.json()["ticket"]  # type: ignore[no-any-return]


def mark(page: Page, number: int) -> Locator:
    return page.locator(f'#waiting li[data-number="{number}"] .con-emr')


async def test_emr_marks_and_the_patient_search_link_a_ticket(
    emr_hub: HubProcess, api: httpx.AsyncClient, desk: BrowserContext, orca: OrcaFake
) -> None:
    httpx.post(f"{orca.url}/_control", json={"reset": True})
    facility = await make_facility(api, ("01",))
    info = f"{facility}-01"
    await orca_endpoint(api, facility, orca)
    user = await staff_user(api, facility)
    console, errors = await open_console(desk, emr_hub.base_url, facility, user)

    linked = await desk_ticket(api, info, name="日医 太郎", patient_ref="00012")
    unlinked = await desk_ticket(api, info, name="日医 花子")
    await expect(mark(console, linked["number"])).to_have_attribute(
        "data-emr", "sent", timeout=15_000
    )
    await expect(mark(console, linked["number"])).to_have_text("✓ カルテ")
    ref = console.locator(f'#waiting li[data-number="{linked["number"]}"] .con-emr-ref')
    await expect(ref).to_have_text("診察券 00012")
    sent_row = console.locator(f'#waiting li[data-number="{linked["number"]}"]')
    await expect(sent_row.locator('[data-action="patient"]')).to_have_count(0)  # sent already
    second = mark(console, unlinked["number"])
    await expect(second).to_have_text("未連携", timeout=15_000)
    await expect(second).to_have_attribute("data-emr", "unlinked")

    # the desk form's 診察券番号 (shown with an EMR link): the ticket is sent as issued
    await console.fill("#issue-form [name=name]", "山田 次郎")
    await console.fill("#issue-form [name=patient_ref]", "00201")
    await console.click("#issue")
    await expect(console.locator("#issued")).to_contain_text("3")
    await expect(mark(console, 3)).to_have_attribute("data-emr", "sent", timeout=15_000)
    await expect(console.locator('#waiting li[data-number="3"] .con-emr-ref')).to_have_text(
        "診察券 00201"
    )

    # ORCA refuses: the row turns red with ORCA's message as its title
    httpx.post(f"{orca.url}/_control", json={"mode405": True})
    failed = await desk_ticket(api, info, name="山田 一郎", patient_ref="00200")
    await expect(mark(console, failed["number"])).to_have_attribute(
        "data-emr", "failed", timeout=15_000
    )
    await expect(mark(console, failed["number"])).to_have_text("! カルテ")
    title = await mark(console, failed["number"]).get_attribute("title")
    assert title and "405" in title, title
    await screenshot(console, "console-emr")
    httpx.post(f"{orca.url}/_control", json={"reset": True})

    # 患者検索 on the unlinked row: by card number, then link; ORCA gets it
    row = console.locator(f'#waiting li[data-number="{unlinked["number"]}"]')
    await row.locator('[data-action="patient"]').click()
    dialog = console.locator("#emr-dialog")
    await expect(dialog).to_be_visible()
    await dialog.locator("#emr-id").fill("00099")
    await dialog.locator("#emr-find").click()
    await expect(dialog.locator("#emr-results")).to_contain_text("該当する患者はいません。")
    await dialog.locator('[name="mode"][value="kana"]').check()
    await dialog.locator("#emr-kana").fill("ニチイ ハナコ")
    await dialog.locator("#emr-birth").fill("1975-05-05")
    await dialog.locator("#emr-find").click()
    found = dialog.locator('.con-emr-patient[data-ref="00013"]')
    await expect(found).to_contain_text("日医 花子")
    await expect(found).to_contain_text("ニチイ ハナコ")
    await expect(found).to_contain_text("1975年5月5日")
    await expect(found).to_contain_text("女")
    await screenshot(console, "console-emr-search")
    await found.locator('[data-action="link"]').click()
    await expect(dialog).to_be_hidden()
    await expect(console.locator("#moved")).to_contain_text("診察券 00013")
    await expect(row.locator(".con-emr-ref")).to_have_text("診察券 00013")
    await expect(row.locator(".con-emr")).to_have_attribute("data-emr", "sent", timeout=15_000)
    staff = await api.get(f"/v1/queues/{info}/staff", headers=staff_headers(facility))
    ticket = next(t for t in staff.json()["tickets"] if t["id"] == unlinked["id"])
    assert ticket["patient_ref"] == "00013"
    log = httpx.get(f"{orca.url}/_control/log").json()
    assert "00013" in {a.get("Patient_ID") for a in log["acceptances"]}  # (log reset above)

    assert not errors, errors


async def test_no_marks_without_an_emr_link_and_english_marks(
    emr_hub: HubProcess, api: httpx.AsyncClient, desk: BrowserContext, orca: OrcaFake
) -> None:
    facility = await make_facility(api, ("01",))
    info = f"{facility}-01"
    user = await staff_user(api, facility)
    console, errors = await open_console(desk, emr_hub.base_url, facility, user, "?lang=en")
    plain = await desk_ticket(api, info, name="A")
    row = console.locator(f'#waiting li[data-number="{plain["number"]}"]')
    await expect(row).to_be_visible()
    await expect(row.locator(".con-emr")).to_have_count(0)
    await expect(row.locator('[data-action="patient"]')).to_have_count(0)
    await expect(console.locator("#integrations-link")).to_have_text("Integrations")
    await expect(console.locator("#issue-form [name=patient_ref]")).to_be_hidden()

    await orca_endpoint(api, facility, orca)
    console2, errors2 = await open_console(desk, emr_hub.base_url, facility, user, "?lang=en")
    sent = await desk_ticket(api, info, name="B", patient_ref="00012")
    m = console2.locator(f'#waiting li[data-number="{sent["number"]}"] .con-emr')
    await expect(m).to_have_text("✓ EMR", timeout=15_000)
    row2 = console2.locator(f'#waiting li[data-number="{plain["number"]}"]')
    await expect(row2.locator(".con-emr")).to_have_text("Not linked")
    await expect(row2.locator('[data-action="patient"]')).to_have_text("Patient search")
    assert not errors and not errors2, (errors, errors2)
