"""The package outside a checkout: the wheel built from this tree, installed into an empty
virtualenv, runs ``junban serve --demo`` and serves every page; one version everywhere; the
JS client's npm package holds the client and its types, nothing else."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest

import hub
from tests.conftest import free_port, short_tempdir

ROOT = Path(__file__).resolve().parents[1]
CLIENTS = ROOT / "clients" / "js"
# what a clean clone has, less what builds and runs leave behind (.gitignore)
NOT_SOURCE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "node_modules",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".junban",
    ".*_cache",
    ".hypothesis",
    ".schemathesis",
    "test-artifacts",
    "results",
)
# the files /static and the pages need, relative to clients/js (the wheel's hub/clients)
SERVED_CLIENT_FILES = sorted(
    p.relative_to(CLIENTS).as_posix()
    for p in [CLIENTS / "junban.js", CLIENTS / "widget.js", *(CLIENTS / "pages").iterdir()]
)
ASSET_REF = re.compile(r"""(?:src|href)="(/static/[^"]+)"|(?:from|import)\s*\(?\s*"([^"]+)\"""")
CONTENT_TYPES = {
    ".html": ("text/html",),
    ".js": ("text/javascript", "application/javascript"),
    ".css": ("text/css",),
    ".svg": ("image/svg+xml",),
}


@dataclass(frozen=True)
class Installed:
    """A fresh virtualenv with only the built wheel installed (its dependencies are borrowed
    from this environment through a .pth file: no network, and no checkout on the path)."""

    wheel: Path
    venv: Path
    workdir: Path  # an empty cwd, so nothing of the checkout is importable by accident

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)

    def env(self, **extra: str) -> dict[str, str]:
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("JUNBAN_", "PYTHON"))}
        return {**keep, "PYTHONNOUSERSITE": "1", **extra}

    def run(self, *command: str) -> str:
        done = subprocess.run(
            command, cwd=self.workdir, env=self.env(), capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return done.stdout


def pip(*args: str) -> None:
    """This environment's pip (``--python`` points it at another one)."""
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}{done.stderr}"


def build_wheel(into: Path) -> Path:
    """``pip wheel`` of a clean copy of this tree, offline (no build isolation)."""
    import setuptools

    if tuple(int(n) for n in setuptools.__version__.split(".")[:2]) < (77, 0):
        pytest.fail("setuptools>=77 is needed: run scripts/test (it installs the test extra)")
    source, dist = into / "src", into / "dist"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE, symlinks=True)
    offline = ("--no-deps", "--no-build-isolation", "--no-index", "-q")
    pip("wheel", *offline, "-w", str(dist), str(source))
    (wheel,) = dist.glob("junban-*.whl")
    return wheel


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    base = tmp_path_factory.mktemp("package")
    wheel = build_wheel(base)
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(subprocess.check_output([python, "-c", purelib], text=True).strip())
    # dependencies: this environment's site-packages, after the venv's own (a plain path
    # entry: its .pth files, the editable checkout's among them, are not run)
    (site / "_junban_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    pip("--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel))
    workdir = base / "cwd"
    workdir.mkdir()
    yield Installed(wheel, venv, workdir)


@pytest.mark.slow
def test_wheel_ships_the_code_pages_and_license_but_no_client_tests(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "hub").rglob("*.py")}
    assert modules - names == set(), "hub modules missing from the wheel (pyproject packages)"
    shipped = {n for n in names if n.startswith("hub/clients/")}
    assert shipped == {f"hub/clients/{name}" for name in SERVED_CLIENT_FILES}
    assert {"hub/queue/lua/append.lua", "hub/lua/gcra.lua"} <= names
    dist_info = f"junban-{hub.__version__}.dist-info"
    assert f"{dist_info}/licenses/LICENSE" in names
    metadata = zipfile.ZipFile(installed.wheel).read(f"{dist_info}/METADATA").decode()
    assert f"\nVersion: {hub.__version__}\n" in metadata
    assert "\nLicense-Expression: Apache-2.0\n" in metadata


@pytest.mark.slow
def test_installed_package_has_version_and_entry_points(installed: Installed) -> None:
    where = installed.run(
        installed.bin("python"), "-c", "import hub, hub.app; print(hub.__file__, hub.__version__)"
    )
    path, version = where.split()
    assert Path(path).is_relative_to(installed.venv), f"imported from the checkout: {path}"
    assert version == hub.__version__
    expected = f"junban {hub.__version__}"
    assert installed.run(installed.bin("junban"), "--version").strip() == expected
    assert installed.run(installed.bin("python"), "-m", "hub", "--version").strip() == expected


