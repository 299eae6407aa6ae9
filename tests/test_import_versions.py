"""Dataset versions: save, load, resolve, lineage, stored profiles, kept source files."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from studio import datasets as ds
from studio.errors import IntegrityError, InvalidInput, NotFound

CASES = Path(__file__).resolve().parent / "fixtures" / "input_cases"


def _frame(n=50):
    rng = np.random.default_rng(0)
    return pd.DataFrame({"x": rng.normal(size=n), "k": rng.choice(["a", "b"], n),
                         "y": rng.integers(0, 2, n)})


def test_save_and_load_keep_values_schema_and_a_subset_index(store):
    root = ds.save_version(store, name="demo", frame=_frame())
    assert (root.ref, root.rows, root.cols) == ("demo:1", 50, 3)
    assert [c["semantic"] for c in root.schema_] == ["numeric", "categorical", "boolean"]
    frame = ds.load_frame(store, root)
    pd.testing.assert_frame_equal(frame, _frame())
    # A wrangled child keeps the root's row labels, so rows map back to the file.
    child_frame = frame[frame["k"] == "a"].iloc[::2]
    child = ds.save_version(store, name="demo", frame=child_frame, parent=root,
                            recipe=[{"op": "filter", "column": "k"}], note="only a")
    loaded = ds.load_frame(store, child)
    assert loaded.index.tolist() == child_frame.index.tolist()
    assert child.parent_id == root.id and child.recipe == [{"op": "filter", "column": "k"}]
    assert [v.ref for v in ds.lineage(store, child)] == ["demo:1", "demo:2"]


def test_resolve_latest_or_a_version_and_helpful_not_found(store):
    ds.save_version(store, name="demo", frame=_frame())
    ds.save_version(store, name="demo", frame=_frame(10))
    assert ds.resolve_version(store, "demo").version == 2
    assert ds.resolve_version(store, "demo:1").rows == 50
    with pytest.raises(NotFound, match=r"has no version 7 \(it has versions 1, 2\)"):
        ds.resolve_version(store, "demo:7")
    with pytest.raises(NotFound, match="known datasets: demo"):
        ds.resolve_version(store, "other")
    with pytest.raises(InvalidInput):
        ds.resolve_version(store, "demo:x")
    assert ds.get_version_by_id(store, 1).ref == "demo:1"
    with pytest.raises(NotFound):
        ds.get_version_by_id(store, 99)


def test_not_found_in_an_empty_store_says_how_to_add_data(store):
    with pytest.raises(NotFound, match="python -m studio import"):
        ds.resolve_version(store, "anything")


def test_list_datasets_and_versions(store):
    ds.save_version(store, name="a", frame=_frame())
    ds.save_version(store, name="b", frame=_frame())
    ds.save_version(store, name="a", frame=_frame())
    assert {d.name: d.versions for d in ds.list_datasets(store)} == {"a": 2, "b": 1}
    assert [v.version for v in ds.list_versions(store, "a")] == [2, 1]


def test_an_altered_parquet_file_is_refused(store):
    version = ds.save_version(store, name="demo", frame=_frame())
    path = store.artifacts.root / version.data_sha[:2] / version.data_sha
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="does not match its recorded sha256"):
        ds.load_frame(store, version)


def test_invalid_names_are_refused(store):
    with pytest.raises(InvalidInput, match="not valid"):
        ds.save_version(store, name="bad name!", frame=_frame())


def test_mixed_object_columns_are_stored_as_text(store):
    frame = pd.DataFrame({"m": pd.Series([1, "two", 3.5, None], dtype=object)})
    version = ds.save_version(store, name="mixed", frame=frame)
    assert ds.load_frame(store, version)["m"].tolist()[:3] == ["1", "two", "3.5"]


def test_profile_is_computed_once_and_stored(store, monkeypatch):
    version = ds.save_version(store, name="demo", frame=_frame())
    assert version.profile_sha is None
    first = ds.get_profile(store, version)
    stored = ds.get_version_by_id(store, version.id)
    assert stored.profile_sha
    from studio import profile as profiling

    monkeypatch.setattr(profiling, "build_profile",
                        lambda *a, **k: pytest.fail("profile recomputed"))
    again = ds.get_profile(store, stored)
    assert again["columns"] == first["columns"]
    # Target checks are cached by target inside the stored profile.
    with_target = ds.get_profile(store, stored, target="y")
    assert with_target["target"]["task"] == "binary"
    monkeypatch.setattr(profiling, "target_checks",
                        lambda *a, **k: pytest.fail("target checks recomputed"))
    assert ds.get_profile(store, ds.get_version_by_id(store, version.id),
                          target="y")["target"] == with_target["target"]
    with pytest.raises(InvalidInput, match="not a column"):
        ds.get_profile(store, stored, target="nope")


def test_import_keeps_the_original_file_and_profiles_it(store):
    result = ds.import_file(store, CASES / "04_semicolon.csv", profile=True)
    v = result.version
    assert v.source_name == "04_semicolon.csv" and v.profile_sha
    assert ds.load_source_bytes(store, v) == (CASES / "04_semicolon.csv").read_bytes()
    child = ds.save_version(store, name=v.dataset, frame=ds.load_frame(store, v).head(1),
                            parent=v, recipe=[{"op": "head"}])
    assert ds.load_source_bytes(store, child) == (CASES / "04_semicolon.csv").read_bytes()


def test_import_bytes_uses_the_upload_name(store):
    data = (CASES / "07_decimal_comma.csv").read_bytes()
    result = ds.import_bytes(store, data, filename="Fruit prices.csv")
    assert result.version.dataset == "Fruit_prices"
    assert result.version.source_name == "Fruit prices.csv"
    with pytest.raises(InvalidInput, match="import limit"):
        ds.import_bytes(store, data, filename="x.csv", options={"max_upload_mb": 0.00001})


def test_preview_reads_only_the_first_rows(store):
    version = ds.save_version(store, name="demo", frame=_frame(500))
    head = ds.load_preview(store, version, rows=20)
    pd.testing.assert_frame_equal(head, _frame(500).head(20))


def test_unknown_import_options_are_named(store):
    with pytest.raises(InvalidInput, match="unknown import option"):
        ds.import_file(store, CASES / "01_utf8_bom.csv", options={"delimeter": ";"})
