"""Repository functions for jobs and trials."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Optional

from sqlalchemy import func, update
from sqlmodel import Session, SQLModel, select

from storage.db import lock_rows
from storage.tables import Job, Trial, utcnow

ACTIVE = ("queued", "running")
FINISHED = ("succeeded", "failed", "cancelled", "interrupted")


class JobPublic(SQLModel):
    id: int
    kind: str
    status: str
    name: str
    config: dict = {}
    progress: dict = {}
    result: dict = {}
    dataset_version_id: Optional[int] = None
    study_name: Optional[str] = None
    error: Optional[str] = None
    cancel_requested: bool = False
    pid: Optional[int] = None
    host: Optional[str] = None
    heartbeat_at: Optional[datetime] = None
    attempts: int = 0
    created_at: datetime
    started_at: Optional[datetime] = None
    finished_at: Optional[datetime] = None


class TrialPublic(SQLModel):
    id: int
    job_id: int
    number: int
    optuna_number: Optional[int] = None
    algorithm: str
    params: dict = {}
    status: str
    score: Optional[float] = None
    score_std: Optional[float] = None
    fold_scores: list = []
    holdout: dict = {}
    fit_time_s: Optional[float] = None
    predict_ms_per_row: Optional[float] = None
    artifact_sha: Optional[str] = None
    oof_sha: Optional[str] = None
    extra: dict = {}
    created_at: datetime


def _job_public(row: Job) -> JobPublic:
    data = row.model_dump()
    for key in ("config", "progress", "result"):
        data[key] = data[key] or {}
    return JobPublic(**data)


def _trial_public(row: Trial) -> TrialPublic:
    data = row.model_dump()
    for key in ("params", "holdout", "extra"):
        data[key] = data[key] or {}
    data["fold_scores"] = data["fold_scores"] or []
    return TrialPublic(**data)


def create_job(
    *, session: Session, kind: str, config: dict, name: str = "",
    dataset_version_id: int | None = None, study_name: str | None = None,
) -> JobPublic:
    row = Job(kind=kind, status="queued", name=name, config=config, progress={},
              result={}, dataset_version_id=dataset_version_id, study_name=study_name)
    session.add(row)
    session.flush()
    return _job_public(row)


def get_job(*, session: Session, job_id: int) -> Optional[JobPublic]:
    row = session.get(Job, job_id)
    return _job_public(row) if row else None


def list_jobs(
    *, session: Session, kind: str | None = None, status: str | None = None,
    limit: int = 100, offset: int = 0,
) -> list[JobPublic]:
    query = select(Job)
    if kind:
        query = query.where(Job.kind == kind)
    if status:
        query = query.where(Job.status == status)
    rows = session.exec(query.order_by(Job.id.desc()).offset(offset).limit(limit)).all()
    return [_job_public(r) for r in rows]


def claim_job(*, session: Session, job_id: int, pid: int, host: str) -> bool:
    """Atomically move a queued job to running for this process."""
    now = utcnow()
    result = session.exec(
        update(Job)
        .where(Job.id == job_id, Job.status == "queued")
        .values(status="running", pid=pid, host=host, started_at=now, heartbeat_at=now,
                attempts=Job.attempts + 1, error=None, finished_at=None)
    )
    return result.rowcount == 1


def next_queued_job_id(*, session: Session, kinds: list[str] | None = None) -> Optional[int]:
    query = select(Job.id).where(Job.status == "queued")
    if kinds:
        query = query.where(Job.kind.in_(kinds))
    return session.exec(query.order_by(Job.id).limit(1)).first()


def heartbeat(*, session: Session, job_id: int, progress: dict | None = None) -> bool:
    """Record liveness (and progress); returns whether cancel was requested."""
    values: dict[str, Any] = {"heartbeat_at": utcnow()}
    if progress is not None:
        values["progress"] = progress
    session.exec(update(Job).where(Job.id == job_id, Job.status == "running").values(**values))
    flag = session.exec(select(Job.cancel_requested).where(Job.id == job_id)).first()
    return bool(flag)


def finish_job(
    *, session: Session, job_id: int, status: str, result: dict | None = None,
    error: str | None = None, progress: dict | None = None,
) -> None:
    values: dict[str, Any] = {"status": status, "finished_at": utcnow(), "error": error}
    if result is not None:
        values["result"] = result
    if progress is not None:
        values["progress"] = progress
    session.exec(update(Job).where(Job.id == job_id).values(**values))


def request_cancel(*, session: Session, job_id: int) -> Optional[str]:
    """Ask a job to stop; a queued job is cancelled at once. Returns the new status."""
    row = session.get(Job, job_id)
    if row is None:
        return None
    if row.status == "queued":
        row.status, row.finished_at, row.cancel_requested = "cancelled", utcnow(), True
    elif row.status == "running":
        row.cancel_requested = True
    session.add(row)
    return row.status


def requeue_job(*, session: Session, job_id: int) -> bool:
    """Put an interrupted, failed or cancelled job back in the queue (resume)."""
    result = session.exec(
        update(Job)
        .where(Job.id == job_id, Job.status.in_(("interrupted", "failed", "cancelled")))
        .values(status="queued", cancel_requested=False, finished_at=None, error=None)
    )
    return result.rowcount == 1


def mark_stale_jobs(*, session: Session, older_than: timedelta) -> list[int]:
    """Running jobs whose heartbeat stopped are interrupted, not running forever."""
    cutoff = utcnow() - older_than
    ids = session.exec(
        select(Job.id).where(Job.status == "running", Job.heartbeat_at < cutoff)
    ).all()
    if ids:
        session.exec(
            update(Job).where(Job.id.in_(ids), Job.status == "running")
            .values(status="interrupted", finished_at=utcnow(),
                    error="the worker stopped sending heartbeats (killed or machine restarted)")
        )
    return list(ids)


def mark_job_interrupted(*, session: Session, job_id: int, reason: str) -> None:
    session.exec(
        update(Job).where(Job.id == job_id, Job.status == "running")
        .values(status="interrupted", finished_at=utcnow(), error=reason)
    )


def update_job_fields(*, session: Session, job_id: int, **values: Any) -> None:
    session.exec(update(Job).where(Job.id == job_id).values(**values))


# --- trials -------------------------------------------------------------------

def add_trial(*, session: Session, job_id: int, **fields: Any) -> TrialPublic:
    lock_rows(session, Job, Job.id == job_id)  # concurrent trials of a job: distinct numbers
    number = session.exec(
        select(func.coalesce(func.max(Trial.number), 0)).where(Trial.job_id == job_id)
    ).one()
    row = Trial(job_id=job_id, number=number + 1, **fields)
    session.add(row)
    session.flush()
    return _trial_public(row)


def update_trial(*, session: Session, trial_id: int, **values: Any) -> None:
    session.exec(update(Trial).where(Trial.id == trial_id).values(**values))


def get_trial(*, session: Session, trial_id: int) -> Optional[TrialPublic]:
    row = session.get(Trial, trial_id)
    return _trial_public(row) if row else None


def list_trials(
    *, session: Session, job_id: int, order_by_score: bool = True, higher_is_better: bool = True,
    status: str | None = None, algorithm: str | None = None, limit: int = 50, offset: int = 0,
) -> list[TrialPublic]:
    query = select(Trial).where(Trial.job_id == job_id)
    if status:
        query = query.where(Trial.status == status)
    if algorithm:
        query = query.where(Trial.algorithm == algorithm)
    if order_by_score:
        nulls_last = Trial.score.is_(None)
        order = Trial.score.desc() if higher_is_better else Trial.score.asc()
        query = query.order_by(nulls_last, order, Trial.number)
    else:
        query = query.order_by(Trial.number)
    rows = session.exec(query.offset(offset).limit(limit)).all()
    return [_trial_public(r) for r in rows]


def count_trials(*, session: Session, job_id: int, status: str | None = None) -> int:
    query = select(func.count(Trial.id)).where(Trial.job_id == job_id)
    if status:
        query = query.where(Trial.status == status)
    return session.exec(query).one()


# --- queries for the leaderboard and the training history (AutoML) --------------------

TRIAL_SORTS = ("score", "number", "fit_time", "predict_time")


def list_trials_sorted(
    *, session: Session, job_id: int, sort: str = "score", higher_is_better: bool = True,
    descending: bool | None = None, status: str | None = None, algorithm: str | None = None,
    limit: int = 50, offset: int = 0,
) -> list[TrialPublic]:
    """One page of a job's trials; ``sort`` is score (best first), number, fit_time or predict_time."""
    if sort == "score":
        return list_trials(session=session, job_id=job_id, higher_is_better=higher_is_better,
                           status=status, algorithm=algorithm, limit=limit, offset=offset)
    column = {"number": Trial.number, "fit_time": Trial.fit_time_s,
              "predict_time": Trial.predict_ms_per_row}.get(sort, Trial.number)
    query = select(Trial).where(Trial.job_id == job_id)
    if status:
        query = query.where(Trial.status == status)
    if algorithm:
        query = query.where(Trial.algorithm == algorithm)
    desc = (sort == "number") if descending is None else descending
    query = query.order_by(column.is_(None), column.desc() if desc else column.asc(), Trial.number)
    return [_trial_public(r) for r in session.exec(query.offset(offset).limit(limit)).all()]


