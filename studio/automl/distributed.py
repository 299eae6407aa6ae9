"""Searches on a Dask cluster: the job keeps the study, the workers evaluate trials.

With ``STUDIO_DASK_SCHEDULER=tcp://HOST:PORT`` a search job connects to that
scheduler (``dask.distributed``) and, instead of evaluating one configuration at
a time, keeps as many trials in flight as the cluster has worker threads:

- the job owns the Optuna study (ask and tell), the Trial table, the time budget
  and cancel; it asks a configuration, submits it as a task, and tells each
  result as it completes (:meth:`Search.record`, the same bookkeeping as a local
  search), so the leaderboard fills in live;
- a worker builds the same :class:`Search` once per job (same rows, folds and
  column kinds: a fingerprint returned with every result proves it), from the
  training frame read from the shared artifact root (``STUDIO_ARTIFACT_ROOT``, a
  network mount) or, when a worker cannot see that file, from a copy scattered
  once to every worker; it cross-validates and returns the scores, the fold
  fit times and the out-of-fold predictions;
- pruning runs on the worker with the study's own pruner against a snapshot of
  the finished trials' fold scores taken when the trial was sent;
- cancel and the deadline cancel the outstanding futures; a worker notices its
  trial was cancelled at the next fold or boosting round and stops; trials that
  did not answer are recorded as cancelled or stopped;
- a worker lost mid-trial: the scheduler runs the task again elsewhere (the
  trial's ``extra.lost_workers`` says so); lost a second time, the trial is
  failed. No future is waited on past the budget, so a lost cluster never
  hangs the job.

The final refit, the ensemble and the registration stay in the job. Without the
setting, :func:`run_search` is exactly ``search.run(study)``.

Dask moves task arguments and results with pickle: run the scheduler and workers
on a network you trust (anyone who can reach the scheduler can run code there).
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import socket
import threading
import time
import uuid
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from studio.automl import candidates as cands
from studio.automl.engine import Hooks, OutOfTime, Search, TrialPruned
from studio.errors import StudioError

log = logging.getLogger("studio.automl.distributed")

TARGET_COLUMN = "__studio_target__"
POLL_S = 0.25              # how often the job looks at cancel, the clock and the workers
CONNECT_TIMEOUT_S = 10.0
NO_WORKERS_WAIT_S = 30.0   # longest wait for a first worker before the job gives up
MAX_LOSSES = 2             # a trial whose worker died this many times is failed
SETUP_FAILURES = 3         # this many workers unable to start a trial, nothing done: give up


class TrialStopped(Exception):
    """Raised on a worker when the job cancelled the trial's future."""


