"""Engines and sessions for the metadata store.

SQLite (the default) runs with WAL, foreign keys, a busy timeout and full sync;
any other SQLAlchemy URL (PostgreSQL) is used as given. Engines are cached per
URL so a process opens one pool per store.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import event, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=FULL")
    cur.close()


def get_engine(url: str) -> Engine:
    """The process-wide engine for ``url``."""
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            if is_sqlite(url):
                engine = create_engine(
                    url, connect_args={"check_same_thread": False, "timeout": 30}
                )
                event.listen(engine, "connect", _sqlite_pragmas)
            else:
                engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
            _engines[url] = engine
        return engine


def dispose_engine(url: str) -> None:
    with _lock:
        engine = _engines.pop(url, None)
    if engine is not None:
        engine.dispose()


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """One transaction: commit on success, roll back on error.

    ``expire_on_commit=False`` so plain values can be read after the commit;
    repository functions still convert rows to public models before returning.
    """
    session = Session(get_engine(url), expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# --- writing safely when several processes share the store ---------------------------

def insert_ignore(session: Session, model, values: dict, keys: tuple[str, ...]) -> None:
    """``INSERT … ON CONFLICT (keys) DO NOTHING``: afterwards the row exists, whichever
    process created it (two first publishes of one endpoint, two imports creating one
    dataset). ``values`` must hold every column without a database default."""
    table = model.__table__
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # another database: check first (a race there ends in a unique-constraint error)
        where = [table.c[k] == values[k] for k in keys]
        if session.execute(select(table.c.id).where(*where)).first() is None:
            session.execute(table.insert().values(**values))
        return
    session.execute(insert(table).values(**values).on_conflict_do_nothing(index_elements=list(keys)))


def lock_rows(session: Session, model, *where) -> None:
    """Hold the write lock on the matching rows until the transaction ends, so writers that
    read-then-write under the same parent (the next version number, an endpoint's
    generation) queue up instead of both reading the same value.

    PostgreSQL: ``SELECT … FOR UPDATE``. SQLite: a no-op UPDATE, which takes the database's
    write lock before this transaction reads anything (the driver runs earlier SELECTs
    outside a transaction, so no stale snapshot is held)."""
    table = model.__table__
    if session.get_bind().dialect.name == "sqlite":
        session.execute(update(table).where(*where).values(id=table.c.id))
    else:
        session.execute(select(table.c.id).where(*where).with_for_update())
