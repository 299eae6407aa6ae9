"""RecipeTransformer (the scikit-learn estimator contract) and the target-free replay
used at prediction time (prediction_steps, training_input)."""
from __future__ import annotations

import copy
import io

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import NotFittedError
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from sklearn.utils.estimator_checks import check_estimator

from studio import datasets
from studio.errors import IntegrityError, InvalidInput
from studio.recipes import (MissingColumns, RecipeTransformer, apply_recipe, fit_recipe,
                            prediction_steps, training_input)


@pytest.mark.parametrize("estimator", [
    RecipeTransformer(),
    RecipeTransformer([{"kind": "scale", "columns": ["x0"], "method": "standard"}], refit=True),
    RecipeTransformer([{"kind": "formula", "column": "x0", "expression": "x0 * 2 + 1"},
                       {"kind": "clip", "columns": ["x0"], "method": "values", "lower": -1,
                        "upper": 3}]),
], ids=["no-steps", "refit-scale", "stored-formula-clip"])
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")
def test_sklearn_estimator_checks(estimator):
    results = check_estimator(estimator, on_fail=None)
    failed = [(r["check_name"], str(r["exception"])[:200]) for r in results
              if r["status"] == "failed"]
    assert failed == []
    # only the array-API check is skipped (it needs SCIPY_ARRAY_API set)
    assert sum(r["status"] == "passed" for r in results) >= 40


@pytest.fixture
def raw():
    return pd.DataFrame({
        "age": [22.0, np.nan, 35.0, 58.0, np.nan, 41.0, 30.0, 27.0],
        "city": ["Paris", "Rome", "Paris", "Oslo", "Paris", "Rome", "Lima", "Rome"],
        "when": ["2013-02-01", "2014-03-15", None, "2015-12-31", "2016-01-02", "2016-08-07",
                 "2017-05-05", "2018-01-01"],
        "y": ["yes", "no", "yes", "no", "no", "yes", "yes", "no"],
    }, index=[3, 4, 5, 6, 7, 8, 9, 10])


def fitted_steps(raw):
    steps, _out = fit_recipe(raw, [
        {"kind": "impute", "columns": ["age"], "strategy": "median", "indicator": True},
        {"kind": "group_rare", "columns": ["city"], "min_count": 2},
        {"kind": "date_parts", "column": "when", "parts": ["year", "month"],
         "drop_original": True},
        {"kind": "formula", "column": "age2", "expression": "age ** 2"},
    ])
    return [s.to_json() for s in steps]


def test_contract_params_fit_and_fitted_attributes(raw):
    steps = fitted_steps(raw)
    original = copy.deepcopy(steps)
    est = RecipeTransformer(steps)
    assert est.get_params() == {"steps": steps, "refit": False}
    with pytest.raises(NotFittedError):
        est.transform(raw)
    assert clone(est).get_params()["steps"] == steps
    X = raw.drop(columns=["y"])
    before = X.copy()
    assert est.fit(X) is est
    learned = {k for k in vars(est) if k not in ("steps", "refit")}
    assert learned and all(k.endswith("_") for k in learned)
    assert steps == original  # fit never changes its parameters
    out = est.transform(X)
    pd.testing.assert_frame_equal(X, before)  # nor its input
    assert list(est.get_feature_names_out()) == list(out.columns) == [
        "age", "city", "age_missing", "when_year", "when_month", "age2"]
    assert not hasattr(clone(est), "steps_")


def test_bad_steps_are_accepted_at_init_and_refused_at_fit(raw):
    est = RecipeTransformer([{"kind": "nope"}])  # __init__ only stores
    with pytest.raises(InvalidInput, match="unknown step kind"):
        est.fit(raw)
    with pytest.raises(ValueError, match="only row-wise steps"):
        RecipeTransformer([{"kind": "drop_duplicates"}]).fit(raw)


def test_single_rows_missing_and_extra_columns(raw):
    X = raw.drop(columns=["y"])
    est = RecipeTransformer(fitted_steps(raw)).fit(X)
    whole = est.transform(X)
    for i in range(len(X)):
        pd.testing.assert_frame_equal(est.transform(X.iloc[[i]]), whole.iloc[[i]])
    extra = X.assign(unused="x", y="yes")
    pd.testing.assert_frame_equal(est.transform(extra), whole)  # extra columns are ignored
    with pytest.raises(MissingColumns, match="lacks column.*city") as err:
        est.transform(X.drop(columns=["city"]))
    assert isinstance(err.value, ValueError) and isinstance(err.value, InvalidInput)


def test_requests_in_other_dtypes_are_conformed(raw):
    X = raw.drop(columns=["y"])
    est = RecipeTransformer(fitted_steps(raw)).fit(X)
    request = pd.DataFrame({"age": [None], "city": ["Rome"], "when": ["2016-08-07"]},
                           dtype=object)
    out = est.transform(request)
    assert out.loc[0, "age"] == 32.5 and out.loc[0, "city"] == "Rome"
    assert out.loc[0, "when_year"] == 2016 and bool(out.loc[0, "age_missing"])
    request = pd.DataFrame({"age": [40], "city": ["Lima"], "when": ["2016-08-07"]})
    assert est.transform(request).loc[0, "city"] == "Other"  # unseen category grouped


def test_joblib_round_trip_gives_the_same_output(raw):
    X = raw.drop(columns=["y"])
    est = RecipeTransformer(fitted_steps(raw)).fit(X)
    buffer = io.BytesIO()
    joblib.dump(est, buffer)
    buffer.seek(0)
    pd.testing.assert_frame_equal(joblib.load(buffer).transform(X), est.transform(X))


