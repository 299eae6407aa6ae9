"""Search jobs with real worker processes: register, kill -9 and resume, cancel, two at once."""
from __future__ import annotations

import os
import signal
import time

import optuna
import pandas as pd
import pytest

from storage import jobs as repo
from studio.automl import service
from studio.jobs import cancel_job, launch_worker, refresh_job_statuses, resume_job, run_job
from studio.registry import load_pipeline, resolve_model_version
from tests.automl_data import binary_frame, multiclass_frame, regression_frame, save


def _wait(store, job_id, statuses, timeout=90.0, trials=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        refresh_job_statuses(store)
        with store.session() as s:
            job = repo.get_job(session=s, job_id=job_id)
            done = repo.count_trials(session=s, job_id=job_id, status="complete")
        if job.status in statuses and (trials is None or done >= trials):
            return job
        if trials is not None and job.status not in ("queued", "running"):
            raise AssertionError(f"job {job_id} ended {job.status}: {job.error}")
        time.sleep(0.25)
    raise AssertionError(f"job {job_id} stayed {job.status}")


def _trials(store, job_id):
    with store.session() as s:
        return repo.list_job_trials(session=s, job_id=job_id)


def test_search_job_registers_the_best_model_with_its_card(settings, store):
    version = save(store, "clinic", binary_frame())
    job = service.start_search(settings, store, dataset="clinic", target="diagnosis",
                               time_budget_s=60, max_trials=4, seed=3, launch=False)
    done = run_job(settings, job.id)
    assert done.status == "succeeded", done.error
    result = done.result
    assert result["model"] == "clinic:1" and result["task"] == "binary"
    trials = _trials(store, job.id)
    assert {t.status for t in trials} <= {"complete", "pruned", "stopped"}
    assert all(t.algorithm and t.params is not None for t in trials)
    assert any(t.fold_scores and t.fit_time_s is not None and t.predict_ms_per_row is not None
               for t in trials if t.status == "complete")
    model = resolve_model_version(store, "clinic")
    card = model.card
    assert card["classes"] == ["benign", "malignant"] and card["metric"] == "roc_auc"
    assert card["metrics"]["cv"]["roc_auc"] > 0.85 and "roc_auc" in card["metrics"]["holdout"]
    names = [c["name"] for c in card["input_schema"]]
    assert "diagnosis" not in names and "patient_id" in names
    lineage = card["lineage"]
    assert lineage["dataset"] == "clinic:1" and lineage["dataset_version_id"] == version.id
    assert lineage["job_id"] == job.id and lineage["seed"] == 3 and lineage["trial_id"]
    assert "scikit-learn" in card["library_versions"] and model.baseline_sha
    evaluation = service.load_evaluation(store, next(t for t in _trials(store, job.id)
                                                     if t.id == lineage["trial_id"]))
    assert evaluation["confusion_matrix"]["labels"] == ["benign", "malignant"]
    pipeline = load_pipeline(store, model)
    assert pipeline.predict(pd.DataFrame([card["example"]]))[0] in ("benign", "malignant")


def test_killed_worker_is_interrupted_and_resume_continues_the_same_study(settings, store):
    save(store, "wine", multiclass_frame())
    job = service.start_search(settings, store, dataset="wine", target="cultivar",
                               time_budget_s=120, max_trials=7, launch=False)
    proc = launch_worker(settings, job.id)
    _wait(store, job.id, {"running"}, trials=3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    dead = _wait(store, job.id, {"interrupted"})
    assert "ended without finishing" in dead.error
    storage = service.optuna_storage(settings)
    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    before = optuna.load_study(study_name=job.study_name, storage=storage)
    n_before = len(before.get_trials(states=finished))
    finished_before = {t.id for t in _trials(store, job.id) if t.status == "complete"}
    assert n_before >= 2 and len(finished_before) >= 3

    resume_job(settings, store, job.id)
    done = _wait(store, job.id, {"succeeded", "failed"}, timeout=120)
    assert done.status == "succeeded", done.error
    assert done.attempts == 2 and done.result["model"] == "wine:1"
    after = optuna.load_study(study_name=job.study_name, storage=storage)
    assert len(after.get_trials(states=finished)) > n_before  # the same study, continued
    states = {t.state for t in after.trials}
    assert optuna.trial.TrialState.RUNNING not in states
    trials = _trials(store, job.id)
    assert finished_before <= {t.id for t in trials if t.status == "complete"}
    assert not [t for t in trials if t.status == "running"]
    numbers = [t.number for t in trials]
    assert numbers == sorted(set(numbers))


def test_cancel_stops_within_seconds_and_the_best_so_far_can_be_registered(settings, store):
    save(store, "clinic", binary_frame())
    job = service.start_search(settings, store, dataset="clinic", target="diagnosis",
                               time_budget_s=300)
    _wait(store, job.id, {"running"}, trials=2)
    cancel_job(store, job.id)
    done = _wait(store, job.id, {"cancelled"}, timeout=15)
    kept = [t for t in _trials(store, job.id) if t.status == "complete"]
    assert len(kept) >= 2 and done.error is None
    best, _ = service.leaderboard(store, done, status="complete", limit=1)
    reg = service.register_trial(settings, store, job.id, best[0].id, model_name="picked",
                                 launch=False)
    finished = run_job(settings, reg.id)
    assert finished.status == "succeeded", finished.error
    model = resolve_model_version(store, "picked")
    assert model.card["lineage"]["trial_id"] == best[0].id
    assert model.card["lineage"]["job_id"] == job.id


def test_two_searches_at_once_do_not_mix(settings, store):
    save(store, "clinic", binary_frame())
    save(store, "progress", regression_frame())
    a = service.start_search(settings, store, dataset="clinic", target="diagnosis",
                             time_budget_s=120, max_trials=4)
    b = service.start_search(settings, store, dataset="progress", target="progression",
                             time_budget_s=120, max_trials=4)
    done_a = _wait(store, a.id, {"succeeded", "failed"}, timeout=150)
    done_b = _wait(store, b.id, {"succeeded", "failed"}, timeout=150)
    assert done_a.status == done_b.status == "succeeded", (done_a.error, done_b.error)
    assert done_a.result["model"] == "clinic:1" and done_b.result["model"] == "progress:1"
    assert done_a.result["task"] == "binary" and done_b.result["task"] == "regression"
    for job in (done_a, done_b):
        trials = _trials(store, job.id)
        assert trials and all(t.job_id == job.id for t in trials)
        study = optuna.load_study(study_name=job.study_name,
                                  storage=service.optuna_storage(settings))
        assert {t.number for t in study.trials} == set(range(len(study.trials)))


def test_bad_searches_are_refused_before_anything_runs(settings, store):
    from studio.errors import InvalidInput, NotFound

    save(store, "clinic", binary_frame())
    with pytest.raises(InvalidInput, match="no column 'nope'"):
        service.start_search(settings, store, dataset="clinic", target="nope", launch=False)
    with pytest.raises(InvalidInput, match="cannot be predicted as a number"):
        service.start_search(settings, store, dataset="clinic", target="diagnosis",
                             task="regression", launch=False)
    with pytest.raises(InvalidInput, match="time budget"):
        service.start_search(settings, store, dataset="clinic", target="diagnosis",
                             time_budget_s=1, launch=False)
    with pytest.raises(NotFound):
        service.start_search(settings, store, dataset="missing", target="x", launch=False)
    assert service.count_searches(store) == 0


def test_a_recipe_version_trains_on_raw_columns_and_replays_its_steps(settings, store):
    from studio.recipes import apply_recipe

    save(store, "progress", regression_frame(150))
    wrangled = apply_recipe(store, "progress:1", [
        {"kind": "formula", "column": "bmi_x_bp", "expression": "bmi * bp"},
    ])
    job = service.start_search(settings, store, dataset=wrangled.ref, target="progression",
                               max_trials=3, launch=False)
    done = run_job(settings, job.id)
    assert done.status == "succeeded", done.error
    model = resolve_model_version(store, "progress")
    card = model.card
    names = [c["name"] for c in card["input_schema"]]
    assert "bmi_x_bp" not in names and {"bmi", "bp"} <= set(names)  # raw columns only
    assert card["lineage"]["recipe"] and card["lineage"]["dataset"] == wrangled.ref
    pipeline = load_pipeline(store, model)
    assert pipeline.steps[0][0] == "recipe"
    raw = pd.DataFrame([card["example"]])
    assert "bmi_x_bp" not in raw.columns and len(pipeline.predict(raw)) == 1
