"""Data quality of a window's inputs, checked against the baseline's columns.

Per column: missing values, values of the wrong type, numbers outside the
training range, categories training never saw; for the whole request: columns
missing from the record, unexpected columns, and requests the service refused
(4xx). Each issue carries a count, a rate and a few example values (as text,
cut short). Works on the bounded sample the check reads, so counts are for the
rows checked and the report says how many of the window's rows that was.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from studio.monitor.baseline import category_key
from studio.monitor.drift import is_missing

EXAMPLES = 3
BOOL_WORDS = {"true", "false", "yes", "no", "y", "n", "t", "f", "0", "1"}
LABELS = {
    "missing": "missing values",
    "wrong_type": "wrong type",
    "out_of_range": "outside the training range",
    "unseen_category": "category not seen in training",
    "missing_column": "column missing from the request",
    "unexpected_column": "column the model does not know",
    "rejected": "request refused by the service",
}


def _example(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= 160 else text[:157] + "…"


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        return None


class _Tally:
    def __init__(self) -> None:
        self.count: dict[tuple[str, str], int] = defaultdict(int)
        self.examples: dict[tuple[str, str], list[str]] = defaultdict(list)

    def add(self, feature: str, issue: str, example: Any = None) -> None:
        key = (feature, issue)
        self.count[key] += 1
        if example is not None and len(self.examples[key]) < EXAMPLES:
            shown = _example(example)
            if shown not in self.examples[key]:
                self.examples[key].append(shown)


def _check_value(tally: _Tally, name: str, base: dict, value: Any) -> None:
    kind = base.get("kind")
    if is_missing(value):
        tally.add(name, "missing")
        return
    if kind == "numeric":
        number = _number(value)
        if number is None:
            tally.add(name, "wrong_type", value)
        elif base.get("min") is not None and (number < base["min"] or number > base["max"]):
            tally.add(name, "out_of_range", value)
    elif kind == "categorical":
        if isinstance(value, (dict, list)):
            tally.add(name, "wrong_type", value)
            return
        if base.get("semantic") == "boolean" and not isinstance(value, bool) \
                and str(value).strip().lower() not in BOOL_WORDS \
                and category_key(value) not in (base.get("top") or {}):
            tally.add(name, "wrong_type", value)
            return
        if base.get("complete") and (base.get("top") or base.get("count")) \
                and category_key(value) not in (base.get("top") or {}):
            tally.add(name, "unseen_category", value)
    elif isinstance(value, (dict, list)):
        tally.add(name, "wrong_type", value)


def check_data_quality(rows: list[dict], baseline: dict | None, rows_in_window: int) -> dict:
    """Issues found in ``rows`` (each ``{"status", "inputs"}``) against ``baseline``."""
    features = (baseline or {}).get("features") or {}
    expected = [c["name"] for c in (baseline or {}).get("columns") or []] or list(features)
    tally = _Tally()
    rejected: dict[int, int] = defaultdict(int)
    for row in rows:
        status = int(row.get("status") or 200)
        inputs = row.get("inputs")
        if status >= 400:
            rejected[status] += 1
            outputs = row.get("outputs")
            reason = outputs.get("error") if isinstance(outputs, dict) else None
            tally.add("(request)", "rejected", f"HTTP {status}: {reason}" if reason
                      else {"status": status, "inputs": inputs})
        if not isinstance(inputs, dict):
            continue
        for name in expected:
            if name not in inputs:
                tally.add(name, "missing_column")
                tally.add(name, "missing")
            elif name in features:
                _check_value(tally, name, features[name], inputs[name])
        for key in inputs:
            if key not in features and key not in expected:
                tally.add(str(key)[:64], "unexpected_column", inputs[key])
    checked = len(rows)
    issues = []
    for (feature, issue), count in tally.count.items():
        if issue == "missing":
            continue  # missing values are reported per feature below, against the baseline
        issues.append({
            "feature": feature, "issue": issue, "label": LABELS[issue], "count": count,
            "rate": round(count / checked, 6) if checked else None,
            "estimated_rows": round(count / checked * rows_in_window) if checked else 0,
            "examples": tally.examples.get((feature, issue), []),
        })
    issues.sort(key=lambda i: (-i["count"], i["feature"], i["issue"]))
    per_feature = {}
    for name in expected:
        base = features.get(name, {})
        missing = tally.count.get((name, "missing"), 0)
        per_feature[name] = {
            "missing_rate": round(missing / checked, 6) if checked else None,
            "baseline_missing_rate": base.get("missing_rate"),
            **{issue: tally.count.get((name, issue), 0)
               for issue in ("wrong_type", "out_of_range", "unseen_category", "missing_column")},
        }
    return {
        "rows_checked": checked, "rows_in_window": rows_in_window,
        "sampled": checked < rows_in_window, "rejected": dict(rejected),
        "issues": issues, "features": per_feature,
    }
