"""One test per row of INPUT_CASES.md, each on its tiny fixture in tests/fixtures/input_cases.

Accepted files are imported through the real store (Parquet artifact, version
row, kept source); refused ones must raise InvalidInput with a message that
names the problem and leave nothing in the store.
"""
from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from studio import datasets as ds
from studio.errors import InvalidInput

CASES = Path(__file__).resolve().parent / "fixtures" / "input_cases"


def imp(store, name: str, **options):
    result = ds.import_file(store, CASES / name, options=options or None)
    return result, ds.load_frame(store, result.version)


def semantic(version, column: str) -> str:
    return next(c["semantic"] for c in version.schema_ if c["name"] == column)


def assert_store_empty(store) -> None:
    assert ds.list_datasets(store) == []
    files = [p for p in store.artifacts.root.rglob("*") if p.is_file()]
    assert files == [], f"refused import left files behind: {files}"


def _state(store):
    versions = [(d.name, d.versions) for d in ds.list_datasets(store)]
    files = sorted(p for p in store.artifacts.root.rglob("*") if p.is_file())
    return versions, files


def refused(store, name: str, *words: str, **options) -> str:
    """The import fails with a one-line message holding ``words``, changing nothing."""
    before = _state(store)
    with pytest.raises(InvalidInput) as err:
        ds.import_file(store, CASES / name, options=options or None)
    message = str(err.value)
    for word in words:
        assert word.lower() in message.lower(), message
    assert "\n" not in message and "Traceback" not in message
    assert _state(store) == before, "a refused import changed the store"
    return message


def test_01_utf8_bom_header_is_clean(store):
    result, frame = imp(store, "01_utf8_bom.csv")
    assert list(frame.columns) == ["Name", "Age"]
    assert result.report["encoding"] == "utf-8"
    assert "byte-order mark" in result.report["encoding_note"]


def test_02_cp1252_is_detected_and_reported_and_can_be_overridden(store):
    result, frame = imp(store, "02_cp1252.csv")
    assert frame["city"].tolist() == ["Köln", "Malmö"]
    # € decoded from cp1252's 0x80, so the column reads as euros (tests/test_import_units.py)
    assert frame["price"].tolist() == [5, 7]
    assert result.report["units"] == {"price": "€"}
    assert result.report["encoding"] == "cp1252"
    assert any("cp1252" in w for w in result.warnings)
    # The user can override: latin-1 reads 0x80 as a control character, not €.
    forced, frame2 = imp(store, "02_cp1252.csv", encoding="latin-1")
    assert forced.report["encoding"] == "iso8859-1"
    assert frame2["name"].tolist() == ["José", "Zoë"]


def test_03_utf16_excel_unicode_text_is_decoded_and_tab_sniffed(store):
    result, frame = imp(store, "03_utf16_excel_unicode_text.txt")
    assert result.report["encoding"].startswith("utf-16")
    assert result.report["delimiter"] == "\t"
    assert frame.to_dict("list") == {"name": ["Ann", "Bob"], "age": [31, 42]}


def test_04_semicolon_delimiter_is_sniffed(store):
    result, frame = imp(store, "04_semicolon.csv")
    assert result.report["delimiter"] == ";"
    assert list(frame.columns) == ["name", "age", "city"]


def test_05_tab_separated_file_named_csv(store):
    result, frame = imp(store, "05_tab_named.csv")
    assert result.report["delimiter"] == "\t"
    assert frame["note"].tolist() == ["likes, commas", "ok"]


def test_06_single_column_is_accepted_with_a_no_features_warning(store):
    result, frame = imp(store, "06_single_column_emails.csv")
    assert list(frame.columns) == ["email"]
    assert frame["email"].iloc[1] == "bob.smith@example.org"  # not split on '.' or '@'
    assert any("no features" in w for w in result.warnings)


def test_07_decimal_comma_converted_with_before_and_after(store):
    result, frame = imp(store, "07_decimal_comma.csv")
    assert result.report["decimal"] == ","
    assert frame["weight"].tolist() == [4.5, 3.25, 1234.5]
    assert frame["price"].tolist() == [1.2, 0.99, 12.0]
    example = result.report["conversions"]["weight"]["examples"][0]
    assert example == ["4,5", 4.5]
    assert any("'4,5' → 4.5" in w for w in result.warnings)


