"""Repository functions for endpoints, their history, prediction logs, feedback and API keys."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, func, insert
from sqlmodel import Session, SQLModel, select

from storage.db import insert_ignore
from storage.tables import (
    ApiKey, Endpoint, EndpointEvent, Feedback, Model, ModelVersion, PredictionLog, utcnow,
)


class EndpointPublic(SQLModel):
    id: int
    name: str
    model_version_id: Optional[int] = None
    model: Optional[str] = None          # "NAME:VERSION" served now, None when unpublished
    generation: int = 0
    created_at: datetime
    updated_at: datetime


class EndpointEventPublic(SQLModel):
    id: int
    endpoint: str
    action: str
    model_version_id: Optional[int] = None
    model: Optional[str] = None
    previous_version_id: Optional[int] = None
    previous_model: Optional[str] = None
    actor: str = ""
    at: datetime


class EndpointState(SQLModel):
    """What a service replica polls: cheap, one row per endpoint."""
    name: str
    generation: int
    model_version_id: Optional[int] = None


class ApiKeyPublic(SQLModel):
    id: int
    name: str
    prefix: str
    created_at: datetime
    revoked_at: Optional[datetime] = None
    last_used_at: Optional[datetime] = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class PredictionLogPublic(SQLModel):
    id: int
    request_id: str
    endpoint: str
    model_version_id: Optional[int] = None
    ts: float
    status: int
    latency_ms: Optional[float] = None
    n_rows: int = 1
    inputs: Optional[Any] = None
    outputs: Optional[Any] = None
    replica: Optional[str] = None


class FeedbackPublic(SQLModel):
    id: int
    request_id: str
    endpoint: str
    actual: Optional[Any] = None
    ts: float


def _refs(session: Session, ids: set[int]) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    rows = session.exec(
        select(ModelVersion.id, Model.name, ModelVersion.version)
        .join(Model, Model.id == ModelVersion.model_id).where(ModelVersion.id.in_(ids))
    ).all()
    return {vid: f"{name}:{version}" for vid, name, version in rows}


def _endpoint_public(row: Endpoint, refs: dict[int, str]) -> EndpointPublic:
    return EndpointPublic(
        id=row.id, name=row.name, model_version_id=row.model_version_id,
        model=refs.get(row.model_version_id), generation=row.generation,
        created_at=row.created_at, updated_at=row.updated_at,
    )


# --- endpoints ------------------------------------------------------------------

def get_endpoint(*, session: Session, name: str) -> Optional[EndpointPublic]:
    row = session.exec(select(Endpoint).where(Endpoint.name == name)).first()
    if row is None:
        return None
    return _endpoint_public(row, _refs(session, {row.model_version_id}))


def list_endpoints(*, session: Session) -> list[EndpointPublic]:
    rows = session.exec(select(Endpoint).order_by(Endpoint.name)).all()
    refs = _refs(session, {r.model_version_id for r in rows})
    return [_endpoint_public(r, refs) for r in rows]


def list_endpoint_states(*, session: Session) -> list[EndpointState]:
    rows = session.exec(
        select(Endpoint.name, Endpoint.generation, Endpoint.model_version_id)
    ).all()
    return [EndpointState(name=n, generation=g, model_version_id=v) for n, g, v in rows]


def set_endpoint_version(
    *, session: Session, name: str, model_version_id: Optional[int], action: str, actor: str,
) -> EndpointPublic:
    """Point endpoint ``name`` at a version (None unpublishes), bump its generation and
    record the change in its history. Creates the endpoint on first publish.

    The row is locked first, so concurrent publishes (two people, two replicas' callers)
    each get their own generation: replicas that saw one of them still see the next."""
    now = utcnow()
    insert_ignore(session, Endpoint, {"name": name, "model_version_id": None, "generation": 0,
                                      "created_at": now, "updated_at": now}, keys=("name",))
    row = session.exec(select(Endpoint).where(Endpoint.name == name).with_for_update()
                       .execution_options(populate_existing=True)).one()
    previous = row.model_version_id
    row.model_version_id = model_version_id
    row.generation = (row.generation or 0) + 1
    row.updated_at = utcnow()
    session.add(row)
    session.add(EndpointEvent(
        endpoint_id=row.id, action=action, model_version_id=model_version_id,
        previous_version_id=previous, actor=actor[:128],
    ))
    session.flush()
    return _endpoint_public(row, _refs(session, {row.model_version_id}))


def list_endpoint_events(*, session: Session, name: str, limit: int = 200) -> list[EndpointEventPublic]:
    rows = session.exec(
        select(EndpointEvent).join(Endpoint, Endpoint.id == EndpointEvent.endpoint_id)
        .where(Endpoint.name == name).order_by(EndpointEvent.id.desc()).limit(limit)
    ).all()
    refs = _refs(session, {r.model_version_id for r in rows} | {r.previous_version_id for r in rows})
    return [
        EndpointEventPublic(
            id=r.id, endpoint=name, action=r.action, model_version_id=r.model_version_id,
            model=refs.get(r.model_version_id), previous_version_id=r.previous_version_id,
            previous_model=refs.get(r.previous_version_id), actor=r.actor, at=r.at,
        )
        for r in rows
    ]


def list_endpoints_serving(*, session: Session, model_version_ids: list[int]) -> dict[int, list[str]]:
    """Version id → names of the endpoints serving it now."""
    if not model_version_ids:
        return {}
    rows = session.exec(
        select(Endpoint.model_version_id, Endpoint.name)
        .where(Endpoint.model_version_id.in_(model_version_ids))
    ).all()
    found: dict[int, list[str]] = {}
    for vid, name in rows:
        found.setdefault(vid, []).append(name)
    return found


# --- prediction log ----------------------------------------------------------------

# The hot write path inserts JSON already serialised (orjson) as text: the same
# bytes SQLAlchemy's JSON type would store, without a second encoding pass.
_log_table = Table(
    "prediction_log", MetaData(),
    Column("id", Integer, primary_key=True),
    Column("request_id", String(64)),
    Column("endpoint", String(64)),
    Column("model_version_id", Integer),
    Column("ts", Float),
    Column("status", Integer),
    Column("latency_ms", Float),
    Column("n_rows", Integer),
    Column("inputs", Text),
    Column("outputs", Text),
    Column("replica", String(64)),
)
LOG_FIELDS = ("request_id", "endpoint", "model_version_id", "ts", "status", "latency_ms",
              "n_rows", "inputs", "outputs", "replica")


_INSERT_CHUNK = 1000  # rows per statement: 10,000 parameters, under SQLite's 32,766


def _multi_row_insert(marks: str, rows: int) -> str:
    one = f"({', '.join([marks] * len(LOG_FIELDS))})"
    return (f"INSERT INTO prediction_log ({', '.join(LOG_FIELDS)}) VALUES "
            + ", ".join([one] * rows) + " ON CONFLICT (request_id) DO NOTHING")


def insert_prediction_logs(*, session: Session, rows: list[tuple]) -> int:
    """Bulk insert log rows: tuples in ``LOG_FIELDS`` order, ``inputs``/``outputs`` as JSON text.

    Rows go to the driver as multi-row INSERT statements of up to 1,000 rows: SQLAlchemy's
    per-row parameter processing, or ``executemany`` (which hands the GIL back and forth once
    per row while the service's request thread wants it), would cost more than the
    predictions being logged. Drivers with another parameter style take the Core path.

    A row whose request id is already logged is skipped (SQLite and PostgreSQL both read
    ``ON CONFLICT … DO NOTHING``): a flush retried after a commit whose answer was lost
    neither duplicates rows nor fails forever on the unique request id.
    """
    if not rows:
        return 0
    from itertools import chain

    conn = session.connection()
    marks = {"qmark": "?", "format": "%s", "pyformat": "%s"}.get(conn.dialect.paramstyle)
    if marks is None:
        session.execute(insert(_log_table), [dict(zip(LOG_FIELDS, r)) for r in rows])
        return len(rows)
    for start in range(0, len(rows), _INSERT_CHUNK):
        chunk = rows[start:start + _INSERT_CHUNK]
        conn.exec_driver_sql(_multi_row_insert(marks, len(chunk)),
                             tuple(chain.from_iterable(chunk)))
    return len(rows)


def list_prediction_logs(
    *, session: Session, endpoint: str | None = None, limit: int = 1000, since: float | None = None,
    expand: bool = False, captures=None,
) -> list[PredictionLogPublic]:
    """The newest log rows (one per request); ``expand=True`` gives one entry per prediction
    instead, a multi-row request's as ``"<request_id>-<i>"`` with its own record and answer
    (inputs kept in a capture file are read through ``captures``, ``Store.captures``)."""
    query = select(PredictionLog)
    if endpoint:
        query = query.where(PredictionLog.endpoint == endpoint)
    if since is not None:
        query = query.where(PredictionLog.ts >= since)
    rows = session.exec(query.order_by(PredictionLog.id.desc()).limit(limit)).all()
    out = [PredictionLogPublic(**r.model_dump()) for r in rows]
    if not expand:
        return out
    from storage.monitoring import expand_log_row, resolve_inputs

    return [row.model_copy(update={"request_id": rid, "inputs": record, "outputs": answer,
                                   "n_rows": 1})
            for row in out
            for rid, record, answer in expand_log_row(row.request_id, row.n_rows,
                                                      resolve_inputs(row.inputs, captures),
                                                      row.outputs)]


def count_prediction_logs(*, session: Session, endpoint: str | None = None,
                          status: int | None = None) -> int:
    query = select(func.count(PredictionLog.id))
    if endpoint:
        query = query.where(PredictionLog.endpoint == endpoint)
    if status is not None:
        query = query.where(PredictionLog.status == status)
    return session.exec(query).one()


def split_request_id(request_id: str) -> tuple[str, int | None]:
    """``"<id>-<i>"`` (prediction i of a multi-row request) → (id, i); otherwise (id, None)."""
    base, sep, index = request_id.rpartition("-")
    if sep and base and index.isdigit() and len(index) <= 7:
        return base, int(index)
    return request_id, None


def locate_request_ids(*, session: Session, endpoint: str | None,
                       request_ids: list[str]) -> dict[str, tuple[str, int | None]]:
    """{request id: (log row's request id, index in that row)} for the ids this endpoint
    (any endpoint: None) answered: a single-row request's own id, or ``"<id>-<i>"`` of a
    multi-row request."""
    if not request_ids:
        return {}
    wanted = set(request_ids)
    for rid in request_ids:
        wanted.add(split_request_id(rid)[0])
    logged: dict[str, int] = {}
    names = sorted(wanted)
    for i in range(0, len(names), 500):
        query = select(PredictionLog.request_id, PredictionLog.n_rows) \
            .where(PredictionLog.request_id.in_(names[i:i + 500]))
        if endpoint is not None:
            query = query.where(PredictionLog.endpoint == endpoint)
        rows = session.exec(query).all()
        logged.update({rid: n for rid, n in rows})
    found: dict[str, tuple[str, int | None]] = {}
    for rid in request_ids:
        if logged.get(rid) == 1:
            found[rid] = (rid, None)
            continue
        base, index = split_request_id(rid)
        if index is not None and index < (logged.get(base) or 0) and logged[base] > 1:
            found[rid] = (base, index)
    return found


def existing_request_ids(*, session: Session, endpoint: str, request_ids: list[str]) -> set[str]:
    return set(locate_request_ids(session=session, endpoint=endpoint, request_ids=request_ids))


# --- feedback ---------------------------------------------------------------------

def add_feedback(*, session: Session, endpoint: str, items: list[tuple[str, Any]], ts: float,
                 located: dict[str, tuple[str, int | None]] | None = None) -> int:
    """Store ground truth; ``located`` (from ``locate_request_ids``) names each id's log row."""
    located = located or {}
    for request_id, actual in items:
        log_id, index = located.get(request_id, (request_id, None))
        session.add(Feedback(request_id=request_id, endpoint=endpoint, actual=actual, ts=ts,
                             log_request_id=log_id, row_index=index))
    session.flush()
    return len(items)


def list_feedback(*, session: Session, endpoint: str, limit: int = 1000) -> list[FeedbackPublic]:
    rows = session.exec(
        select(Feedback).where(Feedback.endpoint == endpoint).order_by(Feedback.id.desc()).limit(limit)
    ).all()
    return [FeedbackPublic(**r.model_dump()) for r in rows]


# --- API keys ---------------------------------------------------------------------

def _key_public(row: ApiKey) -> ApiKeyPublic:
    return ApiKeyPublic(id=row.id, name=row.name, prefix=row.prefix, created_at=row.created_at,
                        revoked_at=row.revoked_at, last_used_at=row.last_used_at)


def create_api_key(*, session: Session, name: str, prefix: str, key_hash: str) -> ApiKeyPublic:
    row = ApiKey(name=name, prefix=prefix, key_hash=key_hash)
    session.add(row)
    session.flush()
    return _key_public(row)


def list_api_keys(*, session: Session, include_revoked: bool = True) -> list[ApiKeyPublic]:
    query = select(ApiKey)
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    return [_key_public(r) for r in session.exec(query.order_by(ApiKey.id)).all()]


def active_api_key_hashes(*, session: Session) -> dict[str, int]:
    """key_hash → id of every key not revoked."""
    rows = session.exec(select(ApiKey.key_hash, ApiKey.id).where(ApiKey.revoked_at.is_(None))).all()
    return {h: i for h, i in rows}


def get_api_key(*, session: Session, key_id: int | None = None,
                prefix: str | None = None) -> Optional[ApiKeyPublic]:
    if key_id is not None:
        row = session.get(ApiKey, key_id)
    else:
        row = session.exec(select(ApiKey).where(ApiKey.prefix == prefix)).first()
    return _key_public(row) if row else None


def revoke_api_key(*, session: Session, key_id: int) -> Optional[ApiKeyPublic]:
    row = session.get(ApiKey, key_id)
    if row is None:
        return None
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)
        session.flush()
    return _key_public(row)


def touch_api_keys(*, session: Session, key_ids: list[int]) -> None:
    now = utcnow()
    for row in session.exec(select(ApiKey).where(ApiKey.id.in_(key_ids))).all():
        row.last_used_at = now
        session.add(row)
