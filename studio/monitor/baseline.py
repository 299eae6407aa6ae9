"""The training baseline a model version is monitored against.

``compute_baseline`` runs once, when a model version is registered; monitoring
compares every window of live traffic with it and never re-reads the training
data. The result is plain JSON::

    {"format": 1, "rows": n, "sampled_rows": m, "task", "classes",
     "features": {name: summary}, "prediction": summary | None,
     "probabilities": {class: numeric summary} | None, "metrics": {...}}

A numeric summary (``kind: "numeric"``) holds quantile bin ``edges`` (inner cut
points; the outer bins are open), per-bin ``counts`` and ``means`` (the bin
centres used for the Wasserstein distance), min/max/mean/std and a few
quantiles. Columns with few distinct values (``discrete``) get one bin per value.
A categorical summary (``kind: "categorical"``) holds the ``top`` categories
with their counts, the ``other`` count beyond them and whether the list is
``complete``. Both record ``count`` (present values) and ``missing_rate``.
Text columns are summarised by their length; identifiers only by missing rate;
dates by their range.

Category keys are strings made by :func:`category_key`, the same function the
drift check applies to live inputs, so ``1``, ``1.0`` and ``"1"`` agree.
"""
from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np
import pandas as pd

FORMAT = 1
MAX_ROWS = 200_000          # larger frames are summarised from a seeded sample
N_BINS = 10                 # quantile bins for numbers (deciles)
MAX_DISCRETE = 20           # at most this many distinct values: one bin per value
TOP_K = 50                  # categories kept by name; the rest are counted as "other"
SEED = 0


