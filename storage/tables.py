"""All SQLModel tables of the store.

Every schema change ships as an Alembic migration in ``storage/migrations``.
Rows hold artifact hashes (sha256), never paths. JSON columns hold
configuration and summaries whose shape is owned by ``studio/``.

Times are timezone-aware UTC datetimes, except the hot prediction-log path which uses
float epoch seconds (``ts``) so windows aggregate cheaply in SQL.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _json(nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(JSON, nullable=nullable))


# --- data -----------------------------------------------------------------

class Dataset(SQLModel, table=True):
    __tablename__ = "dataset"
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=64)
    description: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class DatasetVersion(SQLModel, table=True):
    __tablename__ = "dataset_version"
    __table_args__ = (UniqueConstraint("dataset_id", "version"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    dataset_id: int = Field(foreign_key="dataset.id", index=True)
    version: int
    data_sha: str = Field(max_length=64)            # Parquet artifact
    rows: int
    cols: int
    schema_: Optional[list] = Field(default=None, sa_column=Column("schema", JSON))
    import_report: Optional[dict] = _json()         # encoding, delimiter, warnings, source
    source_sha: Optional[str] = Field(default=None, max_length=64)   # the file as uploaded
    source_name: Optional[str] = Field(default=None, max_length=255)
    parent_id: Optional[int] = Field(default=None, foreign_key="dataset_version.id")
    recipe: Optional[list] = _json()                # steps that made it from the parent
    profile_sha: Optional[str] = Field(default=None, max_length=64)  # profile JSON artifact
    note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_at: datetime = Field(default_factory=utcnow)


# --- jobs and trials ---------------------------------------------------------

class Job(SQLModel, table=True):
    __tablename__ = "job"
    id: Optional[int] = Field(default=None, primary_key=True)
    kind: str = Field(index=True, max_length=32)    # search, batch_transform, monitor_check
    status: str = Field(index=True, max_length=16)  # queued running succeeded failed cancelled interrupted
    name: str = Field(default="", max_length=128)
    config: Optional[dict] = _json()
    progress: Optional[dict] = _json()
    result: Optional[dict] = _json()
    dataset_version_id: Optional[int] = Field(default=None, foreign_key="dataset_version.id")
    study_name: Optional[str] = Field(default=None, max_length=128)
    error: Optional[str] = Field(default=None, sa_column=Column(Text))
    cancel_requested: bool = False
    pid: Optional[int] = None
    host: Optional[str] = Field(default=None, max_length=255)
    heartbeat_at: Optional[datetime] = None
    attempts: int = 0
    created_at: datetime = Field(default_factory=utcnow, index=True)
    started_at: Optional[datetime] = None
    finished_at: Optional[datetime] = None


class Trial(SQLModel, table=True):
    __tablename__ = "trial"
    __table_args__ = (Index("ix_trial_job_score", "job_id", "score"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    job_id: int = Field(foreign_key="job.id", index=True)
    number: int                                      # order within the job
    optuna_number: Optional[int] = None
    algorithm: str = Field(max_length=64)
    params: Optional[dict] = _json()
    status: str = Field(max_length=16)               # complete pruned failed running
    score: Optional[float] = None                    # CV mean of the job's metric (as reported)
    score_std: Optional[float] = None
    fold_scores: Optional[list] = _json()
    holdout: Optional[dict] = _json()
    fit_time_s: Optional[float] = None
    predict_ms_per_row: Optional[float] = None
    artifact_sha: Optional[str] = Field(default=None, max_length=64)
    oof_sha: Optional[str] = Field(default=None, max_length=64)      # out-of-fold predictions
    extra: Optional[dict] = _json()
    created_at: datetime = Field(default_factory=utcnow)


# --- registry ---------------------------------------------------------------

class Model(SQLModel, table=True):
    __tablename__ = "model"
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=64)
    description: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_at: datetime = Field(default_factory=utcnow)


class ModelVersion(SQLModel, table=True):
    __tablename__ = "model_version"
    __table_args__ = (UniqueConstraint("model_id", "version"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    model_id: int = Field(foreign_key="model.id", index=True)
    version: int
    artifact_sha: str = Field(max_length=64)        # fitted pipeline (joblib)
    card: Optional[dict] = _json()                  # model.json: schema, task, classes, metrics, lineage
    task: str = Field(max_length=16)
    target: str = Field(max_length=255)
    metric: Optional[str] = Field(default=None, max_length=32)
    score: Optional[float] = None
    job_id: Optional[int] = Field(default=None, foreign_key="job.id")
    trial_id: Optional[int] = Field(default=None, foreign_key="trial.id")
    dataset_version_id: Optional[int] = Field(default=None, foreign_key="dataset_version.id")
    baseline_sha: Optional[str] = Field(default=None, max_length=64)  # monitoring baseline JSON
    stage: str = Field(default="none", max_length=16)  # none staging production archived
    notes: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_at: datetime = Field(default_factory=utcnow)


# --- serving ----------------------------------------------------------------

class Endpoint(SQLModel, table=True):
    __tablename__ = "endpoint"
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=64)
    model_version_id: Optional[int] = Field(default=None, foreign_key="model_version.id")
    generation: int = 0                              # bumped on every change; replicas poll it
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class EndpointEvent(SQLModel, table=True):
    __tablename__ = "endpoint_event"
    id: Optional[int] = Field(default=None, primary_key=True)
    endpoint_id: int = Field(foreign_key="endpoint.id", index=True)
    action: str = Field(max_length=16)               # publish rollback unpublish
    model_version_id: Optional[int] = Field(default=None, foreign_key="model_version.id")
    previous_version_id: Optional[int] = None
    actor: str = Field(default="", max_length=128)   # ui, cli, api
    at: datetime = Field(default_factory=utcnow)


class PredictionLog(SQLModel, table=True):
    __tablename__ = "prediction_log"
    __table_args__ = (
        Index("ix_prediction_log_endpoint_ts", "endpoint", "ts"),
        Index("ix_prediction_log_traffic", "endpoint", "ts", "status", "latency_ms", "n_rows"),
    )
    id: Optional[int] = Field(default=None, primary_key=True)
    request_id: str = Field(max_length=64, unique=True)
    endpoint: str = Field(max_length=64)
    model_version_id: Optional[int] = None
    ts: float                                        # epoch seconds
    status: int = 200
    latency_ms: Optional[float] = None
    # One row per request. A request of one row holds that record and its answer; a
    # request of n > 1 rows holds them column-wise ({"columns": {name: [values]}} and
    # {"predictions": [...], "probabilities": [[...]], "classes": [...]}), its predictions
    # answering as request ids "<request_id>-<i>" (see storage.monitoring.expand_log_row).
    n_rows: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    inputs: Optional[dict] = _json()
    outputs: Optional[dict] = _json()
    replica: Optional[str] = Field(default=None, max_length=64)


class Feedback(SQLModel, table=True):
    __tablename__ = "feedback"
    id: Optional[int] = Field(default=None, primary_key=True)
    request_id: str = Field(max_length=64, index=True)    # as the client sent it
    endpoint: str = Field(max_length=64, index=True)
    # the prediction-log row holding that prediction, and its place in a multi-row request
    log_request_id: Optional[str] = Field(default=None, max_length=64, index=True)
    row_index: Optional[int] = None
    actual: Optional[Any] = _json()
    ts: float


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_key"
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(max_length=64)
    prefix: str = Field(max_length=16, index=True)
    key_hash: str = Field(max_length=128)
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: Optional[datetime] = None
    last_used_at: Optional[datetime] = None


# --- monitoring -------------------------------------------------------------

class AlertRule(SQLModel, table=True):
    __tablename__ = "alert_rule"
    id: Optional[int] = Field(default=None, primary_key=True)
    endpoint: str = Field(max_length=64, index=True)
    kind: str = Field(max_length=32)                 # drift missing_rate error_rate latency_p99 quality
    params: Optional[dict] = _json()
    enabled: bool = True
    webhook_url: Optional[str] = Field(default=None, max_length=2048)
    created_at: datetime = Field(default_factory=utcnow)


class MonitorReport(SQLModel, table=True):
    __tablename__ = "monitor_report"
    __table_args__ = (Index("ix_monitor_report_endpoint_at", "endpoint", "at"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    endpoint: str = Field(max_length=64)
    at: datetime = Field(default_factory=utcnow)
    window_start: float
    window_end: float
    status: str = Field(max_length=16)               # ok warning alert
    summary: Optional[dict] = _json()                # small: per-feature scores and statuses
    snapshot_sha: Optional[str] = Field(default=None, max_length=64)  # full report JSON


class Alert(SQLModel, table=True):
    __tablename__ = "alert"
    id: Optional[int] = Field(default=None, primary_key=True)
    endpoint: str = Field(max_length=64, index=True)
    rule_id: Optional[int] = Field(default=None, foreign_key="alert_rule.id")
    report_id: Optional[int] = Field(default=None, foreign_key="monitor_report.id")
    at: datetime = Field(default_factory=utcnow, index=True)
    severity: str = Field(max_length=16)             # warning alert
    message: str = Field(sa_column=Column(Text, nullable=False))
    evidence: Optional[dict] = _json()
    acknowledged_at: Optional[datetime] = None
    acknowledged_by: Optional[str] = Field(default=None, max_length=128)
    webhook_status: Optional[str] = Field(default=None, max_length=255)
