"""The layers hold (docs/architecture.md): handlers in ``hub/web/`` only parse, call a use case
and render. They touch no Redis and no key names, and no handler module imports another
one; the pure rules import no adapter."""

from __future__ import annotations

import ast
import re
from pathlib import Path

HUB = Path(__file__).resolve().parents[1] / "hub"
WEB_SHARED = {
    "hub.web.routing",
    "hub.web.bodies",
    "hub.web.contract_bodies",
    "hub.web.cors",
    "hub.web.openapi",
    "hub.web.httpprotocol",
}
"""The web layer's own plumbing (the router, request bodies, CORS, OpenAPI and the HTTP
protocol with its limits), which is no handler module."""
PURE = [
    "queue/rules.py",
    "queue/evolve.py",
    "queue/model.py",
    "queue/events.py",
    "queue/transfer.py",
    "queue/schedule.py",
    "queue/profile.py",
    "queue/patient.py",
    "queue/annotate.py",
    "queue/outbox.py",
    "queue/views.py",
    "queue/calendar.py",
    "queue/estimate.py",
    "queue/placement.py",
    "booking/config.py",
    "booking/model.py",
    "booking/rules.py",
    "booking/views.py",
    "contracts/lifecycle.py",
    "contracts/terms.py",
    "contracts/model.py",
    "contracts/money.py",
    "contracts/invoice.py",
    "contracts/hours.py",
]
ADAPTERS = ("redis", "starlette", "uvicorn", "hub.web", "hub.channels", "hub.app")


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def handler_modules() -> list[Path]:
    return [
        p
        for p in sorted((HUB / "web").glob("*.py"))
        if p.name != "__init__.py" and f"hub.web.{p.stem}" not in WEB_SHARED
    ]


def test_handlers_touch_no_redis_and_no_key_names() -> None:
    for path in sorted((HUB / "web").glob("*.py")):
        names = imports(path)
        assert not {n for n in names if n == "redis" or n.startswith("redis.")}, path.name
        assert not {n for n in names if n == "hub.keys" or n.startswith("hub.keys.")}, path.name
        assert "hub.keys" not in names and "hub.keys" not in _from_hub_imports(path), path.name
        calls = re.findall(r"\bredis\.\w+\(", path.read_text())
        assert not calls, f"{path.name} calls Redis: {calls}"


def test_no_handler_module_imports_another() -> None:
    handlers = {f"hub.web.{p.stem}" for p in handler_modules()}
    for path in handler_modules():
        names = imports(path)
        own = f"hub.web.{path.stem}"
        crossing = {n for n in names for h in handlers - {own} if n == h or n.startswith(h + ".")}
        crossing |= {f"hub.web.{a}" for a in _from_web_imports(path) if f"hub.web.{a}" in handlers}
        assert not crossing, f"{path.name} imports {sorted(crossing)}"


def _from_hub_imports(path: Path) -> set[str]:
    """Modules imported as ``from hub import x``, as ``hub.x``."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == "hub":
            found |= {f"hub.{alias.name}" for alias in node.names}
    return found


def _from_web_imports(path: Path) -> set[str]:
    """Names imported as ``from hub.web import x``."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == "hub.web":
            found |= {alias.name for alias in node.names}
    return found


def test_the_pure_rules_import_no_adapter() -> None:
    for relative in PURE:
        names = imports(HUB / relative)
        bad = {n for n in names for a in ADAPTERS if n == a or n.startswith(a + ".")}
        assert not bad, f"{relative} imports {sorted(bad)}"


def test_every_benchmark_module_imports() -> None:
    """loadtest/ is outside mypy's files: an import the hub moved breaks it silently. (The
    locustfile is left out: it runs under Locust's gevent, not in a plain interpreter.)"""
    import importlib

    root = HUB.parent / "loadtest"
    for path in sorted(root.glob("*.py")):
        if path.stem not in ("__init__", "locustfile"):
            importlib.import_module(f"loadtest.{path.stem}")
