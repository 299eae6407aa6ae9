"""The store handle: a database URL plus an artifact folder, migrated on open."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlmodel import Session

from storage.artifacts import FileArtifacts
from storage.capture import CaptureFiles
from storage.db import session_scope
from storage.migrate import upgrade


class Store:
    def __init__(self, url: str, artifact_root: Path, home: Path):
        self.url = url
        self.home = Path(home)
        self.artifacts = FileArtifacts(artifact_root)
        self.captures = CaptureFiles(self.artifacts.root)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction (commit on success, roll back on error)."""
        with session_scope(self.url) as session:
            yield session


_stores: dict[tuple, Store] = {}


def open_store(url: str, artifact_root: Path, home: Path, migrate: bool = True) -> Store:
    """The store at ``url``, upgraded to the newest schema (once per process)."""
    key = (url, str(artifact_root), str(home))
    store = _stores.get(key)
    if store is None:
        Path(home).mkdir(parents=True, exist_ok=True)
        if migrate:
            upgrade(url, lock_dir=Path(home))
        store = _stores[key] = Store(url, artifact_root, home)
    return store