def page_urls(base: str) -> list[str]:
    """Every page of the demo facility 1234 (a real ticket for the ticket and print pages)."""
    ticket = httpx.post(f"{base}/v1/queues/1234-01/tickets", timeout=10)
    assert ticket.status_code == 201, ticket.text
    ticket_id = ticket.json()["ticket"]["id"]
    return [
        f"{base}/q/1234-01",
        f"{base}/q/1234-01/t/{ticket_id}",
        f"{base}/print/1234-01/{ticket_id}",
        f"{base}/monitor/1234",
        f"{base}/console/1234",
        f"{base}/console/1234/settings",
        f"{base}/console/1234/staff",
        f"{base}/console/1234/analytics",
        f"{base}/console/1234/bookings",
        f"{base}/kiosk/1234",
        f"{base}/poster/1234",
    ]


def assert_type(response: httpx.Response) -> None:
    suffix = Path(response.url.path).suffix or ".html"
    media_type = response.headers["content-type"].split(";")[0].strip()
    assert media_type in CONTENT_TYPES[suffix], (str(response.url), media_type)


def crawl(client: httpx.Client, urls: list[str]) -> set[str]:
    """GET each page and, recursively, every /static file a page or module refers to;
    each must answer 200 with its content type. Returns the asset URLs fetched."""
    seen: set[str] = set()
    todo = list(urls)
    while todo:
        url = todo.pop()
        if url in seen:
            continue
        seen.add(url)
        r = client.get(url)
        assert r.status_code == 200, (url, r.status_code)
        assert_type(r)
        for match in ASSET_REF.finditer(r.text):
            ref = match.group(1) or match.group(2)
            if ref.startswith(("/", "./", "../")):
                todo.append(urljoin(url, ref))
    return seen - set(urls)


@pytest.mark.slow
def test_installed_wheel_serves_every_page(installed: Installed) -> None:
    """``junban serve --demo`` from the empty venv (embedded Valkey in a temp data dir)."""
    data_dir = short_tempdir()
    port = free_port()
    log = data_dir / "hub.log"
    env = installed.env(JUNBAN_DATA_DIR=str(data_dir), JUNBAN_SERVICE_HOURS="00:00-24:00")
    command = [installed.bin("junban"), "serve", "--demo", "--host", "127.0.0.1"]
    command += ["--port", str(port)]
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, cwd=installed.workdir, env=env, stdout=out, stderr=out)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(proc, base, log)
        with httpx.Client(timeout=10) as client:
            assets = crawl(client, [*page_urls(base), f"{base}/widget.js"])
            for must in ("/static/junban.js", "/static/pages/base.css", "/static/pages/i18n.js"):
                assert base + must in assets, must
            missing = client.get(f"{base}/q/9999-99")
            assert missing.status_code == 404 and "text/html" in missing.headers["content-type"]
            assert client.get(f"{base}/static/test/client.test.mjs").status_code == 404
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
        shutil.rmtree(data_dir, ignore_errors=True)
    assert code == 0, log.read_text()[-3000:] if log.exists() else code


def wait_healthy(proc: subprocess.Popen[bytes], base: str, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"junban serve exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(base + "/healthz", timeout=0.5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"junban serve did not start:\n{log.read_text()[-3000:]}")


def test_npm_package_version_is_the_python_version() -> None:
    package = json.loads((CLIENTS / "package.json").read_text())
    assert package["version"] == hub.__version__


def test_npm_package_holds_only_the_client_and_its_types() -> None:
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("no npm: scripts/test installs Node.js and npm")
    packed = subprocess.run(
        [npm, "pack", "--dry-run", "--json", "--ignore-scripts"],
        cwd=CLIENTS,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    (summary,) = json.loads(packed.stdout)
    assert summary["name"] == "@junban/client"
    files = {f["path"] for f in summary["files"]}
    assert files == {"package.json", "README.md", "junban.js", "junban.d.ts"}


def test_every_package_of_hub_is_listed_for_the_wheel() -> None:
    """A new subpackage (``hub/<module>/``) must be named in pyproject.toml, or the wheel
    would leave it out: this says so at once, without building anything."""
    import tomllib

    root = Path(__file__).resolve().parents[1]
    listed = set(
        tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(path.parent.relative_to(root).parts)
        for path in (root / "hub").rglob("__init__.py")
    }
    assert found - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
