"""Browser tests: Debian's Chromium, driven by Playwright, on real `omnibot sandbox` and `omnibot serve` processes.

Chromium comes from Debian, never from a browser download: when ``/usr/bin/chromium`` is missing,
the setup installs it with ``apt-get install -y chromium`` (as root). Where that cannot be done the
tests are skipped locally, and fail on CI (``CI=true``), where a silent skip would hide them.

Screenshots go to ``test-output/`` (not committed). ``OMNIBOT_UPDATE_SCREENSHOTS=1`` also copies the
README's two into ``docs/screenshots/``::

    OMNIBOT_UPDATE_SCREENSHOTS=1 .venv/bin/python -m pytest tests/browser
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from werkzeug.security import generate_password_hash

from omnibot.entrypoints.dev import sandbox_environment
from tests.e2e.conftest import API_KEY, Stack, _omnibot, free_port, wait_until_up

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output"
PUBLISHED = ROOT / "docs" / "screenshots"
UPDATE_SCREENSHOTS = "OMNIBOT_UPDATE_SCREENSHOTS"
PASSWORD = "browser-operator-password"
_phones = itertools.count(1)


def unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (browser tests must run on CI)", pytrace=False)
    pytest.skip(reason)


def install_chromium() -> str | None:
    """Debian's Chromium at /usr/bin/chromium, installed if missing; a reason when that cannot be."""
    if CHROMIUM.exists():
        return None
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        return f"{CHROMIUM} is missing and cannot be installed here (needs root and apt-get: apt-get install chromium)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "chromium"]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True)
        done = subprocess.run(install, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            return f"apt-get install chromium failed: {done.stderr.strip()[-500:]}"
    return None if CHROMIUM.exists() else f"apt-get installed chromium, but {CHROMIUM} is still missing"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium per test module (module scope: Playwright's event loop ends with the module)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed (pip install -e '.[dev]')")
    problem = install_chromium()
    if problem:
        unavailable(problem)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1440, "height": 960}, locale="en-GB", timezone_id="UTC")
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@dataclass
class Servers:
    """A real sandbox and a real API on SQLite, the sandbox's bots pointed at the API (one pair for every test)."""

    stack: Stack
    api_url: str
    sandbox_url: str

    def new_phone(self) -> str:
        return f"+38067{next(_phones) + 4_000_000:07d}"


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    workdir = tmp_path_factory.mktemp("browser")
    sandbox_port, api_port = free_port(), free_port()
    env = {**os.environ, **sandbox_environment(sandbox_port),
           "DATABASE_URL": f"sqlite:///{workdir / 'omnibot.sqlite3'}", "INTERNAL_API_KEY": API_KEY,
           "ADMIN_PASSWORD_HASH": generate_password_hash(PASSWORD), "SECRET_KEY": "browser-tests-session-key"}
    sandbox_log, api_log = workdir / "sandbox.log", workdir / "api.log"
    subprocess.run([sys.executable, "-m", "omnibot", "db", "upgrade"], env=env, check=True, cwd=workdir,
                   capture_output=True)
    processes = [_omnibot(["sandbox", "--port", str(sandbox_port)], env, sandbox_log),
                 _omnibot(["serve", "--host", "127.0.0.1", "--port", str(api_port)], env, api_log)]
    api_url, sandbox_url = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{sandbox_port}"
    try:
        wait_until_up(f"{sandbox_url}/sandbox/customers", processes[0], sandbox_log)
        wait_until_up(f"{api_url}/healthz", processes[1], api_log)
        subprocess.run([sys.executable, "-m", "omnibot", "set-webhooks", "--url", api_url], env=env, check=True,
                       cwd=workdir, capture_output=True)
        with httpx.Client(base_url=api_url, timeout=10) as api, \
                httpx.Client(base_url=sandbox_url, timeout=10) as sandbox:
            yield Servers(Stack(api, sandbox, env, [sandbox_log, api_log]), api_url, sandbox_url)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


def screenshot(page: Any, name: str, published_as: str | None = None) -> Path:
    """Save a screenshot in test-output/; with OMNIBOT_UPDATE_SCREENSHOTS=1 also as docs/screenshots/<published_as>."""
    OUTPUT.mkdir(exist_ok=True)
    path = OUTPUT / name
    page.screenshot(path=str(path), full_page=False)
    if published_as and os.environ.get(UPDATE_SCREENSHOTS) == "1":
        PUBLISHED.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, PUBLISHED / published_as)
    return path
