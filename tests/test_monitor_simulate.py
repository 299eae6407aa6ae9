"""Simulated traffic through the real prediction service (uvicorn on a free loopback
port), and the monitoring scheduler running inside that service."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from studio.monitor import alerts, reports
from tests.conftest import ROOT
from tests.monitor_support import register_monitored_model


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def live_service(studio_home, store):
    port = _free_port()
    env = {**os.environ, "STUDIO_HOME": str(studio_home), "STUDIO_SERVICE_PORT": str(port),
           "STUDIO_MONITOR_INTERVAL_S": "5", "STUDIO_LOG_FLUSH_S": "0.2"}
    log = open(studio_home / "service-test.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "studio", "serve", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/ping", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, (studio_home / "service-test.log").read_text()
            assert time.monotonic() < deadline, "the service did not start"
            time.sleep(0.2)
        yield {"url": url, "port": port, "env": env}
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_simulate_with_drift_shows_drift_and_an_alert_and_the_scheduler_runs(
        store, cli_proc, live_service):
    register_monitored_model(store, n=800)
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
    assert snap["traffic"]["totals"]["requests"] == 400
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

