"""The monitoring SQL (traffic histogram, window sample, feedback joins, report
lookups by window) on both backends: SQLite and PostgreSQL."""
from __future__ import annotations

import math

from storage import monitoring as repo


def _rows(n, *, t0=1_000_000.0):
    for i in range(n):
        yield {"request_id": f"r{i}", "endpoint": "ep", "model_version_id": None,
               "ts": t0 + i, "status": 200 if i % 10 else (422 if i % 20 else 503),
               "latency_ms": None if i == 7 else float(1 + i % 50),
               "inputs": None if i % 10 == 0 else {"x": i, "c": "a" if i % 2 else "b"},
               "outputs": {"error": "bad"} if i % 10 == 0 else {"prediction": i % 2,
                                                                  "probabilities": {"0": 0.4,
                                                                                    "1": 0.6}},
               "replica": "t"}


def test_aggregations_agree_on_both_backends(any_store):
    with any_store.session() as session:
        repo.add_prediction_logs(session=session, rows=list(_rows(600)))
        repo.add_prediction_logs(session=session, rows=[
            {"request_id": "other", "endpoint": "other", "ts": 1_000_010.0, "status": 200,
             "inputs": {"x": 1}, "outputs": {"prediction": 1}}])
        repo.add_feedback(session=session, rows=[
            {"request_id": f"r{i}", "endpoint": "ep", "actual": i % 3 == 0, "ts": 1_000_700.0}
            for i in range(1, 600, 3)] + [
            {"request_id": "r1", "endpoint": "ep", "actual": 5, "ts": 1_000_800.0}])
    start, end = 1_000_000.0, 1_000_600.0
    with any_store.session() as session:
        assert repo.count_predictions(session=session, endpoint="ep", start=start, end=end) == 600
        assert repo.endpoint_has_logs(session=session, endpoint="other")
        assert not repo.endpoint_has_logs(session=session, endpoint="nope")
        cells = repo.traffic_histogram(session=session, endpoint="ep", start=start, end=end,
                                       bucket_s=60)
        assert sum(c["rows"] for c in cells) == 600
        assert sum(c["errors_4xx"] for c in cells) == 30
        assert sum(c["errors_5xx"] for c in cells) == 30
        assert {c["bucket"] for c in cells} == {math.floor((start + i) / 60) for i in range(600)}
        assert [c["rows"] for c in cells if c["lat_bin"] is None] == [1]
        sample = repo.sample_predictions(session=session, endpoint="ep", start=start, end=end,
                                         limit=100)
        assert 90 <= len(sample) <= 200
        answered = [r for r in sample if r["status"] < 400]
        assert all(isinstance(r["inputs"], dict) for r in answered)
        assert all(r["outputs"]["probabilities"] == {"0": 0.4, "1": 0.6} for r in answered)
        # feedback: only answered predictions of the window count, once per request
        labelled = repo.count_feedback(session=session, endpoint="ep", start=start, end=end)
        assert labelled == len([i for i in range(1, 600, 3) if i % 10])
        pairs = repo.feedback_pairs(session=session, endpoint="ep", start=start, end=end,
                                    limit=1000)
        assert {p["request_id"] for p in pairs} == {f"r{i}" for i in range(1, 600, 3) if i % 10}
        found = repo.feedback_for_requests(session=session, endpoint="ep",
                                           request_ids=["r1", "r4", "r2", "missing"])
        assert found == {"r1": 5, "r4": False}  # the newest feedback wins
        assert repo.count_logged_request_ids(session=session,
                                             request_ids=["r1", "r2", "zzz"]) == 2
        later = repo.count_feedback(session=session, endpoint="ep", start=end, end=end + 60)
        assert later == 0


