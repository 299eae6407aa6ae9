"""Publishing to a running service: swap, roll back, unpublish while a client sends; a tampered
model file; the Host check; API keys on and off."""
from __future__ import annotations

import threading
import time

import pytest

from storage import serving as repo
from studio.endpoints import create_api_key, history, publish, revoke_api_key, rollback, unpublish
from studio.errors import IntegrityError
from tests.model_factory import register_test_model, sample_records
from tests.service_fixtures import ServiceProcess


def test_swap_and_rollback_while_a_client_is_sending(service):  # noqa: F811
    store = service.store
    v1 = register_test_model(store, name="live", algorithm="logistic", seed=1)
    v2 = register_test_model(store, name="live", algorithm="xgboost", seed=2)
    publish(store, v1, "live", actor="test")
    service.wait_ready("live", "live:1")
    record = sample_records(1, seed=4, string_classes=True)[0]
    seen, failures, stop = [], [], threading.Event()

    def client():
        import httpx

        with httpx.Client(base_url=service.url, timeout=10) as http:
            while not stop.is_set():
                r = http.post("/endpoints/live/invocations", json=[record])
                if r.status_code != 200:
                    failures.append((r.status_code, r.text))
                else:
                    seen.append(r.json()["model"])

    threads = [threading.Thread(target=client) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.3)
        started = time.time()
        publish(store, v2, "live", actor="test")
        service.wait_ready("live", "live:2", timeout=5)
        assert time.time() - started < 5
        time.sleep(0.3)
        rollback(store, "live", actor="test")
        service.wait_ready("live", "live:1", timeout=5)
        time.sleep(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not failures, failures[:3]
    assert "live:1" in seen and "live:2" in seen
    changes = [(e.action, e.model, e.previous_model) for e in history(store, "live")]
    assert changes == [("rollback", "live:1", "live:2"), ("publish", "live:2", "live:1"),
                       ("publish", "live:1", None)]
    unpublish(store, "live", actor="test")
    deadline = time.time() + 5
    while time.time() < deadline:
        r = service.post("/endpoints/live/invocations", json=[record])
        if r.status_code == 404:
            break
        time.sleep(0.05)
    assert r.status_code == 404 and "unpublished" in r.json()["error"]


def test_a_tampered_model_file_is_refused_and_the_reason_shown(service):  # noqa: F811
    store = service.store
    version = register_test_model(store, name="tamper", algorithm="logistic", seed=3)
    path = store.artifacts.root / version.artifact_sha[:2] / version.artifact_sha
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped byte
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="does not match"):
        publish(store, version, "tamper", actor="test")
    # As if the file changed after publishing: the service must still refuse to load it.
    with store.session() as session:
        repo.set_endpoint_version(session=session, name="tamper", model_version_id=version.id,
                                  action="publish", actor="test")
    info = service.wait_ready("tamper")
    assert info["status"] == "error" and "does not match its recorded sha256" in info["error"]
    r = service.post("/endpoints/tamper/invocations", json=sample_records(1))
    assert r.status_code == 503 and "does not match" in r.json()["error"]


def test_host_header_allow_list_and_no_cors(service):  # noqa: F811
    r = service.get("/ping", headers={"Host": "evil.example"})
    assert r.status_code == 400 and "evil.example" in r.json()["error"]
    r = service.post("/endpoints/x/invocations", json=[{}], headers={"Host": "attacker.test:8080"})
    assert r.status_code == 400
    assert service.get("/ping", headers={"Host": f"localhost:{service.port}"}).status_code == 200
    r = service.get("/ping", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in r.headers


def test_api_keys_are_off_on_loopback_by_default(service):  # noqa: F811
    version = register_test_model(service.store, name="open", algorithm="logistic", seed=5)
    publish(service.store, version, "open", actor="test")
    service.wait_ready("open")
    assert service.post("/endpoints/open/invocations", json=sample_records(1)).status_code == 200


def test_api_keys_required_row_limit_and_clean_shutdown(tmp_path):
    svc = ServiceProcess.start(tmp_path / "home", STUDIO_REQUIRE_API_KEY="true",
                               STUDIO_MAX_REQUEST_ROWS="5")
    try:
        version = register_test_model(svc.store, name="secure", algorithm="logistic", seed=6)
        publish(svc.store, version, "secure", actor="test")
        key, token = create_api_key(svc.store, "tester")
        assert token.startswith(f"sk_{key.prefix}_")
        with svc.store.session() as session:
            stored = repo.list_api_keys(session=session)[0]
        assert token not in str(stored.model_dump())  # only the hash is kept
        headers = {"X-API-Key": token}
        time.sleep(0.5)  # the service refreshes keys with its poll
        svc.wait_ready("secure", headers=headers)
        rows = sample_records(1)
        assert svc.get("/ping").status_code == 200  # health checks need no key
        r = svc.post("/endpoints/secure/invocations", json=rows)
        assert r.status_code == 401 and "X-API-Key" in r.json()["error"]
        r = svc.post("/endpoints/secure/invocations", json=rows, headers={"X-API-Key": "sk_x_y"})
        assert r.status_code == 401 and "not valid" in r.json()["error"]
        assert svc.post("/endpoints/secure/invocations", json=rows, headers=headers).status_code == 200
        bearer = {"Authorization": f"Bearer {token}"}
        assert svc.post("/endpoints/secure/invocations", json=rows, headers=bearer).status_code == 200
        assert svc.get("/endpoints/secure").status_code == 401
        r = svc.post("/endpoints/secure/invocations", json=sample_records(6), headers=headers)
        assert r.status_code == 413 and "limit is 5" in r.json()["error"]
        ids = [svc.post("/endpoints/secure/invocations", json=sample_records(1), headers=headers)
               .json()["request_ids"][0] for _ in range(20)]
        revoke_api_key(svc.store, key.prefix)
        deadline = time.time() + 5
        while time.time() < deadline:
            r = svc.post("/endpoints/secure/invocations", json=rows, headers=headers)
            if r.status_code == 401:
                break
            time.sleep(0.1)
        assert r.status_code == 401
    finally:
        code = svc.stop()
    assert code in (0, -15), svc.log()  # uvicorn re-raises SIGTERM after a clean shutdown
    assert "Application shutdown complete" in svc.log()
    with svc.store.session() as session:  # a clean stop wrote every log row still in memory
        logged = {r.request_id for r in repo.list_prediction_logs(session=session, endpoint="secure",
                                                                  expand=True)}
    assert set(ids) <= logged
