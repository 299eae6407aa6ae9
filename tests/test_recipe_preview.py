"""Step previews: shapes, affected counts and example rows before/after."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from studio.errors import InvalidInput
from studio.recipes import preview_step
from studio.recipes.preview import changed_mask


@pytest.fixture
def frame():
    return pd.DataFrame({
        "age": [22.0, np.nan, 35.0, np.nan, 41.0, 19.0, 60.0],
        "city": ["a", "b", "a", "c", "a", None, "b"],
        "total": ["1", "2", " ", "4", "x", "6", "7"],
    }, index=range(10, 17))


def test_rowwise_preview_counts_changed_rows_and_shows_them(frame):
    p = preview_step(frame, {"kind": "impute", "columns": ["age"], "strategy": "median"})
    assert p.before_shape == (7, 3) and p.after_shape == (7, 3)
    assert p.affected == 2 and p.affected_label == "rows changed"
    assert list(p.before.index) == [11, 13] and p.before["age"].isna().all()
    assert p.after["age"].tolist() == [35.0, 35.0]
    assert p.step.fill == {"age": 35.0}  # the fitted step comes back with the preview
    assert "2 rows changed" in p.summary()
    assert p.notes == ["missing values filled — age: 2"]


def test_type_change_preview_counts_failures(frame):
    p = preview_step(frame, {"kind": "change_type", "columns": ["total"], "to": "number"})
    assert p.affected == 7  # text → numbers changes every value's kind
    assert any("2 value(s) in 'total' did not convert" in n for n in p.notes)


def test_new_columns_and_renames_are_listed(frame):
    p = preview_step(frame, {"kind": "formula", "column": "double", "expression": "age * 2"})
    assert p.added == ["double"] and p.after_shape == (7, 4) and p.affected == 7
    assert list(p.after.columns) == ["age", "double"]
    p = preview_step(frame, {"kind": "rename_columns", "mapping": {"city": "town"}})
    assert p.renamed == {"city": "town"} and p.added == [] and p.removed == []
    assert p.affected == 0 and list(p.after.columns) == ["town"]
    p = preview_step(frame, {"kind": "drop_columns", "columns": ["total"]})
    assert p.removed == ["total"] and p.after_shape == (7, 2)


def test_dataset_level_preview_shows_removed_rows(frame):
    p = preview_step(frame, {"kind": "filter_rows",
                             "conditions": [{"column": "age", "op": ">=", "value": "30"}]})
    assert p.affected == 4 and p.affected_label == "rows removed"
    assert p.after_shape == (3, 3)
    assert list(p.before.index) == [10, 11, 13, 15] and p.after.empty
    assert p.before.columns[0] == "age"
    p = preview_step(frame, {"kind": "filter_rows",
                             "conditions": [{"column": "age", "op": ">", "value": "100"}]})
    assert p.after_shape[0] == 0 and "removes every row" in p.notes[-1]


def test_examples_are_limited(frame):
    p = preview_step(frame, {"kind": "scale", "columns": ["age"]}, examples=3)
    assert len(p.before) == 3 and len(p.after) == 3 and p.affected == 5


def test_preview_of_a_bad_step_raises_for_the_page(frame):
    with pytest.raises(InvalidInput, match="needs numbers"):
        preview_step(frame, {"kind": "scale", "columns": ["city"]})


def test_changed_mask_treats_equal_numbers_and_missing_as_unchanged():
    before = pd.Series([1, 2, None, 4], dtype="Int64")
    after = pd.Series([1.0, 2.5, np.nan, 4.0])
    assert changed_mask(before, after).tolist() == [False, True, False, False]
    assert changed_mask(pd.Series(["1", "a"]), pd.Series([1.0, np.nan])).tolist() == [True, True]
    assert changed_mask(pd.Series(["a", None]), pd.Series(["A", None])).tolist() == [True, False]
