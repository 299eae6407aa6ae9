"""Small real models for tests (and the serving benchmark): generated data, a fitted
scikit-learn Pipeline (ColumnTransformer with imputation + one-hot, then XGBoost,
logistic regression or a regressor) and a card in the registry's contract.

    from tests.model_factory import register_test_model
    version = register_test_model(store, name="churn", task="binary", algorithm="xgboost")

Other engineers may reuse it: every function takes plain arguments and returns real
objects; nothing is mocked.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

ALGORITHMS = {
    "binary": ("xgboost", "logistic", "forest"),
    "multiclass": ("xgboost", "logistic"),
    "regression": ("xgboost", "ridge"),
}


def make_frame(n: int = 400, *, task: str = "binary", seed: int = 0, n_numeric: int = 4,
               n_categorical: int = 2, missing: float = 0.05, string_classes: bool = False,
               with_bool: bool = True) -> pd.DataFrame:
    """Numeric columns (some missing), string categoricals (some missing), a bool, a target."""
    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {}
    signal = np.zeros(n)
    for i in range(n_numeric):
        col = rng.normal(loc=i, scale=1 + i, size=n)
        signal += col * (1 if i % 2 == 0 else -0.5) / (1 + i)
        if missing and i % 2 == 1:
            col[rng.random(n) < missing] = np.nan
        data[f"num_{i}"] = col
    levels = [["red", "green", "blue"], ["a", "b", "c", "d", "e"], ["north", "south"]]
    for j in range(n_categorical):
        choices = levels[j % len(levels)]
        values = rng.choice(choices, size=n).astype(object)
        signal += np.array([choices.index(v) for v in values]) * 0.4
        if missing:
            values[rng.random(n) < missing] = None
        data[f"cat_{j}"] = pd.Series(values, dtype="str")
    if with_bool:
        flag = rng.random(n) < 0.3
        signal += flag * 0.8
        data["member"] = flag
    frame = pd.DataFrame(data)
    noise = rng.normal(scale=0.5, size=n)
    score = signal + noise
    if task == "regression":
        frame["target"] = score * 10 + 100
    elif task == "binary":
        y = (score > np.median(score)).astype(int)
        frame["target"] = np.where(y == 1, "yes", "no") if string_classes else y
    else:
        cuts = np.quantile(score, [1 / 3, 2 / 3])
        y = np.digitize(score, cuts)
        frame["target"] = np.array(["low", "mid", "high"])[y] if string_classes else y
    return frame


def build_pipeline(frame: pd.DataFrame, *, target: str = "target", task: str = "binary",
                   algorithm: str = "xgboost", n_estimators: int = 20, seed: int = 0,
                   sparse_threshold: float = 0.3):
    """A fitted Pipeline: ColumnTransformer(impute+scale | impute+one-hot) → estimator."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    X = frame.drop(columns=[target])
    y = frame[target]
    numeric = [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c])]
    categorical = [c for c in X.columns if c not in numeric]
    prep = ColumnTransformer(
        [
            ("num", Pipeline([("impute", SimpleImputer(strategy="median")),
                              ("scale", StandardScaler())]), numeric),
            ("cat", Pipeline([("impute", SimpleImputer(strategy="most_frequent")),
                              ("onehot", OneHotEncoder(handle_unknown="ignore"))]), categorical),
        ],
        sparse_threshold=sparse_threshold,
    )
    if algorithm == "xgboost":
        import xgboost as xgb

        cls = xgb.XGBRegressor if task == "regression" else xgb.XGBClassifier
        model = cls(n_estimators=n_estimators, max_depth=4, learning_rate=0.2, random_state=seed,
                    n_jobs=1, tree_method="hist")
    elif algorithm == "logistic":
        model = LogisticRegression(max_iter=500)
    elif algorithm == "ridge":
        model = Ridge(alpha=1.0)
    elif algorithm == "forest":
        from sklearn.ensemble import RandomForestClassifier

        model = RandomForestClassifier(n_estimators=n_estimators, max_depth=5, random_state=seed)
    else:
        raise ValueError(f"unknown algorithm {algorithm}")
    pipeline = Pipeline([("prep", prep), ("model", model)])
    pipeline.fit(X, y)
    return pipeline


