"""Applying a recipe to a stored version: lineage, the recorded recipe, nothing half-made."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from studio import datasets
from studio.errors import InvalidInput, NotFound
from studio.recipes import apply_recipe, recipe_chain, replay, steps_from_json


@pytest.fixture
def root(store):
    frame = pd.DataFrame({
        "age": [22.0, np.nan, 35.0, 58.0, np.nan, 41.0],
        "city": ["Paris", "Rome", "Paris", None, "Oslo", "Rome"],
        "y": [1, 0, 1, 0, 0, 1],
    })
    return datasets.save_version(store, name="people", frame=frame)


def count_versions(store):
    return sum(len(datasets.list_versions(store, d.name)) for d in datasets.list_datasets(store))


def test_apply_records_parent_fitted_recipe_and_keeps_the_row_index(store, root):
    made = apply_recipe(store, root, [
        {"kind": "impute", "columns": ["age"], "strategy": "mean"},
        {"kind": "filter_rows", "conditions": [{"column": "city", "op": "is not missing"}]},
    ], note="clean ages")
    assert made.ref == "people:2" and made.parent_id == root.id
    assert made.note == "clean ages" and (made.rows, made.cols) == (5, 3)
    assert [s["kind"] for s in made.recipe] == ["impute", "filter_rows"]
    assert made.recipe[0]["fill"] == {"age": 39.0}  # the learned value is stored
    frame = datasets.load_frame(store, made)
    assert list(frame.index) == [0, 1, 2, 4, 5]  # root row numbers survive Parquet
    parent = datasets.load_frame(store, root)
    pd.testing.assert_frame_equal(replay(parent, made.recipe), frame)  # replay is exact
    assert {c["name"] for c in made.schema_} == {"age", "city", "y"}


def test_lineage_through_two_recipes(store, root):
    v2 = apply_recipe(store, "people", [{"kind": "drop_columns", "columns": ["y"]}])
    v3 = apply_recipe(store, v2, [{"kind": "group_rare", "columns": ["city"],
                                   "min_count": 2}])
    chain = datasets.lineage(store, v3)
    assert [v.ref for v in chain] == ["people:1", "people:2", "people:3"]
    first, steps = recipe_chain(store, v3)
    assert first.id == root.id
    assert [[s.kind for s in recipe] for _v, recipe in steps] == [["drop_columns"],
                                                                   ["group_rare"]]
    assert "1 step on people:2" in v3.note  # a default note says what was done


@pytest.mark.parametrize("steps, says", [
    ([], "no steps"),
    ([{"kind": "scale", "columns": ["city"]}], "step 1.*needs numbers"),
    ([{"kind": "drop_columns", "columns": ["age", "city", "y"]}], "removes every column"),
    ([{"kind": "filter_rows", "conditions": [{"column": "age", "op": ">", "value": 1000}]}],
     "removes all 6 rows"),
    ([{"kind": "teleport"}], "unknown step kind"),
    ([{"kind": "formula", "column": "x", "expression": "__import__('os')"}], "not an allowed"),
    ("not json", "not valid JSON"),
])
def test_bad_recipes_store_nothing(store, root, steps, says):
    before = count_versions(store)
    files = sorted(p.name for p in store.artifacts.root.rglob("*") if p.is_file())
    with pytest.raises(InvalidInput, match=says):
        apply_recipe(store, root, steps)
    assert count_versions(store) == before
    assert sorted(p.name for p in store.artifacts.root.rglob("*") if p.is_file()) == files


def test_unknown_version_is_not_found(store, root):
    with pytest.raises(NotFound, match="no version 9"):
        apply_recipe(store, "people:9", [{"kind": "drop_columns", "columns": ["y"]}])


def test_recipe_json_loaded_from_text_is_applied(store, root):
    text = '[{"kind": "clean_text", "columns": ["city"], "lower": true}]'
    made = apply_recipe(store, root, steps_from_json(text))
    assert datasets.load_frame(store, made)["city"].tolist()[0] == "paris"
