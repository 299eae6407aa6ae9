"""Per-column-type preprocessing as one ``ColumnTransformer``.

The semantic type of each feature column decides its branch:

- numeric: parsed to float (junk and inf → missing); linear models and k-NN
  get median imputation with a missing indicator and scaling; trees take NaN;
- categorical/boolean with few levels: one-hot (linear) or ordinal codes
  (trees; histogram boosting uses them as native categories);
- categorical with many levels: target encoding (cross-fitted, so no leak);
- datetime: date parts (year, month, day, weekday, …) derived inside the pipeline;
- text: TF-IDF.

Two families share the work: ``linear`` (logistic/ridge, k-NN) and ``tree``
(forests, boosting). A search builds each family once per fold.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler, TargetEncoder

from studio.automl.transformers import DateKey, DateParts, TextColumn, ToCategory, ToNumeric

MANY_LEVELS = 30


def column_kinds(frame: pd.DataFrame, features: list[str], schema: dict[str, dict]) -> dict[str, str]:
    """feature → num | cat | many | date | text, from the semantic types."""
    kinds = {}
    for name in features:
        semantic = (schema.get(name) or {}).get("semantic")
        col = frame[name]
        if semantic is None:
            if pd.api.types.is_bool_dtype(col):
                semantic = "boolean"
            elif pd.api.types.is_numeric_dtype(col):
                semantic = "numeric"
            elif pd.api.types.is_datetime64_any_dtype(col):
                semantic = "datetime"
            else:
                semantic = "categorical"
        if semantic == "numeric":
            kinds[name] = "num"
        elif semantic == "datetime":
            kinds[name] = "date"
        elif semantic == "text":
            kinds[name] = "text"
        else:  # categorical, boolean, identifier the user chose to include
            distinct = col.nunique(dropna=True)
            kinds[name] = "many" if distinct > MANY_LEVELS else "cat"
    return kinds


def target_type(task: str) -> str:
    return {"binary": "binary", "multiclass": "multiclass"}.get(task, "continuous")


def build_preprocessor(kinds: dict[str, str], family: str, task: str, seed: int = 0,
                       n_rows: int | None = None) -> ColumnTransformer:
    """The ColumnTransformer for ``family``; ordinal categories come first.

    ``tree``: category codes, numbers as they are, date parts. ``gbm`` (LightGBM, which
    splits on category codes natively and regularises rare ones): the same, plus each
    date column's day as a category code, so a model can learn what happened on a given
    day (hourly rows sharing a date share its weather, its events) beside the trend.
    ``linear``: one-hot, imputed and scaled numbers."""
    by_kind: dict[str, list[str]] = {}
    for name, kind in kinds.items():
        by_kind.setdefault(kind, []).append(name)
    branches = []
    cat, num, many, date, text = (by_kind.get(k, []) for k in ("cat", "num", "many", "date", "text"))
    if family in ("tree", "gbm"):
        if cat:
            branches.append(("cat", Pipeline([
                ("as_text", ToCategory()),
                ("ordinal", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                                           encoded_missing_value=np.nan)),
            ]), cat))
        if date and family == "gbm":
            branches.append(("day", DateKey(), date))
        if num:
            branches.append(("num", ToNumeric(), num))
        if date:
            branches.append(("date", DateParts(), date))
    else:
        if cat:
            branches.append(("cat", Pipeline([
                ("as_text", ToCategory()),
                ("onehot", OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=3,
                                         sparse_output=True)),
            ]), cat))
        if num:
            branches.append(("num", Pipeline([
                ("as_number", ToNumeric()),
                ("impute", SimpleImputer(strategy="median", add_indicator=True,
                                         keep_empty_features=True)),
                ("scale", StandardScaler()),
            ]), num))
        if date:
            branches.append(("date", Pipeline([
                ("parts", DateParts()),
                ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                ("scale", StandardScaler()),
            ]), date))
    if many:
        steps = [("as_text", ToCategory()),
                 ("target", TargetEncoder(target_type=target_type(task), cv=5))]
        if family == "linear":
            steps.append(("scale", StandardScaler()))
        branches.append(("many", Pipeline(steps), many))
    for i, name in enumerate(text):
        vocab = 2000 if family == "linear" else 200
        branches.append((f"text{i}", Pipeline([
            ("as_text", TextColumn()),
            ("tfidf", TfidfVectorizer(max_features=vocab, min_df=2, sublinear_tf=True,
                                      dtype=np.float32)),
        ]), [name]))
    return ColumnTransformer(branches, remainder="drop",
                             sparse_threshold=0.3 if family == "linear" else 0.0,
                             verbose_feature_names_out=False)


def n_ordinal(kinds: dict[str, str], family: str = "tree") -> int:
    """How many leading output columns of the tree/gbm preprocessor are category codes."""
    coded = ("cat", "date") if family == "gbm" else ("cat",)
    return sum(1 for k in kinds.values() if k in coded)
