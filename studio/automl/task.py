"""Detect the task from the target and check everything before a search runs.

:func:`plan_problem` is cheap (no model is fitted): the Train page calls it on
every change to show the detected task and why, and each check with its
message and way out; the job calls it again with the user's choices and
refuses to start while any check is an error.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from studio.automl.metrics import DEFAULT_METRIC, TASKS, get_metric
from studio.errors import InvalidInput

MAX_CLASSES = 100
MULTICLASS_MAX_INT_VALUES = 20
MIN_ROWS = 10
RARE_OPTIONS = {
    "no_stratify": "keep them and stop stratifying the folds",
    "merge": "merge them into one class 'other'",
    "drop": "drop their rows",
}


@dataclass
class Check:
    code: str
    level: str                      # error | warning | info
    message: str
    columns: list[str] = field(default_factory=list)
    options: dict[str, str] = field(default_factory=dict)
    chosen: str | None = None


@dataclass
class Plan:
    target: str
    task: str
    detected_task: str
    task_reason: str
    metric: str
    n_rows: int
    n_rows_used: int
    classes: list | None
    class_counts: dict
    features: list[str]
    excluded: dict[str, str]
    checks: list[Check]
    stratify: bool
    rare_classes: list
    rare_strategy: str | None
    n_folds: int
    group_col: str | None = None
    time_col: str | None = None

    @property
    def errors(self) -> list[Check]:
        return [c for c in self.checks if c.level == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict:
        return asdict(self)

    def raise_if_blocked(self) -> None:
        if self.errors:
            raise InvalidInput(" ".join(c.message for c in self.errors))


def _json_label(value: Any) -> Any:
    from studio.schema import json_safe

    return json_safe(value)


def _integral(values: pd.Series) -> bool:
    try:
        arr = values.to_numpy(dtype="float64")
    except (TypeError, ValueError):
        return False
    return bool(np.all(np.isfinite(arr)) and np.all(arr % 1 == 0))


def detect_task(y: pd.Series) -> tuple[str, str]:
    """(task, reason in words) for a target column (missing values ignored)."""
    values = y.dropna()
    distinct = int(values.nunique())
    if distinct <= 2:
        shown = ", ".join(repr(_json_label(v)) for v in pd.unique(values)[:2])
        return "binary", f"the target has {distinct} distinct value{'s' if distinct != 1 else ''} ({shown})"
    if pd.api.types.is_bool_dtype(values):
        return "binary", "the target is true/false"
    if pd.api.types.is_numeric_dtype(values):
        if _integral(values) and distinct <= MULTICLASS_MAX_INT_VALUES:
            lo, hi = values.min(), values.max()
            return "multiclass", (f"the target holds {distinct} whole numbers ({_json_label(lo)} to "
                                  f"{_json_label(hi)}), read as classes; choose regression to "
                                  "predict a number instead")
        kind = "whole numbers" if _integral(values) else "numbers"
        return "regression", f"the target holds {kind} with {distinct:,} distinct values"
    return "multiclass", f"the target holds {distinct} text labels"


def default_folds(n_rows: int) -> int:
    """k for k-fold by data size: more folds when every row counts."""
    return 5  # 10 folds on tiny data doubled the cost for a steadier estimate nobody saw


def _schema_map(schema: list[dict]) -> dict[str, dict]:
    return {c["name"]: c for c in schema or []}


def _leaks_from_checks(checks: dict | None) -> dict[str, str]:
    """Leaking columns named by ``studio.datasets.target_checks`` (any of its shapes)."""
    found: dict[str, str] = {}
    if not checks:
        return found
    for key in ("leaks", "leaking", "leakage"):
        for item in checks.get(key) or []:
            if isinstance(item, dict) and item.get("column"):
                found[str(item["column"])] = str(item.get("reason") or item.get("message") or
                                                 "it predicts the target almost perfectly")
            elif isinstance(item, str):
                found[item] = "it predicts the target almost perfectly"
    for item in checks.get("warnings") or []:
        if isinstance(item, dict) and item.get("column") and "leak" in str(
                item.get("code", "") + item.get("kind", "")).lower():
            found[str(item["column"])] = str(item.get("message") or "it leaks the target")
    return found


def _own_leaks(frame: pd.DataFrame, y: pd.Series, task: str, features: list[str],
               schema: dict[str, dict]) -> dict[str, str]:
    """Cheap leak checks: a copy of the target, a near-perfect correlation or mapping."""
    found: dict[str, str] = {}
    sample = frame.loc[y.index]
    if len(sample) > 50_000:
        sample = sample.sample(50_000, random_state=0)
    ys = y.loc[sample.index]
    for name in features:
        col = sample[name]
        if col.isna().mean() > 0.5:
            continue
        if task == "regression":
            if not pd.api.types.is_numeric_dtype(col):
                continue
            both = pd.concat([col.astype("float64"), ys.astype("float64")], axis=1).dropna()
            if len(both) < 20 or both.iloc[:, 0].nunique() < 3:
                continue
            corr = abs(float(np.corrcoef(both.iloc[:, 0], both.iloc[:, 1])[0, 1]))
            if corr >= 0.99:
                found[name] = f"its correlation with the target is {corr:.3f}"
        else:
            distinct = col.nunique(dropna=True)
            if distinct < 2 or distinct > min(50, max(2, len(col) // 20)):
                continue
            keys = col.astype(str)
            purity = float(pd.crosstab(keys, ys.astype(str)).max(axis=1).sum() / len(ys))
            baseline = float(ys.value_counts(normalize=True).iloc[0])
            if purity >= 0.999 and baseline < 0.99:
                found[name] = "its values alone give the target for 99.9% of rows"
    return found


def plan_problem(
    frame: pd.DataFrame, schema: list[dict], target: str, *, task: str | None = None,
    metric: str | None = None, options: dict | None = None, target_checks: dict | None = None,
) -> Plan:
    """Detect the task, check the data, and decide which columns are features.

    ``options``: ``rare_classes`` (no_stratify|merge|drop), ``include`` (columns
    to use although excluded by default), ``exclude`` (more columns to leave out),
    ``group_col``, ``time_col``, ``n_folds``.
    """
    options = dict(options or {})
    if target not in frame.columns:
        raise InvalidInput(f"there is no column '{target}'; the columns are "
                           + ", ".join(map(str, list(frame.columns)[:20])))
    if task is not None and task not in TASKS:
        raise InvalidInput(f"task must be one of {', '.join(TASKS)}, not '{task}'")
    checks: list[Check] = []
    smap = _schema_map(schema)
    y_all = frame[target]
    n_rows = int(len(frame))
    missing = int(y_all.isna().sum())
    y = y_all.dropna()
    if missing:
        checks.append(Check("missing_target", "warning",
                            f"{missing:,} of {n_rows:,} rows have no value in '{target}'; "
                            "they are left out of training.", [target]))
    detected, reason = detect_task(y) if len(y) else ("regression", "the target is empty")
    chosen = task or detected
    if task and task != detected:
        reason = f"you chose {task}; detected {detected} because {reason}"

    classes: list | None = None
    class_counts: dict = {}
    rare: list = []
    rare_strategy = None
    distinct = int(y.nunique())
    if len(y) < MIN_ROWS:
        checks.append(Check("too_few_rows", "error",
                            f"only {len(y)} rows have a target value; training needs at least "
                            f"{MIN_ROWS}. Pick another target or add data.", [target]))
    if chosen == "regression":
        numeric = pd.to_numeric(y, errors="coerce") if not pd.api.types.is_bool_dtype(y) else y
        bad = int(numeric.isna().sum()) if len(y) else 0
        if bad or not len(y) or pd.api.types.is_bool_dtype(y):
            checks.append(Check("not_numeric", "error",
                                f"'{target}' holds text or true/false values ({bad:,} are not "
                                "numbers), so it cannot be predicted as a number; choose binary "
                                "or multiclass.", [target]))
    else:
        counts = y.astype(object).map(_json_label).value_counts()
        class_counts = {str(k): int(v) for k, v in counts.items()}
        try:
            classes = sorted(counts.index.tolist())
        except TypeError:
            classes = sorted(counts.index.tolist(), key=str)
        if distinct < 2 and len(y):
            checks.append(Check("one_class", "error",
                                f"'{target}' has only one value ({classes[0]!r}); there is "
                                "nothing to tell apart. Pick another target.", [target]))
        if chosen == "binary" and distinct > 2:
            checks.append(Check("too_many_for_binary", "error",
                                f"'{target}' has {distinct} values, not 2; choose multiclass "
                                "(or regression if it is a quantity).", [target]))
        if distinct > MAX_CLASSES:
            checks.append(Check("too_many_classes", "error",
                                f"'{target}' has {distinct:,} distinct values: too many classes "
                                f"(at most {MAX_CLASSES}). "
                                + ("It looks continuous: choose regression."
                                   if pd.api.types.is_numeric_dtype(y) else
                                   "Pick another target."), [target]))
        elif pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y) and (
                not _integral(y) or distinct > MULTICLASS_MAX_INT_VALUES):
            checks.append(Check("continuous_as_class", "warning",
                                f"'{target}' looks like a continuous number ({distinct} distinct "
                                "values); regression is probably what you want.", [target]))
        if chosen == "multiclass" and distinct == 2:
            checks.append(Check("two_classes", "info",
                                "the target has two classes; binary is the same problem with "
                                "ROC AUC as its default metric.", [target]))

    features_all = [c for c in frame.columns if c != target]
    excluded: dict[str, str] = {}
    include = set(options.get("include") or [])
    for name in features_all:
        col = smap.get(name, {})
        semantic = col.get("semantic")
        if semantic == "identifier":
            excluded[name] = "an identifier (" + str(col.get("reason") or "every value differs") + ")"
        elif frame[name].isna().all():
            excluded[name] = "every value is missing"
        elif frame[name].nunique(dropna=True) <= 1:
            excluded[name] = "it holds a single value"
    group_col, time_col = options.get("group_col") or None, options.get("time_col") or None
    for role, col in (("group", group_col), ("time", time_col)):
        if col is None:
            continue
        if col not in frame.columns or col == target:
            checks.append(Check(f"bad_{role}_col", "error",
                                f"the {role} column '{col}' is not a feature column of this "
                                "dataset.", [str(col)]))
    if group_col and group_col in frame.columns:
        excluded.setdefault(group_col, "the group column (used to split, not to predict)")
    if time_col and time_col in frame.columns and time_col != target:
        parsed = frame[time_col]
        if not (pd.api.types.is_datetime64_any_dtype(parsed) or pd.api.types.is_numeric_dtype(parsed)):
            parsed = pd.to_datetime(parsed.astype("object"), errors="coerce", format="mixed")
        if parsed.isna().mean() > 0.05:
            checks.append(Check("bad_time_col", "error",
                                f"the time column '{time_col}' does not hold dates or numbers "
                                "in most rows; pick another.", [time_col]))

    leaks = {}
    if not checks or all(c.level != "error" for c in checks):
        leaks = {**_own_leaks(frame, y, chosen, [f for f in features_all if f not in excluded],
                              smap), **_leaks_from_checks(target_checks)}
    for name, why in leaks.items():
        if name in frame.columns and name != target:
            excluded.setdefault(name, f"it leaks the target: {why}")
    if leaks:
        checks.append(Check("leaks", "warning",
                            "these columns give the target away and are left out: "
                            + "; ".join(f"'{k}' ({v})" for k, v in leaks.items())
                            + ". Include them only if they are known at prediction time.",
                            sorted(leaks)))
    for name in include:
        excluded.pop(name, None)
    for name in options.get("exclude") or []:
        if name in frame.columns and name != target:
            excluded.setdefault(name, "you left it out")
    ids = [n for n, why in excluded.items() if why.startswith("an identifier")]
    if ids:
        checks.append(Check("identifiers", "info",
                            "ID-like columns are left out of the features: " + ", ".join(ids)
                            + ". Include one if it carries meaning.", ids))
    const = [n for n, why in excluded.items() if why in ("every value is missing",
                                                         "it holds a single value")]
    if const:
        checks.append(Check("constant", "info",
                            "columns without information are left out: " + ", ".join(const), const))
    features = [f for f in features_all if f not in excluded]
    if not features:
        checks.append(Check("no_features", "error",
                            "no feature column is left to learn from; include a column or add "
                            "data.", []))

    n_folds = int(options.get("n_folds") or default_folds(len(y)))
    stratify = chosen != "regression" and not time_col
    n_used = int(len(y))
    if chosen != "regression" and class_counts:
        rare = [k for k, v in class_counts.items() if v < n_folds]
        if rare and distinct >= 2:
            rare_strategy = options.get("rare_classes") or "no_stratify"
            if rare_strategy not in RARE_OPTIONS:
                raise InvalidInput("rare_classes must be one of " + ", ".join(RARE_OPTIONS))
            left = {k: v for k, v in class_counts.items() if k not in rare}
            if rare_strategy == "drop" and len(left) < 2:
                checks.append(Check("rare_drop_one_class", "error",
                                    "dropping the rare classes would leave one class; choose "
                                    "another way.", [target]))
            if rare_strategy == "drop":
                n_used -= sum(class_counts[k] for k in rare)
            if rare_strategy == "no_stratify":
                stratify = False
            checks.append(Check(
                "rare_classes", "warning",
                f"{len(rare)} class{'es' if len(rare) > 1 else ''} "
                f"({', '.join(map(str, rare[:8]))}{' …' if len(rare) > 8 else ''}) "
                f"{'have' if len(rare) > 1 else 'has'} fewer rows than the {n_folds} folds.",
                [target], dict(RARE_OPTIONS), rare_strategy))
    if group_col and group_col in frame.columns:
        n_groups = int(frame.loc[y.index, group_col].nunique())
        if n_groups < 2:
            checks.append(Check("few_groups", "error",
                                f"the group column '{group_col}' has {n_groups} group; group "
                                "folds need at least 2.", [group_col]))
        n_folds = max(2, min(n_folds, n_groups))
    try:
        metric_name = get_metric(metric, chosen).name
    except InvalidInput as exc:
        checks.append(Check("metric", "error", str(exc), []))
        metric_name = DEFAULT_METRIC[chosen]
    return Plan(
        target=target, task=chosen, detected_task=detected, task_reason=reason,
        metric=metric_name, n_rows=n_rows, n_rows_used=n_used,
        classes=[_json_label(c) for c in classes] if classes is not None else None,
        class_counts=class_counts, features=features, excluded=excluded, checks=checks,
        stratify=stratify, rare_classes=rare, rare_strategy=rare_strategy, n_folds=n_folds,
        group_col=group_col, time_col=time_col,
    )


def apply_plan(X: pd.DataFrame, y: pd.Series, plan: Plan) -> tuple[pd.DataFrame, pd.Series]:
    """Rows ready for training: missing targets dropped, rare classes handled."""
    keep = y.notna()
    X, y = X.loc[keep], y.loc[keep]
    if plan.task == "regression":
        return X, pd.to_numeric(y, errors="coerce").astype("float64")
    labels = y.astype(object).map(_json_label)
    if plan.rare_classes and plan.rare_strategy == "drop":
        mask = ~labels.astype(str).isin(set(plan.rare_classes))
        X, labels = X.loc[mask], labels.loc[mask]
    elif plan.rare_classes and plan.rare_strategy == "merge":
        rare = set(plan.rare_classes)
        labels = labels.map(lambda v: "other" if str(v) in rare else v)
        if any(isinstance(v, str) for v in labels.head(1000)) or "other" in labels.values:
            labels = labels.astype(str)
    return X, labels