def test_08_thousands_separators_converted_never_to_a_fraction(store):
    result, frame = imp(store, "08_thousands.csv")
    assert frame["amount"].tolist() == [1234.5, 12000.0, 999.99]
    assert result.report["conversions"]["amount"]["rule"].startswith("thousands")
    assert any("'1,234.50' → 1234.5" in w for w in result.warnings)


def test_08_ambiguous_thousands_are_named_in_the_warning(store, tmp_path):
    path = tmp_path / "amb.csv"
    path.write_bytes(b'a,b\n"1,234",1\n"2,500",2\n')
    result = ds.import_file(store, path)
    frame = ds.load_frame(store, result.version)
    assert frame["a"].tolist() == [1234, 2500]
    assert any("ambiguous" in w for w in result.warnings)


def test_09_quoted_fields_with_newlines_and_commas_are_single_records(store):
    _, frame = imp(store, "09_quoted_newlines.csv")
    assert len(frame) == 3
    assert frame["comment"].tolist()[:2] == ["line one\nline two, with a comma", 'she said "hi"']


def test_10_unbalanced_quote_is_refused_with_its_line(store):
    refused(store, "10_unbalanced_quote.csv", "line 3", "quote", "lenient")


def test_10_lenient_mode_skips_and_reports_the_line(store):
    result, frame = imp(store, "10_unbalanced_quote.csv", lenient=True)
    assert frame["a"].tolist() == [1, 7, 10]
    skipped = result.report["skipped"]["unbalanced_quote_lines"]
    assert skipped == [{"line": 3, "text": '4,"5,6'}]
    assert any("line 3" in w for w in result.warnings)


def test_11_control_characters_are_stripped_and_counted(store):
    result, frame = imp(store, "11_control_chars.csv")
    assert frame["name"].tolist() == ["Ann", "Bob", "Cid"]
    assert result.report["control_characters"] == {"(file)": 1, "name": 1}
    assert any("Ctrl-Z" in w for w in result.warnings)


def test_11_a_file_mostly_of_nuls_is_not_text(store):
    refused(store, "11b_mostly_nul.csv", "not a text table")


def test_12_a_few_ragged_rows_are_skipped_with_count_and_examples(store):
    result, frame = imp(store, "12_ragged_few.csv")
    assert len(frame) == 60
    assert result.report["skipped"]["ragged_rows"] == 2
    lines = [e["line"] for e in result.report["ragged_examples"]]
    assert lines == [62, 63]
    assert any("2 of 62 rows" in w for w in result.warnings)


def test_12_many_ragged_rows_are_refused_unless_lenient(store):
    refused(store, "12b_ragged_many.csv", "3 of 5 rows", "line 3", "lenient")
    result, frame = imp(store, "12b_ragged_many.csv", lenient=True)
    assert frame["a"].tolist() == [1, 12]


def test_13_duplicate_names_are_kept_and_made_unique_visibly(store):
    result, frame = imp(store, "13_duplicate_names.csv")
    assert list(frame.columns) == ["id", "value", "value_2", "Value"]
    assert frame["value_2"].tolist() == [20, 21]
    assert ["value", "value_2"] in result.report["header_mapping"]
    assert any("'value' → 'value_2'" in w for w in result.warnings)
    checks = ds.target_checks(frame, result.version.schema_, "value")
    assert any(w["kind"] == "duplicate_name" for w in checks["warnings"])


def test_14_duplicate_columns_are_detected_by_the_profile(store):
    result, _ = imp(store, "14_duplicate_columns.csv")
    profile = ds.get_profile(store, result.version)
    dup = [w for w in profile["warnings"] if w["kind"] == "duplicate_columns"]
    assert dup and dup[0]["columns"] == ["price", "price_copy"]
    assert "'price_copy' holds exactly the same values as 'price'" in dup[0]["message"]


def test_15_empty_file_is_refused(store):
    refused(store, "15_empty.csv", "the file is empty")
    assert_store_empty(store)


