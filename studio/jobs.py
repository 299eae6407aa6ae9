"""Background jobs: submitted to the store, run by worker processes.

A job never runs in the Streamlit script thread. The page (or CLI) submits a
job and launches ``python -m studio worker JOB`` detached; the worker claims
it, sends heartbeats with progress every couple of seconds, watches the cancel
flag, and records the outcome. A worker that dies stops its heartbeat, so the
job shows as *interrupted* and can be resumed.

Handlers register by kind: ``HANDLERS[kind] = "module:function"``; the function
takes a :class:`JobContext` and returns a result dict.
"""
from __future__ import annotations

import importlib
import os
import socket
import subprocess
import sys
import threading
import time
import traceback
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable

from storage import jobs as job_repo
from storage.jobs import JobPublic
from storage.store import Store
from studio import open_store
from studio.errors import Conflict, NotFound, StudioError
from studio.settings import Settings

HEARTBEAT_S = 2.0
STALE_AFTER = timedelta(seconds=20)

HANDLERS: dict[str, str] = {
    "search": "studio.automl.job:run_search_job",
    "batch_transform": "studio.batch:run_batch_job",
    "monitor_check": "studio.monitor.job:run_check_job",
    "selftest": "studio.jobs:run_selftest_job",
}


class Cancelled(Exception):
    """Raised inside a handler (by :meth:`JobContext.check_cancel`) to stop early."""


class JobContext:
    """What a running handler sees: its job, the store, progress and cancel."""

    def __init__(self, settings: Settings, store: Store, job: JobPublic):
        self.settings = settings
        self.store = store
        self.job = job
        self.config: dict = job.config
        self._progress: dict = dict(job.progress or {})
        self._cancel = threading.Event()
        self._dirty = threading.Event()
        self._lock = threading.Lock()

    @property
    def job_id(self) -> int:
        return self.job.id

    def progress(self, **values: Any) -> None:
        """Merge values into the job's progress; written with the next heartbeat."""
        with self._lock:
            self._progress.update(values)
        self._dirty.set()

    def progress_snapshot(self) -> dict:
        with self._lock:
            return dict(self._progress)

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check_cancel(self) -> None:
        if self._cancel.is_set():
            raise Cancelled()

    def flush(self) -> None:
        """Write progress now (e.g. before a long step) and refresh the cancel flag."""
        with self.store.session() as session:
            if job_repo.heartbeat(session=session, job_id=self.job_id,
                                  progress=self.progress_snapshot()):
                self._cancel.set()


def _load_handler(kind: str) -> Callable[[JobContext], dict]:
    target = HANDLERS.get(kind)
    if target is None:
        raise StudioError(f"no handler for job kind '{kind}'")
    module, _, func = target.partition(":")
    return getattr(importlib.import_module(module), func)


def submit_job(
    store: Store, *, kind: str, config: dict, name: str = "",
    dataset_version_id: int | None = None, study_name: str | None = None,
) -> JobPublic:
    with store.session() as session:
        return job_repo.create_job(
            session=session, kind=kind, config=config, name=name,
            dataset_version_id=dataset_version_id, study_name=study_name,
        )


def worker_env(settings: Settings) -> dict[str, str]:
    """The environment a child process needs to open the same store."""
    env = dict(os.environ)
    env["STUDIO_HOME"] = str(settings.home)
    if settings.database_url:
        env["STUDIO_DATABASE_URL"] = settings.database_url
    if settings.artifact_root:
        env["STUDIO_ARTIFACT_ROOT"] = str(settings.artifact_root)
    if settings.optuna_url:
        env["STUDIO_OPTUNA_URL"] = settings.optuna_url
    if settings.dask_scheduler:
        env["STUDIO_DASK_SCHEDULER"] = settings.dask_scheduler
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "") if env.get("PYTHONPATH") else root
    return env


def launch_worker(settings: Settings, job_id: int) -> subprocess.Popen:
    """Start ``python -m studio worker JOB`` detached from the caller."""
    log_dir = settings.home / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log = open(log_dir / f"job-{job_id}.log", "ab")
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "studio", "worker", str(job_id)],
            env=worker_env(settings), stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
            cwd=str(Path(__file__).resolve().parent.parent),
        )
    finally:
        log.close()


def start_job(settings: Settings, store: Store, **kwargs: Any) -> JobPublic:
    """Submit a job and launch a worker for it."""
    job = submit_job(store, **kwargs)
    launch_worker(settings, job.id)
    return job


