"""The model report: one self-contained HTML file, every data-derived string escaped.

The hostile model is real: its training data has a column named ``<script>…`` and
category values ``<img onerror>``, its classes and notes hold tags, it has a search job
with trials, it serves an endpoint whose drifted traffic raised an alert naming that
column. The report must show all of it as text.
"""
from __future__ import annotations

import html
import re

import numpy as np
import pandas as pd
import pytest

from studio.report import model_report_html

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(2)>"
BOLD = "<b>yes</b>"
PLOTLY_BANNER = re.compile(r"plotly\.js v\d")


def _hostile_model(store, *, task: str = "binary", n: int = 600):
    from storage import jobs as job_repo
    from studio.datasets import save_version
    from studio.endpoints import publish
    from studio.monitor.baseline import compute_baseline
    from studio.monitor.check import run_check
    from studio.registry import register_model
    from studio.schema import infer_schema
    from tests.model_factory import build_pipeline, make_card
    from tests.monitor_support import log_traffic, records_of

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        SCRIPT: rng.normal(50, 10, n),
        "plan": pd.Series(rng.choice(["basic", IMG, "pro"], n), dtype="str"),
        "calls": rng.poisson(2, n).astype(float),
    })
    signal = frame[SCRIPT] / 10 + frame["calls"] + (frame["plan"] == IMG) * 2
    if task == "regression":
        frame["target"] = signal * 3 + rng.normal(0, 1, n)
    else:
        frame["target"] = pd.Series(np.where(signal > signal.median(), BOLD, "no"), dtype="str")
    dataset = save_version(store, name="hostile", frame=frame)
    pipeline = build_pipeline(frame, task=task, algorithm="forest" if task != "regression"
                              else "ridge")
    card = make_card(frame, pipeline, task=task, algorithm="forest")
    card["lineage"].update(dataset=dataset.ref, dataset_version_id=dataset.id,
                           source_name=f"{IMG}.csv")
    X = frame.drop(columns=["target"])
    if task == "regression":
        pred = pipeline.predict(X)
        evaluation = {"rows": 120, "rows_seen": "holdout",
                      "pred_vs_actual": {"actual": frame["target"][:50].tolist(),
                                         "predicted": pred[:50].tolist()},
                      "residuals": {"predicted": pred[:50].tolist(),
                                    "residual": (frame["target"][:50] - pred[:50]).tolist()}}
        preds = {"prediction": pred}
    else:
        classes = [str(c) for c in pipeline.classes_]
        evaluation = {
            "rows": 120, "rows_seen": "holdout",
            "confusion_matrix": {"labels": classes, "matrix": [[50, 10], [8, 52]]},
            "roc": {BOLD: {"fpr": [0, 0.2, 1], "tpr": [0, 0.8, 1], "auc": 0.8}},
            "pr": {BOLD: {"recall": [0, 0.8, 1], "precision": [1, 0.8, 0.5],
                          "average_precision": 0.8}},
        }
        preds = {"prediction": pipeline.predict(X), "probabilities": pipeline.predict_proba(X)}
    evaluation["permutation_importance"] = [
        {"feature": SCRIPT, "importance": 0.3, "std": 0.01},
        {"feature": "plan", "importance": 0.1, "std": 0.02}]
    card["feature_importance"] = []
    card["evaluation_sha"] = store.artifacts.put_bytes(
        __import__("json").dumps(evaluation).encode())
    baseline = compute_baseline(X, infer_schema(X), preds, task, card["classes"],
                                card["metrics"])
    with store.session() as session:
        job = job_repo.create_job(session=session, kind="search", name="hostile → target",
                                  config={"dataset": dataset.ref, "task": task,
                                          "metric": card["metric"], "time_budget_s": 10.0,
                                          "target": "target"})
        best = job_repo.add_trial(session=session, job_id=job.id, algorithm="forest",
                                  status="complete", score=0.91, score_std=0.01, fit_time_s=0.4)
        job_repo.add_trial(session=session, job_id=job.id, algorithm=IMG, status="complete",
                           score=0.85, score_std=0.02, fit_time_s=0.2)
        job_repo.update_job_fields(session=session, job_id=job.id, status="succeeded",
                                   progress={"trials_done": 2})
    version = register_model(store, name="hostile", pipeline=pipeline, card=card,
                             baseline=baseline, job_id=job.id, trial_id=best.id,
                             dataset_version_id=dataset.id, notes=f"for {SCRIPT} only")
    publish(store, version, "hostile", actor="test")
    drifted = X.sample(300, random_state=1, replace=True).copy()
    drifted[SCRIPT] = drifted[SCRIPT] + 40
    log_traffic(store, endpoint="hostile", version=version, pipeline=pipeline,
                records=records_of(drifted))
    run_check(store, "hostile", deliver=False)
    return version


