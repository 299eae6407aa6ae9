"""Helpers for the monitoring tests: real models with baselines, real log rows.

Nothing is mocked: models are fitted scikit-learn pipelines registered with
``studio.registry.register_model``; traffic is ``prediction_log`` / ``feedback``
rows written to the test's own store, as the prediction service writes them.
"""
from __future__ import annotations

import time
import uuid

import numpy as np
import pandas as pd

from storage import monitoring as repo
from studio.monitor.baseline import compute_baseline
from studio.schema import infer_schema
from tests.model_factory import _plain, build_pipeline, make_card, make_frame


def register_monitored_model(store, *, name="churn", endpoint="churn", task="binary", n=1500,
                             seed=0, algorithm="xgboost", with_endpoint=True,
                             with_dataset=False):
    """Fit, register with a baseline, and (optionally) point an endpoint at it; with
    ``with_dataset`` the training frame is saved as a dataset version the model links to."""
    from studio.registry import register_model

    frame = make_frame(n, task=task, seed=seed)
    pipeline = build_pipeline(frame, task=task, algorithm=algorithm, seed=seed)
    card = make_card(frame, pipeline, task=task, algorithm=algorithm)
    X = frame.drop(columns=["target"])
    classes = card["classes"]
    preds = {"prediction": pipeline.predict(X)}
    if task != "regression":
        preds["probabilities"] = pipeline.predict_proba(X)
    metrics = {"holdout": {"accuracy": float((pipeline.predict(X) == frame["target"]).mean())}
               if task != "regression" else
               {"rmse": float(np.sqrt(np.mean((pipeline.predict(X) - frame["target"]) ** 2)))}}
    card["metrics"] = metrics
    baseline = compute_baseline(X, infer_schema(X), preds, task, classes, metrics)
    dataset_version_id = None
    if with_dataset:
        from studio.datasets import save_version

        dataset_version_id = save_version(store, name=f"{name}-training", frame=frame).id
    version = register_model(store, name=name, pipeline=pipeline, card=card, baseline=baseline,
                             dataset_version_id=dataset_version_id)
    if with_endpoint:
        from studio.endpoints import publish

        publish(store, version, endpoint, actor="test")
    return version, pipeline, frame


def records_of(frame: pd.DataFrame) -> list[dict]:
    X = frame.drop(columns=["target"], errors="ignore")
    return [{k: _plain(v) for k, v in row.items()} for row in X.to_dict("records")]


def log_traffic(store, *, endpoint, version, pipeline, records, ts=None, spread_s=600.0,
                status=200, latency_ms=12.0, seed=0, error=None, predict=True) -> list[str]:
    """Predict ``records`` with the real pipeline and log one row each, as the service does.

    A refused request (status >= 400) is logged like the service logs it: no inputs,
    ``{"error": message}`` as outputs. ``predict=False`` logs rows the pipeline could
    not score (odd inputs) with a placeholder prediction.
    """
    rng = np.random.default_rng(seed)
    now = time.time() if ts is None else ts
    ids = [uuid.uuid4().hex for _ in records]
    if status >= 400:
        outputs = [{"error": error or "refused"}] * len(records)
        records = [None] * len(records)
    else:
        outputs = [{"prediction": 0}] * len(records)
    if status < 400 and records and predict:
        X = pd.DataFrame(records)
        labels = pipeline.predict(X)
        proba = pipeline.predict_proba(X) if hasattr(pipeline, "predict_proba") else None
        classes = list(getattr(pipeline, "classes_", []))
        for i, label in enumerate(labels):
            out = {"prediction": _plain(label)}
            if proba is not None:
                out["probabilities"] = {str(_plain(c)): float(p) for c, p in zip(classes, proba[i])}
            outputs[i] = out
    rows = [{"request_id": rid, "endpoint": endpoint, "model_version_id": version.id,
             "ts": now - spread_s * rng.random(), "status": status,
             "latency_ms": float(latency_ms * (1 + rng.random())), "inputs": rec,
             "outputs": out, "replica": "test"}
            for rid, rec, out in zip(ids, records, outputs)]
    with store.session() as session:
        repo.add_prediction_logs(session=session, rows=rows)
    return ids


def give_feedback(store, *, endpoint, request_ids, actuals, ts=None) -> None:
    now = time.time() if ts is None else ts
    rows = [{"request_id": rid, "endpoint": endpoint, "actual": _plain(a), "ts": now}
            for rid, a in zip(request_ids, actuals)]
    with store.session() as session:
        repo.add_feedback(session=session, rows=rows)


def fresh_records(n, *, task="binary", seed=99):
    """Records drawn like the training data (but new rows) and their true targets."""
    frame = make_frame(n, task=task, seed=seed)
    return records_of(frame), [_plain(v) for v in frame["target"]]
