"""A monitoring check: one endpoint, one window, against its model's baseline.

``compute_report`` measures (drift per feature and of the prediction, data
quality, traffic and operations, model quality from feedback) and returns the
report as plain JSON. ``run_check`` stores it as a snapshot artifact plus a
``MonitorReport`` row, raises alerts from the endpoint's rules in the same
transaction, then calls webhooks. Dashboards read stored reports; nothing here
runs on a page rerun.

Bounded work whatever the log size: drift and data quality read an evenly
spread sample of at most ``SAMPLE_ROWS`` rows of the window, traffic is
aggregated in SQL, model quality reads at most ``FEEDBACK_ROWS`` labels.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from storage import monitoring as repo
from storage import registry as registry_repo
from storage.monitoring import AlertPublic, MonitorReportPublic
from storage.store import Store
from studio.errors import IntegrityError, NotFound
from studio.monitor import alerts as alerts_mod
from studio.monitor.data_quality import check_data_quality
from studio.monitor.drift import feature_drift, prediction_drift, worst
from studio.monitor.importance import feature_importance
from studio.monitor.performance import compute_quality
from studio.monitor.traffic import compute_traffic
from studio.monitor.windows import DEFAULT_WINDOW, bucket_seconds, resolve_window

SAMPLE_ROWS = 20_000
FEEDBACK_ROWS = 20_000
MIN_SAMPLE_PAIRS = 1_000           # fewer labelled rows in the sample: read feedback directly
QUALITY_BUCKETS = 48               # points on the quality-over-time chart at most
# Full snapshots (~20–40 KB each, one per check) are kept this long; the small summary row
# of every check stays, so the drift-over-time history is never cut.
SNAPSHOT_RETENTION_DAYS = 30
QUALITY_THRESHOLDS = (0.05, 0.1)   # relative drop from validation: warning, alert
QUALITY_MIN_LABELS = 30


@dataclass
class CheckResult:
    report: MonitorReportPublic
    snapshot: dict
    alerts: list[AlertPublic] = field(default_factory=list)
    webhooks: dict[int, str] = field(default_factory=dict)


def _model_and_baseline(store: Store, endpoint: str) -> tuple:
    """(model version or None, baseline or None, note or None) for an endpoint."""
    from studio.registry import load_baseline

    with store.session() as session:
        found = repo.get_monitored_endpoint(session=session, name=endpoint)
        logged = found is None and repo.endpoint_has_logs(session=session, endpoint=endpoint)
        if found is None and not logged:
            raise NotFound(f"endpoint '{endpoint}' does not exist; "
                           "`python -m studio endpoints` lists them")
        version = None
        if found is not None and found.model_version_id is not None:
            version = registry_repo.get_model_version_by_id(session=session,
                                                            version_id=found.model_version_id)
    if version is None:
        return None, None, "this endpoint serves no model version: publish one to monitor drift"
    try:
        baseline = load_baseline(store, version)
    except IntegrityError as exc:
        return version, None, str(exc)
    if baseline is None:
        return version, None, (f"model {version.ref} was registered without a training baseline, "
                               "so drift cannot be measured (traffic and quality still are); "
                               "retrain or re-register it to get one")
    return version, baseline, None


def _quality_status(quality: dict) -> str:
    drop = quality.get("drop")
    if drop is None or (quality.get("pairs_used") or 0) < QUALITY_MIN_LABELS:
        return "ok"
    return "alert" if drop > QUALITY_THRESHOLDS[1] else \
        "warning" if drop > QUALITY_THRESHOLDS[0] else "ok"


def _timed(fn, *args):
    started = time.perf_counter()
    result = fn(*args)
    return result, round(time.perf_counter() - started, 4)


def _read_sample(store: Store, endpoint: str, start: float, end: float) -> tuple[int, list]:
    with store.session() as session:
        counts = repo.window_counts(session=session, endpoint=endpoint, start=start, end=end)
        rows = repo.sample_predictions(session=session, endpoint=endpoint, start=start, end=end,
                                       limit=SAMPLE_ROWS, counts=counts, captures=store.captures)
    return counts[1], rows


def _count_feedback(store: Store, endpoint: str, start: float, end: float) -> int:
    with store.session() as session:
        return repo.count_feedback(session=session, endpoint=endpoint, start=start, end=end)


def _feedback_pairs(store: Store, endpoint: str, start: float, end: float, answered: list[dict],
                    labelled: int) -> list[dict]:
    """Labelled predictions: those of the sample first (cheap index lookups); when the
    sample holds too few, an evenly spread read of the window's feedback instead."""
    with store.session() as session:
        actuals = repo.feedback_for_requests(session=session, endpoint=endpoint,
                                             request_ids=[r["request_id"] for r in answered])
        pairs = [{"ts": r["ts"], "outputs": r["outputs"], "actual": actuals[r["request_id"]],
                  "request_id": r["request_id"]} for r in answered if r["request_id"] in actuals]
        if len(pairs) < min(labelled, MIN_SAMPLE_PAIRS):
            pairs = repo.feedback_pairs(session=session, endpoint=endpoint, start=start, end=end,
                                        limit=FEEDBACK_ROWS, total=labelled)
    return pairs


