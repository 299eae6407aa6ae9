"""CLI: import, datasets, profile — JSON shapes, exit codes, refusals that change nothing."""
from __future__ import annotations

from pathlib import Path

CASES = Path(__file__).resolve().parent / "fixtures" / "input_cases"


def _artifact_files(settings):
    return sorted(p for p in settings.artifacts.rglob("*") if p.is_file())


def test_import_json_holds_the_contract_fields(cli):
    res = cli("import", CASES / "07_decimal_comma.csv", "--name", "fruit", "--json")
    assert res.code == 0, res.err
    body = res.json()
    assert {"dataset", "version", "rows", "cols", "warnings"} <= set(body)
    assert (body["dataset"], body["version"], body["rows"], body["cols"]) == ("fruit", 1, 3, 3)
    assert isinstance(body["warnings"], list) and body["warnings"]
    assert body["report"]["delimiter"] == ";"
    assert res.out.count("\n") == 1  # exactly one JSON object


def test_import_under_an_existing_name_makes_a_new_version(cli):
    assert cli("import", CASES / "04_semicolon.csv", "--name", "people", "--json").code == 0
    again = cli("import", CASES / "28_gzip.csv.gz", "--name", "people", "--json").json()
    assert again["version"] == 2
    listing = cli("datasets", "--json").json()
    people = next(d for d in listing["datasets"] if d["name"] == "people")
    assert [v["version"] for v in people["versions"]] == [2, 1]


def test_datasets_json_lists_datasets_and_an_empty_store_says_what_to_do(cli):
    empty = cli("datasets", "--json")
    assert empty.code == 0 and empty.json() == {"datasets": []}
    text = cli("datasets")
    assert "import" in text.out
    cli("import", CASES / "01_utf8_bom.csv")
    body = cli("datasets", "--json").json()
    assert [d["name"] for d in body["datasets"]] == ["01_utf8_bom"]
    assert body["datasets"][0]["versions"][0]["rows"] == 2


def test_profile_json_and_target_checks(cli):
    cli("import", CASES / "26_constant_and_empty.csv", "--name", "flat")
    res = cli("profile", "flat", "--json")
    assert res.code == 0, res.err
    body = res.json()
    assert body["ref"] == "flat:1" and body["rows"] == 3
    assert {c["name"] for c in body["columns"]} == {"a", "same", "nothing", "b"}
    assert any(w["kind"] == "constant" for w in body["warnings"])
    with_target = cli("profile", "flat:1", "--target", "b", "--json").json()
    assert with_target["target"]["target"] == "b"
    human = cli("profile", "flat")
    assert "same" in human.out and "warnings" in human.out


def test_user_errors_print_one_line_and_exit_2(cli):
    for args in (["profile", "missing_ds"], ["profile", "bad name!"],
                 ["import", "/no/such/file.csv"], ["profile", "flat:0"],
                 ["import", CASES / "15_empty.csv", "--delimiter", "x"]):
        res = cli(*args)
        assert res.code == 2, (args, res.err)
        assert res.err.count("\n") == 1 and "Traceback" not in res.err, res.err
        assert res.out == ""


def test_a_refused_file_leaves_nothing_in_the_store(cli_proc, settings):
    res = cli_proc("import", CASES / "10_unbalanced_quote.csv", "--json")
    assert res.code == 2
    assert "line 3" in res.err and "Traceback" not in res.err
    assert res.err.strip().count("\n") == 0
    assert res.out == ""
    listing = cli_proc("datasets", "--json")
    assert listing.json() == {"datasets": []}
    assert _artifact_files(settings) == []


def test_lenient_flag_and_options_reach_the_importer(cli):
    res = cli("import", CASES / "10_unbalanced_quote.csv", "--lenient", "--json")
    assert res.code == 0
    assert res.json()["rows"] == 3
    res = cli("import", CASES / "21_sentinels.csv", "--missing", "?,", "--json")
    assert res.json()["report"]["missing_markers"]["a"] == {"?": 1}


def test_size_limit_comes_from_the_environment_and_is_named(cli_proc, settings, tmp_path):
    big = tmp_path / "big.csv"
    big.write_bytes(b"a,b\n" + b"12345,67890\n" * 100_000)  # 1.2 MB
    res = cli_proc("import", big, env={"STUDIO_MAX_UPLOAD_MB": "1"})
    assert res.code == 2
    assert "over the import limit of 1 MB" in res.err and "STUDIO_MAX_UPLOAD_MB" in res.err
    assert _artifact_files(settings) == []
    res = cli_proc("import", CASES / "27b_workbook.xlsx", "--sheet", "Nope")
    assert res.code == 2 and "no sheet named 'Nope'" in res.err
