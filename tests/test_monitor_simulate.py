"""Simulated traffic through the real prediction service (uvicorn on a free loopback
port), and the monitoring scheduler running inside that service."""
from __future__ import annotations

import os
import time

import pytest

from studio.monitor import alerts, reports
from tests.monitor_support import register_monitored_model
from tests.service_fixtures import ServiceProcess


@pytest.fixture
def live_service(studio_home, store):
    """The real service on a free loopback port, scheduling checks every 5 s."""
    svc = ServiceProcess.start(studio_home, STUDIO_MONITOR_INTERVAL_S="5")
    yield {"url": svc.url, "port": svc.port,
           "env": {**os.environ, "STUDIO_HOME": str(studio_home),
                   "STUDIO_SERVICE_PORT": str(svc.port)}, "service": svc}
    svc.stop()


def test_simulate_with_drift_shows_drift_and_an_alert_and_the_scheduler_runs(
        store, cli_proc, live_service):
    register_monitored_model(store, n=800)
    live_service["service"].wait_ready("churn")
    # the scheduler inside the service checks the endpoint on its own
    deadline = time.monotonic() + 30
    while reports.latest_report(store, "churn") is None:
        assert time.monotonic() < deadline, "the service's scheduler never checked"
        time.sleep(0.2)
    first = reports.latest_report(store, "churn")
    assert first.summary["rows"] == 0 and first.status == "ok"

    result = cli_proc("simulate", "churn", "--rows", "400", "--drift", "num_0", "--seed", "1",
                      "--json", env=live_service["env"], timeout=120)
    assert result.code == 0, result.err
    data = result.json()
    assert data["answered"] == 400 and data["logged"] == 400 and data["errors"] == {}
    assert 60 <= data["feedback"] <= 180  # ~30% of the rows got ground truth
    assert data["source"] == "baseline distributions"
    check = data["check"]
    assert "num_0" in check["drifted"] and check["status"] == "alert"
    assert any(a["rule"] == "drift" for a in check["alerts"])

    snap = reports.load_snapshot(store, reports.get_report(store, check["report_id"]))
    # 400 rows sent as requests of 50: 8 requests (one log row each), 400 predictions
    assert snap["traffic"]["totals"]["requests"] == 8
    assert snap["traffic"]["totals"]["predictions"] == 400
    assert snap["rows"]["in_window"] == 400 and snap["rows"]["sampled"] == 400
    assert snap["quality"]["labelled"] == data["feedback"]
    assert snap["quality"]["value"] is not None
    assert {f["feature"]: f["status"] for f in snap["features"]}["num_1"] == "ok"

    # the next scheduled check (every 5 s) sees the same traffic without anyone asking
    deadline = time.monotonic() + 30
    while reports.latest_report(store, "churn").id == check["report_id"]:
        assert time.monotonic() < deadline, "no scheduled check after the simulation"
        time.sleep(0.3)
    scheduled = reports.latest_report(store, "churn")
    assert scheduled.summary["rows"] == 400 and scheduled.status == "alert"
    assert scheduled.summary["suppressed"]  # the open drift alert is not raised twice
    assert len([a for a in alerts.list_alerts(store, "churn") if
                a.evidence["rule"]["kind"] == "drift"]) == 1

