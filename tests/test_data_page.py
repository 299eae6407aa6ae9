"""The Datasets page through AppTest: empty state, samples, upload, profile, target, safety."""
from __future__ import annotations

import re
from pathlib import Path

from studio import datasets as ds
from tests.conftest import page_test

CASES = Path(__file__).resolve().parent / "fixtures" / "input_cases"
DATASET_KEY = "dataset_ref"  # pages._ui.Keys.DATASET
# A tag that markdown could act on: '<' not escaped by md_escape's backslash.
UNESCAPED_TAG = re.compile(r"(?<!\\)<\s*(script|img|b|a)\b", re.I)


def _texts(at) -> list[str]:
    """Every string the page rendered as markdown (where HTML or markdown could act)."""
    out = []
    for kind in ("markdown", "caption", "info", "warning", "error", "success", "title",
                 "header", "subheader"):
        out += [str(e.value) for e in getattr(at, kind)]
    out += [str(e.label) for e in at.expander] + [str(t.label) for t in at.tabs]
    out += [str(s.label) for s in at.status]
    return out


def _upload(at, name: str, data: bytes):
    at.file_uploader(key="upload").set_value((name, data, "text/csv")).run()
    at.button(key="do_import").click().run()
    assert not at.exception, at.exception
    return at


def test_empty_state_says_what_to_do_and_loads_a_sample_in_one_click(store):
    at = page_test("data").run()
    assert not at.exception
    assert any("No datasets yet" in i.value and "sample" in i.value for i in at.info)
    at.button(key="empty_customers_messy").click().run()
    assert not at.exception, at.exception
    assert at.session_state[DATASET_KEY] == "customers_messy:1"
    assert [t.label for t in at.tabs] == ["Overview", "Columns", "Preview", "Correlations",
                                          "Target", "History"]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Rows"] == "600" and metrics["Columns"] == "9"
    notes = [t.value for t in at.text]
    assert any("saved row index" in n for n in notes)


def test_upload_imports_profiles_and_selects_the_new_version(store):
    at = page_test("data").run()
    _upload(at, "fruit prices.csv", (CASES / "07_decimal_comma.csv").read_bytes())
    assert at.session_state[DATASET_KEY] == "fruit_prices:1"
    version = ds.resolve_version(store, "fruit_prices")
    assert version.profile_sha  # profiled once at import, stored
    assert {m.label: m.value for m in at.metric}["Rows"] == "3"
    assert any("decimal comma" in t.value for t in at.text)
    # A second upload under the same name makes version 2, shown in the picker.
    at.file_uploader(key="upload").set_value(None).run()
    _upload(at, "fruit prices.csv", (CASES / "07_decimal_comma.csv").read_bytes())
    assert at.session_state[DATASET_KEY] == "fruit_prices:2"
    assert len(ds.list_versions(store, "fruit_prices")) == 2


def test_a_refused_upload_shows_the_reason_and_stores_nothing(store):
    at = page_test("data").run()
    _upload(at, "<img src=x onerror=alert(1)>.csv", (CASES / "29_image_renamed.csv").read_bytes())
    assert any("not a text table" in e.value for e in at.error)
    assert ds.list_datasets(store) == []
    for text in _texts(at):
        assert not UNESCAPED_TAG.search(text), text


def test_html_and_script_from_a_file_are_never_rendered(store):
    at = page_test("data").run()
    _upload(at, "evil.csv", (CASES / "31_html_script.csv").read_bytes())
    at.selectbox(key="col_pick_1_").set_value('<script>alert("h")</script>').run()
    assert not at.exception
    for text in _texts(at):
        assert not UNESCAPED_TAG.search(text), text
    assert all(not m.allow_html for m in at.markdown)
    # The names are still there, as text, in the tables.
    frames = [df.value for df in at.dataframe]
    assert any('<script>alert("h")</script>' in df.to_string() for df in frames)


def test_target_tab_runs_the_checks(store):
    at = page_test("data").run()
    at.button(key="empty_breast_cancer").click().run()
    at.selectbox(key="target_breast_cancer:1").set_value("diagnosis").run()
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Task"] == "binary"
    assert metrics["Rows without a target"] == "0"


def test_wide_files_get_a_paged_column_list(store):
    ds.import_file(store, CASES / "33_wide_2000_columns.csv", name="wide", profile=True)
    at = page_test("data").run()
    assert not at.exception, at.exception
    pager = at.number_input(key="col_page_40")
    assert pager.max == 40  # 2000 columns, 50 a page
    pager.set_value(3).run()
    assert not at.exception
    table = at.dataframe[1].value if len(at.dataframe) > 1 else None
    assert table is not None
    assert any(list(df.value.get("column", []))[:1] == ["f100"] for df in at.dataframe)


def test_history_shows_lineage_with_the_recipe(store):
    root = ds.import_file(store, CASES / "04_semicolon.csv", name="people").version
    ds.save_version(store, name="people", frame=ds.load_frame(store, root).head(2), parent=root,
                    recipe=[{"op": "head", "n": 2}], note="first two")
    at = page_test("data").run()
    assert not at.exception, at.exception
    assert at.session_state[DATASET_KEY] == "people:2"
    lineage = next(df.value for df in at.dataframe if "made from" in df.value.columns)
    assert lineage["version"].tolist() == ["people:1", "people:2"]
    assert lineage["made from"].tolist() == ["", "people:1"]
    assert "head" in lineage["recipe"].iloc[1]


def test_a_dataset_chosen_elsewhere_is_preselected(store):
    ds.import_file(store, CASES / "04_semicolon.csv", name="one")
    ds.import_file(store, CASES / "01_utf8_bom.csv", name="two")
    at = page_test("data")
    at.session_state[DATASET_KEY] = "one:1"
    at.run()
    assert not at.exception
    assert at.selectbox(key="data_pick").value == "one"


def test_a_slow_import_runs_off_the_script_thread_and_survives_reruns(store, monkeypatch):
    import threading

    release = threading.Event()
    real = ds.import_bytes

    def slow(*args, **kwargs):
        release.wait(20)
        return real(*args, **kwargs)

    monkeypatch.setattr(ds, "import_bytes", slow)
    at = page_test("data").run()
    _upload(at, "people.csv", (CASES / "04_semicolon.csv").read_bytes())
    assert [s.label for s in at.status] == ["Importing people\\.csv"]  # still running
    assert ds.list_datasets(store) == []
    at.run()  # a rerun (any click) while it runs does not stop it
    assert "import_task" in at.session_state
    release.set()
    at.run()
    assert not at.exception, at.exception
    assert at.session_state[DATASET_KEY] == "people:1"
    assert "import_task" not in at.session_state
