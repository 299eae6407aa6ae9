"""The schema of a frame: one dict per column with its semantic type and why.

``infer_schema(frame)`` returns, per column::

    {"name", "dtype", "semantic", "missing", "distinct", "reason",
     "categories" (categorical/boolean: <=100 most frequent, JSON-safe),
     "min", "max" (numeric), "sampled" (True when a check looked at a sample)}

Semantic types: numeric, categorical, boolean, datetime, text, identifier.
Counts (missing, distinct, min, max, top categories) are exact; the checks
that look at string contents (length, spaces) run on the distinct values
weighted by their counts, or on a sample of ``SAMPLE_ROWS`` distinct values
when there are more, and the reason says so.
"""
from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pandas as pd

SEMANTIC_TYPES = ("numeric", "categorical", "boolean", "datetime", "text", "identifier")
SAMPLE_ROWS = 20_000
MAX_CATEGORIES = 100
BOOL_WORDS = {"true", "false", "yes", "no", "y", "n", "t", "f"}
# Names that usually mean "a key, not a measurement".
_ID_NAME = re.compile(r"(^|[_\s.\-])(id|uuid|guid|key|code)$|^(id|index|row_?id|order|no|number)$|id$",
                      re.I)


def _name_looks_like_id(name: str) -> bool:
    name = str(name).strip()
    if _ID_NAME.search(name):
        return True
    # camelCase endings: customerID, PassengerId
    return bool(re.search(r"[a-z](ID|Id)$", name))


def json_safe(value: Any) -> Any:
    """A plain Python value json.dumps accepts (NaN/inf → None, numpy → python)."""
    if value is None:
        return None
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, (pd.Timestamp,)):
        return None if pd.isna(value) else value.isoformat()
    if isinstance(value, (np.datetime64,)):
        return None if np.isnat(value) else str(pd.Timestamp(value).isoformat())
    if isinstance(value, (pd.Timedelta, np.timedelta64)):
        return str(value)
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (str, int)):
        return value
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def _is_bool_values(values: list) -> bool:
    lowered = {str(v).strip().lower() for v in values}
    return bool(lowered) and lowered <= BOOL_WORDS and len(lowered) <= 2 and (
        lowered <= {"true", "false"} or lowered <= {"yes", "no"} or lowered <= {"y", "n"}
        or lowered <= {"t", "f"})


def _counts(series: pd.Series) -> pd.Series:
    """Value counts, most frequent first (one hash pass gives distinct values and counts)."""
    try:
        return series.value_counts(dropna=True)
    except TypeError:  # unhashable objects (lists, dicts)
        return series.dropna().astype(str).value_counts()


def _count_compact(values: np.ndarray) -> int | None:
    """Distinct whole numbers by counting when their range is compact (no hashing)."""
    if not len(values):
        return 0
    lo, hi = int(values.min()), int(values.max())
    if hi - lo >= max(4 * len(values), 1 << 16):
        return None
    return int(np.count_nonzero(np.bincount((values - lo).astype(np.int64))))


