"""The fast path: validated columns straight to the matrix the fitted ColumnTransformer makes.

A fitted pipeline ``[ColumnTransformer, estimator…]`` spends most of a one-row
prediction building DataFrames and walking scikit-learn's validation. Here its
fitted steps are read once (imputer statistics, scaler means, one-hot
categories…) and turned into small per-column functions over NumPy arrays and
Python lists. ``compile_pipeline`` refuses (``NotCompilable``) anything it does
not know; the loaded model then checks the compiled output equals the pipeline's
own on probe rows and uses the pipeline whenever they differ. At run time a case
the compiled code cannot reproduce exactly (an unseen category for an encoder set
to raise) raises :class:`UseFallback` and that request takes the pipeline.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np


class NotCompilable(Exception):
    """The pipeline has a step the fast path does not reproduce."""


class UseFallback(Exception):
    """This input needs the pipeline itself (e.g. so that it raises the same error)."""


def _is_nan(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or (
        isinstance(value, np.floating) and np.isnan(value))


def _identity(step: Any) -> bool:
    if step is None or step == "passthrough":
        return True
    from sklearn.preprocessing import FunctionTransformer

    return isinstance(step, FunctionTransformer) and step.func is None and step.inverse_func is None


# Each column is carried as (kind, values): "num" float64 array (NaN = missing),
# "obj" list (None = missing), "bool" list of True/False/None, or "date" (the converter's
# datetime Series, NaT = missing; only DateParts/DateKey take it).

def _to_num(kind: str, values: Any) -> np.ndarray:
    if kind == "num":
        return values
    if kind == "bool":
        return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
    if kind == "date":
        raise UseFallback()
    raise NotCompilable("text reaches a numeric step")


def _to_list(kind: str, values: Any) -> list:
    if kind == "num":
        return [None if v != v else v for v in values.tolist()]
    return values


Step = Callable[[list], list]


def _imputer(step, kinds: list[str]):
    if not _is_nan(step.missing_values):
        raise NotCompilable("SimpleImputer with a custom missing marker")
    stats = list(step.statistics_)
    if len(stats) != len(kinds):
        raise NotCompilable("SimpleImputer fitted on another width")
    keep_empty = getattr(step, "keep_empty_features", False)
    if any(_is_nan(s) for s in stats):
        if not keep_empty:
            raise NotCompilable("SimpleImputer with an empty column")
        stats = [0.0 if _is_nan(s) else s for s in stats]
    numeric = step.strategy in ("mean", "median") or all(k != "obj" for k in kinds) and all(
        isinstance(s, (int, float, np.number)) for s in stats)
    flagged = list(step.indicator_.features_) if step.add_indicator else []
    if step.add_indicator and step.indicator_.features != "missing-only":
        raise NotCompilable("MissingIndicator(features='all')")
    out_kinds = ["num" if numeric else "obj" for _ in kinds] + ["num"] * len(flagged)
    origin = list(range(len(kinds))) + flagged

    def run(cols: list) -> list:
        out, missing = [], []
        for j, ((kind, values), stat) in enumerate(zip(cols, stats)):
            if numeric:
                arr = _to_num(kind, values)
                hole = np.isnan(arr)
                out.append(("num", np.where(hole, float(stat), arr)))
            else:
                values = _to_list(kind, values)
                hole = np.array([v is None for v in values], dtype=bool)
                out.append(("obj", [stat if v is None else v for v in values]))
            missing.append(hole)
        out.extend(("num", missing[j].astype(np.float64)) for j in flagged)
        return out

    return out_kinds, run, origin


def _scaler(step, kinds: list[str]) -> tuple[list[str], Step]:
    name = type(step).__name__
    n = len(kinds)
    if name == "StandardScaler":
        sub = step.mean_ if step.with_mean else None
        div = step.scale_ if step.with_std else None
        mul = add = None
    elif name == "MinMaxScaler":
        if step.clip:
            raise NotCompilable("MinMaxScaler(clip=True)")
        sub = div = None
        mul, add = step.scale_, step.min_
    elif name == "RobustScaler":
        sub = step.center_ if step.with_centering else None
        div = step.scale_ if step.with_scaling else None
        mul = add = None
    elif name == "MaxAbsScaler":
        sub = mul = add = None
        div = step.scale_
    else:
        raise NotCompilable(name)
    for arr in (sub, div, mul, add):
        if arr is not None and len(arr) != n:
            raise NotCompilable(f"{name} fitted on another width")

    def run(cols: list) -> list:
        out = []
        for j, (kind, values) in enumerate(cols):
            x = _to_num(kind, values)
            if sub is not None:
                x = x - sub[j]
            if div is not None:
                x = x / div[j]
            if mul is not None:
                x = x * mul[j]
            if add is not None:
                x = x + add[j]
            out.append(("num", x))
        return out

    return ["num"] * n, run


def _lookup(categories) -> tuple[dict, int]:
    mapping: dict = {}
    missing = -1
    for i, cat in enumerate(list(categories)):
        if _is_nan(cat):
            missing = i
        else:
            mapping.setdefault(cat, i)
    return mapping, missing


def _codes(kind: str, values: Any, mapping: dict, missing: int) -> list[int]:
    if kind == "num":
        return [missing if v != v else mapping.get(v, -1) for v in values.tolist()]
    return [missing if v is None else mapping.get(v, -1) for v in values]


def _onehot(step, kinds: list[str]):
    if getattr(step, "drop_idx_", None) is not None:
        raise NotCompilable("OneHotEncoder(drop=...)")
    if len(step.categories_) != len(kinds):
        raise NotCompilable("OneHotEncoder fitted on another width")
    strict = step.handle_unknown == "error"
    rare = (getattr(step, "infrequent_categories_", None) or [None] * len(kinds)
            if getattr(step, "_infrequent_enabled", False) else [None] * len(kinds))
    tables, widths, unknown_to = [], [], []
    for cats, infrequent in zip(step.categories_, rare):
        cats = list(cats)
        if infrequent is None:
            mapping, missing = _lookup(cats)
            tables.append((mapping, missing))
            widths.append(len(cats))
            unknown_to.append(-1)
            continue
        rare_set = list(infrequent)
        frequent = [c for c in cats if not any(_same_cat(c, r) for r in rare_set)]
        last = len(frequent)
        mapping, missing = _lookup(frequent)
        for r in rare_set:
            if _is_nan(r):
                missing = last
            else:
                mapping[r] = last
        tables.append((mapping, missing))
        widths.append(last + 1)
        unknown_to.append(last if step.handle_unknown == "infrequent_if_exist" else -1)
    origin = [j for j, w in enumerate(widths) for _ in range(w)]

    def run(cols: list) -> list:
        out = []
        for (kind, values), (mapping, missing), width, other in zip(cols, tables, widths, unknown_to):
            codes = np.asarray(_codes(kind, values, mapping, missing), dtype=np.int64)
            if (codes < 0).any():
                if strict:
                    raise UseFallback()
                if other >= 0:
                    codes[codes < 0] = other
            block = np.zeros((len(codes), width), dtype=np.float64)
            hit = codes >= 0
            block[np.nonzero(hit)[0], codes[hit]] = 1.0
            out.extend(("num", block[:, i]) for i in range(width))
        return out

    return ["num"] * sum(widths), run, origin


def _same_cat(a, b) -> bool:
    return (_is_nan(a) and _is_nan(b)) or (not _is_nan(a) and not _is_nan(b) and a == b)


def _target_encoder(step, kinds: list[str]):
    if step.target_type_ not in ("binary", "continuous"):
        raise NotCompilable("TargetEncoder for a multiclass target")
    tables = [_lookup(c) for c in step.categories_]
    encodings = [np.asarray(e, dtype=np.float64) for e in step.encodings_]
    default = float(step.target_mean_)

    def run(cols: list) -> list:
        out = []
        for (kind, values), (mapping, missing), enc in zip(cols, tables, encodings):
            codes = np.asarray(_codes(kind, values, mapping, missing), dtype=np.int64)
            arr = np.full(len(codes), default, dtype=np.float64)
            hit = codes >= 0
            arr[hit] = enc[codes[hit]]
            out.append(("num", arr))
        return out

    return ["num"] * len(kinds), run


def _ordinal(step, kinds: list[str]) -> tuple[list[str], Step]:
    if getattr(step, "_infrequent_enabled", False):
        raise NotCompilable("OrdinalEncoder with infrequent categories")
    strict = step.handle_unknown != "use_encoded_value"
    unknown = float(step.unknown_value) if not strict else np.nan
    tables = [_lookup(c) for c in step.categories_]
    encoded_missing = float(step.encoded_missing_value)

    def run(cols: list) -> list:
        out = []
        for (kind, values), (mapping, missing) in zip(cols, tables):
            codes = _codes(kind, values, mapping, -2 if missing >= 0 else -1)
            if strict and any(c == -1 for c in codes):
                raise UseFallback()
            arr = np.array([encoded_missing if c == -2 else (unknown if c == -1 else float(c))
                            for c in codes], dtype=np.float64)
            out.append(("num", arr))
        return out

    return ["num"] * len(kinds), run


def _to_numeric(step, kinds: list[str]) -> tuple[list[str], Step]:
    def num(v):
        try:
            f = float(v)
        except (TypeError, ValueError):
            return np.nan
        return f if math.isfinite(f) else np.nan

    def run(cols: list) -> list:
        out = []
        for kind, values in cols:
            if kind == "obj":
                arr = np.array([np.nan if v is None else num(v) for v in values], dtype=np.float64)
            else:
                arr = _to_num(kind, values).copy()
                arr[~np.isfinite(arr)] = np.nan
            out.append(("num", arr))
        return out

    return ["num"] * len(kinds), run


def _to_category(step, kinds: list[str]) -> tuple[list[str], Step]:
    from studio.automl.transformers import category_text

    def text(v):
        t = category_text(v)
        return None if _is_nan(t) else t

    def run(cols: list) -> list:
        return [("obj", [None if v is None else text(v) for v in _to_list(kind, values)])
                for kind, values in cols]

    return ["obj"] * len(kinds), run


def _dates_in(kinds: list[str], name: str) -> None:
    if any(k != "date" for k in kinds):
        raise NotCompilable(f"{name} over columns that are not dates")


def _date_parts(step, kinds: list[str]):
    """``DateParts``: the transformer's own part functions over the converted dates."""
    import pandas as pd

    from studio.automl.transformers import _date_part

    _dates_in(kinds, "DateParts")
    parts = [list(p) for p in step.parts_]
    if len(parts) != len(kinds):
        raise NotCompilable("DateParts fitted on another width")
    origin = [j for j, p in enumerate(parts) for _ in p]

    def run(cols: list) -> list:
        out = []
        for (kind, values), wanted in zip(cols, parts):
            stamps = step._stamps(pd.Series(values))
            out.extend(("num", np.asarray(_date_part(stamps, part), dtype=np.float64))
                       for part in wanted)
        return out

    return ["num"] * len(origin), run, origin


