"""The Batch predict page (AppTest): empty state, a dataset version through a model as a real
job (worker process), progress, then the result to download."""
from __future__ import annotations

import time

from storage import jobs as job_repo
from studio.datasets import save_version
from tests.conftest import page_test
from tests.model_factory import make_frame, register_test_model


def test_no_models_says_what_to_do(store):
    at = page_test("predict").run()
    assert not at.exception
    assert "No models yet" in at.info[0].value


def test_dataset_version_through_a_model_as_a_job(store):
    register_test_model(store, name="churn", algorithm="logistic", n=120)
    save_version(store, name="scoring", frame=make_frame(30, seed=5).drop(columns=["target"]))
    at = page_test("predict", timeout=60).run()
    assert not at.exception
    at.radio(key="predict_source").set_value("A dataset version").run()
    assert not at.button(key="predict_run").disabled
    at.button(key="predict_run").click().run()
    assert not at.exception
    deadline = time.time() + 60
    while time.time() < deadline:
        with store.session() as session:
            jobs = job_repo.list_jobs(session=session, kind="batch_transform")
        if jobs and jobs[0].status not in ("queued", "running"):
            break
        time.sleep(0.2)
    assert jobs[0].status == "succeeded", jobs[0].error
    at.run()
    assert not at.exception
    assert "30 rows predicted by churn:1" in at.success[0].value
    preview = at.dataframe[-1].value
    assert list(preview.columns)[-3:] == ["prediction", "proba_no", "proba_yes"] and len(preview) == 20


def test_a_failing_job_shows_its_reason(store):
    register_test_model(store, name="churn", algorithm="logistic", n=120)
    save_version(store, name="wrong", frame=make_frame(10, seed=5)[["num_0", "cat_0"]])
    at = page_test("predict", timeout=60).run()
    at.radio(key="predict_source").set_value("A dataset version").run()
    at.button(key="predict_run").click().run()
    deadline = time.time() + 60
    while time.time() < deadline:
        with store.session() as session:
            job = job_repo.list_jobs(session=session, kind="batch_transform")[0]
        if job.status not in ("queued", "running"):
            break
        time.sleep(0.2)
    at.run()
    assert "failed" in at.error[0].value and "is missing" in at.error[0].value