def test_15_whitespace_only_file_is_refused(store):
    refused(store, "15b_whitespace.csv", "empty")


def test_16_header_only_keeps_the_schema_and_blocks_profiling(store):
    result, frame = imp(store, "16_header_only.csv")
    assert list(frame.columns) == ["id", "name", "amount"]
    assert result.version.rows == 0
    assert [c["name"] for c in result.version.schema_] == ["id", "name", "amount"]
    profile = ds.get_profile(store, result.version)
    assert "no rows" in profile["blocked"]
    checks = ds.target_checks(frame, result.version.schema_, "amount")
    assert checks["blocking"]


def test_17_blank_lines_are_skipped_and_counted(store):
    result, frame = imp(store, "17_blank_lines.csv")
    assert frame["a"].tolist() == [1, 3, 5]
    assert result.report["skipped"]["blank_lines"] == 3


def test_18_saved_index_column_is_dropped_by_default_or_kept(store):
    result, frame = imp(store, "18_saved_index.csv")
    assert list(frame.columns) == ["name", "age"]
    assert any("saved row index" in w for w in result.warnings)
    kept, frame2 = imp(store, "18_saved_index.csv", drop_index_column=False)
    assert list(frame2.columns) == ["column_1", "name", "age"]
    assert semantic(kept.version, "column_1") in ("identifier", "numeric")


def test_19_padded_headers_are_stripped_and_the_mapping_shown(store):
    result, frame = imp(store, "19_padded_headers.csv")
    assert list(frame.columns) == ["Name", "Diabetes", "Age"]
    assert ["Diabetes ", "Diabetes"] in result.report["header_mapping"]


def test_20_mixed_types_are_reported_with_share_and_examples(store):
    result, frame = imp(store, "20_mixed_types.csv")
    assert pd.api.types.is_float_dtype(frame["reading"])
    assert frame["reading"].isna().sum() == 2
    mixed = result.report["mixed_types"]
    assert mixed["reading"]["numeric_share"] == pytest.approx(148 / 150, abs=1e-4)
    assert any("98.7% numeric; non-numeric examples: 'unknown', 'n.k.'" in w
               for w in result.warnings)
    assert frame["ref"].dtype == "str"  # 80% numbers: too mixed, kept as text
    assert mixed["ref"]["converted"] is False
    profile = ds.get_profile(store, result.version)
    assert {w.get("column") for w in profile["warnings"] if w["kind"] == "mixed_types"} >= {
        "ref", "reading"}


def test_20_mixed_conversion_can_be_turned_off(store):
    _, frame = imp(store, "20_mixed_types.csv", convert_mixed=False)
    assert frame["reading"].dtype == "str"


def test_21_sentinels_are_missing_and_counted_and_configurable(store):
    result, frame = imp(store, "21_sentinels.csv")
    assert frame["a"].notna().sum() == 2  # 1 and 5
    assert result.report["missing_markers"]["a"] == {
        "NA": 1, "N/A": 1, "?": 1, "-": 1, "#N/A": 1, "None": 1}
    custom, frame2 = imp(store, "21_sentinels.csv", missing_markers=["", "?"])
    assert frame2["a"].isna().sum() == 2  # '?' and the blank only
    assert frame2["a"].dtype == "str"


def test_22_infinities_become_missing_by_default_or_are_clipped(store):
    result, frame = imp(store, "22_infinities.csv")
    assert frame["x"].isna().sum() == 2
    assert result.report["infinities"] == {"rule": "missing", "columns": {"x": 2}}
    assert any("prediction" in w or "predicting" in w for w in result.warnings)
    _, clipped = imp(store, "22_infinities.csv", infinities="clip")
    assert clipped["x"].tolist() == [1.5, 2.5, 1.5, 2.5]


def test_23_numbers_stored_as_text_with_blanks_are_numeric(store):
    result, frame = imp(store, "23_text_numbers_blanks.csv")
    assert pd.api.types.is_float_dtype(frame["TotalCharges"])
    assert frame["TotalCharges"].isna().sum() == 2
    assert semantic(result.version, "TotalCharges") == "numeric"


