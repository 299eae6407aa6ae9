"""Repository functions for monitoring: alert rules, reports, alerts, and the
SQL aggregations over ``prediction_log`` and ``feedback``.

The aggregations never bring every logged row into Python: traffic is grouped
in SQL by time bucket (with a log-scale latency histogram for percentiles),
inputs for drift are a bounded, evenly spread sample of the window, and
feedback is joined to its predictions in SQL with a row limit. They work on
SQLite (with its math functions) and PostgreSQL alike.
"""
from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Optional

import orjson
from sqlalchemy import Integer, Text, and_, case, cast, func, type_coerce, update
from sqlmodel import Session, SQLModel, select

from storage.tables import (Alert, AlertRule, Endpoint, Feedback, MonitorReport, PredictionLog,
                            utcnow)

# Latency histogram resolution: bin = floor(ln(ms) * LAT_BINS_PER_E); 20 → ~5% wide bins.
LAT_BINS_PER_E = 20


# --- public shapes --------------------------------------------------------------

class AlertRulePublic(SQLModel):
    id: int
    endpoint: str
    kind: str
    params: dict = {}
    enabled: bool = True
    webhook_url: Optional[str] = None
    created_at: datetime


class MonitorReportPublic(SQLModel):
    id: int
    endpoint: str
    at: datetime
    window_start: float
    window_end: float
    status: str
    summary: dict = {}
    snapshot_sha: Optional[str] = None


class AlertPublic(SQLModel):
    id: int
    endpoint: str
    rule_id: Optional[int] = None
    report_id: Optional[int] = None
    at: datetime
    severity: str
    message: str
    evidence: dict = {}
    acknowledged_at: Optional[datetime] = None
    acknowledged_by: Optional[str] = None
    webhook_status: Optional[str] = None


class MonitoredEndpoint(SQLModel):
    name: str
    model_version_id: Optional[int] = None


def _rule(row: AlertRule) -> AlertRulePublic:
    data = row.model_dump()
    data["params"] = data["params"] or {}
    return AlertRulePublic(**data)


def _report(row: MonitorReport) -> MonitorReportPublic:
    data = row.model_dump()
    data["summary"] = data["summary"] or {}
    return MonitorReportPublic(**data)


def _alert(row: Alert) -> AlertPublic:
    data = row.model_dump()
    data["evidence"] = data["evidence"] or {}
    return AlertPublic(**data)


# --- endpoints --------------------------------------------------------------------

def list_monitored_endpoints(*, session: Session) -> list[MonitoredEndpoint]:
    rows = session.exec(select(Endpoint).order_by(Endpoint.name)).all()
    return [MonitoredEndpoint(name=r.name, model_version_id=r.model_version_id) for r in rows]


def get_monitored_endpoint(*, session: Session, name: str) -> Optional[MonitoredEndpoint]:
    row = session.exec(select(Endpoint).where(Endpoint.name == name)).first()
    return MonitoredEndpoint(name=row.name, model_version_id=row.model_version_id) if row else None


def endpoint_has_logs(*, session: Session, endpoint: str) -> bool:
    """Whether the prediction log has rows for ``endpoint`` (it may be gone from the endpoint table)."""
    return session.exec(select(PredictionLog.id).where(PredictionLog.endpoint == endpoint)
                        .limit(1)).first() is not None


# --- alert rules ------------------------------------------------------------------

def create_alert_rule(*, session: Session, endpoint: str, kind: str, params: dict,
                      enabled: bool = True, webhook_url: str | None = None) -> AlertRulePublic:
    row = AlertRule(endpoint=endpoint, kind=kind, params=params, enabled=enabled,
                    webhook_url=webhook_url)
    session.add(row)
    session.flush()
    return _rule(row)


def list_alert_rules(*, session: Session, endpoint: str) -> list[AlertRulePublic]:
    rows = session.exec(select(AlertRule).where(AlertRule.endpoint == endpoint)
                        .order_by(AlertRule.id)).all()
    return [_rule(r) for r in rows]


def get_alert_rule(*, session: Session, rule_id: int) -> Optional[AlertRulePublic]:
    row = session.get(AlertRule, rule_id)
    return _rule(row) if row else None


def update_alert_rule(*, session: Session, rule_id: int, **values: Any) -> Optional[AlertRulePublic]:
    row = session.get(AlertRule, rule_id)
    if row is None:
        return None
    for key, value in values.items():
        setattr(row, key, value)
    session.add(row)
    session.flush()
    return _rule(row)


