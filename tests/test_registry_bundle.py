"""Model cards and the downloadable bundle (its README's code runs as written)."""
from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import zipfile

import pytest

from studio.bundle import build_bundle, bundle_name
from studio.errors import IntegrityError
from studio.model_cards import data_lineage, list_model_versions, load_evaluation
from tests.model_factory import register_test_model, sample_evaluation


def test_bundle_holds_pipeline_card_and_a_readme_that_works(store, tmp_path):
    version = register_test_model(store, name="churn", algorithm="logistic", n=120)
    data = build_bundle(store, version)
    assert bundle_name(version) == "churn-v1.zip"
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert sorted(zf.namelist()) == ["README.md", "model.joblib", "model.json"]
        zf.extractall(tmp_path)
    meta = json.loads((tmp_path / "model.json").read_text())
    assert meta["sha256"] == version.artifact_sha and meta["task"] == "binary"
    assert meta["classes"] == ["no", "yes"] and meta["input_schema"][0]["name"] == "num_0"
    assert meta["lineage"]["dataset"] and meta["library_versions"]["scikit-learn"]
    readme = (tmp_path / "README.md").read_text()
    code = re.search(r"```python\n(.*?)```", readme, re.S).group(1)
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[0] in ("['no']", "['yes']")


def test_bundle_refuses_an_altered_pipeline_file(store):
    version = register_test_model(store, name="churn", algorithm="logistic", n=120)
    path = store.artifacts.root / version.artifact_sha[:2] / version.artifact_sha
    path.write_bytes(path.read_bytes() + b"x")
    with pytest.raises(IntegrityError, match="does not match"):
        build_bundle(store, version)


def test_cards_lineage_and_evaluation(store):
    from studio.datasets import save_version
    from tests.model_factory import make_frame

    dataset = save_version(store, name="customers", frame=make_frame(30), source_name="c.csv")
    version = register_test_model(store, name="churn", algorithm="logistic", n=120,
                                  evaluation=sample_evaluation())
    from storage import registry as repo

    card = {**version.card, "lineage": {**version.card["lineage"], "dataset_version_id": dataset.id}}
    with store.session() as session:
        version = repo.update_model_version(session=session, version_id=version.id, card=card)
    lineage = data_lineage(store, version)
    assert lineage["dataset"] == "customers:1" and lineage["chain"][0]["source_name"] == "c.csv"
    assert load_evaluation(store, version)["roc"]["auc"] == 0.86
    rows = list_model_versions(store)
    assert rows[0]["ref"] == "churn:1" and rows[0]["endpoints"] == []