def test_24_dates_in_consistent_formats_are_parsed(store):
    result, frame = imp(store, "24_dates.csv")
    assert frame["slash"].tolist()[2] == pd.Timestamp("2012-02-29")
    assert frame["dotted"].tolist()[0] == pd.Timestamp("2013-02-01")  # day first
    assert frame["iso"].tolist()[1] == pd.Timestamp("2020-01-02 11:30:00")
    assert frame["mixed_up"].dtype == "str"  # 'hello' is no date: left as text
    for col in ("slash", "dotted", "iso"):
        assert semantic(result.version, col) == "datetime"


def test_25_ids_text_and_high_cardinality_are_classified_with_reasons(store):
    result, frame = imp(store, "25_ids_text_high_cardinality.csv")
    v = result.version
    assert semantic(v, "order_id") == "identifier"
    assert semantic(v, "customer_code") == "identifier"
    assert semantic(v, "comment") == "text"
    assert semantic(v, "colour") == "categorical"
    checks = ds.target_checks(frame, v.schema_, "colour")
    assert set(checks["identifiers"]) == {"order_id", "customer_code"}
    reason = next(c["reason"] for c in v.schema_ if c["name"] == "order_id")
    assert "ID" in reason or "different" in reason


def test_26_constant_and_all_missing_columns_are_flagged_without_crashing(store):
    result, _ = imp(store, "26_constant_and_empty.csv")
    profile = ds.get_profile(store, result.version)
    kinds = {(w["kind"], w.get("column")) for w in profile["warnings"]}
    assert ("constant", "same") in kinds and ("all_missing", "nothing") in kinds
    nothing = next(c for c in profile["columns"] if c["name"] == "nothing")
    assert nothing["chart"] is None
    from studio.schema import feature_columns

    assert "same" not in feature_columns(result.version.schema_)
    assert "nothing" not in feature_columns(result.version.schema_)


@pytest.mark.parametrize("name", ["27_xlsx_renamed.csv", "27b_workbook.xlsx"])
def test_27_workbooks_are_recognised_by_content(store, name):
    result, frame = imp(store, name)
    assert result.report["format"] == "xlsx"
    assert frame["name"].tolist() == ["Ann", "Bob"]
    assert result.report["sheets"] == ["Data", "Notes"]
    assert any("2 sheets" in w for w in result.warnings)


def test_27_another_sheet_can_be_chosen_and_a_missing_one_is_named(store):
    _, frame = imp(store, "27b_workbook.xlsx", sheet="Notes")
    assert list(frame.columns) == ["just", "notes"]
    refused(store, "27b_workbook.xlsx", "no sheet named 'Budget'", "Data, Notes", sheet="Budget")


@pytest.mark.parametrize("name", ["28_gzip.csv.gz", "28b_one_csv.zip"])
def test_28_compressed_csv_is_imported(store, name):
    result, frame = imp(store, name)
    assert frame["city"].tolist() == ["Oslo", "Lima", "Pune"]
    assert result.report["compression"]


def test_28_a_zip_with_two_tables_is_refused_naming_them(store):
    refused(store, "28c_two_csvs.zip", "2 files", "a.csv", "exactly one")


@pytest.mark.parametrize("name", ["29_image_renamed.csv", "29b_binary_garbage.csv"])
def test_29_binary_files_are_refused_as_not_a_text_table(store, name):
    refused(store, name, "not a text table")


def test_30_files_over_the_limit_are_refused_before_reading(store, monkeypatch):
    monkeypatch.setenv("STUDIO_MAX_UPLOAD_MB", "1")
    big = CASES / "33_wide_2000_columns.csv"
    opened = []
    real_read = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: opened.append(self) or real_read(self))
    message = refused(store, big.name, "import limit", "STUDIO_MAX_UPLOAD_MB",
                      max_upload_mb=0.001)
    assert_store_empty(store)
    assert opened == []  # refused from its size alone
    assert "STUDIO_MAX_UPLOAD_MB=" in message


