"""Dataset profiles and the checks to run before training on a target.

``build_profile(frame, schema)`` returns a JSON-safe dict, stored once per
dataset version (see :func:`studio.datasets.get_profile`)::

    format, rows, cols, missing_cells, duplicate_rows, sample {rows, note} | None,
    columns: [schema entry + missing_pct, stats | top, chart, warnings],
    correlation {columns, matrix, method, sampled} | None,
    warnings: [{kind, column(s), severity, message}], blocked: str | None

Charts are stored as binned data (``{"kind": "histogram", "edges", "counts"}``
or ``{"kind": "bar", "labels", "counts", "other"}``); the page draws them.
Exact over all rows: counts, missing, distinct, min/max/mean/std, top values,
duplicate rows (by a 64-bit row hash). From a sample of ``SAMPLE_ROWS`` rows
when the frame is larger: quantiles, histograms and correlations; the profile
says so.

``target_checks(frame, schema, target, task)`` looks at one target: missing
values, one class, rare classes vs folds, imbalance, a continuous number used
as a class, features that predict it almost perfectly on their own (a quick
per-feature model on a sample), ID-like columns.
"""
from __future__ import annotations

import hashlib
import math
import time
import warnings as warnings_module
from typing import Any

import numpy as np
import pandas as pd

from studio.schema import json_safe

PROFILE_FORMAT = 1
SAMPLE_ROWS = 100_000
BINS = 30
TOP = 20
MAX_CORR_COLUMNS = 40
HIGH_CARDINALITY = 50
FOLDS = 5
LEAK_ROWS = 20_000
LEAK_MAX_FEATURES = 300
LEAK_SCORE = 0.95


def _r(x: Any, digits: int = 6) -> Any:
    if x is None:
        return None
    try:
        f = float(x)
    except (TypeError, ValueError):
        return json_safe(x)
    if not math.isfinite(f):
        return None
    return float(f"{f:.{digits}g}")


def _warning(kind: str, message: str, severity: str = "warning", **extra) -> dict:
    return {"kind": kind, "severity": severity, "message": message, **extra}


# --- per column ---------------------------------------------------------------

def _numeric_values(series: pd.Series) -> np.ndarray:
    if pd.api.types.is_bool_dtype(series):
        return series.to_numpy(dtype="float64")
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def _histogram(values: np.ndarray) -> dict | None:
    finite = values[np.isfinite(values)]
    if not len(finite):
        return None
    lo, hi = float(finite.min()), float(finite.max())
    uniq = np.unique(finite[:50_000]) if len(finite) > 50_000 else np.unique(finite)
    if len(uniq) <= BINS and np.all(uniq % 1 == 0):
        labels, counts = np.unique(finite, return_counts=True)
        return {"kind": "bar", "labels": [_r(v) for v in labels], "counts": counts.tolist(),
                "other": 0}
    if lo == hi:
        return {"kind": "bar", "labels": [_r(lo)], "counts": [int(len(finite))], "other": 0}
    counts, edges = np.histogram(finite, bins=BINS, range=(lo, hi))
    return {"kind": "histogram", "edges": [_r(e) for e in edges], "counts": counts.tolist()}


def _numeric_profile(series: pd.Series, sample: pd.Series) -> tuple[dict, dict | None]:
    full = _numeric_values(series)
    finite_mask = np.isfinite(full)
    infinite = 0
    if finite_mask.all():
        finite = full  # the common case: no copy
    else:
        infinite = int(np.isinf(full).sum())
        finite = full[finite_mask]
    stats: dict[str, Any] = {}
    if len(finite):
        stats.update(mean=_r(finite.mean()), std=_r(finite.std(ddof=1)) if len(finite) > 1
                     else 0.0, min=_r(finite.min()), max=_r(finite.max()),
                     zeros=int(len(finite) - np.count_nonzero(finite)),
                     negatives=int(np.count_nonzero(finite < 0)))
        part = _numeric_values(sample)
        part = part[np.isfinite(part)]
        if len(part):
            q = np.quantile(part, [0.05, 0.25, 0.5, 0.75, 0.95])
            stats.update(q05=_r(q[0]), q25=_r(q[1]), median=_r(q[2]), q75=_r(q[3]),
                         q95=_r(q[4]))
    stats["infinite"] = infinite
    return stats, _histogram(_numeric_values(sample))


