"""Exported scripts: run for real, from the original file, and compared with the stored
version; data can never become code in them."""
from __future__ import annotations

import ast
import gzip
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from studio import datasets
from studio.errors import InvalidInput
from studio.recipes import apply_recipe, export_script


def run_script(script: str, source, tmp_path, *extra: str):
    path = tmp_path / "rebuild.py"
    path.write_text(script, encoding="utf-8")
    out = tmp_path / "out.parquet"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "STUDIO_HOME")}
    proc = subprocess.run([sys.executable, str(path), str(source), str(out), *extra],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)
    return proc, out


def rebuilt(store, version, source, tmp_path):
    script = export_script(store, version)
    imported = {n.names[0].name.split(".")[0] for n in ast.walk(ast.parse(script))
                if isinstance(n, ast.Import)}
    imported |= {n.module.split(".")[0] for n in ast.walk(ast.parse(script))
                 if isinstance(n, ast.ImportFrom) and n.module}
    assert imported <= {"argparse", "ast", "bz2", "csv", "gzip", "io", "lzma", "operator",
                        "sys", "zipfile", "numpy", "pandas"}
    proc, out = run_script(script, source, tmp_path)
    assert proc.returncode == 0, proc.stderr
    return pd.read_parquet(out)


EUROPEAN = (
    "\ufeffName ;Age;Fare;Boarded;Name;City;Code\r\n"
    "Anna;22;7,25;01.02.2013;x;Paris;007\r\n"
    "Bob;NA;71,2833;03.04.2013;y; London ;012\r\n"
    "\r\n"
    "Cara;26;?;05.06.2013;z;Paris;100\r\n"
    "Dan;35;1.053,1;07.08.2013;w;;020\r\n"
    "Eve;-;8,05;09.10.2014;v;Rome;030\r\n"
    "Finn;54;51,86;11.12.2014;u;Paris;040\r\n"
).encode("utf-8")


def test_european_csv_through_two_recipes(store, tmp_path):
    source = tmp_path / "passengers.csv"
    source.write_bytes(EUROPEAN)
    root = datasets.import_file(store, source, name="passengers").version
    v2 = apply_recipe(store, root, [
        {"kind": "rename_columns", "mapping": {"Name_2": "Tag"}},
        {"kind": "impute", "columns": ["Age"], "strategy": "median", "indicator": True},
        {"kind": "filter_rows", "conditions": [{"column": "City", "op": "is not missing"}]},
        {"kind": "date_parts", "column": "Boarded", "parts": ["year", "month", "weekday"]},
    ], note='cleaned """ with quotes\nand a second line')
    v3 = apply_recipe(store, v2, [
        {"kind": "group_rare", "columns": ["City"], "min_count": 2},
        {"kind": "clean_text", "columns": ["Name"], "lower": True},
        {"kind": "formula", "column": "fare_per_year", "expression": "Fare / Age"},
        {"kind": "bin", "columns": ["Age"], "bins": 2},
        {"kind": "clip", "columns": ["Fare"], "method": "quantile", "lower": 0.1,
         "upper": 0.9},
        {"kind": "scale", "columns": ["fare_per_year"], "method": "log"},
        {"kind": "change_type", "columns": ["Code"], "to": "integer"},
        {"kind": "drop_duplicates", "columns": ["City", "Age_bin"], "keep": "last"},
    ])
    out = rebuilt(store, v3, source, tmp_path)
    pd.testing.assert_frame_equal(out, datasets.load_frame(store, v3))
    # kept as text by the import (leading zeros), converted by the recipe
    assert str(out["Code"].dtype) == "Int64" and set(out["Code"]) <= {7, 12, 100, 20, 30, 40}


def test_gzip_csv_with_quotes_dates_thousands_and_booleans(store, tmp_path):
    lines = ['id,comment,amount,when,active,score,region']
    for i in range(40):
        comment = f'"line {i}, with a comma\nand a newline"' if i % 7 == 0 else f"plain {i}"
        amount = f'"{1000 + i * 37:,}.50"' if i % 3 == 0 else f"{i * 1.25}"
        when = f"2020-01-{i % 28 + 1:02d}" if i % 11 else ""
        active = "true" if i % 2 else "false"
        lines.append(f"{i},{comment},{amount},{when},{active},{i % 5 - 2},  r{i % 3}  ")
    source = tmp_path / "events.csv.gz"
    source.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    root = datasets.import_file(store, source, name="events").version
    made = apply_recipe(store, root, [
        {"kind": "drop_columns", "columns": ["id"]},
        {"kind": "filter_rows", "conditions": [{"column": "amount", "op": ">", "value": 5},
                                               {"column": "active", "op": "==",
                                                "value": "true"}], "combine": "any"},
        {"kind": "impute", "columns": ["when"], "strategy": "most_frequent"},
        {"kind": "date_parts", "column": "when", "parts": ["day", "is_weekend"],
         "drop_original": True},
        {"kind": "scale", "columns": ["amount", "score"], "method": "standard"},
        {"kind": "sample_rows", "n": 20, "seed": 7},
    ])
    out = rebuilt(store, made, source, tmp_path)
    pd.testing.assert_frame_equal(out, datasets.load_frame(store, made))


