"""In a real browser: simulate drifted traffic from the Monitor page (through the live
prediction service) and see the drift chart, the alert, and acknowledge it."""
from __future__ import annotations

import pytest

from tests.browser.conftest import shot, start_studio_app
from tests.monitor_support import register_monitored_model
from tests.service_fixtures import ServiceProcess

pytestmark = pytest.mark.browser


def test_simulated_drift_shows_the_chart_and_an_alert(tmp_path, page, console_errors):
    from playwright.sync_api import expect

    svc = ServiceProcess.start(tmp_path / "home")
    app = None
    try:
        register_monitored_model(svc.store, n=800)
        svc.wait_ready("churn")
        app = start_studio_app(svc.home, env={"STUDIO_SERVICE_PORT": str(svc.port)})
        page.goto(app.url(), wait_until="networkidle")
        page.get_by_role("link", name="Monitor").click()
        expect(page.get_by_role("heading", name="Monitor")).to_be_visible()

        page.get_by_role("button", name="Simulate traffic").click()
        page.get_by_label("Rows").fill("400")
        page.get_by_label("Rows").press("Enter")
        page.get_by_role("combobox", name="Shift one column").click()
        page.get_by_role("option", name="num_0").click()
        page.get_by_role("button", name="Send").click()

        # a worker sends the traffic through the service, then checks; the page follows
        expect(page.get_by_text("open alert(s) for this endpoint")).to_be_visible(timeout=90_000)
        page.keyboard.press("Escape")  # close the popover
        titles = page.locator(".js-plotly-plot text.gtitle")
        expect(titles.filter(has_text="Drift score by feature")).to_be_visible()
        shot(page, "monitor-drift")

        page.get_by_role("tab", name="Drift over time").click()
        expect(titles.filter(has_text="Drift score by check")).to_be_visible()
        shot(page, "monitor-drift-over-time")

        page.get_by_role("tab", name="Alerts").click()
        expect(page.get_by_text("Drift on endpoint churn: num_0").first).to_be_visible()
        page.get_by_role("button", name="Acknowledge").first.click()
        page.get_by_role("tab", name="Alerts").click()
        expect(page.get_by_text("acknowledged by ui").first).to_be_visible(timeout=30_000)
        shot(page, "monitor-acknowledged")
        # no script errors (resource loads from the internet fail in this sandbox)
        assert not [e for e in console_errors if "Failed to load resource" not in e]
    except Exception:
        shot(page, "monitor-failure")  # before the servers stop
        raise
    finally:
        if app is not None:
            app.stop()
        svc.stop()