def _top_values(counts: pd.Series, limit: int = TOP) -> tuple[list, int]:
    top = [[json_safe(v), int(c)] for v, c in counts.iloc[:limit].items()]
    other = int(counts.iloc[limit:].sum()) if len(counts) > limit else 0
    return top, other


def _datetime_profile(series: pd.Series, sample: pd.Series) -> tuple[dict, dict | None]:
    values = series.dropna()
    stats = {"min": json_safe(values.min()) if len(values) else None,
             "max": json_safe(values.max()) if len(values) else None}
    part = sample.dropna()
    if part.dt.tz is not None:
        part = part.dt.tz_convert("UTC").dt.tz_localize(None)
    if not len(part):
        return stats, None
    ns = part.astype("datetime64[ns]").astype("int64").to_numpy()
    if ns.min() == ns.max():
        return stats, {"kind": "bar", "labels": [json_safe(part.iloc[0])],
                       "counts": [int(len(part))], "other": 0}
    counts, edges = np.histogram(ns, bins=BINS)
    return stats, {"kind": "histogram", "time": True, "counts": counts.tolist(),
                   "edges": [pd.Timestamp(int(e)).isoformat() for e in edges]}


def _text_mixed(series: pd.Series, counts: pd.Series) -> dict | None:
    """Share of a text column's values that are numbers (mixed types), from its value
    counts (at most 50,000 distinct values looked at)."""
    if not len(counts):
        return None
    counts = counts.iloc[:50_000]
    if series.dtype == object:
        kinds = pd.Series(counts.to_numpy(), index=[type(v).__name__ for v in counts.index])
        kinds = kinds.groupby(level=0).sum()
        if len(kinds) > 1:
            return {"share": None, "types": {str(k): int(v) for k, v in kinds.items()}}
    text = pd.Series(counts.index.astype(str), dtype="str").str.strip()
    numeric = pd.to_numeric(text, errors="coerce").notna().to_numpy()
    share = float(counts.to_numpy()[numeric].sum() / counts.sum())
    if 0.2 <= share < 1:
        return {"share": share, "examples": [str(v) for v in text[~numeric].iloc[:5]]}
    return None


