"""The compiled fast path answers exactly what the pipeline answers (property-based), and
explanations add up; pipelines it cannot reproduce fall back to the pipeline."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from studio.service.explain import explain
from studio.service.inputs import Converter, InputProblem, records_from_csv, records_from_json
from studio.service.model import LoadedModel
from tests.model_factory import build_pipeline, make_card, make_frame


class _Version:
    """Just what LoadedModel reads from a registry row."""

    def __init__(self, card, task):
        self.id, self.ref, self.card, self.task = 1, "m:1", card, task


def _loaded(task="binary", algorithm="xgboost", string_classes=False, **kwargs):
    frame = make_frame(150, task=task, seed=1, string_classes=string_classes)
    pipeline = build_pipeline(frame, task=task, algorithm=algorithm, **kwargs)
    card = make_card(frame, pipeline, task=task, algorithm=algorithm)
    return LoadedModel(_Version(card, task), pipeline)


MODELS = {
    "xgb-binary": dict(task="binary", algorithm="xgboost"),
    "xgb-binary-sparse": dict(task="binary", algorithm="xgboost", sparse_threshold=1.0),
    "lr-multiclass": dict(task="multiclass", algorithm="logistic", string_classes=True),
    "xgb-multiclass": dict(task="multiclass", algorithm="xgboost"),
    "ridge": dict(task="regression", algorithm="ridge"),
    "forest": dict(task="binary", algorithm="forest", string_classes=True),
}
_cache: dict = {}


def model(name):
    if name not in _cache:
        _cache[name] = _loaded(**MODELS[name])
    return _cache[name]


numbers = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True, width=32),
                    st.integers(-1000, 1000), st.sampled_from(["", "NA", "3.5", " 7 ", "-1e3", "inf"]))
categories = st.one_of(st.none(), st.sampled_from(["red", "green", "blue", "a", "b", "zzz", "", "NA"]),
                       st.integers(0, 3))
booleans = st.one_of(st.none(), st.booleans(), st.sampled_from(["yes", "no", "true", 0, 1]))
record = st.fixed_dictionaries({
    "num_0": numbers, "num_1": numbers, "num_2": numbers, "num_3": numbers,
    "cat_0": categories, "cat_1": categories, "member": booleans,
})


@pytest.mark.parametrize("name", list(MODELS))
def test_fast_path_is_used_and_equals_the_pipeline(name):
    m = model(name)
    assert m.fast, m.fast_reason

    @given(rows=st.lists(record, min_size=1, max_size=6))
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck),
              database=None)
    def check(rows):
        batch = m.converter.convert(rows)
        fast, slow = m.predict(batch), m.predict_frame(batch)
        assert fast.path == "fast"
        assert fast.predictions == slow.predictions
        if slow.probabilities is not None:
            assert np.array_equal(fast.probabilities, slow.probabilities)

    check()


def test_explanations_add_up_to_the_models_output():
    m = model("xgb-multiclass")
    rows = [{"num_0": 1, "num_1": None, "num_2": 2.5, "num_3": 0, "cat_0": "red", "cat_1": "q",
             "member": True}, {"num_0": -3, "num_1": 2, "num_2": -1, "num_3": 4, "cat_0": None,
                              "cat_1": "a", "member": False}]
    batch = m.converter.convert(rows)
    pred = m.predict(batch)
    method, explanations = explain(m, batch, pred)
    assert method == "xgboost_shap"
    margins = m.tail.get_booster().predict(
        __import__("xgboost").DMatrix(m.matrix(batch)), output_margin=True)
    for i, row in enumerate(explanations):
        k = m.classes.index(row["class"])
        assert row["class"] == pred.predictions[i]  # multiclass: toward the predicted class
        assert abs(row["base"] + sum(row["contributions"].values()) - margins[i][k]) < 1e-4
    forest = model("forest")
    batch = forest.converter.convert(rows)
    method, explanations = explain(forest, batch, forest.predict(batch))
    assert method == "occlusion" and set(explanations[0]["contributions"]) == set(rows[0])


def test_pipelines_the_fast_path_cannot_reproduce_fall_back():
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import KBinsDiscretizer, OneHotEncoder

    frame = make_frame(120, seed=2, missing=0)
    X, y = frame.drop(columns=["target"]), frame["target"]
    pipeline = Pipeline([
        ("prep", ColumnTransformer([("bins", KBinsDiscretizer(n_bins=3), ["num_0", "num_2"]),
                                    ("cat", OneHotEncoder(handle_unknown="error"), ["cat_0"])])),
        ("model", LogisticRegression())]).fit(X, y)
    card = make_card(frame, pipeline, algorithm="logistic")
    m = LoadedModel(_Version(card, "binary"), pipeline)
    assert not m.fast and "KBinsDiscretizer" in m.fast_reason
    batch = m.converter.convert([card["example"]])
    assert m.predict(batch).path == "pipeline"


def test_strict_encoder_unknown_category_takes_the_pipeline_and_its_error():
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame = make_frame(120, seed=2, missing=0)
    X, y = frame.drop(columns=["target"]), frame["target"]
    pipeline = Pipeline([
        ("prep", ColumnTransformer([("num", StandardScaler(), ["num_0"]),
                                    ("cat", OneHotEncoder(handle_unknown="error"), ["cat_0"])])),
        ("model", LogisticRegression())]).fit(X, y)
    m = LoadedModel(_Version(make_card(frame, pipeline, algorithm="logistic"), "binary"), pipeline)
    example = dict(make_card(frame, pipeline)["example"])
    assert m.predict(m.converter.convert([example])).path in ("fast", "pipeline")
    with pytest.raises(ValueError):
        m.predict(m.converter.convert([{**example, "cat_0": "purple"}]))


def test_converter_rules():
    conv = Converter([{"name": "n", "dtype": "int64"}, {"name": "c", "dtype": "str"},
                      {"name": "b", "dtype": "bool"}, {"name": "d", "dtype": "datetime64[ns]",
                                                       "semantic": "datetime"}])
    batch = conv.convert([{"n": "12", "c": 1.0, "b": "yes", "d": "2024-01-02"},
                          {"n": None, "c": "NA", "b": None, "d": None}])
    assert batch.columns["n"].tolist()[0] == 12.0 and np.isnan(batch.columns["n"][1])
    assert batch.columns["c"] == ["1", None] and batch.columns["b"] == [True, None]
    frame = conv.frame(batch)
    assert str(frame["c"].dtype) == "str" and pd.isna(frame["c"][1])
    with pytest.raises(InputProblem) as err:
        conv.convert([{"n": "1,5", "c": [1], "b": "maybe", "d": "not a date"}])
    assert {d["column"] for d in err.value.details} == {"n", "c", "b", "d"}
    assert records_from_json({"inputs": {"n": [1, 2], "c": ["a", "b"]}}, conv.names)[1] == \
        {"n": 2, "c": "b"}
    assert records_from_csv(b"\xef\xbb\xbfn,c,b,d\r\n1,a,true,2024-01-01\r\n", conv.names) == \
        [{"n": "1", "c": "a", "b": "true", "d": "2024-01-01"}]


def _automl_style(family: str):
    """A pipeline shaped like the AutoML engine's (studio.automl.preprocess + EncodedClassifier)."""
    import xgboost as xgb
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    from studio.automl.preprocess import build_preprocessor, column_kinds
    from studio.automl.transformers import EncodedClassifier

    frame = make_frame(400, seed=3, string_classes=True)
    rng = np.random.default_rng(0)
    frame["zip"] = pd.Series([f"z{v}" for v in rng.integers(0, 60, len(frame))], dtype="str")
    frame.loc[frame.index[:5], "cat_1"] = "rare"  # below OneHotEncoder's min_frequency
    frame.loc[frame.index[5:7], "cat_1"] = "rarer"
    X, y = frame.drop(columns=["target"]), frame["target"]
    kinds = column_kinds(X, list(X.columns), {})
    assert kinds["zip"] == "many" and kinds["member"] == "cat"
    if family == "gbm":
        import lightgbm as lgb

        from studio.automl.preprocess import n_ordinal

        inner = lgb.LGBMClassifier(n_estimators=15, num_leaves=7, min_child_samples=5, n_jobs=1,
                                   verbose=-1, categorical_feature=list(range(n_ordinal(kinds, family))))
    else:
        inner = (xgb.XGBClassifier(n_estimators=15, max_depth=3, n_jobs=1) if family == "tree"
                 else LogisticRegression(max_iter=300))
    pipeline = Pipeline([("prep", build_preprocessor(kinds, family, "binary")),
                         ("model", EncodedClassifier(inner, classes=[0, 1]))])
    pipeline.fit(X, (y == "yes").astype(int))
    pipeline[-1].classes_ = np.array(["no", "yes"], dtype=object)  # as the engine does
    card = make_card(frame, pipeline, algorithm={"tree": "xgboost", "gbm": "lightgbm"}.get(
        family, "logistic"))
    return LoadedModel(_Version(card, "binary"), pipeline)