def _date_key(step, kinds: list[str]):
    """``DateKey``: each date's day as its code among the days seen in training."""
    import pandas as pd

    _dates_in(kinds, "DateKey")
    if len(step.days_) != len(kinds):
        raise NotCompilable("DateKey fitted on another width")
    frame_of = step.columns_

    def run(cols: list) -> list:
        frame = pd.DataFrame({name: pd.Series(values) for name, (_, values)
                              in zip(frame_of, cols)})
        out = step.transform(frame)
        return [("num", out[:, j]) for j in range(out.shape[1])]

    return ["num"] * len(kinds), run


_STEPS = {
    "SimpleImputer": _imputer, "StandardScaler": _scaler, "MinMaxScaler": _scaler,
    "RobustScaler": _scaler, "MaxAbsScaler": _scaler, "OneHotEncoder": _onehot,
    "OrdinalEncoder": _ordinal, "ToNumeric": _to_numeric, "ToCategory": _to_category,
    "TargetEncoder": _target_encoder, "DateParts": _date_parts, "DateKey": _date_key,
}
_DATE_STEPS = ("DateParts", "DateKey")
_TRUSTED_MODULES = ("sklearn.", "studio.automl.transformers")


def _compile_step(step, kinds: list[str]) -> tuple[list[str], Step | None, list[int]]:
    """(output kinds, run function, input position of each output column)."""
    if _identity(step):
        return kinds, None, list(range(len(kinds)))
    name = type(step).__name__
    module = type(step).__module__
    factory = _STEPS.get(name)
    if factory is None or not module.startswith(_TRUSTED_MODULES):
        raise NotCompilable(f"step {name} is not compiled")
    made = factory(step, kinds)
    if len(made) == 3:
        return made
    out_kinds, run = made
    if len(out_kinds) != len(kinds):
        raise NotCompilable(f"step {name} changes the width")
    return out_kinds, run, list(range(len(kinds)))


