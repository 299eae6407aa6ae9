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
from sqlalchemy import Integer, Text, and_, case, cast, func, update
from sqlmodel import Session, SQLModel, select

from storage.capture import is_reference
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
    faster than the JSON type's json.loads on the tens of thousands of rows a check reads).

    A cast in SQL, not only in SQLAlchemy: PostgreSQL's driver decodes ``json`` values
    itself, and a decoded JSON string (a label such as ``"yes"``) is no longer JSON text."""
    return cast(column, Text)


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


def expand_log_row(request_id: str, n_rows: int, inputs: Any, outputs: Any,
                   indices: range | list[int] | None = None) -> list[tuple[str, Any, Any]]:
    """One prediction-log row → [(request id, record, output)] per prediction it holds.

    A single-row request is its own record and answer; a multi-row request holds its
    inputs column-wise, ``{"columns": {name: [values]}}`` (or ``{"rows": [records]}``),
    and ``{"predictions": [...], "probabilities": [[...]], "classes": [...]}``, its
    predictions known as ``"<request_id>-<i>"``.
    """
    if (n_rows or 1) <= 1:
        return [(request_id, inputs, outputs)]
    rows = None
    if isinstance(inputs, dict):
        rows = inputs.get("rows")
        columns = inputs.get("columns")
        if rows is None and isinstance(columns, dict):
            names = list(columns)
            rows = [dict(zip(names, values)) for values in zip(*columns.values())] \
                if names else [{} for _ in range(n_rows)]
    outs = outputs if isinstance(outputs, dict) else {}
    predictions = outs.get("predictions")
    probabilities, classes = outs.get("probabilities"), outs.get("classes")
    if indices is None:
        indices = range(n_rows)
    expanded = []
    for i in indices:
        record = rows[i] if rows is not None and i < len(rows) else None
        if predictions is None or i >= len(predictions):
            answer = outs.get("error") and {"error": outs["error"]}
        else:
            answer = {"prediction": predictions[i]}
            if probabilities is not None and classes is not None:
                answer["probabilities"] = dict(zip(classes, probabilities[i]))
        expanded.append((f"{request_id}-{i}", record, answer))
    return expanded


def window_counts(*, session: Session, endpoint: str, start: float,
                  end: float) -> tuple[int, int]:
    """(log rows, predictions) of the window, from the covering traffic index."""
    rows, predictions = session.exec(
        select(func.count(PredictionLog.id), func.coalesce(func.sum(PredictionLog.n_rows), 0))
        .where(_in_window(endpoint, start, end))).one()
    return int(rows), int(predictions)


def count_predictions(*, session: Session, endpoint: str, start: float, end: float) -> int:
    """Predictions logged in the window (a request of n rows counts n)."""
    return window_counts(session=session, endpoint=endpoint, start=start, end=end)[1]


def resolve_inputs(value: Any, captures) -> Any:
    """A row's inputs, read from its capture file when the row holds a reference."""
    if is_reference(value):
        return captures.load(value) if captures is not None else None
    return value


