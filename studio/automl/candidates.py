"""Candidate models: how to build each, its search space, and the default portfolio.

Optuna sees one conditional space: ``algorithm`` first, then that algorithm's
parameters named ``<algorithm>__<param>``. The portfolio is a list of strong
default configurations in the same naming, enqueued before TPE takes over, so
a short budget still tries the configurations that usually win.
"""
from __future__ import annotations

import functools
import importlib
import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

SMALL_DATA_ROWS = 10_000          # k-NN only below this (prediction cost grows with rows)
LGBM_THREADED_ROWS = 100_000     # LightGBM uses more than one thread from this many rows
HGB_MAX_ITER = 2000             # an upper bound: early stopping on an inner split decides


@dataclass(frozen=True)
class Candidate:
    name: str
    label: str
    family: str                  # preprocessing family: linear | tree | gbm
    space: Callable[[Any, str], dict]
    small_only: bool = False
    in_search: bool = True       # offered to TPE (the dummy is portfolio-only)
    needs: str | None = None     # a module that must import (optional libraries)


def _p(algo: str, params: dict) -> dict:
    return {f"{algo}__{k}": v for k, v in params.items()}


# --- search spaces (trial, task) -> params without prefix ------------------------------

def _space_linear(trial, task):
    if task == "regression":
        return {"alpha": trial.suggest_float("linear__alpha", 1e-3, 1e3, log=True)}
    return {"C": trial.suggest_float("linear__C", 1e-3, 1e2, log=True)}


def _space_forest(prefix):
    def space(trial, task):
        return {
            "n_estimators": trial.suggest_int(f"{prefix}__n_estimators", 50, 400, log=True),
            "max_features": trial.suggest_categorical(f"{prefix}__max_features",
                                                      ["sqrt", "0.3", "0.5", "0.7", "1.0"]),
            "min_samples_leaf": trial.suggest_int(f"{prefix}__min_samples_leaf", 1, 30, log=True),
        }
    return space


def _space_hgb(trial, task):
    return {
        "learning_rate": trial.suggest_float("hgb__learning_rate", 0.01, 0.3, log=True),
        "max_leaf_nodes": trial.suggest_int("hgb__max_leaf_nodes", 7, 127, log=True),
        "min_samples_leaf": trial.suggest_int("hgb__min_samples_leaf", 5, 100, log=True),
        # below ~0.1, multiclass boosting with rare classes diverges (leaf values explode)
        "l2_regularization": trial.suggest_float("hgb__l2_regularization", 0.1, 10.0, log=True),
        "max_features": trial.suggest_float("hgb__max_features", 0.3, 1.0),
    }


def _space_xgb(trial, task):
    return {
        "learning_rate": trial.suggest_float("xgb__learning_rate", 0.01, 0.3, log=True),
        "max_depth": trial.suggest_int("xgb__max_depth", 2, 10),
        "min_child_weight": trial.suggest_float("xgb__min_child_weight", 0.5, 20.0, log=True),
        "subsample": trial.suggest_float("xgb__subsample", 0.5, 1.0),
        "colsample_bytree": trial.suggest_float("xgb__colsample_bytree", 0.3, 1.0),
        "reg_lambda": trial.suggest_float("xgb__reg_lambda", 1e-3, 30.0, log=True),
        "reg_alpha": trial.suggest_float("xgb__reg_alpha", 1e-4, 10.0, log=True),
    }


def _space_lgbm(trial, task):
    return {
        "learning_rate": trial.suggest_float("lgbm__learning_rate", 0.01, 0.3, log=True),
        "num_leaves": trial.suggest_int("lgbm__num_leaves", 7, 255, log=True),
        "min_child_samples": trial.suggest_int("lgbm__min_child_samples", 3, 100, log=True),
        "subsample": trial.suggest_float("lgbm__subsample", 0.5, 1.0),
        "colsample_bytree": trial.suggest_float("lgbm__colsample_bytree", 0.3, 1.0),
        "reg_lambda": trial.suggest_float("lgbm__reg_lambda", 1e-3, 30.0, log=True),
        "reg_alpha": trial.suggest_float("lgbm__reg_alpha", 1e-4, 10.0, log=True),
    }


def _space_knn(trial, task):
    return {
        "n_neighbors": trial.suggest_int("knn__n_neighbors", 3, 60, log=True),
        "weights": trial.suggest_categorical("knn__weights", ["uniform", "distance"]),
    }