def _drift(version, baseline: dict | None, answered: list[dict]) -> tuple[list, dict | None]:
    card = version.card if version else {}
    columns = [c["name"] for c in (baseline or {}).get("columns") or []]
    importance = feature_importance(card, columns)
    features = []
    for name in columns:
        raw = [r["inputs"].get(name) for r in answered]
        features.append(feature_drift(name, baseline["features"][name], raw, importance.get(name)))
    features.sort(key=lambda f: (-(f["importance"] or 0), f["feature"]))
    prediction = None
    if baseline and version:
        own = [r for r in answered if r["model_version_id"] in (version.id, None)]
        prediction = prediction_drift(
            baseline.get("prediction"),
            [(r["outputs"] or {}).get("prediction") if isinstance(r["outputs"], dict) else None
             for r in own])
    return features, prediction


def compute_report(store: Store, endpoint: str, *, window: str = DEFAULT_WINDOW,
                   start: float | None = None, end: float | None = None,
                   now: float | None = None) -> dict:
    """The full report for ``endpoint`` over the window (nothing is written).

    The two pure-SQL aggregations (traffic, feedback) run in threads beside the
    sample read and the drift computation: SQLite and PostgreSQL drivers release
    the GIL while a query runs, so on two cores they overlap.
    """
    from concurrent.futures import ThreadPoolExecutor

    started = time.perf_counter()
    version, baseline, note = _model_and_baseline(store, endpoint)
    window, start, end = resolve_window(window, now=now, start=start, end=end)
    bucket_s = bucket_seconds(end - start)
    timings: dict[str, float] = {}
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="monitor-check") as pool:
        traffic_job = pool.submit(_timed, compute_traffic, store, endpoint, start, end, bucket_s)
        feedback_job = pool.submit(_timed, _count_feedback, store, endpoint, start, end)
        (total, rows), timings["read_sample"] = _timed(_read_sample, store, endpoint, start, end)
        answered = [r for r in rows
                    if (r["status"] or 200) < 400 and isinstance(r["inputs"], dict)]
        (features, prediction), timings["drift"] = _timed(_drift, version, baseline, answered)
        data_quality, timings["data_quality"] = _timed(check_data_quality, rows, baseline, total)
        traffic, timings["traffic_sql"] = traffic_job.result()
        labelled, timings["feedback_count_sql"] = feedback_job.result()
    pairs, timings["feedback_pairs"] = _timed(_feedback_pairs, store, endpoint, start, end,
                                              answered, labelled)

    card = version.card if version else {}
    task = (version.task if version else None) or (baseline or {}).get("task") or "binary"
    answered_total = traffic["totals"]["predictions"]
    quality, timings["quality"] = _timed(lambda: compute_quality(
        pairs, task=task, classes=(card.get("classes") or (baseline or {}).get("classes")),
        baseline_metrics=(baseline or {}).get("metrics") or card.get("metrics"),
        card_metric=card.get("metric"), predictions=answered_total, labelled=labelled,
        start=start, end=end, bucket_s=bucket_seconds(end - start, QUALITY_BUCKETS)))
    quality["status"] = _quality_status(quality)

    statuses = [f["status"] for f in features] + ([prediction["status"]] if prediction else [])
    status = worst(*statuses, quality["status"])
    return {
        "format": 1, "endpoint": endpoint,
        "model": version.ref if version else None,
        "model_version_id": version.id if version else None,
        "task": task, "window": window, "window_start": start, "window_end": end,
        "at": time.time(), "status": status, "note": note,
        "rows": {"in_window": total, "sampled": len(rows), "answered_in_sample": len(answered),
                 "sample_limit": SAMPLE_ROWS},
        "features": features, "prediction": prediction,
        "data_quality": data_quality, "traffic": traffic, "quality": quality,
        "seconds": round(time.perf_counter() - started, 3), "timings": timings,
    }


