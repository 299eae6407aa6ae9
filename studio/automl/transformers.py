"""Estimators the published pipeline is made of.

They live in this module (a stable import path) because a registered model is
a pickled ``Pipeline``: moving a class breaks every stored model that uses it.
Each follows the scikit-learn contract: ``__init__`` stores parameters, ``fit``
returns self, fitted attributes end in ``_``.

Inputs arrive raw at prediction time (JSON numbers as strings, dates as text,
``inf``), so every branch coerces its columns the same way in fit and predict.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, TransformerMixin, clone

PROBA_FLOOR = 1e-5
DATE_PARTS = ("year", "month", "day", "day_of_week", "day_of_year", "hour", "minute", "days")
# "days": days since 1970-01-01 as a number, so a trend over time can be learned (the
# calendar parts alone repeat every year).


def _date_part(stamps: pd.Series, part: str) -> pd.Series:
    if part == "days":
        days = stamps.astype("datetime64[s]").astype("int64") / 86_400.0
        return days.where(stamps.notna())
    return getattr(stamps.dt, part)


def _frame(X) -> pd.DataFrame:
    return X if isinstance(X, pd.DataFrame) else pd.DataFrame(X)


class ToNumeric(TransformerMixin, BaseEstimator):
    """Columns to float64: text numbers parsed, booleans 0/1, inf and junk as NaN."""

    def fit(self, X, y=None):
        self.n_features_in_ = _frame(X).shape[1]
        return self

    def transform(self, X):
        frame = _frame(X)
        out = np.empty(frame.shape, dtype="float64")
        for i, name in enumerate(frame.columns):
            col = frame[name]
            if pd.api.types.is_bool_dtype(col):
                col = col.astype("float64")
            values = pd.to_numeric(col, errors="coerce")
            out[:, i] = np.asarray(values, dtype="float64")
        out[~np.isfinite(out)] = np.nan
        return out

    def get_feature_names_out(self, input_features=None):
        return np.asarray(input_features if input_features is not None else [], dtype=object)


def category_text(value) -> object:
    """One spelling per category: 1, 1.0 and "1" are the same level; missing stays NaN."""
    if value is None:
        return np.nan
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            return np.nan
        if float(value).is_integer():
            return str(int(value))
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    try:
        if pd.isna(value):
            return np.nan
    except (TypeError, ValueError):
        pass
    return str(value).strip()


class ToCategory(TransformerMixin, BaseEstimator):
    """Columns to object arrays of strings (missing as NaN) for the encoders."""

    def fit(self, X, y=None):
        self.n_features_in_ = _frame(X).shape[1]
        return self

    def transform(self, X):
        frame = _frame(X)
        out = np.empty(frame.shape, dtype=object)
        for i, name in enumerate(frame.columns):
            col = frame[name]
            if pd.api.types.infer_dtype(col, skipna=True) in ("string", "empty"):
                text = col.astype(object)
                missing = text.isna().to_numpy()
                values = text.astype(str).str.strip().to_numpy(dtype=object)
                values[missing] = np.nan
                out[:, i] = values
            else:  # numbers, booleans, mixtures: one spelling per value
                out[:, i] = [category_text(v) for v in col.tolist()]
        return out

    def get_feature_names_out(self, input_features=None):
        return np.asarray(input_features if input_features is not None else [], dtype=object)


class DateParts(TransformerMixin, BaseEstimator):
    """Datetime (or date text) columns to numeric parts; keeps the parts that vary."""

    def fit(self, X, y=None):
        frame = _frame(X)
        self.columns_ = list(frame.columns)
        self.parts_ = []
        for name in self.columns_:
            stamps = self._stamps(frame[name])
            keep = []
            for part in DATE_PARTS:
                values = _date_part(stamps, part)
                if values.nunique(dropna=True) > 1:
                    keep.append(part)
            self.parts_.append(keep or ["year"])
        self.n_features_in_ = len(self.columns_)
        return self

    @staticmethod
    def _stamps(col: pd.Series) -> pd.Series:
        if pd.api.types.is_datetime64_any_dtype(col):
            stamps = col
        else:
            stamps = pd.to_datetime(col.astype("object"), errors="coerce", format="mixed")
        if getattr(stamps.dt, "tz", None) is not None:
            stamps = stamps.dt.tz_convert(None)
        return stamps

    def transform(self, X):
        frame = _frame(X)
        blocks = []
        for name, parts in zip(self.columns_, self.parts_):
            stamps = self._stamps(frame[name])
            for part in parts:
                blocks.append(np.asarray(_date_part(stamps, part), dtype="float64"))
        return np.column_stack(blocks) if blocks else np.empty((len(frame), 0))

    def get_feature_names_out(self, input_features=None):
        return np.asarray([f"{n}_{p}" for n, parts in zip(self.columns_, self.parts_)
                           for p in parts], dtype=object)


class DateKey(TransformerMixin, BaseEstimator):
    """Datetime (or date text) columns to the code of their day among the days seen in
    fit (missing or unseen days: NaN), for models that split on categories."""

    def fit(self, X, y=None):
        frame = _frame(X)
        self.columns_ = list(frame.columns)
        self.days_ = [np.unique(d[~np.isnan(d)]) for d in
                      (self._days(frame[name]) for name in self.columns_)]
        self.n_features_in_ = len(self.columns_)
        return self

    @staticmethod
    def _days(col: pd.Series) -> np.ndarray:
        return np.floor(np.asarray(_date_part(DateParts._stamps(col), "days"), dtype="float64"))

    def transform(self, X):
        frame = _frame(X)
        out = np.full((len(frame), len(self.columns_)), np.nan)
        for j, (name, known) in enumerate(zip(self.columns_, self.days_)):
            days = self._days(frame[name])
            if not len(known):
                continue
            pos = np.searchsorted(known, np.nan_to_num(days, nan=-1e18)).clip(0, len(known) - 1)
            hit = ~np.isnan(days) & (known[pos] == days)
            out[hit, j] = pos[hit]
        return out

    def get_feature_names_out(self, input_features=None):
        return np.asarray([f"{n}_day_code" for n in self.columns_], dtype=object)


class TextColumn(TransformerMixin, BaseEstimator):
    """One text column as a 1-D array of strings (missing as empty) for TF-IDF."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        if isinstance(X, pd.DataFrame):
            X = X.iloc[:, 0]
        series = pd.Series(np.asarray(X, dtype=object).ravel())
        text = series.map(category_text)
        return text.where(text.notna(), "").astype(str).to_numpy()


