"""Access is declared once per route and enforced by the router: every route of the table is
provoked without a token and with tokens of the wrong role, over real HTTP, and nothing
changes."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from hub.app import API_ROUTES
from hub.auth import ACCESS
from hub.web.routing import ApiRoute
from tests.conftest import OPERATOR, TOKENS, bearer, make_facility, staff_headers

SAMPLE = {
    "code": "123456",
    "user": "nobody-here",
    "contract_id": "c0123456789ab",
    "incident_id": "i0123456789",
    "month": "2026-11",
    "action": "recall",
    "dead_id": "1700000000000-0",
    "endpoint_id": "ep_0123456789ab",
    "key_id": "ak_0123456789ab",
    "channel": "email",
    "provider": "sim",
}


def test_every_route_declares_one_of_the_known_accesses() -> None:
    assert API_ROUTES
    for route in API_ROUTES:
        assert route.access in ACCESS, f"{route.method} {route.path}: {route.access!r}"
    declared = {(r.method, r.path) for r in API_ROUTES}
    assert len(declared) == len(API_ROUTES), "a route is declared twice"


def _path(route: ApiRoute, facility: str, ticket_id: str) -> str:
    values = {**SAMPLE, "info": f"{facility}-01", "facility": facility, "ticket_id": ticket_id}
    return re.sub(r"{(\w+)}", lambda m: values[m.group(1)], route.path)


def _wrong_tokens(route: ApiRoute, facility: str, other: str) -> dict[str, dict[str, str]]:
    """Tokens that must be refused (403) on ``route``, by what makes each one wrong."""
    info = f"{facility}-01"
    patient_other = TOKENS.issue(
        "patient", subject="x", facility=facility, info=info, ticket="someone-else"
    )
    monitor = TOKENS.issue("monitor", subject="m", facility=facility)
    partner = TOKENS.issue("partner", subject="p", facility=facility)
    kiosk = TOKENS.issue("kiosk", subject="k", facility=facility)  # a paired kiosk
    staff_cli = staff_headers(facility)  # a CLI token: no account behind it
    wrong: dict[str, dict[str, dict[str, str]]] = {
        "staff": {
            "staff of another facility": staff_headers(other),
            "a patient": bearer(patient_other),
            "a monitor": bearer(monitor),
            "a partner": bearer(partner),
            "a kiosk": bearer(kiosk),
        },
        "ticket-or-staff": {
            "another ticket's patient": bearer(patient_other),
            "staff of another facility": staff_headers(other),
            "a monitor": bearer(monitor),
            "a kiosk": bearer(kiosk),
        },
        "operator": {
            "staff": staff_cli,
            "a monitor": bearer(monitor),
            "a partner": bearer(partner),
            "a kiosk": bearer(kiosk),
        },
        "staff-any": {
            "a patient": bearer(patient_other),
            "a monitor": bearer(monitor),
            "a kiosk": bearer(kiosk),
        },
        "account": {
            "a CLI staff token": staff_cli,
            "a patient": bearer(patient_other),
            "a kiosk": bearer(kiosk),
        },
        "clinic-admin": {
            "staff (not an admin)": staff_cli,
            "a non-admin staff login": bearer(
                TOKENS.issue("staff", subject="s", facility=facility, version=0)
            ),
            "an admin of another facility": bearer(
                TOKENS.issue("staff", subject="a", facility=other, version=0, admin=True)
            ),
            "a monitor": bearer(monitor),
            "a partner": bearer(partner),
            "a patient": bearer(patient_other),
            "a kiosk": bearer(kiosk),
        },
    }
    return wrong.get(route.access, {})


async def _send(
    client: httpx.AsyncClient, route: ApiRoute, path: str, headers: dict[str, str]
) -> httpx.Response:
    body: Any = {} if route.method in ("POST", "PUT") else None
    return await client.request(route.method, path, json=body, headers=headers)


async def _state(client: httpx.AsyncClient, facility: str) -> tuple[Any, ...]:
    queue = (await client.get(f"/v1/queues/{facility}-01")).json()
    record = (await client.get(f"/v1/facilities/{facility}")).json()
    staff = (await client.get(f"/v1/queues/{facility}-01/staff", headers=OPERATOR)).json()
    return queue["v"], record["message"], record.get("suspended"), len(staff["tickets"])


@pytest.mark.parametrize(
    "route", [r for r in API_ROUTES if r.access != "public"], ids=lambda r: f"{r.method} {r.path}"
)
async def test_the_router_refuses_a_missing_or_wrong_token_and_changes_nothing(
    client: httpx.AsyncClient, route: ApiRoute
) -> None:
    facility = await make_facility(client)
    other = await make_facility(client, open_all=False)
    taken = await client.post(f"/v1/queues/{facility}-01/tickets")
    assert taken.status_code == 201, taken.text
    path = _path(route, facility, taken.json()["ticket"]["id"])
    before = await _state(client, facility)

    if route.access == "optional":  # a token may be left out, but a bad one is refused
        refused = await _send(client, route, path, bearer("not-a-token"))
        assert refused.status_code == 401, refused.text
        assert refused.json()["error"]["code"] == "invalid_token"
    else:
        refused = await _send(client, route, path, {})
        assert refused.status_code == 401, f"no token: {refused.text}"
        for why, headers in _wrong_tokens(route, facility, other).items():
            refused = await _send(client, route, path, headers)
            assert refused.status_code == 403, f"{why}: {refused.status_code} {refused.text}"
            assert refused.json()["error"]["code"] in ("forbidden", "no_account"), why
    assert await _state(client, facility) == before
