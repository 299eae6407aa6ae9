"""The real prediction service under uvicorn on a free loopback port, for tests.

    from tests.service_fixtures import ServiceProcess, free_port   # `service` is in conftest

    def test_something(service):            # session-scoped: one process for all tests
        version = register_test_model(service.store, name="m")
        publish(service.store, version, "m", actor="test")
        service.wait_ready("m")
        r = service.post("/endpoints/m/invocations", json=[...])

``ServiceProcess.start(home, **env)`` starts ``python -m studio serve --port P`` with
that STUDIO_HOME (polling every 0.2 s and flushing logs every 0.1 s so tests stay
fast), waits for ``/ping`` and ``stop()`` sends SIGTERM (a clean shutdown that
flushes the prediction log) and waits.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
BACKEND = os.environ.get("STUDIO_TEST_BACKEND", "sqlite")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServiceProcess:
    def __init__(self, home: Path, port: int, proc: subprocess.Popen, log_path: Path, env: dict,
                 database_url: str | None = None):
        self.home, self.port, self.proc, self.log_path, self.env = home, port, proc, log_path, env
        self.database_url = database_url
        self.url = f"http://127.0.0.1:{port}"
        self.client = httpx.Client(base_url=self.url, timeout=30)
        from studio import open_store
        from studio.settings import Settings

        self.settings = Settings(home=home, service_port=port, database_url=database_url,
                                 **({"require_api_key": env["STUDIO_REQUIRE_API_KEY"] == "true"}
                                    if "STUDIO_REQUIRE_API_KEY" in env else {}))
        self.store = open_store(self.settings)

    @classmethod
    def start(cls, home: Path, *, port: int | None = None, host: str = "127.0.0.1",
              workers: int = 1, **env: str) -> "ServiceProcess":
        home = Path(home)
        home.mkdir(parents=True, exist_ok=True)
        port = port or free_port()
        full_env = {**os.environ, "STUDIO_HOME": str(home), "STUDIO_SERVICE_POLL_S": "0.2",
                    "STUDIO_LOG_FLUSH_S": "0.1", "PYTHONPATH": str(ROOT), **env}
        for var in ("STUDIO_DATABASE_URL", "STUDIO_ARTIFACT_ROOT"):
            if var not in env:
                full_env.pop(var, None)
        # On the PostgreSQL pass the service shares the test's fresh database (the test's
        # own store and the service's then see the same rows).
        database_url = env.get("STUDIO_DATABASE_URL") or (
            os.environ.get("STUDIO_DATABASE_URL") if BACKEND == "postgres" else None)
        if database_url:
            full_env["STUDIO_DATABASE_URL"] = database_url
        log_path = home / f"service-{port}.log"
        log = open(log_path, "wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "studio", "serve", "--host", host, "--port", str(port),
             "--workers", str(workers)],
            cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        service = cls(home, port, proc, log_path, env, database_url)
        service.wait_up()
        return service

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_up(self, timeout: float = 30) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the service exited ({self.proc.returncode}):\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/ping", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the service did not answer /ping in {timeout}s:\n{self.log()}")

    def wait_ready(self, endpoint: str, model: str | None = None, timeout: float = 10,
                   headers: dict | None = None) -> dict:
        """Until GET /endpoints/{name} says ready (and serves ``model`` when given)."""
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            r = self.client.get(f"/endpoints/{endpoint}", headers=headers)
            last = r.json() if r.status_code == 200 else r.text
            if r.status_code == 200 and last.get("status") in ("ready", "error") and (
                    model is None or last.get("model") == model):
                return last
            time.sleep(0.05)
        raise AssertionError(f"endpoint {endpoint} not ready: {last}")

    def get(self, path: str, **kwargs) -> httpx.Response:
        return self.client.get(path, **kwargs)

    def post(self, path: str, **kwargs) -> httpx.Response:
        return self.client.post(path, **kwargs)

    def stop(self, timeout: float = 15) -> int:
        self.client.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@pytest.fixture(scope="session")
def service(tmp_path_factory, request):
    """One real service for the test session, with its own store (tests use their own
    model and endpoint names in it); on the PostgreSQL pass, its own database."""
    env = {}
    if BACKEND == "postgres":
        env["STUDIO_DATABASE_URL"] = request.getfixturevalue("pg_cluster").create_database()
    svc = ServiceProcess.start(tmp_path_factory.mktemp("service") / "home", **env)
    yield svc
    svc.stop()
