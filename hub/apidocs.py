"""The generated tables of ``docs/api.md``: routes, error codes and close codes.

``python -m hub.apidocs`` rewrites each table between its marker comments
(``<!-- generated:routes -->`` … ``<!-- /generated:routes -->``) from the app's route table
and ``hub.errors``' catalogue; ``--check`` only says whether the file is current (exit 1 if
not). ``tests/test_api_docs.py`` runs the check, so the tables never need hand-editing.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from hub.errors import CLOSE_CODES, ERROR_CODES

if TYPE_CHECKING:
    from hub.web.routing import ApiRoute

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "docs" / "api.md"
_BLOCK = re.compile(
    r"(?P<open><!-- generated:(?P<name>[a-z-]+) -->\n).*?(?P<close><!-- /generated:(?P=name) -->)",
    re.DOTALL,
)


def route_rows() -> Iterator[tuple[str, str, str, str]]:
    """``(method, path, access, summary)`` of every HTTP route, sorted by path and method."""
    from hub.app import API_ROUTES
    from hub.web.ops import OPS_PATHS

    rows = [(r.method, r.path, route_access(r), r.summary) for r in API_ROUTES]
    for path, operations in OPS_PATHS.items():
        for method, operation in operations.items():
            rows.append((method.upper(), path, "public", str(operation["summary"])))
    return iter(sorted(rows, key=lambda row: (row[1], row[0])))


def route_access(route: ApiRoute) -> str:
    """Who may call ``route`` (its access declaration, which the router enforces)."""
    return route.access


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def routes_table() -> str:
    lines = ["| method | path | access | summary |", "|---|---|---|---|"]
    for method, path, access, summary in route_rows():
        lines.append(f"| `{method}` | `{path}` | `{access}` | {_cell(summary)} |")
    return "\n".join(lines) + "\n"


def _status(status: int | None, also: tuple[int, ...]) -> str:
    return "—" if status is None else ", ".join(str(s) for s in (status, *also))


def errors_table() -> str:
    lines = ["| code | HTTP | meaning |", "|---|---|---|"]
    order = sorted(ERROR_CODES.items(), key=lambda item: (item[1].status or 999, item[0]))
    for code, error in order:
        lines.append(f"| `{code}` | {_status(error.status, error.also)} | {_cell(error.meaning)} |")
    return "\n".join(lines) + "\n"


def close_codes_table() -> str:
    lines = ["| close code | name | sent by | meaning |", "|---|---|---|---|"]
    for close, entry in sorted(CLOSE_CODES.items()):
        lines.append(
            f"| {int(close)} | `{close.name}` | {entry.sent_by} | {_cell(entry.meaning)} |"
        )
    return "\n".join(lines) + "\n"


TABLES: dict[str, Callable[[], str]] = {
    "routes": routes_table,
    "error-codes": errors_table,
    "close-codes": close_codes_table,
}


def regenerate(text: str) -> str:
    """``text`` with every generated table rewritten; KeyError for an unknown marker,
    ValueError when a table's markers are missing."""
    found: set[str] = set()

    def fill(match: re.Match[str]) -> str:
        name = match["name"]
        found.add(name)
        return match["open"] + "\n" + TABLES[name]() + "\n" + match["close"]

    result = _BLOCK.sub(fill, text)
    missing = set(TABLES) - found
    if missing:
        raise ValueError(f"no <!-- generated:NAME --> markers for {', '.join(sorted(missing))}")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hub.apidocs", description=__doc__)
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    args = parser.parse_args(argv)
    text = args.path.read_text(encoding="utf-8")
    fresh = regenerate(text)
    if fresh == text:
        return 0
    if args.check:
        print(f"{args.path} is stale: run python -m hub.apidocs", file=sys.stderr)
        return 1
    args.path.write_text(fresh, encoding="utf-8")
    print(f"rewrote the generated tables of {args.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