class RemoteError(Exception):
    """An exception from a worker, kept by its type name (``kind``) and message."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def run_search(search: Search, study, settings, *, schema: list[dict] | None = None) -> None:
    """Run the search on the Dask cluster of ``settings.dask_scheduler``, or here."""
    if not settings.dask_scheduler:
        search.run(study)
        return
    client = connect(settings.dask_scheduler)
    try:
        run_on_cluster(search, study, client, schema=schema, artifact_root=settings.artifacts,
                       scheduler=settings.dask_scheduler)
    finally:
        client.close()


def connect(address: str, timeout: float | None = None):
    """A Dask client for ``address``; a clear error when nothing answers there."""
    from distributed import Client

    try:
        return Client(address, timeout=timeout or CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise StudioError(
            f"cannot reach the Dask scheduler at {address} ({exc}). Start one with "
            "`dask scheduler` and workers with `dask worker ADDRESS`, or unset "
            "STUDIO_DASK_SCHEDULER to run searches on this machine") from None


# --- job side ----------------------------------------------------------------------------

@dataclass
class _Running:
    """A trial sent to the cluster and not yet told."""
    trial_id: int
    algo: str
    params: dict
    trial: Any                      # the Optuna trial (None for the dummy baseline)
    future: Any
    worker: str | None = None       # where the scheduler last had it running
    lost: list[str] = field(default_factory=list)
    suspects: list[str] = field(default_factory=list)   # left for another worker: lost?
    sent: int = 0                   # times submitted (a second time after lost data)


def run_on_cluster(search: Search, study, client, *, schema: list[dict] | None = None,
                   artifact_root=None, data: str = "auto", scheduler: str | None = None) -> None:
    """The search loop of :meth:`Search.run`, with trials evaluated on ``client``'s cluster.

    ``data``: ``auto`` (the artifact root when every worker sees the file, else
    scattered), ``artifacts`` or ``scatter``.
    """
    _ClusterLoop(search, study, client, schema=schema, artifact_root=artifact_root,
                 data=data, scheduler=scheduler).run()


class _ClusterLoop:
    def __init__(self, search: Search, study, client, *, schema, artifact_root, data, scheduler):
        self.search, self.study, self.client = search, study, client
        self.schema = list(schema or [])
        self.artifact_root = artifact_root
        self.data = data
        self.scheduler = scheduler or getattr(client.scheduler, "address", None)
        self.tag = uuid.uuid4().hex[:10]
        self.running: dict[str, _Running] = {}      # by task key
        self.fingerprint = fingerprint(search)
        self.setup_errors: list[str] = []
        self.spec: dict = {}
        self.frame: pd.DataFrame | None = None      # kept for a new scatter if the copies are lost
        self.data_future = None
        self.mode = None
        budget = float(search.config.time_budget_s)
        self.grace = max(1.0, min(5.0, 0.05 * budget))

    # the loop -----------------------------------------------------------------------------

    def run(self) -> None:
        import optuna

        search, study = self.search, self.study
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        # ask/tell without Study.optimize: the job's own poll loop stands in for its heartbeat
        warnings.filterwarnings("ignore", message="Heartbeat of storage")
        if not study.trials:
            for params in cands.portfolio(search.task, search.algorithms, search.n_classes):
                if params["algorithm"] != "dummy":
                    study.enqueue_trial(params, skip_if_exists=True)
        try:
            self._ship(self._wait_for_workers())
            search.progress("search")
            if "dummy" in search.algorithms and not any(
                    e.algorithm == "dummy" for e in search.entries.values()):
                self._submit("dummy", {}, None)
            skipped = 0
            while True:
                search.hooks.check_cancel()
                now = time.time()
                search_deadline = search.deadline - search.final_reserve()
                workers = self._watch_workers()
                slots = sum(workers.values())
                over = now >= search_deadline and search.best is not None
                counted = search.n_done + search.n_pruned + search.n_failed + len(self.running)
                full = bool(search.config.max_trials) and counted >= search.config.max_trials
                submitting = not over and not full and skipped < 5 and now < search.deadline
                while submitting and len(self.running) < max(1, slots):
                    asked = search.ask_within(study, search_deadline)
                    if asked is None:
                        skipped += 1
                        submitting = skipped < 5
                        continue
                    skipped = 0
                    trial, algo, params = asked
                    self._submit(algo, params, trial)
                    counted += 1
                    submitting = not (search.config.max_trials and counted >= search.config.max_trials)
                if not self.running and not submitting:
                    break
                # past the budget: what has not answered is stopped (the best so far stands)
                limit = (search_deadline + self.grace) if search.best is not None else search.deadline
                if self.running and time.time() > limit:
                    self._give_up("stopped at the time budget: no answer from the cluster in time")
                    break
                self._collect()
                if self.setup_errors and len(self.setup_errors) >= SETUP_FAILURES and not search.n_done:
                    raise StudioError(
                        "the Dask workers cannot evaluate trials: " + self.setup_errors[-1].rstrip(".")
                        + ". The scheduler and every worker need this Studio's code and libraries: "
                        "start them from its virtualenv with PYTHONPATH set to its folder")
        except BaseException as exc:
            cancelled = exc.__class__.__name__ == "Cancelled"
            self._abandon(cancelled, exc)
            raise
        finally:
            self._cleanup()

    def _collect(self) -> None:
        """Record the trials that answered within one poll (future states are local: no RPC)."""
        until = time.time() + POLL_S
        while True:
            done = [key for key, run in self.running.items() if run.future.done()]
            if done or time.time() >= until:
                break
            time.sleep(0.02)
        for key in done:
            run = self.running.pop(key, None)
            if run is not None:
                self._finish(run)

    # sending ------------------------------------------------------------------------------

    def _wait_for_workers(self) -> dict:
        waited = 0.0
        limit = min(NO_WORKERS_WAIT_S, max(5.0, self.search.deadline - time.time()))
        while True:
            workers = self.client.nthreads()
            if workers:
                return workers
            if waited == 0.0:
                self.search.progress("waiting for Dask workers", cluster={
                    "scheduler": self.scheduler, "workers": 0, "threads": 0})
            if waited >= limit:
                raise StudioError(
                    f"the Dask cluster at {self.scheduler} has no workers: start some with "
                    f"`dask worker {self.scheduler}`")
            self.search.hooks.check_cancel()
            time.sleep(0.5)
            waited += 0.5

    def _ship(self, workers: dict) -> None:
        """Make the training frame reachable from every worker: the artifact root or scatter."""
        search = self.search
        frame = search.X_raw.copy()
        target = TARGET_COLUMN
        while target in frame.columns:
            target += "_"
        frame[target] = search.y_values if search.task == "regression" else search.labels
        # sent with every task (small: no rows), so losing a worker never loses it;
        # the worker needs only each column's semantic type of the schema
        spec = {
            "key": f"{self.tag}-{self.fingerprint}", "target_column": target,
            "plan": search.plan, "config": search.config,
            "schema": [{"name": c.get("name"), "semantic": c.get("semantic")} for c in self.schema],
            "steps": search.rowwise_steps, "fingerprint": self.fingerprint,
            "n_jobs_by_host": self._threads_by_host(workers),
        }
        mode = self.data
        if mode in ("auto", "artifacts"):
            sha = self._write_parquet(frame, target)
            if sha is not None and self._workers_see(sha):
                spec.update(artifact_sha=sha, artifact_root=str(self.artifact_root))
                self.mode = "artifacts"
            elif mode == "artifacts":
                raise StudioError(
                    f"the Dask workers cannot read the artifact root {self.artifact_root}: mount it "
                    "at the same path on every worker, or set STUDIO_ARTIFACT_ROOT for the workers")
        if self.mode is None:
            self.frame = frame
            self._scatter()
            self.mode = "scatter"
        self.spec = spec
        search.hooks.progress(cluster=self._cluster_progress(workers))

    def _scatter(self) -> None:
        """The rows to every worker, once (again only if all copies were lost)."""
        self.data_future = self.client.scatter([self.frame], broadcast=True, hash=False)[0]

    def _write_parquet(self, frame: pd.DataFrame, target: str) -> str | None:
        """The frame as a Parquet artifact, if it reads back exactly (else None: scatter)."""
        if self.artifact_root is None:
            return None
        try:
            buf = io.BytesIO()
            frame.to_parquet(buf, index=False)
            data = buf.getvalue()
            back = pd.read_parquet(io.BytesIO(data))
            if not back.drop(columns=[target]).equals(frame.drop(columns=[target])):
                return None
            if not _same_values(back[target].to_numpy(dtype=object), frame[target].to_numpy(dtype=object)):
                return None
        except Exception:  # noqa: BLE001 - a frame Parquet cannot hold goes by scatter
            return None
        return self.search.hooks.save_bytes(data)

    def _workers_see(self, sha: str) -> bool:
        try:
            seen = self.client.run(_probe_artifact, str(self.artifact_root), sha)
        except Exception:  # noqa: BLE001
            return False
        return bool(seen) and all(seen.values())

    def _threads_by_host(self, workers: dict) -> dict:
        """Threads per model on each host: its cores over its Dask worker threads."""
        from distributed.comm import get_address_host

        threads: dict[str, int] = {}
        for address, n in workers.items():
            host = get_address_host(address)
            threads[host] = threads.get(host, 0) + int(n)
        try:
            cores = self.client.run(_cpu_count)
        except Exception:  # noqa: BLE001
            cores = {}
        per_host = {get_address_host(a): int(c or 1) for a, c in cores.items()}
        return {h: max(1, per_host.get(h, 1) // max(1, t)) for h, t in threads.items()}

    def _submit(self, algo: str, params: dict, trial) -> None:
        trial_id = self.search.hooks.trial_started(algorithm=algo, params=params,
                                                   optuna_number=trial.number if trial else None)
        self._send(_Running(trial_id, algo, params, trial, None))

    def _send(self, run: _Running) -> None:
        search = self.search
        seconds = max(0.5, search.deadline - search.final_reserve() - time.time())
        task = {"trial_id": run.trial_id, "algorithm": run.algo, "params": run.params,
                "seconds_left": seconds, "fold_estimates": dict(search.algo_fold_time),
                "pruning": (self._pruning() if run.trial is not None and len(search.folds) > 1
                            else None)}
        key = f"studio-trial-{self.tag}-{run.trial_id}" + (f"-{run.sent}" if run.sent else "")
        run.future = self.client.submit(evaluate_trial, self.spec, self.data_future, task,
                                        key=key, pure=False)
        run.sent += 1
        self.running[run.future.key] = run

    def _pruning(self) -> dict | None:
        from optuna.trial import TrialState

        complete = self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        return {"pruner": self.study.pruner, "direction": self.study.direction,
                "completed": [dict(t.intermediate_values) for t in complete]}

    # watching -----------------------------------------------------------------------------

    def _watch_workers(self) -> dict:
        """Current workers; notes where each trial runs and which trials lost their worker.

        A worker is lost when it leaves the cluster while a trial was running there (the
        scheduler then runs the task elsewhere). Processing is read before the worker
        list, so a task already moved by the scheduler is seen with its old worker gone;
        a task moved while its old worker stays (work stealing) is checked once more."""
        try:
            processing = self.client.processing() if self.running else {}
            workers = self.client.nthreads()
        except Exception:  # noqa: BLE001 - the scheduler is briefly busy; look again next poll
            return {}
        where = {key: address for address, keys in processing.items() for key in keys}
        for key, run in list(self.running.items()):
            gone = [a for a in run.suspects if a not in workers and a not in run.lost]
            if run.worker and run.worker not in workers and run.worker not in run.lost:
                gone.append(run.worker)
                run.worker = None
            run.suspects = []
            if gone:
                run.lost.extend(gone)
                log.warning("trial %s lost its worker %s", run.trial_id, ", ".join(gone))
                if len(run.lost) >= MAX_LOSSES:
                    self.client.cancel([run.future])
                    self.running.pop(key, None)
                    self.search.record(
                        run.trial_id, run.algo, **self._optuna(run),
                        error=RemoteError("WorkerLost", f"its worker died {len(run.lost)} times "
                                                        "while running it; not tried again"),
                        extra=self._extra(run))
                    continue
            address = where.get(key)
            if address and address != run.worker:
                if run.worker:
                    run.suspects.append(run.worker)
                run.worker = address
                self.search.hooks.trial_finished(run.trial_id, extra=self._extra(run))
            elif gone:
                self.search.hooks.trial_finished(run.trial_id, extra=self._extra(run))
        self.search.hooks.progress(cluster=self._cluster_progress(workers))
        return workers

    def _cluster_progress(self, workers: dict) -> dict:
        return {"scheduler": self.scheduler, "workers": len(workers),
                "threads": int(sum(workers.values())), "data": self.mode,
                "in_flight": len(self.running)}

    def _optuna(self, run: _Running) -> dict:
        """The study and trial to tell (none for the dummy baseline, as in a local search)."""
        return {"study": self.study if run.trial is not None else None, "trial": run.trial}

    @staticmethod
    def _extra(run: _Running, meta: dict | None = None) -> dict:
        extra = {"worker": (meta or {}).get("worker") or run.worker}
        if meta and meta.get("host"):
            extra["host"] = meta["host"]
        if run.lost:
            extra["lost_workers"] = list(run.lost)
        return extra

    # results ------------------------------------------------------------------------------

    def _finish(self, run: _Running) -> None:
        from distributed.client import FutureCancelledError

        search = self.search
        record = self._optuna(run)
        try:
            result = run.future.result()
        except FutureCancelledError as exc:
            # the job pops what it cancels itself: this is the cluster's doing (the scattered
            # rows lost with the workers holding them): send the trial once more
            if run.sent < 2 and time.time() < search.deadline - search.final_reserve():
                if run.worker and run.worker not in run.lost:
                    run.lost.append(run.worker)
                run.worker = None
                if self.frame is not None and (self.data_future is None
                                               or self.data_future.status != "finished"):
                    self._scatter()
                self._send(run)
                return
            why = getattr(exc, "reason", None) or "unknown"
            search.record(run.trial_id, run.algo,
                          error=OutOfTime(f"stopped: the cluster cancelled the task ({why})"),
                          extra=self._extra(run), **record)
            return
        except Exception as exc:  # noqa: BLE001 - KilledWorker, a worker that cannot import us…
            message = f"{type(exc).__name__}: {exc}"
            if type(exc).__name__ != "KilledWorker":
                self.setup_errors.append(message)
            search.record(run.trial_id, run.algo, error=RemoteError(type(exc).__name__, str(exc)),
                          extra=self._extra(run), **record)
            return
        extra = self._extra(run, result)
        outcome = result["outcome"]
        if outcome in ("complete", "pruned") and result.get("fingerprint") != self.fingerprint:
            outcome = "setup_error"
            result["error"] = ("WorkerMismatch: the worker built different folds or columns from "
                               "the same data; run the same Studio version on every worker")
        if outcome == "setup_error":
            self.setup_errors.append(result["error"])
            kind, _, message = result["error"].partition(": ")
            search.record(run.trial_id, run.algo, error=RemoteError(kind, message), extra=extra, **record)
            return
        if outcome in ("complete", "pruned"):
            fold_s = result.get("fold_s")
            if fold_s:
                search.algo_fold_time[run.algo] = max(
                    search.algo_fold_time.get(run.algo, 0.0) * 0.5, float(fold_s))
            scores = result["entry"].fold_scores if outcome == "complete" else result["fold_scores"]
            self._replay_reports(run, scores)
        if outcome == "complete":
            search.record(run.trial_id, run.algo, entry=result["entry"], extra=extra, **record)
        elif outcome == "pruned":
            search.record(run.trial_id, run.algo, error=TrialPruned(result["fold_scores"], result["fit_time_s"]),
                          extra=extra, **record)
        elif outcome in ("out_of_time", "stopped"):
            search.record(run.trial_id, run.algo, error=OutOfTime(result.get("reason") or "stopped"),
                          extra=extra, **record)
        else:
            kind, _, message = str(result.get("error")).partition(": ")
            search.record(run.trial_id, run.algo, error=RemoteError(kind, message), extra=extra, **record)

    def _replay_reports(self, run: _Running, fold_scores: list) -> None:
        """The fold means the worker reported, into the study (its pruner reads them)."""
        if run.trial is None or len(self.search.folds) <= 1:
            return
        for step in range(len(fold_scores)):
            values = np.asarray(fold_scores[: step + 1], dtype="float64")
            if np.isfinite(values).any():
                run.trial.report(float(np.nanmean(values)), step=step)

    # stopping -----------------------------------------------------------------------------

    def _give_up(self, reason: str) -> None:
        """Past the budget: cancel what is still out and record it as stopped."""
        runs = list(self.running.values())
        self.running.clear()
        if runs:
            self.client.cancel([r.future for r in runs], reason=reason)
        for run in runs:
            self.search.record(run.trial_id, run.algo, **self._optuna(run),
                               error=OutOfTime(reason), extra=self._extra(run))

    def _abandon(self, cancelled: bool, exc: BaseException) -> None:
        """Leaving on cancel or an error: cancel the futures, record their trials."""
        runs = list(self.running.values())
        self.running.clear()
        try:
            if runs:
                self.client.cancel([r.future for r in runs])
        except Exception:  # noqa: BLE001 - the cluster may be what failed
            pass
        for run in runs:
            error = exc if cancelled else OutOfTime(f"stopped: the search ended ({type(exc).__name__})")
            try:
                self.search.record(run.trial_id, run.algo, **self._optuna(run),
                                   error=error, extra=self._extra(run))
            except Exception as again:  # noqa: BLE001 - a cancel re-raises: expected here
                if again is not exc:
                    log.warning("could not record trial %s: %s", run.trial_id, again)

    def _cleanup(self) -> None:
        try:
            if self.data_future is not None:
                self.client.cancel([self.data_future])
            if self.spec:
                self.client.run(_forget, self.spec["key"])
        except Exception:  # noqa: BLE001 - the workers drop it when they stop anyway
            pass


# --- worker side ------------------------------------------------------------------------

def dask_setup(server) -> None:
    """``dask worker … --preload studio.automl.distributed``: import the model libraries when
    the worker starts rather than inside the first trial of a job's budget (on the
    scheduler the preload only makes sure it can read the tasks)."""
    from distributed import Worker

    if isinstance(server, Worker):
        import sklearn.ensemble  # noqa: F401
        import sklearn.linear_model  # noqa: F401
        import sklearn.neighbors  # noqa: F401
        try:
            import xgboost  # noqa: F401
        except ImportError:  # searched without it (candidates.available)
            pass


class _WorkerHooks(Hooks):
    """A worker's search hooks: the trial stops when the job cancels its future."""

    def __init__(self):
        super().__init__()
        self._local = threading.local()

    def begin(self, worker, key) -> None:
        self._local.task = (worker, key)

    def end(self) -> None:
        self._local.task = None

    @property
    def cancelled(self) -> bool:
        task = getattr(self._local, "task", None)
        if task is None:
            return False
        worker, key = task
        state = worker.state.tasks.get(key)
        return state is None or state.state == "cancelled"

    def check_cancel(self) -> None:
        if self.cancelled:
            raise TrialStopped("the job stopped this trial")


