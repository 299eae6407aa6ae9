"""Drift of one feature (or the prediction) between the baseline and a window.

The baseline holds binned counts, not rows, so two-sample tests on raw values
(``ks_2samp``) are out; every statistic here compares *binned* distributions:

- numbers: the window's values go into the baseline's quantile bins. PSI from
  the bin proportions, and the Wasserstein distance between the two binned
  distributions (each bin at its own mean, weighted by its count, via
  ``scipy.stats.wasserstein_distance``) divided by the baseline's standard
  deviation, so it reads "shifted by this many standard deviations".
- categories: the window's values are counted against the baseline's top
  categories (+ "other" + "new"). PSI and the Jensen–Shannon distance
  (``scipy.spatial.distance.jensenshannon``, base 2, so 0…1).
- missing rate: the change from the baseline's rate; new categories: the share
  of the window's values that the (complete) baseline never saw.

A distance on a small sample is noisy, so a feature is only flagged when the
difference is also significant: a chi-square test of homogeneity on the binned
counts (``scipy.stats.chi2_contingency``), or a binomial test for the missing
rate, must give p < ``ALPHA``. Large windows make any difference significant,
so the distance thresholds decide there. Windows with fewer than ``MIN_ROWS``
values are never flagged.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from studio.monitor.baseline import bin_index, category_key

ALPHA = 0.01
MIN_ROWS = 30
EPS = 1e-4
STATUSES = ("ok", "warning", "alert")
# (warning, alert) thresholds per statistic, shown beside each score.
THRESHOLDS = {
    "wasserstein": (0.1, 0.25),      # in baseline standard deviations
    "jensen_shannon": (0.1, 0.2),    # distance, base 2 (0 = same, 1 = disjoint)
    "psi": (0.1, 0.25),
    "missing_rate": (0.05, 0.2),     # absolute change in the share of missing values
    "new_categories": (0.01, 0.1),   # share of values never seen in training
}


def level(score: float | None, statistic: str) -> str:
    if score is None or not math.isfinite(score):
        return "ok"
    warning, alert = THRESHOLDS[statistic]
    return "alert" if score >= alert else "warning" if score >= warning else "ok"


def worst(*statuses: str) -> str:
    return max(statuses, key=STATUSES.index, default="ok")


def _num(value: Any) -> float | None:
    if value is None:
        return None
    f = float(value)
    return round(f, 6) if math.isfinite(f) else None


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of two count vectors over the same bins."""
    p = np.maximum(expected / max(expected.sum(), 1), EPS)
    q = np.maximum(actual / max(actual.sum(), 1), EPS)
    return float(np.sum((q - p) * np.log(q / p)))


def homogeneity_p(expected: np.ndarray, actual: np.ndarray) -> float:
    """p-value of a chi-square test that both count vectors share one distribution."""
    from scipy.stats import chi2_contingency

    keep = (expected + actual) > 0
    table = np.vstack([expected[keep], actual[keep]])
    if table.shape[1] < 2 or table[1].sum() == 0 or table[0].sum() == 0:
        return 1.0
    return float(chi2_contingency(table, correction=False).pvalue)


def _missing_part(base: dict, missing: int, total: int) -> dict:
    from scipy.stats import binomtest

    rate0 = float(base.get("missing_rate") or 0.0)
    rate1 = missing / total if total else None
    out = {"missing_rate": _num(rate1), "baseline_missing_rate": _num(rate0),
           "missing_change": None, "missing_status": "ok"}
    if rate1 is None:
        return out
    change = rate1 - rate0
    out["missing_change"] = _num(change)
    if total < MIN_ROWS:
        return out
    if rate0 in (0.0, 1.0):
        p_value = 0.0 if (missing > 0 if rate0 == 0.0 else missing < total) else 1.0
    else:
        p_value = binomtest(missing, total, rate0).pvalue
    if p_value < ALPHA:
        out["missing_status"] = level(abs(change), "missing_rate")
    return out


