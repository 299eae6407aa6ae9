"""Checks end to end on a real store: real models with baselines, real log rows."""
from __future__ import annotations

import json
import time

import pytest

from studio.errors import NotFound
from studio.monitor import reports
from studio.monitor.check import run_check
from tests.monitor_support import (fresh_records, give_feedback, log_traffic,
                                   register_monitored_model)


@pytest.fixture
def model(store):
    return register_monitored_model(store)


def _drifted(records, column="num_0", by=4.0):
    return [dict(r, **{column: None if r[column] is None else r[column] + by}) for r in records]


def test_clean_traffic_is_ok_and_the_report_is_stored(store, model):
    version, pipeline, _ = model
    records, actuals = fresh_records(400)
    ids = log_traffic(store, endpoint="churn", version=version, pipeline=pipeline, records=records)
    give_feedback(store, endpoint="churn", request_ids=ids[:150], actuals=actuals[:150])
    result = run_check(store, "churn")
    snap = result.snapshot
    assert [f["status"] for f in snap["features"]] == ["ok"] * len(snap["features"])
    assert snap["prediction"]["status"] == "ok" and not result.alerts
    assert snap["traffic"]["totals"]["requests"] == 400
    assert snap["quality"]["labelled"] == 150 and snap["quality"]["value"] is not None
    assert snap["quality"]["baseline"] is not None
    # the dashboard reads the stored snapshot, not the log
    stored = reports.load_snapshot(store, reports.latest_report(store, "churn", "hour"))
    assert stored["report_id"] == result.report.id
    assert [f["feature"] for f in stored["features"]] == [f["feature"] for f in snap["features"]]
    # features are ordered by importance from the model card, scaled to 0..1
    importances = [f["importance"] for f in snap["features"]]
    assert importances[0] == 1.0 and importances == sorted(importances, reverse=True)


def test_drift_raises_an_alert_with_evidence_and_ack_sticks(store, model):
    version, pipeline, _ = model
    records, _ = fresh_records(500)
    log_traffic(store, endpoint="churn", version=version, pipeline=pipeline,
                records=_drifted(records))
    first = run_check(store, "churn")
    by_name = {f["feature"]: f for f in first.snapshot["features"]}
    assert by_name["num_0"]["status"] == "alert"
    assert all(by_name[n]["status"] == "ok" for n in ("num_1", "num_3", "cat_1"))
    drift_alerts = [a for a in first.alerts if a.evidence["rule"]["kind"] == "drift"]
    assert len(drift_alerts) == 1
    alert = drift_alerts[0]
    assert alert.severity == "alert" and "num_0" in alert.message
    assert alert.report_id == first.report.id
    assert alert.evidence["features"][0]["feature"] in ("num_0", "prediction")

    from studio.monitor.alerts import acknowledge, list_alerts
    acked = acknowledge(store, alert.id, by="alice")
    assert acked.acknowledged_by == "alice" and acked.acknowledged_at is not None
    second = run_check(store, "churn")  # same drift: within the cooldown nothing new
    assert not [a for a in second.alerts if a.evidence["rule"]["kind"] == "drift"]
    again = acknowledge(store, alert.id, by="bob")  # the first acknowledgement is kept
    assert again.acknowledged_by == "alice"
    assert [a.id for a in list_alerts(store, "churn", open_only=True)
            if a.rule_id == alert.rule_id] == []


def test_open_alert_suppresses_repeats(store, model):
    version, pipeline, _ = model
    records, _ = fresh_records(300)
    log_traffic(store, endpoint="churn", version=version, pipeline=pipeline,
                records=_drifted(records))
    first = run_check(store, "churn")
    second = run_check(store, "churn")
    assert first.alerts and not second.alerts
    assert {s["kind"] for s in second.snapshot["suppressed"]} >= {"drift"}


def test_quality_drop_from_feedback_raises_an_alert(store, model):
    version, pipeline, _ = model
    records, actuals = fresh_records(300)
    ids = log_traffic(store, endpoint="churn", version=version, pipeline=pipeline, records=records)
    wrong = [1 - a for a in actuals]  # every label the opposite of the truth
    give_feedback(store, endpoint="churn", request_ids=ids, actuals=wrong)
    result = run_check(store, "churn")
    quality = result.snapshot["quality"]
    assert quality["drop"] > 0.5 and quality["status"] == "alert"
    assert any(a.evidence["rule"]["kind"] == "quality" for a in result.alerts)