def _distinct(series: pd.Series) -> int:
    """Distinct non-missing values; whole numbers and dates in a compact range are counted
    (cheaper than hashing a million values), everything else hashed."""
    found = None
    if isinstance(series.dtype, np.dtype) and len(series):
        kind = series.dtype.kind
        if kind in "iu":
            found = _count_compact(series.to_numpy())
        elif kind == "f":
            arr = series.to_numpy()
            arr = arr[~np.isnan(arr)]
            with np.errstate(invalid="ignore"):
                whole = bool(len(arr)) and not (arr[:2048] % 1).any()
            if whole and np.isfinite(arr).all() and not (arr % 1).any() \
                    and np.abs(arr).max() < 2 ** 53:
                found = _count_compact(arr.astype(np.int64))
            else:
                # sorting beats hashing here: pandas' float hash table is slow on values
                # parsed from text (few distinct low bits); -0.0 and 0.0 sort as equal
                found = int(np.unique(arr).size)
        elif kind == "M":
            ns = series.dropna().to_numpy().astype("datetime64[ns]").astype(np.int64)
            day = 86_400 * 10**9
            if len(ns) and not (ns % day).any():
                found = _count_compact(ns // day)
    return found if found is not None else int(series.nunique(dropna=True))


def _numeric_column(name: str, series: pd.Series, n: int, missing: int, distinct: int) -> dict:
    present = n - missing
    info: dict[str, Any] = {}
    arr = series.to_numpy(dtype="float64", na_value=np.nan)
    finite_mask = np.isfinite(arr)
    finite = arr if finite_mask.sum() == present else arr[finite_mask]
    if pd.api.types.is_integer_dtype(series):
        info["min"], info["max"] = json_safe(series.min()), json_safe(series.max())
    elif finite_mask.any():
        info["min"], info["max"] = json_safe(np.nanmin(finite)), json_safe(np.nanmax(finite))
    else:
        info["min"] = info["max"] = None
    if distinct <= 2 and present:
        uniq = set(pd.unique(series.dropna()).tolist())
        if uniq <= {0, 1} and len(uniq) == 2:
            info.update(semantic="boolean", reason="only the values 0 and 1",
                        categories=sorted(json_safe(v) for v in uniq))
            return info
    if present >= 20 and distinct == present and (
            pd.api.types.is_integer_dtype(series) or (
                len(finite) == present and bool((finite % 1 == 0).all()))):
        if _name_looks_like_id(name):
            info.update(semantic="identifier",
                        reason=f"every value is different and the name '{name}' looks like an ID")
            return info
        ordered = series.dropna().to_numpy()
        if len(ordered) > 1:
            diffs = np.diff(ordered.astype("float64"))
            if (diffs == 1).all() or (diffs == -1).all():
                info.update(semantic="identifier",
                            reason="whole numbers counting up by one (a row number or saved index)")
                return info
    info.update(semantic="numeric", reason=f"numbers ({series.dtype})")
    return info


def _text_column(name: str, counts: pd.Series, n: int, missing: int) -> dict:
    present = n - missing
    distinct = len(counts)
    info: dict[str, Any] = {}
    if present == 0:
        info.update(semantic="categorical", reason="no values at all (every row is missing)",
                    categories=[])
        return info
    if distinct <= 2:
        uniq = counts.index.tolist()
        if _is_bool_values(uniq):
            info.update(semantic="boolean",
                        reason="two values that read as yes/no: " + ", ".join(map(str, uniq)),
                        categories=[json_safe(v) for v in uniq])
            return info
    # Length and spaces of the distinct values, weighted by their counts; with very many
    # distinct values, of a random sample of them.
    sampled = distinct > SAMPLE_ROWS
    looked = counts.sample(SAMPLE_ROWS, random_state=0) if sampled else counts
    text = pd.Series(looked.index.astype(str), dtype="str")
    weights = looked.to_numpy(dtype="float64")
    total = weights.sum() or 1.0
    mean_len = float((text.str.len().to_numpy() * weights).sum() / total)
    spaced = float((text.str.contains(" ", regex=False).to_numpy(dtype=bool) * weights).sum()
                   / total)
    note = f" (checked on a sample of {SAMPLE_ROWS:,} values)" if sampled else ""
    ratio = distinct / present
    if distinct == present and present >= 20 and (spaced < 0.05 or _name_looks_like_id(name)):
        info.update(semantic="identifier",
                    reason=f"every one of {present:,} values is different{note}")
        info["sampled"] = sampled
        return info
    if ratio > 0.9 and present >= 20 and _name_looks_like_id(name) and spaced < 0.05:
        info.update(semantic="identifier",
                    reason=f"{ratio:.0%} of values are different and the name looks like an ID")
        return info
    if (mean_len > 40 and spaced > 0.5) or (ratio > 0.5 and distinct > 100 and spaced > 0.5):
        info.update(semantic="text",
                    reason=f"free text: {ratio:.0%} distinct, average {mean_len:.0f} characters"
                           f"{note}")
        info["sampled"] = sampled
        return info
    if ratio > 0.5 and distinct > 100:
        info.update(semantic="text",
                    reason=f"very many different values ({distinct:,}, {ratio:.0%} of rows): "
                           "too many to use as categories")
        return info
    info.update(semantic="categorical", reason=f"{distinct:,} different values",
                categories=[json_safe(v) for v in counts.index[:MAX_CATEGORIES]])
    return info


def infer_column(name: str, series: pd.Series, counts: pd.Series | None = None) -> dict:
    """The schema entry of one column (``counts``: its value counts, if already known)."""
    n = len(series)
    missing = int(series.isna().sum())
    numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    dated = pd.api.types.is_datetime64_any_dtype(series) or pd.api.types.is_timedelta64_dtype(
        series)
    if numeric or dated:
        distinct = _distinct(series)
    else:
        counts = counts if counts is not None else _counts(series)
        distinct = int(len(counts))
    entry: dict[str, Any] = {"name": str(name), "dtype": str(series.dtype), "missing": missing,
                             "distinct": distinct}
    if n and missing == n:
        entry.update(semantic="numeric" if pd.api.types.is_numeric_dtype(series)
                     and not pd.api.types.is_bool_dtype(series) else "categorical",
                     reason="no values at all (every row is missing)")
        if entry["semantic"] == "numeric":
            entry.update(min=None, max=None)
        else:
            entry["categories"] = []
        return entry
    if pd.api.types.is_bool_dtype(series):
        entry.update(semantic="boolean", reason="true/false values",
                     categories=[json_safe(v) for v in counts.index])
    elif pd.api.types.is_datetime64_any_dtype(series):
        values = series.dropna()
        entry.update(semantic="datetime", reason="dates and times",
                     min=json_safe(values.min()), max=json_safe(values.max()))
    elif isinstance(series.dtype, pd.CategoricalDtype):
        entry.update(semantic="categorical", reason=f"{distinct:,} categories",
                     categories=[json_safe(v) for v in counts.index[:MAX_CATEGORIES]])
    elif pd.api.types.is_numeric_dtype(series):
        entry.update(_numeric_column(name, series, n, missing, distinct))
    elif pd.api.types.is_timedelta64_dtype(series):
        entry.update(semantic="numeric", reason="durations", min=json_safe(series.min()),
                     max=json_safe(series.max()))
    else:
        entry.update(_text_column(name, counts, n, missing))
    return entry


def infer_schema(frame: pd.DataFrame, counts: dict[str, pd.Series] | None = None) -> list[dict]:
    """One dict per column of ``frame`` (see the module docstring). ``counts`` may hold
    value counts already computed for some columns (the import has them)."""
    counts = counts or {}
    return [infer_column(str(col), frame.iloc[:, i], counts.get(str(col)))
            for i, col in enumerate(frame.columns)]


def schema_by_name(schema: list[dict]) -> dict[str, dict]:
    return {entry["name"]: entry for entry in schema}


def feature_columns(schema: list[dict], target: str | None = None) -> list[str]:
    """Columns worth using as features by default: not the target, not IDs, not empty."""
    out = []
    for entry in schema:
        if entry["name"] == target or entry["semantic"] == "identifier":
            continue
        if entry.get("distinct", 0) <= 1:
            continue
        out.append(entry["name"])
    return out
