"""The training baseline: JSON-safe summaries, computed once at registration."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from studio.monitor.baseline import category_key, compute_baseline
from studio.schema import infer_schema


def _frame(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "age": rng.normal(40, 10, n),
        "kids": rng.integers(0, 4, n),
        "city": rng.choice(["Paris", "Lyon", "Nice"], n, p=[0.5, 0.3, 0.2]),
        "member": rng.choice([True, False], n),
        "empty": [None] * n,
    })
    frame.loc[::10, "age"] = np.nan
    return frame


def test_baseline_summaries_are_json_safe_and_right():
    frame = _frame()
    baseline = compute_baseline(frame, infer_schema(frame), ["yes", "no"] * 1000, "binary",
                                ["no", "yes"], {"cv": {"roc_auc": np.float64(0.81)}})
    text = json.dumps(baseline, allow_nan=False)  # strict JSON: no NaN, no numpy
    assert json.loads(text)["metrics"] == {"cv": {"roc_auc": 0.81}}
    age = baseline["features"]["age"]
    assert age["kind"] == "numeric" and abs(age["missing_rate"] - 0.1) < 1e-9
    assert len(age["counts"]) == len(age["edges"]) + 1 == 10
    assert sum(age["counts"]) == age["count"] == 1800
    kids = baseline["features"]["kids"]
    assert kids["discrete"] and kids["means"] == [0.0, 1.0, 2.0, 3.0]
    city = baseline["features"]["city"]
    assert city["kind"] == "categorical" and city["complete"]
    assert set(city["top"]) == {"Paris", "Lyon", "Nice"} and sum(city["top"].values()) == 2000
    assert baseline["features"]["empty"]["missing_rate"] == 1.0
    assert baseline["prediction"]["top"] == {"yes": 1000, "no": 1000}


def test_baseline_keeps_top_categories_and_probabilities():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"code": [f"c{i % 80}" for i in range(4000)]})
    proba = rng.random((4000, 2))
    baseline = compute_baseline(frame, infer_schema(frame),
                                {"prediction": rng.choice([0, 1], 4000), "probabilities": proba},
                                "binary", [0, 1], {})
    code = baseline["features"]["code"]
    assert len(code["top"]) == 50 and code["other"] == 30 * 50 and not code["complete"]
    assert list(baseline["probabilities"]) == ["1"]
    assert baseline["probabilities"]["1"]["count"] == 4000


def test_category_keys_agree_between_training_and_json():
    assert category_key(1) == category_key(1.0) == category_key(np.int64(1)) == "1"
    assert category_key(True) == category_key(np.bool_(True)) == "True"
    assert category_key(float("nan")) is None and category_key(None) is None
    assert category_key(2.5) == "2.5"