def _column_profile(entry: dict, series: pd.Series, sample: pd.Series, n: int,
                    counts: pd.Series | None = None) -> dict:
    out = dict(entry)
    out["missing_pct"] = _r(100 * entry["missing"] / n, 4) if n else 0.0
    semantic = entry["semantic"]
    warnings: list[dict] = []
    name = entry["name"]
    if n and entry["missing"] == n:
        warnings.append(_warning("all_missing", f"'{name}' has no values at all; it is left out "
                                 "of training", column=name))
    elif entry["distinct"] == 1:
        warnings.append(_warning("constant", f"'{name}' has one value only "
                                 f"({_short(_first(series))}); it cannot help a model and is "
                                 "left out of training", column=name))
    elif n and entry["missing"] / n > 0.5:
        warnings.append(_warning("many_missing", f"'{name}' is {entry['missing'] / n:.0%} "
                                 "missing", severity="info", column=name))
    is_numeric = (pd.api.types.is_numeric_dtype(series)
                  and not pd.api.types.is_bool_dtype(series))
    if semantic == "datetime":
        out["stats"], out["chart"] = _datetime_profile(series, sample)
    elif is_numeric:
        out["stats"], chart = _numeric_profile(series, sample)
        out["chart"] = chart
        if out["stats"].get("infinite"):
            warnings.append(_warning("infinities", f"'{name}' holds {out['stats']['infinite']:,} "
                                     "infinite values", column=name))
    else:
        if counts is None:
            counts = series.value_counts(dropna=True)
        top, other = _top_values(counts)
        out["top"] = top
        out["chart"] = {"kind": "bar", "labels": [str(t[0]) for t in top],
                        "counts": [t[1] for t in top], "other": other} if top else None
        if series.dtype != bool and len(counts):
            # Lengths of the distinct values, weighted by how often each occurs.
            lengths = pd.Series(counts.index.astype(str), dtype="str").str.len().to_numpy()
            weights = counts.to_numpy()
            out["stats"] = {"mean_length": _r((lengths * weights).sum() / weights.sum(), 4),
                            "max_length": int(lengths.max())}
            mixed = _text_mixed(series, counts)
            if mixed:
                out["mixed"] = mixed
                detail = (f"{mixed['share']:.1%} numeric; non-numeric examples: "
                          + ", ".join(f"'{e}'" for e in mixed.get("examples", []))
                          if mixed.get("share") is not None else
                          "values of several kinds: " + ", ".join(mixed["types"]))
                warnings.append(_warning("mixed_types", f"'{name}' has mixed types ({detail})",
                                         column=name))
    if semantic == "identifier":
        warnings.append(_warning("identifier", f"'{name}' looks like an ID ({entry['reason']}); "
                                 "it is left out of the features by default", severity="info",
                                 column=name))
    elif semantic == "categorical" and entry["distinct"] > HIGH_CARDINALITY:
        warnings.append(_warning("high_cardinality", f"'{name}' has {entry['distinct']:,} "
                                 "different values: rare ones are grouped for training; "
                                 "consider merging them", column=name))
    elif semantic == "text":
        warnings.append(_warning("text", f"'{name}' is free text or has very many values "
                                 f"({entry['distinct']:,}); it is not used as a category",
                                 severity="info", column=name))
    out["warnings"] = warnings
    return out


def _first(series: pd.Series) -> Any:
    values = series.dropna()
    return values.iloc[0] if len(values) else None


