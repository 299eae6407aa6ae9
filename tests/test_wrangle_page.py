"""The Wrangle page through AppTest: build a recipe, preview, reorder, apply, download."""
from __future__ import annotations

import json

import pandas as pd

from studio import datasets
from tests.conftest import page_test

DATASET = "dataset_ref"   # pages._ui.Keys.DATASET
RECIPE = "recipe_steps"   # pages._ui.Keys.RECIPE


def texts(at) -> list[str]:
    """Every string rendered where markdown could act."""
    out = []
    for kind in ("markdown", "caption", "info", "warning", "error", "success", "subheader"):
        out += [str(e.value) for e in getattr(at, kind)]
    return out


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def imported(store, tmp_path, name="people"):
    source = tmp_path / f"{name}.csv"
    source.write_text("age,city,fare,y\n22,Paris,7.25,1\n,Rome,71.3,0\n35,Paris,,1\n"
                      "58,Oslo,8.05,0\n,Paris,53.1,0\n41,Rome,8.46,1\n")
    return datasets.import_file(store, source, name=name).version


def open_page(ref=None):
    at = page_test("wrangle")
    if ref:
        at.session_state[DATASET] = ref
    at.run()
    assert not at.exception, at.exception
    return at


def add_step(at, kind, fill):
    at.selectbox(key="wrangle_kind").set_value(kind).run()
    for key, value in fill.items():
        at.get_by_key(f"wr_{kind}_{key}").set_value(value)
    at.run()
    assert not at.exception, at.exception
    return at


def test_empty_studio_says_what_to_do(store):
    at = open_page()
    assert any("No datasets yet" in i.value for i in at.info)
    assert at.page_link[0].proto.page.endswith("data.py") or "Datasets" in at.page_link[0].label


def test_build_preview_reorder_apply(store, tmp_path):
    root = imported(store, tmp_path)
    at = open_page("people:1")
    assert "Starts from people:1: 6 rows × 4 columns." in texts(at)
    assert any("No steps yet" in i.value for i in at.info)

    add_step(at, "impute", {"columns": ["age"]})
    assert metrics(at) == {"Rows": "6", "Columns": "4", "Rows changed": "2"}
    assert "missing values filled — age: 2" in texts(at)
    assert at.dataframe[0].value["age"].isna().all()        # before: the missing ages
    assert at.dataframe[1].value["age"].tolist() == [38.0, 38.0]  # after: the median
    at.button(key="wrangle_add").click().run()

    add_step(at, "filter_rows", {"col0": "fare", "op0": ">", "value0": "8"})
    assert metrics(at)["Rows removed"] == "2" and metrics(at)["Rows"] == "4"
    at.button(key="wrangle_add").click().run()

    add_step(at, "formula", {"column": "fare_per_age", "expression": "fare / age"})
    assert metrics(at)["Columns"] == "5"
    at.button(key="wrangle_add").click().run()
    assert [s["kind"] for s in at.session_state[RECIPE]] == ["impute", "filter_rows", "formula"]
    assert "Result: 4 rows × 5 columns." in texts(at)

    at.button(key="wr_up_2").click().run()        # formula before the filter
    at.button(key="wr_down_0").click().run()      # impute after the formula
    assert [s["kind"] for s in at.session_state[RECIPE]] == ["formula", "impute",
                                                             "filter_rows"]
    at.button(key="wr_remove_2").click().run()    # drop the filter
    assert [s["kind"] for s in at.session_state[RECIPE]] == ["formula", "impute"]
    assert not at.exception, at.exception
    assert {d.label for d in at.download_button} >= {"Recipe (JSON)",
                                                      "Python script (this version + "
                                                      "pending steps)"}

    at.text_input(key="wrangle_note").set_value("ratio, then ages")
    at.button(key="wrangle_apply").click().run()
    assert not at.exception, at.exception
    made = datasets.resolve_version(store, "people")
    assert made.ref == "people:2" and made.parent_id == root.id
    assert [s["kind"] for s in made.recipe] == ["formula", "impute"]
    assert made.recipe[1]["fill"] == {"age": 38.0} and made.note == "ratio, then ages"
    assert at.session_state[DATASET] == "people:2" and at.session_state[RECIPE] == []
    assert at.selectbox(key="wrangle_version_people").value == 2
    assert any("Saved the new version people:2" in s.value for s in at.success)
    assert any("Made from people:1 by a recipe of 2 step" in t for t in texts(at))
    assert any("people:2" in link.label for link in at.page_link)