class _Snapshot:
    """What a pruner reads of a study: its direction and the finished trials."""

    def __init__(self, direction, completed: list[dict]):
        from optuna.trial import TrialState

        self.direction = direction
        self.directions = [direction]
        self._trials = [_Frozen({int(k): float(v) for k, v in values.items()}, TrialState.COMPLETE)
                        for values in completed]

    def get_trials(self, deepcopy: bool = True, states=None):
        if states is None:
            return list(self._trials)
        return [t for t in self._trials if t.state in states]


class _Frozen:
    def __init__(self, intermediate_values: dict, state):
        self.intermediate_values = intermediate_values
        self.state = state

    @property
    def last_step(self):
        return max(self.intermediate_values) if self.intermediate_values else None


class RemoteTrial(_Frozen):
    """The part of an Optuna trial :meth:`Search.evaluate` uses (report, should_prune),
    decided by the study's pruner against a snapshot of its finished trials."""

    def __init__(self, pruner, direction, completed: list[dict]):
        from optuna.trial import TrialState

        super().__init__({}, TrialState.RUNNING)
        self._pruner = pruner
        self._study = _Snapshot(direction, completed)

    def report(self, value: float, step: int) -> None:
        self.intermediate_values[int(step)] = float(value)

    def should_prune(self) -> bool:
        try:
            return bool(self._pruner.prune(self._study, self))
        except Exception:  # noqa: BLE001 - a pruner needing more of the study: no pruning
            return False


