"""The ``search`` job: run an AutoML search in a worker and register the best model.

Two modes share the handler (``config["mode"]``):

- ``search``: plan → Optuna search (every trial recorded in the Trial table) →
  ensemble selection → final fit with holdout evaluation → registration;
- ``register``: fit and register one chosen leaderboard entry of an earlier search.

Resume: the Optuna study is loaded by name (``load_if_exists``), trials left
running by a dead worker are failed (in Optuna and in our table), finished
trials are restored (with their out-of-fold predictions) and the search goes
on with what is left of the budget.
"""
from __future__ import annotations

import json
import time
from typing import Any

import numpy as np

from storage import jobs as job_repo
from studio.automl import service
from studio.automl.engine import Entry, FinalModel, Hooks, Search, SearchConfig, new_study
from studio.automl.metrics import get_metric
from studio.automl.task import apply_plan
from studio.schema import json_safe


class JobHooks(Hooks):
    """Trials to the Trial table, artifacts to the store, progress to the job."""

    def __init__(self, ctx):
        super().__init__()
        self.ctx = ctx
        self.store = ctx.store

    def check_cancel(self) -> None:
        self.ctx.check_cancel()

    @property
    def cancelled(self) -> bool:
        return self.ctx.cancelled

    def progress(self, **values: Any) -> None:
        self.ctx.progress(**values)

    def trial_started(self, *, algorithm: str, params: dict, optuna_number: int | None) -> int:
        with self.store.session() as session:
            trial = job_repo.add_trial(session=session, job_id=self.ctx.job_id, algorithm=algorithm,
                                       params=_safe(params), status="running",
                                       optuna_number=optuna_number)
        return trial.id

    def trial_finished(self, trial_id: int, **fields: Any) -> None:
        with self.store.session() as session:
            job_repo.update_trial(session=session, trial_id=trial_id, **_safe(fields))

    def save_bytes(self, data: bytes) -> str:
        return self.store.artifacts.put_bytes(data)

    def load_bytes(self, sha: str) -> bytes:
        return self.store.artifacts.read_bytes(sha)


def _safe(value: Any) -> Any:
    return json.loads(json.dumps(value, default=json_safe))


def _search_for(ctx, config: dict, hooks: Hooks, deadline: float | None):
    """Load the data of a search configuration and build its Search."""
    store = ctx.store
    version = service.resolve_dataset(store, version_id=config["dataset_version_id"])
    frame = service.load_version_frame(store, version)
    plan = service.plan_for(store, version, config["target"], task=config.get("task"),
                            metric=config.get("metric"), options=config.get("options"), frame=frame)
    plan.raise_if_blocked()
    X_raw, y, steps = service.training_input(store, version, config["target"])
    X_raw, y = apply_plan(X_raw, y, plan)
    search_config = SearchConfig.from_dict(config)
    search = Search(X_raw, y, plan, search_config, schema=version.schema_ or [],
                    rowwise_steps=steps, hooks=hooks, deadline=deadline)
    raw_schema = version.schema_ or []
    if steps:
        from studio.schema import infer_schema

        raw_schema = infer_schema(X_raw)
    return search, version, plan, raw_schema


def run_search_job(ctx) -> dict:
    if ctx.config.get("mode") == "register":
        return _run_register(ctx)
    return _run_search(ctx)


