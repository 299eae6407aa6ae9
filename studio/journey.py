"""The first-model path on the home page: where a person is, and one-click fixes.

``journey(store)`` reads the newest dataset version, search, model version and the
endpoint serving it, and names the next step (data → train → publish → try → monitor).
``suggest_fixes(profile)`` turns a dataset profile's findings into recipe steps a
person can apply with one click (fill missing values, drop empty or constant columns,
read a mostly-numeric text column as numbers, drop duplicate rows or columns);
``apply_fix`` saves the result as the dataset's next version through the recipes
engine, so the fix is recorded, replayed at prediction time and exportable.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from storage import overview as repo
from storage.datasets import DatasetVersionPublic
from storage.jobs import JobPublic
from storage.registry import ModelVersionPublic
from storage.store import Store

STEPS = ("data", "train", "publish", "try", "monitor")
STEP_TITLES = {"data": "Add data", "train": "Train", "publish": "Publish", "try": "Try it",
               "monitor": "Monitor"}


@dataclass
class Journey:
    dataset: DatasetVersionPublic | None = None
    job: JobPublic | None = None           # the newest search
    model: ModelVersionPublic | None = None
    endpoint: str | None = None            # serving ``model``
    answered: bool = False                 # ``endpoint`` has answered a prediction

    @property
    def training(self) -> bool:
        return self.job is not None and self.job.status in ("queued", "running")

    @property
    def step(self) -> str:
        """The next thing to do."""
        if self.model is None or self.training:
            return "data" if self.dataset is None else "train"
        if self.endpoint is None:
            return "publish"
        if not self.answered:
            return "try"
        return "monitor"

    def done(self, step: str) -> bool:
        return STEPS.index(step) < STEPS.index(self.step)


def journey(store: Store) -> Journey:
    from studio import datasets
    from studio.model_cards import get_version

    with store.session() as session:
        ids = repo.journey_ids(session=session)
        from storage import jobs as job_repo

        job = job_repo.get_job(session=session, job_id=ids.search_job_id) \
            if ids.search_job_id else None
    return Journey(
        dataset=datasets.get_version_by_id(store, ids.dataset_version_id)
        if ids.dataset_version_id else None,
        job=job,
        model=get_version(store, ids.model_version_id) if ids.model_version_id else None,
        endpoint=ids.endpoint, answered=ids.answered)


def active_jobs(store: Store, limit: int = 10) -> list[JobPublic]:
    """Queued and running jobs (searches, batch predictions, checks, simulations)."""
    from storage import jobs as job_repo
    from studio.jobs import refresh_job_statuses

    refresh_job_statuses(store)
    with store.session() as session:
        found = [job_repo.get_job(session=session, job_id=i)
                 for i in repo.active_job_ids(session=session, limit=limit)]
    return [j for j in found if j is not None]


def job_progress(job: JobPublic) -> tuple[float | None, str]:
    """(fraction done or None when unknown, a line saying what the job is doing)."""
    progress, config = job.progress or {}, job.config or {}
    if job.kind == "search":
        budget = float(config.get("time_budget_s") or 0)
        elapsed = float(progress.get("elapsed_s") or 0)
        best = progress.get("best_score")
        trials = int(progress.get("trials_done") or 0)
        line = f"{progress.get('phase') or job.status}: {trials} trial{'s' if trials != 1 else ''}"
        if best is not None:
            line += f", best {progress.get('metric') or config.get('metric') or 'score'} " \
                    f"{best:.4g}"
        return (min(1.0, elapsed / budget) if budget else None), line
    done = progress.get("rows_done", progress.get("sent"))
    total = progress.get("rows_total", progress.get("total"))
    if done is not None and total:
        return min(1.0, done / total), f"{done:,} of {total:,} rows"
    return None, str(progress.get("stage") or job.status)


# --- one-click fixes ------------------------------------------------------------------

@dataclass
class Fix:
    title: str                      # what it does, in a person's words
    why: str                        # the finding it answers
    step: dict = field(default_factory=dict)   # a recipe step (JSON)

    @property
    def key(self) -> str:
        import hashlib
        import json

        return hashlib.sha1(json.dumps(self.step, sort_keys=True, default=str).encode()
                            ).hexdigest()[:10]


def _q(name: object) -> str:
    return f"'{name}'"


def suggest_fixes(profile: dict, *, target: str | None = None, limit: int = 6) -> list[Fix]:
    """Recipe steps that answer what the profile found, most useful first."""
    fixes: list[Fix] = []
    rows = int(profile.get("rows") or 0)
    columns = profile.get("columns") or []
    useless = [c["name"] for c in columns if c["name"] != target and any(
        w.get("kind") in ("all_missing", "constant") for w in c.get("warnings") or [])]
    if useless:
        fixes.append(Fix(f"Drop {', '.join(map(_q, useless[:4]))}"
                         + (f" and {len(useless) - 4} more" if len(useless) > 4 else ""),
                         "empty or constant: no use to a model",
                         {"kind": "drop_columns", "columns": useless}))
    for col in columns:
        name = col["name"]
        if name == target or name in useless:
            continue
        kinds = {w.get("kind") for w in col.get("warnings") or []}
        if "mixed_types" in kinds and (col.get("mixed") or {}).get("share", 0) >= 0.8:
            fixes.append(Fix(f"Read {_q(name)} as numbers",
                             f"{col['mixed']['share']:.0%} of its values are numbers; the rest "
                             "become missing values",
                             {"kind": "change_type", "columns": [name], "to": "number"}))
    for col in columns:
        name, missing = col["name"], int(col.get("missing") or 0)
        if name == target or name in useless or not missing or not rows:
            continue
        if col.get("semantic") in ("identifier", "text"):
            continue
        share = f"{missing:,} missing value{'s' if missing != 1 else ''} ({missing / rows:.0%})"
        if col.get("semantic") == "numeric" and "mean" in (col.get("stats") or {}):
            fixes.append(Fix(f"Fill the {share} of {_q(name)} with the median", share,
                             {"kind": "impute", "columns": [name], "strategy": "median",
                              "indicator": False}))
        elif col.get("semantic") in ("categorical", "boolean"):
            fixes.append(Fix(f"Fill the {share} of {_q(name)} with the most frequent value",
                             share, {"kind": "impute", "columns": [name],
                                     "strategy": "most_frequent", "indicator": False}))
    for warning in profile.get("warnings") or []:
        if warning.get("kind") == "duplicate_columns":
            dups = [c for c in (warning.get("columns") or [])[1:] if c != target]
            if dups:
                fixes.append(Fix(f"Drop {', '.join(map(_q, dups[:4]))}",
                                 f"same values as {_q(warning['columns'][0])}",
                                 {"kind": "drop_columns", "columns": dups}))
        elif warning.get("kind") == "duplicate_rows":
            fixes.append(Fix(f"Drop the {profile.get('duplicate_rows', 0):,} duplicate rows",
                             "rows that repeat an earlier row exactly",
                             {"kind": "drop_duplicates", "columns": [], "keep": "first"}))
    return fixes[:limit]


def apply_fix(store: Store, version: DatasetVersionPublic, fix: Fix) -> DatasetVersionPublic:
    """Save ``version`` with the fix applied as the dataset's next version."""
    from studio.recipes import apply_recipe

    return apply_recipe(store, version, [fix.step], note=f"Quick fix: {fix.title}")
