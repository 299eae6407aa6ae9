"""Optuna's storage beside the store: on PostgreSQL, schema ``optuna`` of the same database."""
from __future__ import annotations

import pytest


def test_optuna_storage_url_per_backend(tmp_path):
    from studio.settings import Settings

    sqlite = Settings(home=tmp_path, database_url=None)  # whatever the pass's backend
    assert sqlite.optuna_storage == f"sqlite:///{tmp_path.resolve() / 'optuna.db'}"
    pg = Settings(home=tmp_path, database_url="postgresql+psycopg://u:p%40ss@db:5432/studio"
                                               "?sslmode=require")
    assert pg.optuna_storage == ("postgresql+psycopg://u:p%40ss@db:5432/studio"
                                 "?options=-csearch_path%3Doptuna&sslmode=require")
    own = Settings(home=tmp_path, database_url="postgresql+psycopg://db/studio",
                   optuna_url="postgresql+psycopg://db/optuna")
    assert own.optuna_storage == "postgresql+psycopg://db/optuna"


def test_optuna_on_the_same_postgresql_database_does_not_touch_our_tables(pg_cluster, tmp_path):
    import optuna
    from sqlalchemy import create_engine, text

    from storage.migrate import current_revision, head_revision
    from studio import open_store
    from studio.automl.service import optuna_storage
    from studio.settings import Settings

    url = pg_cluster.create_database()
    settings = Settings(home=tmp_path, database_url=url)
    store = open_store(settings)
    storage = optuna_storage(settings)
    study = optuna.create_study(study_name="s", storage=storage, direction="maximize")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)

    assert len(optuna.load_study(study_name="s", storage=optuna_storage(settings)).trials) == 3
    assert current_revision(store.url) == head_revision(store.url)  # ours, untouched
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            tables = set(conn.execute(text(
                "SELECT table_schema || '.' || table_name FROM information_schema.tables "
                "WHERE table_schema IN ('public', 'optuna')")).scalars())
    finally:
        engine.dispose()
    assert {"optuna.studies", "optuna.trials", "optuna.alembic_version"} <= tables
    assert {"public.trial", "public.job", "public.alembic_version"} <= tables
    assert not any(t.startswith("public.") and t.split(".")[1] in ("studies", "trials")
                   for t in tables)


@pytest.mark.parametrize("existing", [False, True])
def test_schema_migration_is_idempotent_on_postgresql(pg_cluster, tmp_path, existing):
    from sqlalchemy import create_engine, text

    from storage.migrate import upgrade

    url = pg_cluster.create_database()
    engine = create_engine(url)
    try:
        if existing:  # someone created the schema by hand first
            with engine.begin() as conn:
                conn.execute(text("CREATE SCHEMA optuna"))
        upgrade(url, lock_dir=tmp_path)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM information_schema.schemata "
                                     "WHERE schema_name = 'optuna'")).scalar() == 1
    finally:
        engine.dispose()
