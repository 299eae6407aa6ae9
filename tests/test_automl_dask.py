"""Searches on a real Dask cluster (LocalCluster: 2 worker processes, 1 thread each, loopback).

Jobs run through ``studio.jobs.run_job`` with ``STUDIO_DASK_SCHEDULER`` set, as a
worker process would run them; the cluster is shared by the module (the kill test
goes last: the nanny restarts the killed worker).
"""
from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import optuna
import pandas as pd
import pytest

from storage import jobs as repo
from studio.automl import distributed as dist
from studio.automl import service
from studio.automl.engine import Hooks, Search, SearchConfig, new_study
from studio.automl.metrics import get_metric
from studio.automl.task import apply_plan, plan_problem
from studio.jobs import Cancelled, launch_worker, refresh_job_statuses, resume_job, run_job
from studio.registry import load_pipeline, resolve_model_version
from studio.settings import get_settings
from tests.automl_data import binary_frame, save


@pytest.fixture(scope="module")
def cluster():
    from distributed import LocalCluster

    # dashboard off; the scheduler's health endpoint on any free loopback port
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None, scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                      silence_logs=40,
                      # as the README starts workers: model libraries imported at start
                      preload=["studio.automl.distributed"]) as local:
        client = dist.connect(local.scheduler_address)
        client.wait_for_workers(2, timeout=180)
        assert all(client.run(_warmed).values())
        yield local, client
        client.close()


def _warmed() -> bool:
    import sys

    return "xgboost" in sys.modules and "sklearn.ensemble" in sys.modules


@pytest.fixture
def dask_settings(cluster, monkeypatch, studio_home):
    monkeypatch.setenv("STUDIO_DASK_SCHEDULER", cluster[0].scheduler_address)
    return get_settings()


def _slow_frame(rows: int = 1500) -> pd.DataFrame:
    """Forests on this take seconds per trial on one thread: time to kill a worker mid-trial."""
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=rows, n_features=20, n_informative=8, random_state=0)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    frame["label"] = np.where(y == 1, "yes", "no")
    return frame


def _trials(store, job_id):
    with store.session() as s:
        return repo.list_job_trials(session=s, job_id=job_id)


def test_search_job_evaluates_its_trials_on_the_cluster_workers(dask_settings, store, cluster):
    _, client = cluster
    workers = set(client.nthreads())
    save(store, "clinic", binary_frame())
    # the trial limit ends the search (a few seconds); the budget is a safety net
    job = service.start_search(dask_settings, store, dataset="clinic", target="diagnosis",
                               time_budget_s=30, max_trials=7, seed=1, launch=False)
    done = run_job(dask_settings, job.id)
    assert done.status == "succeeded", done.error
    assert done.result["model"] == "clinic:1"
    progress = done.progress["cluster"]
    assert progress["scheduler"] == cluster[0].scheduler_address
    assert progress["workers"] == 2 and progress["threads"] == 2
    assert progress["data"] == "artifacts"  # the workers read the frame from the shared root

    trials = _trials(store, job.id)
    searched = [t for t in trials if t.algorithm != "ensemble"]
    complete = [t for t in searched if t.status == "complete"]
    assert len(complete) >= 3
    assert not [t for t in trials if t.status == "running"]
    ran = [t for t in searched if t.status != "stopped"]  # stopped: maybe never started
    assert {t.extra.get("worker") for t in ran} == workers, [(t.status, t.extra) for t in searched]
    assert all(t.fold_scores and t.fit_time_s is not None for t in complete)
    top = max(complete, key=lambda t: t.score)
    assert top.oof_sha  # out-of-fold predictions came back from the worker (for the ensemble)

    study = optuna.load_study(study_name=job.study_name,
                              storage=service.optuna_storage(dask_settings))
    told = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert len(told) == len([t for t in complete if t.algorithm != "dummy"])
    assert not study.get_trials(states=(optuna.trial.TrialState.RUNNING,))

    best = service.leaderboard(store, done, status="complete", limit=1)[0][0]
    assert best.score == pytest.approx(max(t.score for t in trials if t.status == "complete"))
    model = resolve_model_version(store, "clinic")
    pipeline = load_pipeline(store, model)
    assert pipeline.predict(pd.DataFrame([model.card["example"]]))[0] in ("benign", "malignant")


def test_unreachable_scheduler_fails_the_job_with_a_clear_message(store, monkeypatch):
    import socket

    with socket.socket() as sock:  # a loopback port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setattr(dist, "CONNECT_TIMEOUT_S", 2.0)
    monkeypatch.setenv("STUDIO_DASK_SCHEDULER", f"tcp://127.0.0.1:{port}")
    settings = get_settings()
    save(store, "clinic", binary_frame())
    job = service.start_search(settings, store, dataset="clinic", target="diagnosis",
                               time_budget_s=10, launch=False)
    done = run_job(settings, job.id)
    assert done.status == "failed"
    assert done.error.startswith(f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}")
    assert "Traceback" not in done.error
    assert _trials(store, job.id) == []


class _CancelAfter(Hooks):
    """In-memory hooks whose job is cancelled once ``n`` trials have finished."""

    def __init__(self, n: int):
        super().__init__()
        self.n = n

    @property
    def cancelled(self) -> bool:
        return sum(t["status"] != "running" for t in self.trials.values()) >= self.n

    def check_cancel(self) -> None:
        if self.cancelled:
            raise Cancelled()


def _busy(dask_worker) -> int:
    return len(dask_worker.active_threads)


