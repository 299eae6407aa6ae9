"""In a real browser: upload a CSV on the Datasets page and see its profile.

The file is the hostile one (HTML and <script> in headers and cells): the page
must show it as text and no script may run.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import shot

pytestmark = pytest.mark.browser
CASES = Path(__file__).resolve().parents[1] / "fixtures" / "input_cases"


def test_upload_a_csv_and_see_its_profile(studio_app, page, console_errors, dialogs):
    page.goto(studio_app.url())  # Home first: app.py sets up the navigation
    expect(page.get_by_role("heading", name="Studio")).to_be_visible()
    page.goto(studio_app.url("data"))
    expect(page.get_by_role("heading", name="Datasets")).to_be_visible()
    expect(page.get_by_text("No datasets yet")).to_be_visible()

    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(
        str(CASES / "31_html_script.csv"))
    name = page.get_by_role("textbox", name="Dataset name")
    expect(name).to_have_value("31_html_script")
    name.fill("hostile")
    name.press("Enter")
    page.get_by_role("button", name="Import", exact=True).click()

    expect(page.get_by_role("tab", name="Overview")).to_be_visible(timeout=60_000)
    metrics = page.locator('[data-testid="stMetric"]')
    expect(metrics.filter(has=page.get_by_text("Rows", exact=True))).to_contain_text("2")
    expect(metrics.filter(has=page.get_by_text("Columns", exact=True))).to_contain_text("3")
    shot(page, "data-overview")

    page.get_by_role("tab", name="Columns").click()
    expect(page.get_by_text("Look at a column")).to_be_visible()
    # The column list is a data grid (canvas); the chosen column's reason is plain text.
    expect(page.get_by_text("Why categorical:").first).to_be_visible()
    shot(page, "data-columns")

    page.get_by_role("tab", name="Target").click()
    expect(page.get_by_text("Pick the column you want to predict")).to_be_visible()

    assert dialogs == [], f"a script from the file ran: {dialogs}"
    assert page.locator("script", has_text="alert").count() == 0
    assert page.locator("img[onerror]").count() == 0
    assert not [e for e in console_errors if "alert" in e or "onerror" in e]

    with studio_app.store.session() as session:
        from storage.datasets import get_dataset_version

        stored = get_dataset_version(session=session, name="hostile")
    assert stored is not None and stored.rows == 2 and stored.profile_sha