def test_a_step_broken_by_reordering_blocks_apply(store, tmp_path):
    imported(store, tmp_path)
    at = open_page("people:1")
    add_step(at, "formula", {"column": "double", "expression": "fare * 2"})
    at.button(key="wrangle_add").click().run()
    add_step(at, "drop_columns", {"columns": ["fare"]})
    at.button(key="wrangle_add").click().run()
    at.button(key="wr_up_1").click().run()  # drop fare before the formula needs it
    assert not at.exception, at.exception
    assert any("column 'fare' is not in the data" in e.value for e in at.error)
    assert at.button(key="wrangle_apply").disabled
    assert any("Fix or remove the failing step" in c for c in texts(at))
    assert len(datasets.list_versions(store, "people")) == 1


def test_code_in_a_formula_is_refused_on_the_page(store, tmp_path, monkeypatch):
    imported(store, tmp_path)
    monkeypatch.chdir(tmp_path)
    at = open_page("people:1")
    add_step(at, "formula", {"column": "x", "expression": "__import__('os').system('touch X')"})
    assert any("cannot use attribute access" in e.value for e in at.error)
    assert not (tmp_path / "X").exists()
    assert not [b for b in at.button if b.key == "wrangle_add"]


def test_strings_from_data_are_shown_as_text(store):
    frame = pd.DataFrame({"<img src=x onerror=alert(1)>": [1.0, None, 3.0],
                          "**bold**": ["[link](javascript:alert(1))", "a", "b"]})
    datasets.save_version(store, name="tricky", frame=frame)
    at = open_page("tricky:1")
    add_step(at, "impute", {"columns": ["<img src=x onerror=alert(1)>"]})
    at.button(key="wrangle_add").click().run()
    assert not at.exception, at.exception
    rendered = "\n".join(texts(at))
    assert "<img" not in rendered.replace("\\<img", "")
    assert "**bold**" not in rendered and "](javascript" not in rendered
    assert "\\<img src=x onerror=alert\\(1\\)\\>" in rendered  # escaped, still readable
    assert any("No script" in t for t in texts(at))  # saved without an uploaded file


def test_a_recipe_json_can_be_loaded(store, tmp_path):
    imported(store, tmp_path)
    at = open_page("people:1")
    recipe = [{"kind": "drop_columns", "columns": ["y"]},
              {"kind": "scale", "columns": ["fare"], "method": "minmax"}]
    at.file_uploader(key="wrangle_upload").set_value(
        ("recipe.json", json.dumps(recipe).encode(), "application/json")).run()
    at.button(key="wrangle_load").click().run()
    assert not at.exception, at.exception
    assert [s["kind"] for s in at.session_state[RECIPE]] == ["drop_columns", "scale"]
    assert "Result: 6 rows × 3 columns." in texts(at)
    at.file_uploader(key="wrangle_upload").set_value(
        ("bad.json", b'[{"kind": "explode"}]', "application/json")).run()
    at.button(key="wrangle_load").click().run()
    assert any("unknown step kind 'explode'" in e.value for e in at.error)
    assert [s["kind"] for s in at.session_state[RECIPE]] == ["drop_columns", "scale"]


def test_pending_steps_stay_with_their_dataset(store, tmp_path):
    imported(store, tmp_path, "people")
    imported(store, tmp_path, "others")
    at = open_page("people:1")
    add_step(at, "drop_columns", {"columns": ["y"]})
    at.button(key="wrangle_add").click().run()
    assert at.multiselect(key="wr_drop_columns_columns").value == []  # a fresh form
    at.selectbox(key="wrangle_dataset").set_value("others").run()
    assert at.session_state[RECIPE] == [] and at.session_state[DATASET] == "others:1"
    at.selectbox(key="wrangle_dataset").set_value("people").run()
    assert [s["kind"] for s in at.session_state[RECIPE]] == ["drop_columns"]
    assert at.selectbox(key="wrangle_version_people").format_func(1) == "1 · imported"