def test_multi_row_requests_are_one_log_row_read_back_per_prediction(any_store):
    from storage import serving

    t0 = 2_000_000.0
    batch = {"request_id": "b1", "endpoint": "ep", "model_version_id": None, "ts": t0,
             "status": 200, "latency_ms": 12.0, "n_rows": 4,
             "inputs": {"columns": {"x": [0, 1, 2, 3], "c": ["a"] * 4}},
             "outputs": {"predictions": ["no", "yes", "no", "yes"],
                         "probabilities": [[0.9, 0.1], [0.2, 0.8], [0.7, 0.3], [0.4, 0.6]],
                         "classes": ["no", "yes"]}}
    single = {"request_id": "s-1", "endpoint": "ep", "ts": t0 + 1, "status": 200,
              "latency_ms": 2.0, "inputs": {"x": 9, "c": "b"}, "outputs": {"prediction": "no"}}
    with any_store.session() as session:
        repo.add_prediction_logs(session=session, rows=[batch, single])
    with any_store.session() as session:
        located = serving.locate_request_ids(
            session=session, endpoint="ep", request_ids=["b1-1", "b1-3", "b1-4", "b1", "s-1",
                                                         "s-1-0", "nope"])
        # "b1-4" is past the request's rows, "b1" names no single prediction
        assert located == {"b1-1": ("b1", 1), "b1-3": ("b1", 3), "s-1": ("s-1", None)}
        serving.add_feedback(session=session, endpoint="ep", ts=t0 + 5, located=located,
                             items=[("b1-1", "yes"), ("b1-3", "no"), ("s-1", "no")])
    start, end = t0, t0 + 60
    with any_store.session() as session:
        assert repo.count_predictions(session=session, endpoint="ep", start=start, end=end) == 5
        cells = repo.traffic_histogram(session=session, endpoint="ep", start=start, end=end,
                                       bucket_s=60)
        assert sum(c["rows"] for c in cells) == 2            # requests
        assert sum(c["predictions"] for c in cells) == 5
        sample = repo.sample_predictions(session=session, endpoint="ep", start=start, end=end,
                                         limit=100)
        by_id = {r["request_id"]: r for r in sample}
        assert set(by_id) == {"b1-0", "b1-1", "b1-2", "b1-3", "s-1"}
        assert by_id["b1-2"]["inputs"] == {"x": 2, "c": "a"}
        assert by_id["b1-1"]["outputs"] == {"prediction": "yes",
                                            "probabilities": {"no": 0.2, "yes": 0.8}}
        pairs = repo.feedback_pairs(session=session, endpoint="ep", start=start, end=end)
        assert {p["request_id"]: (p["outputs"]["prediction"], p["actual"]) for p in pairs} == {
            "b1-1": ("yes", "yes"), "b1-3": ("yes", "no"), "s-1": ("no", "no")}
        assert repo.count_feedback(session=session, endpoint="ep", start=start, end=end) == 3
        assert repo.feedback_for_requests(session=session, endpoint="ep",
                                          request_ids=["b1-3", "b1-0"]) == {"b1-3": "no"}
        assert repo.count_logged_request_ids(
            session=session, request_ids=["b1-0", "b1-3", "b1-4", "s-1", "x"]) == 3
        # a thin sample still spreads over a big request
        thin = repo.sample_predictions(session=session, endpoint="ep", start=start, end=end,
                                       limit=2)
        assert 1 <= len(thin) <= 4
        expanded = serving.list_prediction_logs(session=session, endpoint="ep", expand=True)
        assert sorted(r.request_id for r in expanded) == ["b1-0", "b1-1", "b1-2", "b1-3", "s-1"]
    # the row-wise form reads back the same
    with any_store.session() as session:
        repo.add_prediction_logs(session=session, rows=[{
            **batch, "request_id": "b2", "ts": t0 + 2,
            "inputs": {"rows": [{"x": i, "c": "a"} for i in range(4)]}}])
    with any_store.session() as session:
        sample = repo.sample_predictions(session=session, endpoint="ep", start=start, end=end,
                                         limit=100)
        assert {r["request_id"]: r["inputs"] for r in sample if r["request_id"][:2] == "b2"} == {
            f"b2-{i}": {"x": i, "c": "a"} for i in range(4)}


def test_reports_by_window_and_alert_acknowledgement(any_store):
    with any_store.session() as session:
        hour = repo.create_monitor_report(session=session, endpoint="ep", window_start=0,
                                          window_end=1, status="ok",
                                          summary={"window": "hour"}, snapshot_sha=None)
        day = repo.create_monitor_report(session=session, endpoint="ep", window_start=0,
                                         window_end=1, status="alert",
                                         summary={"window": "day"}, snapshot_sha=None)
        rule = repo.create_alert_rule(session=session, endpoint="ep", kind="drift",
                                      params={"top_k": 3})
        alert = repo.create_alert(session=session, endpoint="ep", rule_id=rule.id,
                                  report_id=day.id, severity="alert", message="m",
                                  evidence={"a": 1})
    with any_store.session() as session:
        assert repo.get_latest_report(session=session, endpoint="ep", window="hour").id == hour.id
        assert repo.get_latest_report(session=session, endpoint="ep").id == day.id
        assert [r.id for r in repo.list_reports(session=session, endpoint="ep")] == [day.id,
                                                                                    hour.id]
        assert repo.count_open_alerts(session=session, endpoint="ep") == 1
        acked = repo.acknowledge_alert(session=session, alert_id=alert.id, by="ann")
        assert acked.acknowledged_by == "ann"
    with any_store.session() as session:
        assert repo.acknowledge_alert(session=session, alert_id=alert.id,
                                      by="bob").acknowledged_by == "ann"
        assert repo.count_open_alerts(session=session) == 0
        assert repo.delete_alert_rule(session=session, rule_id=rule.id)
        assert repo.get_alert(session=session, alert_id=alert.id).rule_id is None