def input_schema(frame: pd.DataFrame, target: str = "target") -> list[dict]:
    schema = []
    for name in frame.columns:
        if name == target:
            continue
        s = frame[name]
        entry: dict[str, Any] = {"name": name, "dtype": str(s.dtype),
                                 "nullable": bool(s.isna().any())}
        if pd.api.types.is_bool_dtype(s):
            entry.update(semantic="boolean", categories=[False, True])
        elif pd.api.types.is_numeric_dtype(s):
            entry.update(semantic="numeric", min=float(s.min()), max=float(s.max()))
        else:
            entry.update(semantic="categorical",
                         categories=[str(v) for v in s.dropna().value_counts().index])
        schema.append(entry)
    return schema


def _plain(value: Any) -> Any:
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if np.isnan(value) else float(value)
    if value is None or value is pd.NA:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def make_card(frame: pd.DataFrame, pipeline, *, target: str = "target", task: str = "binary",
              algorithm: str = "xgboost", dataset: str = "generated:1") -> dict:
    X = frame.drop(columns=[target])
    complete = X.dropna()
    example_row = (complete if len(complete) else X).iloc[0]
    example = {k: _plain(v) for k, v in example_row.items()}
    classes = None
    if task != "regression":
        classes = [_plain(c) for c in pipeline.classes_]
    metric = "rmse" if task == "regression" else ("roc_auc" if task == "binary" else "accuracy")
    model = pipeline[-1]
    importance = []
    if hasattr(model, "feature_importances_"):
        names = pipeline[0].get_feature_names_out()
        importance = sorted(({"feature": str(n), "importance": float(v)}
                             for n, v in zip(names, model.feature_importances_)),
                            key=lambda d: -d["importance"])[:20]
    return {
        "task": task, "target": target, "classes": classes,
        "input_schema": input_schema(frame, target), "example": example,
        "metric": metric, "metrics": {"cv": {metric: 0.8}, "holdout": {metric: 0.79}},
        "algorithm": algorithm, "params": model.get_params() if algorithm != "xgboost" else
        {k: v for k, v in model.get_params().items() if v is not None and k in
         ("n_estimators", "max_depth", "learning_rate")},
        "feature_importance": importance,
        "lineage": {"dataset": dataset, "dataset_version_id": None, "recipe": [],
                    "job_id": None, "trial_id": None, "seed": 0, "source_name": "generated.csv"},
    }


def register_test_model(store, *, name: str = "churn", task: str = "binary",
                        algorithm: str = "xgboost", seed: int = 0, n: int = 400,
                        n_estimators: int = 20, string_classes: bool | None = None,
                        evaluation: dict | None = None, **frame_kwargs):
    """Fit a small pipeline on generated data and register it; returns the ModelVersionPublic."""
    import json

    from studio.registry import register_model

    if string_classes is None:
        string_classes = algorithm in ("logistic", "forest")
    frame = make_frame(n, task=task, seed=seed, string_classes=string_classes, **frame_kwargs)
    pipeline = build_pipeline(frame, task=task, algorithm=algorithm, n_estimators=n_estimators,
                              seed=seed)
    card = make_card(frame, pipeline, task=task, algorithm=algorithm)
    if evaluation is not None:
        card["evaluation_sha"] = store.artifacts.put_bytes(json.dumps(evaluation).encode())
    return register_model(store, name=name, pipeline=pipeline, card=card)


def sample_records(n: int = 5, *, task: str = "binary", seed: int = 99, **frame_kwargs) -> list[dict]:
    """Raw records (JSON-ready) shaped like the training input."""
    frame = make_frame(n, task=task, seed=seed, **frame_kwargs).drop(columns=["target"])
    return [{k: _plain(v) for k, v in row.items()} for row in frame.to_dict("records")]


def sample_evaluation(task: str = "binary") -> dict:
    """An evaluation artifact in the shape the Models page reads."""
    if task == "regression":
        rng = np.random.default_rng(0)
        actual = rng.normal(100, 10, 50)
        return {"residuals": {"actual": actual.tolist(),
                              "predicted": (actual + rng.normal(0, 3, 50)).tolist()}}
    return {
        "confusion_matrix": {"labels": ["no", "yes"], "matrix": [[40, 10], [8, 42]]},
        "roc": {"fpr": [0, 0.1, 0.3, 1], "tpr": [0, 0.6, 0.85, 1], "auc": 0.86},
        "pr": {"recall": [0, 0.5, 0.9, 1], "precision": [1, 0.9, 0.75, 0.5]},
    }
