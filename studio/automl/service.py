"""AutoML use cases for the pages and the CLI: plan, start, follow, register, rerun.

Everything long runs as a job (``studio.jobs``) in a worker process; these
functions only read the store or submit jobs, so they are safe to call from a
Streamlit script.
"""
from __future__ import annotations

import json
import uuid
import warnings
from typing import Any

import pandas as pd

from storage import jobs as job_repo
from storage.jobs import JobPublic, TrialPublic
from storage.store import Store
from studio.automl.metrics import get_metric
from studio.automl.task import Plan, plan_problem
from studio.errors import Conflict, InvalidInput, NotFound
from studio.settings import Settings

DEFAULT_BUDGET_S = 60.0
MAX_BUDGET_S = 24 * 3600.0
CLASS_WEIGHTS = ("auto", "balanced", "none")


# --- data ----------------------------------------------------------------------------

def resolve_dataset(store: Store, ref: str | None = None, version_id: int | None = None):
    from studio import datasets

    if version_id is not None:
        return datasets.get_version_by_id(store, version_id)
    if not ref:
        raise InvalidInput("choose a dataset (NAME or NAME:VERSION)")
    return datasets.resolve_version(store, ref)


def load_version_frame(store: Store, version) -> pd.DataFrame:
    from studio import datasets

    return datasets.load_frame(store, version)


def training_input(store: Store, version, target: str) -> tuple[pd.DataFrame, pd.Series, list]:
    """(raw input columns, target, row-wise recipe steps) for a dataset version.

    Uses the recipes engine when it is there; a version without a recipe is
    its frame minus the target, with no steps.
    """
    try:
        from studio.recipes import training_input as recipe_input
    except ImportError:
        recipe_input = None
    if recipe_input is not None:
        X_raw, y, steps = recipe_input(store, version, target)
        return X_raw, y, list(steps or [])
    frame = load_version_frame(store, version)
    if target not in frame.columns:
        raise InvalidInput(f"there is no column '{target}' in {version.ref}")
    return frame.drop(columns=[target]), frame[target], []


def _target_checks(frame: pd.DataFrame, schema: list[dict], target: str, task: str | None):
    try:
        from studio.datasets import target_checks
    except ImportError:
        return None
    try:
        return target_checks(frame, schema, target, task)
    except Exception:  # noqa: BLE001 - the profile's checks are advice; ours still run
        return None


def plan_for(store: Store, version, target: str, *, task: str | None = None,
             metric: str | None = None, options: dict | None = None,
             frame: pd.DataFrame | None = None) -> Plan:
    """Detect the task and check the data for ``target`` of a dataset version."""
    if frame is None:
        frame = load_version_frame(store, version)
    schema = version.schema_ or []
    if not target:
        raise InvalidInput("choose the target column: the one to predict")
    checks = _target_checks(frame, schema, target, task) if target in frame.columns else None
    return plan_problem(frame, schema, target, task=task, metric=metric, options=options,
                        target_checks=checks)


# --- starting searches ---------------------------------------------------------------------

def search_config(*, version, target: str, task: str | None = None, metric: str | None = None,
                  time_budget_s: float = DEFAULT_BUDGET_S, max_trials: int | None = None,
                  seed: int = 0, class_weight: str = "auto", options: dict | None = None,
                  model_name: str | None = None, register: bool = True,
                  algorithms: list[str] | None = None) -> dict:
    """The JSON configuration of a search job, validated."""
    from studio.names import validate_name

    try:
        budget = float(time_budget_s)
    except (TypeError, ValueError):
        raise InvalidInput("the time budget must be a number of seconds") from None
    if not 5 <= budget <= MAX_BUDGET_S:
        raise InvalidInput("the time budget must be between 5 seconds and 24 hours")
    if max_trials is not None and int(max_trials) < 1:
        raise InvalidInput("the trial budget must be at least 1 (or empty for no limit)")
    if class_weight not in CLASS_WEIGHTS:
        raise InvalidInput(f"class weighting must be one of {', '.join(CLASS_WEIGHTS)}")
    if model_name:
        validate_name(model_name, "model name")
    return {
        "mode": "search", "dataset": version.ref, "dataset_version_id": version.id,
        "target": target, "task": task or None, "metric": metric or None,
        "time_budget_s": budget, "max_trials": int(max_trials) if max_trials else None,
        "seed": int(seed), "class_weight": class_weight, "options": dict(options or {}),
        "model_name": model_name or None, "register": bool(register),
        "algorithms": list(algorithms) if algorithms else None,
    }


