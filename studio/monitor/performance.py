"""Model quality from feedback: the metrics of labelled predictions over time,
against the metrics the model had at validation (the baseline)."""
from __future__ import annotations

import math
import numpy as np

from studio.monitor.baseline import category_key

LOWER_IS_BETTER = {"rmse", "mae", "log_loss", "mse"}
ALIASES = {
    "roc_auc": ("roc_auc", "auc", "roc_auc_ovr"),
    "accuracy": ("accuracy", "acc"),
    "f1": ("f1", "f1_macro", "f1_weighted", "f1_score"),
    "rmse": ("rmse", "root_mean_squared_error", "neg_root_mean_squared_error"),
    "mae": ("mae", "mean_absolute_error", "neg_mean_absolute_error"),
}
MIN_BUCKET_LABELS = 5


def _flat_metrics(metrics: dict | None) -> dict[str, float]:
    """Validation metrics as {name: value}: holdout first, then cross-validation."""
    metrics = metrics or {}
    flat: dict[str, float] = {}
    for part in ("holdout", "cv", None):
        source = metrics.get(part) if part else metrics
        if not isinstance(source, dict):
            continue
        for key, value in source.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) \
                    and math.isfinite(value) and key not in flat:
                flat[key] = abs(float(value)) if key.startswith("neg_") else float(value)
    return flat


def baseline_metric(metrics: dict | None, name: str) -> float | None:
    flat = _flat_metrics(metrics)
    for alias in ALIASES.get(name, (name,)):
        if alias in flat:
            return flat[alias]
    return None


def _positive_proba(outputs: dict, classes: list | None) -> float | None:
    proba = outputs.get("probabilities")
    if proba is None or not classes or len(classes) != 2:
        return None
    positive = classes[-1]
    if isinstance(proba, dict):
        for key, value in proba.items():
            if category_key(key) == category_key(positive):
                return float(value)
        return None
    if isinstance(proba, list) and len(proba) == 2:
        return float(proba[1])
    return None


def _auc(positive: np.ndarray, proba: np.ndarray) -> float | None:
    """ROC AUC by the rank (Mann–Whitney) formula; None with one class only."""
    from scipy.stats import rankdata

    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = rankdata(proba)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _f1(actual: np.ndarray, predicted: np.ndarray, label: str) -> float:
    tp = float(np.sum((predicted == label) & (actual == label)))
    fp = float(np.sum((predicted == label) & (actual != label)))
    fn = float(np.sum((predicted != label) & (actual == label)))
    return 0.0 if tp == 0 else tp / (tp + 0.5 * (fp + fn))


def score(task: str, actual: list, predicted: list, proba: list | None,
          classes: list | None) -> dict[str, float]:
    """Metrics of one set of labelled predictions (numpy; sklearn's definitions)."""
    if not actual:
        return {}
    if task == "regression":
        a = np.asarray(actual, dtype="float64")
        p = np.asarray(predicted, dtype="float64")
        return {"rmse": float(np.sqrt(np.mean((a - p) ** 2))), "mae": float(np.mean(np.abs(a - p)))}
    a = np.asarray(actual, dtype=object)
    p = np.asarray(predicted, dtype=object)
    out = {"accuracy": float(np.mean(a == p))}
    if task == "binary" and classes and len(classes) == 2:
        positive = category_key(classes[-1])
        out["f1"] = _f1(a, p, positive)
        if proba is not None and all(v is not None for v in proba):
            auc = _auc(a == positive, np.asarray(proba, dtype="float64"))
            if auc is not None:
                out["roc_auc"] = auc
    else:
        # macro F1 over the labels seen in either column, as sklearn's average="macro"
        labels = sorted(set(a.tolist()) | set(p.tolist()))
        out["f1"] = float(np.mean([_f1(a, p, label) for label in labels]))
    return out


def _pairs(pairs: list[dict], task: str, classes: list | None) -> tuple[list, list, list, list]:
    """(ts, actual, predicted, positive-class proba) with one feedback per request (newest)."""
    seen: set = set()
    ts, actual, predicted, proba = [], [], [], []
    for pair in pairs:  # newest feedback first
        if pair.get("request_id") in seen:
            continue
        seen.add(pair.get("request_id"))
        outputs = pair.get("outputs") or {}
        pred, act = outputs.get("prediction"), pair.get("actual")
        if isinstance(act, dict):  # {"actual": value} stored as given
            act = act.get("actual", act.get("value"))
        if pred is None or act is None:
            continue
        if task == "regression":
            try:
                a, p = float(act), float(pred)
            except (TypeError, ValueError):
                continue
            if not (math.isfinite(a) and math.isfinite(p)):
                continue
        else:
            a, p = category_key(act), category_key(pred)
            if a is None or p is None:
                continue
        ts.append(pair["ts"])
        actual.append(a)
        predicted.append(p)
        proba.append(_positive_proba(outputs, classes))
    return ts, actual, predicted, proba


def choose_metric(task: str, card_metric: str | None, current: dict, base: dict | None) -> str:
    order = ["rmse", "mae"] if task == "regression" else ["roc_auc", "accuracy", "f1"]
    if card_metric:
        canon = next((k for k, v in ALIASES.items() if card_metric in v), card_metric)
        order = [canon] + [m for m in order if m != canon]
    for name in order:
        if name in current and baseline_metric(base, name) is not None:
            return name
    return next((name for name in order if name in current), order[0])


def relative_drop(name: str, baseline: float | None, current: float | None) -> float | None:
    """How much worse ``current`` is than ``baseline`` as a share of it (negative = better)."""
    if baseline is None or current is None or baseline == 0:
        return None
    change = (current - baseline) / abs(baseline)
    return round(change if name in LOWER_IS_BETTER else -change, 6)


def compute_quality(pairs: list[dict], *, task: str, classes: list | None,
                    baseline_metrics: dict | None, card_metric: str | None,
                    predictions: int, labelled: int, start: float, end: float,
                    bucket_s: int) -> dict:
    """Current metrics, their series over the window, and the change from validation."""
    ts, actual, predicted, proba = _pairs(pairs, task, classes)
    has_proba = bool(proba) and all(p is not None for p in proba)
    current = score(task, actual, predicted, proba if has_proba else None, classes)
    metric = choose_metric(task, card_metric, current, baseline_metrics)
    base_value = baseline_metric(baseline_metrics, metric)
    series = []
    if ts:
        order = np.argsort(ts)
        buckets: dict[int, list[int]] = {}
        for i in order:
            buckets.setdefault(int(ts[i] // bucket_s), []).append(int(i))
        for b, idx in sorted(buckets.items()):
            if len(idx) < MIN_BUCKET_LABELS:
                continue
            sub = score(task, [actual[i] for i in idx], [predicted[i] for i in idx],
                        [proba[i] for i in idx] if has_proba else None, classes)
            series.append({"t": b * bucket_s, "labels": len(idx), **sub})
    return {
        "task": task, "metric": metric, "labelled": labelled, "predictions": predictions,
        "label_share": round(labelled / predictions, 6) if predictions else None,
        "pairs_used": len(actual), "current": current, "value": current.get(metric),
        "baseline": base_value, "baseline_metrics": _flat_metrics(baseline_metrics),
        "drop": relative_drop(metric, base_value, current.get(metric)),
        "lower_is_better": metric in LOWER_IS_BETTER, "bucket_s": bucket_s, "series": series,
    }

