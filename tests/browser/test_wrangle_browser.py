"""In a real browser: build a one-step recipe on the Wrangle page, preview it, apply it."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.service_fixtures import free_port

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def start_ui(home: Path) -> tuple[subprocess.Popen, str]:
    """The app on a free loopback port (the shared starter in tests/browser/conftest.py)."""
    from tests.browser.conftest import start_studio_app

    app = start_studio_app(home, env=None)
    return app.proc, app.base


def test_impute_with_preview_then_apply(store, studio_home, tmp_path, browser):
    from playwright.sync_api import expect

    from studio import datasets

    source = tmp_path / "people.csv"
    source.write_text("age,city,fare\n22,Paris,7.25\n,Rome,71.3\n35,Paris,\n58,Oslo,8.05\n"
                      ",Paris,53.1\n41,Rome,8.46\n")
    datasets.import_file(store, source, name="people")
    ui, url = start_ui(studio_home)
    try:
        if True:  # the session's Chromium (tests/browser/conftest.py)
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.goto(url, wait_until="networkidle")
            page.get_by_role("link", name="Wrangle").click()
            expect(page.get_by_role("heading", name="Wrangle")).to_be_visible(timeout=30_000)
            expect(page.get_by_text("Starts from people:1")).to_be_visible(timeout=30_000)

            page.get_by_test_id("stSelectbox").filter(has_text="Step").click()
            page.get_by_role("option", name="Fill missing values").click()
            expect(page.get_by_text("Fill with")).to_be_visible(timeout=30_000)
            page.get_by_test_id("stMultiSelect").filter(has_text="Columns").click()
            page.get_by_role("option", name="age", exact=True).click()
            page.keyboard.press("Escape")
            expect(page.get_by_text("missing values filled — age: 2")).to_be_visible(
                timeout=30_000)
            expect(page.get_by_test_id("stMetric").filter(has_text="Rows changed")) \
                .to_contain_text("2")
            page.screenshot(path=str(tmp_path / "preview.png"), full_page=True)

            page.get_by_role("button", name="Add step").click()
            expect(page.get_by_text("1. Fill missing age with the median")).to_be_visible(
                timeout=30_000)
            page.get_by_role("button", name="Apply as a new version").click()
            expect(page.get_by_text("Saved the new version people:2")).to_be_visible(
                timeout=30_000)
            expect(page.get_by_test_id("stSelectbox").filter(has_text="Version").locator("input")) \
                .to_have_value("2 · 1 step(s)", timeout=30_000)
            expect(page.get_by_text("Starts from people:2")).to_be_visible()
            page.screenshot(path=str(tmp_path / "applied.png"), full_page=True)
            page.close()
    finally:
        ui.terminate()
        ui.wait(timeout=15)
    made = datasets.resolve_version(store, "people")
    assert made.ref == "people:2" and made.recipe[0]["fill"] == {"age": 38.0}
