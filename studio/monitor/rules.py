"""Alert rules: per-endpoint defaults, validation of edits, evaluation on a report.

A rule is a kind plus parameters. Evaluating a rule on a report gives nothing
(all well) or a finding: severity, a message for a person and the evidence.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from studio.errors import InvalidInput

RULE_KINDS = ("drift", "missing_rate", "error_rate", "latency_p99", "quality")
TITLES = {
    "drift": "Drift in a top feature or the prediction",
    "missing_rate": "Missing-value jump",
    "error_rate": "Error rate",
    "latency_p99": "p99 latency",
    "quality": "Model quality drop",
}
# Parameter specs: (type, default, min, max, help). "choice" types list their choices as min.
PARAMS: dict[str, dict[str, tuple]] = {
    "drift": {
        "top_k": ("int", 5, 1, 1000, "watch this many of the most important features"),
        "min_status": ("choice", "alert", ("warning", "alert"), None,
                       "feature status that raises the alert"),
        "include_prediction": ("bool", True, None, None, "also alert on prediction drift"),
    },
    "missing_rate": {
        "max_increase": ("float", 0.1, 0.001, 1.0,
                         "alert when a feature's missing share rises by more than this"),
    },
    "error_rate": {
        "max_rate": ("float", 0.05, 0.0, 1.0, "alert above this share of 4xx/5xx answers"),
        "min_requests": ("int", 20, 1, 10**9, "only judge windows with at least this many"),
    },
    "latency_p99": {
        "max_ms": ("float", 500.0, 0.1, 10**7, "alert when p99 latency exceeds this (ms)"),
        "min_requests": ("int", 20, 1, 10**9, "only judge windows with at least this many"),
    },
    "quality": {
        "max_drop": ("float", 0.1, 0.0, 10.0,
                     "alert when the metric is worse than validation by more than this share"),
        "min_labels": ("int", 30, 1, 10**9, "only judge with at least this many labels"),
    },
}
COOLDOWN = ("int", 3600, 0, 30 * 86400,
            "after an alert is acknowledged, wait this long (s) before raising it again")


def default_params(kind: str) -> dict:
    params = {name: spec[1] for name, spec in PARAMS[kind].items()}
    params["cooldown_s"] = COOLDOWN[1]
    return params


def validate_params(kind: str, params: dict) -> dict:
    """Clean parameters for ``kind`` (defaults filled in) or InvalidInput naming the problem."""
    if kind not in PARAMS:
        raise InvalidInput(f"rule kind '{kind}' is not one of {', '.join(RULE_KINDS)}")
    specs = {**PARAMS[kind], "cooldown_s": COOLDOWN}
    unknown = set(params or {}) - set(specs)
    if unknown:
        raise InvalidInput(f"rule '{kind}' has no parameter {', '.join(sorted(unknown))}")
    clean = default_params(kind)
    for name, value in (params or {}).items():
        typ, _default, low, high, _help = specs[name]
        if typ == "bool":
            if not isinstance(value, bool):
                raise InvalidInput(f"{kind}.{name} must be true or false")
        elif typ == "choice":
            if value not in low:
                raise InvalidInput(f"{kind}.{name} must be one of {', '.join(low)}")
        else:
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise InvalidInput(f"{kind}.{name} must be a number, not '{str(value)[:40]}'") \
                    from None
            if number != number or not (low <= number <= high):
                raise InvalidInput(f"{kind}.{name} must be between {low} and {high}")
            if typ == "int":
                if number != int(number):
                    raise InvalidInput(f"{kind}.{name} must be a whole number")
                value = int(number)
            else:
                value = number
        clean[name] = value
    return clean


def validate_webhook_url(url: str | None) -> str | None:
    """An http(s) URL with a host, or None for no webhook."""
    url = (url or "").strip()
    if not url:
        return None
    if len(url) > 2048:
        raise InvalidInput("the webhook URL is longer than 2048 characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise InvalidInput("the webhook URL must start with http:// or https://")
    if not parts.hostname:
        raise InvalidInput("the webhook URL needs a host name, e.g. https://hooks.example.com/x")
    if any(ch.isspace() for ch in url):
        raise InvalidInput("the webhook URL must not contain spaces")
    return url


# --- evaluation ---------------------------------------------------------------------

def _rank(status: str) -> int:
    return ("ok", "warning", "alert").index(status)


def _feature_evidence(f: dict) -> dict:
    keys = ("feature", "status", "statistic", "score", "psi", "p_value", "importance",
            "missing_rate", "baseline_missing_rate", "new_share", "new_categories", "reasons")
    return {k: f.get(k) for k in keys}


def _eval_drift(params: dict, report: dict) -> dict | None:
    features = report.get("features") or []
    if any(f.get("importance") for f in features):
        watched = sorted(features, key=lambda f: -(f.get("importance") or 0))[:params["top_k"]]
    else:
        watched = features
    need = _rank(params["min_status"])
    hits = [f for f in watched if _rank(f["status"]) >= need]
    pred = report.get("prediction")
    if params["include_prediction"] and pred and _rank(pred["status"]) >= need:
        hits.append(pred)
    if not hits:
        return None
    severity = max((f["status"] for f in hits), key=_rank)
    names = ", ".join(f"{f['feature']} ({f['status']}, {f['statistic']} {f['score']:.3g})"
                      if f.get("score") is not None else f"{f['feature']} ({f['status']})"
                      for f in hits[:5])
    return {"severity": severity, "message": f"Drift on endpoint {report['endpoint']}: {names}",
            "evidence": {"features": [_feature_evidence(f) for f in hits]}}


def _eval_missing(params: dict, report: dict) -> dict | None:
    hits = [f for f in report.get("features") or []
            if f.get("missing_status", "ok") != "ok"
            and (f.get("missing_change") or 0) > params["max_increase"]]
    if not hits:
        return None
    names = ", ".join(f"{f['feature']} {f['baseline_missing_rate']:.1%} → {f['missing_rate']:.1%}"
                      for f in hits[:5])
    return {"severity": "alert",
            "message": f"Missing values jumped on endpoint {report['endpoint']}: {names}",
            "evidence": {"features": [_feature_evidence(f) for f in hits]}}


def _eval_errors(params: dict, report: dict) -> dict | None:
    totals = (report.get("traffic") or {}).get("totals") or {}
    rate, n = totals.get("error_rate"), totals.get("requests") or 0
    if rate is None or n < params["min_requests"] or rate <= params["max_rate"]:
        return None
    return {"severity": "alert",
            "message": (f"Error rate {rate:.1%} on endpoint {report['endpoint']} "
                        f"(limit {params['max_rate']:.1%}): {totals['errors_4xx']} 4xx, "
                        f"{totals['errors_5xx']} 5xx of {n} requests"),
            "evidence": {"totals": totals, "rejected": (report.get("data_quality") or {})
                         .get("issues", [])[:3]}}


def _eval_latency(params: dict, report: dict) -> dict | None:
    totals = (report.get("traffic") or {}).get("totals") or {}
    p99, n = totals.get("p99_ms"), totals.get("requests") or 0
    if p99 is None or n < params["min_requests"] or p99 <= params["max_ms"]:
        return None
    return {"severity": "alert",
            "message": (f"p99 latency {p99:.0f} ms on endpoint {report['endpoint']} "
                        f"(limit {params['max_ms']:.0f} ms)"),
            "evidence": {"totals": totals}}


def _eval_quality(params: dict, report: dict) -> dict | None:
    quality = report.get("quality") or {}
    drop = quality.get("drop")
    if drop is None or (quality.get("pairs_used") or 0) < params["min_labels"] \
            or drop <= params["max_drop"]:
        return None
    return {"severity": "alert",
            "message": (f"Model quality dropped on endpoint {report['endpoint']}: "
                        f"{quality['metric']} {quality['value']:.4g} vs {quality['baseline']:.4g} "
                        f"at validation ({drop:.0%} worse, {quality['pairs_used']} labels)"),
            "evidence": {k: quality.get(k) for k in ("metric", "value", "baseline", "drop",
                                                     "pairs_used", "current")}}


EVALUATORS = {"drift": _eval_drift, "missing_rate": _eval_missing, "error_rate": _eval_errors,
              "latency_p99": _eval_latency, "quality": _eval_quality}


def evaluate_rule(kind: str, params: dict, report: dict) -> dict | None:
    """A finding ``{severity, message, evidence}`` or None."""
    return EVALUATORS[kind](validate_params(kind, params), report)


def describe(kind: str, params: dict) -> str:
    p = {**default_params(kind), **(params or {})}
    if kind == "drift":
        extra = " or in the prediction" if p["include_prediction"] else ""
        return f"a feature among the {p['top_k']} most important reaches '{p['min_status']}'{extra}"
    if kind == "missing_rate":
        return f"a feature's missing share rises by more than {p['max_increase']:.0%}"
    if kind == "error_rate":
        return f"more than {p['max_rate']:.1%} of answers are errors (≥ {p['min_requests']} rows)"
    if kind == "latency_p99":
        return f"p99 latency above {p['max_ms']:g} ms (≥ {p['min_requests']} rows)"
    return (f"the model's metric is more than {p['max_drop']:.0%} worse than at validation "
            f"(≥ {p['min_labels']} labels)")


def rule_spec(kind: str) -> dict[str, Any]:
    """Parameter specs for editors: {name: {type, default, min, max, choices, help}}."""
    out = {}
    for name, (typ, default, low, high, help_) in {**PARAMS[kind], "cooldown_s": COOLDOWN}.items():
        out[name] = {"type": typ, "default": default, "help": help_,
                     "choices": list(low) if typ == "choice" else None,
                     "min": None if typ in ("choice", "bool") else low,
                     "max": None if typ in ("choice", "bool") else high}
    return out