def _run_search(ctx) -> dict:
    config = ctx.config
    started = time.time()
    before = ctx.progress_snapshot()
    # a resumed search continues the clock of the attempts before (progress is flushed
    # with every heartbeat, so a killed worker's time is known to within a few seconds)
    spent = float(before.get("elapsed_s") or 0.0) if ctx.job.attempts > 1 else 0.0
    budget = float(config.get("time_budget_s") or service.DEFAULT_BUDGET_S)
    left = max(budget - spent, min(budget, 10.0) * 0.5)
    deadline = started + left
    hooks = JobHooks(ctx)
    ctx.progress(phase="loading data", elapsed_s=0.0, budget_s=budget, attempt=ctx.job.attempts)
    ctx.flush()
    search, version, plan, raw_schema = _search_for(ctx, config, hooks, deadline)
    search.started = started - spent
    ctx.progress(task=plan.task, metric=plan.metric, validation=search.validation,
                 rows=len(search.X), holdout_rows=int(len(search.hold_pos)))

    storage = service.optuna_storage(ctx.settings)
    metric = get_metric(plan.metric, plan.task)
    study = new_study(metric, search.seed, storage=storage, study_name=ctx.job.study_name,
                      constant_liar=bool(ctx.settings.dask_scheduler))
    if ctx.job.attempts > 1:
        _recover(ctx, study, search)

    try:
        # STUDIO_DASK_SCHEDULER: trials evaluated on the Dask cluster; otherwise search.run here
        from studio.automl.distributed import run_search

        run_search(search, study, ctx.settings, schema=version.schema_ or [])
    finally:
        ctx.progress(elapsed_total_s=round(time.time() - started + spent, 2))
    ctx.check_cancel()

    chosen = search.best
    if chosen is None:
        raise RuntimeError("no trial finished within the time budget; give the search more time")
    ctx.progress(phase="ensemble selection")
    ensemble = search.select_ensemble()
    if ensemble is not None:
        ensemble.trial_id = _record_ensemble(ctx, ensemble)
        search.entries[ensemble.trial_id] = ensemble
        chosen = ensemble
    ctx.check_cancel()
    final = search.finalize(chosen, hard_deadline=deadline)
    evaluation_sha = _store_evaluation(ctx, search, final)
    result = {
        "task": plan.task, "metric": plan.metric, "score": final.cv.get(plan.metric),
        "holdout": final.holdout, "best_trial_id": final.entry.trial_id,
        "algorithm": final.entry.algorithm, "ensemble": final.entry.members is not None,
        "trials": search.n_done, "pruned": search.n_pruned, "failed": search.n_failed,
        "validation": search.validation, "evaluation_sha": evaluation_sha,
        "fitted_rows": final.fitted_rows, "refit_full": final.refit_full,
    }
    if final.entry.algorithm == "dummy":
        result["warning"] = ("only the dummy baseline finished within the time budget: its "
                             "predictions ignore the features. Give the search more time.")
    if config.get("register", True):
        version_pub = _register(ctx, search, version, plan, raw_schema, final, evaluation_sha,
                                config.get("model_name"))
        result.update(model=version_pub.ref, model_version_id=version_pub.id)
    elapsed = time.time() - started + spent
    result["elapsed_s"] = round(elapsed, 2)
    ctx.progress(phase="done", elapsed_s=round(elapsed, 1), elapsed_total_s=round(elapsed, 2),
                 model=result.get("model"))
    return _safe(result)


def _recover(ctx, study, search: Search) -> None:
    """After a dead worker: fail its running trials, restore the finished ones."""
    from optuna.storages import fail_stale_trials
    from optuna.trial import TrialState

    try:
        fail_stale_trials(study)
    except Exception:  # noqa: BLE001 - the explicit pass below covers it
        pass
    # This job has one worker at a time (claim_job), so any trial still running is ours and dead.
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        try:
            study.tell(trial.number, state=TrialState.FAIL)
        except Exception:  # noqa: BLE001 - finished meanwhile
            pass
    with ctx.store.session() as session:
        job_repo.fail_running_trials(session=session, job_id=ctx.job_id,
                                     reason="the worker stopped during this trial")
        rows = job_repo.list_job_trials(session=session, job_id=ctx.job_id, statuses=("complete",))
    search.restore([r.model_dump() for r in rows])


def _record_ensemble(ctx, entry: Entry) -> int:
    with ctx.store.session() as session:
        trial = job_repo.add_trial(
            session=session, job_id=ctx.job_id, algorithm="ensemble", params=_safe(entry.params),
            status="complete", score=_num(entry.score), score_std=_num(entry.score_std),
            fold_scores=[_num(s) for s in entry.fold_scores], fit_time_s=round(entry.fit_time_s, 4),
            extra={"members": _safe(entry.params["members"])})
    return trial.id


def _num(value):
    if value is None:
        return None
    value = float(value)
    return value if np.isfinite(value) else None


def _store_evaluation(ctx, search: Search, final: FinalModel) -> str:
    evaluation = dict(final.evaluation)
    evaluation.update(metric=search.metric.name, algorithm=final.entry.algorithm,
                      validation=search.validation, refit_full=final.refit_full)
    sha = ctx.store.artifacts.put_bytes(json.dumps(_safe(evaluation)).encode())
    with ctx.store.session() as session:
        trial = job_repo.get_trial(session=session, trial_id=final.entry.trial_id)
        extra = dict(trial.extra or {}) if trial else {}
        extra.update(evaluation_sha=sha, final_params=_safe(final.final_params),
                     refit_full=final.refit_full, fitted_rows=final.fitted_rows,
                     latency_ms=final.latency_ms, cv_metrics=_safe(final.cv))
        job_repo.update_trial(session=session, trial_id=final.entry.trial_id,
                              holdout=_safe(final.holdout), extra=extra)
    return sha