def start_search(settings: Settings, store: Store, *, dataset: str | None = None,
                 version_id: int | None = None, target: str, launch: bool = True,
                 **kwargs: Any) -> JobPublic:
    """Check everything, then submit a search job and start its worker.

    Raises :class:`InvalidInput` (nothing submitted) when a precondition fails.
    """
    from studio.jobs import launch_worker, submit_job

    version = resolve_dataset(store, dataset, version_id)
    config = search_config(version=version, target=target, **kwargs)
    plan = plan_for(store, version, target, task=config["task"], metric=config["metric"],
                    options=config["options"])
    plan.raise_if_blocked()
    config["task"] = plan.task
    config["metric"] = plan.metric
    job = submit_job(store, kind="search", config=config,
                     name=f"{version.ref} → {target}"[:128], dataset_version_id=version.id,
                     study_name=f"search-{uuid.uuid4().hex[:12]}")
    if launch:
        launch_worker(settings, job.id)
    return job


def rerun_search(settings: Settings, store: Store, job_id: int, *, dataset: str | None = None,
                 launch: bool = True) -> JobPublic:
    """The same configuration again, optionally on another (newer) dataset version."""
    job = get_search(store, job_id)
    config = dict(job.config)
    if config.get("mode") != "search":
        raise InvalidInput(f"job {job_id} is not a search; only searches can be rerun")
    ref = dataset or config["dataset"]
    keys = ("task", "metric", "time_budget_s", "max_trials", "seed", "class_weight", "options",
            "model_name", "register", "algorithms")
    return start_search(settings, store, dataset=ref, target=config["target"], launch=launch,
                        **{k: config.get(k) for k in keys if k in config and config.get(k) is not None})


def register_trial(settings: Settings, store: Store, job_id: int, trial_id: int, *,
                   model_name: str | None = None, launch: bool = True) -> JobPublic:
    """Fit and register any leaderboard entry of a search (runs as a job)."""
    from studio.jobs import launch_worker, submit_job
    from studio.names import validate_name

    job = get_search(store, job_id)
    with store.session() as session:
        trial = job_repo.get_trial(session=session, trial_id=trial_id)
    if trial is None or trial.job_id != job_id:
        raise NotFound(f"trial {trial_id} is not part of job {job_id}")
    if trial.status != "complete":
        raise InvalidInput(f"trial {trial.number} is {trial.status}; only complete trials can "
                           "be registered")
    if model_name:
        validate_name(model_name, "model name")
    config = {"mode": "register", "source_job_id": job_id, "trial_id": trial_id,
              "model_name": model_name or job.config.get("model_name"),
              "dataset": job.config.get("dataset")}
    new = submit_job(store, kind="search", config=config,
                     name=f"register trial {trial.number} of job {job_id}"[:128],
                     dataset_version_id=job.dataset_version_id)
    if launch:
        launch_worker(settings, new.id)
    return new


# --- reading searches ---------------------------------------------------------------------

def get_search(store: Store, job_id: int) -> JobPublic:
    with store.session() as session:
        job = job_repo.get_job(session=session, job_id=int(job_id))
    if job is None or job.kind != "search":
        raise NotFound(f"search job {job_id} does not exist")
    return job


def list_searches(store: Store, *, status: str | None = None, limit: int = 50,
                  offset: int = 0) -> list[JobPublic]:
    with store.session() as session:
        return job_repo.list_jobs(session=session, kind="search", status=status, limit=limit,
                                  offset=offset)