def count_trials_filtered(*, session: Session, job_id: int, status: str | None = None,
                          algorithm: str | None = None) -> int:
    query = select(func.count(Trial.id)).where(Trial.job_id == job_id)
    if status:
        query = query.where(Trial.status == status)
    if algorithm:
        query = query.where(Trial.algorithm == algorithm)
    return session.exec(query).one()


def list_trial_points(*, session: Session, job_id: int, limit: int = 5000) -> list[dict]:
    """Light rows for charts (no params/JSON): the latest ``limit`` trials of a job."""
    rows = session.exec(
        select(Trial.id, Trial.number, Trial.algorithm, Trial.status, Trial.score,
               Trial.score_std, Trial.fit_time_s, Trial.predict_ms_per_row, Trial.created_at)
        .where(Trial.job_id == job_id).order_by(Trial.number.desc()).limit(limit)
    ).all()
    keys = ("id", "number", "algorithm", "status", "score", "score_std", "fit_time_s",
            "predict_ms_per_row", "created_at")
    return [dict(zip(keys, r)) for r in reversed(rows)]


def trial_algorithms(*, session: Session, job_id: int) -> list[str]:
    rows = session.exec(select(Trial.algorithm).where(Trial.job_id == job_id).distinct()).all()
    return sorted(rows)


