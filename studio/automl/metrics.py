"""Metrics: which tasks each suits, its direction, and how it scores predictions.

Classification scorers take the probability matrix (columns in class order)
and derive labels by argmax, so one set of out-of-fold probabilities serves
every metric and the ensemble search.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from sklearn import metrics as skm

from studio.errors import InvalidInput

TASKS = ("binary", "multiclass", "regression")
DEFAULT_METRIC = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    tasks: tuple[str, ...]
    greater_is_better: bool
    fn: Callable[[np.ndarray, np.ndarray, int], float]  # (y_codes or y, pred, n_classes)


def _labels(proba: np.ndarray) -> np.ndarray:
    return np.argmax(proba, axis=1)


def _auc(y, proba, k):
    if k == 2:
        return skm.roc_auc_score(y, proba[:, 1])
    present = np.unique(y)
    p = proba[:, present]
    p = p / np.clip(p.sum(axis=1, keepdims=True), 1e-15, None)
    if len(present) == 2:
        return skm.roc_auc_score(y == present[1], p[:, 1])
    return skm.roc_auc_score(np.searchsorted(present, y), p, multi_class="ovr", average="weighted")


def _log_loss(y, proba, k):
    p = np.clip(proba, 1e-15, 1.0)
    p = p / p.sum(axis=1, keepdims=True)
    return skm.log_loss(y, p, labels=list(range(k)))


def _f1(y, proba, k):
    pred = _labels(proba)
    if k == 2:
        return skm.f1_score(y, pred, pos_label=1, zero_division=0)
    return skm.f1_score(y, pred, average="macro", zero_division=0)


def _mape(y, pred, k):
    y = np.asarray(y, dtype="float64")
    denom = np.maximum(np.abs(y), np.finfo("float64").eps)
    return float(np.mean(np.abs(y - pred) / denom))


METRICS: dict[str, Metric] = {m.name: m for m in [
    Metric("roc_auc", "ROC AUC", ("binary", "multiclass"), True, _auc),
    Metric("log_loss", "log loss", ("binary", "multiclass"), False, _log_loss),
    Metric("accuracy", "accuracy", ("binary", "multiclass"), True,
           lambda y, p, k: skm.accuracy_score(y, _labels(p))),
    Metric("balanced_accuracy", "balanced accuracy", ("binary", "multiclass"), True,
           lambda y, p, k: skm.balanced_accuracy_score(y, _labels(p))),
    Metric("f1", "F1", ("binary", "multiclass"), True, _f1),
    Metric("rmse", "RMSE", ("regression",), False,
           lambda y, p, k: float(np.sqrt(skm.mean_squared_error(y, p)))),
    Metric("mae", "MAE", ("regression",), False, lambda y, p, k: skm.mean_absolute_error(y, p)),
    Metric("r2", "R²", ("regression",), True, lambda y, p, k: skm.r2_score(y, p)),
    Metric("mape", "MAPE", ("regression",), False, _mape),
]}
ALIASES = {"auc": "roc_auc", "logloss": "log_loss", "balanced_acc": "balanced_accuracy",
           "r²": "r2", "acc": "accuracy"}


def metric_names(task: str) -> list[str]:
    return [m.name for m in METRICS.values() if task in m.tasks]


def get_metric(name: str | None, task: str) -> Metric:
    """The metric ``name`` (or the task's default) after checking it suits the task."""
    key = (name or DEFAULT_METRIC[task]).strip().lower()
    key = ALIASES.get(key, key)
    metric = METRICS.get(key)
    if metric is None:
        raise InvalidInput(f"unknown metric '{name}'; choose one of {', '.join(METRICS)}")
    if task not in metric.tasks:
        raise InvalidInput(f"{metric.label} does not apply to {task} tasks; choose one of "
                           f"{', '.join(metric_names(task))}")
    return metric


def score(metric: Metric, y: np.ndarray, pred: np.ndarray, n_classes: int) -> float:
    """The metric of predictions (probabilities for classifiers); NaN if undefined."""
    try:
        value = float(metric.fn(y, pred, n_classes))
    except ValueError:
        return float("nan")
    return value if np.isfinite(value) else float("nan")


def all_scores(task: str, y: np.ndarray, pred: np.ndarray, n_classes: int) -> dict[str, float]:
    """Every metric that suits the task (for the holdout report and the card)."""
    out = {}
    for name in metric_names(task):
        value = score(METRICS[name], y, pred, n_classes)
        if np.isfinite(value):
            out[name] = round(value, 6)
    return out


def better(metric: Metric, a: float | None, b: float | None) -> bool:
    """Is score ``a`` strictly better than ``b`` (None/NaN is worst)?"""
    if a is None or not np.isfinite(a):
        return False
    if b is None or not np.isfinite(b):
        return True
    return a > b if metric.greater_is_better else a < b