CANDIDATES: dict[str, Candidate] = {c.name: c for c in [
    Candidate("dummy", "Dummy baseline", "tree", lambda t, task: {}, in_search=False),
    Candidate("linear", "Regularised linear", "linear", _space_linear),
    Candidate("rf", "Random forest", "tree", _space_forest("rf")),
    Candidate("et", "Extra trees", "tree", _space_forest("et")),
    Candidate("hgb", "Histogram gradient boosting", "tree", _space_hgb),
    Candidate("xgb", "XGBoost", "tree", _space_xgb),
    Candidate("lgbm", "LightGBM", "gbm", _space_lgbm, needs="lightgbm"),
    Candidate("knn", "k-nearest neighbours", "linear", _space_knn, small_only=True),
]}


@functools.lru_cache(maxsize=None)
def importable(module: str) -> bool:
    """Whether an optional library loads here (LightGBM needs the system's libgomp)."""
    try:
        importlib.import_module(module)
    except (ImportError, OSError):
        return False
    return True


def available(n_rows: int, allowed: list[str] | None = None) -> list[str]:
    names = [n for n, c in CANDIDATES.items()
             if (not c.small_only or n_rows <= SMALL_DATA_ROWS)
             and (c.needs is None or importable(c.needs))]
    if allowed:
        names = [n for n in names if n in allowed or n == "dummy"]
    return names


def portfolio(task: str, algorithms: list[str], n_classes: int = 0) -> list[dict]:
    """Strong defaults, best first, as Optuna parameter dicts.

    With many classes, boosting grows one tree per class per round while a forest's
    tree serves every class: forests go first there.
    """
    reg = task == "regression"
    items = [
        ("dummy", {}),
        ("lgbm", {"learning_rate": 0.05, "num_leaves": 31, "min_child_samples": 20,
                  "subsample": 0.8, "colsample_bytree": 0.8, "reg_lambda": 1.0, "reg_alpha": 1e-4}),
        ("xgb", {"learning_rate": 0.1, "max_depth": 6, "min_child_weight": 1.0, "subsample": 0.8,
                 "colsample_bytree": 0.8, "reg_lambda": 1.0, "reg_alpha": 1e-4}),
        ("hgb", {"learning_rate": 0.1, "max_leaf_nodes": 31, "min_samples_leaf": 20,
                 "l2_regularization": 1.0, "max_features": 1.0}),
        ("linear", {"alpha": 1.0} if reg else {"C": 1.0}),
        ("rf", {"n_estimators": 200, "max_features": "0.5" if reg else "sqrt",
                "min_samples_leaf": 1}),
        ("et", {"n_estimators": 200, "max_features": "0.7" if reg else "sqrt",
                "min_samples_leaf": 2}),
        ("knn", {"n_neighbors": 15, "weights": "distance"}),
        ("xgb", {"learning_rate": 0.05, "max_depth": 4, "min_child_weight": 3.0, "subsample": 0.9,
                 "colsample_bytree": 0.6, "reg_lambda": 3.0, "reg_alpha": 1e-4}),
        ("hgb", {"learning_rate": 0.05, "max_leaf_nodes": 15, "min_samples_leaf": 40,
                 "l2_regularization": 1.0, "max_features": 0.7}),
        ("xgb", {"learning_rate": 0.03, "max_depth": 8, "min_child_weight": 5.0, "subsample": 0.7,
                 "colsample_bytree": 0.5, "reg_lambda": 10.0, "reg_alpha": 0.1}),
        ("lgbm", {"learning_rate": 0.03, "num_leaves": 127, "min_child_samples": 10,
                  "subsample": 0.8, "colsample_bytree": 0.6, "reg_lambda": 3.0, "reg_alpha": 1e-4}),
        ("linear", {"alpha": 10.0} if reg else {"C": 0.1}),
    ]
    if n_classes >= 8:
        forests = [item for item in items if item[0] in ("rf", "et")]
        items = items[:1] + forests + [item for item in items[1:] if item[0] not in ("rf", "et")]
    return [{"algorithm": a, **_p(a, p)} for a, p in items if a in algorithms]


def suggest(trial, task: str, algorithms: list[str]) -> tuple[str, dict]:
    """Draw a configuration from the conditional space: (algorithm, params)."""
    choices = [a for a in algorithms if CANDIDATES[a].in_search]
    algo = trial.suggest_categorical("algorithm", choices)
    return algo, CANDIDATES[algo].space(trial, task)


