"""What the benchmark commands share: ``--only`` handling, overrides and the entry point."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Coroutine
from dataclasses import replace
from typing import Any, TypeVar

P = TypeVar("P")


def apply_overrides(
    parser: argparse.ArgumentParser,
    params: P,
    overrides: dict[str, Any],
    only: str | None,
    scenarios: tuple[str, ...],
) -> P:
    """``params`` with every override that was given, and ``--only`` checked."""
    if only:
        chosen = tuple(s.strip() for s in only.split(",") if s.strip())
        unknown = set(chosen) - set(scenarios)
        if unknown:
            parser.error(f"unknown scenario(s) {sorted(unknown)}; choose from {scenarios}")
        overrides = {**overrides, "only": chosen}
    return replace(params, **{k: v for k, v in overrides.items() if v is not None})  # type: ignore[type-var]


def run(
    parse_args: Callable[[list[str] | None], tuple[P, argparse.Namespace]],
    main_async: Callable[[P, bool], Coroutine[Any, Any, dict[str, Any]]],
    argv: list[str] | None = None,
) -> int:
    """Parse, run on uvloop, exit 1 when the run recorded an error."""
    import uvloop

    params, args = parse_args(argv)
    results: dict[str, Any] = uvloop.run(main_async(params, args.keep_data))
    return 0 if "error" not in results else 1
