"""Named locks over a whole store, held by one process at a time.

Several service replicas share one store; some work must run in only one of them (the
scheduled monitoring checks, which raise alerts and call webhooks). The replica holding
the lock ``"service-background"`` runs it; the others try again now and then and take over
when the holder stops.

- PostgreSQL: a session-level advisory lock on a connection kept for as long as the lock
  is held (replicas on any machine see it; it goes when the holder's connection does).
- SQLite: an exclusive ``flock`` on a file beside the database file (replicas on one
  machine, which is where a SQLite store can be shared).
"""
from __future__ import annotations

import fcntl
import hashlib
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from storage.db import get_engine, is_sqlite


def _key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(f"studio:{name}".encode()).digest()[:8], "big",
                          signed=True)


class StoreLock:
    def __init__(self, name: str, *, conn=None, file=None):
        self.name = name
        self._conn = conn
        self._file = file

    def release(self) -> None:
        if self._conn is not None:
            # Close the database connection itself (not back to the pool, where the lock
            # would live on): the server releases the lock with the session.
            self._conn.invalidate()
            self._conn.close()
            self._conn = None
        if self._file is not None:
            self._file.close()  # closing the file drops the flock
            self._file = None


def lock_file_path(url: str, name: str) -> Path:
    database = Path(make_url(url).database or "studio.db").expanduser().resolve()
    return database.with_name(f"{database.name}.{name}.lock")


def try_store_lock(url: str, name: str) -> StoreLock | None:
    """The lock ``name`` over the store at ``url`` if no other process holds it, else None."""
    if is_sqlite(url):
        path = lock_file_path(url, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return None
        return StoreLock(name, file=handle)
    conn = get_engine(url).connect()
    try:
        got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _key(name)}).scalar()
        conn.commit()  # the lock is the session's: it outlives this transaction
    except Exception:
        conn.close()
        raise
    if not got:
        conn.close()
        return None
    return StoreLock(name, conn=conn)
