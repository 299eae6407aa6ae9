"""Drift statistics with fixed seeds: real shifts are flagged where they happen,
traffic like the training data raises nothing, small and empty windows are safe."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from studio.monitor.baseline import compute_baseline
from studio.monitor.drift import MIN_ROWS, feature_drift, prediction_drift
from studio.schema import infer_schema


def _population(n, seed, *, age_shift=0.0, city_p=(0.5, 0.3, 0.2), missing_income=0.05):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "age": rng.normal(40, 10, n) + age_shift,
        "income": rng.lognormal(10, 0.5, n),
        "kids": rng.integers(0, 4, n),
        "city": rng.choice(["Paris", "Lyon", "Nice"], n, p=list(city_p)),
        "member": rng.random(n) < 0.3,
    })
    frame.loc[rng.random(n) < missing_income, "income"] = np.nan
    return frame


@pytest.fixture(scope="module")
def baseline():
    train = _population(5000, seed=0)
    return compute_baseline(train, infer_schema(train), None, "binary", None, {})


def _drift(baseline, window: pd.DataFrame) -> dict[str, dict]:
    out = {}
    for name in window.columns:
        raw = [None if (isinstance(v, float) and np.isnan(v)) else v
               for v in window[name].astype(object).tolist()]
        out[name] = feature_drift(name, baseline["features"][name], raw)
    return out


def test_a_shift_in_one_feature_is_flagged_there_only(baseline):
    result = _drift(baseline, _population(800, seed=1, age_shift=6.0))  # 0.6 sd
    assert result["age"]["status"] == "alert"
    assert result["age"]["statistic"] == "wasserstein" and result["age"]["score"] > 0.4
    assert result["age"]["reasons"] and "distribution moved" in result["age"]["reasons"][0]
    for name in ("income", "kids", "city", "member"):
        assert result[name]["status"] == "ok", (name, result[name])


def test_a_new_category_and_a_missing_rate_jump_are_flagged(baseline):
    window = _population(600, seed=2)
    window.loc[window.index[:60], "city"] = "Marseille"          # 10% never seen
    window.loc[window.index[:200], "income"] = np.nan              # 5% → ~37% missing
    result = _drift(baseline, window)
    city = result["city"]
    assert city["status"] == "alert" and city["new_categories"] == ["Marseille"]
    assert city["new_share"] == pytest.approx(0.1)
    income = result["income"]
    assert income["missing_status"] != "ok" and income["status"] != "ok"
    assert income["missing_rate"] > 0.3 and income["baseline_missing_rate"] < 0.07
    assert any("missing values" in r for r in income["reasons"])
    assert result["age"]["status"] == result["kids"]["status"] == "ok"


@pytest.mark.parametrize("size", [40, 300, 3000, 20000])
def test_no_false_alarm_on_traffic_like_the_training_data(baseline, size):
    for seed in range(10, 16):
        result = _drift(baseline, _population(size, seed=seed))
        flagged = {k: v["reasons"] for k, v in result.items() if v["status"] != "ok"}
        assert not flagged, (size, seed, flagged)


def test_categorical_shift_uses_jensen_shannon(baseline):
    result = _drift(baseline, _population(800, seed=3, city_p=(0.1, 0.3, 0.6)))
    assert result["city"]["statistic"] == "jensen_shannon"
    assert result["city"]["status"] == "alert" and result["city"]["new_categories"] == []
    assert result["age"]["status"] == "ok"


def test_empty_single_and_all_missing_windows_are_safe(baseline):
    empty = feature_drift("age", baseline["features"]["age"], [])
    assert empty["status"] == "ok" and empty["score"] is None and empty["missing_rate"] is None
    single = feature_drift("age", baseline["features"]["age"], [41.0])
    assert single["status"] == "ok" and "too few" in single["note"]
    few_missing = feature_drift("age", baseline["features"]["age"], [None] * (MIN_ROWS - 1))
    assert few_missing["status"] == "ok"
    all_missing = feature_drift("city", baseline["features"]["city"], [None] * 100)
    assert all_missing["status"] == "alert" and all_missing["score"] is None
    assert all_missing["missing_rate"] == 1.0
    wrong_types = feature_drift("age", baseline["features"]["age"], ["abc", {"x": 1}, True] * 20)
    assert wrong_types["status"] in ("ok", "warning", "alert")  # computed, no crash


def test_a_column_missing_in_training_does_not_crash():
    train = pd.DataFrame({"x": np.arange(100.0), "empty": [None] * 100})
    base = compute_baseline(train, infer_schema(train), None, "regression", None, {})
    result = feature_drift("empty", base["features"]["empty"], [1.0, 2.0] * 50)
    assert result["score"] is None and result["missing_rate"] == 0.0
    assert result["status"] in ("warning", "alert")  # values where training had none: a change


def test_prediction_drift_for_regression_and_labels():
    rng = np.random.default_rng(5)
    train = pd.DataFrame({"x": rng.normal(size=2000)})
    base = compute_baseline(train, infer_schema(train), rng.normal(100, 10, 2000), "regression",
                            None, {"rmse": 3.0})
    same = prediction_drift(base["prediction"], list(rng.normal(100, 10, 500)))
    moved = prediction_drift(base["prediction"], list(rng.normal(115, 10, 500)))
    assert same["status"] == "ok" and moved["status"] == "alert"
    labels = compute_baseline(train, infer_schema(train), ["a"] * 1500 + ["b"] * 500, "binary",
                              ["a", "b"], {})
    flipped = prediction_drift(labels["prediction"], ["a"] * 100 + ["b"] * 300)
    assert flipped["status"] == "alert" and flipped["statistic"] == "jensen_shannon"
    assert prediction_drift(None, ["a"]) is None


def test_quality_metrics_match_scikit_learn():
    from sklearn import metrics as skm

    from studio.monitor.performance import score

    rng = np.random.default_rng(7)
    actual = rng.choice(["0", "1"], 400)
    predicted = np.where(rng.random(400) < 0.8, actual, rng.choice(["0", "1"], 400))
    proba = rng.random(400) * 0.5 + (actual == "1") * 0.3
    got = score("binary", list(actual), list(predicted), list(proba), [0, 1])
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(actual, predicted))
    assert got["f1"] == pytest.approx(skm.f1_score(actual, predicted, pos_label="1"))
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(actual == "1", proba))
    multi_a = rng.choice(["x", "y", "z"], 300)
    multi_p = np.where(rng.random(300) < 0.7, multi_a, rng.choice(["x", "y", "z", "w"], 300))
    got = score("multiclass", list(multi_a), list(multi_p), None, ["x", "y", "z"])
    assert got["f1"] == pytest.approx(skm.f1_score(multi_a, multi_p, average="macro"))
    a, p = rng.normal(size=200), rng.normal(size=200)
    got = score("regression", list(a), list(p), None, None)
    assert got["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(a, p)))
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(a, p))
