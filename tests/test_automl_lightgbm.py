"""LightGBM as a search candidate, and the date features the gbm family adds for it."""
from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from studio.automl import candidates as cands
from studio.automl.engine import Search, SearchConfig
from studio.automl.preprocess import build_preprocessor, column_kinds, n_ordinal
from studio.automl.task import apply_plan, plan_problem
from studio.automl.transformers import DateKey, DateParts
from studio.schema import infer_schema
from tests.automl_data import binary_frame, multiclass_frame, regression_frame


def _lgbm_search(frame: pd.DataFrame, target: str, trials: int = 3):
    schema = infer_schema(frame)
    plan = plan_problem(frame, schema, target)
    plan.raise_if_blocked()
    X, y = apply_plan(frame.drop(columns=[target]), frame[target], plan)
    search = Search(X, y, plan, SearchConfig(time_budget_s=60, max_trials=trials, seed=0,
                                             algorithms=["lgbm"]), schema=schema)
    search.run()
    return search, search.finalize(search.best)


@pytest.mark.parametrize("make, target", [(binary_frame, "diagnosis"),
                                          (multiclass_frame, "cultivar"),
                                          (regression_frame, "progression")])
def test_lightgbm_trials_fit_score_and_publish_one_pipeline(make, target):
    frame = make()
    search, final = _lgbm_search(frame, target)
    lgbm = [e for e in search.entries.values() if e.algorithm == "lgbm"]
    assert lgbm and all(np.isfinite(e.score) for e in lgbm)
    # early stopping on the inner split chose the tree count the final fit reuses
    assert all(info["n_estimators"] >= 1 for e in lgbm for info in e.fold_infos)
    assert final.entry.algorithm == "lgbm"
    assert final.final_params["n_estimators"] < 4000
    raw = frame.drop(columns=[target]).head(4)
    pred = final.pipeline.predict(raw)
    assert len(pred) == 4
    if search.task == "regression":
        dummy = next(e for e in search.entries.values() if e.algorithm == "dummy")
        assert final.cv["rmse"] < dummy.score
    else:
        assert set(pred) <= set(frame[target])
        proba = final.pipeline.predict_proba(raw)
        assert np.allclose(proba.sum(axis=1), 1)


def test_lightgbm_stops_at_the_deadline():
    frame = regression_frame()
    X = frame.drop(columns=["progression", "visit"]).to_numpy(dtype=float)
    y = frame["progression"].to_numpy(dtype=float)
    model = cands.build_model("lgbm", {"learning_rate": 0.001}, "regression", seed=0, n_jobs=1,
                              balanced=False)
    info = cands.fit_model("lgbm", model, X, y, deadline=time.time() - 1)
    assert info["n_estimators"] <= 2  # stopped after its first tree, not 4,000
    assert np.isfinite(model.predict(X[:3])).all()


def test_gbm_family_adds_each_dates_day_as_a_category_code():
    frame = pd.DataFrame({
        "when": pd.to_datetime(["2024-01-01 08:00", "2024-01-01 17:00", "2024-01-02 09:00",
                                None, "2024-01-03 10:00", "2024-01-02 11:00"]),
        "colour": ["red", "blue", "red", "blue", "red", "red"],
        "size": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
    })
    kinds = column_kinds(frame, list(frame.columns), {})
    assert kinds == {"when": "date", "colour": "cat", "size": "num"}
    assert n_ordinal(kinds, "tree") == 1 and n_ordinal(kinds, "gbm") == 2
    prep = build_preprocessor(kinds, "gbm", "regression").fit(frame, np.arange(6.0))
    out = prep.transform(frame)
    names = list(prep.get_feature_names_out())
    assert names[:2] == ["colour", "when_day_code"]  # the codes LightGBM splits as categories
    assert out[:, 1].tolist()[:3] == [0.0, 0.0, 1.0] and np.isnan(out[3, 1])
    assert "when_days" in names and "when_hour" in names  # the parts and the trend stay
    later = pd.DataFrame({"when": ["2024-01-02 23:59", "2030-05-05", "not a date"],
                          "colour": ["red", "red", "red"], "size": [1.0, 1.0, 1.0]})
    codes = prep.transform(later)[:, 1]
    assert codes[0] == 1.0 and np.isnan(codes[1]) and np.isnan(codes[2])  # unseen day: missing
    tree = build_preprocessor(kinds, "tree", "regression").fit(frame, np.arange(6.0))
    assert "when_day_code" not in list(tree.get_feature_names_out())


def test_date_parts_include_days_since_1970():
    frame = pd.DataFrame({"d": pd.to_datetime(["1970-01-11", "2000-01-01", None])})
    parts = DateParts().fit(frame)
    out = dict(zip(parts.get_feature_names_out(), parts.transform(frame).T))
    assert out["d_days"][:2].tolist() == [10.0, 10957.0] and np.isnan(out["d_days"][2])
    key = DateKey().fit(pd.DataFrame({"d": [None, None]}))
    assert np.isnan(key.transform(pd.DataFrame({"d": ["2020-01-01"]}))).all()


def test_optional_libraries_are_offered_only_when_they_load():
    assert cands.importable("lightgbm")
    assert not cands.importable("studio_no_such_library")
    assert "lgbm" in cands.available(1000)
    assert "lgbm" in [p["algorithm"] for p in cands.portfolio("binary", cands.available(1000))]


@pytest.mark.parametrize("algorithm", ["lgbm", "linear", "xgb"])
def test_pipelines_with_a_date_take_the_fast_path_with_the_pipelines_answers(algorithm):
    """Date columns (DateParts, and DateKey for LightGBM) are compiled for the service's
    fast path; its answers are the pipeline's own, dates missing, unseen or zoned."""
    import json

    from studio.service.explain import explain
    from studio.service.model import LoadedModel
    from tests.model_factory import make_card

    frame = regression_frame()
    schema = infer_schema(frame)
    plan = plan_problem(frame, schema, "progression")
    X, y = apply_plan(frame.drop(columns=["progression"]), frame["progression"], plan)
    search = Search(X, y, plan, SearchConfig(time_budget_s=60, max_trials=2, seed=0,
                                             algorithms=[algorithm]), schema=schema)
    search.run()
    final = search.finalize(search.best)
    assert final.entry.algorithm == algorithm
    # as the registry keeps it: JSON
    card = json.loads(json.dumps(make_card(frame, final.pipeline, target="progression",
                                           task="regression", algorithm=algorithm), default=str))

    class Version:
        id, ref, task = 1, "m:1", "regression"

    Version.card = card
    loaded = LoadedModel(Version(), final.pipeline)
    assert loaded.fast, loaded.fast_reason
    example = card["example"]
    rows = [example, {**example, "visit": "2031-02-03"}, {**example, "visit": None, "bmi": None},
            {**example, "visit": "2021-03-04 05:06"}]
    batch = loaded.converter.convert(rows)
    fast, slow = loaded.predict(batch), loaded.predict_frame(batch)
    assert fast.path == "fast" and fast.predictions == slow.predictions
    zoned = loaded.converter.convert([{**example, "visit": "2021-03-04T05:06:07+02:00"}])
    assert loaded.predict(zoned).predictions == loaded.predict_frame(zoned).predictions
    method, explained = explain(loaded, batch, fast)
    assert len(explained) == 4 and "visit" in explained[0]["contributions"]
    assert method == {"lgbm": "lightgbm_shap", "xgb": "xgboost_shap"}.get(algorithm, "linear")
