"""`python -m studio train`: a file or a dataset in, one JSON object out; clear user errors."""
from __future__ import annotations

from tests.automl_data import binary_frame, regression_frame, save


def test_train_a_csv_file_prints_one_json_object(cli, tmp_path):
    path = tmp_path / "clinic visits.csv"
    binary_frame(150).to_csv(path, index=False)
    result = cli("train", path, "--target", "diagnosis", "--time-budget", "60", "--trials", "3",
                 "--name", "triage", "--json")
    assert result.code == 0, result.err
    out = result.json()
    assert out["model"] == "triage:1" and out["task"] == "binary"
    assert out["metric"] == "roc_auc" and 0.5 <= out["score"] <= 1 and out["job"] >= 1
    assert "imported" in result.err and "trials" in result.err  # progress lines on stderr


def test_train_a_stored_dataset_version_with_task_and_metric(cli, store):
    save(store, "progress", regression_frame(120))
    result = cli("train", "progress:1", "--target", "progression", "--metric", "mae",
                 "--trials", "2", "--json")
    assert result.code == 0, result.err
    out = result.json()
    assert out["task"] == "regression" and out["metric"] == "mae" and out["model"] == "progress:1"


def test_user_errors_are_one_line_and_exit_2(cli, store):
    save(store, "progress", regression_frame(60))
    cases = [
        ("train", "progress", "--target", "nope"),
        ("train", "progress", "--target", "progression", "--task", "binary"),
        ("train", "progress", "--target", "progression", "--metric", "accuracy"),
        ("train", "nothing-here", "--target", "x"),
        ("train", "missing/file.csv", "--target", "x"),
        ("train", "progress", "--target", "progression", "--time-budget", "2"),
    ]
    for args in cases:
        result = cli(*args)
        assert result.code == 2, (args, result.err)
        lines = [l for l in result.err.strip().splitlines() if l]
        assert len(lines) == 1 and lines[0].startswith("error:"), (args, result.err)
        assert "Traceback" not in result.err
    assert cli("jobs", "--json").json()["jobs"] == []
