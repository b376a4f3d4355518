"""The browser tier: the real `collbot web` server on a free loopback port, driven by Debian's
headless Chromium through Playwright (no browser download: /usr/bin/chromium)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx
import pytest

from bot.store.repo import Store, open_store
from tests.conftest import _free_port
from tests.sandboxes import isolate_worker
from tests.webutil import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"

isolate_worker()  # under pytest-xdist: this worker's own sandbox and ports, before any settings load


@dataclass
class DeskServer:
    url: str
    env: dict[str, str]
    cwd: Path
    database: str

    def collbot(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bot", *args], cwd=self.cwd, env=self.env, input=stdin,
                              capture_output=True, text=True, timeout=60, check=False)

    def store(self) -> Store:
        return open_store(self.database)


@pytest.fixture
def desk_server(tmp_path: Path) -> Iterator[DeskServer]:
    with serve_desk(tmp_path) as server:
        yield server


@contextlib.contextmanager
def serve_desk(tmp_path: Path, *, keep_env: tuple[str, ...] = (), extra_env: dict[str, str] | None = None,
               ) -> Iterator[DeskServer]:
    """`collbot web` on a free port with its own database; ``keep_env``: COLLBOT__ variables of this
    process it keeps (e.g. a sandbox's AMI port), ``extra_env``: more settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COLLBOT__") or k.startswith(keep_env)}
    env.update(extra_env or {})
    database = f"sqlite:///{tmp_path / 'desk.db'}"
    env.update({"COLLBOT__DATABASE__URL": database, "COLLBOT__LOG__FILE": str(tmp_path / "collbot.log"),
                "COLLBOT__WEB__SECRET_KEY_FILE": str(tmp_path / "web.key"),
                "COLLBOT__WEB__DISCONNECT_GRACE_S": "2"})
    port = _free_port()
    server = DeskServer(url=f"http://127.0.0.1:{port}", env=env, cwd=tmp_path, database=database)
    for name, role in (("ann", "agent"), ("bob", "agent"), ("sue", "supervisor")):
        added = server.collbot("web", "user", "add", name, "--role", role, stdin=PASSWORD + "\n")
        assert added.returncode == 0, added.stderr
    process = subprocess.Popen([sys.executable, "-m", "bot", "web", "--port", str(port)], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read() if process.stdout else ""
                pytest.fail(f"collbot web did not start: {output[-2000:]}")
            time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()


# Module scope: Playwright's sync API keeps an event loop running while it lives, which would
# break asyncio tests that run after it in the same session.
@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: apt-get install chromium (make setup installs it)")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        launched.close()


@pytest.fixture
def shots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
