"""The Train page (AppTest): empty state, detection and checks, start, follow a finished job."""
from __future__ import annotations

import time

import numpy as np
import pandas as pd

from storage import jobs as repo
from studio.automl import service
from studio.jobs import cancel_job, refresh_job_statuses, run_job
from tests.automl_data import binary_frame, save
from tests.conftest import page_test


def _wait_finished(store, job_id, timeout=90):
    deadline = time.time() + timeout
    while time.time() < deadline:
        refresh_job_statuses(store)
        with store.session() as s:
            job = repo.get_job(session=s, job_id=job_id)
        if job.status not in ("queued", "running"):
            return job
        time.sleep(0.3)
    cancel_job(store, job_id)
    raise AssertionError(f"job {job_id} did not finish")


def test_empty_studio_points_to_datasets(store):
    at = page_test("train").run()
    assert not at.exception
    assert any("No dataset yet" in i.value for i in at.info)


def test_choosing_a_target_shows_the_task_the_checks_and_starts_a_search(store):
    version = save(store, "clinic", binary_frame(120))
    at = page_test("train").run()
    assert not at.exception
    assert any("Choose the target" in i.value for i in at.info)
    at.selectbox(key=f"train_target_{version.id}").set_value("diagnosis").run()
    assert not at.exception
    assert any("Task: binary" in m.value for m in at.markdown)
    assert any("patient\\_id" in i.value or "patient_id" in i.value for i in at.info)
    assert at.selectbox(key=f"train_metric_{version.id}_diagnosis_None").value == "roc_auc"
    at.number_input(key="train_trials").set_value(2).run()
    start = next(b for b in at.button if b.label == "Start search")
    assert not start.disabled
    start.click().run()
    assert not at.exception
    jobs = service.list_searches(store)
    assert len(jobs) == 1 and jobs[0].config["target"] == "diagnosis"
    assert jobs[0].config["max_trials"] == 2
    assert any(f"Job {jobs[0].id}" in h.value for h in at.subheader)
    done = _wait_finished(store, jobs[0].id)
    assert done.status == "succeeded", done.error


def test_a_blocking_check_disables_start(store):
    frame = pd.DataFrame({"x": np.arange(40.0), "label": ["same"] * 40})
    version = save(store, "flat", frame)
    at = page_test("train").run()
    at.selectbox(key=f"train_target_{version.id}").set_value("label").run()
    assert not at.exception
    assert any("only one value" in e.value for e in at.error)
    assert next(b for b in at.button if b.label == "Start search").disabled


def test_following_a_finished_search_shows_model_and_leaderboard(settings, store):
    save(store, "clinic", binary_frame(150))
    job = service.start_search(settings, store, dataset="clinic", target="diagnosis",
                               max_trials=3, launch=False)
    assert run_job(settings, job.id).status == "succeeded"
    at = page_test("train")
    at.session_state["job_id"] = job.id
    at.run()
    assert not at.exception
    assert any("Registered model clinic:1" in s.value for s in at.success)
    assert at.dataframe and len(at.dataframe[0].value) >= 2
