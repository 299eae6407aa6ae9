"""The search: frames in, leaderboard and one fitted pipeline out.

No store, no Streamlit: the job handler (``studio.automl.job``) and the
benchmark drive it through :class:`Hooks`, which record trials, save
artifacts, report progress and raise on cancel.

Time budget: one wall-clock deadline for the whole job. The search stops
early enough to leave room for the final fit (estimated from the measured fold
fit times of the current best), each fold checks the clock, XGBoost stops
adding trees at the deadline, and a final refit on all rows happens only when
its estimated time still fits.
"""
from __future__ import annotations

import io
import logging
import math
import os
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from studio.automl import candidates as cands
from studio.automl import ensemble as ens
from studio.automl import evaluate, splits
from studio.automl.metrics import Metric, all_scores, better, get_metric, score
from studio.automl.preprocess import build_preprocessor, column_kinds, n_ordinal
from studio.automl.task import Plan
from studio.automl.transformers import (PROBA_FLOOR, EncodedClassifier, EnsembleClassifier, EnsembleRegressor,
                                        set_inference_threads)
from studio.schema import json_safe

log = logging.getLogger("studio.automl")

TOP_K_OOF = 10           # trials whose out-of-fold predictions are kept for the ensemble
ENSEMBLE_POOL = 8
MAX_MEMBERS = 4
EVAL_MAX_ROWS = 20_000   # holdout rows scored for the report (all of them up to this)
CACHE_LIMIT_BYTES = 1_500_000_000
FINAL_SHARE = 0.35       # most of the budget the final fit may be given
# The final fit on all training rows is planned at FINAL_MARGIN × the fit time the folds
# measured (slower fits on a busy machine, the holdout scoring after it); the search keeps
# that much back, ensembles are only chosen when their members fit in it, and rows are
# subsampled only when even a single model cannot.
FINAL_MARGIN = 1.6
REFIT_MARGIN = 1.2       # a refit on all rows is started when 1.2x its estimated time is left


class TrialPruned(Exception):
    pass


class OutOfTime(Exception):
    pass


@dataclass
class SearchConfig:
    time_budget_s: float = 60.0
    max_trials: int | None = None
    seed: int = 0
    class_weight: str = "auto"          # auto | balanced | none
    n_jobs: int = 0                     # 0: every core
    algorithms: list[str] | None = None
    refit_full: bool = True
    ensemble: bool = True
    holdout_frac: float | None = None

    @classmethod
    def from_dict(cls, data: dict) -> "SearchConfig":
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data and data[k] is not None}
        return cls(**known)


class Hooks:
    """What the search reports to; the default keeps everything in memory."""

    def __init__(self):
        self.trials: dict[int, dict] = {}
        self.blobs: dict[str, bytes] = {}

    def check_cancel(self) -> None:
        return None

    def progress(self, **values: Any) -> None:
        return None

    def trial_started(self, *, algorithm: str, params: dict, optuna_number: int | None) -> int:
        trial_id = len(self.trials) + 1
        self.trials[trial_id] = {"id": trial_id, "algorithm": algorithm, "params": params,
                                 "status": "running", "optuna_number": optuna_number}
        return trial_id

    def trial_finished(self, trial_id: int, **fields: Any) -> None:
        self.trials[trial_id].update(fields)

    def save_bytes(self, data: bytes) -> str:
        import hashlib

        sha = hashlib.sha256(data).hexdigest()
        self.blobs[sha] = data
        return sha

    def load_bytes(self, sha: str) -> bytes:
        return self.blobs[sha]


@dataclass
class Entry:
    """A finished trial as the search keeps it in memory."""
    trial_id: int
    algorithm: str
    params: dict
    score: float
    score_std: float | None
    fold_scores: list[float]
    fit_time_s: float
    fold_fit_s: float
    fold_infos: list[dict] = field(default_factory=list)
    oof: np.ndarray | None = None
    members: list[tuple[int, float]] | None = None    # ensemble: (trial_id, weight)


@dataclass
class FinalModel:
    pipeline: Any
    entry: Entry
    cv: dict
    holdout: dict
    evaluation: dict
    importance: list[dict]
    fitted_rows: int
    refit_full: bool
    latency_ms: float
    final_params: dict


def pack_preds(oof: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, oof=oof.astype("float32"))
    return buf.getvalue()


def unpack_preds(data: bytes) -> np.ndarray:
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        return npz["oof"].astype("float64")


def _cores(n_jobs: int) -> int:
    """Threads per model: as asked, or the cores that are idle now (at least one)."""
    if n_jobs and n_jobs > 0:
        return n_jobs
    cores = max(1, os.cpu_count() or 1)
    try:
        busy = os.getloadavg()[0]
    except OSError:
        busy = 0.0
    return int(max(1, min(cores, round(cores - busy + 0.5))))


