"""infer_schema: semantic types with reasons, JSON-safe values, sampling on large frames."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from studio.schema import SAMPLE_ROWS, feature_columns, infer_schema


def _by_name(frame):
    return {e["name"]: e for e in infer_schema(frame)}


def test_each_semantic_type_with_a_reason():
    n = 200
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({
        "row_id": np.arange(n),
        "PassengerId": rng.permutation(n) + 1,
        "income": rng.normal(50, 10, n),
        "plan": rng.choice(["basic", "pro", "team"], n),
        "churn": rng.choice(["yes", "no"], n),
        "flag01": rng.integers(0, 2, n),
        "when": pd.date_range("2024-01-01", periods=n, freq="h"),
        "review": [" ".join(rng.choice(["good", "bad", "slow", "fast", "ok"], 9)) + f" {i}"
                   for i in range(n)],
        "sku": [f"SKU-{i:05d}" for i in rng.permutation(n)],
        "truth": rng.choice([True, False], n),
    })
    schema = _by_name(frame)
    expected = {"row_id": "identifier", "PassengerId": "identifier", "income": "numeric",
                "plan": "categorical", "churn": "boolean", "flag01": "boolean",
                "when": "datetime", "review": "text", "sku": "identifier", "truth": "boolean"}
    assert {k: v["semantic"] for k, v in schema.items()} == expected
    assert all(entry["reason"] for entry in schema.values())
    assert schema["plan"]["categories"][:3] and set(schema["plan"]["categories"]) == {
        "basic", "pro", "team"}
    assert schema["income"]["min"] < schema["income"]["max"]
    assert schema["when"]["min"].startswith("2024-01-01")
    json.dumps(list(schema.values()), allow_nan=False)  # JSON-safe throughout
    assert "row_id" not in feature_columns(list(schema.values()))


def test_missing_and_distinct_counts_and_all_missing_columns():
    frame = pd.DataFrame({"a": [1.0, np.nan, 3.0, 3.0], "b": [None, None, None, None],
                          "c": pd.array([None, None, None, None], dtype="str")})
    schema = _by_name(frame)
    assert (schema["a"]["missing"], schema["a"]["distinct"]) == (1, 2)
    assert schema["b"]["missing"] == 4 and "no values" in schema["b"]["reason"]
    assert schema["c"]["semantic"] == "categorical" and schema["c"]["categories"] == []


def test_infinities_do_not_leak_into_min_max():
    schema = _by_name(pd.DataFrame({"x": [1.0, np.inf, -np.inf, 2.0]}))
    assert (schema["x"]["min"], schema["x"]["max"]) == (1.0, 2.0)


def test_categories_are_capped_and_most_frequent_first():
    values = [f"c{i}" for i in range(150) for _ in range(2)] + ["top"] * 50
    schema = _by_name(pd.DataFrame({"cat": values}))
    entry = schema["cat"]
    assert entry["semantic"] == "categorical"
    assert len(entry["categories"]) == 100 and entry["categories"][0] == "top"


def test_large_frames_say_when_they_were_sampled():
    n = SAMPLE_ROWS * 3
    frame = pd.DataFrame({"code": [f"k{i}" for i in range(n)]})
    entry = infer_schema(frame)[0]
    assert entry["semantic"] == "identifier"
    assert entry["sampled"] is True and "sample" in entry["reason"]
    assert entry["distinct"] == n  # counts stay exact


def test_dtype_is_the_pandas_dtype_string():
    frame = pd.DataFrame({"i": [1, 2], "s": ["a", "b"], "f": [0.5, 1.5]})
    assert [e["dtype"] for e in infer_schema(frame)] == ["int64", str(frame["s"].dtype),
                                                         "float64"]


def test_value_counts_from_cleaning_match_a_fresh_count(tmp_path):
    from pathlib import Path

    from studio.ingest import read_table

    case = Path(__file__).resolve().parent / "fixtures" / "input_cases" / "21_sentinels.csv"
    table = read_table(case)
    assert set(table.counts) == {"b"}
    fresh = table.frame["b"].value_counts()
    assert table.counts["b"].to_dict() == fresh.to_dict()
    assert infer_schema(table.frame) == table.schema  # same schema with or without them
