"""Several processes writing to one store at once lose nothing (SQLite and PostgreSQL).

Each process is a real separate interpreter (spawned, its own engine and pool), as
workers and service replicas are. They start together at a barrier and each, with no
retry of its own, imports dataset versions, registers model versions, records trials of
one job, publishes to one endpoint and logs predictions (flushing one batch twice, as a
log writer does when a commit's answer is lost). Afterwards every row is counted.
"""
from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

PROCESSES = 4
ROUNDS = 6
LOG_ROWS = 50


def _writer(url: str, artifacts: str, home: str, k: int, job_id: int, barrier) -> None:
    from storage import datasets, jobs, registry, serving
    from storage.store import open_store

    store = open_store(url, Path(artifacts), Path(home), migrate=False)
    barrier.wait(timeout=60)
    for i in range(ROUNDS):
        with store.session() as s:
            datasets.create_dataset_version(session=s, name="shared", data_sha=f"{k}{i}".ljust(64, "0"),
                                            rows=i, cols=k, schema=[])
        with store.session() as s:
            version = registry.create_model_version(
                session=s, name="shared", artifact_sha="a" * 64, card={}, task="binary",
                target="y")
        with store.session() as s:
            jobs.add_trial(session=s, job_id=job_id, algorithm=f"w{k}", status="complete",
                           score=float(i))
        with store.session() as s:
            serving.set_endpoint_version(session=s, name="shared", model_version_id=version.id,
                                         action="publish", actor=f"writer-{k}")
        rows = [(f"r{k}-{i}-{j}", "shared", version.id, 1000.0 + i, 200, 1.5, 1, '{"x": 1}',
                 '{"p": 0}', f"replica-{k}") for j in range(LOG_ROWS)]
        with store.session() as s:
            serving.insert_prediction_logs(session=s, rows=rows)
        if i == 0:  # the same batch again: already logged, skipped
            with store.session() as s:
                serving.insert_prediction_logs(session=s, rows=rows)


def test_processes_writing_at_once_lose_nothing_and_duplicate_nothing(any_store):
    from sqlalchemy import text

    from storage import datasets, jobs, registry, serving

    with any_store.session() as s:
        job = jobs.create_job(session=s, kind="search", config={})
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(PROCESSES)
    procs = [ctx.Process(target=_writer, args=(any_store.url, str(any_store.artifacts.root),
                                               str(any_store.home), k, job.id, barrier))
             for k in range(PROCESSES)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0] * PROCESSES

    total = PROCESSES * ROUNDS
    with any_store.session() as s:
        dataset_versions = datasets.list_dataset_versions(session=s, name="shared")
        model_versions = registry.list_model_versions(session=s, name="shared")
        trials = jobs.list_job_trials(session=s, job_id=job.id)
        endpoint = serving.get_endpoint(session=s, name="shared")
        events = serving.list_endpoint_events(session=s, name="shared")
        logged = serving.count_prediction_logs(session=s, endpoint="shared")
        per_replica = dict(s.exec(text("SELECT replica, COUNT(*) FROM prediction_log "
                                       "GROUP BY replica")).all())
        distinct_ids = s.exec(text("SELECT COUNT(DISTINCT request_id) FROM prediction_log")).one()[0]
    assert sorted(v.version for v in dataset_versions) == list(range(1, total + 1))
    assert sorted(v.version for v in model_versions) == list(range(1, total + 1))
    assert sorted(t.number for t in trials) == list(range(1, total + 1))
    # every publish got its own generation: a replica that saw one also sees the next
    assert endpoint.generation == total and len(events) == total
    assert logged == distinct_ids == total * LOG_ROWS
    assert per_replica == {f"replica-{k}": ROUNDS * LOG_ROWS for k in range(PROCESSES)}


@pytest.mark.parametrize("first", ["publish", "import"])
def test_a_name_created_by_two_transactions_at_once_exists_once(any_store, first):
    """Two sessions both creating the same endpoint / dataset: one row, two versions."""
    import threading

    from storage import datasets, serving

    errors: list[Exception] = []
    barrier = threading.Barrier(2)

    def write(k: int) -> None:
        try:
            barrier.wait(timeout=30)
            with any_store.session() as s:
                if first == "publish":
                    serving.set_endpoint_version(session=s, name="new", model_version_id=None,
                                                 action="unpublish", actor=str(k))
                else:
                    datasets.create_dataset_version(session=s, name="new", data_sha="c" * 64,
                                                    rows=1, cols=1, schema=[])
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with any_store.session() as s:
        if first == "publish":
            assert serving.get_endpoint(session=s, name="new").generation == 2
            assert len(serving.list_endpoints(session=s)) == 1
        else:
            assert [v.version for v in datasets.list_dataset_versions(session=s, name="new")] == [2, 1]
            assert len(datasets.list_datasets(session=s)) == 1
