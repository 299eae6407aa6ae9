"""In a real browser: publish a model version from the Models page, then get a prediction
from the Endpoints page's try-it form, answered by the live service."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.model_factory import register_test_model
from tests.service_fixtures import ServiceProcess, free_port

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _start_ui(home: Path, service_port: int) -> tuple[subprocess.Popen, str]:
    """The app on a free loopback port (the shared starter in tests/browser/conftest.py)."""
    from tests.browser.conftest import start_studio_app

    app = start_studio_app(home, env={"STUDIO_SERVICE_PORT": str(service_port)})
    return app.proc, app.base


def test_publish_from_the_ui_and_predict_from_the_try_it_form(tmp_path, browser):
    from playwright.sync_api import expect

    svc = ServiceProcess.start(tmp_path / "home")
    ui = None
    try:
        register_test_model(svc.store, name="churn", algorithm="xgboost", n=200)
        ui, url = _start_ui(svc.home, svc.port)
        if True:  # the session's Chromium (tests/browser/conftest.py)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{url}/models", wait_until="networkidle")
            expect(page.get_by_role("heading", name="Models")).to_be_visible(timeout=30_000)
            name = page.get_by_role("textbox", name="Endpoint name")
            name.fill("churn-demo")
            name.press("Enter")
            page.get_by_role("button", name="Publish").click()
            expect(page.get_by_text("Endpoint churn-demo now serves churn:1")).to_be_visible(
                timeout=30_000)
            page.screenshot(path=str(tmp_path / "published.png"), full_page=True)
            svc.wait_ready("churn-demo", "churn:1")

            page.goto(f"{url}/endpoints", wait_until="networkidle")
            expect(page.get_by_text("Prediction service is up")).to_be_visible(timeout=30_000)
            page.get_by_role("button", name="Predict").click()
            expect(page.get_by_text("Class probabilities")).to_be_visible(timeout=30_000)
            expect(page.get_by_text("request id")).to_be_visible()
            page.get_by_text("request id").scroll_into_view_if_needed()
            page.screenshot(path=str(tmp_path / "try-it.png"), full_page=True)
            page.close()
    finally:
        if ui is not None:
            ui.terminate()
            ui.wait(timeout=15)
        svc.stop()
    with svc.store.session() as session:
        from storage import serving as repo

        logged = repo.list_prediction_logs(session=session, endpoint="churn-demo")
    assert logged and logged[0].status == 200
