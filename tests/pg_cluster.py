"""A throwaway PostgreSQL cluster for tests, from Debian's ``postgresql`` package.

``make test`` installs the package when missing (Makefile target ``postgres``). The
cluster lives in a temporary folder, listens on a free loopback port, and is removed
when the test session ends. PostgreSQL refuses to run as root, so as root the server
runs as the ``postgres`` system user that the Debian package creates.
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path


def find_bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


def release_connections(url: str) -> None:
    """Dispose of every pooled connection this process holds to the database at ``url``."""
    import sys

    from storage import store as store_module
    from storage.db import dispose_engine

    dispose_engine(url)
    for key in [k for k in store_module._stores if k[0] == url]:
        del store_module._stores[key]
    automl = sys.modules.get("studio.automl.service")  # Optuna's storages, cached by URL
    for key in [k for k in getattr(automl, "_storages", {}) if k.startswith(url)]:
        engine = getattr(automl._storages.pop(key), "engine", None)
        if engine is not None:
            engine.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgCluster:
    def __init__(self):
        bindir = find_bindir()
        if bindir is None:
            raise RuntimeError("PostgreSQL is not installed: run `make postgres` "
                               "(apt-get install postgresql)")
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="studio-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.user = "studio"
        self._as_root = os.geteuid() == 0
        self._template: str | None = None

    def _run(self, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
        if self._as_root:
            cmd = ("runuser", "-u", "postgres", "--", *cmd)
        return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=120)

    def start(self) -> "PgCluster":
        if self._as_root:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", self.user,
                  "--auth=trust", "-E", "UTF8", "--no-sync")
        opts = (f"-c listen_addresses=127.0.0.1 -c port={self.port} "
                f"-c unix_socket_directories={self.root} -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l",
                  str(self.root / "log"), "-o", opts, "-w", "start")
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"PostgreSQL did not start; see {self.root / 'log'}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{database}"

    def create_database(self, prefix: str = "t", migrated: bool = False) -> str:
        """A fresh database, empty or (``migrated``) already at the newest schema; returns
        its SQLAlchemy URL. Migrated ones are copies of a template migrated once per
        session (``CREATE DATABASE … TEMPLATE``), a tenth of the cost of migrating each."""
        import psycopg

        template = f' TEMPLATE "{self._migrated_template()}"' if migrated else ""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={self.user} dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"{template}')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Close this process's connections to it (the store's pool, Optuna's) and drop it,
        ending any other process's session, so a long run never exhausts max_connections."""
        import psycopg

        release_connections(url)
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={self.user} dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _migrated_template(self) -> str:
        if self._template is None:
            from storage.db import dispose_engine
            from storage.migrate import upgrade

            url = self.create_database("template")
            upgrade(url)
            dispose_engine(url)  # a template must have no open connections
            self._template = url.rsplit("/", 1)[1]
        return self._template

    def stop(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop",
                  check=False)
        shutil.rmtree(self.root, ignore_errors=True)