@pytest.mark.parametrize("family", ["tree", "linear", "gbm"])
def test_automl_shaped_pipelines_take_the_fast_path_with_identical_answers(family):
    m = _automl_style(family)
    assert m.fast, m.fast_reason
    zips = st.one_of(st.none(), st.sampled_from(["z1", "z59", "z999", "", 7]))
    rows_strategy = st.lists(st.builds(lambda r, z: {**r, "zip": z}, record, zips),
                             min_size=1, max_size=5)

    @given(rows=rows_strategy)
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck),
              database=None)
    def check(rows):
        batch = m.converter.convert(rows)
        fast, slow = m.predict(batch), m.predict_frame(batch)
        assert fast.path == "fast" and fast.predictions == slow.predictions
        assert np.array_equal(fast.probabilities, slow.probabilities)
        assert set(fast.predictions) <= {"no", "yes"}

    check()
    batch = m.converter.convert([{**m.card["example"]}])
    method, rows = explain(m, batch, m.predict(batch))
    assert method == {"tree": "xgboost_shap", "gbm": "lightgbm_shap"}.get(family, "linear")
    assert set(rows[0]["contributions"]) == set(m.converter.names)
    if family == "gbm":  # SHAP values add up to the model's log-odds
        margin = m.tail.estimator_.predict(m.matrix(batch), raw_score=True)[0]
        assert abs(rows[0]["base"] + sum(rows[0]["contributions"].values()) - margin) < 1e-6