def split_params(flat: dict) -> tuple[str, dict]:
    """Optuna's flat dict → (algorithm, params without prefix)."""
    algo = flat["algorithm"]
    prefix = f"{algo}__"
    return algo, {k[len(prefix):]: v for k, v in flat.items() if k.startswith(prefix)}


def _max_features(value):
    if value in ("sqrt", "log2"):
        return value
    return float(value)


def build_model(algo: str, params: dict, task: str, *, seed: int, n_jobs: int,
                balanced: bool, n_cat: int = 0, n_rows: int = 0, for_search: bool = True):
    """An unfitted estimator for ``algo`` with ``params`` (classifiers unwrapped)."""
    from sklearn import dummy, ensemble, linear_model, neighbors

    clf = task != "regression"
    cw = "balanced" if balanced and clf else None
    if algo == "dummy":
        return dummy.DummyClassifier(strategy="prior") if clf else dummy.DummyRegressor()
    if algo == "linear":
        if clf:
            return linear_model.LogisticRegression(C=params.get("C", 1.0), max_iter=500,
                                                   class_weight=cw)
        return linear_model.Ridge(alpha=params.get("alpha", 1.0))
    if algo in ("rf", "et"):
        cls = {("rf", True): ensemble.RandomForestClassifier,
               ("rf", False): ensemble.RandomForestRegressor,
               ("et", True): ensemble.ExtraTreesClassifier,
               ("et", False): ensemble.ExtraTreesRegressor}[(algo, clf)]
        kwargs = dict(n_estimators=int(params.get("n_estimators", 300)),
                      max_features=_max_features(params.get("max_features", "sqrt")),
                      min_samples_leaf=int(params.get("min_samples_leaf", 1)),
                      n_jobs=n_jobs, random_state=seed)
        if n_rows > 50_000:  # bound memory and time: each tree sees a sample of rows
            kwargs.update(bootstrap=True, max_samples=min(1.0, 50_000 / n_rows))
        if clf:
            kwargs["class_weight"] = cw
        return cls(**kwargs)
    if algo == "hgb":
        cls = ensemble.HistGradientBoostingClassifier if clf else ensemble.HistGradientBoostingRegressor
        kwargs = dict(learning_rate=params.get("learning_rate", 0.1),
                      max_leaf_nodes=int(params.get("max_leaf_nodes", 31)),
                      min_samples_leaf=int(params.get("min_samples_leaf", 20)),
                      l2_regularization=params.get("l2_regularization", 0.0),
                      max_features=params.get("max_features", 1.0),
                      max_iter=int(params.get("max_iter", HGB_MAX_ITER)),
                      early_stopping=bool(params.get("early_stopping", True)),
                      validation_fraction=0.1, n_iter_no_change=20, random_state=seed,
                      categorical_features=list(range(n_cat)) if n_cat else None)
        if clf:
            kwargs["class_weight"] = cw
        return cls(**kwargs)
    if algo == "xgb":
        import xgboost as xgb

        cls = xgb.XGBClassifier if clf else xgb.XGBRegressor
        return cls(n_estimators=int(params.get("n_estimators", 2000)),
                   learning_rate=params.get("learning_rate", 0.1),
                   max_depth=int(params.get("max_depth", 6)),
                   min_child_weight=params.get("min_child_weight", 1.0),
                   subsample=params.get("subsample", 0.8),
                   colsample_bytree=params.get("colsample_bytree", 0.8),
                   reg_lambda=params.get("reg_lambda", 1.0), reg_alpha=params.get("reg_alpha", 0.0),
                   tree_method="hist", max_bin=256, n_jobs=n_jobs, random_state=seed,
                   verbosity=0)
    if algo == "lgbm":
        import lightgbm as lgb

        cls = lgb.LGBMClassifier if clf else lgb.LGBMRegressor
        kwargs = dict(n_estimators=int(params.get("n_estimators", 4000)),
                      learning_rate=params.get("learning_rate", 0.05),
                      num_leaves=int(params.get("num_leaves", 31)),
                      min_child_samples=int(params.get("min_child_samples", 20)),
                      subsample=params.get("subsample", 0.8), subsample_freq=1,
                      colsample_bytree=params.get("colsample_bytree", 0.8),
                      reg_lambda=params.get("reg_lambda", 1.0),
                      reg_alpha=params.get("reg_alpha", 0.0),
                      # with OMP_WAIT_POLICY=PASSIVE (see studio.automl) LightGBM's per-split
                      # barriers make 2 threads ~10x slower than 1 on small data
                      n_jobs=n_jobs if n_rows >= LGBM_THREADED_ROWS else 1,
                      random_state=seed, verbose=-1)
        if n_cat:  # the ordinal-coded categories come first: split on them as categories
            kwargs["categorical_feature"] = list(range(n_cat))
        if clf:
            kwargs["class_weight"] = cw
        return cls(**kwargs)
    if algo == "knn":
        cls = neighbors.KNeighborsClassifier if clf else neighbors.KNeighborsRegressor
        return cls(n_neighbors=int(params.get("n_neighbors", 15)),
                   weights=params.get("weights", "distance"), n_jobs=n_jobs)
    raise ValueError(f"unknown algorithm {algo}")


