"""Per-feature contributions for each predicted row, mapped back to the input columns.

* XGBoost: the booster's own SHAP values (``pred_contribs=True``), in the model's
  margin (log-odds for classifiers).
* LightGBM: its own SHAP values (``pred_contrib=True``), in the same margin.
* Linear models: coefficient × (preprocessed) value, in the same margin.
* Anything else: a model-agnostic fallback: for each input column, how much the
  score moves when that column is set to missing (the pipeline imputes it as in
  training), in probability (classifiers) or target units (regression).

One-hot columns are summed back to their source column. Binary classifiers are
explained toward the positive class (the second in ``classes``), multiclass ones
toward each row's predicted class.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from studio.service.compiled import UseFallback
from studio.service.inputs import Batch


def _unwrap(estimator: Any) -> tuple[Any, np.ndarray | None]:
    """(inner model, outer class index for each inner class) through EncodedClassifier."""
    if type(estimator).__name__ == "EncodedClassifier" and getattr(estimator, "estimator_", None):
        return estimator.estimator_, np.asarray(estimator.present_)
    return estimator, None


def _target_rows(model, pred, inner_classes: np.ndarray | None, n: int) -> tuple[list, list]:
    """Per row: the outer class explained and its index in the inner model's outputs."""
    if not model.is_classifier:
        return [None] * n, [0] * n
    classes = model.classes
    present = inner_classes if inner_classes is not None else np.arange(len(classes))
    if model.task == "binary":
        return [classes[int(present[-1])]] * n, [1] * n
    outer = np.argmax(pred.probabilities, axis=1)
    position = {int(c): i for i, c in enumerate(present.tolist())}
    return [classes[int(o)] for o in outer], [position.get(int(o), 0) for o in outer]


def _group(values: np.ndarray, sources: list[str], names: list[str]) -> dict[str, float]:
    out = {name: 0.0 for name in names}
    for value, source in zip(values.tolist(), sources):
        out[source] = out.get(source, 0.0) + float(value)
    return out


def _xgb(inner, X, model, pred, classes_idx) -> list[dict] | None:
    import xgboost as xgb

    dense = X.toarray() if hasattr(X, "toarray") else X
    kwargs = {}
    try:
        kwargs["iteration_range"] = inner._get_iteration_range(None)
    except Exception:  # noqa: BLE001 - older/newer wrappers: all trees
        pass
    matrix = xgb.DMatrix(X if hasattr(X, "toarray") else dense, missing=inner.missing)
    contribs = inner.get_booster().predict(matrix, pred_contribs=True, **kwargs)
    n = dense.shape[0]
    labels, index = _target_rows(model, pred, classes_idx, n)
    unit = "target" if not model.is_classifier else "log-odds"
    rows = []
    for i in range(n):
        c = contribs[i]
        if c.ndim == 2:  # multiclass: classes × (features + bias)
            c = c[index[i]]
        rows.append({"class": labels[i], "unit": unit, "base": float(c[-1]),
                     "contributions": _group(c[:-1], model.compiled.sources, model.converter.names)})
    return rows


def _lgbm(inner, X, model, pred, classes_idx) -> list[dict] | None:
    dense = X.toarray() if hasattr(X, "toarray") else np.asarray(X, dtype=np.float64)
    contribs = np.asarray(inner.predict(dense, pred_contrib=True), dtype=np.float64)
    n, width = dense.shape[0], dense.shape[1] + 1
    labels, index = _target_rows(model, pred, classes_idx, n)
    unit = "target" if not model.is_classifier else "log-odds"
    rows = []
    for i in range(n):
        c = contribs[i]
        if c.shape[0] > width:  # multiclass: one (features + bias) block per class
            c = c.reshape(-1, width)[index[i]]
        rows.append({"class": labels[i], "unit": unit, "base": float(c[-1]),
                     "contributions": _group(c[:-1], model.compiled.sources, model.converter.names)})
    return rows


def _linear(inner, X, model, pred, classes_idx) -> list[dict] | None:
    coef = np.atleast_2d(np.asarray(inner.coef_, dtype=np.float64))
    intercept = np.atleast_1d(np.asarray(inner.intercept_, dtype=np.float64))
    dense = X.toarray() if hasattr(X, "toarray") else np.asarray(X, dtype=np.float64)
    if coef.shape[1] != dense.shape[1]:
        return None
    n = dense.shape[0]
    labels, index = _target_rows(model, pred, classes_idx, n)
    unit = "target" if not model.is_classifier else "log-odds"
    rows = []
    for i in range(n):
        k = 0 if coef.shape[0] == 1 else index[i]
        values = dense[i] * coef[k]
        rows.append({"class": labels[i], "unit": unit, "base": float(intercept[min(k, len(intercept) - 1)]),
                     "contributions": _group(values, model.compiled.sources, model.converter.names)})
    return rows


def _occlusion(model, batch: Batch, pred) -> list[dict]:
    """Score change when each column is set to missing (imputed as in training)."""
    names = model.converter.names
    n = batch.n_rows
    records = []
    for i in range(n):
        row = {name: _value(batch.columns[name], i) for name in names}
        records.append(row)
        for name in names:
            records.append({**row, name: None})
    probe = model.converter.convert(records)
    scored = model.predict(probe)
    if model.is_classifier:
        if model.task == "binary" and len(model.classes) == 2:
            target = [1] * n
        else:
            target = np.argmax(pred.probabilities, axis=1).tolist()
        scores = scored.probabilities
    else:
        target = [0] * n
        scores = np.asarray(scored.predictions, dtype=np.float64).reshape(-1, 1)
    width = len(names) + 1
    rows = []
    for i in range(n):
        block = scores[i * width:(i + 1) * width, target[i]]
        full = float(block[0])
        rows.append({
            "class": model.classes[target[i]] if model.is_classifier else None,
            "unit": "probability" if model.is_classifier else "target",
            "base": None,
            "contributions": {name: full - float(block[j + 1]) for j, name in enumerate(names)},
        })
    return rows


def _value(column: Any, i: int) -> Any:
    value = column[i] if not hasattr(column, "iloc") else column.iloc[i]
    if isinstance(value, float) and value != value:
        return None
    if hasattr(value, "isoformat"):
        return None if value != value else value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
        return None if isinstance(value, float) and value != value else value
    return value


def explain(model, batch: Batch, pred) -> tuple[str, list[dict]]:
    """(method, one explanation per row)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if model.fast and not hasattr(model.tail, "steps") and model.compiled.sources:
            try:
                X = model.matrix(batch)
            except UseFallback:
                X = None
            if X is not None:
                inner, classes_idx = _unwrap(model.tail)
                if hasattr(inner, "get_booster") and type(inner).__module__.startswith("xgboost"):
                    return "xgboost_shap", _xgb(inner, X, model, pred, classes_idx)
                if type(inner).__module__.startswith("lightgbm"):
                    return "lightgbm_shap", _lgbm(inner, X, model, pred, classes_idx)
                if hasattr(inner, "coef_") and hasattr(inner, "intercept_"):
                    rows = _linear(inner, X, model, pred, classes_idx)
                    if rows is not None:
                        return "linear", rows
        return "occlusion", _occlusion(model, batch, pred)
