"""Repository functions for datasets and their versions."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import func
from sqlmodel import Session, SQLModel, select

from storage.db import insert_ignore, lock_rows
from storage.tables import Dataset, DatasetVersion, utcnow


class DatasetVersionPublic(SQLModel):
    id: int
    dataset_id: int
    dataset: str
    version: int
    data_sha: str
    rows: int
    cols: int
    schema_: list = []
    import_report: dict = {}
    source_sha: Optional[str] = None
    source_name: Optional[str] = None
    parent_id: Optional[int] = None
    recipe: list = []
    profile_sha: Optional[str] = None
    note: str = ""
    created_at: datetime

    @property
    def ref(self) -> str:
        return f"{self.dataset}:{self.version}"


class DatasetPublic(SQLModel):
    id: int
    name: str
    description: str
    created_at: datetime
    updated_at: datetime
    latest_version: int = 0
    versions: int = 0


def _version_public(row: DatasetVersion, name: str) -> DatasetVersionPublic:
    return DatasetVersionPublic(
        id=row.id, dataset_id=row.dataset_id, dataset=name, version=row.version,
        data_sha=row.data_sha, rows=row.rows, cols=row.cols, schema_=row.schema_ or [],
        import_report=row.import_report or {}, source_sha=row.source_sha,
        source_name=row.source_name, parent_id=row.parent_id, recipe=row.recipe or [],
        profile_sha=row.profile_sha, note=row.note or "", created_at=row.created_at,
    )


def create_dataset_version(
    *, session: Session, name: str, data_sha: str, rows: int, cols: int, schema: list,
    import_report: dict | None = None, source_sha: str | None = None,
    source_name: str | None = None, parent_id: int | None = None,
    recipe: list | None = None, profile_sha: str | None = None, note: str = "",
) -> DatasetVersionPublic:
    """Add the next version of dataset ``name``, creating the dataset if new.

    Safe with concurrent writers: the dataset row is created if missing and locked, so
    two imports of one dataset get consecutive version numbers instead of a clash."""
    now = utcnow()
    insert_ignore(session, Dataset, {"name": name, "description": "", "created_at": now,
                                     "updated_at": now}, keys=("name",))
    lock_rows(session, Dataset, Dataset.name == name)
    dataset = session.exec(select(Dataset).where(Dataset.name == name)
                           .execution_options(populate_existing=True)).one()
    dataset.updated_at = now
    latest = session.exec(
        select(func.max(DatasetVersion.version)).where(DatasetVersion.dataset_id == dataset.id)
    ).one()
    row = DatasetVersion(
        dataset_id=dataset.id, version=(latest or 0) + 1, data_sha=data_sha, rows=rows,
        cols=cols, schema_=schema, import_report=import_report or {}, source_sha=source_sha,
        source_name=source_name, parent_id=parent_id, recipe=recipe or [],
        profile_sha=profile_sha, note=note,
    )
    session.add(row)
    session.flush()
    return _version_public(row, dataset.name)


def get_dataset_version(
    *, session: Session, name: str, version: int | None = None
) -> Optional[DatasetVersionPublic]:
    """Version ``version`` of dataset ``name`` (the latest when None)."""
    query = (
        select(DatasetVersion)
        .join(Dataset, Dataset.id == DatasetVersion.dataset_id)
        .where(Dataset.name == name)
    )
    if version is None:
        query = query.order_by(DatasetVersion.version.desc())
    else:
        query = query.where(DatasetVersion.version == version)
    row = session.exec(query.limit(1)).first()
    return _version_public(row, name) if row else None


def get_dataset_version_by_id(*, session: Session, version_id: int) -> Optional[DatasetVersionPublic]:
    row = session.get(DatasetVersion, version_id)
    if row is None:
        return None
    dataset = session.get(Dataset, row.dataset_id)
    return _version_public(row, dataset.name)


def list_datasets(*, session: Session) -> list[DatasetPublic]:
    counts = (
        select(
            DatasetVersion.dataset_id,
            func.max(DatasetVersion.version).label("latest"),
            func.count(DatasetVersion.id).label("n"),
        )
        .group_by(DatasetVersion.dataset_id)
        .subquery()
    )
    rows = session.exec(
        select(Dataset, counts.c.latest, counts.c.n)
        .join(counts, counts.c.dataset_id == Dataset.id, isouter=True)
        .order_by(Dataset.updated_at.desc())
    ).all()
    return [
        DatasetPublic(
            id=d.id, name=d.name, description=d.description, created_at=d.created_at,
            updated_at=d.updated_at, latest_version=latest or 0, versions=n or 0,
        )
        for d, latest, n in rows
    ]


def list_dataset_versions(*, session: Session, name: str) -> list[DatasetVersionPublic]:
    rows = session.exec(
        select(DatasetVersion)
        .join(Dataset, Dataset.id == DatasetVersion.dataset_id)
        .where(Dataset.name == name)
        .order_by(DatasetVersion.version.desc())
    ).all()
    return [_version_public(r, name) for r in rows]


def set_profile(*, session: Session, version_id: int, profile_sha: str) -> None:
    row = session.get(DatasetVersion, version_id)
    row.profile_sha = profile_sha
    session.add(row)


def delete_dataset(*, session: Session, name: str) -> bool:
    dataset = session.exec(select(Dataset).where(Dataset.name == name)).first()
    if dataset is None:
        return False
    for row in session.exec(
        select(DatasetVersion).where(DatasetVersion.dataset_id == dataset.id)
        .order_by(DatasetVersion.version.desc())
    ).all():
        session.delete(row)
    session.flush()
    session.delete(dataset)
    return True
