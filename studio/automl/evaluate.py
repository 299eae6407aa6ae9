"""The evaluation of one model as plain JSON (stored as an artifact per model).

Charts are drawn by the pages from this data; nothing here plots. Curves are
thinned to at most ``MAX_POINTS`` points and scatter data sampled, so the
artifact stays small for any data size.
"""
from __future__ import annotations

import time

import numpy as np
from sklearn import metrics as skm

from studio.automl.metrics import Metric, all_scores
from studio.schema import json_safe

MAX_POINTS = 200
MAX_SCATTER = 1000
MAX_CURVE_CLASSES = 10
MAX_MATRIX_CLASSES = 30


def _thin(*arrays: np.ndarray) -> list[list[float]]:
    n = len(arrays[0])
    if n > MAX_POINTS:
        idx = np.unique(np.linspace(0, n - 1, MAX_POINTS).round().astype(int))
        arrays = tuple(a[idx] for a in arrays)
    return [[round(float(v), 5) for v in a] for a in arrays]


def _curves(y_codes: np.ndarray, proba: np.ndarray, classes: list) -> tuple[dict, dict]:
    roc, pr = {}, {}
    k = len(classes)
    if k == 2:
        chosen = [1]
    else:
        counts = np.bincount(y_codes, minlength=k)
        chosen = [int(i) for i in np.argsort(-counts)[:MAX_CURVE_CLASSES] if counts[i] > 0]
    for i in chosen:
        truth = (y_codes == i).astype(int)
        if truth.min() == truth.max():
            continue
        fpr, tpr, _ = skm.roc_curve(truth, proba[:, i])
        precision, recall, _ = skm.precision_recall_curve(truth, proba[:, i])
        label = str(classes[i])
        f, t = _thin(fpr, tpr)
        roc[label] = {"fpr": f, "tpr": t, "auc": round(float(skm.auc(fpr, tpr)), 5)}
        r, p = _thin(recall[::-1], precision[::-1])
        pr[label] = {"recall": r, "precision": p,
                     "average_precision": round(float(skm.average_precision_score(truth, proba[:, i])), 5)}
    return roc, pr


def _confusion(y_codes: np.ndarray, pred_codes: np.ndarray, classes: list) -> dict:
    k = len(classes)
    counts = np.bincount(y_codes, minlength=k)
    keep = np.argsort(-counts)[:MAX_MATRIX_CLASSES] if k > MAX_MATRIX_CLASSES else np.arange(k)
    keep = np.sort(keep)
    matrix = skm.confusion_matrix(y_codes, pred_codes, labels=keep)
    return {"labels": [json_safe(classes[i]) for i in keep], "matrix": matrix.tolist(),
            "truncated": bool(k > MAX_MATRIX_CLASSES)}


def report(task: str, classes: list | None, y: np.ndarray, pred: np.ndarray, *,
           seed: int = 0, rows_seen: str = "holdout") -> dict:
    """Metrics and chart data for predictions ``pred`` (probabilities for classifiers)."""
    out: dict = {"task": task, "rows": int(len(y)), "rows_seen": rows_seen}
    if len(y) == 0:
        return out
    if task == "regression":
        y = np.asarray(y, dtype="float64")
        pred = np.asarray(pred, dtype="float64")
        out["metrics"] = all_scores(task, y, pred, 0)
        rng = np.random.default_rng(seed)
        idx = rng.choice(len(y), size=min(len(y), MAX_SCATTER), replace=False)
        out["pred_vs_actual"] = {"actual": [round(float(v), 6) for v in y[idx]],
                                 "predicted": [round(float(v), 6) for v in pred[idx]]}
        out["residuals"] = {"predicted": out["pred_vs_actual"]["predicted"],
                            "residual": [round(float(a - p), 6) for a, p in zip(y[idx], pred[idx])]}
        return out
    k = len(classes)
    out["metrics"] = all_scores(task, y, pred, k)
    out["classes"] = [json_safe(c) for c in classes]
    out["confusion_matrix"] = _confusion(y, np.argmax(pred, axis=1), classes)
    out["roc"], out["pr"] = _curves(y, pred, classes)
    return out


def permutation_importance(pipeline, X, y_raw, metric: Metric, task: str, *,
                           deadline: float | None, seed: int = 0,
                           max_rows: int = 1000) -> list[dict]:
    """Drop in the metric when one raw input column is shuffled (bigger = more important)."""
    from sklearn.inspection import permutation_importance as perm

    if len(X) == 0 or X.shape[1] == 0:
        return []
    if len(X) > max_rows:
        rng = np.random.default_rng(seed)
        pick = np.sort(rng.choice(len(X), size=max_rows, replace=False))
        X, y_raw = X.iloc[pick], np.asarray(y_raw)[pick]
    sign = 1.0 if metric.greater_is_better else -1.0

    def scorer(est, X_, y_):
        if task == "regression":
            pred = est.predict(X_)
            return sign * metric.fn(np.asarray(y_, dtype="float64"), pred, 0)
        proba = est.predict_proba(X_)
        index = {c: i for i, c in enumerate(est.classes_.tolist())}
        codes = np.asarray([index.get(v, 0) for v in np.asarray(y_).tolist()])
        try:
            return sign * metric.fn(codes, proba, len(index))
        except ValueError:
            return float("nan")

    started = time.time()
    scorer(pipeline, X, y_raw)
    one = max(time.time() - started, 1e-3)
    repeats = 3
    if deadline is not None:
        left = deadline - time.time()
        affordable = left / (one * X.shape[1])
        if affordable < 1:
            return []
        repeats = int(max(1, min(3, affordable)))
    result = perm(pipeline, X, y_raw, scoring=scorer, n_repeats=repeats, random_state=seed,
                  n_jobs=1)
    rows = [{"feature": str(name), "importance": round(float(m), 6), "std": round(float(s), 6)}
            for name, m, s in zip(X.columns, result.importances_mean, result.importances_std)]
    rows.sort(key=lambda r: -r["importance"] if np.isfinite(r["importance"]) else 0)
    return rows
