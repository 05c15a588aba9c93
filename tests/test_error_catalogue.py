"""hub/errors.py's catalogue is the whole truth: every error code the hub can answer and
every WebSocket close code, checked against the source (by its syntax tree), the docstring
tree, junban.js and the docs."""

from __future__ import annotations

import ast
import importlib
import re
from collections.abc import Iterator
from pathlib import Path

import hub.errors
from hub.errors import CLOSE_CODES, ERROR_CODES, Close, JunbanError

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "hub").rglob("*.py"))
Site = tuple[str, str, str | None]
"""(code, where, the error class raised there, if a class is called)."""


def _string(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    return node.attr if isinstance(node, ast.Attribute) else None


def _default_codes(node: ast.AST) -> Iterator[str]:
    """``default_code = "x"`` and ``status, close_code, default_code = 400, …, "x"``."""
    if isinstance(node, ast.AnnAssign) and _name(node.target) == "default_code":
        code = _string(node.value)
        if code:
            yield code
    if isinstance(node, ast.Assign):
        for target in node.targets:
            if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                for name, value in zip(target.elts, node.value.elts, strict=False):
                    code = _string(value)
                    if _name(name) == "default_code" and code:
                        yield code


def _code_table(node: ast.AST) -> Iterator[str]:
    """``HTTP_CODES = {404: "not_found", …}`` (status → code) and ``HTTP_CODES.get(s, "x")``."""
    if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict):
        if any((_name(t) or "").endswith("_CODES") for t in node.targets):
            for key, value in zip(node.value.keys, node.value.values, strict=True):
                code = _string(value)
                if isinstance(key, ast.Constant) and isinstance(key.value, int) and code:
                    yield code
    if isinstance(node, ast.Call) and _name(node.func) == "get" and len(node.args) == 2:
        owner = node.func.value if isinstance(node.func, ast.Attribute) else None
        code = _string(node.args[1])
        if owner is not None and (_name(owner) or "").endswith("_CODES") and code:
            yield code


def code_sites(path: Path) -> Iterator[Site]:
    """Every error code ``path`` can send: ``code="x"`` arguments, ``{"code": "x"}`` bodies,
    ``default_code``s, status → code tables, and the reasons of 4401 closes."""
    where = str(path.relative_to(ROOT))
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                code = _string(keyword.value)
                if keyword.arg == "code" and code:
                    yield code, f"{where}:{node.lineno}", _name(node.func)
            if _name(node.func) == "close" and len(node.args) == 2:
                code = _string(node.args[1])
                if _name(node.args[0]) == Close.BAD_TOKEN.name and code:
                    yield code, f"{where}:{node.lineno} (close reason)", None
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                code = _string(value)
                if key is not None and _string(key) == "code" and code:
                    yield code, f"{where}:{node.lineno}", None
        for code in [*_default_codes(node), *_code_table(node)]:
            yield code, f"{where}:{getattr(node, 'lineno', 0)}", None


def all_sites() -> list[Site]:
    return [site for path in SOURCES for site in code_sites(path)]


def error_classes() -> dict[str, type[JunbanError]]:
    """Every JunbanError class of the hub, by name (each hub module imported first)."""
    for path in SOURCES:
        if path.name != "__main__.py":  # running it is its whole point
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            importlib.import_module(module.removesuffix(".__init__"))
    found: dict[str, type[JunbanError]] = {}
    pending: list[type[JunbanError]] = [JunbanError]
    while pending:
        cls = pending.pop()
        found[cls.__name__] = cls
        pending += cls.__subclasses__()
    return found


def test_the_scan_finds_the_known_kinds_of_site() -> None:
    """The scanner itself sees each way a code is written (so 'nothing found' means nothing)."""
    codes = {code for code, _, _ in all_sites()}
    assert {"unknown_queue", "internal_error", "redis_unavailable", "method_not_allowed"} <= codes
    assert {"http_error", "login_throttled", "too_many_subscriptions", "token_revoked"} <= codes


def test_every_code_the_hub_sends_is_in_the_catalogue() -> None:
    unknown = sorted(
        {f"{code} ({where})" for code, where, _ in all_sites() if code not in ERROR_CODES}
    )
    assert not unknown, f"add these to hub/errors.py ERROR_CODES: {unknown}"


def test_no_catalogue_code_is_dead() -> None:
    sent = {code for code, _, _ in all_sites()}
    dead = sorted(set(ERROR_CODES) - sent)
    assert not dead, f"no raise site sends these; drop them from ERROR_CODES: {dead}"