def _numeric_part(base: dict, values: np.ndarray) -> dict:
    from scipy.stats import wasserstein_distance

    edges = base.get("edges") or []
    counts = np.asarray(base.get("counts") or [], dtype="float64")
    out: dict[str, Any] = {"statistic": "wasserstein", "score": None, "psi": None,
                           "p_value": None, "distribution_status": "ok"}
    if not len(counts) or not len(values):
        return out
    idx = bin_index(edges, values)
    current = np.bincount(idx, minlength=len(counts)).astype("float64")
    sums = np.bincount(idx, weights=values, minlength=len(counts))
    base_means = np.asarray([m if m is not None else np.nan for m in base["means"]], dtype="float64")
    cur_means = np.where(current > 0, sums / np.maximum(current, 1), np.nan)
    b_ok, c_ok = counts > 0, current > 0
    distance = wasserstein_distance(base_means[b_ok], cur_means[c_ok], counts[b_ok], current[c_ok])
    scale = base.get("std") or abs(base.get("mean") or 0.0) or 1.0
    out["score"] = _num(distance / scale)
    out["psi"] = _num(psi(counts, current))
    out["p_value"] = _num(homogeneity_p(counts, current))
    out["histogram"] = {"baseline": [int(c) for c in counts], "current": [int(c) for c in current],
                        "labels": bin_labels(base)}
    if len(values) >= MIN_ROWS and out["p_value"] < ALPHA:
        out["distribution_status"] = worst(level(out["score"], "wasserstein"),
                                           level(out["psi"], "psi"))
    return out


def bin_labels(base: dict) -> list[str]:
    edges = base.get("edges") or []
    if base.get("discrete"):
        return [_fmt(m) for m in base.get("means") or []]
    if not edges:
        return []
    labels = [f"≤ {_fmt(edges[0])}"]
    labels += [f"{_fmt(a)} – {_fmt(b)}" for a, b in zip(edges[:-1], edges[1:])]
    return labels + [f"> {_fmt(edges[-1])}"]


def _fmt(value: float | None) -> str:
    if value is None:
        return "?"
    return f"{value:.4g}"


NEW, OTHER = "(new)", "(other)"


def category_counts(values: list) -> dict[str, int]:
    """{category key: count} of present values (counted raw first, keyed once each)."""
    from collections import Counter

    try:
        raw = Counter(values)
    except TypeError:  # unhashable values (lists, dicts) are counted by their text
        raw = Counter(v if isinstance(v, (str, int, float, bool)) else repr(v) for v in values)
    out: dict[str, int] = {}
    for value, n in raw.items():
        key = category_key(value)
        if key is not None:
            out[key] = out.get(key, 0) + n
    return out


def _categorical_part(base: dict, counts: dict[str, int]) -> dict:
    from scipy.spatial.distance import jensenshannon

    top: dict = base.get("top") or {}
    complete = bool(base.get("complete", True))
    out: dict[str, Any] = {"statistic": "jensen_shannon", "score": None, "psi": None,
                           "p_value": None, "distribution_status": "ok",
                           "new_categories": [], "new_share": None, "new_status": "ok"}
    if not counts:
        return out
    labels = list(top) + [OTHER, NEW]
    position = {k: i for i, k in enumerate(top)}
    current = np.zeros(len(labels))
    new_counts: dict[str, int] = {}
    for key, n in counts.items():
        i = position.get(key)
        if i is not None:
            current[i] += n
        elif complete:
            current[-1] += n
            new_counts[key] = n
        else:
            current[-2] += n
    present = int(current.sum())
    expected = np.asarray(list(top.values()) + [base.get("other", 0), 0], dtype="float64")
    if expected.sum() == 0:  # every training value was missing: nothing to compare with
        out["new_categories"] = sorted(new_counts, key=new_counts.get, reverse=True)[:20]
        return out
    p = expected / expected.sum()
    q = current / current.sum()
    out["score"] = _num(jensenshannon(p, q, base=2))
    out["psi"] = _num(psi(expected, current))
    out["p_value"] = _num(homogeneity_p(expected, current))
    share = current[-1] / current.sum()
    out["new_share"] = _num(share)
    out["new_categories"] = sorted(new_counts, key=new_counts.get, reverse=True)[:20]
    shown = [i for i in range(len(labels)) if expected[i] or current[i]][:30]
    out["histogram"] = {"labels": [labels[i] for i in shown],
                        "baseline": [int(expected[i]) for i in shown],
                        "current": [int(current[i]) for i in shown]}
    enough = present >= MIN_ROWS
    if enough and out["p_value"] < ALPHA:
        out["distribution_status"] = worst(level(out["score"], "jensen_shannon"),
                                           level(out["psi"], "psi"))
    # A category training never saw is news however few rows carry it, once it repeats.
    if complete and new_counts and current[-1] >= 3 and (enough or current[-1] >= 5):
        out["new_status"] = level(share, "new_categories")
    return out