class EncodedClassifier(ClassifierMixin, BaseEstimator):
    """A classifier that returns the original labels and one proba column per class.

    Labels are encoded for the inner model (XGBoost needs 0..K-1). ``classes``
    fixes the full label set, so a fold that lacks a rare class still yields a
    probability column for it (zero) instead of failing or shifting columns.
    """

    def __init__(self, estimator=None, classes=None):
        self.estimator = estimator
        self.classes = classes

    def fit(self, X, y, sample_weight=None, **fit_params):
        y = np.asarray(y)
        self.classes_ = np.asarray(self.classes) if self.classes is not None else np.unique(y)
        index = {c: i for i, c in enumerate(self.classes_.tolist())}
        codes = np.asarray([index[v] for v in y.tolist()], dtype=np.int64)
        if type(self.estimator).__name__.startswith("HistGradientBoosting"):
            # it diverges on a class of one or two rows: leave those rows out
            counts = np.bincount(codes)
            tiny = np.flatnonzero((counts > 0) & (counts < 3))
            if len(tiny) and len(tiny) < len(np.flatnonzero(counts)) - 1:
                keep = ~np.isin(codes, tiny)
                X = X[keep] if not hasattr(X, "iloc") else X.iloc[keep]
                codes = codes[keep]
                if sample_weight is not None:
                    sample_weight = np.asarray(sample_weight)[keep]
        self.present_ = np.unique(codes)
        local = np.searchsorted(self.present_, codes)
        self.estimator_ = clone(self.estimator)
        if sample_weight is not None:
            fit_params["sample_weight"] = sample_weight
        if len(self.present_) == 1:
            self.estimator_ = None  # a single class in this fold: predict it
        else:
            params = self.estimator_.get_params()
            if params.get("early_stopping") is True and np.bincount(local).min() < 2:
                # histogram boosting stratifies its validation split: a class of one row breaks it
                self.estimator_.set_params(early_stopping=False, max_iter=min(params["max_iter"], 200))
            self.estimator_.fit(X, local, **fit_params)
        return self

    def predict_proba(self, X):
        n = X.shape[0]
        out = np.zeros((n, len(self.classes_)), dtype="float64")
        if self.estimator_ is None:
            out[:, self.present_[0]] = 1.0
        else:
            out[:, self.present_] = self.estimator_.predict_proba(X)
        # a floor: no class is ever impossible (an unseen rare class costs log(1e4), not infinity)
        return out * (1.0 - PROBA_FLOOR * len(self.classes_)) + PROBA_FLOOR

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class EnsembleModel(BaseEstimator):
    """A weighted average of member pipelines (Caruana ensemble selection).

    Members are complete pipelines from (recipe-applied) input columns to
    prediction, each with its own preprocessing.
    """

    def __init__(self, members=None, weights=None, task="regression", classes=None):
        self.members = members
        self.weights = weights
        self.task = task
        self.classes = classes

    def fit(self, X, y, sample_weight=None):
        self.members_ = []
        for member in self.members:
            fitted = clone(member)
            last = fitted.steps[-1][0] if hasattr(fitted, "steps") else None
            if sample_weight is not None and last and not _is_knn(fitted):
                fitted.fit(X, y, **{f"{last}__sample_weight": sample_weight})
            else:
                fitted.fit(X, y)
            self.members_.append(fitted)
        w = np.asarray(self.weights, dtype="float64")
        self.weights_ = w / w.sum()
        if self.task != "regression":
            self.classes_ = self.members_[0].classes_
        return self

    def predict_proba(self, X):
        return sum(w * m.predict_proba(X) for w, m in zip(self.weights_, self.members_))

    def predict(self, X):
        if self.task == "regression":
            return sum(w * np.asarray(m.predict(X), dtype="float64")
                       for w, m in zip(self.weights_, self.members_))
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def _is_knn(pipeline) -> bool:
    last = pipeline.steps[-1][1]
    inner = getattr(last, "estimator", last)
    return type(inner).__name__.startswith("KNeighbors")


