"""The Experiments page (AppTest): history, paged leaderboard, charts, evaluation, actions."""
from __future__ import annotations

from storage import jobs as repo
from studio.automl import service
from studio.jobs import run_job, submit_job
from tests.automl_data import multiclass_frame, save
from tests.conftest import page_test


def test_empty_history_points_to_train(store):
    at = page_test("experiments").run()
    assert not at.exception
    assert any("No searches yet" in i.value for i in at.info)


def test_a_finished_search_shows_trials_charts_and_its_model(settings, store):
    save(store, "wine", multiclass_frame())
    job = service.start_search(settings, store, dataset="wine", target="cultivar",
                               max_trials=4, launch=False)
    assert run_job(settings, job.id).status == "succeeded"
    at = page_test("experiments").run()
    assert not at.exception
    assert any(f"Job {job.id}" in h.value for h in at.subheader)
    frames = [d.value for d in at.dataframe]
    board = next(f for f in frames if "CV score" in f.columns)
    assert len(board) >= 4 and set(board["model"]) >= {"dummy", "hgb"}
    assert len(at.get("plotly_chart")) >= 3  # score by model, score vs fit time, evaluation
    assert any("Confusion" in str(c.proto.spec) or "ROC" in str(c.proto.spec)
               for c in at.get("plotly_chart"))
    at.toggle(key=f"exp_optuna_{job.id}").set_value(True).run()
    assert not at.exception
    assert any("Optimization History" in str(c.proto.spec) for c in at.get("plotly_chart"))


def test_thousands_of_trials_are_paged(store):
    job = submit_job(store, kind="search", config={"mode": "search", "task": "binary",
                                                   "metric": "roc_auc", "dataset": "x:1",
                                                   "target": "y"})
    with store.session() as s:
        for i in range(1200):
            repo.add_trial(session=s, job_id=job.id, algorithm=("xgb", "rf", "linear")[i % 3],
                           params={"i": i}, status="complete", score=i / 1200, fit_time_s=0.1)
    at = page_test("experiments").run()
    assert not at.exception
    board = next(d.value for d in at.dataframe if "CV score" in d.value.columns)
    assert len(board) == 25 and board["CV score"].iloc[0] > board["CV score"].iloc[-1]
    assert "worker" not in board.columns  # a local search: no worker column
    assert any("1,200 trials match" in c.value for c in at.caption)
    at.selectbox(key=f"exp_algo_{job.id}").set_value("rf").run()
    board = next(d.value for d in at.dataframe if "CV score" in d.value.columns)
    assert set(board["model"]) == {"rf"}
    assert any("400 trials match" in c.value for c in at.caption)


def test_rerun_starts_the_same_search_again(settings, store):
    import time

    from studio.jobs import refresh_job_statuses

    save(store, "wine", multiclass_frame())
    job = service.start_search(settings, store, dataset="wine", target="cultivar",
                               max_trials=2, seed=7, launch=False)
    assert run_job(settings, job.id).status == "succeeded"
    at = page_test("experiments").run()
    next(b for b in at.button if b.label == "Start the same search").click().run()
    assert not at.exception
    jobs = service.list_searches(store)
    assert len(jobs) == 2
    again = jobs[0]
    assert again.id != job.id and again.config["seed"] == 7 and again.config["max_trials"] == 2
    assert again.config["target"] == "cultivar" and again.study_name != job.study_name
    deadline = time.time() + 90
    while time.time() < deadline:
        refresh_job_statuses(store)
        if service.get_search(store, again.id).status not in ("queued", "running"):
            break
        time.sleep(0.3)
    assert service.get_search(store, again.id).status == "succeeded"


def test_trials_run_on_a_dask_cluster_show_their_worker(store):
    job = submit_job(store, kind="search", config={"mode": "search", "task": "binary",
                                                   "metric": "roc_auc", "dataset": "x:1",
                                                   "target": "y"})
    workers = ["tcp://10.0.0.5:40001", "tcp://10.0.0.6:40002"]
    with store.session() as s:
        repo.add_trial(session=s, job_id=job.id, algorithm="dummy", params={},
                       status="complete", score=0.5, fit_time_s=0.01)  # ran in the job
        for i in range(4):
            repo.add_trial(session=s, job_id=job.id, algorithm="xgb", params={"i": i},
                           status="complete", score=0.6 + i / 10, fit_time_s=0.1,
                           extra={"worker": workers[i % 2], "host": "node"})
        repo.add_trial(session=s, job_id=job.id, algorithm="rf", params={}, status="complete",
                       score=0.55, fit_time_s=0.1,
                       extra={"worker": workers[1], "lost_workers": ["tcp://10.0.0.7:40003"]})
    at = page_test("experiments").run()
    assert not at.exception
    board = next(d.value for d in at.dataframe if "CV score" in d.value.columns)
    assert "worker" in board.columns
    by_trial = dict(zip(board["trial"], board["worker"]))
    assert by_trial[1] == "—"  # the baseline ran in the job's own process
    assert by_trial[2] == by_trial[4] == workers[0] and by_trial[3] == by_trial[5] == workers[1]
    assert by_trial[6] == "tcp://10.0.0.6:40002 (lost on tcp://10.0.0.7:40003)"