def delete_alert_rule(*, session: Session, rule_id: int) -> bool:
    row = session.get(AlertRule, rule_id)
    if row is None:
        return False
    # Alerts keep their history; they just no longer point at the rule.
    session.exec(update(Alert).where(Alert.rule_id == rule_id).values(rule_id=None))
    session.delete(row)
    session.flush()
    return True


# --- reports ----------------------------------------------------------------------

def create_monitor_report(*, session: Session, endpoint: str, window_start: float,
                          window_end: float, status: str, summary: dict,
                          snapshot_sha: str | None) -> MonitorReportPublic:
    row = MonitorReport(endpoint=endpoint, window_start=window_start, window_end=window_end,
                        status=status, summary=summary, snapshot_sha=snapshot_sha)
    session.add(row)
    session.flush()
    return _report(row)


def _window_filter(query, window: str | None):
    if window:
        query = query.where(MonitorReport.summary["window"].as_string() == window)
    return query


def get_latest_report(*, session: Session, endpoint: str,
                      window: str | None = None) -> Optional[MonitorReportPublic]:
    query = select(MonitorReport).where(MonitorReport.endpoint == endpoint)
    query = _window_filter(query, window).order_by(MonitorReport.at.desc(), MonitorReport.id.desc())
    row = session.exec(query.limit(1)).first()
    return _report(row) if row else None


def get_report(*, session: Session, report_id: int) -> Optional[MonitorReportPublic]:
    row = session.get(MonitorReport, report_id)
    return _report(row) if row else None


def list_reports(*, session: Session, endpoint: str, window: str | None = None,
                 limit: int = 200) -> list[MonitorReportPublic]:
    """Newest first."""
    query = select(MonitorReport).where(MonitorReport.endpoint == endpoint)
    query = _window_filter(query, window).order_by(MonitorReport.at.desc(), MonitorReport.id.desc())
    return [_report(r) for r in session.exec(query.limit(limit)).all()]


def latest_report_times(*, session: Session) -> dict[str, datetime]:
    """When each endpoint was last checked (any window)."""
    rows = session.exec(select(MonitorReport.endpoint, func.max(MonitorReport.at))
                        .group_by(MonitorReport.endpoint)).all()
    return {endpoint: at for endpoint, at in rows}


# --- alerts -----------------------------------------------------------------------

def create_alert(*, session: Session, endpoint: str, rule_id: int | None, report_id: int | None,
                 severity: str, message: str, evidence: dict) -> AlertPublic:
    row = Alert(endpoint=endpoint, rule_id=rule_id, report_id=report_id, severity=severity,
                message=message, evidence=evidence)
    session.add(row)
    session.flush()
    return _alert(row)


def get_alert(*, session: Session, alert_id: int) -> Optional[AlertPublic]:
    row = session.get(Alert, alert_id)
    return _alert(row) if row else None


def list_alerts(*, session: Session, endpoint: str | None = None, open_only: bool = False,
                limit: int = 200) -> list[AlertPublic]:
    """Newest first."""
    query = select(Alert)
    if endpoint:
        query = query.where(Alert.endpoint == endpoint)
    if open_only:
        query = query.where(Alert.acknowledged_at.is_(None))
    rows = session.exec(query.order_by(Alert.at.desc(), Alert.id.desc()).limit(limit)).all()
    return [_alert(r) for r in rows]


def get_open_alert_for_rule(*, session: Session, rule_id: int) -> Optional[AlertPublic]:
    row = session.exec(select(Alert).where(Alert.rule_id == rule_id,
                                           Alert.acknowledged_at.is_(None))
                       .order_by(Alert.id.desc()).limit(1)).first()
    return _alert(row) if row else None


def count_open_alerts(*, session: Session, endpoint: str | None = None) -> int:
    query = select(func.count(Alert.id)).where(Alert.acknowledged_at.is_(None))
    if endpoint:
        query = query.where(Alert.endpoint == endpoint)
    return int(session.exec(query).one())


def acknowledge_alert(*, session: Session, alert_id: int, by: str) -> Optional[AlertPublic]:
    row = session.get(Alert, alert_id)
    if row is None:
        return None
    if row.acknowledged_at is None:  # the first acknowledgement is the one kept
        row.acknowledged_at = utcnow()
        row.acknowledged_by = by[:128]
        session.add(row)
        session.flush()
    return _alert(row)


def set_alert_webhook_status(*, session: Session, alert_id: int, status: str) -> None:
    row = session.get(Alert, alert_id)
    if row is not None:
        row.webhook_status = status[:255]
        session.add(row)


# --- aggregations over the prediction log -----------------------------------------

def _raw(column):
    """A JSON column read as its text, decoded by :func:`_loads` (orjson: several times
    faster than the JSON type's json.loads on the tens of thousands of rows a check reads)."""
    return type_coerce(column, Text)