@pytest.fixture
def hostile(store):
    return _hostile_model(store)


def _visible_text(doc: str) -> str:
    """The HTML without plotly's library (which holds every tag name there is)."""
    return PLOTLY_BANNER.split(doc)[0][:2000] + doc.split("</script></head>", 1)[-1]


def test_report_shows_every_section_and_escapes_every_data_string(store, hostile):
    from studio.monitor import alerts

    doc = model_report_html(store, hostile)
    assert doc.startswith("<!DOCTYPE html>") and doc.rstrip().endswith("</html>")
    for payload in (SCRIPT, IMG, BOLD):
        assert payload not in doc, f"{payload} reached the HTML unescaped"
    text = _visible_text(doc)
    assert html.escape(SCRIPT) in text          # column names, tables, notes
    assert html.escape(IMG) in text             # category values, file name, a trial
    assert html.escape(BOLD) in text            # class labels
    for section in ("Data", "Leaderboard", "Evaluation",
                    "Feature importance", "Monitoring", "Provenance"):
        assert f">{section}</h2>" in text
    assert "◀ this model" in text and "Search job" in text
    assert alerts.count_open(store, "hostile") >= 1
    assert "Open alerts" in text and 'class="badge alert"' in text
    assert text.count('class="chart"') >= 4     # matrix, ROC, PR, importance, drift


def test_report_is_self_contained_with_one_copy_of_plotly(store, hostile):
    doc = model_report_html(store, hostile)
    assert len(PLOTLY_BANNER.findall(doc)) == 1
    outside = _visible_text(doc)   # (plotly.js itself names a map CDN it never uses here)
    assert "cdn.plot.ly" not in outside and "cdn.jsdelivr" not in outside
    assert not re.search(r"""<(script|link|img)[^>]+(src|href)=["']?https?:""", doc)
    assert "Plotly.newPlot" in doc


def test_regression_report_plots_residuals(store):
    version = _hostile_model(store, task="regression", n=300)
    text = _visible_text(model_report_html(store, version))
    assert "Predicted vs actual" in text and "Residuals" in text
    assert "Confusion matrix" not in text


def test_report_of_a_model_without_search_or_endpoint_says_so(store):
    from tests.model_factory import register_test_model, sample_evaluation

    version = register_test_model(store, name="plain", n=120, evaluation=sample_evaluation())
    text = _visible_text(model_report_html(store, "plain:1"))
    assert "was not made by an AutoML search" in text
    assert "is not published to an endpoint" in text
    assert "ROC curve" in text and version.ref in text


def test_unknown_model_is_a_clear_error(store):
    from studio.errors import NotFound

    with pytest.raises(NotFound):
        model_report_html(store, "nope:3")


# --- the CLI ----------------------------------------------------------------------------

def test_cli_writes_the_report(cli, store, tmp_path):
    from tests.model_factory import register_test_model, sample_evaluation

    register_test_model(store, name="churn", n=120, evaluation=sample_evaluation())
    out = tmp_path / "churn.html"
    result = cli("report", "churn", "--out", out, "--json")
    assert result.code == 0, result.err
    assert result.json()["model"] == "churn:1" and out.exists()
    assert "Model report: churn:1" in out.read_text()
    assert not list(tmp_path.glob(".report-*"))  # no temporary left behind


def test_cli_report_errors_are_one_line(cli, store, tmp_path):
    from tests.model_factory import register_test_model

    result = cli("report", "ghost", "--out", tmp_path / "x.html")
    assert result.code == 2 and result.err.count("\n") == 1 and "ghost" in result.err
    register_test_model(store, name="churn", n=80)
    result = cli("report", "churn", "--out", tmp_path / "missing" / "x.html")
    assert result.code == 2 and "does not exist" in result.err
    assert not (tmp_path / "missing").exists()


def test_models_page_offers_the_report_and_draws_automl_curves(store, hostile):
    from tests.conftest import page_test

    at = page_test("models").run()
    assert not at.exception
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Download model report (HTML)" in labels
    # AutoML's curves come keyed by class: matrix, ROC, PR side by side, importance
    assert len(at.get("plotly_chart")) == 4
