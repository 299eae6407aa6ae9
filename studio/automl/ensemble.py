"""Greedy ensemble selection (Caruana et al., 2004) over out-of-fold predictions.

Start from the best single model, then repeatedly add (with replacement) the
candidate whose addition improves the validation score most. The weights are
how often each was picked. The ensemble is kept only if it beats the best
single model — the caller compares.
"""
from __future__ import annotations

import numpy as np

from studio.automl.metrics import Metric, score


def select(preds: list[np.ndarray], y: np.ndarray, metric: Metric, n_classes: int,
           iterations: int = 30) -> tuple[list[int], float]:
    """(pick counts per candidate, ensemble score); ``preds`` share row order with ``y``."""
    if not preds:
        return [], float("nan")
    sign = 1.0 if metric.greater_is_better else -1.0
    singles = [score(metric, y, p, n_classes) for p in preds]
    finite = [s if np.isfinite(s) else -np.inf * sign for s in singles]
    first = int(np.argmax(np.asarray(finite) * sign))
    counts = [0] * len(preds)
    counts[first] = 1
    total = preds[first].astype("float64").copy()
    best_score, best_counts = singles[first], list(counts)
    for step in range(2, iterations + 1):
        trial_scores = []
        for p in preds:
            trial_scores.append(score(metric, y, (total + p) / step, n_classes))
        arr = np.asarray([s if np.isfinite(s) else -np.inf * sign for s in trial_scores])
        pick = int(np.argmax(arr * sign))
        counts[pick] += 1
        total += preds[pick]
        current = trial_scores[pick]
        if np.isfinite(current) and (current - best_score) * sign > 1e-12:
            best_score, best_counts = current, list(counts)
    return best_counts, float(best_score)