def test_errors_and_latency_are_aggregated_and_alerted(store, model):
    version, pipeline, _ = model
    records, _ = fresh_records(100)
    log_traffic(store, endpoint="churn", version=version, pipeline=pipeline, records=records,
                latency_ms=900.0)
    log_traffic(store, endpoint="churn", version=version, pipeline=pipeline,
                records=[{}] * 30, status=422, latency_ms=1.0,
                error="column 'num_0': 'abc' is not a number")
    log_traffic(store, endpoint="churn", version=version, pipeline=pipeline,
                records=records[:5], status=500, latency_ms=1.0)
    odd = [{"num_0": "abc", "num_2": 1e9, "cat_0": "purple", "member": "maybe", "extra": 1}] * 10
    log_traffic(store, endpoint="churn", version=version, pipeline=pipeline, records=odd,
                predict=False)
    result = run_check(store, "churn")
    totals = result.snapshot["traffic"]["totals"]
    assert (totals["requests"], totals["errors_4xx"], totals["errors_5xx"]) == (145, 30, 5)
    assert 900 <= totals["p99_ms"] <= 1900
    assert sum(p["requests"] for p in result.snapshot["traffic"]["series"]) == 145
    kinds = {a.evidence["rule"]["kind"] for a in result.alerts}
    assert {"error_rate", "latency_p99"} <= kinds
    issues = {(i["feature"], i["issue"]): i for i in result.snapshot["data_quality"]["issues"]}
    rejected = issues[("(request)", "rejected")]
    assert rejected["count"] == 35 and "HTTP 422: column 'num_0'" in rejected["examples"][0]
    assert issues[("num_0", "wrong_type")]["examples"] == ["abc"]
    assert issues[("num_2", "out_of_range")]["count"] >= 10
    assert issues[("cat_0", "unseen_category")]["examples"] == ["purple"]
    assert issues[("member", "wrong_type")]["count"] == 10
    assert issues[("extra", "unexpected_column")]["count"] == 10
    assert issues[("num_1", "missing_column")]["count"] == 10


def test_empty_window_single_request_and_no_feedback_render(store, model):
    version, pipeline, _ = model
    empty = run_check(store, "churn").snapshot
    assert empty["status"] == "ok" and empty["rows"]["in_window"] == 0
    assert all(f["score"] is None for f in empty["features"])
    assert empty["traffic"]["totals"]["p99_ms"] is None
    assert empty["quality"]["value"] is None and empty["quality"]["labelled"] == 0
    json.dumps(empty, allow_nan=False)
    records, _ = fresh_records(1)
    log_traffic(store, endpoint="churn", version=version, pipeline=pipeline, records=records)
    single = run_check(store, "churn").snapshot
    assert single["status"] == "ok" and single["rows"]["in_window"] == 1
    assert "too few" in single["features"][0]["note"]


def test_all_missing_column_and_windows(store, model):
    version, pipeline, _ = model
    records, _ = fresh_records(200)
    for r in records:
        r["cat_0"] = None
    log_traffic(store, endpoint="churn", version=version, pipeline=pipeline, records=records,
                ts=time.time() - 2 * 3600, spread_s=60)
    hour = run_check(store, "churn", window="hour").snapshot
    day = run_check(store, "churn", window="day").snapshot
    assert hour["rows"]["in_window"] == 0 and day["rows"]["in_window"] == 200
    cat0 = next(f for f in day["features"] if f["feature"] == "cat_0")
    assert cat0["missing_rate"] == 1.0 and cat0["status"] == "alert"
    custom = run_check(store, "churn", window="custom", start=time.time() - 3 * 3600,
                       end=time.time() - 3600).snapshot
    assert custom["window"] == "custom" and custom["rows"]["in_window"] == 200
    assert [r["window"] for r in reports.report_times(store, "churn")] == ["custom", "day", "hour"]


def test_drift_history_reads_report_rows(store, model):
    version, pipeline, _ = model
    records, _ = fresh_records(200)
    log_traffic(store, endpoint="churn", version=version, pipeline=pipeline, records=records)
    run_check(store, "churn")
    log_traffic(store, endpoint="churn", version=version, pipeline=pipeline,
                records=_drifted(records, by=8.0), seed=3)
    run_check(store, "churn")
    rows = [r for r in reports.history(store, "churn", "hour") if r["feature"] == "num_0"]
    assert len(rows) == 2 and rows[0]["score"] < rows[1]["score"]
    assert [r["status"] for r in rows] == ["ok", "alert"]


def test_unknown_endpoint_and_model_without_baseline(store):
    with pytest.raises(NotFound, match="endpoint 'nope' does not exist"):
        run_check(store, "nope")
    from studio.endpoints import publish
    from tests.model_factory import register_test_model

    publish(store, register_test_model(store, name="plain", n=200), "plain", actor="test")
    snap = run_check(store, "plain").snapshot
    assert snap["features"] == [] and "without a training baseline" in snap["note"]
    assert snap["status"] == "ok"


def test_check_job_runs_in_the_job_runner(settings, store, model):
    from studio.jobs import run_job, submit_job

    version, pipeline, _ = model
    records, _ = fresh_records(100)
    log_traffic(store, endpoint="churn", version=version, pipeline=pipeline, records=records)
    job = submit_job(store, kind="monitor_check", config={"endpoint": "churn", "window": "day"})
    done = run_job(settings, job.id)
    assert done.status == "succeeded", done.error
    report = reports.get_report(store, done.result["report_id"])
    assert report.summary["window"] == "day" and report.summary["rows"] == 100


def test_old_snapshots_are_pruned_but_history_stays(store, model):
    from studio.monitor.check import prune_snapshots

    first = run_check(store, "churn")
    second = run_check(store, "churn")
    assert prune_snapshots(store, "churn", keep_days=30) == 0
    assert prune_snapshots(store, "churn", keep_days=-1) == 2  # everything counts as old
    sha = first.report.snapshot_sha
    assert not (store.artifacts.root / sha[:2] / sha).exists()
    assert len(reports.history(store, "churn", "hour")) == 2 * len(second.snapshot["features"]) + 2
    assert reports.latest_report(store, "churn").snapshot_sha is None