def trial_status_counts(*, session: Session, job_id: int) -> dict[str, int]:
    rows = session.exec(
        select(Trial.status, func.count(Trial.id)).where(Trial.job_id == job_id)
        .group_by(Trial.status)
    ).all()
    return {status: n for status, n in rows}


def get_trials(*, session: Session, trial_ids: list[int]) -> list[TrialPublic]:
    if not trial_ids:
        return []
    rows = session.exec(select(Trial).where(Trial.id.in_(trial_ids)).order_by(Trial.number)).all()
    return [_trial_public(r) for r in rows]


def list_job_trials(*, session: Session, job_id: int, statuses: tuple[str, ...] | None = None
                    ) -> list[TrialPublic]:
    """Every trial of a job (resume rebuilds its state from these)."""
    query = select(Trial).where(Trial.job_id == job_id)
    if statuses:
        query = query.where(Trial.status.in_(statuses))
    return [_trial_public(r) for r in session.exec(query.order_by(Trial.number)).all()]


def fail_running_trials(*, session: Session, job_id: int, reason: str) -> int:
    """Trials left 'running' by a worker that died are marked failed."""
    result = session.exec(
        update(Trial).where(Trial.job_id == job_id, Trial.status == "running")
        .values(status="failed", extra={"reason": reason})
    )
    return result.rowcount


def count_jobs(*, session: Session, kind: str | None = None, status: str | None = None) -> int:
    query = select(func.count(Job.id))
    if kind:
        query = query.where(Job.kind == kind)
    if status:
        query = query.where(Job.status == status)
    return session.exec(query).one()
