"""What the benchmark commands share: the parser, ``--only`` handling, overrides, the entry
point, the log line, stopping the hub and writing the results."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from loadtest.hubproc import HubProcess

P = TypeVar("P")


def new_parser(prog: str, doc: str | None) -> argparse.ArgumentParser:
    """A command's parser, its module docstring as the description (kept as written)."""
    return argparse.ArgumentParser(
        prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )


def ints(text: str) -> tuple[int, ...]:
    """``"200,500"`` -> ``(200, 500)``."""
    return tuple(int(x) for x in text.split(",") if x.strip())


def logger(tag: str) -> Callable[[str], None]:
    """A ``[tag HH:MM:SS] message`` line on stderr, flushed."""

    def log(message: str) -> None:
        print(f"[{tag} {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    return log


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


def stop_hub(
    hub: HubProcess,
    results: dict[str, Any],
    keep_data: bool,
    log: Callable[[str], None] | None = None,
) -> None:
    """Stop the hub, record how it stopped and what it logged, remove its data unless kept."""
    results["hub_stop"] = hub.stop()
    results["hub_log_warnings"] = hub.log_warnings()
    if log is not None:
        log(f"hub stopped: {results['hub_stop']}")
    if not keep_data:
        hub.remove_data()


RESULTS_DIR = Path(__file__).with_name("results")


def write_results(
    name: str,
    results: dict[str, Any],
    render: Callable[[dict[str, Any]], str],
    log: Callable[[str], None],
) -> None:
    """``results/<name>-<timestamp>.json`` and ``.md`` (also printed)."""
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    json_path = RESULTS_DIR / f"{name}-{stamp}.json"
    md_path = RESULTS_DIR / f"{name}-{stamp}.md"
    json_path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    markdown = render(results)
    md_path.write_text(markdown)
    print(markdown)
    log(f"wrote {json_path} and {md_path}")
