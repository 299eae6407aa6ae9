"""Reusable fixtures for end-to-end tests in headless Debian Chromium.

Use them from any test in ``tests/browser/`` (mark the module with
``pytestmark = pytest.mark.browser``)::

    def test_something(studio_app, page, console_errors):
        studio_app.seed(lambda store: ...)          # optional: put data in its store first
        page.goto(studio_app.url())                 # start at Home (see the note below)
        expect(page.get_by_role("heading", name="Studio")).to_be_visible()
        page.goto(studio_app.url("data"))           # then any page by its url path
        ...
        shot(page, "after-upload")                  # test-artifacts/<name>.png
        assert console_errors == []

Note: on a freshly started server, the first session that opens a deep link such as
``/data`` gets Streamlit's old directory-based navigation (``app.py`` has not run yet, so
``st.navigation`` is unknown). Open ``studio_app.url()`` first and wait for it, then go to
the page you want.

Fixtures and helpers
- ``free_port()``: a free TCP port on 127.0.0.1.
- ``start_studio_app(home, env=None)`` → :class:`StudioApp`: ``streamlit run app.py`` on a
  free loopback port with ``STUDIO_HOME=home``; waits for ``/_stcore/health``; ``.stop()``.
  The server's output goes to ``home/ui.log`` (shown if it fails to start).
- ``studio_app`` (module scope): a running app with its own empty store under a temp folder,
  shared by the tests of one module and stopped after them. ``studio_app.store`` and
  ``studio_app.settings`` reach that store; ``studio_app.url(path)`` builds page URLs.
- ``browser`` (session scope): Chromium from ``/usr/bin/chromium`` with the flags this
  machine needs (Playwright's own browser download is not used).
- ``page`` (per test): a fresh context and page (1400×1000). On teardown a full-page
  screenshot goes to ``test-artifacts/<test name>.png``; look at it.
- ``console_errors`` (per test): browser console errors and uncaught page errors seen by
  ``page``, as strings (assert on it where it matters).
- ``dialogs`` (per test): messages of any alert/confirm/prompt the page opened (each is
  dismissed); a test for script injection asserts it stays empty.
- ``shot(page, name)``: a screenshot to ``test-artifacts/<name>.png``; returns the path.
"""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class StudioApp:
    """A ``streamlit run app.py`` process serving one store."""

    def __init__(self, home: Path, port: int, proc: subprocess.Popen):
        self.home, self.port, self.proc = Path(home), port, proc
        self.base = f"http://127.0.0.1:{port}"

    def url(self, path: str = "") -> str:
        return f"{self.base}/{path.lstrip('/')}"

    @property
    def settings(self):
        from studio.settings import get_settings

        return get_settings(home=self.home)

    @property
    def store(self):
        from studio import open_store

        return open_store(self.settings)

    def seed(self, fn):
        """Call ``fn(store)`` against the app's store (before opening pages)."""
        return fn(self.store)

    def log(self) -> str:
        path = self.home / "ui.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def start_studio_app(home: Path, env: dict | None = None, timeout: float = 90) -> StudioApp:
    """Start the UI on a free loopback port with its store in ``home``."""
    import httpx

    from studio.launcher import streamlit_command

    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    child_env = {**os.environ, "STUDIO_HOME": str(home), "PYTHONPATH": str(ROOT), **(env or {})}
    log = open(home / "ui.log", "wb")
    proc = subprocess.Popen(
        streamlit_command(port, "--server.headless", "true", "--server.fileWatcherType", "none",
                          "--browser.gatherUsageStats", "false"),
        cwd=ROOT, env=child_env, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    app = StudioApp(home, port, proc)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}:\n{app.log()}")
        try:
            if httpx.get(app.url("_stcore/health"), timeout=1).status_code == 200:
                return app
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    app.stop()
    raise RuntimeError(f"streamlit did not answer within {timeout:.0f} s:\n{app.log()}")


@pytest.fixture(scope="module")
def studio_app(tmp_path_factory):
    app = start_studio_app(tmp_path_factory.mktemp("studio-app") / "home")
    yield app
    app.stop()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()
    pw.stop()


def shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)[:120]}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def console_errors() -> list[str]:
    return []


@pytest.fixture
def dialogs() -> list[str]:
    return []


@pytest.fixture
def page(browser, request, console_errors, dialogs):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    pg.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
    pg.on("pageerror", lambda exc: console_errors.append(f"page error: {exc}"))

    def on_dialog(dialog):
        dialogs.append(dialog.message)
        dialog.dismiss()

    pg.on("dialog", on_dialog)
    yield pg
    try:
        shot(pg, request.node.name)
    except Exception:  # noqa: BLE001 - a failed screenshot must not hide the test's result
        pass
    context.close()


__all__ = ["StudioApp", "start_studio_app", "free_port", "shot", "CHROMIUM_ARGS"]