_SEARCHES: "OrderedDict[str, tuple[Search, str]]" = OrderedDict()
_SEARCHES_LOCK = threading.Lock()
_KEEP_SEARCHES = 2


def _worker_search(spec: dict, frame: pd.DataFrame | None) -> tuple[Search, str]:
    """This worker's Search for a job (built on its first trial, then reused)."""
    key = spec["key"]
    with _SEARCHES_LOCK:
        hit = _SEARCHES.get(key)
        if hit is not None:
            _SEARCHES.move_to_end(key)
            return hit
        if frame is None:
            frame = _read_artifact(spec["artifact_root"], spec["artifact_sha"])
        target = spec["target_column"]
        search = Search(frame.drop(columns=[target]), frame[target], spec["plan"], spec["config"],
                        schema=spec["schema"], rowwise_steps=spec["steps"], hooks=_WorkerHooks())
        built = (search, fingerprint(search))
        _SEARCHES[key] = built
        while len(_SEARCHES) > _KEEP_SEARCHES:
            _SEARCHES.popitem(last=False)
        return built


def _forget(key: str) -> None:
    with _SEARCHES_LOCK:
        _SEARCHES.pop(key, None)


def _artifact_root(job_root: str):
    """The worker's own ``STUDIO_ARTIFACT_ROOT`` if it has one, else the job's path."""
    from pathlib import Path

    from studio.settings import Settings

    own = Settings().artifact_root
    return Path(own).expanduser() if own else Path(job_root)