def _heartbeat_loop(ctx: JobContext, stop: threading.Event) -> None:
    while not stop.wait(HEARTBEAT_S):
        try:
            ctx.flush()
        except Exception:  # a busy store must not kill the job; try again next beat
            pass


def run_job(settings: Settings, job_id: int) -> JobPublic:
    """Claim and run one job in this process; returns its final state."""
    store = open_store(settings)
    with store.session() as session:
        job = job_repo.get_job(session=session, job_id=job_id)
        if job is None:
            raise NotFound(f"job {job_id} does not exist")
        if not job_repo.claim_job(session=session, job_id=job_id, pid=os.getpid(),
                                  host=socket.gethostname()):
            raise Conflict(f"job {job_id} is {job.status}, not queued; nothing to run")
    with store.session() as session:
        job = job_repo.get_job(session=session, job_id=job_id)
    ctx = JobContext(settings, store, job)
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat_loop, args=(ctx, stop), daemon=True)
    beat.start()
    status, result, error = "succeeded", None, None
    try:
        result = _load_handler(job.kind)(ctx)
        if ctx.cancelled:
            status = "cancelled"
    except Cancelled:
        status = "cancelled"
    except StudioError as exc:
        status, error = "failed", str(exc)
    except Exception as exc:  # noqa: BLE001 - recorded for the user, with the trace in the log
        traceback.print_exc()
        status, error = "failed", f"{type(exc).__name__}: {exc}"
    finally:
        stop.set()
        beat.join(timeout=5)
    with store.session() as session:
        job_repo.finish_job(session=session, job_id=job_id, status=status, result=result,
                            error=error, progress=ctx.progress_snapshot())
        return job_repo.get_job(session=session, job_id=job_id)


def serve_queue(settings: Settings, kinds: list[str] | None = None, once: bool = False,
                poll_s: float = 1.0) -> None:
    """Run queued jobs one after another until interrupted (or the queue is empty with once)."""
    store = open_store(settings)
    while True:
        refresh_job_statuses(store)
        with store.session() as session:
            job_id = job_repo.next_queued_job_id(session=session, kinds=kinds)
        if job_id is None:
            if once:
                return
            time.sleep(poll_s)
            continue
        try:
            run_job(settings, job_id)
        except Conflict:
            continue  # another worker claimed it first


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped) is not alive
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def refresh_job_statuses(store: Store) -> None:
    """Mark running jobs whose worker is gone as interrupted.

    On this host a dead pid is conclusive at once; elsewhere a stale heartbeat.
    """
    host = socket.gethostname()
    with store.session() as session:
        job_repo.mark_stale_jobs(session=session, older_than=STALE_AFTER)
        for job in job_repo.list_jobs(session=session, status="running", limit=1000):
            if job.host == host and not pid_alive(job.pid):
                job_repo.mark_job_interrupted(
                    session=session, job_id=job.id,
                    reason="the worker process ended without finishing (killed or crashed)",
                )


def cancel_job(store: Store, job_id: int) -> str:
    with store.session() as session:
        status = job_repo.request_cancel(session=session, job_id=job_id)
    if status is None:
        raise NotFound(f"job {job_id} does not exist")
    return status


def resume_job(settings: Settings, store: Store, job_id: int) -> JobPublic:
    """Requeue an interrupted/failed/cancelled job and launch a worker for it."""
    refresh_job_statuses(store)
    with store.session() as session:
        job = job_repo.get_job(session=session, job_id=job_id)
        if job is None:
            raise NotFound(f"job {job_id} does not exist")
        if not job_repo.requeue_job(session=session, job_id=job_id):
            raise Conflict(f"job {job_id} is {job.status}; only interrupted, failed or "
                           "cancelled jobs can be resumed")
    launch_worker(settings, job_id)
    with store.session() as session:
        return job_repo.get_job(session=session, job_id=job_id)


def run_selftest_job(ctx: JobContext) -> dict:
    """A job that only waits: proves workers, heartbeats, cancel and resume work."""
    seconds = float(ctx.config.get("seconds", 1.0))
    done = int(ctx.progress_snapshot().get("steps", 0))
    steps = max(1, round(seconds / 0.1))
    for step in range(done, steps):
        ctx.check_cancel()
        time.sleep(0.1)
        ctx.progress(steps=step + 1, total=steps)
    return {"steps": steps, "attempt": ctx.job.attempts}
