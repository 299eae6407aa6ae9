"""The Endpoints page (AppTest) against a real service: status, try-it form, history,
rollback, API keys; and a service that cannot start says why."""
from __future__ import annotations

import socket

import pytest

from studio.endpoints import history, list_api_keys, publish
from tests.conftest import page_test
from tests.model_factory import register_test_model
from tests.service_fixtures import ServiceProcess, free_port


def _texts(at) -> str:
    kinds = ("markdown", "caption", "info", "error", "success", "warning", "text", "code")
    return "\n".join(str(e.value) for kind in kinds for e in getattr(at, kind))


def test_without_endpoints_and_without_service(store, monkeypatch):
    monkeypatch.setenv("STUDIO_SERVICE_PORT", str(free_port()))
    at = page_test("endpoints").run()
    assert not at.exception
    assert "Prediction service is down" in at.warning[0].value
    assert "No endpoints yet" in at.info[0].value


def test_try_it_history_rollback_and_keys(tmp_path, monkeypatch):
    svc = ServiceProcess.start(tmp_path / "home")
    try:
        monkeypatch.setenv("STUDIO_HOME", str(svc.home))
        monkeypatch.setenv("STUDIO_SERVICE_PORT", str(svc.port))
        v1 = register_test_model(svc.store, name="churn", algorithm="logistic", seed=1, n=120)
        v2 = register_test_model(svc.store, name="churn", algorithm="xgboost", seed=2, n=120)
        publish(svc.store, v1, "churn", actor="test")
        publish(svc.store, v2, "churn", actor="test")
        svc.wait_ready("churn", "churn:2")
        at = page_test("endpoints").run()
        assert not at.exception
        assert "Prediction service is up" in at.success[0].value
        form_button = [b for b in at.button if b.label == "Predict"][0]
        at.number_input(key=f"try_{v2.id}_0").set_value(2.5)
        form_button.click().run()
        assert not at.exception, at.exception
        assert at.metric[0].label == "Prediction" and at.metric[0].value in ("0", "1")
        assert len(at.get("plotly_chart")) >= 2  # probabilities and contributions
        text = _texts(at)
        assert "curl -s -X POST" in text and "httpx.post" in text
        at.button(key="rollback_btn").click().run()
        assert not at.exception
        assert history(svc.store, "churn")[0].action == "rollback"
        svc.wait_ready("churn", "churn:1")
        new_key = [t for t in at.text_input if t.label == "Name of the new key"][0]
        new_key.input("demo")
        [b for b in at.button if b.label == "Create key"][0].click().run()
        assert not at.exception
        assert any(c.value.startswith("sk_") for c in at.code)
        assert [k.name for k in list_api_keys(svc.store)] == ["demo"]
    finally:
        svc.stop()


def test_a_service_that_cannot_start_says_why(store, monkeypatch):
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    port = blocker.getsockname()[1]
    monkeypatch.setenv("STUDIO_SERVICE_PORT", str(port))
    try:
        at = page_test("endpoints", timeout=60).run()
        at.button(key="start_service").click().run()
        assert not at.exception
        text = _texts(at)
        assert "The service did not start" in text
        assert "address already in use" in text.lower() or "errno 98" in text.lower()
    finally:
        blocker.close()