def numeric_values(raw: list) -> tuple[np.ndarray, int]:
    """(finite numbers, count of present values that are not numbers) from JSON values."""
    out = []
    wrong = 0
    for value in raw:
        if value is None or isinstance(value, bool):
            if isinstance(value, bool):
                out.append(float(value))
            continue
        if isinstance(value, (int, float)):
            out.append(float(value))
            continue
        try:
            out.append(float(str(value).strip()))
        except ValueError:
            if str(value).strip():
                wrong += 1
    arr = np.asarray(out, dtype="float64")
    return arr[np.isfinite(arr)], wrong


def is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and not math.isfinite(value):
        return True
    return isinstance(value, str) and not value.strip()


def feature_drift(name: str, base: dict, raw: list, importance: float | None = None) -> dict:
    """Drift of one feature: ``raw`` are the window's values as received (None = missing)."""
    total = len(raw)
    kind = base.get("kind", "categorical")
    present = [v for v in raw if not is_missing(v)]
    result: dict[str, Any] = {"feature": name, "kind": kind, "semantic": base.get("semantic", kind),
                              "importance": _num(importance), "rows": total,
                              "present": len(present)}
    if kind == "numeric":
        values, _wrong = numeric_values(present)
        result.update(_numeric_part(base, values))
    elif kind == "text":
        values = np.asarray([len(str(v)) for v in present], dtype="float64")
        result.update(_numeric_part(base, values))
    elif kind == "categorical":
        result.update(_categorical_part(base, category_counts(present)))
    else:  # identifiers and dates are watched through their missing rate only
        result.update(statistic="missing_rate", score=None, psi=None, p_value=None,
                      distribution_status="ok")
    missing = total - len(present)
    result.update(_missing_part(base, missing, total))
    if result["statistic"] == "missing_rate":
        result["score"] = _num(abs(result["missing_change"])) \
            if result["missing_change"] is not None else None
    result["status"] = worst(result["distribution_status"], result["missing_status"],
                             result.get("new_status", "ok"))
    result["thresholds"] = {"warning": THRESHOLDS[result["statistic"]][0],
                            "alert": THRESHOLDS[result["statistic"]][1]}
    result["reasons"] = _reasons(result)
    if total < MIN_ROWS:
        result["note"] = (f"only {total} row(s) in this window: too few to judge drift "
                          f"(at least {MIN_ROWS} are needed)")
    return result


def _reasons(r: dict) -> list[str]:
    reasons = []
    if r["distribution_status"] != "ok":
        what = "standard deviations" if r["statistic"] == "wasserstein" else "distance"
        reasons.append(f"distribution moved: {r['statistic']} {r['score']:.3g} ({what}), "
                       f"PSI {r['psi']:.3g}")
    if r["missing_status"] != "ok":
        reasons.append(f"missing values {r['baseline_missing_rate']:.1%} → {r['missing_rate']:.1%}")
    if r.get("new_status", "ok") != "ok":
        shown = ", ".join(map(str, r["new_categories"][:5]))
        reasons.append(f"{r['new_share']:.1%} of values are categories never seen in training "
                       f"({shown})")
    return reasons


def prediction_drift(base: dict | None, raw: list) -> dict | None:
    """Drift of the predictions (labels as categories, regression values as numbers)."""
    if not base:
        return None
    return feature_drift("prediction", base, raw)