def test_each_code_comes_with_its_catalogued_status() -> None:
    classes = error_classes()
    wrong = []
    for code, where, raised in all_sites():
        entry = ERROR_CODES.get(code)
        cls = classes.get(raised or "")
        if entry is None or cls is None or entry.status is None:
            continue
        if cls.status not in (entry.status, *entry.also):
            wrong.append(f"{code}: {raised} ({cls.status}) at {where}, catalogue {entry.status}")
    for cls in classes.values():
        entry = ERROR_CODES[cls.default_code]
        if entry.status != cls.status:
            wrong.append(f"{cls.__name__}.default_code {cls.default_code}: {cls.status}")
    assert not wrong, wrong


def test_the_docstring_tree_draws_every_error_class() -> None:
    """Each ``Name (status, close N)  default_code`` line of hub/errors.py's docstring is
    true, a ``├──`` line is a direct subclass of JunbanError, and every JunbanError class
    of the hub is drawn."""
    assert hub.errors.__doc__ is not None
    classes = error_classes()
    drawn = {}
    for line in hub.errors.__doc__.splitlines():
        match = re.search(r"(\w+) \((\d+), close (\d+)\)\s+(\w+)", line)
        if match is None:
            continue
        name = match[1]
        drawn[name] = (int(match[2]), int(match[3]), match[4])
        if "── " in line:
            assert classes[name].__bases__ == (JunbanError,), line
    wanted = {n: (c.status, int(c.close_code), c.default_code) for n, c in classes.items()}
    assert drawn == wanted


def test_every_error_class_closes_with_a_catalogued_code() -> None:
    for cls in error_classes().values():
        assert cls.close_code in CLOSE_CODES, cls


def test_no_catalogued_close_code_is_dead() -> None:
    """A code the hub sends is used in hub/channels/, a reserved one is an error class's, a
    client one is junban.js's."""
    used = {
        node.attr
        for path in (ROOT / "hub" / "channels").glob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Attribute)
    }
    classes = {cls.close_code for cls in error_classes().values()}
    js = js_close_codes()
    for close, entry in CLOSE_CODES.items():
        if "hub" in entry.sent_by:
            assert close.name in used, f"{close!r} is sent by no code in hub/channels/"
        if entry.sent_by == "reserved":
            assert close in classes, f"{close!r} is no error class's close code"
        if entry.sent_by == "client":
            assert close.name in js, f"{close!r} is not a constant of junban.js"
    assert set(CLOSE_CODES) == set(Close)


def test_hub_channels_name_close_codes_never_as_bare_numbers() -> None:
    numbers = {int(close) for close in Close}
    bare = [
        f"{path.name}:{node.lineno} {node.value}"
        for path in (ROOT / "hub" / "channels").glob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and type(node.value) is int and node.value in numbers
    ]
    assert not bare, f"use hub.errors.Close: {bare}"


def js_close_codes() -> dict[str, int]:
    """``const CLOSE_NAME = 4401;`` lines at the top of clients/js/junban.js."""
    text = (ROOT / "clients" / "js" / "junban.js").read_text(encoding="utf-8")
    head = text.split("\nexport ", 1)[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^const CLOSE_(\w+) = (\d+);", head, re.M)}


def test_junban_js_close_codes_match_the_catalogue() -> None:
    js = js_close_codes()
    assert len(js) >= 8, js
    assert {name: Close[name].value for name in js if name in Close.__members__} == js
    assert set(js) <= set(Close.__members__), set(js) - set(Close.__members__)


def test_the_docs_name_only_catalogued_close_codes() -> None:
    """Every close code the docs cite exists: any 4xxx or 10xx number in the two docs about
    the live connection, one near the word "close" elsewhere."""
    numbers = re.compile(r"(?<![\d,.])(4\d{3}|10\d\d)(?![\d,])")
    cited: list[tuple[str, int]] = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        about_closes = path.name in ("live-channels.md", "js-client.md")
        for line in path.read_text(encoding="utf-8").splitlines():
            for match in numbers.finditer(line):
                near = line[max(0, match.start() - 50) : match.end() + 20].lower()
                if about_closes or "clos" in near:
                    cited.append((path.name, int(match[1])))
    assert len(cited) > 20
    unknown = [(name, n) for name, n in cited if n not in set(Close)]
    assert not unknown, unknown
