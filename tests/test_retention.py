"""Retention of captured traffic: old prediction logs, feedback and capture files go;
recent ones and monitoring reports stay."""
from __future__ import annotations

import threading
import time

import pytest

from storage.tables import Feedback
from studio.errors import InvalidInput
from studio.monitor.check import run_check
from studio.monitor.retention import prune, prune_task
from studio.service.background import TaskContext, registered
from tests.monitor_support import fresh_records, log_traffic, register_monitored_model

DAY = 86_400.0


@pytest.fixture
def aged(store):
    """Traffic 200 days old, 10 days old and from the last hour, with feedback and
    capture files for the old and the new hour."""
    version, pipeline, _ = register_monitored_model(store)
    now = time.time()
    records, actuals = fresh_records(60)
    old = log_traffic(store, endpoint="churn", version=version, pipeline=pipeline,
                      records=records[:20], ts=now - 200 * DAY, spread_s=60)
    mid = log_traffic(store, endpoint="churn", version=version, pipeline=pipeline,
                      records=records[20:40], ts=now - 10 * DAY, spread_s=60)
    new = log_traffic(store, endpoint="churn", version=version, pipeline=pipeline,
                      records=records[40:], ts=now, spread_s=60)
    with store.session() as session:
        for rid, actual, ts in [(old[0], actuals[0], now - 200 * DAY),
                                (new[0], actuals[40], now)]:
            session.add(Feedback(request_id=rid, endpoint="churn", log_request_id=rid,
                                 actual=actual, ts=ts))
    root = store.captures.root / "capture"
    old_hour = root / time.strftime("%Y%m%d%H", time.gmtime(now - 200 * DAY))
    new_hour = root / time.strftime("%Y%m%d%H", time.gmtime(now))
    for folder in (old_hour, new_hour):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "replica.jsonl").write_text('{"columns": {}}\n')
    (root / "notes").mkdir()  # not ours: left alone
    return {"old": old, "mid": mid, "new": new, "old_hour": old_hour, "new_hour": new_hour,
            "now": now}


def _logged(store) -> set[str]:
    from storage.tables import PredictionLog
    from sqlmodel import select

    with store.session() as session:
        return set(session.exec(select(PredictionLog.request_id)).all())


def test_prune_deletes_only_traffic_older_than_the_retention(store, aged):
    report = run_check(store, "churn").report
    done = prune(store, 90, now=aged["now"])
    assert done["prediction_logs"] == 20 and done["feedback"] == 1
    assert done["capture_folders"] == 1
    left = _logged(store)
    assert not left & set(aged["old"]) and set(aged["mid"] + aged["new"]) <= left
    assert not aged["old_hour"].exists() and aged["new_hour"].exists()
    assert (store.captures.root / "capture" / "notes").is_dir()
    from studio.monitor import reports

    assert reports.latest_report(store, "churn").id == report.id  # reports stay
    assert run_check(store, "churn").report.id != report.id     # and checks still run
    again = prune(store, 90, now=aged["now"])
    assert again["prediction_logs"] == 0 and again["capture_folders"] == 0
    assert prune(store, 5, now=aged["now"])["prediction_logs"] == 20  # the 10-day-old rows


@pytest.mark.parametrize("days", [0, -3, "soon", float("nan")])
def test_prune_refuses_days_that_are_not_a_positive_number(store, days):
    with pytest.raises(InvalidInput, match="days must be"):
        prune(store, days)


def test_prune_cli_and_the_services_background_task(cli, store, aged, settings):
    result = cli("prune", "--days", "30", "--json")
    assert result.code == 0, result.err
    assert result.json()["prediction_logs"] == 20 and result.json()["days"] == 30
    assert "deleted 0 prediction logs" in cli("prune").out  # the default: 90 days
    bad = cli("prune", "--days", "-1")
    assert bad.code == 2 and "days must be" in bad.err and "Traceback" not in bad.err
    assert prune_task in registered()

    import studio.monitor.retention as retention

    ctx = TaskContext(settings.model_copy(update={"capture_retention_days": 5}), store)
    first = retention.FIRST_PRUNE_AFTER_S
    retention.FIRST_PRUNE_AFTER_S = 0.05
    try:
        thread = threading.Thread(target=prune_task, args=(ctx,), daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and set(aged["mid"]) & _logged(store):
            time.sleep(0.05)
        ctx.stop.set()
        thread.join(10)
    finally:
        retention.FIRST_PRUNE_AFTER_S = first
    assert not set(aged["mid"]) & _logged(store) and set(aged["new"]) <= _logged(store)
    assert not thread.is_alive()
