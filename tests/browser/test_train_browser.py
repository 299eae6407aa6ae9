"""In a real browser: start a search on the Train page and watch the leaderboard fill."""
from __future__ import annotations

import re

import pytest

from tests.automl_data import binary_frame, save
from tests.browser.conftest import shot

pytestmark = pytest.mark.browser


def test_start_a_search_and_see_the_leaderboard_fill(studio_app, page, console_errors):
    from playwright.sync_api import expect

    studio_app.seed(lambda store: save(store, "clinic", binary_frame(150)))
    page.goto(studio_app.url(), wait_until="networkidle")
    page.get_by_role("link", name="Train").click()
    expect(page.get_by_role("heading", name="Train")).to_be_visible(timeout=30_000)
    page.get_by_role("combobox", name="Target: the column to predict").click()
    page.get_by_role("option", name="diagnosis", exact=True).click()
    expect(page.get_by_text("Task: binary").first).to_be_visible(timeout=30_000)
    page.get_by_text("Validation, budget and options").click()
    trials = page.get_by_label("Trial budget (0 = no limit)")
    trials.fill("4")
    trials.press("Enter")
    page.get_by_role("button", name="Start search").click()
    # the fragment refreshes on its own: no reload, no click
    expect(page.get_by_text("Leaderboard").first).to_be_visible(timeout=60_000)
    shot(page, "train-running")
    # a rerun of this test (same module store) registers clinic:2: match any version
    expect(page.get_by_text(re.compile(r"Registered model clinic:\d+"))).to_be_visible(
        timeout=90_000)
    # while the finished job reruns the page, plotly may briefly hold the old chart too
    expect(page.get_by_text("Score of each trial over time").first).to_be_visible(timeout=10_000)
    shot(page, "train-finished")
    # the history: the same search on Experiments, with its charts and the model's evaluation
    page.get_by_role("link", name="Experiments").first.click()
    expect(page.get_by_role("heading", name="Experiments")).to_be_visible(timeout=30_000)
    page.get_by_role("tab", name="Model evaluation").click()
    expect(page.get_by_text("Confusion matrix").first).to_be_visible(timeout=30_000)
    shot(page, "experiments-evaluation")
    page.get_by_role("tab", name="Charts").click()
    expect(page.get_by_text("CV score by model").first).to_be_visible(timeout=30_000)
    shot(page, "experiments-charts")
    with studio_app.store.session() as s:
        from storage import jobs as repo

        job = repo.list_jobs(session=s, kind="search")[0]
        assert repo.count_trials(session=s, job_id=job.id) >= 4
    # no network here: external fonts fail to load; anything else is a real page error
    assert not [e for e in console_errors if "Failed to load resource" not in e]
