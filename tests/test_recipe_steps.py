"""Every recipe step: what it does, what it learns, how it refuses bad input, and the
properties replay relies on (row-wise = row by row, JSON round trip)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from studio.errors import InvalidInput
from studio.recipes import STEP_TYPES, StepBase, fit_recipe, replay, step_from_json, steps_from_json, to_json


@pytest.fixture
def frame():
    return pd.DataFrame({
        "age": [22.0, np.nan, 35.0, 58.0, np.nan, 41.0],
        "n": pd.array([1, 2, 2, 3, 50, 2], dtype="int64"),
        "city": ["Paris", " london ", "Paris", "Rome", None, "Oslo"],
        "when": ["01.02.2013", "15.03.2014", None, "31.12.2015", "bad", "07.08.2016"],
        "amount": ["1.5", "2", "x", None, "7", " 3 "],
        "ok": [True, False, True, True, False, False],
    }, index=[100, 101, 102, 103, 104, 105])


def run(frame, spec):
    step = step_from_json(spec).fit(frame)
    return step, step.apply(frame)


# --- columns ------------------------------------------------------------------------

def test_drop_and_rename(frame):
    _s, out = run(frame, {"kind": "drop_columns", "columns": ["n", "ok"]})
    assert list(out.columns) == ["age", "city", "when", "amount"]
    _s, out = run(frame, {"kind": "rename_columns", "mapping": {"age": "Age (years)"}})
    assert list(out.columns)[0] == "Age (years)"
    assert list(out.index) == list(frame.index)


def test_column_errors_name_the_column(frame):
    with pytest.raises(InvalidInput, match="column 'nope' is not in the data; it has age, n"):
        run(frame, {"kind": "drop_columns", "columns": ["nope"]})
    with pytest.raises(InvalidInput, match="two columns the name 'city'"):
        run(frame, {"kind": "rename_columns", "mapping": {"age": "city"}})
    with pytest.raises(InvalidInput, match="new name for 'age' is empty"):
        run(frame, {"kind": "rename_columns", "mapping": {"age": "  "}})
    with pytest.raises(InvalidInput, match="listed twice"):
        step_from_json({"kind": "scale", "columns": ["age", "age"]})
    with pytest.raises(InvalidInput, match="unknown step kind 'explode'"):
        step_from_json({"kind": "explode"})
    with pytest.raises(InvalidInput, match="not valid"):
        step_from_json({"kind": "impute", "columns": ["age"], "strategy": "magic"})


# --- types --------------------------------------------------------------------------

def test_change_type_counts_values_that_fail(frame):
    step, out = run(frame, {"kind": "change_type", "columns": ["amount"], "to": "number"})
    assert out["amount"].dtype == "float64"
    assert out["amount"].tolist()[:3] == [1.5, 2.0, pytest.approx(np.nan, nan_ok=True)]
    assert out.loc[105, "amount"] == 3.0
    notes = step.notes(frame, out)
    assert notes and "1 value(s) in 'amount'" in notes[0] and "'x'" in notes[0]
    _s, out = run(frame, {"kind": "change_type", "columns": ["amount"], "to": "integer"})
    assert str(out["amount"].dtype) == "Int64"
    assert out["amount"].isna().tolist() == [True, False, True, True, False, False]


def test_change_type_to_dates_learns_the_pattern(frame):
    step, out = run(frame, {"kind": "change_type", "columns": ["when"], "to": "datetime"})
    assert step.formats == {"when": "%d.%m.%Y"}
    assert out["when"].dtype == "datetime64[us]"
    assert out.loc[100, "when"] == pd.Timestamp("2013-02-01")
    assert pd.isna(out.loc[104, "when"])
    single = step.apply(frame.loc[[101]])  # the learned pattern, even for one row
    assert single.loc[101, "when"] == pd.Timestamp("2014-03-15")


def test_change_type_boolean_text_and_refusals(frame):
    data = pd.DataFrame({"b": ["yes", "No", " TRUE ", "maybe", None]})
    _s, out = run(data, {"kind": "change_type", "columns": ["b"], "to": "boolean"})
    assert out["b"].tolist()[:3] == [True, False, True]
    assert out["b"].isna().tolist() == [False, False, False, True, True]
    _s, out = run(frame, {"kind": "change_type", "columns": ["n"], "to": "text"})
    assert out["n"].tolist()[:2] == ["1", "2"]
    dates = run(frame, {"kind": "change_type", "columns": ["when"], "to": "datetime"})[1]
    with pytest.raises(InvalidInput, match="date parts"):
        run(dates, {"kind": "change_type", "columns": ["when"], "to": "number"})
    with pytest.raises(InvalidInput, match="do not convert to dates"):
        run(frame, {"kind": "change_type", "columns": ["age"], "to": "datetime"})


# --- missing values -----------------------------------------------------------------

@pytest.mark.parametrize("strategy, value", [("mean", 39.0), ("median", 38.0)])
def test_impute_learns_once(frame, strategy, value):
    step, out = run(frame, {"kind": "impute", "columns": ["age"], "strategy": strategy,
                            "indicator": True})
    assert step.fill == {"age": value} and step.indicators == {"age": "age_missing"}
    assert out.loc[101, "age"] == value and out["age"].notna().all()
    assert out["age_missing"].tolist() == [False, True, False, False, True, False]
    other = pd.DataFrame({"age": [np.nan, 1000.0]})
    assert step.apply(other)["age"].tolist() == [value, 1000.0]  # replay: no refit


def test_impute_most_frequent_constant_and_refusals(frame):
    step, out = run(frame, {"kind": "impute", "columns": ["city"], "strategy": "most_frequent"})
    assert step.fill == {"city": "Paris"} and out.loc[104, "city"] == "Paris"
    step, out = run(frame, {"kind": "impute", "columns": ["age"], "strategy": "constant",
                            "value": "0"})
    assert step.fill == {"age": 0.0} and out.loc[101, "age"] == 0.0
    with pytest.raises(InvalidInput, match="'abc' is not a number"):
        run(frame, {"kind": "impute", "columns": ["age"], "strategy": "constant",
                    "value": "abc"})
    with pytest.raises(InvalidInput, match="needs numbers.*city"):
        run(frame, {"kind": "impute", "columns": ["city"], "strategy": "mean"})
    with pytest.raises(InvalidInput, match="no values"):
        run(pd.DataFrame({"x": [np.nan, np.nan]}), {"kind": "impute", "columns": ["x"],
                                                    "strategy": "median"})
    with pytest.raises(InvalidInput, match="'age_missing' already exists"):
        run(frame.assign(age_missing=1), {"kind": "impute", "columns": ["age"],
                                          "indicator": True})


def test_impute_mean_of_whole_numbers_gives_decimals():
    data = pd.DataFrame({"k": pd.array([1, 2, None], dtype="Int64")})
    step, out = run(data, {"kind": "impute", "columns": ["k"], "strategy": "mean"})
    assert out["k"].dtype == "float64" and out["k"].tolist() == [1.0, 2.0, 1.5]
    assert step.apply(data.iloc[[0]])["k"].dtype == "float64"


def test_drop_missing(frame):
    assert list(run(frame, {"kind": "drop_missing", "columns": ["age"]})[1].index) == \
        [100, 102, 103, 105]
    assert list(run(frame, {"kind": "drop_missing"})[1].index) == [100, 105]
    assert len(run(frame, {"kind": "drop_missing", "columns": ["age", "city"],
                           "how": "all"})[1]) == 5


# --- rows ---------------------------------------------------------------------------

@pytest.mark.parametrize("cond, kept", [
    ({"column": "age", "op": ">", "value": "30"}, [102, 103, 105]),
    ({"column": "age", "op": "<=", "value": 35}, [100, 102]),
    ({"column": "age", "op": "!=", "value": "35"}, [100, 103, 105]),  # missing never matches
    ({"column": "age", "op": "is missing"}, [101, 104]),
    ({"column": "city", "op": "==", "value": "Paris"}, [100, 102]),
    ({"column": "city", "op": "in", "value": "Paris, Rome"}, [100, 102, 103]),
    ({"column": "city", "op": "not in", "value": ["Paris"]}, [101, 103, 105]),
    ({"column": "city", "op": "contains", "value": "LON"}, [101]),
    ({"column": "city", "op": "does not contain", "value": "o"}, [100, 102]),
    ({"column": "ok", "op": "==", "value": "yes"}, [100, 102, 103]),
    ({"column": "n", "op": ">=", "value": "3"}, [103, 104]),
])
def test_filter_operators(frame, cond, kept):
    step, out = run(frame, {"kind": "filter_rows", "conditions": [cond]})
    assert list(out.index) == kept
    assert not step.ROWWISE


def test_filter_combine_remove_dates_and_refusals(frame):
    conds = [{"column": "age", "op": ">", "value": 40}, {"column": "city", "op": "==",
                                                         "value": "Paris"}]
    assert list(run(frame, {"kind": "filter_rows", "conditions": conds, "combine": "any"})[1]
                .index) == [100, 102, 103, 105]
    assert list(run(frame, {"kind": "filter_rows", "conditions": conds, "keep": False})[1]
                .index) == list(frame.index)
    dated = run(frame, {"kind": "change_type", "columns": ["when"], "to": "datetime"})[1]
    out = run(dated, {"kind": "filter_rows", "conditions": [
        {"column": "when", "op": ">=", "value": "2015-01-01"}]})[1]
    assert list(out.index) == [103, 105]
    with pytest.raises(InvalidInput, match="'old' is not a number"):
        run(frame, {"kind": "filter_rows", "conditions": [{"column": "age", "op": ">",
                                                           "value": "old"}]})
    with pytest.raises(InvalidInput, match="needs a value"):
        run(frame, {"kind": "filter_rows", "conditions": [{"column": "age", "op": ">",
                                                           "value": ""}]})
    with pytest.raises(InvalidInput, match="not valid"):
        step_from_json({"kind": "filter_rows", "conditions": [{"column": "age", "op": "LIKE"}]})


def test_drop_duplicates_and_sample():
    data = pd.DataFrame({"a": [1, 1, 2, 2, 3], "b": ["x", "x", "y", "z", "w"]},
                        index=[5, 6, 7, 8, 9])
    assert list(run(data, {"kind": "drop_duplicates"})[1].index) == [5, 7, 8, 9]
    assert list(run(data, {"kind": "drop_duplicates", "columns": ["a"], "keep": "last"})[1]
                .index) == [6, 8, 9]
    assert list(run(data, {"kind": "drop_duplicates", "columns": ["a"], "keep": "none"})[1]
                .index) == [9]
    step, out = run(data, {"kind": "sample_rows", "fraction": 0.6, "seed": 3})
    assert step.n == 3 and len(out) == 3 and list(out.index) == sorted(out.index)
    assert out.equals(step.apply(data))  # the same rows every time
    with pytest.raises(InvalidInput, match="number of rows or a fraction"):
        run(data, {"kind": "sample_rows"})


# --- dates --------------------------------------------------------------------------

def test_date_parts(frame):
    step, out = run(frame, {"kind": "date_parts", "column": "when",
                            "parts": ["year", "month", "weekday", "is_weekend", "week"],
                            "drop_original": True})
    assert "when" not in out.columns and step.fitted_format == "%d.%m.%Y"
    assert out.loc[100, ["when_year", "when_month", "when_weekday", "when_is_weekend",
                         "when_week"]].tolist() == [2013, 2, 4, 0, 5]
    assert out["when_year"].dtype == "float64" and pd.isna(out.loc[104, "when_year"])
    assert any("not dates" in n for n in step.notes(frame, out))
    with pytest.raises(InvalidInput, match="holds numbers"):
        run(frame, {"kind": "date_parts", "column": "age"})
    with pytest.raises(InvalidInput, match="does not read as dates"):
        run(frame, {"kind": "date_parts", "column": "city"})
    with pytest.raises(InvalidInput, match="'when_year' already exists"):
        run(frame.assign(when_year=1), {"kind": "date_parts", "column": "when"})


# --- numbers ------------------------------------------------------------------------

def test_clip_methods(frame):
    step, out = run(frame, {"kind": "clip", "columns": ["n"], "method": "quantile",
                            "lower": 0.0, "upper": 0.8})
    assert step.bounds == {"n": [1.0, 3.0]} and out["n"].max() == 3.0
    assert any("1 value(s) clipped" in n for n in step.notes(frame, out))
    step, _out = run(frame, {"kind": "clip", "columns": ["age"], "method": "std", "k": 1})
    low, high = step.bounds["age"]
    values = frame["age"].dropna()
    assert low == pytest.approx(values.mean() - values.std(ddof=0))
    assert high == pytest.approx(values.mean() + values.std(ddof=0))
    _s, out = run(frame, {"kind": "clip", "columns": ["age"], "method": "values", "lower": 30,
                          "upper": None})
    assert out["age"].min() == 30 and out["age"].max() == 58
    with pytest.raises(InvalidInput, match="needs numbers"):
        run(frame, {"kind": "clip", "columns": ["city"]})
    with pytest.raises(InvalidInput, match="lower quantile"):
        run(frame, {"kind": "clip", "columns": ["age"], "lower": 0.9, "upper": 0.1})


def test_scale_methods(frame):
    step, out = run(frame, {"kind": "scale", "columns": ["age"], "method": "standard"})
    assert out["age"].mean() == pytest.approx(0) and out["age"].std(ddof=0) == pytest.approx(1)
    assert step.stats["age"][0] == pytest.approx(39.0)
    _s, out = run(frame, {"kind": "scale", "columns": ["n"], "method": "minmax"})
    assert out["n"].min() == 0 and out["n"].max() == 1
    _s, out = run(pd.DataFrame({"x": [-9.0, 0.0, 9.0]}), {"kind": "scale", "columns": ["x"],
                                                         "method": "log"})
    assert out["x"].tolist() == pytest.approx([-np.log(10), 0, np.log(10)])
    constant = run(pd.DataFrame({"x": [2.0, 2.0]}), {"kind": "scale", "columns": ["x"]})[1]
    assert constant["x"].tolist() == [0.0, 0.0]  # no division by a zero spread


def test_bin_edges_labels_and_unseen_values(frame):
    step, out = run(frame, {"kind": "bin", "columns": ["age"], "method": "edges",
                            "edges": [0, 30, 50, 100]})
    assert out["age_bin"].tolist()[:4] == ["00: [-inf, 30)", np.nan, "01: [30, 50)",
                                           "02: [50, inf)"]
    far = step.apply(pd.DataFrame({"age": [-5.0, 500.0]}, index=[7, 8]))
    assert far["age_bin"].tolist() == ["00: [-inf, 30)", "02: [50, inf)"]
    step, out = run(frame, {"kind": "bin", "columns": ["n"], "method": "uniform", "bins": 2,
                            "labels": "index", "replace": True})
    assert step.fitted_edges == {"n": [1.0, 25.5, 50.0]}
    assert out["n"].tolist() == [0, 0, 0, 0, 1, 0] and out["n"].dtype == "float64"
    with pytest.raises(InvalidInput, match="nothing to bin"):
        run(pd.DataFrame({"x": [1.0, 1.0]}), {"kind": "bin", "columns": ["x"]})


# --- categories and text -----------------------------------------------------------

def test_group_rare_keeps_learned_categories(frame):
    step, out = run(frame, {"kind": "group_rare", "columns": ["city"], "min_fraction": 0.3})
    assert step.keep == {"city": ["Paris"]}
    assert out["city"].tolist()[:4] == ["Paris", "Other", "Paris", "Other"]
    assert pd.isna(out.loc[104, "city"])  # missing stays missing
    unseen = step.apply(pd.DataFrame({"city": ["Lima"]}))
    assert unseen["city"].tolist() == ["Other"]
    _s, out = run(frame, {"kind": "group_rare", "columns": ["n"], "min_count": 2,
                          "other": "rare"})
    assert out["n"].tolist() == ["rare", "2", "2", "rare", "rare", "2"]


def test_clean_text(frame):
    _s, out = run(frame, {"kind": "clean_text", "columns": ["city"], "lower": True})
    assert out.loc[101, "city"] == "london" and out.loc[100, "city"] == "paris"
    data = pd.DataFrame({"t": ["  a   b ", "   ", None]})
    _s, out = run(data, {"kind": "clean_text", "columns": ["t"], "collapse_spaces": True,
                         "empty_as_missing": True})
    assert out["t"].tolist()[0] == "a b" and out["t"].isna().tolist() == [False, True, True]
    with pytest.raises(InvalidInput, match="does not hold text"):
        run(frame, {"kind": "clean_text", "columns": ["age"]})


# --- recipes --------------------------------------------------------------------------

def test_fit_recipe_reports_the_failing_step(frame):
    with pytest.raises(InvalidInput,
                       match=r"step 2 \(Standardise: age\): column 'age' is not in the data"):
        fit_recipe(frame, [{"kind": "drop_columns", "columns": ["age"]},
                           {"kind": "scale", "columns": ["age"]}])


def test_replay_uses_stored_values_and_refuses_unfitted(frame):
    fitted, out = fit_recipe(frame, [{"kind": "impute", "columns": ["age"]},
                                     {"kind": "scale", "columns": ["age"]}])
    again = replay(frame, json.loads(to_json(fitted)))
    pd.testing.assert_frame_equal(again, out)
    with pytest.raises(InvalidInput, match="not been fitted"):
        replay(frame, [{"kind": "impute", "columns": ["age"]}])


def test_every_kind_has_a_title_help_and_round_trips():
    assert len(STEP_TYPES) >= 15
    for kind, cls in STEP_TYPES.items():
        assert cls.TITLE and cls.HELP, kind
    step = StepBase.from_json('{"kind": "scale", "columns": ["x"]}')
    assert STEP_TYPES["scale"].from_json(step.to_json()) == step
    with pytest.raises(InvalidInput, match="expected a 'impute' step, got 'scale'"):
        STEP_TYPES["impute"].from_json(step.to_json())


# --- properties -----------------------------------------------------------------------

ROWWISE_SPECS = [
    {"kind": "drop_columns", "columns": ["n"]},
    {"kind": "rename_columns", "mapping": {"num": "number"}},
    {"kind": "change_type", "columns": ["numtext"], "to": "number"},
    {"kind": "change_type", "columns": ["numtext"], "to": "integer"},
    {"kind": "change_type", "columns": ["numtext", "cat"], "to": "boolean"},
    {"kind": "change_type", "columns": ["date"], "to": "datetime"},
    {"kind": "change_type", "columns": ["n", "num"], "to": "text"},
    {"kind": "impute", "columns": ["num"], "strategy": "mean", "indicator": True},
    {"kind": "impute", "columns": ["cat"], "strategy": "most_frequent"},
    {"kind": "impute", "columns": ["n"], "strategy": "median"},
    {"kind": "date_parts", "column": "date", "parts": list(
        ["year", "quarter", "month", "day", "weekday", "dayofyear", "week", "hour", "minute",
         "is_weekend"])},
    {"kind": "clip", "columns": ["num", "n"], "method": "quantile", "lower": 0.1, "upper": 0.9},
    {"kind": "clip", "columns": ["num"], "method": "std", "k": 1.5},
    {"kind": "scale", "columns": ["num", "n"], "method": "standard"},
    {"kind": "scale", "columns": ["num"], "method": "minmax"},
    {"kind": "scale", "columns": ["num", "n"], "method": "log"},
    {"kind": "bin", "columns": ["num"], "method": "quantile", "bins": 3},
    {"kind": "bin", "columns": ["n"], "method": "uniform", "bins": 4, "labels": "index"},
    {"kind": "group_rare", "columns": ["cat", "n"], "min_fraction": 0.2},
    {"kind": "clean_text", "columns": ["cat"], "lower": True, "collapse_spaces": True,
     "empty_as_missing": True},
    {"kind": "formula", "column": "f", "expression": "num * n + abs(num) / (n - 1)"},
]
DATASET_SPECS = [
    {"kind": "filter_rows", "conditions": [{"column": "num", "op": ">", "value": "0"}]},
    {"kind": "filter_rows", "conditions": [{"column": "cat", "op": "in", "value": "a, B"},
                                           {"column": "n", "op": "is not missing"}],
     "combine": "any", "keep": False},
    {"kind": "drop_duplicates", "columns": ["cat"]},
    {"kind": "drop_missing", "columns": ["num", "cat"]},
    {"kind": "sample_rows", "fraction": 0.5, "seed": 1},
]


@st.composite
def frames(draw):
    n = draw(st.integers(3, 12))
    col = lambda values: draw(st.lists(st.sampled_from(values), min_size=n, max_size=n))
    index = draw(st.lists(st.integers(0, 10_000), min_size=n, max_size=n, unique=True))
    return pd.DataFrame({
        "num": pd.array(col([0.0, -1.5, 2.25, 10.0, 1e6, np.nan]), dtype="float64"),
        "n": pd.array(col([0, 1, 2, 3, 7, 100]), dtype="int64"),
        "cat": pd.array(col(["a", " b ", "B", "c  d", "", None]), dtype="str"),
        "date": pd.array(col(["2012-01-01", "2013-06-30", "2020-02-29", "bad", None]),
                         dtype="str"),
        "numtext": pd.array(col(["1", "2.5", "x", " 3 ", "yes", None]), dtype="str"),
        "flag": pd.array(col([True, False]), dtype="bool"),
    }, index=index)


@pytest.mark.parametrize("spec", ROWWISE_SPECS, ids=lambda s: s["kind"])
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(frame=frames())
def test_rowwise_steps_give_the_same_result_row_by_row(frame, spec):
    try:
        step = step_from_json(spec).fit(frame)
    except InvalidInput:
        reject()
    assert step.ROWWISE
    whole = step.apply(frame)
    by_row = pd.concat([step.apply(frame.iloc[[i]]) for i in range(len(frame))])
    pd.testing.assert_frame_equal(by_row, whole)
    assert list(whole.index) == list(frame.index)


@pytest.mark.parametrize("spec", ROWWISE_SPECS + DATASET_SPECS, ids=lambda s: s["kind"])
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(frame=frames())
def test_fitted_steps_round_trip_through_json(frame, spec):
    try:
        step = step_from_json(spec).fit(frame)
    except InvalidInput:
        reject()
    text = json.dumps(step.to_json())
    back = step_from_json(json.loads(text))
    assert back == step and back.to_json()["kind"] == spec["kind"]
    pd.testing.assert_frame_equal(back.apply(frame), step.apply(frame))
    assert steps_from_json(to_json([step])) == [step]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(frames())
def test_a_whole_rowwise_recipe_replays_row_by_row(frame):
    specs = [ROWWISE_SPECS[i] for i in (7, 5, 12, 20, 16, 18, 19)]
    try:
        fitted, whole = fit_recipe(frame, specs)
    except InvalidInput:
        reject()
    by_row = pd.concat([replay(frame.iloc[[i]], fitted) for i in range(len(frame))])
    pd.testing.assert_frame_equal(by_row, whole)