def summarize(report: dict) -> dict:
    """The small part of a report kept on its row (history charts read only this)."""
    totals = report["traffic"]["totals"]
    quality = report["quality"]
    pred = report.get("prediction")
    return {
        "window": report["window"], "model": report["model"], "status": report["status"],
        "rows": report["rows"]["in_window"],
        "features": {f["feature"]: {"status": f["status"], "score": f["score"],
                                    "statistic": f["statistic"]} for f in report["features"]},
        "prediction": {"status": pred["status"], "score": pred["score"],
                       "statistic": pred["statistic"]} if pred else None,
        "requests": totals["requests"], "predictions": totals.get("predictions"),
        "error_rate": totals["error_rate"],
        "p99_ms": totals["p99_ms"],
        "quality": {k: quality.get(k) for k in ("metric", "value", "baseline", "drop",
                                                 "labelled", "status")},
    }


def run_check(store: Store, endpoint: str, *, window: str = DEFAULT_WINDOW,
              start: float | None = None, end: float | None = None, now: float | None = None,
              deliver: bool = True) -> CheckResult:
    """Measure, store the snapshot and its row, raise alerts, call webhooks."""
    report = compute_report(store, endpoint, window=window, start=start, end=end, now=now)
    alerts_mod.ensure_default_rules(store, endpoint)
    sha = store.artifacts.put_bytes(json.dumps(report, allow_nan=False, default=str).encode())
    with store.session() as session:
        row = repo.create_monitor_report(
            session=session, endpoint=endpoint, window_start=report["window_start"],
            window_end=report["window_end"], status=report["status"],
            summary=summarize(report), snapshot_sha=sha)
        raised, suppressed = alerts_mod.raise_alerts(session, endpoint=endpoint,
                                                     report_id=row.id, report=report)
        summary = {**row.summary, "alerts": [a.id for a, _ in raised],
                   "suppressed": suppressed}
        row = repo.update_monitor_report(session=session, report_id=row.id, summary=summary)
    report["report_id"] = row.id
    report["alerts"] = [a.id for a, _ in raised]
    report["suppressed"] = suppressed
    webhooks = alerts_mod.deliver_webhooks(store, raised) if deliver else {}
    prune_snapshots(store, endpoint)
    with store.session() as session:
        fresh = [repo.get_alert(session=session, alert_id=a.id) for a, _ in raised]
    return CheckResult(report=row, snapshot=report, alerts=fresh, webhooks=webhooks)



def prune_snapshots(store: Store, endpoint: str, keep_days: float = SNAPSHOT_RETENTION_DAYS) -> int:
    """Remove snapshot files of checks older than ``keep_days`` (rows first, then files,
    so a crash leaves at most an unused file, never a row pointing at nothing)."""
    from datetime import datetime, timedelta, timezone

    before = datetime.now(timezone.utc) - timedelta(days=keep_days)
    with store.session() as session:
        unused = repo.detach_old_snapshots(session=session, endpoint=endpoint, before=before)
    for sha in unused:
        store.artifacts.remove(sha)
    return len(unused)
