"""Batch transform: streamed in chunks, identical to the pipeline, same as `studio predict`,
as a job with progress; bad files refused with nothing half-written."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from studio.batch import predict_file, result_bytes, stage_upload
from studio.errors import InvalidInput
from studio.jobs import run_job, submit_job
from studio.registry import load_pipeline
from tests.model_factory import make_frame, register_test_model


@pytest.fixture
def churn(store):
    return register_test_model(store, name="churn", algorithm="xgboost", seed=0, n=200)


def _input_csv(tmp_path, n=57, seed=9, edits=None):
    frame = make_frame(n, seed=seed).drop(columns=["target"])
    frame["note"] = "kept"  # an extra column passes through to the output
    for (row, col), value in (edits or {}).items():
        frame[col] = frame[col].astype(object)
        frame.loc[row, col] = value
    path = tmp_path / "input.csv"
    frame.to_csv(path, index=False)
    return path, frame


def test_output_is_input_plus_predictions_identical_to_the_pipeline(store, churn, tmp_path):
    path, frame = _input_csv(tmp_path, edits={(3, "num_0"): "inf", (4, "cat_0"): "purple"})
    out = tmp_path / "out.csv"
    result = predict_file(store, churn, path, out, chunk_rows=10)  # 6 chunks
    assert result["rows"] == 57 and result["ignored_columns"] == ["note"]
    got = pd.read_csv(out)
    assert list(got.columns) == list(frame.columns) + ["prediction", "proba_0", "proba_1"]
    assert (got["note"] == "kept").all()
    pipeline = load_pipeline(store, churn)
    expected_input = pd.read_csv(path)
    expected_input["num_0"] = pd.to_numeric(expected_input["num_0"]).replace(np.inf, np.nan)
    expected_input["cat_0"] = expected_input["cat_0"].astype("str")
    expected_input["cat_1"] = expected_input["cat_1"].astype("str")
    proba = pipeline.predict_proba(expected_input.drop(columns=["note"]))
    assert np.array_equal(got[["proba_0", "proba_1"]].to_numpy(), proba.astype(np.float64))
    assert got["prediction"].tolist() == np.argmax(proba, axis=1).tolist()
    same = predict_file(store, churn, path, tmp_path / "one-chunk.csv", chunk_rows=1000)
    assert pd.read_csv(same["out"]).equals(got)


def test_bad_cells_are_refused_naming_column_and_row_with_nothing_written(store, churn, tmp_path):
    path, _ = _input_csv(tmp_path, n=30, edits={(25, "num_2"): "lots"})
    out = tmp_path / "out.csv"
    with pytest.raises(InvalidInput, match=r"num_2.*'lots'|num_2.*\"lots\".*data row 26"):
        predict_file(store, churn, path, out, chunk_rows=10)
    assert not out.exists() and not list(tmp_path.glob(".out.csv*"))


@pytest.mark.parametrize("content,words", [
    (b"", "empty"),
    (b"num_0,num_1\n1,2\n", "column 'num_2' is missing"),
    (b"\x00\x01\x02binary", "not a text table"),
    (b"num_0,prediction\n1,2\n", "already has column"),
])
def test_unusable_files(store, churn, tmp_path, content, words):
    path = tmp_path / "in.csv"
    path.write_bytes(content)
    with pytest.raises(InvalidInput, match=words):
        predict_file(store, churn, path, tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()


def test_cli_predict_matches_the_library(cli, store, churn, tmp_path):
    path, _ = _input_csv(tmp_path)
    r = cli("predict", "churn:1", path, "--out", tmp_path / "cli.csv", "--json")
    assert r.code == 0, r.err
    assert r.json()["rows"] == 57 and r.json()["model"] == "churn:1"
    predict_file(store, churn, path, tmp_path / "lib.csv")
    assert (tmp_path / "cli.csv").read_bytes() == (tmp_path / "lib.csv").read_bytes()
    r = cli("predict", "churn", tmp_path / "missing.csv", "--out", tmp_path / "x.csv")
    assert r.code == 2 and "does not exist" in r.err
    r = cli("predict", "nope", path, "--out", tmp_path / "x.csv")
    assert r.code == 2 and "model 'nope'" in r.err


def test_regression_output_has_no_probabilities(store, tmp_path):
    version = register_test_model(store, name="price", task="regression", algorithm="ridge", n=150)
    frame = make_frame(20, task="regression", seed=3).drop(columns=["target"])
    frame.to_csv(tmp_path / "in.csv", index=False)
    predict_file(store, version, tmp_path / "in.csv", tmp_path / "out.csv")
    got = pd.read_csv(tmp_path / "out.csv")
    assert list(got.columns)[-1] == "prediction" and not any(c.startswith("proba_") for c in got)


def test_batch_job_from_an_upload_and_from_a_dataset_version(settings, store, churn, tmp_path):
    path, _ = _input_csv(tmp_path, n=40)
    source = stage_upload(store, path.read_bytes(), "input.csv", max_mb=10)
    job = submit_job(store, kind="batch_transform", name="t",
                     config={"model_version_id": churn.id, "input": source, "chunk_rows": 16})
    job = run_job(settings, job.id)
    assert job.status == "succeeded", job.error
    assert job.result["rows"] == 40 and job.progress["rows_done"] == 40
    data = result_bytes(store, job)
    assert data.startswith(b"num_0,") and data.count(b"\n") == 41
    assert job.result["download_name"].endswith(".csv")

    from studio.datasets import save_version

    frame = make_frame(25, seed=4).drop(columns=["target"])
    dataset = save_version(store, name="scoring", frame=frame)
    job = submit_job(store, kind="batch_transform", name="t2",
                     config={"model_version_id": churn.id,
                             "input": {"kind": "dataset", "dataset_version_id": dataset.id}})
    job = run_job(settings, job.id)
    assert job.status == "succeeded", job.error
    got = pd.read_csv(__import__("io").BytesIO(result_bytes(store, job)))
    assert len(got) == 25 and "proba_1" in got


def test_batch_job_with_bad_input_fails_with_the_reason(settings, store, churn):
    source = stage_upload(store, b"a,b\n1,2\n", "bad.csv", max_mb=10)
    job = submit_job(store, kind="batch_transform", name="bad",
                     config={"model_version_id": churn.id, "input": source})
    job = run_job(settings, job.id)
    assert job.status == "failed" and "is missing" in job.error
    with pytest.raises(InvalidInput, match="limit"):
        stage_upload(store, b"x" * 2_000_000, "big.csv", max_mb=1)
