"""Reading stored monitoring results: what the Monitor page and the CLI show.

Everything here reads report rows and snapshot artifacts; nothing recomputes
from the prediction log, so a page stays fast however much traffic is logged.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

from storage import monitoring as repo
from storage.artifacts import ArtifactError
from storage.monitoring import MonitorReportPublic
from storage.store import Store
from studio.errors import IntegrityError, NotFound


def list_endpoints(store: Store) -> list[dict]:
    """Every endpoint with its model, last check, status and open alerts."""
    with store.session() as session:
        endpoints = repo.list_monitored_endpoints(session=session)
        checked = repo.latest_report_times(session=session)
        out = []
        for ep in endpoints:
            latest = repo.get_latest_report(session=session, endpoint=ep.name)
            out.append({
                "endpoint": ep.name, "model_version_id": ep.model_version_id,
                "model": (latest.summary.get("model") if latest else None),
                "last_check": checked.get(ep.name),
                "status": latest.status if latest else None,
                "open_alerts": repo.count_open_alerts(session=session, endpoint=ep.name),
            })
    return out


def endpoint_names(store: Store) -> list[str]:
    with store.session() as session:
        return [ep.name for ep in repo.list_monitored_endpoints(session=session)]


def latest_report(store: Store, endpoint: str, window: str | None = None) -> MonitorReportPublic | None:
    with store.session() as session:
        return repo.get_latest_report(session=session, endpoint=endpoint, window=window)


def get_report(store: Store, report_id: int) -> MonitorReportPublic:
    with store.session() as session:
        report = repo.get_report(session=session, report_id=report_id)
    if report is None:
        raise NotFound(f"monitoring report {report_id} does not exist")
    return report


def load_snapshot(store: Store, report: MonitorReportPublic) -> dict:
    """The full report JSON of a stored check (verified against its sha256)."""
    if not report.snapshot_sha:
        raise IntegrityError(f"monitoring report {report.id} has no snapshot")
    try:
        snapshot = json.loads(store.artifacts.read_bytes(report.snapshot_sha))
    except ArtifactError as exc:
        raise IntegrityError(f"monitoring report {report.id}: {exc}") from None
    snapshot["report_id"] = report.id
    snapshot.setdefault("alerts", report.summary.get("alerts", []))
    return snapshot


def history(store: Store, endpoint: str, window: str | None = None, limit: int = 200) -> list[dict]:
    """One row per (check, feature): the drift score by window, oldest first (``at`` is
    the end of the window the check looked at)."""
    with store.session() as session:
        reports = repo.list_reports(session=session, endpoint=endpoint, window=window, limit=limit)
    rows = []
    for report in sorted(reports, key=lambda r: (r.window_end, r.id)):
        at = datetime.fromtimestamp(report.window_end, timezone.utc)
        summary = report.summary
        items = list((summary.get("features") or {}).items())
        if summary.get("prediction"):
            items.append(("(prediction)", summary["prediction"]))
        for feature, values in items:
            rows.append({"at": at, "report_id": report.id, "window": summary.get("window"),
                         "feature": feature, "score": values.get("score"),
                         "status": values.get("status"), "statistic": values.get("statistic")})
    return rows


def report_times(store: Store, endpoint: str, limit: int = 200) -> list[dict]:
    """Recent checks (any window), newest first: id, when, window, status, rows."""
    with store.session() as session:
        reports = repo.list_reports(session=session, endpoint=endpoint, limit=limit)
    return [{"report_id": r.id, "at": r.at, "window": r.summary.get("window"),
             "status": r.status, "rows": r.summary.get("rows"),
             "alerts": len(r.summary.get("alerts") or [])} for r in reports]


def age_seconds(report: MonitorReportPublic, now: datetime | None = None) -> float:
    now = now or datetime.now(timezone.utc)
    at = report.at if report.at.tzinfo else report.at.replace(tzinfo=timezone.utc)
    return (now - at).total_seconds()


def features_table(snapshot: dict) -> list[dict]:
    """The contract's per-feature rows: {feature, status, statistic, score, importance}."""
    return [{"feature": f["feature"], "status": f["status"], "statistic": f["statistic"],
             "score": f["score"], "importance": f["importance"]}
            for f in snapshot.get("features") or []]


def features_rows(snapshot: dict) -> list[dict]:
    """Rows of the drift table, most important feature first, prediction last."""
    rows = []
    items = list(snapshot.get("features") or [])
    if snapshot.get("prediction"):
        items.append({**snapshot["prediction"], "feature": "(prediction)"})
    for f in items:
        th = f.get("thresholds") or {}
        base_missing, missing = f.get("baseline_missing_rate"), f.get("missing_rate")
        rows.append({
            "feature": f["feature"], "status": f["status"],
            "importance": f.get("importance"), "statistic": f["statistic"],
            "score": f.get("score"),
            "thresholds": f"warning ≥ {th.get('warning')}, alert ≥ {th.get('alert')}",
            "PSI": f.get("psi"), "p-value": f.get("p_value"),
            "missing": ("-" if missing is None else
                        f"{(base_missing or 0):.1%} → {missing:.1%}"),
            "new categories": ", ".join(map(str, (f.get("new_categories") or [])[:5])),
            "why": "; ".join(f.get("reasons") or []) or f.get("note") or "",
        })
    return rows


def issues_rows(snapshot: dict) -> list[dict]:
    return [{"feature": i["feature"], "issue": i["label"], "rows": i["count"],
             "share": i["rate"], "≈ in window": i["estimated_rows"],
             "examples": " | ".join(i["examples"])}
            for i in (snapshot.get("data_quality") or {}).get("issues") or []]


def input_columns(store: Store, endpoint: str) -> list[str]:
    """The input columns of the model an endpoint serves (from its baseline), most
    important first; empty when it serves nothing or has no baseline."""
    from studio.monitor.check import _model_and_baseline
    from studio.monitor.importance import feature_importance

    version, baseline, _note = _model_and_baseline(store, endpoint)
    if not baseline:
        return []
    columns = [c["name"] for c in baseline.get("columns") or []
               if (baseline["features"].get(c["name"]) or {}).get("kind")
               in ("numeric", "categorical", "text")]
    importance = feature_importance(version.card if version else {}, columns)
    return sorted(columns, key=lambda c: -importance.get(c, 0.0))