def _register(ctx, search: Search, version, plan, raw_schema, final: FinalModel,
              evaluation_sha: str, model_name: str | None, *, job_id: int | None = None,
              job_config: dict | None = None):
    from studio.names import suggest_name
    from studio.registry import library_versions, register_model

    name = model_name or suggest_name(version.dataset)
    card = {
        "task": plan.task, "target": plan.target,
        "classes": [json_safe(c) for c in search.classes] if search.classes is not None else None,
        "input_schema": search.input_schema(raw_schema), "example": search.example(),
        "metric": plan.metric, "metrics": {"cv": final.cv, "holdout": final.holdout},
        "algorithm": final.entry.algorithm, "params": _safe(final.final_params),
        "feature_importance": [{"feature": r["feature"], "importance": r["importance"]}
                               for r in final.importance],
        "evaluation_sha": evaluation_sha,
        "validation": search.validation,
        "training": {"rows": int(len(search.X)), "fitted_rows": final.fitted_rows,
                     "holdout_rows": int(len(search.hold_pos)), "refit_full": final.refit_full,
                     "latency_ms": final.latency_ms,
                     "note": ("holdout metrics were measured before the final refit on all rows"
                              if final.refit_full else "")},
        "lineage": {
            "dataset": version.ref, "dataset_version_id": version.id,
            "recipe": _safe(version.recipe or []), "job_id": job_id or ctx.job_id,
            "trial_id": final.entry.trial_id, "seed": search.seed,
            "source_name": version.source_name, "job_config": _safe(job_config or ctx.config),
        },
        "library_versions": library_versions(),
    }
    baseline = None
    try:
        from studio.monitor.baseline import compute_baseline
    except ImportError:
        compute_baseline = None
    if compute_baseline is not None:
        try:
            baseline = compute_baseline(
                search.baseline_frame(), raw_schema, search.training_predictions(final),
                plan.task, card["classes"], {"cv": final.cv, "holdout": final.holdout})
        except Exception as exc:  # noqa: BLE001 - a model without a baseline still serves
            card["baseline_error"] = f"{type(exc).__name__}: {exc}"[:300]
    ctx.progress(phase="registering")
    return register_model(ctx.store, name=name, pipeline=final.pipeline, card=_safe(card),
                          job_id=job_id or ctx.job_id, trial_id=final.entry.trial_id,
                          dataset_version_id=version.id, baseline=baseline)


def _run_register(ctx) -> dict:
    """Fit and register one leaderboard entry of an earlier search."""
    config = ctx.config
    source = service.get_search(ctx.store, config["source_job_id"])
    hooks = JobHooks(ctx)
    with ctx.store.session() as session:
        rows = job_repo.list_job_trials(session=session, job_id=source.id, statuses=("complete",))
    by_id = {r.id: r for r in rows}
    trial = by_id.get(int(config["trial_id"]))
    if trial is None:
        raise RuntimeError(f"trial {config['trial_id']} of job {source.id} is not complete")
    budget = float(source.config.get("time_budget_s") or 60)
    started = time.time()
    deadline = started + max(60.0, budget)
    ctx.progress(phase="loading data", source_job_id=source.id, trial_id=trial.id)
    ctx.flush()
    search, version, plan, raw_schema = _search_for(ctx, source.config, hooks, deadline)
    search.restore([r.model_dump() for r in rows])
    if trial.algorithm == "ensemble":
        members = [(m["trial_id"], m["weight"]) for m in trial.params.get("members", [])]
        missing = [m for m, _ in members if m not in search.entries]
        if missing:
            raise RuntimeError(f"the ensemble's members {missing} are missing")
        entry = Entry(trial_id=trial.id, algorithm="ensemble", params=trial.params,
                      score=float(trial.score), score_std=trial.score_std,
                      fold_scores=trial.fold_scores, fit_time_s=trial.fit_time_s or 0.0,
                      fold_fit_s=0.0, members=members)
    else:
        entry = search.entries[trial.id]
    final = search.finalize(entry, hard_deadline=deadline, keep_entry=True)
    evaluation_sha = _store_evaluation(ctx, search, final)
    # the lineage names the search job that found the configuration, not this helper job
    version_pub = _register(ctx, search, version, plan, raw_schema, final, evaluation_sha,
                            config.get("model_name") or source.config.get("model_name"),
                            job_id=source.id, job_config=source.config)
    ctx.progress(phase="done", model=version_pub.ref)
    return {"model": version_pub.ref, "model_version_id": version_pub.id,
            "trial_id": trial.id, "source_job_id": source.id,
            "score": final.cv.get(plan.metric), "holdout": _safe(final.holdout),
            "task": plan.task, "metric": plan.metric}