def test_ensembles_of_automl_members_take_the_fast_path():
    import xgboost as xgb
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    from studio.automl.preprocess import build_preprocessor, column_kinds
    from studio.automl.transformers import EncodedClassifier, EnsembleClassifier

    frame = make_frame(300, seed=4, string_classes=True)
    X, y = frame.drop(columns=["target"]), frame["target"]
    kinds = column_kinds(X, list(X.columns), {})
    members = [
        Pipeline([("prep", build_preprocessor(kinds, "tree", "binary")),
                  ("model", EncodedClassifier(xgb.XGBClassifier(n_estimators=10, n_jobs=1),
                                              classes=[0, 1]))]),
        Pipeline([("prep", build_preprocessor(kinds, "linear", "binary")),
                  ("model", EncodedClassifier(LogisticRegression(max_iter=300), classes=[0, 1]))]),
    ]
    pipeline = Pipeline([("model", EnsembleClassifier(members=members, weights=[3, 1],
                                                      task="binary", classes=[0, 1]))])
    pipeline.fit(X, (y == "yes").astype(int))
    labels = np.array(["no", "yes"], dtype=object)
    pipeline[-1].classes_ = labels  # as the engine does after fitting
    for member in pipeline[-1].members_:
        member.steps[-1][1].classes_ = labels
    m = LoadedModel(_Version(make_card(frame, pipeline, algorithm="ensemble"), "binary"), pipeline)
    assert m.fast, m.fast_reason

    @given(rows=st.lists(record, min_size=1, max_size=5))
    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck),
              database=None)
    def check(rows):
        batch = m.converter.convert(rows)
        fast, slow = m.predict(batch), m.predict_frame(batch)
        assert fast.path == "fast" and fast.predictions == slow.predictions
        assert np.array_equal(fast.probabilities, slow.probabilities)

    check()
    batch = m.converter.convert(sample_rows := [dict(m.card["example"])] * 3)
    assert len(sample_rows) == 3
    from studio.service.app import _predict_group

    group = [(m, m.matrix(batch), None), (m, m.matrix(m.converter.convert(sample_rows[:1])), None)]
    joined = _predict_group(m, group)  # micro-batched: one call for both requests
    assert joined[0].predictions == m.predict(batch).predictions and len(joined[1].predictions) == 1
    method, _ = explain(m, batch, m.predict(batch))
    assert method == "occlusion"


def test_dates_reach_only_date_steps_on_the_fast_path():
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import Pipeline

    from studio.automl.transformers import DateParts, ToNumeric
    from studio.service.compiled import NotCompilable, compile_pipeline

    frame = pd.DataFrame({"when": pd.date_range("2024-01-01", periods=40, freq="13h"),
                          "size": np.arange(40.0)})
    y = np.arange(40.0)
    good = Pipeline([("prep", ColumnTransformer([("date", DateParts(), ["when"]),
                                                  ("num", ToNumeric(), ["size"])])),
                     ("model", Ridge())]).fit(frame, y)
    compiled, _ = compile_pipeline(good, {"when": "datetime", "size": "number"})
    assert compiled.sources[:2] == ["when", "when"]  # parts map back to their column
    from sklearn.dummy import DummyRegressor

    bad = Pipeline([("prep", ColumnTransformer([("num", ToNumeric(), ["when", "size"])])),
                    ("model", DummyRegressor())]).fit(frame.astype({"when": "int64"}), y)
    with pytest.raises(NotCompilable, match="dates without a date step"):
        compile_pipeline(bad, {"when": "datetime", "size": "number"})
