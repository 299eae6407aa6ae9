"""The model report opened in headless Chromium: charts draw offline, nothing in the data
runs (its column names and values hold <script> and <img onerror>)."""
from __future__ import annotations

import pytest

from tests.browser.conftest import shot
from tests.test_report import IMG, SCRIPT, _hostile_model

pytestmark = pytest.mark.browser


def test_the_report_renders_offline_and_runs_nothing_from_the_data(
        store, tmp_path, page, console_errors, dialogs):
    from playwright.sync_api import expect

    from studio.report import model_report_html

    version = _hostile_model(store)
    path = tmp_path / "report.html"
    path.write_text(model_report_html(store, version), encoding="utf-8")
    page.route("**/*", lambda route: route.abort() if not route.request.url.startswith(
        "file:") else route.continue_())        # offline: any network request would fail
    page.goto(path.as_uri())
    expect(page.locator(".js-plotly-plot")).to_have_count(5)   # matrix, ROC, PR, importance, drift
    expect(page.locator("h1")).to_have_text("Model report: hostile:1")
    expect(page.get_by_text(SCRIPT).first).to_be_visible()    # shown as text
    expect(page.get_by_role("cell", name=IMG).first).to_be_visible()
    assert page.locator("img").count() == 0
    shot(page, "report-hostile")
    assert dialogs == [] and console_errors == []
