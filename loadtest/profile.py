"""Sampling the hub with py-spy during a run, and the hot spots of its samples."""

from __future__ import annotations

import asyncio
import shutil
import sys
import zlib
from collections import Counter
from html import escape
from pathlib import Path
from typing import Any

RATE_HZ = 100


def py_spy_binary() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise RuntimeError("py-spy not found: pip install py-spy (needs ptrace rights)")
    return found


async def start_py_spy(
    pid: int, seconds: float, out: Path, nonblocking: bool = True
) -> asyncio.subprocess.Process:
    """py-spy record (raw collapsed stacks) of ``pid`` for ``seconds``. Non-blocking (the
    default) does not pause the hub but may record torn stacks; blocking pauses it for each
    sample (more exact stacks, a little slower hub)."""
    command = [
        py_spy_binary(),
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(max(1, round(seconds))),
        "--rate",
        str(RATE_HZ),
        "--format",
        "raw",
        "--output",
        str(out),
        *(["--nonblocking"] if nonblocking else []),
    ]
    return await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )


async def finish_py_spy(proc: asyncio.subprocess.Process, out: Path) -> str:
    """The collapsed stacks; a flame graph of them is kept next to ``out`` (``.svg``)."""
    _, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    if proc.returncode != 0 or not out.exists():
        raise RuntimeError(f"py-spy failed ({proc.returncode}): {err.decode()[-500:]}")
    collapsed = out.read_text()
    out.with_suffix(".svg").write_text(flame_svg(collapsed, f"hub under py-spy: {out.name}"))
    return collapsed


def flame_svg(collapsed: str, title: str, width: int = 1200, row: int = 16) -> str:
    """A flame graph (SVG, hover a frame for its name and share) of collapsed stacks
    (``frame;frame;... count`` lines, py-spy's ``raw`` format): roots at the bottom."""
    tree: dict[str, Any] = {"n": 0, "kids": {}}
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        node = tree
        node["n"] += int(count_text)
        for frame in stack.split(";"):
            node = node["kids"].setdefault(frame, {"n": 0, "kids": {}})
            node["n"] += int(count_text)
    total = max(tree["n"], 1)
    boxes: list[tuple[int, float, float, str, int]] = []

    def walk(node: dict[str, Any], depth: int, x: float) -> None:
        for name, kid in sorted(node["kids"].items()):
            w = kid["n"] / total * width
            if w >= 0.3:
                boxes.append((depth, x, w, name, kid["n"]))
                walk(kid, depth + 1, x)
            x += w

    walk(tree, 0, 0.0)
    height = (max((b[0] for b in boxes), default=0) + 3) * row
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'font-family="monospace" font-size="11">',
        f'<text x="4" y="12">{escape(title)} ({total} samples)</text>',
    ]
    for depth, x, w, name, n in boxes:
        y = height - (depth + 1) * row
        hue = 10 + zlib.crc32(name.encode()) % 50
        label = escape(f"{name} ({100 * n / total:.1f} %)")
        out.append(
            f'<g><title>{label}</title><rect x="{x:.1f}" y="{y}" width="{w:.1f}" '
            f'height="{row - 1}" fill="hsl({hue},85%,60%)"/>'
        )
        if w > 40:
            text = escape(name[: int(w / 7)])
            out.append(f'<text x="{x + 2:.1f}" y="{y + row - 4}">{text}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _frame_name(frame: str) -> tuple[str, str]:
    """'func (starlette/routing.py:12)' -> ('func (starlette/routing.py)', 'starlette')."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    parts = Path(path).parts
    package = parts[0] if len(parts) > 1 else (path.removesuffix(".py") or "?")
    return f"{name} ({path})", package


def hot_spots(collapsed: str, nonblocking: bool, top: int = 20) -> dict[str, Any]:
    """Shares of the samples: self time by function and by package, and the inclusive time
    of the hub's own functions. (uvloop runs each task without Python frames above it, so
    stacks start at the task's coroutine: inclusive time is only meaningful inside hub/.)"""
    own: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame_name(f) for f in stack.split(";") if f]
        if not frames:
            continue
        total += count
        own[frames[-1][0]] += count
        packages[frames[-1][1]] += count
        for name in {name for name, package in frames if package == "hub"}:
            inclusive[name] += count

    def share(counter: Counter[str], n: int = top) -> list[tuple[str, float]]:
        return [(name, round(100 * k / max(total, 1), 1)) for name, k in counter.most_common(n)]

    return {
        "samples": total,
        "rate_hz": RATE_HZ,
        "nonblocking": nonblocking,
        "self": share(own),
        "self_by_package": share(packages, 12),
        "hub_inclusive": share(inclusive),
    }