@dataclass
class Block:
    names: list[str]
    steps: list[Step]
    width: int


@dataclass
class Compiled:
    """The compiled ColumnTransformer: ``transform(columns, n)`` → the estimator's input."""
    blocks: list[Block]
    n_out: int
    sources: list[str]            # per output feature: the input column it comes from
    sparse: bool
    kinds: dict[str, str]
    head: Any = None              # the fitted ColumnTransformer it reproduces

    def reference(self, frame):
        """What the pipeline's own preprocessing makes of ``frame`` (for the load-time check)."""
        return self.head.transform(frame)

    def transform(self, columns: dict[str, Any], n: int):
        X = np.empty((n, self.n_out), dtype=np.float64)
        at = 0
        for block in self.blocks:
            if not block.width:
                continue
            cols = [(self.kinds[name], columns[name]) for name in block.names]
            for step in block.steps:
                cols = step(cols)
            for kind, values in cols:
                X[:, at] = _to_num(kind, values) if kind != "obj" else _obj_fail()
                at += 1
        if self.sparse:
            from scipy import sparse

            return sparse.csr_matrix(X)
        return X


ENSEMBLES = ("EnsembleClassifier", "EnsembleRegressor", "EnsembleModel")


class EnsembleTail:
    """``EnsembleModel``'s prediction over its members' compiled matrices: the same weighted
    sum, in the same order, as ``EnsembleModel.predict_proba`` / ``predict``."""

    def __init__(self, model, tails: list):
        self.model = model
        self.tails = tails
        if hasattr(model, "classes_"):
            self.classes_ = model.classes_

    def predict_proba(self, Xs):
        return sum(w * t.predict_proba(X) for w, t, X in zip(self.model.weights_, self.tails, Xs))

    def predict(self, Xs):
        if self.model.task == "regression":
            return sum(w * np.asarray(t.predict(X), dtype="float64")
                       for w, t, X in zip(self.model.weights_, self.tails, Xs))
        return self.classes_[np.argmax(self.predict_proba(Xs), axis=1)]


