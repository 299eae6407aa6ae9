"""Monitoring at scale: a check and the Monitor page over 1,000,000 logged predictions.

    .venv/bin/python bench/monitor.py [DATA_FOLDER] [--rows N] [--home DIR] [--keep]

Builds a store with a real model (scikit-learn pipeline fitted on the Adult census
data from DATA_FOLDER, default ../shared/datasets), its training baseline, an
endpoint, N prediction-log rows (default 1,000,000: real input rows sampled from
the dataset, the model's real predictions, spread over the last 24 hours, 2% of
them refused with 422) and feedback for 10% of them. Then measures, in this run:

- compute_baseline on 100k training rows;
- a full check (drift, data quality, traffic, model quality, stored snapshot,
  alerts) over the last hour and the last day (every row in the window), with
  the time of each stage;
- the Monitor page rendered with Streamlit's AppTest (cold first run, then
  warm reruns);
- a reference: the naive way, loading every input row of the day window into
  pandas (what the check avoids), so the ratio says what the bounded
  SQL/sample design buys on this machine.

Prints one JSON object with every figure.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _fit(data_folder: Path):
    import numpy as np
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    frame = pd.read_csv(data_folder / "adult_census_income.csv")
    target = "class"
    X = frame.drop(columns=[target])
    y = frame[target].astype(str)
    numeric = [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c])]
    categorical = [c for c in X.columns if c not in numeric]
    prep = ColumnTransformer([
        ("num", SimpleImputer(strategy="median"), numeric),
        ("cat", Pipeline([("impute", SimpleImputer(strategy="most_frequent")),
                          ("ord", OrdinalEncoder(handle_unknown="use_encoded_value",
                                                 unknown_value=-1))]), categorical),
    ])
    pipeline = Pipeline([("prep", prep),
                         ("model", HistGradientBoostingClassifier(max_iter=60, random_state=0))])
    rng = np.random.default_rng(0)
    hold = rng.random(len(frame)) < 0.2
    pipeline.fit(X[~hold], y[~hold])
    accuracy = float((pipeline.predict(X[hold]) == y[hold]).mean())
    return frame, X, y, pipeline, target, accuracy


def build_store(data_folder: Path, home: Path, rows: int) -> dict:
    import numpy as np

    os.environ["STUDIO_HOME"] = str(home)
    from storage import monitoring as repo
    from studio.endpoints import publish
    from studio import open_store
    from studio.monitor.baseline import compute_baseline
    from studio.registry import register_model
    from studio.schema import infer_schema, json_safe
    from studio.settings import get_settings

    store = open_store(get_settings())
    frame, X, y, pipeline, target, accuracy = _fit(data_folder)
    classes = [str(c) for c in pipeline.classes_]
    big = X.sample(100_000, replace=True, random_state=1).reset_index(drop=True)
    schema = infer_schema(X)
    proba = pipeline.predict_proba(big)
    started = time.perf_counter()
    baseline = compute_baseline(big, schema, {"prediction": pipeline.predict(big),
                                              "probabilities": proba},
                                "binary", classes, {"holdout": {"accuracy": accuracy}})
    baseline_s = time.perf_counter() - started
    importance = [{"feature": c, "importance": float(v)} for c, v in
                  zip(X.columns, np.linspace(1, 0.1, len(X.columns)))]
    card = {"task": "binary", "target": target, "classes": classes, "metric": "accuracy",
            "metrics": {"holdout": {"accuracy": accuracy}}, "feature_importance": importance,
            "input_schema": schema}
    version = register_model(store, name="adult", pipeline=pipeline, card=card,
                             baseline=baseline)
    publish(store, version, "adult", actor="bench")

    # Real rows, real predictions; a pool of 50k distinct rows reused to reach N.
    pool = X.sample(min(50_000, len(X) * 2), replace=True, random_state=2)
    truth = y.loc[pool.index].to_numpy()  # each row's true label
    pool = pool.reset_index(drop=True)
    pool_records = [{k: json_safe(v) for k, v in r.items()} for r in pool.to_dict("records")]
    pool_pred = pipeline.predict(pool)
    pool_proba = pipeline.predict_proba(pool)
    rng = np.random.default_rng(3)
    now = time.time()
    ts = np.sort(now - 86400 * rng.random(rows))
    picks = rng.integers(0, len(pool), rows)
    refused = rng.random(rows) < 0.02
    latency = rng.lognormal(2.0, 0.5, rows)
    feedback_mask = rng.random(rows) < 0.10
    started = time.perf_counter()
    chunk = 20_000
    for lo in range(0, rows, chunk):
        log_rows, fb_rows = [], []
        for i in range(lo, min(lo + chunk, rows)):
            rid = uuid.uuid4().hex
            p = int(picks[i])
            if refused[i]:
                log_rows.append({"request_id": rid, "endpoint": "adult",
                                 "model_version_id": version.id, "ts": float(ts[i]),
                                 "status": 422, "latency_ms": float(latency[i] / 4),
                                 "inputs": None,
                                 "outputs": {"error": "column 'age': 'abc' is not a number"},
                                 "replica": "bench"})
                continue
            log_rows.append({"request_id": rid, "endpoint": "adult",
                             "model_version_id": version.id, "ts": float(ts[i]), "status": 200,
                             "latency_ms": float(latency[i]), "inputs": pool_records[p],
                             "outputs": {"prediction": str(pool_pred[p]),
                                         "probabilities": dict(zip(classes,
                                                                   map(float, pool_proba[p])))},
                             "replica": "bench"})
            if feedback_mask[i]:
                fb_rows.append({"request_id": rid, "endpoint": "adult", "actual": str(truth[p]),
                                "ts": float(ts[i]) + 60})
        with store.session() as session:
            repo.add_prediction_logs(session=session, rows=log_rows)
            repo.add_feedback(session=session, rows=fb_rows)
    return {"baseline_100k_rows_s": round(baseline_s, 3),
            "insert_s": round(time.perf_counter() - started, 1), "rows": rows,
            "feedback_rows": int(feedback_mask.sum()), "holdout_accuracy": round(accuracy, 4)}


def measure_checks(repeats: int = 3) -> dict:
    from studio import open_store
    from studio.monitor.check import run_check
    from studio.settings import get_settings

    store = open_store(get_settings())
    out = {}
    for window in ("hour", "day"):
        times, last = [], None
        for _ in range(repeats):
            started = time.perf_counter()
            last = run_check(store, "adult", window=window, deliver=False)
            times.append(time.perf_counter() - started)
        snap = last.snapshot
        out[window] = {"median_s": round(statistics.median(times), 3),
                       "runs_s": [round(t, 3) for t in times],
                       "rows_in_window": snap["rows"]["in_window"],
                       "rows_sampled": snap["rows"]["sampled"],
                       "labels": snap["quality"]["labelled"],
                       "stages_s": snap["timings"], "status": snap["status"],
                       "flagged": {f["feature"]: f["status"] for f in snap["features"]
                                   if f["status"] != "ok"},
                       "quality": {k: snap["quality"][k] for k in ("metric", "value", "baseline",
                                                                   "status")}}
    return out


def measure_page(reruns: int = 5) -> dict:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.switch_page("pages/monitor.py")
    started = time.perf_counter()
    at.run()
    cold = time.perf_counter() - started
    assert not at.exception, at.exception
    warm = []
    for _ in range(reruns):
        started = time.perf_counter()
        at.run()
        warm.append(time.perf_counter() - started)
        assert not at.exception, at.exception
    # a fresh session (new AppTest) on an already-warm process: what a new visitor gets
    fresh = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    fresh.switch_page("pages/monitor.py")
    started = time.perf_counter()
    fresh.run()
    new_session = time.perf_counter() - started
    return {"cold_first_render_s": round(cold, 3), "new_session_s": round(new_session, 3),
            "warm_rerun_median_s": round(statistics.median(warm), 3),
            "warm_runs_s": [round(t, 3) for t in warm],
            "status_metric": at.metric[0].value}


def measure_reference() -> dict:
    """The naive way: every input row of the day window into pandas."""
    import pandas as pd
    from sqlalchemy import select

    from storage.tables import PredictionLog
    from studio import open_store
    from studio.settings import get_settings

    store = open_store(get_settings())
    started = time.perf_counter()
    with store.session() as session:
        rows = session.exec(select(PredictionLog.inputs, PredictionLog.outputs,
                                   PredictionLog.latency_ms, PredictionLog.status)
                            .where(PredictionLog.endpoint == "adult",
                                   PredictionLog.ts >= time.time() - 86400)).all()
    frame = pd.json_normalize([r[0] for r in rows if r[0]])
    _ = frame.describe(include="all")
    return {"load_all_day_rows_into_pandas_s": round(time.perf_counter() - started, 3),
            "rows": len(rows)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", nargs="?", default=str(ROOT.parent / "shared" / "datasets"))
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--home", default=None, help="reuse (or build) the store here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary store")
    parser.add_argument("--no-reference", action="store_true")
    args = parser.parse_args()
    home = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="bench-monitor-"))
    os.environ["STUDIO_HOME"] = str(home)
    result: dict = {"rows": args.rows, "home": str(home), "cpus": os.cpu_count(),
                    "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}
    try:
        if not (home / "studio.db").exists():
            result["build"] = build_store(Path(args.data), home, args.rows)
        result["check"] = measure_checks()
        result["page"] = measure_page()
        if not args.no_reference:
            result["reference"] = measure_reference()
            result["ratio_reference_over_day_check"] = round(
                result["reference"]["load_all_day_rows_into_pandas_s"]
                / result["check"]["day"]["median_s"], 1)
        result["db_mb"] = round((home / "studio.db").stat().st_size / 1e6, 1)
        result["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    finally:
        if not args.keep and not args.home:
            shutil.rmtree(home, ignore_errors=True)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
