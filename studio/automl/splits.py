"""Splits: the final holdout, and the validation folds the search scores on.

Everything works on row positions (numpy integer arrays) so frames are never
copied per fold. Rules:

- time column: rows are ordered by time; the holdout is the latest rows and
  folds are expanding windows (``TimeSeriesSplit``), never the future to
  predict the past;
- group column: a group's rows stay on one side (holdout and folds);
- otherwise stratified by class for classifiers (unless rare classes stopped it);
- small data: k-fold; large data: one validation split (k-fold there costs k
  fits for little gain).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import (GroupKFold, GroupShuffleSplit, KFold, StratifiedKFold,
                                     StratifiedGroupKFold, TimeSeriesSplit, train_test_split)

KFOLD_MAX_ROWS = 10_000          # above this, one validation split
VALID_FRAC = 0.2
VALID_MAX_ROWS = 20_000
SEARCH_MAX_ROWS = 100_000        # rows the search fits on; the final model sees them all
HOLDOUT_MAX_ROWS = 50_000


def holdout_fraction(n: int) -> float:
    if n < 100:
        return 0.0
    return min(0.2, HOLDOUT_MAX_ROWS / n)


def time_order(times: pd.Series) -> np.ndarray:
    values = times
    if not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_datetime64_any_dtype(values)):
        values = pd.to_datetime(values.astype("object"), errors="coerce", format="mixed")
    return np.argsort(np.asarray(values.rank(method="first", na_option="top")), kind="stable")


def split_holdout(n: int, y_codes: np.ndarray | None, *, seed: int, stratify: bool,
                  groups: np.ndarray | None = None, order: np.ndarray | None = None,
                  frac: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(train positions, holdout positions); an empty holdout for tiny data."""
    frac = holdout_fraction(n) if frac is None else frac
    every = np.arange(n)
    if frac <= 0:
        return every, every[:0]
    if order is not None:
        cut = int(round(n * (1 - frac)))
        return np.sort(order[:cut]), np.sort(order[cut:])
    if groups is not None:
        splitter = GroupShuffleSplit(n_splits=1, test_size=frac, random_state=seed)
        train, hold = next(splitter.split(every, groups=groups))
        return np.sort(train), np.sort(hold)
    strat = y_codes if stratify and y_codes is not None and _can_stratify(y_codes, 2) else None
    train, hold = train_test_split(every, test_size=frac, random_state=seed, stratify=strat)
    return np.sort(train), np.sort(hold)


def _can_stratify(y_codes: np.ndarray, k: int) -> bool:
    counts = np.bincount(y_codes)
    return bool(counts[counts > 0].min() >= k)


def subsample(positions: np.ndarray, y_codes: np.ndarray | None, *, seed: int,
              max_rows: int = SEARCH_MAX_ROWS) -> np.ndarray:
    """At most ``max_rows`` of ``positions`` (stratified when labels allow)."""
    if len(positions) <= max_rows:
        return positions
    strat = None
    if y_codes is not None:
        sub = y_codes[positions]
        if _can_stratify(sub, 2):
            strat = sub
    kept, _ = train_test_split(positions, train_size=max_rows, random_state=seed, stratify=strat)
    return np.sort(kept)


def make_folds(n: int, y_codes: np.ndarray | None, *, n_folds: int, seed: int, stratify: bool,
               groups: np.ndarray | None = None, order: np.ndarray | None = None,
               ) -> tuple[list[tuple[np.ndarray, np.ndarray]], str]:
    """Validation folds over positions 0..n-1 and a description for people."""
    every = np.arange(n)
    if order is not None:
        splits = min(n_folds, 5) if n <= KFOLD_MAX_ROWS else 1
        if splits == 1:
            cut = int(round(n * (1 - VALID_FRAC)))
            return [(np.sort(order[:cut]), np.sort(order[cut:]))], "time-ordered validation split (latest 20%)"
        tss = TimeSeriesSplit(n_splits=splits)
        folds = [(np.sort(order[a]), np.sort(order[b])) for a, b in tss.split(every)]
        return folds, f"time-ordered {splits}-split (expanding window)"
    if groups is not None:
        k = max(2, min(n_folds, len(np.unique(groups))))
        if stratify and y_codes is not None and _can_stratify(y_codes, k):
            splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
            return list(splitter.split(every, y_codes, groups)), f"stratified group {k}-fold"
        return list(GroupKFold(n_splits=k).split(every, groups=groups)), f"group {k}-fold"
    if n > KFOLD_MAX_ROWS:
        valid = min(VALID_FRAC, VALID_MAX_ROWS / n)
        strat = y_codes if stratify and y_codes is not None and _can_stratify(y_codes, 2) else None
        train, hold = train_test_split(every, test_size=valid, random_state=seed, stratify=strat)
        return [(np.sort(train), np.sort(hold))], f"validation split ({len(hold):,} rows)"
    k = max(2, min(n_folds, n // 2))
    if stratify and y_codes is not None and _can_stratify(y_codes, k):
        folds = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(every, y_codes)
        return list(folds), f"stratified {k}-fold"
    return list(KFold(n_splits=k, shuffle=True, random_state=seed).split(every)), f"{k}-fold"
