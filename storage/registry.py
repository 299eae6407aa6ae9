"""Repository functions for registered models and their versions."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import func
from sqlmodel import Session, SQLModel, select

from storage.db import insert_ignore, lock_rows
from storage.tables import Model, ModelVersion, utcnow

STAGES = ("none", "staging", "production", "archived")


class ModelVersionPublic(SQLModel):
    id: int
    model_id: int
    model: str
    version: int
    artifact_sha: str
    card: dict = {}
    task: str
    target: str
    metric: Optional[str] = None
    score: Optional[float] = None
    job_id: Optional[int] = None
    trial_id: Optional[int] = None
    dataset_version_id: Optional[int] = None
    baseline_sha: Optional[str] = None
    stage: str = "none"
    notes: str = ""
    created_at: datetime

    @property
    def ref(self) -> str:
        return f"{self.model}:{self.version}"


class ModelPublic(SQLModel):
    id: int
    name: str
    description: str
    created_at: datetime
    latest_version: int = 0
    versions: int = 0


def _public(row: ModelVersion, name: str) -> ModelVersionPublic:
    data = row.model_dump()
    data["card"] = data["card"] or {}
    return ModelVersionPublic(model=name, **data)


def create_model_version(
    *, session: Session, name: str, artifact_sha: str, card: dict, task: str, target: str,
    metric: str | None = None, score: float | None = None, job_id: int | None = None,
    trial_id: int | None = None, dataset_version_id: int | None = None,
    baseline_sha: str | None = None, notes: str = "",
) -> ModelVersionPublic:
    # Concurrent registrations of one model queue on its row: consecutive version numbers.
    insert_ignore(session, Model, {"name": name, "description": "", "created_at": utcnow()},
                  keys=("name",))
    lock_rows(session, Model, Model.name == name)
    model = session.exec(select(Model).where(Model.name == name)).one()
    latest = session.exec(
        select(func.max(ModelVersion.version)).where(ModelVersion.model_id == model.id)
    ).one()
    version = (latest or 0) + 1
    card = {**card, "name": name, "version": version, "sha256": artifact_sha}
    row = ModelVersion(
        model_id=model.id, version=version, artifact_sha=artifact_sha, card=card, task=task,
        target=target, metric=metric, score=score, job_id=job_id, trial_id=trial_id,
        dataset_version_id=dataset_version_id, baseline_sha=baseline_sha, notes=notes,
    )
    session.add(row)
    session.flush()
    return _public(row, name)


def get_model_version(
    *, session: Session, name: str, version: int | None = None
) -> Optional[ModelVersionPublic]:
    query = select(ModelVersion).join(Model, Model.id == ModelVersion.model_id).where(Model.name == name)
    if version is None:
        query = query.order_by(ModelVersion.version.desc())
    else:
        query = query.where(ModelVersion.version == version)
    row = session.exec(query.limit(1)).first()
    return _public(row, name) if row else None


def get_model_version_by_id(*, session: Session, version_id: int) -> Optional[ModelVersionPublic]:
    row = session.get(ModelVersion, version_id)
    if row is None:
        return None
    return _public(row, session.get(Model, row.model_id).name)


def list_models(*, session: Session) -> list[ModelPublic]:
    counts = (
        select(ModelVersion.model_id, func.max(ModelVersion.version).label("latest"),
               func.count(ModelVersion.id).label("n"))
        .group_by(ModelVersion.model_id).subquery()
    )
    rows = session.exec(
        select(Model, counts.c.latest, counts.c.n)
        .join(counts, counts.c.model_id == Model.id, isouter=True)
        .order_by(Model.created_at.desc())
    ).all()
    return [
        ModelPublic(id=m.id, name=m.name, description=m.description, created_at=m.created_at,
                    latest_version=latest or 0, versions=n or 0)
        for m, latest, n in rows
    ]


def list_model_versions(*, session: Session, name: str | None = None,
                        limit: int = 200) -> list[ModelVersionPublic]:
    query = select(ModelVersion, Model.name).join(Model, Model.id == ModelVersion.model_id)
    if name:
        query = query.where(Model.name == name)
    rows = session.exec(query.order_by(ModelVersion.id.desc()).limit(limit)).all()
    return [_public(r, n) for r, n in rows]


def update_model_version(*, session: Session, version_id: int, **values) -> Optional[ModelVersionPublic]:
    row = session.get(ModelVersion, version_id)
    if row is None:
        return None
    for key, value in values.items():
        setattr(row, key, value)
    session.add(row)
    session.flush()
    return _public(row, session.get(Model, row.model_id).name)
