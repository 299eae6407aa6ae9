"""Simulated traffic through the real prediction service (uvicorn on a free loopback
port), and the monitoring scheduler running inside that service."""
from __future__ import annotations

import os
import time

import pytest

from studio.monitor import alerts, reports
from studio.monitor.check import run_check
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



# --- a service that requires API keys -------------------------------------------------

@pytest.fixture
def keyed_service(studio_home, store):
    """The real service requiring API keys, on the test's own store."""
    svc = ServiceProcess.start(studio_home, STUDIO_REQUIRE_API_KEY="true")
    yield svc
    svc.stop()


def _sim_settings(port: int):
    from studio.settings import get_settings

    # the simulator's own settings do not say keys are required (loopback): it finds out
    return get_settings(service_port=port)


def test_simulate_creates_a_temporary_key_when_the_service_requires_one_and_revokes_it(
        store, keyed_service):
    from studio.endpoints import create_api_key, list_api_keys
    from studio.monitor.simulate import SIMULATOR_KEY_NAME, simulate

    register_monitored_model(store, n=300)
    _, token = create_api_key(store, "ops")   # the service must know one key to answer
    keyed_service.wait_ready("churn", headers={"X-API-Key": token})
    assert keyed_service.get("/endpoints/churn").status_code == 401

    result = simulate(_sim_settings(keyed_service.port), store, "churn", rows=60, seed=3)
    assert result["answered"] == 60 and result["logged"] == 60 and result["errors"] == {}
    assert result["feedback"] > 0 and result["api_key"] == "temporary (revoked)"
    keys = {k.name: k for k in list_api_keys(store)}
    assert keys[SIMULATOR_KEY_NAME].revoked_at is not None  # not left active
    assert keys["ops"].revoked_at is None
    # only the simulated requests reached the log: no refused (401) attempt among them
    check = run_check(store, "churn")
    totals = reports.load_snapshot(store, check.report)["traffic"]["totals"]
    assert totals["predictions"] == 60 and totals["requests"] == 2
    assert totals["errors_4xx"] == 0


def test_simulate_cli_with_keys_required_and_a_wrong_key(store, cli_proc, keyed_service):
    from studio.endpoints import list_api_keys

    register_monitored_model(store, n=300)
    env = {"STUDIO_SERVICE_PORT": str(keyed_service.port), "STUDIO_REQUIRE_API_KEY": "true"}
    ok = cli_proc("simulate", "churn", "--rows", "20", "--no-check", "--seed", "1", env=env,
                  timeout=120)
    assert ok.code == 0, ok.err
    assert "sent 20 rows" in ok.out and "temporary key was used and is now revoked" in ok.out
    assert [k.active for k in list_api_keys(store)] == [False]

    bad = cli_proc("simulate", "churn", "--rows", "20", "--no-check", "--api-key", "sk_nope",
                   env=env, timeout=120)
    assert bad.code == 2 and "Traceback" not in bad.err
    assert "refused the API key given" in bad.err and "apikey list" in bad.err
    assert [k.active for k in list_api_keys(store)] == [False]  # nothing minted for a given key


def test_simulate_says_what_to_do_when_the_service_uses_another_store(
        tmp_path, store, keyed_service):
    from studio.endpoints import create_api_key, list_api_keys
    from studio import open_store
    from studio.errors import InvalidInput
    from studio.monitor.simulate import simulate
    from studio.settings import get_settings

    register_monitored_model(store, n=300)
    _, token = create_api_key(store, "ops")
    keyed_service.wait_ready("churn", headers={"X-API-Key": token})  # the service polls
    # this studio's store is another one: the key it creates means nothing to the service
    # (a SQLite file of its own even in the PostgreSQL pass, where the environment would
    # otherwise point it at the service's database)
    other = get_settings(home=tmp_path / "other-home", service_port=keyed_service.port,
                         database_url=None)
    other_store = open_store(other)
    register_monitored_model(other_store, n=300)
    with pytest.raises(InvalidInput) as caught:
        simulate(other, other_store, "churn", rows=10, key_wait_s=1.0)
    message = str(caught.value)
    assert "did not accept the temporary key" in message and "another store" in message
    assert "python -m studio serve" in message
    assert [k.active for k in list_api_keys(other_store)] == [False]