def test_cp1252_tab_file_and_the_root_version_itself(store, tmp_path):
    text = "Stadt\tPreis\tDatum\nKöln\t1,5\t2021-03-04\nMünchen\tN/A\t2021-03-05\n" \
           "Zürich\t3,25\t2021-03-06\n"
    source = tmp_path / "preise.csv"
    source.write_bytes(text.encode("cp1252"))
    root = datasets.import_file(store, source, name="preise").version
    assert root.import_report["encoding"] == "cp1252"
    out = rebuilt(store, root, source, tmp_path)
    pd.testing.assert_frame_equal(out, datasets.load_frame(store, root))


def test_xlsx_source(store, tmp_path):
    frame = pd.DataFrame({"product": ["a", "b", "c", None], "price": [1.5, 2.0, np.nan, 4.0],
                          "units": [1, 2, 3, 4]})
    source = tmp_path / "sales.xlsx"
    frame.to_excel(source, index=False)
    root = datasets.import_file(store, source, name="sales").version
    made = apply_recipe(store, root, [{"kind": "impute", "columns": ["price"],
                                       "strategy": "constant", "value": "0"}])
    out = rebuilt(store, made, source, tmp_path)
    pd.testing.assert_frame_equal(out, datasets.load_frame(store, made))


def test_data_never_becomes_code(store, tmp_path):
    source = tmp_path / "evil.csv"
    source.write_text('"x = 1; import os",b\n1,2\n3,4\n', encoding="utf-8")
    root = datasets.import_file(store, source, name="evil").version
    column = next(c for c in datasets.load_frame(store, root).columns if c != "b")
    made = apply_recipe(store, root, [
        {"kind": "rename_columns", "mapping": {column: "a\n__import__('os').system('touch X')"}},
        {"kind": "formula", "column": "c\nos.system('touch Y')", "expression": "b * 2"},
    ], note="note\nimport os\nos.system('touch Z')")
    script = export_script(store, made)
    for line in script.splitlines():  # every data-derived piece is in a literal or a comment
        assert not line.lstrip().startswith(("import os", "os.system", "__import__"))
    out = rebuilt(store, made, source, tmp_path)
    pd.testing.assert_frame_equal(out, datasets.load_frame(store, made))
    assert not [p for p in tmp_path.rglob("*") if p.name in ("PWNED", "X", "Y", "Z")]


def test_wrong_file_is_reported_and_pending_steps_can_be_exported(store, tmp_path):
    source = tmp_path / "a.csv"
    source.write_text("x,y\n1,2\n3,4\n5,6\n")
    root = datasets.import_file(store, source, name="tiny").version
    script = export_script(store, root, steps=[{"kind": "formula", "column": "z",
                                                "expression": "x + y"}])
    other = tmp_path / "other.csv"
    other.write_text("x,y\n1,2\n")
    proc, _out = run_script(script, other, tmp_path)
    assert proc.returncode == 1 and "is this the same original file" in proc.stderr
    proc, out = run_script(script, source, tmp_path)
    assert proc.returncode == 0 and pd.read_parquet(out)["z"].tolist() == [3, 7, 11]


def test_a_version_without_an_uploaded_file_cannot_be_exported(store):
    root = datasets.save_version(store, name="made", frame=pd.DataFrame({"a": [1, 2]}))
    with pytest.raises(InvalidInput, match="not imported from a file"):
        export_script(store, root)


def test_skipped_ragged_rows_and_trailing_delimiters(store, tmp_path):
    lines = ["a,b,c,"] + [f"{i},x{i},{i / 4}," for i in range(40)]
    lines[7] = "6,too,many,fields,here,"   # skipped by the import, so by the script too
    lines[20] = "19,few,"
    source = tmp_path / "ragged.csv"
    source.write_text("\n".join(lines) + "\n")
    root = datasets.import_file(store, source, name="ragged").version
    assert root.import_report["skipped"]["ragged_rows"] == 2
    made = apply_recipe(store, root, [{"kind": "formula", "column": "d", "expression": "a * c"}])
    out = rebuilt(store, made, source, tmp_path)
    pd.testing.assert_frame_equal(out, datasets.load_frame(store, made))
    assert len(out) == 38


def test_money_and_percent_columns_rebuild_from_the_original_file(store, tmp_path):
    import math

    src = tmp_path / "money.csv"
    src.write_bytes("id;price;rate;acc;fr\n1;1.234,50 €;45 %;($5,00);1\u202f234,56 €\n"
                    "2;3 €;5%;$ -;7,00 €\n3;N/A;\u22122 %;$4;2 000,00 €\n".encode())
    root = datasets.import_file(store, src, name="money").version
    frame = datasets.load_frame(store, root)
    assert root.import_report["units"] == {"price": "€", "rate": "%", "acc": "$", "fr": "€"}
    again = rebuilt(store, root, src, tmp_path)
    assert again["price"].tolist()[:2] == [1234.5, 3.0] and math.isnan(again["price"].tolist()[2])
    assert again.equals(frame)

