"""Alert rules per endpoint, alerts raised by checks, acknowledgement and webhooks.

A rule raises at most one open alert: while its last alert is unacknowledged
(or was acknowledged less than ``cooldown_s`` ago) a check that finds the same
problem records it in the report but raises nothing new. Webhooks are called
after the alerts are committed, with a short timeout and no redirects; the
outcome is recorded on the alert. The URL is only ever one a user saved on a
rule, never one taken from request data.
"""
from __future__ import annotations

import json
from datetime import timedelta

from storage import monitoring as repo
from storage.monitoring import AlertPublic, AlertRulePublic
from storage.store import Store
from storage.tables import utcnow
from studio.errors import InvalidInput, NotFound
from studio.monitor import rules as R

WEBHOOK_TIMEOUT_S = 3.0


def ensure_default_rules(store: Store, endpoint: str) -> list[AlertRulePublic]:
    """The endpoint's rules, creating the defaults the first time."""
    with store.session() as session:
        existing = repo.list_alert_rules(session=session, endpoint=endpoint)
        if existing:
            return existing
        for kind in R.RULE_KINDS:
            repo.create_alert_rule(session=session, endpoint=endpoint, kind=kind,
                                   params=R.default_params(kind))
        return repo.list_alert_rules(session=session, endpoint=endpoint)


def list_rules(store: Store, endpoint: str) -> list[AlertRulePublic]:
    with store.session() as session:
        return repo.list_alert_rules(session=session, endpoint=endpoint)


def update_rule(store: Store, rule_id: int, *, params: dict | None = None,
                enabled: bool | None = None, webhook_url: str | None = "") -> AlertRulePublic:
    """Change a rule; ``webhook_url=""`` leaves the webhook as it is, None removes it."""
    with store.session() as session:
        rule = repo.get_alert_rule(session=session, rule_id=rule_id)
        if rule is None:
            raise NotFound(f"alert rule {rule_id} does not exist")
        values: dict = {}
        if params is not None:
            values["params"] = R.validate_params(rule.kind, {**rule.params, **params})
        if enabled is not None:
            values["enabled"] = bool(enabled)
        if webhook_url != "":
            values["webhook_url"] = R.validate_webhook_url(webhook_url)
        return repo.update_alert_rule(session=session, rule_id=rule_id, **values)


def add_rule(store: Store, endpoint: str, kind: str, params: dict | None = None,
             webhook_url: str | None = None) -> AlertRulePublic:
    clean = R.validate_params(kind, params or {})
    url = R.validate_webhook_url(webhook_url)
    with store.session() as session:
        return repo.create_alert_rule(session=session, endpoint=endpoint, kind=kind,
                                      params=clean, webhook_url=url)


def delete_rule(store: Store, rule_id: int) -> None:
    with store.session() as session:
        if not repo.delete_alert_rule(session=session, rule_id=rule_id):
            raise NotFound(f"alert rule {rule_id} does not exist")


def _suppressed(session, rule: AlertRulePublic, now) -> AlertPublic | None:
    last = repo.list_alerts(session=session, endpoint=rule.endpoint, limit=50)
    last = next((a for a in last if a.rule_id == rule.id), None)
    if last is None:
        return None
    if last.acknowledged_at is None:
        return last
    cooldown = timedelta(seconds=float(rule.params.get("cooldown_s", R.COOLDOWN[1])))
    return last if last.acknowledged_at + cooldown > now else None


def raise_alerts(session, *, endpoint: str, report_id: int, report: dict) -> tuple[list, list]:
    """Evaluate the endpoint's enabled rules inside the check's transaction.

    Returns (new alerts with their rule, findings suppressed by an open alert).
    """
    now = utcnow()
    raised, suppressed = [], []
    for rule in repo.list_alert_rules(session=session, endpoint=endpoint):
        if not rule.enabled:
            continue
        finding = R.evaluate_rule(rule.kind, rule.params, report)
        if finding is None:
            continue
        finding["evidence"] = {"rule": {"id": rule.id, "kind": rule.kind, "params": rule.params,
                                        "title": R.TITLES[rule.kind]},
                               "window": {k: report.get(k) for k in
                                          ("window", "window_start", "window_end")},
                               "model": report.get("model"), **finding["evidence"]}
        blocking = _suppressed(session, rule, now)
        if blocking is not None:
            suppressed.append({"rule_id": rule.id, "kind": rule.kind, "open_alert": blocking.id})
            continue
        alert = repo.create_alert(session=session, endpoint=endpoint, rule_id=rule.id,
                                  report_id=report_id, severity=finding["severity"],
                                  message=finding["message"][:2000],
                                  evidence=finding["evidence"])
        raised.append((alert, rule))
    return raised, suppressed


def alert_payload(alert: AlertPublic, rule: AlertRulePublic | None) -> dict:
    return {
        "type": "studio.alert", "id": alert.id, "endpoint": alert.endpoint,
        "severity": alert.severity, "message": alert.message, "at": alert.at.isoformat(),
        "rule": {"id": rule.id, "kind": rule.kind, "title": R.TITLES.get(rule.kind)} if rule else None,
        "report_id": alert.report_id, "evidence": alert.evidence,
    }


def post_webhook(url: str, payload: dict, timeout: float = WEBHOOK_TIMEOUT_S) -> str:
    """POST ``payload`` as JSON; returns a short delivery status for the record."""
    import httpx

    url = R.validate_webhook_url(url)
    if url is None:
        raise InvalidInput("no webhook URL")
    try:
        response = httpx.post(url, content=json.dumps(payload, default=str).encode(),
                              headers={"content-type": "application/json",
                                       "user-agent": "studio-monitor"},
                              timeout=timeout, follow_redirects=False)
    except httpx.TimeoutException:
        return f"failed: no answer within {timeout:g} s"
    except httpx.HTTPError as exc:
        return f"failed: {type(exc).__name__}: {str(exc)[:150]}"
    kind = "delivered" if 200 <= response.status_code < 300 else "failed"
    return f"{kind}: HTTP {response.status_code}"


def deliver_webhooks(store: Store, raised: list[tuple[AlertPublic, AlertRulePublic]]) -> dict[int, str]:
    """Call each new alert's webhook (after commit) and record the outcome."""
    outcomes: dict[int, str] = {}
    for alert, rule in raised:
        if not rule.webhook_url:
            continue
        status = post_webhook(rule.webhook_url, alert_payload(alert, rule))
        outcomes[alert.id] = status
        with store.session() as session:
            repo.set_alert_webhook_status(session=session, alert_id=alert.id, status=status)
    return outcomes


def list_alerts(store: Store, endpoint: str | None = None, *, open_only: bool = False,
                limit: int = 200) -> list[AlertPublic]:
    with store.session() as session:
        return repo.list_alerts(session=session, endpoint=endpoint, open_only=open_only,
                                limit=limit)


def acknowledge(store: Store, alert_id: int, by: str = "ui") -> AlertPublic:
    with store.session() as session:
        alert = repo.acknowledge_alert(session=session, alert_id=alert_id, by=by or "ui")
    if alert is None:
        raise NotFound(f"alert {alert_id} does not exist")
    return alert


def count_open(store: Store, endpoint: str | None = None) -> int:
    with store.session() as session:
        return repo.count_open_alerts(session=session, endpoint=endpoint)
