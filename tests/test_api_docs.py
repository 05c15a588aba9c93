"""docs/api.md, the API reference, stays true: its generated tables are current, every route
of the app is listed with its method and access, and every route its text names exists."""

from __future__ import annotations

import re
from pathlib import Path

from hub import apidocs
from hub.app import API_ROUTES
from hub.channels.wsprotocol import WS_PATH
from hub.errors import CLOSE_CODES, ERROR_CODES
from hub.web.ops import OPS_PATHS

DOC = Path(__file__).resolve().parent.parent / "docs" / "api.md"
ROW = re.compile(r"^\| (.+) \|$", re.M)
"""A table row with cells (the header too, not the |---| line)."""


def doc_text() -> str:
    return DOC.read_text(encoding="utf-8")


def generated(name: str) -> str:
    match = re.search(
        rf"<!-- generated:{name} -->\n(.*?)<!-- /generated:{name} -->", doc_text(), re.S
    )
    assert match is not None, f"docs/api.md has no {name} table"
    return match[1]


def rows(name: str) -> list[list[str]]:
    """The body rows of a generated table; a cell that is all code loses its backticks."""
    cells = [re.split(r"(?<!\\) \| ", m[1]) for m in ROW.finditer(generated(name))]
    return [[_plain(cell) for cell in row] for row in cells[1:]]  # after the header


def _plain(cell: str) -> str:
    if len(cell) > 1 and cell[0] == cell[-1] == "`" and cell.count("`") == 2:
        return cell[1:-1]
    return cell.replace("\\|", "|")


def app_routes() -> set[tuple[str, str, str]]:
    routes = {(r.method, r.path, apidocs.route_access(r)) for r in API_ROUTES}
    routes |= {(m.upper(), path, "public") for path, ops in OPS_PATHS.items() for m in ops}
    return routes


def test_the_generated_tables_are_current() -> None:
    assert apidocs.regenerate(doc_text()) == doc_text(), (
        "docs/api.md is stale: run `.venv/bin/python -m hub.apidocs`"
    )


def test_every_route_is_documented_with_its_method_and_access_and_no_other() -> None:
    documented = {(method, path, access) for method, path, access, _ in rows("routes")}
    assert documented == app_routes()
    assert len(API_ROUTES) > 40


def test_every_access_level_in_use_is_explained() -> None:
    prose = doc_text().split("<!-- generated:routes -->")[0]
    unexplained = {access for _, _, access in app_routes() if f"- `{access}`:" not in prose}
    assert not unexplained, unexplained


def test_every_route_the_text_names_exists() -> None:
    """``GET /v1/queues/{info}`` and the like in the hand-written text (parameter names may
    differ: ``{id}`` matches ``{ticket_id}``)."""

    def shape(path: str) -> str:
        return re.sub(r"\{[^}]*\}", "{}", path)

    known = {(method, shape(path)) for method, path, _ in app_routes()} | {("GET", WS_PATH)}
    prose = re.sub(r"<!-- generated:(\S+) -->.*?<!-- /generated:\1 -->", "", doc_text(), flags=re.S)
    named = re.findall(r"`(GET|POST|PUT|PATCH|DELETE) (/[^\s`]*)", prose)
    assert len(named) > 15
    unknown = [f"{m} {p}" for m, p in named if (m, shape(p)) not in known]
    assert not unknown, f"docs/api.md names routes the hub does not have: {unknown}"


def test_the_error_table_is_the_catalogue() -> None:
    table = {code: (status, meaning) for code, status, meaning in rows("error-codes")}
    catalogue = {
        code: ("—" if e.status is None else ", ".join(map(str, (e.status, *e.also))), e.meaning)
        for code, e in ERROR_CODES.items()
    }
    assert table == catalogue


def test_the_close_code_table_is_the_catalogue() -> None:
    table = {int(number): (name, by, meaning) for number, name, by, meaning in rows("close-codes")}
    catalogue = {int(c): (c.name, e.sent_by, e.meaning) for c, e in CLOSE_CODES.items()}
    assert table == catalogue
