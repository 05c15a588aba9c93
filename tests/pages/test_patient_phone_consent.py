"""The patient page's 「電話で呼び出しを希望する」 (phone call-out option) in real headless
Chromium against a real hub: the checkbox shows, unticked, only for a facility with the
option; ticked, the ticket is taken with the patient's consent, which staff see (and the
number stored as E.164); ticked without a number it explains and takes nothing."""

from __future__ import annotations

import re

import httpx
from playwright.async_api import Browser, Page, expect

from tests.conftest import OPERATOR, HubProcess, make_facility, new_facility_number, staff_headers
from tests.pages.conftest import screenshot

TICKET_URL = re.compile(r"/q/\d+-\d\d/t/[A-Za-z0-9_-]+$")


async def staff_ticket(client: httpx.AsyncClient, info: str, ticket_id: str) -> dict[str, object]:
    facility = info.split("-")[0]
    r = await client.get(f"/v1/queues/{info}/staff", headers=staff_headers(facility))
    assert r.status_code == 200, r.text
    found: dict[str, object] = next(t for t in r.json()["tickets"] if t["id"] == ticket_id)
    return found


async def without_phone(client: httpx.AsyncClient) -> str:
    """A facility under contract with the API option only (no phone option), open."""
    body = {"applicant": "No Phone", "items": ["reservation"], "options": ["api"],
            "fees": {"monthly": {"reservation": 9000, "api": 3000}}}  # fmt: skip
    r = await client.post("/v1/admin/contracts", json=body, headers=OPERATOR)
    assert r.status_code == 201, r.text
    number = new_facility_number()
    approve = {"facility": number, "name": "No Phone", "counters": {"01": "内科"}}
    r = await client.post(
        f"/v1/admin/contracts/{r.json()['id']}/approve", json=approve, headers=OPERATOR
    )
    assert r.status_code == 200, r.text
    for action in ("open", "web/open"):
        r = await client.post(f"/v1/queues/{number}-01/{action}", headers=staff_headers(number))
        assert r.status_code == 200, r.text
    return number


async def test_consent_is_offered_unticked_and_stored_when_ticked(
    page: Page, hub: HubProcess, client: httpx.AsyncClient
) -> None:
    facility = await make_facility(client)  # set up by hand: every option
    info = f"{facility}-01"
    record = (await client.get(f"/v1/facilities/{facility}")).json()
    assert record["phone_calls"] is True

    await page.goto(f"{hub.base_url}/q/{info}")
    box = page.locator("#phone-call")
    await expect(page.locator("#phone-call-field")).to_be_visible()
    await expect(page.locator("#phone-call-field")).to_contain_text("電話で呼び出しを希望する")
    await expect(box).not_to_be_checked()

    # ticked without a number: explained, nothing taken
    await box.check()
    await page.locator("#take-btn").click()
    await expect(page.locator("#form-error")).to_contain_text("電話番号の入力が必要")
    assert (await client.get(f"/v1/queues/{info}")).json()["last_number"] == 0

    await page.locator("#phone").fill("090-1234-5678")
    await page.locator("#consent").check()
    await screenshot(page, "patient-phone-consent")
    await page.locator("#take-btn").click()
    await page.wait_for_url(TICKET_URL)
    ticket = await staff_ticket(client, info, page.url.rsplit("/", 1)[1])
    consent = ticket["phone_consent"]
    assert isinstance(consent, dict), ticket
    assert consent["by"] == "patient" and consent["text_version"]
    assert ticket["phone"] == "+819012345678"

    # the patient's own view never carries it
    public = (await client.get(f"/v1/queues/{info}")).text
    assert "phone_consent" not in public and "9012345678" not in public


async def test_unticked_no_consent_and_no_checkbox_without_the_option(
    browser: Browser, hub: HubProcess, client: httpx.AsyncClient
) -> None:
    # with the option, left unticked: a phone number but no consent
    facility = await make_facility(client)
    info = f"{facility}-01"
    ctx = await browser.new_context(locale="ja-JP", viewport={"width": 390, "height": 844})
    errors: list[str] = []
    try:
        page = await ctx.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(f"{hub.base_url}/q/{info}")
        await expect(page.locator("#phone-call-field")).to_be_visible()
        await page.locator("#phone").fill("090-1234-5678")
        await page.locator("#consent").check()
        await page.locator("#take-btn").click()
        await page.wait_for_url(TICKET_URL)
        ticket = await staff_ticket(client, info, page.url.rsplit("/", 1)[1])
        assert ticket["phone_consent"] is None, ticket

        # without the option: the record says so and the page never offers it
        plain = await without_phone(client)
        record = (await client.get(f"/v1/facilities/{plain}")).json()
        assert record["phone_calls"] is False
        page = await ctx.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(f"{hub.base_url}/q/{plain}-01")
        await expect(page.locator("#clinic-name")).to_have_text("No Phone")
        await expect(page.locator("#take-btn")).to_be_enabled()
        await expect(page.locator("#phone-call-field")).to_be_hidden()
        await page.locator("#phone").fill("090-1234-5678")
        await page.locator("#consent").check()
        await page.locator("#take-btn").click()
        await page.wait_for_url(TICKET_URL)
        ticket = await staff_ticket(client, f"{plain}-01", page.url.rsplit("/", 1)[1])
        assert ticket["phone_consent"] is None, ticket
    finally:
        await ctx.close()
    assert not errors, errors


async def test_the_checkbox_in_english(
    page: Page, hub: HubProcess, client: httpx.AsyncClient
) -> None:
    facility = await make_facility(client)
    await page.goto(f"{hub.base_url}/q/{facility}-01?lang=en")
    field = page.locator("#phone-call-field")
    await expect(field).to_contain_text("Call me by phone when my turn is near")
    await expect(field).to_contain_text("never your name")
    await page.locator("#phone-call").check()
    await page.locator("#take-btn").click()
    await expect(page.locator("#form-error")).to_have_text(
        "Enter your phone number to be called by phone."
    )