def sample_predictions(*, session: Session, endpoint: str, start: float, end: float,
                       limit: int, counts: tuple[int, int] | None = None,
                       captures=None) -> list[dict]:
    """At most about ``limit`` predictions of the window, evenly spread over it.

    Log rows are picked by id stride (``id % k == 0``), which the (endpoint, ts)
    index answers without reading the skipped rows' JSON; a multi-row request
    picked is expanded into its predictions (evenly thinned when it alone holds
    more than the sample wants). ``counts``: the window's ``window_counts`` when the
    caller has them already. ``captures`` (``Store.captures``) reads the inputs of
    rows that keep them in a capture file; without it those inputs are None.
    """
    log_rows, predictions = counts or window_counts(session=session, endpoint=endpoint,
                                                    start=start, end=end)
    if predictions == 0:
        return []
    per_row = predictions / log_rows
    wanted_rows = max(1.0, limit / per_row)
    stride = max(1, math.ceil(log_rows / wanted_rows))
    query = select(PredictionLog.request_id, PredictionLog.ts, PredictionLog.status,
                   PredictionLog.model_version_id, PredictionLog.n_rows,
                   _raw(PredictionLog.inputs), _raw(PredictionLog.outputs)
                   ).where(_in_window(endpoint, start, end))
    if stride > 1:
        query = query.where(PredictionLog.id % stride == 0)
    fetched = session.exec(query.limit(math.ceil(wanted_rows) + stride)).all()
    # thin inside big requests so the sample stays about ``limit`` predictions
    step = max(1, math.ceil(sum(r[4] or 1 for r in fetched) / max(limit, 1)))
    out = []
    for rid, ts, status, mv, n_rows, inputs, outputs in fetched:
        n_rows = n_rows or 1
        indices = range(0, n_rows, step) if n_rows > 1 else None
        record_inputs = resolve_inputs(_loads(inputs), captures)
        for pid, record, answer in expand_log_row(rid, n_rows, record_inputs, _loads(outputs),
                                                  indices):
            out.append({"request_id": pid, "ts": ts, "status": status, "model_version_id": mv,
                        "inputs": record, "outputs": answer})
    return out


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
    """Per time bucket and latency bin: requests (``rows``), 4xx, 5xx, and the predictions
    answered (a request of n rows answers n).

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
    answered = func.sum(case((PredictionLog.status < 400, PredictionLog.n_rows), else_=0))
    query = (select(bucket, lat_bin, func.count(PredictionLog.id), is_4xx, is_5xx, answered)
             .where(_in_window(endpoint, start, end))
             .group_by(bucket, lat_bin))
    return [{"bucket": int(b), "lat_bin": None if lb is None else int(lb), "rows": int(n),
             "errors_4xx": int(e4 or 0), "errors_5xx": int(e5 or 0),
             "predictions": int(p or 0)}
            for b, lb, n, e4, e5, p in session.exec(query).all()]


def _labelled_in_window(endpoint: str, start: float, end: float):
    """Feedback rows of ``endpoint`` whose prediction falls in the window.

    Driven from the feedback side (a label arrives after its prediction, so
    ``Feedback.ts >= start``), each row checking its prediction by the unique
    request-id index: cost grows with the labels, not with the whole log.
    """
    prediction = (select(PredictionLog.id)
                  .where(PredictionLog.request_id == Feedback.log_request_id,
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
    (feedback id stride), each with its request id so repeats can be dropped.

    Predictions of multi-row requests are read once per log row (not once per label)
    and picked out by the feedback's ``row_index``."""
    if total is None:
        total = count_feedback(session=session, endpoint=endpoint, start=start, end=end)
    if total == 0:
        return []
    stride = max(1, math.ceil(total / max(limit, 1)))
    single = case((PredictionLog.n_rows <= 1, _raw(PredictionLog.outputs)), else_=None)
    query = (select(PredictionLog.ts, PredictionLog.n_rows, single, _raw(Feedback.actual),
                    Feedback.request_id, Feedback.log_request_id, Feedback.row_index)
             .join(PredictionLog, PredictionLog.request_id == Feedback.log_request_id)
             .where(Feedback.endpoint == endpoint, Feedback.ts >= start,
                    _in_window(endpoint, start, end), PredictionLog.status < 400))
    if stride > 1:
        query = query.where(Feedback.id % stride == 0)
    query = query.order_by(Feedback.id.desc()).limit(limit + stride)
    fetched = session.exec(query).all()
    multi = sorted({log_id for _ts, n, _o, _a, _r, log_id, _i in fetched if (n or 1) > 1})
    outputs: dict[str, Any] = {}
    for i in range(0, len(multi), 200):
        for log_id, out in session.exec(
                select(PredictionLog.request_id, _raw(PredictionLog.outputs))
                .where(PredictionLog.request_id.in_(multi[i:i + 200]))).all():
            outputs[log_id] = _loads(out)
    pairs = []
    for ts, n_rows, out, actual, rid, log_id, index in fetched:
        if (n_rows or 1) > 1:
            if index is None:
                continue
            expanded = expand_log_row(log_id, n_rows, None, outputs.get(log_id), [index])
            answer = expanded[0][2]
        else:
            answer = _loads(out)
        pairs.append({"ts": ts, "outputs": answer, "actual": _loads(actual), "request_id": rid})
    return pairs


def last_prediction_ts(*, session: Session, endpoint: str) -> Optional[float]:
    return session.exec(select(func.max(PredictionLog.ts))
                        .where(PredictionLog.endpoint == endpoint)).one()


def count_logged_request_ids(*, session: Session, request_ids: list[str]) -> int:
    """How many of ``request_ids`` (single-row ids or ``"<id>-<i>"`` of a multi-row
    request) are already in the prediction log (flushes are async)."""
    from storage.serving import locate_request_ids

    return len(locate_request_ids(session=session, endpoint=None, request_ids=request_ids))


def add_prediction_logs(*, session: Session, rows: list[dict]) -> int:
    """Insert prediction-log rows as given (tests, benchmarks and imports of old logs)."""
    session.bulk_insert_mappings(PredictionLog, rows)
    return len(rows)


def add_feedback(*, session: Session, rows: list[dict]) -> int:
    """Insert feedback rows as given; a row without ``log_request_id`` belongs to the
    single-row request of the same id."""
    rows = [r if r.get("log_request_id") else {**r, "log_request_id": r["request_id"]}
            for r in rows]
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


# --- retention ------------------------------------------------------------------------

def prune_logs_before(*, session_factory, before: float, batch: int = 5_000) -> dict[str, int]:
    """Delete prediction-log and feedback rows older than ``before`` (epoch seconds), a
    batch per transaction (``session_factory()`` gives a committing session context), so
    a long prune never holds the store's write lock for long. Returns rows deleted."""
    from sqlmodel import delete

    with session_factory() as session:
        endpoints = list(session.exec(select(PredictionLog.endpoint).distinct()).all())
    logs = 0
    for endpoint in endpoints:  # per endpoint: the (endpoint, ts) index finds the rows
        while True:
            with session_factory() as session:
                ids = list(session.exec(
                    select(PredictionLog.id).where(PredictionLog.endpoint == endpoint,
                                                   PredictionLog.ts < before).limit(batch)).all())
                if ids:
                    session.exec(delete(PredictionLog).where(PredictionLog.id.in_(ids)))
            logs += len(ids)
            if len(ids) < batch:
                break
    with session_factory() as session:
        result = session.exec(delete(Feedback).where(Feedback.ts < before))
        feedback = int(result.rowcount or 0)
    return {"prediction_logs": logs, "feedback": feedback}