def _probe_artifact(job_root: str, sha: str) -> bool:
    root = _artifact_root(job_root)
    return (root / sha[:2] / sha).is_file()


def _read_artifact(job_root: str, sha: str) -> pd.DataFrame:
    from storage.artifacts import ArtifactError, FileArtifacts

    root = _artifact_root(job_root)
    if not root.is_dir():
        raise ArtifactError(f"the artifact root {root} is not mounted on this worker")
    return pd.read_parquet(FileArtifacts(root).path(sha))


def _threads(spec: dict, worker) -> int:
    from distributed.comm import get_address_host

    config = spec["config"]
    if config.n_jobs and config.n_jobs > 0:
        return int(config.n_jobs)
    known = spec.get("n_jobs_by_host", {}).get(get_address_host(worker.address))
    if known:
        return int(known)
    return max(1, _cpu_count() // max(1, worker.state.nthreads))


def _cpu_count() -> int:
    """Cores this process may use (CPU affinity and cgroup quotas counted, as Dask does)."""
    from dask.system import cpu_count

    return int(cpu_count() or 1)


def evaluate_trial(spec: dict, frame: pd.DataFrame | None, task: dict) -> dict:
    """The task: cross-validate one configuration on this worker; an outcome dict."""
    from distributed import get_worker
    from distributed.worker import thread_state

    started = time.time()
    worker = get_worker()
    meta = {"worker": worker.address, "host": socket.gethostname()}
    try:
        search, fp = _worker_search(spec, frame)
    except Exception as exc:  # noqa: BLE001 - reported to the job, which gives up if all fail
        return {"outcome": "setup_error", "error": f"{type(exc).__name__}: {exc}"[:500], **meta}
    meta["fingerprint"] = fp
    hooks: _WorkerHooks = search.hooks  # type: ignore[assignment]
    hooks.begin(worker, getattr(thread_state, "key", None))
    algo = task["algorithm"]
    try:
        search.n_jobs = _threads(spec, worker)
        for name, seconds in task.get("fold_estimates", {}).items():
            search.algo_fold_time.setdefault(name, seconds)
        pruning = task.get("pruning")
        trial = RemoteTrial(**pruning) if pruning else None
        try:
            entry = search.evaluate(algo, task["params"], trial=trial,
                                    search_deadline=started + float(task["seconds_left"]))
        except TrialPruned as exc:
            fold_scores, fit_total = exc.args
            return {"outcome": "pruned", "fold_scores": [float(s) for s in fold_scores],
                    "fit_time_s": float(fit_total), "fold_s": search.algo_fold_time.get(algo), **meta}
        except OutOfTime as exc:
            return {"outcome": "out_of_time", "reason": str(exc), **meta}
        except TrialStopped:
            return {"outcome": "stopped", "reason": "stopped: the job cancelled this trial", **meta}
        except Exception as exc:  # noqa: BLE001 - one bad configuration fails one trial
            return {"outcome": "error", "error": f"{type(exc).__name__}: {exc}"[:500], **meta}
        return {"outcome": "complete", "entry": entry, "fold_s": search.algo_fold_time.get(algo), **meta}
    finally:
        hooks.end()


# --- both sides ---------------------------------------------------------------------------

def fingerprint(search: Search) -> str:
    """A short hash of what a trial's scores depend on: rows, folds, targets, column kinds."""
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(search.search_pos, dtype=np.int64).tobytes())
    for tr, va in search.folds:
        digest.update(np.ascontiguousarray(tr, dtype=np.int64).tobytes())
        digest.update(np.ascontiguousarray(va, dtype=np.int64).tobytes())
    digest.update(np.ascontiguousarray(search.ys).tobytes())
    digest.update(json.dumps([search.task, search.metric.name, search.features, search.kinds,
                              [str(c) for c in (search.classes or [])], bool(search.balanced),
                              list(map(str, search.X.columns))], sort_keys=True).encode())
    return digest.hexdigest()[:16]


def _same_values(a: np.ndarray, b: np.ndarray) -> bool:
    if len(a) != len(b):
        return False
    return bool(pd.Series(a, dtype=object).equals(pd.Series(b, dtype=object)))