def test_cancel_reaches_the_trials_in_flight_with_scattered_data(cluster):
    _, client = cluster
    frame = _slow_frame()
    plan = plan_problem(frame, [], "label")
    X, y = apply_plan(frame.drop(columns=["label"]), frame["label"], plan)
    hooks = _CancelAfter(2)
    search = Search(X, y, plan, SearchConfig(time_budget_s=120, algorithms=["rf", "et"]),
                    hooks=hooks)
    study = new_study(get_metric(plan.metric, plan.task), 0, constant_liar=True)
    with pytest.raises(Cancelled):
        dist.run_on_cluster(search, study, client, data="scatter")
    statuses = [t["status"] for t in hooks.trials.values()]
    assert "running" not in statuses
    assert statuses.count("cancelled") >= 1  # trials in flight at the cancel
    assert {t["extra"].get("worker") for t in hooks.trials.values()} <= set(client.nthreads())
    states = {t.state for t in study.trials}
    assert optuna.trial.TrialState.RUNNING not in states
    # the workers stop the cancelled trials (at their next fold or chunk of trees): the
    # threads come free; a trial left running would keep its thread
    deadline = time.time() + 30
    while any(client.run(_busy).values()) and time.time() < deadline:
        time.sleep(0.2)
    assert not any(client.run(_busy).values())


def test_pruning_on_a_worker_decides_as_the_study_pruner():
    study = new_study(get_metric("roc_auc", "binary"), 0)
    rng = np.random.default_rng(0)
    for _ in range(12):
        trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
        for step in range(3):
            trial.report(float(rng.uniform(0.6, 0.9)), step)
        study.tell(trial, 0.8)
    snapshot = {"pruner": study.pruner, "direction": study.direction,
                "completed": [dict(t.intermediate_values) for t in study.trials]}
    for value in (0.55, 0.7, 0.75, 0.8, 0.95):
        local = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
        remote = dist.RemoteTrial(**snapshot)
        local.report(value, 0)
        remote.report(value, 0)
        assert remote.should_prune() == local.should_prune()
        study.tell(local, state=optuna.trial.TrialState.FAIL)


def test_a_killed_job_frees_the_cluster_and_resumes_its_study(dask_settings, store, cluster):
    _, client = cluster
    save(store, "clinic", binary_frame())
    job = service.start_search(dask_settings, store, dataset="clinic", target="diagnosis",
                               time_budget_s=60, max_trials=6, seed=2, launch=False)
    proc = launch_worker(dask_settings, job.id)  # a job process, as the UI starts it
    deadline = time.time() + 60
    while time.time() < deadline:
        done = [t for t in _trials(store, job.id) if t.status == "complete"]
        if len(done) >= 2:
            break
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {t.id for t in _trials(store, job.id) if t.status == "complete"}
    assert len(before) >= 2
    # its client gone, the scheduler cancels its tasks and the workers stop them
    deadline = time.time() + 30
    while any(client.run(_busy).values()) and time.time() < deadline:
        time.sleep(0.2)
    assert not any(client.run(_busy).values())

    resume_job(dask_settings, store, job.id)
    deadline = time.time() + 90
    while time.time() < deadline:
        refresh_job_statuses(store)
        with store.session() as s:
            again = repo.get_job(session=s, job_id=job.id)
        if again.status not in ("queued", "running", "interrupted"):
            break
        time.sleep(0.25)
    assert again.status == "succeeded", again.error
    assert again.attempts == 2 and again.result["model"] == "clinic:1"
    trials = _trials(store, job.id)
    assert before <= {t.id for t in trials if t.status == "complete"}
    assert len([t for t in trials if t.status == "complete"]) > len(before)
    assert not [t for t in trials if t.status == "running"]


def test_a_worker_killed_mid_trial_costs_that_trial_only(dask_settings, store, cluster,
                                                        monkeypatch):
    _, client = cluster
    # workers without the shared mount: the rows are scattered to them, so the kill may
    # also take a copy of the data with it (the job then scatters again and resends)
    monkeypatch.setattr(dist._ClusterLoop, "_workers_see", lambda loop, sha: False)
    pids = client.run(os.getpid)
    save(store, "slow", _slow_frame())
    job = service.start_search(dask_settings, store, dataset="slow", target="label",
                               time_budget_s=60, max_trials=4, algorithms=["rf", "et"],
                               launch=False)
    outcome = {}
    runner = threading.Thread(target=lambda: outcome.update(job=run_job(dask_settings, job.id)))
    runner.start()
    victim = None
    deadline = time.time() + 60
    while victim is None and time.time() < deadline and runner.is_alive():
        for t in _trials(store, job.id):
            if t.status == "running" and t.algorithm != "dummy" and (t.extra or {}).get("worker") in pids:
                victim = t
                break
        else:
            time.sleep(0.1)
    assert victim is not None, "no trial was seen running on a worker"
    killed = victim.extra["worker"]
    os.kill(pids[killed], signal.SIGKILL)
    runner.join(timeout=120)
    assert not runner.is_alive()
    done = outcome["job"]
    assert done.status == "succeeded", done.error
    assert done.result["model"] == "slow:1" and done.progress["cluster"]["data"] == "scatter"
    trials = {t.id: t for t in _trials(store, job.id)}
    assert not [t for t in trials.values() if t.status == "running"]
    hit = trials[victim.id]
    assert hit.extra.get("lost_workers") == [killed], [(t.id, t.status, t.extra) for t in trials.values()]
    if hit.status == "complete":  # retried on another worker, and finished there
        assert hit.extra["worker"] != killed
    others = [t for t in trials.values() if t.id != victim.id and t.algorithm != "ensemble"]
    assert [t for t in others if t.status == "complete"]