@dataclass
class CompiledEnsemble:
    """Each member's compiled ColumnTransformer; ``transform`` gives one matrix per member."""
    members: list[Compiled]
    sparse: bool = False

    @property
    def sources(self) -> list[str]:
        return []

    def transform(self, columns: dict[str, Any], n: int) -> tuple:
        return tuple(c.transform(columns, n) for c in self.members)

    def reference(self, frame) -> tuple:
        return tuple(c.reference(frame) for c in self.members)


def _obj_fail():
    raise UseFallback()


def find_head(pipeline) -> tuple[Any, Any]:
    """(fitted ColumnTransformer, the rest of the pipeline) or NotCompilable."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    if not isinstance(pipeline, Pipeline):
        raise NotCompilable("the model is not a scikit-learn Pipeline")
    steps = pipeline.steps
    for i, (_, step) in enumerate(steps[:-1]):
        if _identity(step):
            continue
        if isinstance(step, ColumnTransformer):
            rest = steps[i + 1:]
            tail = rest[0][1] if len(rest) == 1 else pipeline[i + 1:]
            return step, tail
        raise NotCompilable(f"step {type(step).__name__} comes before the column preprocessing")
    raise NotCompilable("no ColumnTransformer in the pipeline")


def _ensemble(pipeline):
    """The fitted ensemble step when the pipeline is [identity steps…, EnsembleModel]."""
    from sklearn.pipeline import Pipeline

    if not isinstance(pipeline, Pipeline):
        return None
    steps = [step for _, step in pipeline.steps if not _identity(step)]
    if len(steps) == 1 and type(steps[0]).__name__ in ENSEMBLES and type(
            steps[0]).__module__.startswith("studio.automl") and hasattr(steps[0], "members_"):
        return steps[0]
    return None


def compile_pipeline(pipeline, column_kinds: dict[str, str]) -> tuple[Any, Any]:
    """Compile the pipeline's ColumnTransformer (or each ensemble member's);
    ``column_kinds``: input name → number|bool|string. Returns (compiled, tail)."""
    ensemble = _ensemble(pipeline)
    if ensemble is not None:
        parts = [compile_pipeline(member, column_kinds) for member in ensemble.members_]
        if any(isinstance(c, CompiledEnsemble) for c, _ in parts):
            raise NotCompilable("an ensemble of ensembles")
        return (CompiledEnsemble([c for c, _ in parts]),
                EnsembleTail(ensemble, [t for _, t in parts]))
    ct, tail = find_head(pipeline)
    names_in = getattr(ct, "feature_names_in_", None)
    if names_in is None:
        raise NotCompilable("the ColumnTransformer was fitted without column names")
    kinds = {}
    for name in names_in:
        kind = column_kinds.get(str(name))
        if kind not in ("number", "bool", "string", "datetime"):
            raise NotCompilable(f"column {name} ({kind}) is not compiled")
        kinds[str(name)] = {"number": "num", "bool": "bool", "string": "obj",
                            "datetime": "date"}[kind]
    indices = ct._transformer_to_input_indices
    blocks, sources = [], []
    for name, trans, _cols in ct.transformers_:
        width = ct.output_indices_[name].stop - ct.output_indices_[name].start
        cols = [str(names_in[i]) for i in indices.get(name, [])]
        if trans == "drop" or not cols:
            if width:
                raise NotCompilable(f"transformer {name} makes columns from nothing")
            continue
        steps_in = trans.steps if hasattr(trans, "steps") else [(None, trans)]
        block_kinds = [kinds[c] for c in cols]
        if "date" in block_kinds:  # dates are carried as datetimes: only date steps take them
            first = next((st for _, st in steps_in if not _identity(st)), None)
            if type(first).__name__ not in _DATE_STEPS:
                raise NotCompilable(f"transformer {name} takes dates without a date step")
        steps: list[Step] = []
        origin = list(cols)
        for _, step in steps_in:
            block_kinds, run, positions = _compile_step(step, block_kinds)
            if run is not None:
                steps.append(run)
            origin = [origin[i] for i in positions]
        if "obj" in block_kinds:
            raise NotCompilable(f"transformer {name} outputs text")
        if len(block_kinds) != width:
            raise NotCompilable(f"transformer {name} width differs from the fitted one")
        blocks.append(Block(cols, steps, width))
        sources.extend(origin)
    n_out = sum(b.width for b in blocks)
    sparse = bool(getattr(ct, "sparse_output_", False))
    return Compiled(blocks, n_out, sources, sparse, kinds, head=ct), tail
