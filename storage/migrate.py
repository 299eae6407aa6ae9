"""Apply Alembic migrations at start, once, safely across processes."""
from __future__ import annotations

import fcntl
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from storage.db import get_engine, is_sqlite

MIGRATIONS = Path(__file__).parent / "migrations"
_upgraded: set[str] = set()


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def head_revision(url: str) -> str:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def current_revision(url: str) -> str | None:
    with get_engine(url).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(url: str, revision: str = "head", lock_dir: Path | None = None) -> None:
    """Bring the store at ``url`` to ``revision``.

    Several processes may start together (UI, service, workers): SQLite
    upgrades take a file lock beside the database; PostgreSQL an advisory lock.
    """
    if revision == "head" and url in _upgraded:
        return
    cfg = alembic_config(url)
    if revision == "head" and current_revision(url) == head_revision(url):
        _upgraded.add(url)
        return
    engine = get_engine(url)
    if is_sqlite(url):
        lock_path = (lock_dir or Path(".")) / ".migrate.lock"
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(lock_path, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                with engine.begin() as conn:
                    cfg.attributes["connection"] = conn
                    command.upgrade(cfg, revision)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
    else:
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(727274)"))
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    if revision == "head":
        _upgraded.add(url)
