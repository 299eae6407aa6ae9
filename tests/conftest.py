"""Shared fixtures: every test gets its own store under tmp_path."""
from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


# STUDIO_TEST_BACKEND=postgres runs the suite against a throwaway PostgreSQL cluster
# (one fresh database per test); the default is a SQLite file per test.
BACKEND = os.environ.get("STUDIO_TEST_BACKEND", "sqlite")


# On the PostgreSQL pass only tests that reach the store run: those asking for a store
# fixture, and every test of a module that opens one itself (the app, the service, a
# store, settings). The rest (parsing, recipe steps, statistics, fitting) run the same
# code on either backend, so the SQLite pass covers them. A new test that reaches the
# store some other way should ask for one of these fixtures.
STORE_FIXTURES = {"store", "settings", "cli", "cli_proc", "service", "any_store", "pg_cluster"}
STORE_OPENERS = ("page_test", "ServiceProcess", "open_store", "get_settings", "studio_home",
                 "STUDIO_HOME")


def pytest_collection_modifyitems(config, items):
    if BACKEND != "postgres":
        return
    opens_store: dict[Path, bool] = {}

    def reaches_store(item) -> bool:
        if STORE_FIXTURES & set(getattr(item, "fixturenames", ())):
            return True
        path = Path(item.path)
        if path not in opens_store:
            text = path.read_text(errors="replace")
            opens_store[path] = any(name in text for name in STORE_OPENERS)
        return opens_store[path]

    keep, skip = [], []
    for item in items:
        (keep if reaches_store(item) else skip).append(item)
    if skip:
        config.hook.pytest_deselected(items=skip)
        items[:] = keep


@pytest.fixture(scope="session")
def pg_cluster():
    """A PostgreSQL server for this test session (started on first use)."""
    from tests.pg_cluster import PgCluster

    cluster = PgCluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture(autouse=True)
def studio_home(tmp_path, monkeypatch, request) -> Iterator[Path]:
    """Point STUDIO_HOME at a fresh folder; nothing touches the user's store."""
    home = tmp_path / "studio-home"
    monkeypatch.setenv("STUDIO_HOME", str(home))
    for var in ("STUDIO_DATABASE_URL", "STUDIO_ARTIFACT_ROOT", "STUDIO_OPTUNA_URL",
                "STUDIO_DASK_SCHEDULER"):
        monkeypatch.delenv(var, raising=False)
    if BACKEND != "postgres":
        yield home
        return
    cluster = request.getfixturevalue("pg_cluster")
    # Optuna's storage is the default for PostgreSQL: schema "optuna" in the same database
    url = cluster.create_database(migrated=True)
    monkeypatch.setenv("STUDIO_DATABASE_URL", url)
    yield home
    cluster.drop_database(url)


@pytest.fixture(params=["sqlite", "postgres"])
def any_store(request, tmp_path):
    """A store on each backend, for storage tests parametrised over both."""
    from storage.store import open_store

    if request.param == "sqlite":
        yield open_store(f"sqlite:///{tmp_path / 'param.db'}", tmp_path / "param-artifacts",
                         tmp_path / "param-home")
        return
    cluster = request.getfixturevalue("pg_cluster")
    url = cluster.create_database()
    yield open_store(url, tmp_path / "param-artifacts", tmp_path / "param-home")
    cluster.drop_database(url)


@pytest.fixture
def settings(studio_home):
    from studio.settings import get_settings

    return get_settings()


@pytest.fixture
def store(settings):
    from studio import open_store

    return open_store(settings)


class CliResult:
    def __init__(self, code: int, out: str, err: str):
        self.code, self.out, self.err = code, out, err

    def json(self):
        import json

        return json.loads(self.out)


@pytest.fixture
def cli(studio_home):
    """Run ``python -m studio ARGS`` in-process; returns code, stdout, stderr."""
    from studio.cli import main

    def run(*args: str) -> CliResult:
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            try:
                code = main([str(a) for a in args])
            except SystemExit as exc:  # argparse usage errors
                code = exc.code if isinstance(exc.code, int) else 2
        return CliResult(code, out.getvalue(), err.getvalue())

    return run


@pytest.fixture
def cli_proc(studio_home):
    """Run ``python -m studio ARGS`` as a real process (for exit codes and tracebacks)."""

    def run(*args: str, timeout: float = 300, env: dict | None = None) -> CliResult:
        proc = subprocess.run(
            [sys.executable, "-m", "studio", *map(str, args)], cwd=ROOT, capture_output=True,
            text=True, timeout=timeout, env={**os.environ, **(env or {})},
        )
        return CliResult(proc.returncode, proc.stdout, proc.stderr)

    return run


def page_test(page: str, timeout: float = 30):
    """An AppTest of the whole app (app.py with its navigation) opened on
    ``pages/<page>.py``, so page links and the sidebar work as in the browser.
    Call ``.run()`` on the result; after a rerun it stays on that page."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
    at.switch_page(f"pages/{page}.py")
    return at


# The real prediction service, one process shared by the tests that ask for `service`
# (defined in tests/service_fixtures.py; session-scoped, so it must be registered here).
from tests.service_fixtures import service  # noqa: E402,F401
