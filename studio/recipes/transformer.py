"""The row-wise part of a recipe as a scikit-learn transformer, for prediction time.

:class:`RecipeTransformer` replays fitted row-wise steps on any frame holding
the raw input columns — a training set or a single request row — so a
published ``Pipeline([("recipe", RecipeTransformer(steps)), …prep…, model])``
takes the columns the user uploaded and rebuilds the features the model was
trained on.

:func:`prediction_steps` prepares those steps for a target: the target is not
there at prediction time, so work that only produces or transforms the target
is left out, and the raw columns needed are exactly those the features come
from.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from studio.errors import InvalidInput
from studio.recipes import runtime
from studio.recipes.core import fit_recipe
from studio.recipes.steps import DropColumns, StepBase, steps_from_json


class MissingColumns(InvalidInput, ValueError):
    """Input lacks raw columns the recipe needs (a ValueError for scikit-learn callers)."""


def _as_frame(X) -> pd.DataFrame:
    """``X`` as a DataFrame: tables only (a single row is a one-row table)."""
    if isinstance(X, pd.DataFrame):
        frame = X
    else:
        from scipy import sparse

        if sparse.issparse(X):
            raise TypeError("sparse input is not supported: pass a DataFrame of raw columns")
        if isinstance(X, pd.Series):
            raise ValueError("expected a table (2D); for one row pass a one-row DataFrame, "
                             "e.g. df.iloc[[i]]")
        array = np.asarray(X)
        if array.ndim != 2:
            raise ValueError(f"Expected 2D array, got {array.ndim}D array instead. Reshape "
                             "your data: for one row pass a one-row DataFrame (df.iloc[[i]])")
        if np.iscomplexobj(array):
            raise ValueError("Complex data not supported")
        frame = pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])]) \
            .infer_objects()
    if frame.shape[1] == 0:
        raise ValueError(f"0 feature(s) (shape=({len(frame)}, 0)) while a minimum of 1 is "
                         "required.")
    return frame


def _conform(series: pd.Series, dtype) -> pd.Series:
    """``series`` in the dtype the column had at fit time, when they differ.

    Requests arrive as JSON or CSV, so a float column may come as integers and
    a text column as objects; steps such as category grouping compare values
    as text, so 1 and 1.0 must not differ. Values that do not convert become
    missing, as they would in the recipe.
    """
    if series.dtype == dtype:
        return series
    try:
        if pd.api.types.is_bool_dtype(dtype):
            out = runtime.to_boolean(series)
            return out.astype(dtype) if not out.isna().any() else out
        if pd.api.types.is_datetime64_any_dtype(dtype):
            out = runtime.to_datetime(series, "mixed")
            return out.astype(dtype) if getattr(dtype, "tz", None) is None else out
        if pd.api.types.is_numeric_dtype(dtype):
            values = runtime.to_number(series)
            if not pd.api.types.is_integer_dtype(dtype):
                return values.astype(dtype)
            if not (values.isna() | (values % 1 == 0)).all():
                return values  # fractions where whole numbers were: keep them visible
            if values.isna().any() or not isinstance(dtype, np.dtype):
                return values.astype("Int64")
            return values.astype(dtype)
        if pd.api.types.is_string_dtype(dtype) and dtype != object:
            return series.astype(dtype)
    except (TypeError, ValueError, OverflowError):
        return series
    return series


class RecipeTransformer(TransformerMixin, BaseEstimator):
    """Replay fitted row-wise recipe steps on raw input columns.

    Parameters
    ----------
    steps : list
        Row-wise steps as JSON dicts (as stored in a version's recipe, or as
        returned by :func:`studio.recipes.training_input`) or step objects.
    refit : bool, default False
        False: use the values stored in the steps (means, bounds, edges …),
        reproducing the dataset version exactly. True: learn them again from
        the data given to ``fit`` (e.g. inside cross-validation folds).

    Attributes
    ----------
    steps_ : list of fitted steps
    feature_names_in_ : ndarray of the input columns seen in ``fit``
    n_features_in_ : int
    dtypes_in_ : dict of column → dtype seen in ``fit`` (inputs are converted to it)
    feature_names_out_ : list of the output columns
    """

    def __init__(self, steps=(), refit=False):
        self.steps = steps
        self.refit = refit

    def fit(self, X, y=None):
        frame = _as_frame(X)
        if len(frame) == 0:
            raise ValueError("0 sample(s) (shape=(0, n)) while a minimum of 1 is required.")
        steps = steps_from_json(list(self.steps or []))
        dataset_level = [s.describe() for s in steps if not s.ROWWISE]
        if dataset_level:
            raise ValueError("only row-wise steps can run at prediction time; these remove rows "
                             "and belong to the dataset: " + "; ".join(dataset_level))
        if self.refit or not all(s.is_fitted() for s in steps):
            steps, _out = fit_recipe(frame, steps)
        self.steps_: list[StepBase] = steps
        self.feature_names_in_ = np.asarray([str(c) for c in frame.columns], dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        self.dtypes_in_ = {str(c): frame[c].dtype for c in frame.columns}
        columns = [str(c) for c in frame.columns]
        for step in steps:
            columns, _deps = step.outputs(columns)
        self.feature_names_out_ = columns
        return self

    def transform(self, X):
        check_is_fitted(self, "steps_")
        frame = _as_frame(X)
        if not isinstance(X, pd.DataFrame):
            if frame.shape[1] != self.n_features_in_:
                raise ValueError(f"X has {frame.shape[1]} features, but RecipeTransformer is "
                                 f"expecting {self.n_features_in_} features as input.")
            frame.columns = list(self.feature_names_in_)
        missing = [c for c in self.feature_names_in_ if c not in frame.columns]
        if missing:
            shown = ", ".join(missing[:10]) + (" …" if len(missing) > 10 else "")
            raise MissingColumns(f"the input lacks column(s) the recipe needs: {shown}")
        frame = frame[list(self.feature_names_in_)]
        for col in [c for c in frame.columns if frame[c].dtype != self.dtypes_in_[c]]:
            frame[col] = _conform(frame[col], self.dtypes_in_[col])
        for step in self.steps_:
            frame = step.apply(frame)
        return frame

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "steps_")
        return np.asarray(self.feature_names_out_, dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        tags.transformer_tags.preserves_dtype = []
        return tags


# --- steps for prediction ------------------------------------------------------

def prediction_steps(steps: list, columns: list[str], target: str | None
                     ) -> tuple[list[StepBase], list[str]]:
    """Row-wise ``steps`` limited to what the features need, and the raw columns they need.

    ``columns`` are the raw (root import) columns the steps start from. The
    result replays on frames without the target: steps (or the parts of
    steps) that only produce or change the target, or columns dropped later,
    are left out. Raises :class:`InvalidInput` when a feature is computed from
    the target, since it would not be known at prediction time.
    """
    parsed = [s for s in steps_from_json(steps) if s.ROWWISE]
    stages = [list(columns)]
    deps = []
    for step in parsed:
        after, dep = step.outputs(stages[-1])
        stages.append(after)
        deps.append(dep)
    final = stages[-1]
    if target is not None and target not in final:
        raise InvalidInput(f"the target '{target}' is not a column of the data; it has "
                           + ", ".join(final[:12]) + (" …" if len(final) > 12 else ""))
    needed = [set(final) - {target}]
    for dep in reversed(deps):
        before: set[str] = set()
        for col in needed[0]:
            before |= dep.get(col, {col})
        needed.insert(0, before)
    inputs = [c for c in columns if c in needed[0]]
    present = list(inputs)
    kept: list[StepBase] = []
    for step, need_after in zip(parsed, needed[1:]):
        limited = step.restrict(set(present), need_after)
        if limited is None:
            continue
        kept.append(limited)
        present, _dep = limited.outputs(present)
    if target is not None and target in present:
        raise InvalidInput(_leak_message(parsed, columns, target))
    extra = [c for c in present if c not in needed[-1]]
    if extra:
        kept.append(DropColumns(columns=extra))
    return kept, inputs


def _leak_message(steps: list[StepBase], columns: list[str], target: str) -> str:
    raw = {c: {c} for c in columns}
    for step in steps:
        after, dep = step.outputs(list(raw))
        raw = {c: set().union(*(raw.get(d, {d}) for d in dep.get(c, {c}))) for c in after}
    target_raw = raw.get(target, set())
    leaking = [c for c, src in raw.items() if c != target and src & target_raw]
    shown = ", ".join(leaking[:6]) or "some columns"
    return (f"column(s) {shown} are computed from the same raw data as the target '{target}', "
            "which is not known when predicting; drop them or choose another target")