def few_threads(n_jobs: int):
    """Cap OpenMP threads (histogram boosting has no n_jobs of its own) at ``n_jobs``."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=max(1, int(n_jobs)), user_api="openmp")


class _Deadline:
    """XGBoost callback: stop adding trees at the deadline or when the job is cancelled."""

    def __new__(cls, deadline: float | None, stop: Callable[[], bool] | None = None):
        import xgboost as xgb

        class Deadline(xgb.callback.TrainingCallback):
            def after_iteration(self, model, epoch, evals_log):
                return bool((deadline is not None and time.time() > deadline) or (stop and stop()))

        return Deadline()


def fit_model(algo: str, model, Xt, y, *, sample_weight=None, deadline: float | None = None,
              seed: int = 0, stop: Callable[[], bool] | None = None) -> dict:
    """Fit ``model`` on preprocessed data; returns facts for the final refit.

    XGBoost stops early on an inner 10% split (and at the deadline); the number
    of trees it chose is returned so the final model uses it without a split.
    """
    if algo in ("rf", "et"):
        return _fit_forest(model, Xt, y, sample_weight, deadline, stop)
    if algo not in ("xgb", "hgb", "lgbm"):
        if sample_weight is not None and algo in ("rf", "et", "linear", "dummy"):
            model.fit(Xt, y, sample_weight=sample_weight)
        else:
            model.fit(Xt, y)
        return {}
    is_clf = hasattr(model, "predict_proba")
    inner_fit, inner_val = inner_split(np.asarray(y), seed=seed, is_clf=is_clf)
    sw = None if sample_weight is None else sample_weight[inner_fit]
    if algo == "hgb":
        kwargs = {}
        if len(inner_val):
            model.set_params(early_stopping=True)
            kwargs = {"X_val": Xt[inner_val], "y_val": y[inner_val]}
            if sample_weight is not None:
                kwargs["sample_weight_val"] = sample_weight[inner_val]
        else:
            model.set_params(early_stopping=False, max_iter=min(model.max_iter, 200))
        return _fit_hgb(model, Xt[inner_fit], y[inner_fit], sw, kwargs, deadline, stop)
    if algo == "lgbm":
        return _fit_lgbm(model, Xt, y, sw, inner_fit, inner_val, deadline, stop)
    callbacks = [_Deadline(deadline, stop)] if deadline or stop else None
    if len(inner_val):
        model.set_params(early_stopping_rounds=50, callbacks=callbacks)
        model.fit(Xt[inner_fit], y[inner_fit], sample_weight=sw,
                  eval_set=[(Xt[inner_val], y[inner_val])], verbose=False)
    else:
        model.set_params(callbacks=callbacks, n_estimators=min(model.n_estimators, 200))
        model.fit(Xt[inner_fit], y[inner_fit], sample_weight=sw, verbose=False)
    best = getattr(model, "best_iteration", None) if len(inner_val) else None
    model.set_params(callbacks=None)
    return {"n_estimators": int(best) + 1 if best is not None else int(model.n_estimators)}


def _fit_lgbm(model, Xt, y, sw, inner_fit, inner_val, deadline: float | None,
              stop: Callable[[], bool] | None) -> dict:
    """LightGBM with early stopping on the inner split and a stop at the deadline."""
    import lightgbm as lgb

    def until_deadline(env) -> None:
        if (deadline is not None and time.time() > deadline) or (stop and stop()):
            raise lgb.callback.EarlyStopException(env.iteration, env.evaluation_result_list or [])

    callbacks = [until_deadline]
    kwargs: dict = {}
    if len(inner_val):
        callbacks.append(lgb.early_stopping(50, first_metric_only=True, verbose=False))
        kwargs.update(eval_X=(Xt[inner_val],), eval_y=(y[inner_val],))
    else:
        model.set_params(n_estimators=min(model.n_estimators, 200))
    with warnings.catch_warnings():
        # categorical columns are given as a parameter (it survives sklearn's clone)
        warnings.filterwarnings("ignore", message=".*categorical_feature keyword.*")
        model.fit(Xt[inner_fit], y[inner_fit], sample_weight=sw, callbacks=callbacks, **kwargs)
    best = getattr(model, "best_iteration_", None) or 0
    trees = int(best) if best > 0 else int(model.booster_.current_iteration())
    return {"n_estimators": max(1, trees)}


def _fit_forest(model, Xt, y, sample_weight, deadline: float | None,
                stop: Callable[[], bool] | None = None) -> dict:
    """Grow a forest in chunks so it stops (with the trees it has) at the deadline."""
    total = int(model.n_estimators)
    chunk = max(10, total // 8)
    grown = 0
    model.set_params(warm_start=True)
    try:
        while grown < total:
            started = time.time()
            grown = min(total, grown + chunk)
            model.set_params(n_estimators=grown)
            model.fit(Xt, y, sample_weight=sample_weight)
            took = time.time() - started
            if deadline is not None and time.time() + took > deadline:
                break  # the next chunk would not finish in time
            if stop is not None and stop():
                break
    finally:
        model.set_params(warm_start=False)
    return {"n_estimators": grown}


def _fit_hgb(model, X, y, sample_weight, kwargs: dict, deadline: float | None,
             stop: Callable[[], bool] | None) -> dict:
    """Histogram boosting in chunks of iterations (warm start), so it stops at the deadline.

    Chunks grow (25, 50, 100, then 200 iterations): every warm-started call bins the
    data again, so long runs take few calls while short ones still stop early."""
    total = int(model.max_iter)
    done = 0
    model.set_params(warm_start=True)
    try:
        while done < total:
            started = time.time()
            done = min(total, done + min(200, max(25, done)))
            model.set_params(max_iter=done)
            model.fit(X, y, sample_weight=sample_weight, **kwargs)
            if model.n_iter_ < done:
                break  # early stopping ended it
            took = time.time() - started
            if (deadline is not None and time.time() + took > deadline) or (stop and stop()):
                break
    finally:
        model.set_params(warm_start=False, max_iter=total)
    return {"n_iter": int(model.n_iter_)}


def inner_split(y: np.ndarray, *, seed: int, is_clf: bool, frac: float = 0.1
                ) -> tuple[np.ndarray, np.ndarray]:
    """An early-stopping split inside a fold's training rows.

    For classifiers, rows of classes too rare to appear on both sides stay in
    the fitting part, so the validation labels are always known to the model.
    """
    n = len(y)
    rng = np.random.default_rng(seed)
    if n < 20:
        return np.arange(n), np.arange(0)
    if not is_clf:
        idx = rng.permutation(n)
        cut = max(1, int(n * frac))
        return np.sort(idx[cut:]), np.sort(idx[:cut])
    val = []
    for cls in np.unique(y):
        rows = np.flatnonzero(y == cls)
        if len(rows) < 5:
            continue
        take = max(1, int(round(len(rows) * frac)))
        val.append(rng.choice(rows, size=take, replace=False))
    val_idx = np.sort(np.concatenate(val)) if val else np.arange(0)
    fit_mask = np.ones(n, dtype=bool)
    fit_mask[val_idx] = False
    return np.flatnonzero(fit_mask), val_idx


def final_params(algo: str, params: dict, fold_infos: list[dict], n_rows_ratio: float) -> dict:
    """Parameters for the final refit from what the folds learned (tree counts)."""
    params = dict(params)
    if algo == "hgb":
        counts = [i["n_iter"] for i in fold_infos if "n_iter" in i]
        if counts:
            params["max_iter"] = max(10, int(np.mean(counts) * (1.0 + 0.1 * min(n_rows_ratio, 3))))
            params["early_stopping"] = False
    if algo in ("rf", "et"):
        counts = [i["n_estimators"] for i in fold_infos if "n_estimators" in i]
        if counts:
            params["n_estimators"] = max(10, int(np.mean(counts)))
    if algo in ("xgb", "lgbm"):
        counts = [i["n_estimators"] for i in fold_infos if "n_estimators" in i]
        if counts:
            params["n_estimators"] = max(10, int(np.mean(counts) * (1.0 + 0.1 * min(n_rows_ratio, 3))))
    return params