def test_30_a_compressed_file_is_also_limited_uncompressed(store, tmp_path):
    path = tmp_path / "bomb.csv.gz"
    path.write_bytes(gzip.compress(b"a,b\n" + b"1,2\n" * 200_000))  # 800 kB inside, tiny outside
    with pytest.raises(InvalidInput, match="uncompressed is over the import limit"):
        ds.import_file(store, path, options={"max_upload_mb": 0.1})
    assert_store_empty(store)


def test_31_html_and_script_are_kept_as_plain_text(store):
    _, frame = imp(store, "31_html_script.csv")
    assert '<script>alert("h")</script>' in frame.columns
    assert frame["name"].iloc[0] == "<img src=x onerror=alert(1)>"


def test_32_windows_line_endings_and_trailing_delimiters(store):
    result, frame = imp(store, "32_crlf_trailing_delimiter.csv")
    assert frame.to_dict("list") == {"a": [1, 4], "b": [2, 5], "c": [3, 6]}
    assert not result.warnings


def test_33_very_wide_files_import(store):
    result, frame = imp(store, "33_wide_2000_columns.csv")
    assert frame.shape == (4, 2000)
    profile = ds.get_profile(store, result.version)
    assert len(profile["columns"]) == 2000
    assert len(profile["correlation"]["columns"]) <= 40


def test_a_single_column_header_with_hidden_delimiters_is_flagged(store, tmp_path):
    path = tmp_path / "odd.csv"
    path.write_bytes(b"name;age\nAnn\nBob\n")
    result = ds.import_file(store, path)
    assert any("one column" in w for w in result.warnings)


def test_leading_zero_codes_stay_text(store, tmp_path):
    path = tmp_path / "zip.csv"
    path.write_bytes(b"zip,n\n02134,1\n10001,2\n00501,3\n")
    frame = ds.load_frame(store, ds.import_file(store, path).version)
    assert frame["zip"].tolist() == ["02134", "10001", "00501"]


def test_a_late_odd_value_beyond_the_first_block_does_not_fail(store, tmp_path):
    # pyarrow guesses types from the first block; a '?' far down must still import.
    rows = b"".join(b"%d,%d\n" % (i, i) for i in range(600_000))
    path = tmp_path / "late.csv"
    path.write_bytes(b"a,b\n" + rows + b"?,7\n3.5,8\n")
    frame = ds.load_frame(store, ds.import_file(store, path).version)
    assert len(frame) == 600_002
    assert math.isnan(frame["a"].iloc[-2]) and frame["a"].iloc[-1] == 3.5
    assert np.issubdtype(frame["b"].dtype, np.integer)


def test_old_mac_line_endings_and_a_missing_final_newline(store, tmp_path):
    path = tmp_path / "mac.csv"
    path.write_bytes(b"a,b\r1,2\r3,4")
    frame = ds.load_frame(store, ds.import_file(store, path).version)
    assert frame.to_dict("list") == {"a": [1, 3], "b": [2, 4]}


def test_whole_numbers_too_long_for_a_float_stay_exact_text(store, tmp_path):
    path = tmp_path / "cards.csv"
    path.write_bytes(b"card,n\n4111111111111111111,1\n5500000000000004,2\n")
    result = ds.import_file(store, path)
    frame = ds.load_frame(store, result.version)
    assert frame["card"].tolist() == ["4111111111111111111", "5500000000000004"]
    assert "card" in result.report["kept_as_text"]


@pytest.mark.parametrize("body, expected", [
    # a header quoted by its writer, plain rows (read without quote tracking)
    (b'"id","name"\n1,ann\n2,bob\n', {"id": [1, 2], "name": ["ann", "bob"]}),
    # the same header, and a quoted value with a newline further down
    (b'"id","note"\n1,plain\n2,"two\nlines"\n', {"id": [1, 2], "note": ["plain", "two\nlines"]}),
    # a quoted value with the delimiter inside it, after a plain header
    (b'id,note\n1,"a, b"\n', {"id": [1], "note": ["a, b"]}),
])
def test_quoted_headers_and_quoted_values(store, tmp_path, body, expected):
    path = tmp_path / "quoted.csv"
    path.write_bytes(body)
    frame = ds.load_frame(store, ds.import_file(store, path).version)
    assert frame.to_dict("list") == expected
