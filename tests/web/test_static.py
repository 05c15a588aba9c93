"""``/static`` serves what a browser loads (the client, the widget, the pages' files) and
nothing else of ``clients/js/``: not its tests, package.json, type declarations or
node_modules. Over real HTTP against the shared hub."""

from __future__ import annotations

import httpx
import pytest

from hub.web.pages import CLIENTS_DIR


@pytest.mark.parametrize(
    "path", ["junban.js", "widget.js", "pages/patient.js", "pages/base.css", "pages/favicon.svg"]
)
async def test_client_files_are_served(client: httpx.AsyncClient, path: str) -> None:
    r = await client.get(f"/static/{path}")
    assert r.status_code == 200, path
    assert r.content == (CLIENTS_DIR / path).read_bytes()


@pytest.mark.parametrize(
    "path",
    [
        "test/client.test.mjs",
        "test/fakes.mjs",
        "test/types-check.ts",
        "test/",
        "test",
        "package.json",
        "package-lock.json",
        "tsconfig.json",
        "junban.d.ts",
        "node_modules/typescript/package.json",
        "pages/../test/fakes.mjs",
        "pages/%2e%2e/test/fakes.mjs",
        "pages",
        "pages/patient.html",
    ],
)
async def test_everything_else_is_not_found(client: httpx.AsyncClient, path: str) -> None:
    r = await client.get(f"/static/{path}")
    assert r.status_code == 404, (path, r.status_code)
    assert b"node:test" not in r.content and b"devDependencies" not in r.content


async def test_a_test_file_is_not_served_even_by_head(client: httpx.AsyncClient) -> None:
    assert (await client.head("/static/test/client.test.mjs")).status_code == 404