class Search:
    """One search over one training frame.

    ``X_raw``: the raw input columns (before the recipe's row-wise steps);
    ``y``: target labels or values, rows aligned, already cleaned by ``apply_plan``;
    ``schema``: semantic types of the columns after the recipe.
    """

    def __init__(self, X_raw: pd.DataFrame, y: pd.Series, plan: Plan, config: SearchConfig, *,
                 schema: list[dict] | None = None, rowwise_steps: list | None = None,
                 hooks: Hooks | None = None, deadline: float | None = None):
        self.plan, self.config = plan, config
        self.hooks = hooks or Hooks()
        self.task = plan.task
        self.metric: Metric = get_metric(plan.metric, self.task)
        self.seed = int(config.seed)
        self.n_jobs = _cores(config.n_jobs)
        self.started = time.time()
        self.deadline = deadline or (self.started + float(config.time_budget_s))
        self.rowwise_steps = list(rowwise_steps or [])
        self.X_raw = X_raw.reset_index(drop=True)
        y = y.reset_index(drop=True)
        self.X = self._apply_recipe(self.X_raw)
        self.features = [f for f in plan.features if f in self.X.columns]
        smap = {c["name"]: c for c in (schema or [])}
        self.kinds = column_kinds(self.X, self.features, smap)
        if self.task == "regression":
            self.y_values = y.to_numpy(dtype="float64")
            self.classes: list | None = None
            self.codes = None
            self.n_classes = 0
            self.target = self.y_values
        else:
            labels = y.to_numpy(dtype=object)
            try:
                classes = sorted(set(labels.tolist()))
            except TypeError:
                classes = sorted(set(labels.tolist()), key=str)
            self.classes = classes
            index = {c: i for i, c in enumerate(classes)}
            self.codes = np.asarray([index[v] for v in labels.tolist()], dtype=np.int64)
            self.n_classes = len(classes)
            self.target = self.codes
        self.labels = y.to_numpy(dtype=object) if self.task != "regression" else self.y_values
        self.balanced = self._use_balanced()
        n = len(self.X)
        groups = self.X[plan.group_col].astype(str).to_numpy() if plan.group_col else None
        order = splits.time_order(self.X[plan.time_col]) if plan.time_col else None
        self.train_pos, self.hold_pos = splits.split_holdout(
            n, self.codes, seed=self.seed, stratify=plan.stratify, groups=groups, order=order,
            frac=config.holdout_frac)
        # rows the search fits on: more with more time, fewer with many classes (boosting
        # grows a tree per class); the final fit sees every training row it can afford
        per_class = 4.0 / max(4, self.n_classes)
        cap = int(max(20_000, min(splits.SEARCH_MAX_ROWS,
                                  config.time_budget_s * 1000 * per_class)))
        self.search_pos = splits.subsample(self.train_pos, self.codes, seed=self.seed, max_rows=cap)
        sub_groups = groups[self.search_pos] if groups is not None else None
        sub_order = None
        if order is not None:
            rank = np.empty(n, dtype=np.int64)
            rank[order] = np.arange(n)
            sub_order = np.argsort(rank[self.search_pos], kind="stable")
        self.folds, self.validation = splits.make_folds(
            len(self.search_pos), self.codes[self.search_pos] if self.codes is not None else None,
            n_folds=plan.n_folds, seed=self.seed, stratify=plan.stratify, groups=sub_groups,
            order=sub_order)
        self.Xs = self.X.iloc[self.search_pos]
        self.ys = self.target[self.search_pos]
        self.oof_mask = np.zeros(len(self.search_pos), dtype=bool)
        for _, va in self.folds:
            self.oof_mask[va] = True
        self.algorithms = cands.available(len(self.search_pos), config.algorithms)
        self._cache: dict[tuple[str, int], tuple[Any, Any]] = {}
        self._cache_bytes = 0
        self.entries: dict[int, Entry] = {}
        self.best: Entry | None = None
        self.n_done = self.n_pruned = self.n_failed = 0
        self.algo_fold_time: dict[str, float] = {}

    # --- data ---------------------------------------------------------------------------

    def _apply_recipe(self, X: pd.DataFrame) -> pd.DataFrame:
        if not self.rowwise_steps:
            return X
        from studio.recipes import RecipeTransformer

        return RecipeTransformer(self.rowwise_steps).fit_transform(X)

    def _use_balanced(self) -> bool:
        if self.task == "regression" or self.config.class_weight == "none":
            return False
        if self.config.class_weight == "balanced":
            return True
        counts = np.bincount(self.codes)
        minority = counts[counts > 0].min() / counts.sum()
        return self.metric.name in ("balanced_accuracy", "f1") and minority < 0.2

    def _weights(self, y_codes: np.ndarray) -> np.ndarray | None:
        if not self.balanced:
            return None
        from sklearn.utils.class_weight import compute_sample_weight

        return compute_sample_weight("balanced", y_codes)

    def _prepared(self, family: str, fold: int):
        key = (family, fold)
        if key in self._cache:
            return self._cache[key]
        tr, va = self.folds[fold]
        prep = build_preprocessor(self.kinds, family, self.task, self.seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            Xtr = prep.fit_transform(self.Xs.iloc[tr], self.ys[tr])
            Xva = prep.transform(self.Xs.iloc[va])
        Xtr, Xva = _as_matrix(Xtr), _as_matrix(Xva)
        size = _nbytes(Xtr) + _nbytes(Xva)
        if self._cache_bytes + size <= CACHE_LIMIT_BYTES:
            self._cache[key] = (Xtr, Xva)
            self._cache_bytes += size
        return Xtr, Xva

    # --- one configuration ------------------------------------------------------------

    def _stop(self) -> bool:
        return bool(getattr(self.hooks, "cancelled", False))

    def _fold_estimate(self, algo: str) -> float:
        return self.algo_fold_time.get(algo, 0.0)

    def evaluate(self, algo: str, params: dict, *, trial=None, search_deadline: float) -> Entry:
        """Cross-validate one configuration; raises TrialPruned / OutOfTime."""
        cand = cands.CANDIDATES[algo]
        k = self.n_classes
        width = k if self.task != "regression" else 1
        oof = np.full((len(self.search_pos), width), np.nan)
        fold_scores, fold_infos, fit_total, predict_total, predicted = [], [], 0.0, 0.0, 0
        for i, (tr, va) in enumerate(self.folds):
            self.hooks.check_cancel()
            est = self._fold_estimate(algo)
            if i > 0 and time.time() + est > search_deadline:
                raise OutOfTime(f"stopped after {i} of {len(self.folds)} folds (time budget)")
            prep_started = time.time()
            Xtr, Xva = self._prepared(cand.family, i)
            prep_s = time.time() - prep_started
            ytr = self.ys[tr]
            model = cands.build_model(algo, params, self.task, seed=self.seed, n_jobs=self.n_jobs,
                                      balanced=False, n_cat=n_ordinal(self.kinds, cand.family),
                                      n_rows=len(tr))
            weights = None if algo == "knn" else self._weights(ytr) if self.codes is not None else None
            started = time.time()
            with warnings.catch_warnings(), cands.few_threads(self.n_jobs):
                warnings.simplefilter("ignore")
                if self.task == "regression":
                    info = cands.fit_model(algo, model, Xtr, ytr, sample_weight=weights,
                                           deadline=search_deadline + 1.0, seed=self.seed,
                                           stop=self._stop)
                    fit_s = time.time() - started
                    t0 = time.time()
                    pred = np.asarray(model.predict(Xva), dtype="float64").reshape(-1, 1)
                else:
                    keep = trainable_rows(algo, ytr)
                    if keep is not None:
                        Xtr, ytr = Xtr[keep], ytr[keep]
                        weights = None if weights is None else weights[keep]
                    present = np.unique(ytr)
                    local = np.searchsorted(present, ytr)
                    if len(present) == 1:
                        info, fit_s, t0 = {}, 0.0, time.time()
                        pred = np.zeros((len(va), k))
                        pred[:, present[0]] = 1.0
                    else:
                        info = cands.fit_model(algo, model, Xtr, local, sample_weight=weights,
                                               deadline=search_deadline + 1.0, seed=self.seed,
                                           stop=self._stop)
                        fit_s = time.time() - started
                        t0 = time.time()
                        pred = np.zeros((len(va), k))
                        pred[:, present] = model.predict_proba(Xva)
                    pred = pred * (1.0 - PROBA_FLOOR * k) + PROBA_FLOOR
            self.hooks.check_cancel()  # a fit cut short by a cancel must not count as a result
            predict_total += time.time() - t0
            predicted += len(va)
            fit_total += fit_s + prep_s
            oof[va] = pred
            yv = self.ys[va]
            fold_scores.append(score(self.metric, yv, pred if self.task != "regression" else pred[:, 0], k))
            fold_infos.append(info)
            self.algo_fold_time[algo] = max(self.algo_fold_time.get(algo, 0.0) * 0.5,
                                            fit_s + prep_s)
            if trial is not None and len(self.folds) > 1:
                trial.report(float(np.nanmean(fold_scores)), step=i)
                if trial.should_prune():
                    raise TrialPruned(fold_scores, fit_total)
        scores = np.asarray(fold_scores, dtype="float64")
        mean = float(np.nanmean(scores)) if np.isfinite(scores).any() else float("nan")
        std = float(np.nanstd(scores)) if len(scores) > 1 and np.isfinite(scores).any() else None
        entry = Entry(trial_id=0, algorithm=algo, params=params, score=mean, score_std=std,
                      fold_scores=[float(s) for s in scores], fit_time_s=fit_total,
                      fold_fit_s=fit_total / max(1, len(self.folds)), fold_infos=fold_infos,
                      oof=oof if self.task != "regression" else oof[:, 0])
        entry.predict_ms = 1000.0 * predict_total / max(1, predicted)  # type: ignore[attr-defined]
        return entry

    # --- the search loop ----------------------------------------------------------------

    def final_reserve(self) -> float:
        """Seconds to keep for the final fit of the current best (or of the ensemble the
        best few would make) on all training rows, and a refit with the holdout."""
        if self.best is None:
            return 1.0
        per_fold = self.best.fold_fit_s
        if self.config.ensemble:
            top = [e.fold_fit_s for e in self.ranked()[:3] if e.algorithm != "dummy"]
            per_fold = max(per_fold, sum(top))
        n_fold_train = max(1, len(self.folds[0][0]))
        scale = len(self.train_pos) / n_fold_train
        refit = 1.15 * len(self.X) / max(1, len(self.train_pos)) \
            if self.config.refit_full and len(self.hold_pos) else 0.0
        wanted = 1.0 + per_fold * scale * (FINAL_MARGIN + refit) + 0.5
        # never more than a third of the budget: the final fit subsamples rows to fit in it
        return min(wanted, max(1.5, FINAL_SHARE * float(self.config.time_budget_s)))

    def remember(self, entry: Entry) -> None:
        self.entries[entry.trial_id] = entry
        if entry.algorithm != "ensemble" and better(self.metric, entry.score,
                                                    self.best.score if self.best else None):
            self.best = entry
        ranked = self.ranked()
        keep = {e.trial_id for e in ranked[:TOP_K_OOF]}
        for e in self.entries.values():
            if e.trial_id not in keep:
                e.oof = None

    def ranked(self) -> list[Entry]:
        sign = -1.0 if self.metric.greater_is_better else 1.0
        good = [e for e in self.entries.values() if np.isfinite(e.score) and e.members is None]
        return sorted(good, key=lambda e: sign * e.score)

    def progress(self, phase: str, **extra: Any) -> None:
        self.hooks.progress(
            phase=phase, elapsed_s=round(time.time() - self.started, 1),
            budget_s=self.config.time_budget_s, trials_done=self.n_done,
            trials_pruned=self.n_pruned, trials_failed=self.n_failed,
            best_score=None if self.best is None else json_safe(self.best.score),
            best_algorithm=None if self.best is None else self.best.algorithm,
            best_trial_id=None if self.best is None else self.best.trial_id,
            metric=self.metric.name, task=self.task, validation=self.validation, **extra)

    def run(self, study=None) -> None:
        """Portfolio first, then TPE, until the budget, the trial limit or a cancel."""
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        # ask/tell with our own heartbeat thread per trial (see run_one) is intended here
        warnings.filterwarnings("ignore", message="Heartbeat of storage")
        if study is None:
            study = new_study(self.metric, self.seed)
        if not study.trials:
            for params in cands.portfolio(self.task, self.algorithms, self.n_classes):
                if params["algorithm"] != "dummy":
                    study.enqueue_trial(params, skip_if_exists=True)
        skipped_in_a_row = 0
        if "xgb" in self.algorithms:
            import xgboost  # noqa: F401 - imported here, not inside the first trial's timing
        self.progress("search")
        if "dummy" in self.algorithms and not any(e.algorithm == "dummy" for e in self.entries.values()):
            self.run_one("dummy", {}, study=None, trial=None)
        while True:
            self.hooks.check_cancel()
            search_deadline = self.deadline - self.final_reserve()
            if time.time() >= search_deadline and self.best is not None:
                break
            if self.config.max_trials and self.n_done + self.n_pruned + self.n_failed >= self.config.max_trials:
                break
            if skipped_in_a_row >= 5:
                break
            asked = self.ask_within(study, search_deadline)
            if asked is None:
                skipped_in_a_row += 1
                continue
            skipped_in_a_row = 0
            if not self.run_one(*asked[1:], study=study, trial=asked[0]):
                break

    def ask_within(self, study, search_deadline: float):
        """The study's next configuration as (trial, algorithm, params); None (the trial told
        failed) when its estimated cross-validation would end after ``search_deadline``."""
        from optuna.trial import TrialState

        trial = study.ask()
        algo, params = cands.suggest(trial, self.task, self.algorithms)
        est = self._fold_estimate(algo) * len(self.folds)
        if self.best is not None and est and time.time() + est > search_deadline:
            study.tell(trial, state=TrialState.FAIL)
            return None
        return trial, algo, params

    def run_one(self, algo: str, params: dict, *, study, trial) -> bool:
        """Evaluate and record one configuration; False when the budget ran out."""
        from optuna.storages._heartbeat import get_heartbeat_thread
        from contextlib import nullcontext

        search_deadline = self.deadline - self.final_reserve()
        trial_id = self.hooks.trial_started(algorithm=algo, params=params,
                                            optuna_number=trial.number if trial else None)
        beat = get_heartbeat_thread(trial._trial_id, study._storage) if study is not None else nullcontext()
        try:
            with beat:
                entry = self.evaluate(algo, params, trial=trial, search_deadline=search_deadline)
        except Exception as exc:  # noqa: BLE001 - one bad configuration must not end the search
            return self.record(trial_id, algo, study=study, trial=trial, error=exc)
        return self.record(trial_id, algo, study=study, trial=trial, entry=entry)

    def record(self, trial_id: int, algo: str, *, study, trial, entry: Entry | None = None,
               error: BaseException | None = None, extra: dict | None = None) -> bool:
        """Tell Optuna and the hooks how one trial ended: ``entry`` or ``error`` (pruned,
        out of time, cancelled, failed). Shared by :meth:`run_one` and the Dask loop
        (``studio.automl.distributed``), which adds ``extra`` (the worker)."""
        from optuna.trial import TrialState

        more = dict(extra or {})

        def tell(**kwargs):
            if study is not None:
                study.tell(trial, **kwargs)

        if isinstance(error, TrialPruned):
            fold_scores, fit_total = error.args
            tell(state=TrialState.PRUNED)
            self.n_pruned += 1
            self.hooks.trial_finished(
                trial_id, status="pruned", score=_finite(np.nanmean(fold_scores)),
                fold_scores=[_finite(s) for s in fold_scores], fit_time_s=round(fit_total, 4),
                extra={"reason": f"pruned after {len(fold_scores)} of {len(self.folds)} folds", **more})
            self.progress("search")
            return True
        if isinstance(error, OutOfTime):
            tell(state=TrialState.FAIL)
            self.n_failed += 1
            self.hooks.trial_finished(trial_id, status="stopped", extra={"reason": str(error), **more})
            return True
        if error is not None:
            tell(state=TrialState.FAIL)
            if error.__class__.__name__ == "Cancelled":
                self.hooks.trial_finished(trial_id, status="cancelled",
                                          extra={"reason": "the job was cancelled", **more})
                raise error
            self.n_failed += 1
            kind = getattr(error, "kind", None) or type(error).__name__
            log.warning("trial %s (%s) failed: %s", trial_id, algo, error)
            self.hooks.trial_finished(trial_id, status="failed",
                                      extra={"error": f"{kind}: {error}"[:500], **more})
            self.progress("search")
            return True
        value = entry.score if np.isfinite(entry.score) else None
        if value is None:
            tell(state=TrialState.FAIL)
        else:
            tell(values=value)
        entry.trial_id = trial_id
        self.n_done += 1
        self.remember(entry)
        oof_sha = None
        if entry.oof is not None:
            oof_sha = self.hooks.save_bytes(pack_preds(entry.oof))
        self.hooks.trial_finished(
            trial_id, status="complete", score=_finite(entry.score),
            score_std=_finite(entry.score_std), fold_scores=[_finite(s) for s in entry.fold_scores],
            fit_time_s=round(entry.fit_time_s, 4),
            predict_ms_per_row=round(getattr(entry, "predict_ms", 0.0), 5),
            oof_sha=oof_sha, extra={"fold_infos": entry.fold_infos, **more})
        self.progress("search")
        return True

    def restore(self, rows: list[dict]) -> None:
        """Bring back finished trials of an earlier attempt (resume)."""
        for row in rows:
            if row.get("status") != "complete" or row.get("score") is None:
                continue
            if row["algorithm"] == "ensemble":
                continue
            extra = row.get("extra") or {}
            folds = max(1, len(row.get("fold_scores") or []) or 1)
            oof = None
            if row.get("oof_sha"):
                try:
                    oof = unpack_preds(self.hooks.load_bytes(row["oof_sha"]))
                    if self.task == "regression" and oof.ndim > 1:
                        oof = oof[:, 0]
                    if len(oof) != len(self.search_pos):
                        oof = None
                except Exception:  # noqa: BLE001 - a missing file only costs the ensemble
                    oof = None
            entry = Entry(trial_id=row["id"], algorithm=row["algorithm"], params=row.get("params") or {},
                          score=float(row["score"]), score_std=row.get("score_std"),
                          fold_scores=row.get("fold_scores") or [],
                          fit_time_s=float(row.get("fit_time_s") or 0.0),
                          fold_fit_s=float(row.get("fit_time_s") or 0.0) / folds,
                          fold_infos=extra.get("fold_infos") or [], oof=oof)
            self.n_done += 1
            self.algo_fold_time[entry.algorithm] = entry.fold_fit_s
            self.remember(entry)

    # --- ensemble ---------------------------------------------------------------------

    def select_ensemble(self) -> Entry | None:
        """A Caruana ensemble of the best trials, if it beats the best single one."""
        if not self.config.ensemble or self.best is None:
            return None
        # members must fit on every training row in the time left (see FINAL_MARGIN)
        left = (self.deadline - time.time()) * 0.9
        scale = len(self.train_pos) / max(1, len(self.folds[0][0]))

        def cost(e: Entry) -> float:
            return e.fold_fit_s * scale * FINAL_MARGIN

        pool = [e for e in self.ranked()[:ENSEMBLE_POOL]
                if e.oof is not None and e.algorithm != "dummy" and cost(e) <= left]
        mask = self.oof_mask
        y = self.ys[mask]
        used: list = []
        for _ in range(12):  # drop members until few enough and the final fit fits the budget
            if len(pool) < 2:
                return None
            counts, value = ens.select([e.oof[mask] for e in pool], y, self.metric, self.n_classes)
            used = [(e, c) for e, c in zip(pool, counts) if c > 0]
            if len(used) > MAX_MEMBERS:  # each member costs a fit and prediction time
                light = min(used, key=lambda ec: ec[1])[0]
                pool = [e for e in pool if e is not light]
                continue
            if sum(cost(e) for e, _ in used) <= left:
                break
            costly = max((e for e, _ in used), key=cost)
            pool = [e for e in pool if e is not costly]
        else:
            return None
        if len(used) < 2 or not better(self.metric, value, self.best.score):
            return None
        if not _meaningfully_better(self.metric, value, self.best.score):
            return None
        total = sum(c for _, c in used)
        blend = sum((c / total) * e.oof for e, c in used)
        fold_scores = []
        for _, va in self.folds:
            p = blend[va]
            fold_scores.append(score(self.metric, self.ys[va], p, self.n_classes))
        entry = Entry(trial_id=0, algorithm="ensemble",
                      params={"members": [{"trial_id": e.trial_id, "algorithm": e.algorithm,
                                           "weight": round(c / total, 4)} for e, c in used]},
                      score=float(value), score_std=float(np.nanstd(fold_scores)) if len(fold_scores) > 1 else None,
                      fold_scores=[float(s) for s in fold_scores],
                      fit_time_s=sum(e.fit_time_s for e, _ in used),
                      fold_fit_s=sum(e.fold_fit_s for e, _ in used),
                      oof=blend, members=[(e.trial_id, c / total) for e, c in used])
        return entry

    # --- the final model --------------------------------------------------------------

    def _member_pipeline(self, entry: Entry):
        from sklearn.pipeline import Pipeline

        cand = cands.CANDIDATES[entry.algorithm]
        ratio = len(self.train_pos) / max(1, len(self.folds[0][0]))
        params = cands.final_params(entry.algorithm, entry.params, entry.fold_infos, ratio)
        model = cands.build_model(entry.algorithm, params, self.task, seed=self.seed,
                                  n_jobs=self.n_jobs, balanced=False,
                                  n_cat=n_ordinal(self.kinds, cand.family),
                                  n_rows=len(self.train_pos))
        if self.task != "regression":
            model = EncodedClassifier(model, classes=list(range(self.n_classes)))
        prep = build_preprocessor(self.kinds, cand.family, self.task, self.seed)
        return Pipeline([("prep", prep), ("model", model)]), params

    def build_pipeline(self, entry: Entry) -> tuple[Any, dict]:
        """The unfitted published pipeline for ``entry`` (single model or ensemble)."""
        from sklearn.pipeline import Pipeline

        if entry.members:
            members, weights, params = [], [], {"members": []}
            for trial_id, weight in entry.members:
                member = self.entries[trial_id]
                pipe, p = self._member_pipeline(member)
                members.append(pipe)
                weights.append(weight)
                params["members"].append({"trial_id": trial_id, "algorithm": member.algorithm,
                                          "weight": round(weight, 4), "params": p})
            cls = EnsembleRegressor if self.task == "regression" else EnsembleClassifier
            model = cls(members=members, weights=weights, task=self.task,
                        classes=list(range(self.n_classes)) if self.n_classes else None)
            core = [("model", model)]
        else:
            pipe, params = self._member_pipeline(entry)
            core = list(pipe.steps)
        steps = []
        if self.rowwise_steps:
            from studio.recipes import RecipeTransformer

            steps.append(("recipe", RecipeTransformer(self.rowwise_steps)))
        return Pipeline(steps + core), params

    def _fit(self, pipeline, positions: np.ndarray):
        X = self.X_raw.iloc[positions]
        y = self.target[positions]
        weights = self._weights(y) if self.codes is not None else None
        with warnings.catch_warnings(), cands.few_threads(self.n_jobs):
            warnings.simplefilter("ignore")
            if weights is not None and not _uses_knn(pipeline):
                pipeline.fit(X, y, **{_weight_param(pipeline): weights})
            else:
                pipeline.fit(X, y)
        return pipeline

    def _relabel(self, pipeline):
        """Make the fitted pipeline predict the original labels (it was fitted on codes)."""
        if self.task == "regression":
            return pipeline
        last = pipeline.steps[-1][1]
        classes = np.asarray(self.classes, dtype=object)
        if all(isinstance(c, (int, np.integer)) and not isinstance(c, bool) for c in self.classes):
            classes = np.asarray(self.classes, dtype=np.int64)
        if isinstance(last, EncodedClassifier):
            last.classes_ = classes
        else:  # ensemble
            last.classes_ = classes
            for member in last.members_:
                member.steps[-1][1].classes_ = classes
        return pipeline

    def _affordable_rows(self, entry: Entry, hard_deadline: float) -> np.ndarray:
        """The training rows the final fit can take in the time left (all of them if it can)."""
        n_fold = max(1, len(self.folds[0][0]))
        per_row = entry.fold_fit_s / n_fold
        if entry.members:
            per_row = sum(self.entries[t].fold_fit_s for t, _ in entry.members
                          if t in self.entries) / n_fold
        left = hard_deadline - time.time()
        if per_row <= 0 or left <= 0:
            return self.train_pos
        # FINAL_MARGIN covers fits slower than measured and the holdout scoring after it
        affordable = int(left * 0.9 / (per_row * FINAL_MARGIN))
        if affordable >= len(self.train_pos):
            return self.train_pos
        rows = max(affordable, min(1000, len(self.train_pos)))
        return splits.subsample(self.train_pos, self.codes, seed=self.seed, max_rows=rows)

    def predict_scores(self, pipeline, positions: np.ndarray) -> np.ndarray:
        X = self.X_raw.iloc[positions]
        if self.task == "regression":
            return np.asarray(pipeline.predict(X), dtype="float64")
        return pipeline.predict_proba(X)

    def finalize(self, entry: Entry, *, hard_deadline: float | None = None,
                 keep_entry: bool = False) -> FinalModel:
        """Fit ``entry`` on the training rows, score the holdout, refit on all rows if time allows.

        An ensemble that could only be fitted on part of the rows gives way to the best single
        model on all of them (``FinalModel.entry`` says which), unless ``keep_entry`` (the
        user picked this entry)."""
        # the budget itself: estimates of fit times are rough, so the +10% stays a margin
        hard_deadline = hard_deadline or self.deadline
        self.progress("final fit")
        fit_rows = self._affordable_rows(entry, hard_deadline)
        if entry.members and not keep_entry and len(fit_rows) < len(self.train_pos) \
                and self.best is not None:
            # rows count more than members: the best single model on every row beats an
            # ensemble fitted on a part of them
            single = self._affordable_rows(self.best, hard_deadline)
            if len(single) > len(fit_rows):
                log.info("final fit: the ensemble would get %d of %d rows; fitting the best "
                         "single model on %d instead", len(fit_rows), len(self.train_pos),
                         len(single))
                entry, fit_rows = self.best, single
        pipeline, params = self.build_pipeline(entry)
        has_holdout = len(self.hold_pos) > 0
        started = time.time()
        pipeline = self._fit(pipeline, fit_rows)
        fit_s = time.time() - started
        self._relabel(pipeline)
        cv = {self.metric.name: _finite(entry.score)}
        if entry.oof is not None:
            mask = self.oof_mask
            cv.update(all_scores(self.task, self.ys[mask], entry.oof[mask], self.n_classes))
            cv[self.metric.name] = _finite(entry.score)
        holdout, evaluation, importance = {}, {}, []
        if has_holdout:
            self.progress("holdout evaluation")
            scored = splits.subsample(self.hold_pos, self.codes, seed=self.seed,
                                      max_rows=EVAL_MAX_ROWS)
            pred = self.predict_scores(pipeline, scored)
            evaluation = evaluate.report(self.task, self.classes, self.target[scored], pred,
                                         seed=self.seed, rows_seen="holdout")
            holdout = evaluation.get("metrics", {})
            importance = evaluate.permutation_importance(
                pipeline, self.X_raw.iloc[scored][self._input_columns()],
                self.labels[scored], self.metric, self.task,
                # the refit on all rows (below) comes first: importance stops in time for it
                deadline=hard_deadline - fit_s * (len(self.X) / max(1, len(fit_rows)))
                * REFIT_MARGIN * 1.1,
                seed=self.seed)
        elif entry.oof is not None:
            mask = self.oof_mask
            evaluation = evaluate.report(self.task, self.classes, self.ys[mask], entry.oof[mask],
                                         seed=self.seed, rows_seen="out-of-fold")
        evaluation["permutation_importance"] = importance
        evaluation["cv"] = cv
        evaluation["fold_scores"] = entry.fold_scores
        refit = False
        if has_holdout and self.config.refit_full:
            estimate = fit_s * (len(self.X) / max(1, len(fit_rows))) * REFIT_MARGIN
            if time.time() + estimate <= hard_deadline:
                self.progress("refit on all rows")
                pipeline, _ = self.build_pipeline(entry)
                pipeline = self._fit(pipeline, np.arange(len(self.X)))
                self._relabel(pipeline)
                refit = True
        set_inference_threads(pipeline, 1)
        latency = _latency_ms(pipeline, self.X_raw.iloc[:1][self._input_columns()])
        evaluation["predict_ms_single_row"] = latency
        evaluation["fit_time_s"] = round(fit_s, 4)
        evaluation["fitted_rows"] = int(len(self.X) if refit else len(fit_rows))
        return FinalModel(pipeline=pipeline, entry=entry, cv=cv, holdout=holdout,
                          evaluation=evaluation, importance=importance,
                          fitted_rows=evaluation["fitted_rows"], refit_full=refit,
                          latency_ms=latency, final_params=params)

    # --- what the card needs ----------------------------------------------------------

    def _input_columns(self) -> list[str]:
        if self.rowwise_steps:
            return list(self.X_raw.columns)
        return [c for c in self.X_raw.columns if c in self.features]

    def input_schema(self, raw_schema: list[dict] | None) -> list[dict]:
        """The raw input columns the pipeline takes, with what serving needs to check them."""
        smap = {c["name"]: c for c in (raw_schema or [])}
        used = set(self._input_columns())
        out = []
        for name in self.X_raw.columns:
            if name == self.plan.target:
                continue
            col = smap.get(name, {})
            series = self.X_raw[name]
            entry = {"name": str(name), "dtype": str(col.get("dtype") or series.dtype),
                     "semantic": col.get("semantic") or self.kinds.get(name, "categorical"),
                     "nullable": bool(series.isna().any()), "used": name in used}
            if name not in used:
                entry["reason"] = self.plan.excluded.get(name, "not a feature")
            if entry["semantic"] in ("categorical", "boolean"):
                cats = col.get("categories")
                if cats is None:
                    cats = [json_safe(v) for v in series.dropna().value_counts().index[:100]]
                entry["categories"] = list(cats)[:100]
            if entry["semantic"] == "numeric":
                values = pd.to_numeric(series, errors="coerce")
                values = values[np.isfinite(values.astype("float64"))] if len(values) else values
                if len(values.dropna()):
                    entry["min"], entry["max"] = json_safe(values.min()), json_safe(values.max())
            out.append(entry)
        return out

    def example(self) -> dict:
        """One real input record (the row with the fewest missing values among the first 200)."""
        cols = self._input_columns()
        head = self.X_raw[cols].head(200)
        if not len(head):
            return {}
        best = int(head.isna().sum(axis=1).to_numpy().argmin())
        return {str(k): json_safe(v) for k, v in head.iloc[best].items()}

    def training_predictions(self, final: FinalModel) -> dict:
        """Out-of-fold predictions for the monitoring baseline (labels and probabilities)."""
        if final.entry.oof is None:
            return {"prediction": []}
        mask = self.oof_mask
        oof = final.entry.oof[mask]
        if self.task == "regression":
            return {"prediction": oof.tolist()}
        labels = [json_safe(self.classes[i]) for i in np.argmax(oof, axis=1)]
        return {"prediction": labels, "probabilities": np.round(oof, 6).tolist()}

    def baseline_frame(self) -> pd.DataFrame:
        """Raw training inputs, row-aligned with :meth:`training_predictions`."""
        return self.X_raw.iloc[self.search_pos[self.oof_mask]]


def new_study(metric: Metric, seed: int, storage=None, study_name: str | None = None,
              constant_liar: bool = False):
    """The search's study; ``constant_liar`` when several trials run at once (a Dask
    cluster), so TPE does not propose the same region to every free worker."""
    import optuna

    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True,
                                         n_startup_trials=5,
                                         constant_liar=constant_liar)
    # keep the best two thirds at each fold: a trial in the worst third after its first folds
    # is hopeless (percentile = the share of trials kept, in either direction)
    pruner = optuna.pruners.PercentilePruner(67.0, n_startup_trials=10, n_warmup_steps=0)
    return optuna.create_study(
        storage=storage, study_name=study_name, sampler=sampler, pruner=pruner,
        direction="maximize" if metric.greater_is_better else "minimize", load_if_exists=True)


