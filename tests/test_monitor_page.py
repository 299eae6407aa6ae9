"""The Monitor page (AppTest): empty states, stored reports, alerts, rules."""
from __future__ import annotations

from studio.monitor import alerts
from studio.monitor.check import run_check
from tests.conftest import page_test
from tests.monitor_support import (fresh_records, give_feedback, log_traffic,
                                   register_monitored_model)


def _texts(at) -> str:
    parts = [e.value for kind in ("markdown", "caption", "info", "error", "success", "text")
             for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


def test_no_endpoints_says_what_to_do(store):
    at = page_test("monitor").run()
    assert not at.exception
    assert "Publish a model" in at.info[0].value


def test_endpoint_without_a_check_offers_to_run_one(store):
    register_monitored_model(store, n=300)
    at = page_test("monitor").run()
    assert not at.exception
    assert "No check of endpoint churn" in at.info[0].value
    assert any(b.label == "Check now" for b in at.button)


def test_empty_window_renders_every_tab(store):
    register_monitored_model(store, n=300)
    run_check(store, "churn")  # no traffic at all
    at = page_test("monitor").run()
    assert not at.exception
    text = _texts(at)
    assert "No predictions in this window" in text and "No feedback in this window" in text
    assert at.metric[1].value == "0"


def test_drift_report_alerts_and_acknowledgement(store):
    version, pipeline, _ = register_monitored_model(store)
    records, actuals = fresh_records(300)
    ids = log_traffic(store, endpoint="churn", version=version, pipeline=pipeline,
                      records=records, seed=1)
    give_feedback(store, endpoint="churn", request_ids=ids[:100], actuals=actuals[:100])
    run_check(store, "churn")
    drifted = [dict(r, num_0=None if r["num_0"] is None else r["num_0"] + 5,
                    cat_0="<img src=x onerror=alert(1)>") for r in records]
    log_traffic(store, endpoint="churn", version=version, pipeline=pipeline, records=drifted,
                seed=2)
    run_check(store, "churn")

    at = page_test("monitor").run()
    assert not at.exception
    assert at.metric[0].value == "ALERT"
    assert at.metric[2].value.startswith("2 of 7")
    drift = at.dataframe[0].value
    assert set(drift.loc[drift["status"] == "alert", "feature"]) >= {"num_0", "cat_0"}
    assert "(prediction)" in set(drift["feature"])
    # the category name made of HTML is shown as data, never rendered
    issues = at.dataframe[1].value
    assert "<img src=x onerror=alert(1)>" in " ".join(issues["examples"])
    assert not any("<img" in m.value for m in at.markdown)
    assert len(at.get("plotly_chart")) >= 4  # scores, distribution, over time, traffic…
    assert "open alert" in at.error[0].value

    open_before = alerts.list_alerts(store, "churn", open_only=True)
    ack = [b for b in at.button if b.label == "Acknowledge"]
    assert len(ack) == len(open_before) >= 1
    ack[0].click().run()
    assert not at.exception
    assert len(alerts.list_alerts(store, "churn", open_only=True)) == len(open_before) - 1
    assert "acknowledged by ui" in _texts(at)


def test_rules_are_edited_in_the_ui_and_bad_urls_refused(store):
    register_monitored_model(store, n=300)
    run_check(store, "churn")
    at = page_test("monitor").run()
    assert not at.exception
    form_inputs = [t for t in at.text_input if t.label == "Webhook URL (optional)"]
    assert len(form_inputs) == 5
    form_inputs[0].input("ftp://example.com/hook")
    save = [b for b in at.button if b.label == "Save"]
    save[0].click().run()
    assert any("http:// or https://" in e.value for e in at.error)
    assert alerts.list_rules(store, "churn")[0].webhook_url is None

    at = page_test("monitor").run()
    [t for t in at.text_input if t.label == "Webhook URL (optional)"][0].input(
        "https://hooks.example.com/studio")
    [n for n in at.number_input if n.label == "top_k"][0].set_value(3)
    [b for b in at.button if b.label == "Save"][0].click().run()
    assert not at.exception
    rule = alerts.list_rules(store, "churn")[0]
    assert rule.webhook_url == "https://hooks.example.com/studio" and rule.params["top_k"] == 3


def test_run_check_now_starts_a_background_job(store):
    register_monitored_model(store, n=300)
    at = page_test("monitor", timeout=60).run()
    [b for b in at.button if b.label == "Check now"][0].click().run()
    assert not at.exception
    from storage import jobs as job_repo

    with store.session() as session:
        jobs = job_repo.list_jobs(session=session)
    assert [j.kind for j in jobs] == ["monitor_check"]
    assert jobs[0].config == {"endpoint": "churn", "window": "hour"}
    # a real worker process runs it; the page then shows the stored report
    import time

    from studio.monitor.actions import job_state

    deadline = time.monotonic() + 60
    while job_state(store, jobs[0].id).status in ("queued", "running"):
        assert time.monotonic() < deadline, "the check job did not finish"
        time.sleep(0.2)
    assert job_state(store, jobs[0].id).status == "succeeded"
    at = page_test("monitor").run()
    assert not at.exception and at.metric[0].value == "OK"


def test_single_request_with_an_all_missing_column_renders(store):
    version, pipeline, _ = register_monitored_model(store, n=300)
    records, _ = fresh_records(1)
    records[0]["cat_0"] = None
    log_traffic(store, endpoint="churn", version=version, pipeline=pipeline, records=records)
    run_check(store, "churn")
    at = page_test("monitor").run()
    assert not at.exception
    assert at.metric[1].value == "1" and at.metric[0].value == "OK"
    drift = at.dataframe[0].value
    assert drift.loc[drift["feature"] == "cat_0", "missing"].item().endswith("→ 100.0%")
    assert "too few to judge" in " ".join(drift["why"])
    assert "No feedback in this window" in _texts(at)


def test_simulate_traffic_works_when_the_service_requires_api_keys(store, studio_home,
                                                                   monkeypatch):
    """The page's simulation (a real worker process) creates a temporary key for the run
    and revokes it; the service saw only accepted requests."""
    import time

    from storage import jobs as job_repo
    from studio.endpoints import create_api_key, list_api_keys
    from studio.monitor.actions import job_state
    from tests.service_fixtures import ServiceProcess

    register_monitored_model(store, n=300)
    create_api_key(store, "ops")
    svc = ServiceProcess.start(studio_home, STUDIO_REQUIRE_API_KEY="true")
    try:
        monkeypatch.setenv("STUDIO_SERVICE_PORT", str(svc.port))
        at = page_test("monitor", timeout=60).run()
        assert not at.exception
        assert any("temporary key" in c.value for c in at.caption)
        at.number_input(key="sim_rows").set_value(40)
        at.button(key="sim_send").click().run()
        assert not at.exception
        with store.session() as session:
            [job] = job_repo.list_jobs(session=session)
        deadline = time.monotonic() + 90
        while job_state(store, job.id).status in ("queued", "running"):
            assert time.monotonic() < deadline, "the simulation job did not finish"
            time.sleep(0.3)
        done = job_state(store, job.id)
        assert done.status == "succeeded", done.error
        assert done.result["simulate"]["answered"] == 40
        assert done.result["simulate"]["api_key"] == "temporary (revoked)"
        assert {k.name: k.active for k in list_api_keys(store)} == {"ops": True,
                                                                  "studio-simulator": False}
        at.run()
        assert not at.exception and not at.error
        assert at.metric[1].value == "40"
    finally:
        svc.stop()


def test_a_failed_simulation_says_what_happened(store):
    from pages._ui import Keys
    from storage import jobs as job_repo

    register_monitored_model(store, n=300)
    reason = ("the prediction service at http://127.0.0.1:9 requires an API key and did not "
              "accept the temporary key the simulator created")
    with store.session() as session:
        job = job_repo.create_job(session=session, kind="monitor_check", name="simulate 40 rows "
                                  "→ churn", config={"endpoint": "churn"})
        job_repo.finish_job(session=session, job_id=job.id, status="failed", error=reason)
    at = page_test("monitor")
    at.session_state[Keys.MONITOR_JOB] = job.id
    at.run()
    assert not at.exception
    assert at.error[0].value == f"simulate 40 rows → churn: failed. {reason}"
    assert Keys.MONITOR_JOB not in at.session_state