def _short(value: Any, limit: int = 40) -> str:
    text = str(json_safe(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- whole dataset ------------------------------------------------------------

def duplicate_rows(frame: pd.DataFrame, schema: list[dict] | None = None) -> int:
    """Rows that repeat an earlier row exactly (by a 64-bit row hash)."""
    if not len(frame) or not frame.shape[1]:
        return 0
    if schema and any(e.get("distinct") == len(frame) for e in schema):
        return 0  # a column with no repeated value (an ID): no row can repeat
    try:
        hashes = pd.util.hash_pandas_object(frame, index=False)
    except TypeError:  # unhashable cells
        hashes = pd.util.hash_pandas_object(frame.astype(str), index=False)
    return int(hashes.duplicated().sum())


def duplicate_columns(frame: pd.DataFrame, schema: list[dict]) -> list[tuple[str, str]]:
    """Pairs (kept, duplicate) of columns with the same content under different names."""
    groups: dict[tuple, list[str]] = {}
    for entry in schema:
        if entry["distinct"] <= 1:
            continue  # constants are reported on their own
        key = (entry["dtype"], entry["missing"], entry["distinct"])
        groups.setdefault(key, []).append(entry["name"])
    pairs = []
    for names in groups.values():
        if len(names) < 2:
            continue
        by_hash: dict[bytes, list[str]] = {}
        for c in names:  # equal content has an equal hash of its first rows
            hashed = pd.util.hash_pandas_object(frame[c].iloc[:10_000], index=False).to_numpy()
            by_hash.setdefault(hashlib.blake2b(hashed.tobytes()).digest(), []).append(c)
        for same in by_hash.values():
            matched: set[str] = set()
            for i, a in enumerate(same):
                for b in same[i + 1:]:
                    if a not in matched and b not in matched and frame[a].equals(frame[b]):
                        pairs.append((a, b))
                        matched.add(b)
    return pairs


def correlation(sample: pd.DataFrame, schema: list[dict]) -> dict | None:
    cols = [e["name"] for e in schema
            if e["semantic"] in ("numeric", "boolean") and e["distinct"] > 1
            and (pd.api.types.is_numeric_dtype(sample[e["name"]])
                 or pd.api.types.is_bool_dtype(sample[e["name"]]))]
    if len(cols) < 2:
        return None
    if len(cols) > MAX_CORR_COLUMNS:
        variances = sample[cols].astype("float64").std(numeric_only=True).fillna(0)
        keep = set(variances.nlargest(MAX_CORR_COLUMNS).index)
        cols = [c for c in cols if c in keep]
    data = sample[cols].astype("float64").replace([np.inf, -np.inf], np.nan)
    matrix = data.corr(method="pearson", min_periods=10).to_numpy()
    return {"columns": cols, "method": "pearson",
            "matrix": [[_r(v, 4) for v in row] for row in matrix]}


def _sample(frame: pd.DataFrame) -> tuple[pd.DataFrame, bool]:
    if len(frame) > SAMPLE_ROWS:
        rng = np.random.default_rng(0)
        rows = np.sort(rng.choice(len(frame), SAMPLE_ROWS, replace=False))
        return frame.iloc[rows], True
    return frame, False


def build_profile(frame: pd.DataFrame, schema: list[dict],
                  import_report: dict | None = None, counts: dict | None = None) -> dict:
    """The profile of ``frame`` (see the module docstring). ``counts``: value counts
    already computed for some columns (the import has them for text columns)."""
    counts = counts or {}
    started = time.perf_counter()
    n, m = frame.shape
    profile: dict[str, Any] = {"format": PROFILE_FORMAT, "rows": int(n), "cols": int(m),
                               "blocked": None, "sample": None, "correlation": None}
    warnings: list[dict] = []
    if n == 0:
        profile.update(columns=[{**e, "missing_pct": 0.0, "warnings": []} for e in schema],
                       missing_cells=0, duplicate_rows=0,
                       blocked="the dataset has no rows (only a header): there is nothing to "
                               "profile or train on; import a file with data rows",
                       warnings=[_warning("no_rows", "the dataset has no rows", "error")])
        return profile
    sample, sampled = _sample(frame)
    if sampled:
        profile["sample"] = {"rows": int(len(sample)),
                             "note": f"quantiles, charts and correlations use a random sample "
                                     f"of {len(sample):,} of {n:,} rows; counts, missing "
                                     "values, min, max and mean use every row"}
    by_name = {e["name"]: e for e in schema}
    columns = []
    for i, col in enumerate(frame.columns):
        entry = by_name.get(str(col)) or {"name": str(col), "dtype": str(frame[col].dtype),
                                          "semantic": "categorical", "missing": 0,
                                          "distinct": 0, "reason": ""}
        series = frame.iloc[:, i]
        columns.append(_column_profile(entry, series, sample.iloc[:, i], n,
                                       counts.get(str(col))))
        warnings.extend(columns[-1]["warnings"])
    profile["columns"] = columns
    profile["missing_cells"] = int(sum(e["missing"] for e in schema))
    dupes = duplicate_rows(frame, schema)
    profile["duplicate_rows"] = dupes
    if dupes:
        warnings.append(_warning("duplicate_rows", f"{dupes:,} rows ({dupes / n:.1%}) repeat an "
                                 "earlier row exactly", severity="info"))
    copies: dict[str, list[str]] = {}
    for kept, dup in duplicate_columns(frame, schema):
        copies.setdefault(kept, []).append(dup)
    for kept, dups in copies.items():
        listed = ", ".join(f"'{d}'" for d in dups[:5]) + (f" and {len(dups) - 5} more"
                                                         if len(dups) > 5 else "")
        warnings.append(_warning(
            "duplicate_columns", f"{listed} hold{'s' if len(dups) == 1 else ''} exactly the "
            f"same values as '{kept}': drop {'it' if len(dups) == 1 else 'them'} (keep one)",
            columns=[kept, *dups]))
    if m == 1:
        warnings.append(_warning("single_column", "only one column: there are no features to "
                                 "learn from"))
    for note in _import_notes(import_report or {}):
        warnings.append(note)
    profile["correlation"] = correlation(sample, schema)
    if profile["correlation"] is not None:
        profile["correlation"]["sampled"] = sampled
    profile["warnings"] = warnings
    profile["seconds"] = round(time.perf_counter() - started, 3)
    return profile


def _import_notes(report: dict) -> list[dict]:
    """What the import changed that a profile reader should know."""
    notes = []
    inf = report.get("infinities")
    if inf:
        listed = ", ".join(f"'{c}' ({k})" for c, k in inf["columns"].items())
        verb = {"missing": "set to missing", "clip": "clipped"}.get(inf["rule"], "kept")
        notes.append(_warning("infinities", f"infinite values in {listed} were {verb} at "
                              "import", severity="info"))
    for col, mixed in (report.get("mixed_types") or {}).items():
        if mixed.get("converted"):
            notes.append(_warning("mixed_types", f"'{col}' had mixed types at import "
                                  f"({mixed['numeric_share']:.1%} numeric; non-numeric "
                                  f"examples: {', '.join(repr(e) for e in mixed['examples'])}); "
                                  "read as numbers", column=col, severity="info"))
    return notes


# --- target ---------------------------------------------------------------------

def detect_task(series: pd.Series, entry: dict | None = None) -> str:
    """binary, multiclass or regression, from the target's values."""
    values = series.dropna()
    distinct = int(values.nunique())
    if distinct <= 2:
        return "binary"
    if pd.api.types.is_bool_dtype(series):
        return "binary"
    if pd.api.types.is_numeric_dtype(series):
        arr = values.to_numpy(dtype="float64")
        integral = bool(np.all(arr % 1 == 0))
        if integral and distinct <= 20 and distinct <= max(3, 0.05 * len(values)):
            return "multiclass"
        return "regression"
    return "multiclass"


def _with_sentinel(arr: np.ndarray) -> np.ndarray:
    """Missing values as one value below the rest, so a tree can split them off."""
    finite = np.isfinite(arr)
    low = float(arr[finite].min()) - 1.0 if finite.any() else 0.0
    return np.where(finite, arr, low)


def _encode_feature(series: pd.Series) -> tuple[np.ndarray, bool]:
    """(values, is_categorical): numbers as floats (missing → a low sentinel); other
    columns as category codes."""
    if pd.api.types.is_bool_dtype(series) or (
            pd.api.types.is_numeric_dtype(series)):
        arr = pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        return _with_sentinel(arr), False
    if pd.api.types.is_datetime64_any_dtype(series):
        arr = series.astype("datetime64[ns]").astype("int64").to_numpy(dtype="float64")
        return _with_sentinel(np.where(series.isna().to_numpy(), np.nan, arr)), False
    codes, _ = pd.factorize(series.astype(str).where(series.notna(), None),
                            use_na_sentinel=True)
    return codes.astype("int64"), True


def _leak_score(x: np.ndarray, categorical: bool, y: np.ndarray, task: str) -> float:
    """Cross-validated score of a one-feature model: balanced accuracy or R²."""
    from sklearn.metrics import balanced_accuracy_score, r2_score
    from sklearn.model_selection import KFold, StratifiedKFold
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    classify = task != "regression"
    if classify:
        _, counts = np.unique(y, return_counts=True)
        folds = max(2, min(3, int(counts.min())))
        split = StratifiedKFold(folds, shuffle=True, random_state=0) if counts.min() >= 2 \
            else KFold(3, shuffle=True, random_state=0)
    else:
        split = KFold(3, shuffle=True, random_state=0)
    preds = np.empty(len(y), dtype=y.dtype if classify else "float64")
    for train, test in split.split(x.reshape(-1, 1), y if classify else None):
        if categorical:
            frame = pd.DataFrame({"x": x[train], "y": y[train]})
            if classify:
                mapping = frame.groupby("x")["y"].agg(lambda s: s.value_counts().index[0])
                fallback = pd.Series(y[train]).value_counts().index[0]
            else:
                mapping = frame.groupby("x")["y"].mean()
                fallback = float(np.mean(y[train]))
            preds[test] = pd.Series(x[test]).map(mapping).fillna(fallback).to_numpy()
        else:
            model = (DecisionTreeClassifier(max_depth=4, random_state=0) if classify
                     else DecisionTreeRegressor(max_depth=6, random_state=0))
            model.fit(x[train].reshape(-1, 1), y[train])
            preds[test] = model.predict(x[test].reshape(-1, 1))
    if classify:
        return float(balanced_accuracy_score(y, preds))
    return float(r2_score(y, preds))


def find_leaks(frame: pd.DataFrame, schema: list[dict], target: str, task: str
               ) -> tuple[list[dict], str | None]:
    """Features that predict the target almost perfectly on their own."""
    known = frame[target].notna().to_numpy()
    data = frame.loc[known]
    note = None
    if len(data) > LEAK_ROWS:
        data = data.sample(LEAK_ROWS, random_state=0)
        note = f"leakage checked on a random sample of {LEAK_ROWS:,} rows"
    if len(data) < 20:
        return [], "too few rows with a target to check for leakage"
    if task == "regression":
        y = pd.to_numeric(data[target], errors="coerce").to_numpy(dtype="float64")
        if not np.isfinite(y).all() or np.std(y) == 0:
            return [], None
    else:
        y = pd.factorize(data[target].astype(str))[0]
    features = [e for e in schema if e["name"] != target and e["distinct"] > 1
                and e["missing"] < len(frame)]
    if len(features) > LEAK_MAX_FEATURES:
        note = (note + "; " if note else "") + (f"only the first {LEAK_MAX_FEATURES} of "
                                                f"{len(features)} features were checked")
        features = features[:LEAK_MAX_FEATURES]
    leaks = []
    metric = "R²" if task == "regression" else "balanced accuracy"
    for entry in features:
        x, categorical = _encode_feature(data[entry["name"]])
        if categorical and entry["distinct"] > 0.5 * len(frame):
            continue  # every value unseen in other folds: cannot generalise, cannot leak
        try:
            with warnings_module.catch_warnings():
                warnings_module.simplefilter("ignore")
                score = _leak_score(x, categorical, y, task)
        except ValueError:
            continue
        if score >= LEAK_SCORE:
            leaks.append({"feature": entry["name"], "column": entry["name"],
                          "score": round(score, 4), "metric": metric})
    leaks.sort(key=lambda d: -d["score"])
    return leaks, note


def target_checks(frame: pd.DataFrame, schema: list[dict], target: str,
                  task: str | None = None) -> dict:
    """Checks before training on ``target`` (see the module docstring).

    ``blocking`` lists problems that stop training; ``warnings`` the rest, each
    ``{kind, severity, message}``.
    """
    from studio.errors import InvalidInput

    if target not in frame.columns:
        raise InvalidInput(f"'{target}' is not a column; columns: "
                           + ", ".join(map(str, list(frame.columns)[:20])))
    if task not in (None, "binary", "multiclass", "regression"):
        raise InvalidInput(f"task '{task}' is not one of binary, multiclass, regression")
    by_name = {e["name"]: e for e in schema}
    series = frame[target]
    n = len(series)
    missing = int(series.isna().sum())
    detected = detect_task(series, by_name.get(target)) if n - missing else None
    chosen = task or detected
    out: dict[str, Any] = {"target": target, "task": chosen, "detected_task": detected,
                           "rows": n, "missing": missing, "folds": FOLDS, "classes": None,
                           "leaks": [], "identifiers": [], "warnings": [], "blocking": []}
    warnings, blocking = out["warnings"], out["blocking"]
    if n == 0:
        blocking.append("the dataset has no rows")
        return out
    if missing == n:
        blocking.append(f"'{target}' has no values at all: choose another target")
        return out
    if missing:
        warnings.append(_warning("missing_target", f"{missing:,} rows ({missing / n:.1%}) have "
                                 f"no value for '{target}'; they will be dropped before "
                                 "training"))
    values = series.dropna()
    numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    if chosen == "regression" and not numeric:
        blocking.append(f"'{target}' is not numeric, so it cannot be a regression target; "
                        "use binary or multiclass classification")
    if chosen in ("binary", "multiclass"):
        counts = values.astype(str).value_counts() if not numeric else values.value_counts()
        out["classes"] = [{"value": json_safe(k), "count": int(v)} for k, v in
                          counts.iloc[:50].items()]
        k = len(counts)
        if k < 2:
            blocking.append(f"'{target}' has only one class ({_short(counts.index[0])}): a "
                            "model needs at least two")
        else:
            if chosen == "binary" and k > 2:
                blocking.append(f"'{target}' has {k} classes, so the task is multiclass, "
                                "not binary")
            share = counts.iloc[-1] / counts.sum()
            out["imbalance"] = _r(counts.iloc[-1] / counts.iloc[0], 4)
            if share < 0.1:
                warnings.append(_warning(
                    "imbalance", f"classes are imbalanced: '{_short(counts.index[-1])}' is "
                    f"{share:.1%} of rows; prefer a balanced metric (F1, ROC AUC, balanced "
                    "accuracy)"))
            rare = counts[counts < FOLDS]
            if len(rare):
                listed = ", ".join(f"'{_short(c)}' ({v})" for c, v in rare.iloc[:5].items())
                warnings.append(_warning(
                    "rare_classes", f"{len(rare)} class{'es have' if len(rare) > 1 else ' has'}"
                    f" fewer rows than the {FOLDS} cross-validation folds: {listed}; merge "
                    "them with another class, drop those rows, or stop stratifying",
                    classes=[json_safe(c) for c in rare.index[:50]]))
        if numeric:
            arr = values.to_numpy(dtype="float64")
            integral = bool(np.all(arr % 1 == 0))
            if not integral or k > 20 and k > 0.05 * len(values):
                warnings.append(_warning(
                    "continuous_target", f"'{target}' looks like a continuous number "
                    f"({k:,} different values{'' if integral else ', with fractions'}); "
                    "regression is probably the right task", suggestion="regression"))
    same_name = [c for c in frame.columns if str(c).startswith(f"{target}_")
                 and str(c)[len(target) + 1:].isdigit()]
    if same_name:
        warnings.append(_warning("duplicate_name", f"the file had more than one column named "
                                 f"'{target}': this is the first; the others are "
                                 + ", ".join(f"'{c}'" for c in same_name)))
    out["identifiers"] = [e["name"] for e in schema if e["semantic"] == "identifier"
                          and e["name"] != target]
    if out["identifiers"]:
        warnings.append(_warning("identifiers", "left out of the features as ID-like: "
                                 + ", ".join(f"'{c}'" for c in out["identifiers"][:10]),
                                 severity="info"))
    if chosen and not blocking:
        continuous = any(w["kind"] == "continuous_target" for w in warnings)
        leaks, note = find_leaks(frame, schema, target, "regression" if continuous else chosen)
        out["leaks"] = leaks
        out["leak_note"] = note
        for leak in leaks:
            warnings.append(_warning(
                "leakage", f"'{leak['feature']}' predicts '{target}' almost perfectly on its "
                f"own ({leak['metric']} {leak['score']:.3f}): if it is only known after the "
                "outcome, it leaks the answer; drop it before training",
                feature=leak["feature"], column=leak["feature"]))
    return out