def count_searches(store: Store, *, status: str | None = None) -> int:
    with store.session() as session:
        return job_repo.count_jobs(session=session, kind="search", status=status)


def higher_is_better(job: JobPublic) -> bool:
    metric, task = job.config.get("metric"), job.config.get("task")
    if not task:
        return True
    return get_metric(metric, task).greater_is_better


def leaderboard(store: Store, job: JobPublic, *, sort: str = "score", status: str | None = None,
                algorithm: str | None = None, limit: int = 20, offset: int = 0,
                descending: bool | None = None) -> tuple[list[TrialPublic], int]:
    """(one page of trials, how many match) — paged in SQL."""
    with store.session() as session:
        rows = job_repo.list_trials_sorted(
            session=session, job_id=job.id, sort=sort, higher_is_better=higher_is_better(job),
            descending=descending, status=status, algorithm=algorithm, limit=limit, offset=offset)
        total = job_repo.count_trials_filtered(session=session, job_id=job.id, status=status,
                                               algorithm=algorithm)
    return rows, total


def trial_points(store: Store, job_id: int, limit: int = 5000) -> list[dict]:
    with store.session() as session:
        return job_repo.list_trial_points(session=session, job_id=job_id, limit=limit)


def trial_summary(store: Store, job_id: int) -> dict:
    with store.session() as session:
        return {"algorithms": job_repo.trial_algorithms(session=session, job_id=job_id),
                "statuses": job_repo.trial_status_counts(session=session, job_id=job_id)}


def get_trials(store: Store, trial_ids: list[int]) -> list[TrialPublic]:
    with store.session() as session:
        return job_repo.get_trials(session=session, trial_ids=[int(i) for i in trial_ids])


def load_evaluation(store: Store, trial: TrialPublic) -> dict | None:
    """The stored evaluation (curves, matrix, residuals, importance) of a finalized trial."""
    sha = (trial.extra or {}).get("evaluation_sha")
    if not sha:
        return None
    from storage.artifacts import ArtifactError
    from studio.errors import IntegrityError

    try:
        return json.loads(store.artifacts.read_bytes(sha))
    except ArtifactError as exc:
        raise IntegrityError(f"evaluation of trial {trial.number}: {exc}") from None


def optuna_study(settings: Settings, job: JobPublic):
    """The job's Optuna study (read-only use: plots), or None if it has none yet."""
    import optuna

    if not job.study_name:
        return None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        return optuna.load_study(study_name=job.study_name, storage=optuna_storage(settings))
    except KeyError:
        return None


_storages: dict[str, Any] = {}


def optuna_storage(settings: Settings):
    """Optuna's RDB storage with heartbeats: a dead worker's trials are failed, not stuck."""
    import optuna

    url = settings.optuna_storage
    storage = _storages.get(url)
    if storage is None:
        kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {"pool_pre_ping": True}
        last = None
        for _ in range(5):  # two workers creating the tables at once: retry the loser
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                    storage = optuna.storages.RDBStorage(url, engine_kwargs=kwargs,
                                                         heartbeat_interval=5, grace_period=20)
                break
            except Exception as exc:  # noqa: BLE001
                last = exc
                import time

                time.sleep(0.5)
        if storage is None:
            raise last  # type: ignore[misc]
        _storages[url] = storage
    return storage


def job_summary(job: JobPublic) -> dict:
    """What a person wants to see about a search at a glance."""
    progress, config, result = job.progress or {}, job.config or {}, job.result or {}
    return {
        "id": job.id, "status": job.status, "dataset": config.get("dataset"),
        "target": config.get("target"), "task": config.get("task"), "metric": config.get("metric"),
        "budget_s": config.get("time_budget_s"), "mode": config.get("mode", "search"),
        "trials": progress.get("trials_done", 0), "best_score": progress.get("best_score"),
        "best_algorithm": progress.get("best_algorithm"), "elapsed_s": progress.get("elapsed_s"),
        "phase": progress.get("phase"), "model": result.get("model"), "error": job.error,
        "created_at": job.created_at,
    }