def category_key(value: Any) -> str | None:
    """The string a category is counted under; None for a missing value."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        f = float(value)
        if not math.isfinite(f):
            return None
        return str(int(f)) if f.is_integer() and abs(f) < 1e15 else repr(f)
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def _finite(values: pd.Series) -> np.ndarray:
    """Numbers as float64 with text that is not a number, NaN and inf dropped."""
    if pd.api.types.is_bool_dtype(values):
        arr = values.astype("float64").to_numpy()
    elif pd.api.types.is_numeric_dtype(values):
        arr = values.to_numpy(dtype="float64", na_value=np.nan)
    else:
        arr = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    return arr[np.isfinite(arr)]


def _num(value: float | None) -> float | None:
    if value is None:
        return None
    f = float(value)
    return f if math.isfinite(f) else None


def bin_index(edges: list[float] | np.ndarray, values: np.ndarray) -> np.ndarray:
    """Bin of each value: 0 for ``x <= edges[0]`` … ``len(edges)`` above the last edge."""
    return np.searchsorted(np.asarray(edges, dtype="float64"), values, side="left")


def numeric_summary(values: Iterable | pd.Series, n_total: int | None = None) -> dict:
    """Bins, counts and moments of the finite numbers in ``values``."""
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype="object")
    arr = _finite(series)
    total = len(series) if n_total is None else n_total
    summary: dict[str, Any] = {
        "kind": "numeric", "count": int(len(arr)),
        "missing_rate": _num(1 - len(arr) / total) if total else None,
    }
    if not len(arr):
        summary.update(edges=[], counts=[], means=[], discrete=False, min=None, max=None,
                       mean=None, std=None, quantiles={}, integer=False)
        return summary
    distinct = np.unique(arr)
    if len(distinct) <= MAX_DISCRETE:
        edges = (distinct[:-1] + distinct[1:]) / 2
        discrete = True
    else:
        edges = np.unique(np.quantile(arr, np.linspace(0, 1, N_BINS + 1)[1:-1]))
        discrete = False
    idx = bin_index(edges, arr)
    counts = np.bincount(idx, minlength=len(edges) + 1)
    sums = np.bincount(idx, weights=arr, minlength=len(edges) + 1)
    means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    q = np.quantile(arr, [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99])
    summary.update(
        edges=[float(e) for e in edges],
        counts=[int(c) for c in counts],
        means=[_num(m) for m in means],
        discrete=bool(discrete),
        min=float(arr.min()), max=float(arr.max()), mean=float(arr.mean()),
        std=float(arr.std()) if len(arr) > 1 else 0.0,
        quantiles={k: float(v) for k, v in zip(("p01", "p05", "p25", "p50", "p75", "p95", "p99"), q)},
        integer=bool(np.all(np.mod(arr, 1) == 0)),
    )
    return summary


def categorical_summary(values: Iterable | pd.Series, n_total: int | None = None,
                        top_k: int = TOP_K) -> dict:
    """Counts of the ``top_k`` most frequent categories, the rest as ``other``."""
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype="object")
    total = len(series) if n_total is None else n_total
    # Count raw values first, then key the (few) distinct ones: fast on 100k+ rows.
    try:
        raw = series.value_counts(dropna=True)
    except TypeError:  # unhashable values (lists, dicts)
        raw = series.dropna().astype(str).value_counts()
    keyed: dict[str, int] = {}
    for value, n in zip(raw.index.tolist(), raw.to_numpy().tolist()):
        key = category_key(value)
        if key is not None:
            keyed[key] = keyed.get(key, 0) + int(n)
    counts = pd.Series(keyed, dtype="int64").sort_values(ascending=False, kind="stable")
    top = counts.iloc[:top_k]
    other = int(counts.iloc[top_k:].sum())
    present = int(counts.sum())
    return {
        "kind": "categorical", "count": present,
        "missing_rate": _num(1 - present / total) if total else None,
        "top": {str(k): int(v) for k, v in top.items()},
        "other": other, "distinct": int(len(counts)), "complete": other == 0,
    }


def _datetime_summary(series: pd.Series) -> dict:
    if pd.api.types.is_datetime64_any_dtype(series):
        parsed = series
    else:
        parsed = pd.to_datetime(series, errors="coerce", format="mixed", utc=True)
    present = parsed.dropna()
    total = len(series)
    return {
        "kind": "datetime", "count": int(len(present)),
        "missing_rate": _num(1 - len(present) / total) if total else None,
        "min": present.min().isoformat() if len(present) else None,
        "max": present.max().isoformat() if len(present) else None,
    }


def _text_summary(series: pd.Series) -> dict:
    present = series.dropna().astype(str)
    summary = numeric_summary(present.str.len(), n_total=len(series))
    summary["kind"] = "text"
    return summary


def _identifier_summary(series: pd.Series) -> dict:
    present = int(series.notna().sum())
    total = len(series)
    return {"kind": "identifier", "count": present,
            "missing_rate": _num(1 - present / total) if total else None}


def feature_summary(series: pd.Series, semantic: str) -> dict:
    """The baseline summary of one input column for its semantic type."""
    if semantic == "numeric":
        return numeric_summary(series)
    if semantic in ("categorical", "boolean"):
        return categorical_summary(series)
    if semantic == "datetime":
        return _datetime_summary(series)
    if semantic == "text":
        return _text_summary(series)
    return _identifier_summary(series)


def _prediction_parts(predictions: Any, classes: list | None) -> tuple[Any, Any]:
    """(labels or values, probabilities 2-D or None) from the accepted shapes."""
    if predictions is None:
        return None, None
    if isinstance(predictions, dict):
        values = predictions.get("prediction", predictions.get("predictions"))
        return values, predictions.get("probabilities")
    if isinstance(predictions, pd.DataFrame):
        proba_cols = [c for c in predictions.columns if str(c).startswith("proba_")]
        values = predictions["prediction"] if "prediction" in predictions else None
        proba = predictions[proba_cols].to_numpy() if proba_cols else None
        if values is None and proba is not None and classes:
            values = [classes[i] for i in np.argmax(proba, axis=1)]
        return values, proba
    return predictions, None


def _probability_summaries(proba: Any, classes: list | None) -> dict | None:
    if proba is None or not classes:
        return None
    arr = np.asarray(proba, dtype="float64")
    if arr.ndim != 2 or arr.shape[1] != len(classes):
        return None
    # A binary model is watched through its positive class; more classes, each one.
    columns = [len(classes) - 1] if len(classes) == 2 else range(len(classes))
    return {category_key(classes[i]): numeric_summary(pd.Series(arr[:, i])) for i in columns}


def compute_baseline(frame: pd.DataFrame, schema: list[dict], predictions: Any, task: str,
                     classes: list | None, metrics: dict) -> dict:
    """The JSON-safe baseline of a model trained on ``frame`` (see the module docstring).

    ``frame`` is the raw input the endpoint receives; ``schema`` its column
    dicts (only columns present in both are summarised); ``predictions`` are
    training or out-of-fold predictions: a sequence of labels/values, a dict
    ``{"prediction": [...], "probabilities": [[...]]}`` or a frame with a
    ``prediction`` column and ``proba_<class>`` columns.
    """
    from studio.schema import json_safe

    rows = int(len(frame))
    sample = frame.sample(MAX_ROWS, random_state=SEED) if rows > MAX_ROWS else frame
    features: dict[str, dict] = {}
    columns: list[dict] = []
    for entry in schema:
        name = entry["name"]
        if name not in frame.columns:
            continue
        semantic = entry.get("semantic", "categorical")
        summary = feature_summary(sample[name], semantic)
        summary["semantic"] = semantic
        summary["dtype"] = str(entry.get("dtype", frame[name].dtype))
        # The exact missing rate is cheap; the sample only shapes the distribution.
        if rows > MAX_ROWS:
            summary["missing_rate"] = float(frame[name].isna().mean())
        features[name] = summary
        columns.append({"name": name, "semantic": semantic, "dtype": summary["dtype"]})

    values, proba = _prediction_parts(predictions, classes)
    prediction = None
    if values is not None:
        values = pd.Series(np.asarray(values).ravel() if not isinstance(values, pd.Series)
                           else values.to_numpy())
        if len(values) > MAX_ROWS:
            values = values.sample(MAX_ROWS, random_state=SEED)
        prediction = (numeric_summary(values) if task == "regression"
                      else categorical_summary(values, top_k=200))
    if proba is not None:
        proba = np.asarray(proba, dtype="float64")
        if len(proba) > MAX_ROWS:
            proba = proba[np.random.default_rng(SEED).choice(len(proba), MAX_ROWS, replace=False)]
    return {
        "format": FORMAT,
        "rows": rows,
        "sampled_rows": int(len(sample)),
        "task": task,
        "classes": [json_safe(c) for c in classes] if classes else None,
        "columns": columns,
        "features": features,
        "prediction": prediction,
        "probabilities": _probability_summaries(proba, classes),
        "metrics": _json_tree(metrics or {}),
    }


def _json_tree(value: Any) -> Any:
    from studio.schema import json_safe

    if isinstance(value, dict):
        return {str(k): _json_tree(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_tree(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_json_tree(v) for v in value.tolist()]
    return json_safe(value)
