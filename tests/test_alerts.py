"""Alert rules, webhooks (a real local HTTP server) and the scheduler."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from studio.errors import InvalidInput, NotFound
from studio.monitor import alerts
from studio.monitor.check import run_check
from studio.monitor.scheduler import MonitorScheduler, due_endpoints
from tests.monitor_support import fresh_records, log_traffic, register_monitored_model


class _Hook(BaseHTTPRequestHandler):
    received: list = []
    status = 200

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        type(self).received.append((self.path, self.headers.get("content-type"), json.loads(body)))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def hook_server():
    handler = type("Hook", (_Hook,), {"received": [], "status": 200})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


@pytest.fixture
def drifting(store):
    version, pipeline, _ = register_monitored_model(store)
    records, _ = fresh_records(300)
    drifted = [dict(r, num_0=None if r["num_0"] is None else r["num_0"] + 5) for r in records]
    log_traffic(store, endpoint="churn", version=version, pipeline=pipeline, records=drifted)
    return version


def _rule(store, kind):
    return next(r for r in alerts.ensure_default_rules(store, "churn") if r.kind == kind)


def test_default_rules_are_created_once(store, drifting):
    first = alerts.ensure_default_rules(store, "churn")
    assert [r.kind for r in first] == ["drift", "missing_rate", "error_rate", "latency_p99",
                                       "quality"]
    assert alerts.ensure_default_rules(store, "churn") == first
    assert first[0].params["top_k"] == 5 and first[0].params["cooldown_s"] == 3600


def test_webhook_receives_the_alert_as_json(store, drifting, hook_server):
    url, handler = hook_server
    rule = _rule(store, "drift")
    alerts.update_rule(store, rule.id, webhook_url=url + "/hooks/studio")
    result = run_check(store, "churn")
    alert = next(a for a in result.alerts if a.rule_id == rule.id)
    assert alert.webhook_status == "delivered: HTTP 200"
    assert len(handler.received) == 1
    path, content_type, payload = handler.received[0]
    assert path == "/hooks/studio" and content_type == "application/json"
    assert payload["id"] == alert.id and payload["rule"]["kind"] == "drift"
    assert payload["severity"] == "alert" and "num_0" in payload["message"]
    assert payload["evidence"]["features"]


def test_failed_webhook_is_recorded_not_raised(store, drifting, hook_server):
    url, handler = hook_server
    handler.status = 500
    rule = _rule(store, "drift")
    alerts.update_rule(store, rule.id, webhook_url=url)
    closed = _rule(store, "quality")
    alert = next(a for a in run_check(store, "churn").alerts if a.rule_id == rule.id)
    assert alert.webhook_status == "failed: HTTP 500"
    # an unreachable port: recorded with the reason
    status = alerts.post_webhook("http://127.0.0.1:9/x", {"a": 1}, timeout=1.0)
    assert status.startswith("failed:")
    assert closed.webhook_url is None


@pytest.mark.parametrize("url, message", [
    ("ftp://example.com/x", "http:// or https://"),
    ("file:///etc/passwd", "http:// or https://"),
    ("javascript:alert(1)", "http:// or https://"),
    ("http://", "host name"),
    ("http://exa mple.com", "spaces"),
])
def test_bad_webhook_urls_are_refused_and_nothing_changes(store, drifting, url, message):
    rule = _rule(store, "drift")
    with pytest.raises(InvalidInput, match=message):
        alerts.update_rule(store, rule.id, webhook_url=url)
    assert _rule(store, "drift").webhook_url is None


@pytest.mark.parametrize("params, message", [
    ({"top_k": 0}, "between"), ({"top_k": 2.5}, "whole number"), ({"top_k": "x"}, "a number"),
    ({"min_status": "panic"}, "one of"), ({"include_prediction": "yes"}, "true or false"),
    ({"nope": 1}, "no parameter"),
])
def test_bad_rule_parameters_are_refused(store, drifting, params, message):
    rule = _rule(store, "drift")
    with pytest.raises(InvalidInput, match=message):
        alerts.update_rule(store, rule.id, params=params)
    assert _rule(store, "drift").params == rule.params


def test_rule_edits_change_what_fires(store, drifting):
    rule = _rule(store, "drift")
    alerts.update_rule(store, rule.id, enabled=False)
    assert not [a for a in run_check(store, "churn").alerts if a.rule_id == rule.id]
    alerts.update_rule(store, rule.id, enabled=True, params={"min_status": "warning"})
    assert _rule(store, "drift").params["min_status"] == "warning"
    assert [a for a in run_check(store, "churn").alerts if a.rule_id == rule.id]
    with pytest.raises(NotFound):
        alerts.update_rule(store, 9999, enabled=False)
    with pytest.raises(NotFound):
        alerts.acknowledge(store, 9999)


def test_scheduled_check_fires_and_creates_an_alert(store, drifting):
    assert due_endpoints(store, interval_s=60) == ["churn"]
    scheduler = MonitorScheduler(store, interval_s=60, tick_s=0.05).start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not alerts.list_alerts(store, "churn"):
            time.sleep(0.05)
    finally:
        scheduler.stop()
    found = alerts.list_alerts(store, "churn")
    assert any(a.evidence["rule"]["kind"] == "drift" for a in found)
    assert scheduler.runs >= 1 and scheduler.last and scheduler.last[0]["endpoint"] == "churn"
    assert due_endpoints(store, interval_s=60) == []  # just checked: not due again


def test_a_round_of_scheduled_checks_runs_in_one_process_at_a_time(store, drifting):
    """Service replicas and `monitor --watch` share the store: while one holds the round,
    the others skip it instead of checking the same endpoints again."""
    from storage.locks import try_store_lock
    from studio.monitor import reports
    from studio.monitor.scheduler import LOCK_NAME, ChecksBusy, run_due_checks

    held = try_store_lock(store.url, LOCK_NAME)
    assert held is not None
    try:
        with pytest.raises(ChecksBusy, match="another process"):
            run_due_checks(store, interval_s=60)
        scheduler = MonitorScheduler(store, interval_s=60, tick_s=0.05).start()
        time.sleep(0.5)
        scheduler.stop()
        assert scheduler.runs == 0 and reports.latest_report(store, "churn", "hour") is None
    finally:
        held.release()
    done = run_due_checks(store, interval_s=60)
    assert [d["endpoint"] for d in done] == ["churn"] and "error" not in done[0]
    assert run_due_checks(store, interval_s=60) == []  # the lock was released after the round