class EnsembleClassifier(ClassifierMixin, EnsembleModel):
    pass


class EnsembleRegressor(RegressorMixin, EnsembleModel):
    pass


def set_inference_threads(estimator, n_jobs: int = 1) -> None:
    """One thread per model at prediction time: a single row is fastest without a pool."""
    seen = set()

    def visit(obj):
        if id(obj) in seen or obj is None:
            return
        seen.add(id(obj))
        if hasattr(obj, "n_jobs") and not isinstance(obj, type):
            try:
                obj.n_jobs = n_jobs
            except Exception:  # noqa: BLE001 - read-only on some estimators
                pass
        if hasattr(obj, "get_booster"):  # XGBoost: the booster keeps its own thread count
            try:
                obj.get_booster().set_param({"nthread": n_jobs})
            except Exception:  # noqa: BLE001 - not fitted
                pass
        for attr in ("steps", "transformers_", "members_", "estimator_"):
            children = getattr(obj, attr, None)
            if children is None:
                continue
            if not isinstance(children, (list, tuple)):
                children = [children]
            for child in children:
                if isinstance(child, tuple):
                    for part in child:
                        if hasattr(part, "get_params"):
                            visit(part)
                elif hasattr(child, "get_params"):
                    visit(child)

    visit(estimator)
