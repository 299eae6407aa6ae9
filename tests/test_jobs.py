"""The job runner with real worker processes (the built-in selftest kind)."""
from __future__ import annotations

import os
import signal
import time

from storage import jobs as repo
from studio.jobs import (cancel_job, launch_worker, refresh_job_statuses, resume_job, run_job,
                         submit_job)


def _wait(store, job_id, statuses, timeout=30.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        refresh_job_statuses(store)
        with store.session() as s:
            job = repo.get_job(session=s, job_id=job_id)
        if job.status in statuses:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} stayed {job.status}")


def test_job_runs_in_process_and_records_result(settings, store):
    job = submit_job(store, kind="selftest", config={"seconds": 0.3})
    done = run_job(settings, job.id)
    assert done.status == "succeeded"
    assert done.result["steps"] == 3 and done.progress["steps"] == 3


def test_worker_process_cancel_within_seconds(settings, store):
    job = submit_job(store, kind="selftest", config={"seconds": 60})
    launch_worker(settings, job.id)
    _wait(store, job.id, {"running"})
    time.sleep(2.5)
    cancel_job(store, job.id)
    started = time.time()
    done = _wait(store, job.id, {"cancelled"})
    assert time.time() - started < 6
    assert done.progress["steps"] > 0


def test_killed_worker_is_interrupted_then_resumes_where_it_stopped(settings, store):
    job = submit_job(store, kind="selftest", config={"seconds": 8})
    proc = launch_worker(settings, job.id)
    _wait(store, job.id, {"running"})
    time.sleep(3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    dead = _wait(store, job.id, {"interrupted"})
    assert "ended without finishing" in dead.error
    kept = dead.progress["steps"]
    assert kept > 0
    resume_job(settings, store, job.id)
    done = _wait(store, job.id, {"succeeded"}, timeout=60)
    assert done.attempts == 2 and done.result["attempt"] == 2


def test_unknown_job_kind_fails_with_message(settings, store):
    job = submit_job(store, kind="nonsense", config={})
    done = run_job(settings, job.id)
    assert done.status == "failed" and "no handler" in done.error