def _loads(text):
    if text is None:
        return None
    if not isinstance(text, (str, bytes)):
        # already a value: a driver that decodes JSON itself (PostgreSQL), or SQLite's
        # numeric affinity turning the JSON text '1' into the number 1
        return text
    return orjson.loads(text)


def _in_window(endpoint: str, start: float, end: float):
    return and_(PredictionLog.endpoint == endpoint, PredictionLog.ts >= start,
                PredictionLog.ts < end)


def count_predictions(*, session: Session, endpoint: str, start: float, end: float) -> int:
    return int(session.exec(select(func.count(PredictionLog.id))
                            .where(_in_window(endpoint, start, end))).one())


def sample_predictions(*, session: Session, endpoint: str, start: float, end: float,
                       limit: int, total: int | None = None) -> list[dict]:
    """At most about ``limit`` rows of the window, evenly spread over it.

    Rows are picked by id stride (``id % k == 0``), which the (endpoint, ts)
    index answers without reading the skipped rows' JSON.
    """
    if total is None:
        total = count_predictions(session=session, endpoint=endpoint, start=start, end=end)
    if total == 0:
        return []
    stride = max(1, math.ceil(total / max(limit, 1)))
    query = select(PredictionLog.request_id, PredictionLog.ts, PredictionLog.status,
                   PredictionLog.model_version_id, _raw(PredictionLog.inputs),
                   _raw(PredictionLog.outputs)).where(_in_window(endpoint, start, end))
    if stride > 1:
        query = query.where(PredictionLog.id % stride == 0)
    rows = session.exec(query.limit(limit + stride)).all()
    return [{"request_id": rid, "ts": ts, "status": status, "model_version_id": mv,
             "inputs": _loads(inputs), "outputs": _loads(outputs)}
            for rid, ts, status, mv, inputs, outputs in rows]


def feedback_for_requests(*, session: Session, endpoint: str,
                          request_ids: list[str]) -> dict[str, object]:
    """{request id: actual} for those of ``request_ids`` with feedback (the newest wins)."""
    found: dict[str, object] = {}
    for i in range(0, len(request_ids), 500):
        chunk = request_ids[i:i + 500]
        # Only the request-id index is usable here (an endpoint filter in SQL can lead
        # SQLite's planner to scan the endpoint's whole feedback once per chunk).
        rows = session.exec(select(Feedback.request_id, Feedback.endpoint, Feedback.id,
                                   _raw(Feedback.actual))
                            .where(Feedback.request_id.in_(chunk))).all()
        for rid, ep, _id, actual in sorted(rows, key=lambda r: r[2]):
            if ep == endpoint:
                found[rid] = _loads(actual)
    return found


_FLOOR_OFFSET = 1_000_000


def _floor_int(expr, sqlite: bool):
    """floor(expr) as an integer. On SQLite, SQLAlchemy replaces the built-in floor() with a
    Python function (slow on a million rows, and failing on NULL), so truncate instead, shifted
    to make it a floor for values above -_FLOOR_OFFSET; PostgreSQL's CAST rounds, so floor()."""
    if sqlite:
        return cast(expr + _FLOOR_OFFSET, Integer) - _FLOOR_OFFSET
    return cast(func.floor(expr), Integer)


def traffic_histogram(*, session: Session, endpoint: str, start: float, end: float,
                      bucket_s: float) -> list[dict]:
    """Per time bucket and latency bin: rows, 4xx, 5xx.

    One pass over the window; ``bucket`` is ``floor(ts / bucket_s)`` and
    ``lat_bin`` is ``floor(ln(latency_ms) * LAT_BINS_PER_E)`` (None when no latency).
    """
    sqlite = session.get_bind().dialect.name == "sqlite"
    bucket = _floor_int(PredictionLog.ts / bucket_s, sqlite).label("bucket")
    # Latencies under 1 µs share the lowest bin; a row without latency has no bin.
    latency = case((PredictionLog.latency_ms > 0.001, PredictionLog.latency_ms),
                   (PredictionLog.latency_ms.is_not(None), 0.001), else_=None)
    lat_bin = _floor_int(func.ln(latency) * LAT_BINS_PER_E, sqlite).label("lat_bin")
    is_4xx = func.sum(case((and_(PredictionLog.status >= 400, PredictionLog.status < 500), 1),
                           else_=0))
    is_5xx = func.sum(case((PredictionLog.status >= 500, 1), else_=0))
    query = (select(bucket, lat_bin, func.count(PredictionLog.id), is_4xx, is_5xx)
             .where(_in_window(endpoint, start, end))
             .group_by(bucket, lat_bin))
    return [{"bucket": int(b), "lat_bin": None if lb is None else int(lb), "rows": int(n),
             "errors_4xx": int(e4 or 0), "errors_5xx": int(e5 or 0)}
            for b, lb, n, e4, e5 in session.exec(query).all()]