def trainable_rows(algo: str, y_codes: np.ndarray) -> np.ndarray | None:
    """Rows to fit on: histogram boosting diverges on a class of one or two rows, so those
    rows are left out of its fit (the class then gets the probability floor)."""
    if algo != "hgb":
        return None
    counts = np.bincount(y_codes)
    tiny = np.flatnonzero((counts > 0) & (counts < 3))
    if not len(tiny):
        return None
    return np.flatnonzero(~np.isin(y_codes, tiny))


def _finite(value) -> float | None:
    if value is None:
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _meaningfully_better(metric: Metric, a: float, b: float) -> bool:
    """Keep the ensemble only for a real gain (it costs prediction time)."""
    gain = (a - b) if metric.greater_is_better else (b - a)
    return gain > 1e-4 * max(1.0, abs(b))


def _as_matrix(X):
    import scipy.sparse as sp

    if sp.issparse(X):
        return X.tocsr()
    return np.asarray(X)


def _nbytes(X) -> int:
    import scipy.sparse as sp

    if sp.issparse(X):
        return int(X.data.nbytes + X.indices.nbytes + X.indptr.nbytes)
    return int(X.nbytes)


def _uses_knn(pipeline) -> bool:
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

    last = pipeline.steps[-1][1]
    inner = getattr(last, "estimator", last)
    if hasattr(last, "members"):
        return any(_uses_knn(m) for m in last.members)
    return isinstance(inner, (KNeighborsClassifier, KNeighborsRegressor))


def _weight_param(pipeline) -> str:
    return f"{pipeline.steps[-1][0]}__sample_weight"


def _latency_ms(pipeline, row: pd.DataFrame, repeats: int = 7) -> float:
    if not len(row):
        return 0.0
    predict = pipeline.predict
    predict(row)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        predict(row)
        times.append(time.perf_counter() - t0)
    return round(1000.0 * float(np.median(times)), 3)
