"""Operations endpoints and the API description, against a real hub process."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from hub.app import API_ROUTES
from tests.conftest import OPERATOR, HubProcess, make_facility, short_tempdir, staff_headers


async def test_health_ready_and_metrics(client: httpx.AsyncClient, facility: str) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["redis"] == "ok"
    await client.post(f"/v1/queues/{facility}-01/tickets")
    text = (await client.get("/metrics")).text
    assert 'junban_commands_total{command="IssueTicket",outcome="ok"}' in text
    assert "junban_appends_total" in text and "junban_command_seconds_bucket" in text


async def test_openapi_matches_the_routes(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    documented = {(path, method.upper()) for path, ops in spec["paths"].items() for method in ops}
    served = {(r.path, r.method) for r in API_ROUTES}
    served |= {
        ("/healthz", "GET"),
        ("/readyz", "GET"),
        ("/metrics", "GET"),
        ("/openapi.json", "GET"),
    }
    assert documented == served
    ticket_body = spec["components"]["schemas"]["TicketRequest"]
    assert set(ticket_body["properties"]) >= {"name", "phone", "note", "channel", "priority"}


def run_schemathesis(base_url: str, facility: str, *headers: str) -> str:
    """Run schemathesis's fuzzer over /openapi.json with the path parameters pinned to a real
    facility (so requests reach the queue logic, not just the 404s); return its output."""
    config = short_tempdir() / "schemathesis.toml"
    config.write_text(
        f'[parameters]\n"path.facility" = "{facility}"\n"path.info" = "{facility}-01"\n'
    )
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config),
        "run",
        f"{base_url}/openapi.json",
        "--checks",
        "not_a_server_error",
        "--max-examples",
        "30",
        "--generation-deterministic",
        # the SSE stream never ends by design; tests/channels covers it
        "--exclude-path",
        "/v1/queues/{info}/events",
        "--request-timeout",
        "10",
    ]
    for header in headers:
        command += ["--header", header]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-5000:]
    return output


@pytest.mark.timeout(900)  # three fuzzer runs of 30-60 s each; several times that on a busy machine
async def test_schemathesis_finds_no_server_error(hub: HubProcess) -> None:
    """Generated requests over /openapi.json, anonymous, as staff, as operator: never a 5xx."""
    async with httpx.AsyncClient(base_url=hub.base_url) as client:
        facility = await make_facility(client)
    for headers in (
        (),
        (f"Authorization: {staff_headers(facility)['Authorization']}",),
        (f"Authorization: {OPERATOR['Authorization']}",),
    ):
        output = run_schemathesis(hub.base_url, facility, *headers)
        assert "Test cases:" in output and " passed" in output