def _labelled_in_window(endpoint: str, start: float, end: float):
    """Feedback rows of ``endpoint`` whose prediction falls in the window.

    Driven from the feedback side (a label arrives after its prediction, so
    ``Feedback.ts >= start``), each row checking its prediction by the unique
    request-id index: cost grows with the labels, not with the whole log.
    """
    prediction = (select(PredictionLog.id)
                  .where(PredictionLog.request_id == Feedback.request_id,
                         _in_window(endpoint, start, end), PredictionLog.status < 400)
                  .exists())
    return and_(Feedback.endpoint == endpoint, Feedback.ts >= start, prediction)


def count_feedback(*, session: Session, endpoint: str, start: float, end: float) -> int:
    """Predictions in the window that have at least one feedback row."""
    query = (select(func.count(func.distinct(Feedback.request_id)))
             .where(_labelled_in_window(endpoint, start, end)))
    return int(session.exec(query).one())


def feedback_pairs(*, session: Session, endpoint: str, start: float, end: float,
                   limit: int = 50_000, total: int | None = None) -> list[dict]:
    """At most about ``limit`` (prediction, actual) pairs of the window, evenly spread
    (feedback id stride), each with its request id so repeats can be dropped."""
    if total is None:
        total = count_feedback(session=session, endpoint=endpoint, start=start, end=end)
    if total == 0:
        return []
    stride = max(1, math.ceil(total / max(limit, 1)))
    query = (select(PredictionLog.ts, _raw(PredictionLog.outputs), _raw(Feedback.actual),
                    Feedback.request_id)
             .join(PredictionLog, PredictionLog.request_id == Feedback.request_id)
             .where(Feedback.endpoint == endpoint, Feedback.ts >= start,
                    _in_window(endpoint, start, end), PredictionLog.status < 400))
    if stride > 1:
        query = query.where(Feedback.id % stride == 0)
    query = query.order_by(Feedback.id.desc()).limit(limit + stride)
    return [{"ts": ts, "outputs": _loads(outputs), "actual": _loads(actual), "request_id": rid}
            for ts, outputs, actual, rid in session.exec(query).all()]


def last_prediction_ts(*, session: Session, endpoint: str) -> Optional[float]:
    return session.exec(select(func.max(PredictionLog.ts))
                        .where(PredictionLog.endpoint == endpoint)).one()


def count_logged_request_ids(*, session: Session, request_ids: list[str]) -> int:
    """How many of ``request_ids`` are already in the prediction log (flushes are async)."""
    total = 0
    for i in range(0, len(request_ids), 500):
        chunk = request_ids[i:i + 500]
        total += int(session.exec(select(func.count(PredictionLog.id))
                                  .where(PredictionLog.request_id.in_(chunk))).one())
    return total


def add_prediction_logs(*, session: Session, rows: list[dict]) -> int:
    """Insert prediction-log rows as given (tests, benchmarks and imports of old logs)."""
    session.bulk_insert_mappings(PredictionLog, rows)
    return len(rows)


def add_feedback(*, session: Session, rows: list[dict]) -> int:
    session.bulk_insert_mappings(Feedback, rows)
    return len(rows)




def update_monitor_report(*, session: Session, report_id: int,
                          summary: dict) -> Optional[MonitorReportPublic]:
    row = session.get(MonitorReport, report_id)
    if row is None:
        return None
    row.summary = summary
    session.add(row)
    session.flush()
    return _report(row)


def detach_old_snapshots(*, session: Session, endpoint: str, before: datetime,
                         limit: int = 500) -> list[str]:
    """Unlink snapshots of reports older than ``before`` (their summary rows stay, so the
    drift-over-time history keeps every check); returns the hashes no row uses any more."""
    rows = session.exec(select(MonitorReport)
                        .where(MonitorReport.endpoint == endpoint, MonitorReport.at < before,
                               MonitorReport.snapshot_sha.is_not(None))
                        .order_by(MonitorReport.id).limit(limit)).all()
    shas = {row.snapshot_sha for row in rows}
    for row in rows:
        row.snapshot_sha = None
        session.add(row)
    session.flush()
    if not shas:
        return []
    still = set(session.exec(select(MonitorReport.snapshot_sha)
                             .where(MonitorReport.snapshot_sha.in_(shas))).all())
    return sorted(shas - still)
