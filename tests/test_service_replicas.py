"""Two prediction-service replicas sharing one store (SQLite file or PostgreSQL database,
per the pass's backend) behind no balancer: traffic to both, a publish and a rollback in
the middle. Every request is answered, every request is logged exactly once, by the
replica that answered it, and both replicas follow each change.

Each replica has its own STUDIO_HOME, as on separate machines; they share only
STUDIO_DATABASE_URL and STUDIO_ARTIFACT_ROOT.
"""
from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from storage import serving as repo
from studio import open_store
from studio.endpoints import publish, rollback
from studio.settings import Settings
from tests.model_factory import register_test_model, sample_records
from tests.service_fixtures import BACKEND, ServiceProcess


@pytest.fixture
def shared(tmp_path, studio_home):
    """The settings every replica shares: the database and the artifact folder."""
    import os

    url = (os.environ["STUDIO_DATABASE_URL"] if BACKEND == "postgres"
           else f"sqlite:///{tmp_path / 'shared.db'}")
    env = {"STUDIO_DATABASE_URL": url, "STUDIO_ARTIFACT_ROOT": str(tmp_path / "shared-artifacts"),
           "STUDIO_SERVICE_POLL_S": "1.0"}  # the shipped poll interval
    store = open_store(Settings(home=tmp_path / "admin", database_url=url,
                                artifact_root=tmp_path / "shared-artifacts"))
    return env, store


def test_two_replicas_answer_and_log_every_request_once_across_a_swap(tmp_path, shared):
    env, store = shared
    v1 = register_test_model(store, name="fleet", algorithm="logistic", seed=1)
    v2 = register_test_model(store, name="fleet", algorithm="logistic", seed=2)
    publish(store, v1, "fleet", actor="test")
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:  # both start at once, as a fleet would
        futures = [pool.submit(ServiceProcess.start, tmp_path / f"machine-{i}", **env)
                   for i in range(2)]
    started = [f.result() for f in futures if f.exception() is None]
    if len(started) < 2:
        for svc in started:
            svc.stop()
        raise next(f.exception() for f in futures if f.exception() is not None)
    replicas = started
    try:
        ids = {svc.port: svc.get("/ping").json()["replica"] for svc in replicas}
        assert len(set(ids.values())) == 2
        for svc in replicas:
            svc.wait_ready("fleet", "fleet:1", timeout=10)

        record = sample_records(1, seed=4)[0]
        sent: list[tuple[int, str, str]] = []   # (port, request id, model)
        failures: list = []
        stop = threading.Event()

        def client(svc: ServiceProcess) -> None:
            import httpx

            with httpx.Client(base_url=svc.url, timeout=30) as http:
                while not stop.is_set():
                    try:
                        r = http.post("/endpoints/fleet/invocations", json=[record])
                    except httpx.HTTPError as exc:
                        failures.append(repr(exc))
                        continue
                    if r.status_code != 200:
                        failures.append((r.status_code, r.text))
                    else:
                        body = r.json()
                        sent.append((svc.port, body["request_ids"][0], body["model"]))

        threads = [threading.Thread(target=client, args=(svc,)) for svc in replicas for _ in range(2)]
        for t in threads:
            t.start()
        try:
            time.sleep(0.5)
            for change, expected in ((lambda: publish(store, v2, "fleet", actor="test"), "fleet:2"),
                                     (lambda: rollback(store, "fleet", actor="test"), "fleet:1")):
                change()
                # the shipped poll is 1 s: each replica follows within 5 s (load included)
                for svc in replicas:
                    svc.wait_ready("fleet", expected, timeout=5)
                time.sleep(0.5)
        finally:
            stop.set()
            for t in threads:
                t.join()
        codes = [svc.stop() for svc in replicas]  # SIGTERM: each flushes its log
        logs = [svc.log() for svc in replicas]
    finally:
        for svc in replicas:
            svc.stop()

    assert not failures, failures[:3]
    assert all(code in (0, -15) for code in codes)  # uvicorn re-raises SIGTERM when done
    assert all("Application shutdown complete" in log for log in logs)
    # scheduled monitoring runs in one replica only (the other waits to take over)
    assert sum("background tasks run in another worker or replica" in log for log in logs) == 1
    served = Counter(model for _, _, model in sent)
    assert served["fleet:1"] and served["fleet:2"], served
    assert {port for port, _, _ in sent} == set(ids)          # both replicas answered
    with store.session() as session:
        logged = repo.list_prediction_logs(session=session, endpoint="fleet", limit=1_000_000,
                                           expand=True)
    per_id = Counter(row.request_id for row in logged)
    assert len(sent) == len(per_id) == len(logged)             # no loss, no duplicate
    assert set(per_id) == {rid for _, rid, _ in sent}
    replica_of = {row.request_id: row.replica for row in logged}
    assert all(replica_of[rid] == ids[port] for port, rid, _ in sent)
    version_of = {row.request_id: row.model_version_id for row in logged}
    refs = {v1.id: "fleet:1", v2.id: "fleet:2"}
    assert all(refs[version_of[rid]] == model for _, rid, model in sent)


def _requests_total(text: str, endpoint: str) -> int:
    prefix = f'studio_requests_total{{endpoint="{endpoint}",status="200"}} '
    return sum(int(line[len(prefix):]) for line in text.splitlines() if line.startswith(prefix))


def test_metrics_of_a_service_with_two_workers_count_every_workers_requests(tmp_path, shared):
    """A scrape reaches one worker at random; it must still count every request."""
    import httpx

    env, store = shared
    version = register_test_model(store, name="pair", algorithm="logistic", seed=3)
    publish(store, version, "pair", actor="test")
    svc = ServiceProcess.start(tmp_path / "two-workers", workers=2, **env)
    try:
        svc.wait_ready("pair", "pair:1", timeout=15)
        record = sample_records(1, seed=5)[0]
        answered_by: set[str] = set()
        fresh = {"Connection": "close"}  # a new connection each time: either worker may answer
        sent = 0
        for _ in range(400):
            answered_by.add(httpx.get(f"{svc.url}/ping", headers=fresh).json()["replica"])
            r = httpx.post(f"{svc.url}/endpoints/pair/invocations", json=[record], headers=fresh)
            assert r.status_code == 200, r.text
            sent += 1
            if len(answered_by) == 2 and sent >= 30:
                break
        assert len(answered_by) == 2, "the kernel gave every connection to one worker"
        time.sleep(1.5)  # each worker publishes its counters once a second
        scrapes = [httpx.get(f"{svc.url}/metrics", headers=fresh).text for _ in range(8)]
        assert [_requests_total(t, "pair") for t in scrapes] == [sent] * 8
        folder = svc.home / "run" / f"metrics-{svc.port}"
        assert len(list(folder.glob("*.json"))) == 2
    finally:
        svc.stop()
    assert not list((svc.home / "run" / f"metrics-{svc.port}").glob("*.json"))  # removed on exit
