"""Profiles (per column and whole dataset) and the target checks run before training."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from studio.errors import InvalidInput
from studio.profile import SAMPLE_ROWS, build_profile, detect_task, target_checks
from studio.schema import infer_schema


def _profile(frame):
    return build_profile(frame, infer_schema(frame))


def _kinds(items):
    return {w["kind"] for w in items}


def _frame(n=400, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pd.DataFrame({
        "id": np.arange(n),
        "x": x,
        "x_twice": 2 * x,
        "group": rng.choice(["a", "b", "c"], n),
        "const": "same",
        "empty": np.nan,
        "ratio": np.where(rng.random(n) < 0.02, np.inf, rng.random(n)),
        "y": (x + rng.normal(0, 1, n) > 0).astype(int),
    })


def test_profile_columns_carry_stats_and_charts():
    profile = _profile(_frame())
    json.dumps(profile, allow_nan=False)
    cols = {c["name"]: c for c in profile["columns"]}
    x = cols["x"]
    assert {"mean", "std", "min", "q05", "q25", "median", "q75", "q95", "max"} <= set(x["stats"])
    assert x["chart"]["kind"] == "histogram" and sum(x["chart"]["counts"]) == 400
    assert len(x["chart"]["edges"]) == len(x["chart"]["counts"]) + 1
    group = cols["group"]
    assert group["chart"]["kind"] == "bar" and sum(group["chart"]["counts"]) == 400
    assert [t[0] for t in group["top"]] and sum(t[1] for t in group["top"]) == 400
    assert cols["empty"]["missing_pct"] == 100.0 and cols["empty"]["chart"] is None
    assert cols["ratio"]["stats"]["infinite"] > 0


def test_dataset_warnings_and_correlation():
    frame = _frame()
    frame = pd.concat([frame, frame.iloc[:5]], ignore_index=True)  # 5 exact repeats
    profile = _profile(frame)
    kinds = {(w["kind"], w.get("column")) for w in profile["warnings"]}
    assert ("constant", "const") in kinds
    assert ("all_missing", "empty") in kinds
    assert ("infinities", "ratio") in kinds
    assert profile["duplicate_rows"] == 5
    corr = profile["correlation"]
    i, j = corr["columns"].index("x"), corr["columns"].index("x_twice")
    assert corr["matrix"][i][j] == pytest.approx(1.0)
    assert "const" not in corr["columns"] and "empty" not in corr["columns"]


def test_high_cardinality_and_mixed_types_are_flagged():
    rng = np.random.default_rng(3)
    n = 600
    frame = pd.DataFrame({
        "city": [f"city{i}" for i in rng.integers(0, 120, n)],
        "code": [str(i) if i % 3 else f"X{i}" for i in range(n)],
    })
    profile = _profile(frame)
    kinds = {(w["kind"], w.get("column")) for w in profile["warnings"]}
    assert ("high_cardinality", "city") in kinds
    assert ("mixed_types", "code") in kinds


def test_large_frames_use_a_sample_for_shapes_and_say_so():
    n = SAMPLE_ROWS + 50_000
    frame = pd.DataFrame({"v": np.arange(n, dtype=float), "w": np.arange(n) % 7})
    profile = _profile(frame)
    assert profile["sample"]["rows"] == SAMPLE_ROWS
    assert "sample" in profile["sample"]["note"]
    v = next(c for c in profile["columns"] if c["name"] == "v")
    assert v["stats"]["max"] == n - 1  # exact, from every row
    assert sum(v["chart"]["counts"]) == SAMPLE_ROWS


def test_zero_rows_block_the_profile_with_a_reason():
    frame = pd.DataFrame({"a": pd.Series([], dtype=float)})
    profile = _profile(frame)
    assert profile["blocked"] and "no rows" in profile["blocked"]
    assert profile["columns"][0]["name"] == "a"


def test_detect_task():
    assert detect_task(pd.Series(["y", "n", "y"])) == "binary"
    assert detect_task(pd.Series([3, 5, 6, 7, 5, 6] * 20)) == "multiclass"
    assert detect_task(pd.Series(np.linspace(0, 1, 100))) == "regression"
    assert detect_task(pd.Series(["a", "b", "c"])) == "multiclass"


def test_leaking_feature_is_found_by_a_per_feature_model():
    rng = np.random.default_rng(0)
    n = 500
    y = rng.choice(["stay", "leave"], n)
    frame = pd.DataFrame({
        "noise": rng.normal(size=n),
        "outcome_code": np.where(y == "leave", "L", "S"),        # categorical copy
        "days_after": np.where(y == "leave", 5.0, 0.0) + rng.random(n),  # numeric leak
        "y": y,
    })
    checks = target_checks(frame, infer_schema(frame), "y")
    leaked = {leak["feature"] for leak in checks["leaks"]}
    assert leaked == {"outcome_code", "days_after"}
    assert "leakage" in _kinds(checks["warnings"])
    msg = next(w["message"] for w in checks["warnings"] if w["kind"] == "leakage")
    assert "drop it" in msg


def test_regression_leak_is_found():
    rng = np.random.default_rng(1)
    x = rng.normal(size=400)
    frame = pd.DataFrame({"part": x * 10, "other": rng.normal(size=400), "total": x * 10 + 3})
    checks = target_checks(frame, infer_schema(frame), "total")
    assert checks["task"] == "regression"
    assert [leak["feature"] for leak in checks["leaks"]] == ["part"]


def test_missing_target_rows_imbalance_and_rare_classes():
    n = 300
    y = np.array(["common"] * 270 + ["uncommon"] * 27 + ["rare"] * 3, dtype=object)
    y[:10] = None
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"f": rng.normal(size=n), "y": y})
    checks = target_checks(frame, infer_schema(frame), "y")
    assert checks["missing"] == 10 and checks["task"] == "multiclass"
    kinds = _kinds(checks["warnings"])
    assert {"missing_target", "imbalance", "rare_classes"} <= kinds
    rare = next(w for w in checks["warnings"] if w["kind"] == "rare_classes")
    assert rare["classes"] == ["rare"] and "stop stratifying" in rare["message"]
    assert not checks["blocking"]


def test_one_class_blocks_training():
    frame = pd.DataFrame({"f": range(30), "y": ["yes"] * 30})
    checks = target_checks(frame, infer_schema(frame), "y")
    assert checks["blocking"] and "only one class" in checks["blocking"][0]


def test_a_continuous_target_picked_as_a_class_suggests_regression():
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"f": rng.normal(size=200), "price": rng.uniform(10, 500, 200)})
    checks = target_checks(frame, infer_schema(frame), "price", task="multiclass")
    cont = [w for w in checks["warnings"] if w["kind"] == "continuous_target"]
    assert cont and cont[0]["suggestion"] == "regression"


def test_text_target_cannot_be_a_regression():
    frame = pd.DataFrame({"f": range(40), "y": ["a", "b"] * 20})
    checks = target_checks(frame, infer_schema(frame), "y", task="regression")
    assert checks["blocking"] and "not numeric" in checks["blocking"][0]


def test_all_missing_target_and_bad_arguments():
    frame = pd.DataFrame({"f": range(5), "y": [np.nan] * 5})
    assert "no values" in target_checks(frame, infer_schema(frame), "y")["blocking"][0]
    with pytest.raises(InvalidInput, match="not a column"):
        target_checks(frame, infer_schema(frame), "zzz")
    with pytest.raises(InvalidInput, match="task"):
        target_checks(frame, infer_schema(frame), "f", task="clustering")


def test_id_like_columns_are_listed_for_exclusion():
    frame = _frame()
    checks = target_checks(frame, infer_schema(frame), "y")
    assert checks["identifiers"] == ["id"]
    assert checks["task"] == "binary"


def test_duplicate_rows_with_and_without_a_unique_column():
    from studio.profile import duplicate_rows

    frame = pd.DataFrame({"a": [1, 1, 2], "b": ["x", "x", "y"]})
    assert duplicate_rows(frame, infer_schema(frame)) == 1
    frame["id"] = [10, 11, 12]  # a column without repeats rules repeats out
    assert duplicate_rows(frame, infer_schema(frame)) == 0 == duplicate_rows(frame)
