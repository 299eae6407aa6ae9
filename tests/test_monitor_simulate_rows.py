"""What simulate sends: rows like the training data (from the dataset version, or drawn
from the baseline), and a drifted column that really moved."""
from __future__ import annotations

import numpy as np
import pytest

from studio.errors import InvalidInput
from studio.monitor.check import _model_and_baseline
from studio.monitor.drift import feature_drift
from studio.monitor.simulate import _rows_from_dataset, apply_drift, rows_from_baseline
from tests.monitor_support import register_monitored_model


def _drift_of(baseline, rows):
    return {name: feature_drift(name, baseline["features"][name], [r.get(name) for r in rows])
            for name in baseline["features"]}


def test_rows_from_the_baseline_look_like_training_and_drift_where_asked(store):
    register_monitored_model(store, n=1500)
    _version, baseline, _ = _model_and_baseline(store, "churn")
    rng = np.random.default_rng(0)
    rows = rows_from_baseline(baseline, 2000, rng)
    assert set(rows[0]) == {c["name"] for c in baseline["columns"]}
    assert {type(r["member"]) for r in rows if r["member"] is not None} == {bool}
    assert {r["cat_0"] for r in rows} <= {"red", "green", "blue", None}
    clean = _drift_of(baseline, rows)
    assert all(d["status"] == "ok" for d in clean.values()), \
        {k: d["reasons"] for k, d in clean.items() if d["status"] != "ok"}

    before = np.nanmean([r["num_2"] if r["num_2"] is not None else np.nan for r in rows])
    apply_drift(rows, "num_2", baseline["features"]["num_2"], rng)
    after = np.nanmean([r["num_2"] if r["num_2"] is not None else np.nan for r in rows])
    assert after - before == pytest.approx(1.5 * baseline["features"]["num_2"]["std"], rel=1e-6)
    apply_drift(rows, "cat_1", baseline["features"]["cat_1"], rng)
    drifted = _drift_of(baseline, rows)
    assert drifted["num_2"]["status"] == drifted["cat_1"]["status"] == "alert"
    assert drifted["cat_1"]["new_categories"] == ["new_cat_1"]
    assert drifted["num_0"]["status"] == "ok"
    with pytest.raises(InvalidInput):
        apply_drift(rows, "when", {"kind": "datetime"}, rng)


def test_rows_from_the_training_dataset_carry_the_true_target(store):
    version, _pipeline, frame = register_monitored_model(store, n=600, with_dataset=True)
    _version, baseline, _ = _model_and_baseline(store, "churn")
    rows, actuals = _rows_from_dataset(store, version, baseline, 50,
                                       np.random.default_rng(1))
    assert len(rows) == len(actuals) == 50
    training = {tuple(sorted(r.items())) for r in frame.drop(columns=["target"])
                .astype(object).where(frame.notna(), None).to_dict("records")}
    assert sum(tuple(sorted(r.items())) in training for r in rows) == 50
    assert set(actuals) <= {0, 1}
    no_dataset, _p, _f = register_monitored_model(store, name="other", endpoint="other", n=300)
    assert _rows_from_dataset(store, no_dataset, baseline, 5, np.random.default_rng(1)) is None
