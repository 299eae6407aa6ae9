"""The store: migrations, artifacts, settings."""
from __future__ import annotations

import sqlite3

import pytest

from storage.artifacts import ArtifactError, FileArtifacts
from storage.migrate import current_revision, head_revision, upgrade


def test_first_migration_upgrades_to_head_with_rows_intact(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, revision="0001", lock_dir=tmp_path)
    assert current_revision(url) == "0001"
    con = sqlite3.connect(tmp_path / "old.db")
    con.execute("INSERT INTO dataset (name, description, created_at, updated_at) "
                "VALUES ('kept', 'old row', '2025-01-01 00:00:00', '2025-01-01 00:00:00')")
    con.execute("INSERT INTO dataset_version (dataset_id, version, data_sha, rows, cols, note,"
                " created_at) VALUES (1, 1, 'ab', 10, 2, '', '2025-01-01 00:00:00')")
    con.commit()
    tables_before = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    con.close()
    assert "job" not in tables_before

    upgrade(url, lock_dir=tmp_path)

    assert current_revision(url) == head_revision(url)
    con = sqlite3.connect(tmp_path / "old.db")
    assert con.execute("SELECT name, description FROM dataset").fetchall() == [("kept", "old row")]
    assert con.execute("SELECT rows, cols FROM dataset_version").fetchall() == [(10, 2)]
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"job", "trial", "model_version", "endpoint", "prediction_log", "alert"} <= tables


def test_sqlite_runs_with_wal_and_foreign_keys(tmp_path):
    from sqlalchemy import text

    from storage.store import open_store

    store = open_store(f"sqlite:///{tmp_path / 's.db'}", tmp_path / "artifacts", tmp_path)
    with store.session() as session:
        assert session.exec(text("PRAGMA journal_mode")).one()[0] == "wal"
        assert session.exec(text("PRAGMA foreign_keys")).one()[0] == 1
        assert session.exec(text("PRAGMA busy_timeout")).one()[0] >= 1000


def test_artifact_roundtrip_is_content_addressed(tmp_path):
    arts = FileArtifacts(tmp_path / "a")
    sha = arts.put_bytes(b"hello")
    assert sha == arts.put_bytes(b"hello")
    assert arts.read_bytes(sha) == b"hello"
    assert arts.path(sha).name == sha
    assert not list((tmp_path / "a" / ".tmp").iterdir())


def test_tampered_artifact_is_refused_with_a_clear_message(tmp_path):
    arts = FileArtifacts(tmp_path / "a")
    sha = arts.put_bytes(b"model bytes")
    path = arts.path(sha)
    data = bytearray(path.read_bytes())
    data[0] ^= 0xFF
    path.write_bytes(bytes(data))
    fresh = FileArtifacts(tmp_path / "a")
    with pytest.raises(ArtifactError, match="does not match its recorded sha256"):
        fresh.path(sha)
    with pytest.raises(ArtifactError, match="altered"):
        fresh.read_bytes(sha)


def test_missing_artifact_is_a_clear_error(tmp_path):
    arts = FileArtifacts(tmp_path / "a")
    sha = arts.put_bytes(b"x")
    arts.path(sha).unlink()
    with pytest.raises(ArtifactError, match="missing"):
        FileArtifacts(tmp_path / "a").path(sha)


def test_artifact_name_must_be_a_hash(tmp_path):
    with pytest.raises(ArtifactError):
        FileArtifacts(tmp_path).path("../../etc/passwd")


def test_settings_come_from_prefixed_environment(monkeypatch, tmp_path):
    from studio.settings import get_settings

    monkeypatch.setenv("STUDIO_HOME", str(tmp_path / "h"))
    monkeypatch.delenv("STUDIO_DATABASE_URL", raising=False)  # set on the PostgreSQL pass
    monkeypatch.setenv("STUDIO_MAX_UPLOAD_MB", "7")
    s = get_settings()
    assert s.home == (tmp_path / "h").resolve()
    assert s.max_upload_mb == 7
    assert s.db_url.startswith("sqlite:///") and s.db_url.endswith("studio.db")
    assert s.is_loopback and not s.api_keys_required
    assert get_settings(service_host="0.0.0.0").api_keys_required


def test_repository_roundtrip_on_each_backend(any_store):
    from storage.datasets import create_dataset_version, get_dataset_version, list_datasets

    with any_store.session() as s:
        create_dataset_version(session=s, name="d", data_sha="a" * 64, rows=3, cols=2,
                               schema=[{"name": "x", "semantic": "numeric"}])
        create_dataset_version(session=s, name="d", data_sha="b" * 64, rows=4, cols=2, schema=[])
    with any_store.session() as s:
        latest = get_dataset_version(session=s, name="d")
        first = get_dataset_version(session=s, name="d", version=1)
        listed = list_datasets(session=s)
    assert latest.version == 2 and latest.data_sha == "b" * 64
    assert first.schema_ == [{"name": "x", "semantic": "numeric"}]
    assert [(d.name, d.latest_version, d.versions) for d in listed] == [("d", 2, 2)]


def test_a_failed_transaction_leaves_nothing(any_store):
    from storage.datasets import create_dataset_version, list_datasets

    with pytest.raises(RuntimeError):
        with any_store.session() as s:
            create_dataset_version(session=s, name="half", data_sha="a" * 64, rows=1, cols=1,
                                   schema=[])
            raise RuntimeError("crash mid-way")
    with any_store.session() as s:
        assert list_datasets(session=s) == []


def test_concurrent_writers_lose_nothing(any_store):
    """Several threads appending versions at once: every row lands, numbers stay unique."""
    import threading

    from storage.datasets import create_dataset_version, list_dataset_versions

    errors = []

    def writer(k):
        for i in range(10):
            try:  # no retry: the repository function itself queues concurrent writers
                with any_store.session() as s:
                    create_dataset_version(session=s, name="shared", data_sha=f"{k:02d}{i:02d}".ljust(64, "0"),
                                           rows=i, cols=k, schema=[])
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)
    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with any_store.session() as s:
        versions = list_dataset_versions(session=s, name="shared")
    assert len(versions) == 40
    assert sorted(v.version for v in versions) == list(range(1, 41))


def test_migrations_match_the_tables(tmp_path):
    """Every table change ships as a migration: head has nothing left to autogenerate."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlmodel import SQLModel

    import storage.tables  # noqa: F401
    from storage.db import get_engine

    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url, lock_dir=tmp_path)
    with get_engine(url).connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []


def test_parquet_versions_dictionary_encode_only_repeating_columns(store):
    """Unique numbers (IDs, measurements) are written plain, repeating values as a
    dictionary; the frame reads back the same either way."""
    import numpy as np
    import pandas as pd
    import pyarrow.parquet as pq

    from studio.datasets import load_frame, save_version

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"id": np.arange(30_000), "reading": rng.normal(size=30_000),
                          "region": rng.choice(["north", "south"], 30_000),
                          "count": rng.integers(0, 5, 30_000)})
    version = save_version(store, name="encodings", frame=frame, schema=None)
    meta = pq.ParquetFile(store.artifacts.path(version.data_sha)).metadata
    encodings = {meta.schema.column(i).name: meta.row_group(0).column(i).encodings
                 for i in range(meta.num_columns)}
    assert not any("DICTIONARY" in e for e in encodings["id"] + encodings["reading"])
    assert any("DICTIONARY" in e for e in encodings["region"])
    assert any("DICTIONARY" in e for e in encodings["count"])
    back = load_frame(store, version)
    pd.testing.assert_frame_equal(back.reset_index(drop=True)[frame.columns], frame,
                                  check_dtype=False)