def test_refit_learns_from_the_training_data(raw):
    X = raw.drop(columns=["y"])
    steps = fitted_steps(raw)
    half = X.iloc[:3]
    stored = RecipeTransformer(steps).fit(half).transform(X.iloc[[1]])
    refit = RecipeTransformer(steps, refit=True).fit(half).transform(X.iloc[[1]])
    assert stored.loc[4, "age"] == 32.5
    assert refit.loc[4, "age"] == 28.5  # the median of 22 and 35, learned from `half`


# --- the target --------------------------------------------------------------------

def test_steps_on_the_target_are_left_out(raw):
    steps, out = fit_recipe(raw, [
        {"kind": "change_type", "columns": ["y"], "to": "boolean"},
        {"kind": "impute", "columns": ["age", "y"], "strategy": "most_frequent"},
        {"kind": "rename_columns", "mapping": {"y": "target", "city": "town"}},
        {"kind": "formula", "column": "double", "expression": "target * 2"},
        {"kind": "drop_columns", "columns": ["double"]},
    ])
    kept, inputs = prediction_steps(steps, list(raw.columns), "target")
    assert inputs == ["age", "city", "when"]
    assert [s.kind for s in kept] == ["impute", "rename_columns"]
    assert kept[0].columns == ["age"] and kept[1].mapping == {"city": "town"}
    rebuilt = RecipeTransformer(kept).fit_transform(raw[inputs])
    pd.testing.assert_frame_equal(rebuilt, out.drop(columns=["target"]))


def test_raw_columns_only_the_target_needs_are_not_inputs(raw):
    data = raw.assign(extra=np.arange(len(raw), dtype="float64"))
    steps, out = fit_recipe(data, [
        {"kind": "change_type", "columns": ["y"], "to": "integer"},
        {"kind": "formula", "column": "score", "expression": "age + extra"},
        {"kind": "drop_columns", "columns": ["extra", "y"]},
    ])
    kept, inputs = prediction_steps(steps, list(data.columns), "score")
    assert inputs == ["age", "city", "when"] and kept == []
    pd.testing.assert_frame_equal(RecipeTransformer(kept).fit_transform(data[inputs]),
                                  out.drop(columns=["score"]))


def test_a_feature_computed_from_the_target_is_refused(raw):
    data = raw.assign(y=[1.0, 0, 1, 0, 0, 1, 1, 0])
    steps, _out = fit_recipe(data, [{"kind": "formula", "column": "leak", "expression": "y * 2"}])
    with pytest.raises(InvalidInput, match="leak.*target 'y'"):
        prediction_steps(steps, list(data.columns), "y")
    with pytest.raises(InvalidInput, match="target 'nope' is not a column"):
        prediction_steps(steps, list(data.columns), "nope")


# --- training_input with a store -----------------------------------------------------

def test_training_input_rebuilds_the_version_features(store, raw):
    root = datasets.save_version(store, name="people", frame=raw.reset_index(drop=True)
                                 .assign(id=range(8)))
    v2 = apply_recipe(store, root, [
        {"kind": "drop_columns", "columns": ["id"]},
        {"kind": "impute", "columns": ["age"], "strategy": "median", "indicator": True},
        {"kind": "filter_rows", "conditions": [{"column": "age", "op": ">", "value": "21"}]},
        {"kind": "change_type", "columns": ["y"], "to": "boolean"},
        {"kind": "rename_columns", "mapping": {"y": "target"}},
    ])
    v3 = apply_recipe(store, v2, [
        {"kind": "drop_duplicates"},
        {"kind": "date_parts", "column": "when", "drop_original": True},
        {"kind": "group_rare", "columns": ["city"], "min_count": 2},
        {"kind": "formula", "column": "age2", "expression": "age ** 2 / 100"},
        {"kind": "scale", "columns": ["age2"]},
    ])
    version = datasets.load_frame(store, v3)
    X_raw, y, steps = training_input(store, v3, "target")
    assert list(X_raw.columns) == ["age", "city", "when"]  # no id, no target
    assert list(X_raw.index) == list(version.index)
    pd.testing.assert_series_equal(y, version["target"])
    assert all(s["kind"] not in ("filter_rows", "drop_duplicates") for s in steps)
    features = RecipeTransformer(steps).fit_transform(X_raw)
    pd.testing.assert_frame_equal(features, version.drop(columns=["target"]))

    # The published pipeline: raw columns in, prediction out, one row at a time too.
    categorical = ["city"]
    numeric = [c for c in features.columns if c not in categorical]
    model = Pipeline([
        ("recipe", RecipeTransformer(steps)),
        ("prep", ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
                                    ("num", SimpleImputer(), numeric)])),
        ("model", LogisticRegression(max_iter=500)),
    ]).fit(X_raw, y.astype(bool))
    row = pd.DataFrame({"age": [None], "city": ["Atlantis"], "when": ["2019-07-01"]})
    assert model.predict(row).shape == (1,)


def test_training_input_on_an_import_and_bad_targets(store, raw):
    root = datasets.save_version(store, name="plain", frame=raw)
    X_raw, y, steps = training_input(store, "plain", "y")
    assert list(X_raw.columns) == ["age", "city", "when"] and steps == []
    assert y.tolist() == raw["y"].tolist()
    with pytest.raises(InvalidInput, match="'nope' is not a column of plain:1"):
        training_input(store, root, "nope")


def test_a_version_not_made_by_its_recipe_is_detected(store, raw):
    root = datasets.save_version(store, name="odd", frame=raw)
    altered = raw.assign(age=raw["age"] * 10)
    odd = datasets.save_version(store, name="odd", frame=altered, parent=root, recipe=[])
    with pytest.raises(IntegrityError, match="does not give the stored data"):
        training_input(store, odd, "y")
