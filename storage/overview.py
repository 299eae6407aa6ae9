"""Counts and recent activity across the store, for the home page (one query each)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, SQLModel, select

from storage.tables import (Alert, Dataset, DatasetVersion, Endpoint, EndpointEvent, Job, Model,
                            ModelVersion)


class Counts(SQLModel):
    datasets: int = 0
    dataset_versions: int = 0
    jobs_active: int = 0
    jobs_total: int = 0
    models: int = 0
    model_versions: int = 0
    endpoints: int = 0
    endpoints_live: int = 0
    alerts_open: int = 0


class Activity(SQLModel):
    at: datetime
    kind: str          # dataset, job, model, endpoint, alert
    text: str
    ref: str = ""


def count_everything(*, session: Session) -> Counts:
    def one(query) -> int:
        return int(session.exec(query).one() or 0)

    return Counts(
        datasets=one(select(func.count(Dataset.id))),
        dataset_versions=one(select(func.count(DatasetVersion.id))),
        jobs_active=one(select(func.count(Job.id)).where(Job.status.in_(("queued", "running")))),
        jobs_total=one(select(func.count(Job.id))),
        models=one(select(func.count(Model.id))),
        model_versions=one(select(func.count(ModelVersion.id))),
        endpoints=one(select(func.count(Endpoint.id))),
        endpoints_live=one(select(func.count(Endpoint.id)).where(Endpoint.model_version_id.is_not(None))),
        alerts_open=one(select(func.count(Alert.id)).where(Alert.acknowledged_at.is_(None))),
    )


def recent_activity(*, session: Session, limit: int = 12) -> list[Activity]:
    items: list[Activity] = []
    rows = session.exec(
        select(DatasetVersion, Dataset.name).join(Dataset, Dataset.id == DatasetVersion.dataset_id)
        .order_by(DatasetVersion.id.desc()).limit(limit)
    ).all()
    for v, name in rows:
        how = "wrangled" if v.parent_id else "imported"
        items.append(Activity(at=v.created_at, kind="dataset", ref=f"{name}:{v.version}",
                              text=f"Dataset {name}:{v.version} {how} ({v.rows:,} rows × {v.cols} columns)"))
    for job in session.exec(select(Job).order_by(Job.id.desc()).limit(limit)).all():
        label = job.name or job.kind
        items.append(Activity(at=job.finished_at or job.started_at or job.created_at, kind="job",
                              ref=str(job.id), text=f"Job {job.id} ({job.kind}) {label}: {job.status}"))
    rows = session.exec(
        select(ModelVersion, Model.name).join(Model, Model.id == ModelVersion.model_id)
        .order_by(ModelVersion.id.desc()).limit(limit)
    ).all()
    for mv, name in rows:
        score = f", {mv.metric} {mv.score:.4g}" if mv.metric and mv.score is not None else ""
        items.append(Activity(at=mv.created_at, kind="model", ref=f"{name}:{mv.version}",
                              text=f"Model {name}:{mv.version} registered{score}"))
    rows = session.exec(
        select(EndpointEvent, Endpoint.name).join(Endpoint, Endpoint.id == EndpointEvent.endpoint_id)
        .order_by(EndpointEvent.id.desc()).limit(limit)
    ).all()
    for ev, name in rows:
        items.append(Activity(at=ev.at, kind="endpoint", ref=name,
                              text=f"Endpoint {name}: {ev.action}"))
    for alert in session.exec(select(Alert).order_by(Alert.id.desc()).limit(limit)).all():
        items.append(Activity(at=alert.at, kind="alert", ref=alert.endpoint,
                              text=f"Alert on {alert.endpoint}: {alert.message}"))
    items.sort(key=lambda a: a.at.replace(tzinfo=None) if a.at else datetime.min, reverse=True)
    return items[:limit]


class JourneyIds(SQLModel):
    """Ids of the newest things along the first-model path (None where there is none)."""
    dataset_version_id: int | None = None
    search_job_id: int | None = None
    model_version_id: int | None = None
    endpoint_id: int | None = None        # an endpoint serving that model version
    endpoint: str | None = None
    answered: bool = False                # that endpoint has logged a prediction


def journey_ids(*, session: Session) -> JourneyIds:
    """The newest dataset version, search, model version, and where that model serves."""
    from storage.tables import PredictionLog

    ids = JourneyIds(
        dataset_version_id=session.exec(select(func.max(DatasetVersion.id))).one(),
        search_job_id=session.exec(select(func.max(Job.id)).where(Job.kind == "search")).one(),
        model_version_id=session.exec(select(func.max(ModelVersion.id))).one(),
    )
    if ids.model_version_id is not None:
        row = session.exec(select(Endpoint).where(
            Endpoint.model_version_id == ids.model_version_id).order_by(Endpoint.id)).first()
        if row is not None:
            ids.endpoint_id, ids.endpoint = row.id, row.name
            ids.answered = session.exec(select(PredictionLog.id).where(
                PredictionLog.endpoint == row.name).limit(1)).first() is not None
    return ids


def active_job_ids(*, session: Session, limit: int = 10) -> list[int]:
    """Queued and running jobs of any kind, newest first."""
    return list(session.exec(select(Job.id).where(Job.status.in_(("queued", "running")))
                             .order_by(Job.id.desc()).limit(limit)).all())
