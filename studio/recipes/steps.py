"""Recipe steps: typed, JSON-serialisable, fitted once, replayed exactly.

A step is a pydantic model with a ``kind`` discriminator. Its life:

1. built from a form or JSON (``step_from_json``), holding only what the user
   chose (columns, strategy, formula …);
2. ``fit(frame)`` checks it against the data (columns exist, types fit) and
   returns a copy holding the values it learned (means, bounds, bin edges,
   kept categories, date formats). Steps that learn nothing return a
   normalised copy;
3. ``apply(frame)`` runs the matching function of :mod:`studio.recipes.runtime`
   with those values, so replaying a fitted step never learns again.

Steps are **row-wise** (``ROWWISE = True``: each output row depends only on the
same input row, so they can run at prediction time inside
:class:`studio.recipes.transformer.RecipeTransformer`) or **dataset-level**
(filter, deduplicate, drop rows with missing values, sample: they only remove
rows and never change a value).
"""
from __future__ import annotations

import json
import math
import warnings
from typing import Annotated, Any, ClassVar, Literal, Union

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from studio.errors import InvalidInput
from studio.recipes import runtime
from studio.recipes.formula import check_formula

MAX_NAME = 255


# --- helpers ------------------------------------------------------------------

def _plain(value: Any) -> Any:
    """A JSON-ready Python value (numpy scalars, timestamps → plain values)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return pd.Timestamp(value).isoformat()
    if isinstance(value, str):
        return value
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _names(columns: list[str], limit: int = 4) -> str:
    shown = ", ".join(str(c) for c in columns[:limit])
    return shown + (f" and {len(columns) - limit} more" if len(columns) > limit else "")


def _require(frame: pd.DataFrame, columns: list[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        have = _names([str(c) for c in frame.columns], 8)
        what = f"column '{missing[0]}' is" if len(missing) == 1 else \
            f"columns {_names([repr(c) for c in missing])} are"
        raise InvalidInput(f"{what} not in the data; it has {have}")


def _is_number(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _is_datetime(series: pd.Series) -> bool:
    return pd.api.types.is_datetime64_any_dtype(series)


def _require_numbers(frame: pd.DataFrame, columns: list[str], what: str) -> None:
    _require(frame, columns)
    bad = [c for c in columns if not _is_number(frame[c])]
    if bad:
        raise InvalidInput(f"{what} needs numbers, but {_names(bad)} "
                           f"{'holds' if len(bad) == 1 else 'hold'} "
                           f"{frame[bad[0]].dtype} values; change the type to number first")


def _finite(series: pd.Series) -> pd.Series:
    values = series.astype("float64")
    return values[np.isfinite(values.to_numpy(dtype="float64", na_value=np.nan))]


def _new_name(frame_columns, name: str, taken: set[str]) -> str:
    if name in frame_columns or name in taken:
        raise InvalidInput(f"a column named '{name}' already exists; rename or drop it first")
    taken.add(name)
    return name


def guess_date_format(series: pd.Series, dayfirst: bool = False) -> str:
    """The strftime pattern that reads most of ``series`` (``"mixed"`` when none does)."""
    from pandas.tseries.api import guess_datetime_format

    text = series.dropna().astype("str").str.strip()
    text = text[text != ""]
    if text.empty:
        return "mixed"
    sample = text.iloc[:: max(1, len(text) // 500)][:500]
    candidates = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas warns when dayfirst disagrees; both are tried
        for value in sample.iloc[:20]:
            for first in (dayfirst, not dayfirst):
                fmt = guess_datetime_format(value, dayfirst=first)
                if fmt and fmt not in candidates:
                    candidates.append(fmt)
    best, best_ok = "mixed", -1
    for fmt in candidates:
        ok = int(pd.to_datetime(sample, format=fmt, errors="coerce", utc=True).notna().sum())
        if ok > best_ok:
            best, best_ok = fmt, ok
    if best_ok < len(sample):
        mixed_ok = int(pd.to_datetime(sample, format="mixed", dayfirst=dayfirst, errors="coerce",
                                      utc=True).notna().sum())
        if mixed_ok > best_ok:
            best = "mixed"
    return best


# --- the base -----------------------------------------------------------------

class StepBase(BaseModel):
    """Common behaviour; subclasses set ``kind``, ``TITLE``, ``ROWWISE``."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    TITLE: ClassVar[str] = ""
    HELP: ClassVar[str] = ""
    ROWWISE: ClassVar[bool] = True

    # -- what the user sees --
    def describe(self) -> str:
        return self.TITLE

    def notes(self, before: pd.DataFrame, after: pd.DataFrame) -> list[str]:
        """Facts worth showing in a preview (values that failed to convert …)."""
        return []

    # -- data --
    def reads(self) -> list[str]:
        """Columns the step needs in its input."""
        return list(getattr(self, "columns", []) or [])

    def is_fitted(self) -> bool:
        return True

    def fit(self, frame: pd.DataFrame):
        """A copy checked against ``frame`` and holding what it learned from it."""
        _require(frame, self.reads())
        return self.model_copy(deep=True)

    def call(self) -> tuple[str, dict]:
        """The runtime function and keyword arguments that perform the step."""
        raise NotImplementedError

    def apply(self, frame: pd.DataFrame) -> pd.DataFrame:
        if not self.is_fitted():
            raise InvalidInput(f"step '{self.describe()}' has not been fitted to data yet")
        name, kwargs = self.call()
        try:
            return getattr(runtime, name)(frame, **kwargs)
        except KeyError as exc:
            raise InvalidInput(f"step '{self.describe()}': column {exc} is not in the data") \
                from None
        except runtime.FormulaError as exc:
            raise InvalidInput(f"step '{self.describe()}': {exc}") from None

    # -- column lineage (for replay without the target) --
    def outputs(self, columns: list[str]) -> tuple[list[str], dict[str, set[str]]]:
        """Columns after the step and, for each, the input columns it comes from."""
        return list(columns), {c: {c} for c in columns}

    def restrict(self, present: set[str], needed: set[str]):
        """This step limited to the columns in ``present`` (None when nothing is left).

        ``needed`` is the set of output columns later steps or the features
        need; steps that create columns keep only those.
        """
        cols = [c for c in self.reads() if c in present]
        if not cols:
            return None
        return self._limited(cols)

    def _limited(self, cols: list[str]):
        return self.model_copy(update={"columns": cols}, deep=True)

    # -- JSON --
    @classmethod
    def from_json(cls, data: Any) -> "StepBase":
        """A step of any kind from its JSON (dict or text); raises InvalidInput."""
        step = step_from_json(data)
        if cls is not StepBase and not isinstance(step, cls):
            raise InvalidInput(f"expected a '{cls.model_fields['kind'].default}' step, "
                               f"got '{step.kind}'")
        return step

    def to_json(self) -> dict:
        data = self.model_dump(mode="json")
        return {"kind": data.pop("kind"), **data}


class _ColumnsStep(StepBase):
    columns: list[str] = Field(min_length=1)

    @field_validator("columns")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        value = [str(c) for c in value]
        if len(set(value)) != len(value):
            raise ValueError("a column is listed twice")
        return value


def _only(mapping: dict | None, cols: list[str]) -> dict | None:
    return None if mapping is None else {c: mapping[c] for c in cols if c in mapping}


# --- columns ------------------------------------------------------------------

class DropColumns(_ColumnsStep):
    kind: Literal["drop_columns"] = "drop_columns"
    TITLE: ClassVar[str] = "Drop columns"
    HELP: ClassVar[str] = "Remove columns you do not want (IDs, leaks, free text)."

    def describe(self) -> str:
        return f"Drop {_names(self.columns)}"

    def call(self):
        return "drop_columns", {"columns": self.columns}

    def outputs(self, columns):
        after = [c for c in columns if c not in self.columns]
        return after, {c: {c} for c in after}


class RenameColumns(StepBase):
    kind: Literal["rename_columns"] = "rename_columns"
    mapping: dict[str, str] = Field(min_length=1)
    TITLE: ClassVar[str] = "Rename columns"
    HELP: ClassVar[str] = "Give columns clearer names."

    @field_validator("mapping")
    @classmethod
    def _names_ok(cls, value: dict[str, str]) -> dict[str, str]:
        out = {}
        for old, new in value.items():
            new = str(new).strip()
            if not new:
                raise ValueError(f"the new name for '{old}' is empty")
            if len(new) > MAX_NAME:
                raise ValueError(f"the new name for '{old}' is longer than {MAX_NAME} characters")
            if new != old:
                out[str(old)] = new
        if not out:
            raise ValueError("no column gets a new name")
        if len(set(out.values())) != len(out):
            raise ValueError("two columns would get the same new name")
        return out

    def reads(self):
        return list(self.mapping)

    def describe(self) -> str:
        pairs = [f"{old} → {new}" for old, new in self.mapping.items()]
        return f"Rename {_names(pairs)}"

    def fit(self, frame):
        _require(frame, self.reads())
        after = [self.mapping.get(c, c) for c in frame.columns]
        clash = sorted({c for c in after if after.count(c) > 1})
        if clash:
            raise InvalidInput(f"renaming would give two columns the name '{clash[0]}'")
        return self.model_copy(deep=True)

    def call(self):
        return "rename_columns", {"mapping": self.mapping}

    def outputs(self, columns):
        after = [self.mapping.get(c, c) for c in columns]
        return after, {self.mapping.get(c, c): {c} for c in columns}

    def _limited(self, cols):
        return self.model_copy(update={"mapping": {c: self.mapping[c] for c in cols}}, deep=True)


TYPE_NAMES = {"number": "numbers", "integer": "whole numbers", "boolean": "true/false",
              "text": "text", "datetime": "dates"}


class ChangeType(_ColumnsStep):
    kind: Literal["change_type"] = "change_type"
    to: Literal["number", "integer", "boolean", "text", "datetime"]
    format: str | None = Field(default=None, description="strftime pattern for dates; "
                               "empty = detect")
    dayfirst: bool = False
    formats: dict[str, str] | None = None  # fitted: the date pattern of each column
    TITLE: ClassVar[str] = "Change type"
    HELP: ClassVar[str] = ("Convert columns to numbers, whole numbers, true/false, text or dates; "
                           "values that do not convert become missing (and are counted).")

    def describe(self) -> str:
        return f"Change {_names(self.columns)} to {TYPE_NAMES[self.to]}"

    def is_fitted(self) -> bool:
        return self.to != "datetime" or self.formats is not None

    def fit(self, frame):
        _require(frame, self.columns)
        if self.to in ("number", "integer"):
            bad = [c for c in self.columns if _is_datetime(frame[c])]
            if bad:
                raise InvalidInput(f"{_names(bad)} holds dates; use the date parts step to get "
                                   "numbers from dates")
        formats = None
        if self.to == "datetime":
            bad = [c for c in self.columns if _is_number(frame[c])
                   or pd.api.types.is_bool_dtype(frame[c])]
            if bad:
                raise InvalidInput(f"{_names(bad)} holds numbers, which do not convert to dates")
            formats = {}
            for col in self.columns:
                if not _is_datetime(frame[col]):
                    formats[col] = self.format or guess_date_format(frame[col], self.dayfirst)
        return self.model_copy(update={"formats": formats}, deep=True)

    def call(self):
        return "change_type", {"columns": self.columns, "to": self.to,
                               "formats": self.formats, "dayfirst": self.dayfirst}

    def notes(self, before, after):
        out = []
        for col in self.columns:
            if col not in before or col not in after:
                continue
            failed = before[col].notna() & after[col].isna()
            n = int(failed.sum())
            if n:
                examples = ", ".join(repr(v) for v in pd.unique(before.loc[failed, col])[:3])
                out.append(f"{n:,} value(s) in '{col}' did not convert to "
                           f"{TYPE_NAMES[self.to]} and became missing (e.g. {examples})")
        return out

    def _limited(self, cols):
        return self.model_copy(update={"columns": cols, "formats": _only(self.formats, cols)},
                               deep=True)


# --- missing values -----------------------------------------------------------

class Impute(_ColumnsStep):
    kind: Literal["impute"] = "impute"
    strategy: Literal["mean", "median", "most_frequent", "constant"] = "median"
    value: Any = None                       # the constant, for strategy "constant"
    indicator: bool = False                 # add a true/false "<col>_missing" column
    fill: dict[str, Any] | None = None      # fitted: the value used per column
    indicators: dict[str, str] | None = None  # fitted: indicator column per column
    TITLE: ClassVar[str] = "Fill missing values"
    HELP: ClassVar[str] = ("Replace missing values with the mean, median, most frequent value "
                           "or a constant, learned once when the recipe is applied.")

    def describe(self) -> str:
        how = {"mean": "the mean", "median": "the median", "most_frequent": "the most frequent "
               "value", "constant": f"{self.value!r}"}[self.strategy]
        text = f"Fill missing {_names(self.columns)} with {how}"
        if self.fill:
            text += " (" + ", ".join(f"{c} = {_shown(v)}" for c, v in
                                     list(self.fill.items())[:3]) + ")"
        return text + (", flag them" if self.indicator else "")

    def is_fitted(self) -> bool:
        return self.fill is not None and (not self.indicator or self.indicators is not None)

    def fit(self, frame):
        _require(frame, self.columns)
        if self.strategy in ("mean", "median"):
            _require_numbers(frame, self.columns, f"filling with the {self.strategy}")
        if self.strategy == "constant" and (self.value is None or str(self.value).strip() == ""):
            raise InvalidInput("filling with a constant needs a value")
        fill = {}
        for col in self.columns:
            series = frame[col]
            if self.strategy == "constant":
                fill[col] = _coerce_value(series, self.value, col)
                continue
            if self.strategy == "most_frequent":
                modes = series.mode(dropna=True)
                value = _plain(modes.iloc[0]) if len(modes) else None
            else:
                finite = _finite(series)
                value = None if finite.empty else float(getattr(finite, self.strategy)())
            if value is None:
                what = self.strategy.replace("_", " ")
                raise InvalidInput(f"'{col}' has no values to learn a {what} from; fill it "
                                   "with a constant or drop it")
            fill[col] = value
        indicators = None
        if self.indicator:
            taken: set[str] = set()
            indicators = {c: _new_name(frame.columns, f"{c}_missing", taken) for c in self.columns}
        return self.model_copy(update={"fill": fill, "indicators": indicators}, deep=True)

    def call(self):
        return "impute", {"fill": self.fill, "indicators": self.indicators}

    def notes(self, before, after):
        counts = {c: int(before[c].isna().sum()) for c in self.columns if c in before}
        filled = [f"{c}: {n:,}" for c, n in counts.items() if n]
        return ["missing values filled — " + ", ".join(filled)] if filled else \
            ["no missing values in these columns"]

    def outputs(self, columns):
        after = list(columns) + list((self.indicators or {}).values())
        deps = {c: {c} for c in columns}
        deps.update({name: {c} for c, name in (self.indicators or {}).items()})
        return after, deps

    def restrict(self, present, needed):
        cols = [c for c in self.columns if c in present]
        if not cols:
            return None
        indicators = {c: n for c, n in (self.indicators or {}).items() if c in cols and n in needed}
        return self.model_copy(update={"columns": cols, "fill": _only(self.fill, cols),
                                       "indicators": indicators if self.indicator else None},
                               deep=True)


def _coerce_value(series: pd.Series, value: Any, col: str) -> Any:
    """A user-typed value as the type of ``series`` (for constants and filters)."""
    if value is None:
        return None
    text = str(value).strip()
    try:
        if pd.api.types.is_bool_dtype(series):
            if isinstance(value, bool):
                return value
            low = text.lower()
            if low in runtime.TRUE_WORDS:
                return True
            if low in runtime.FALSE_WORDS:
                return False
            raise ValueError(text)
        if _is_number(series):
            number = float(text) if not isinstance(value, (int, float)) else float(value)
            if not math.isfinite(number):
                raise ValueError(text)
            if pd.api.types.is_integer_dtype(series) and number.is_integer():
                return int(number)
            return number
        if _is_datetime(series):
            return pd.Timestamp(text).isoformat()
    except (ValueError, TypeError, OverflowError):
        kind = ("true or false" if pd.api.types.is_bool_dtype(series) else
                "a date" if _is_datetime(series) else "a number")
        raise InvalidInput(f"'{text[:40]}' is not {kind}, as the values of '{col}' are") from None
    return text if not isinstance(value, str) else value


class DropMissing(StepBase):
    kind: Literal["drop_missing"] = "drop_missing"
    columns: list[str] = Field(default_factory=list)
    how: Literal["any", "all"] = "any"
    ROWWISE: ClassVar[bool] = False
    TITLE: ClassVar[str] = "Drop rows with missing values"
    HELP: ClassVar[str] = "Remove rows missing a value in the chosen columns (or in any column)."

    def describe(self) -> str:
        where = _names(self.columns) if self.columns else "any column"
        word = "every one of" if self.how == "all" and self.columns else "in"
        return f"Drop rows missing a value {word} {where}"

    def call(self):
        return "drop_missing", {"columns": self.columns, "how": self.how}


# --- rows ---------------------------------------------------------------------

OPERATORS = ("==", "!=", "<", "<=", ">", ">=", "in", "not in", "contains", "does not contain",
             "is missing", "is not missing")
NO_VALUE = ("is missing", "is not missing")


class Condition(BaseModel):
    model_config = ConfigDict(extra="forbid")
    column: str
    op: Literal[OPERATORS]  # type: ignore[valid-type]
    value: Any = None

    def describe(self) -> str:
        if self.op in NO_VALUE:
            return f"{self.column} {self.op}"
        value = self.value
        if isinstance(value, list):
            value = "[" + ", ".join(_shown(v) for v in value[:5]) + (", …" if len(value) > 5
                                                                     else "") + "]"
        else:
            value = repr(value) if isinstance(value, str) else _shown(value)
        return f"{self.column} {self.op} {value}"


class FilterRows(StepBase):
    kind: Literal["filter_rows"] = "filter_rows"
    conditions: list[Condition] = Field(min_length=1)
    combine: Literal["all", "any"] = "all"
    keep: bool = True
    ROWWISE: ClassVar[bool] = False
    TITLE: ClassVar[str] = "Filter rows"
    HELP: ClassVar[str] = ("Keep (or remove) the rows that meet conditions on columns. Missing "
                           "values meet no comparison; use 'is missing' for them.")

    def reads(self):
        return list(dict.fromkeys(c.column for c in self.conditions))

    def describe(self) -> str:
        join = " and " if self.combine == "all" else " or "
        text = join.join(c.describe() for c in self.conditions[:3])
        if len(self.conditions) > 3:
            text += f"{join}…"
        return f"{'Keep' if self.keep else 'Remove'} rows where {text}"

    def fit(self, frame):
        _require(frame, self.reads())
        conditions = []
        for cond in self.conditions:
            series = frame[cond.column]
            value = cond.value
            if cond.op in NO_VALUE:
                value = None
            elif cond.op in ("contains", "does not contain"):
                if value is None or str(value) == "":
                    raise InvalidInput(f"'{cond.column} {cond.op}' needs some text to look for")
                value = str(value)
            elif cond.op in ("in", "not in"):
                items = value if isinstance(value, list) else [
                    v.strip() for v in str(value or "").split(",") if v.strip()]
                if not items:
                    raise InvalidInput(f"'{cond.column} {cond.op}' needs at least one value "
                                       "(separate values with commas)")
                value = [_coerce_value(series, v, cond.column) for v in items]
            else:
                if value is None or (isinstance(value, str) and value.strip() == ""
                                     and not pd.api.types.is_string_dtype(series)):
                    raise InvalidInput(f"'{cond.column} {cond.op}' needs a value to compare with")
                value = _coerce_value(series, value, cond.column)
            conditions.append(Condition(column=cond.column, op=cond.op, value=value))
        return self.model_copy(update={"conditions": conditions}, deep=True)

    def call(self):
        return "filter_rows", {"conditions": [c.model_dump(mode="json") for c in self.conditions],
                               "combine": self.combine, "keep": self.keep}


class DropDuplicates(StepBase):
    kind: Literal["drop_duplicates"] = "drop_duplicates"
    columns: list[str] = Field(default_factory=list)
    keep: Literal["first", "last", "none"] = "first"
    ROWWISE: ClassVar[bool] = False
    TITLE: ClassVar[str] = "Drop duplicate rows"
    HELP: ClassVar[str] = "Remove repeated rows, judged on all columns or the ones you choose."

    def describe(self) -> str:
        on = f" (judged on {_names(self.columns)})" if self.columns else ""
        keep = {"first": "keep the first", "last": "keep the last", "none": "keep none"}[self.keep]
        return f"Drop duplicate rows{on}, {keep}"

    def call(self):
        return "drop_duplicates", {"columns": self.columns, "keep": self.keep}


class SampleRows(StepBase):
    kind: Literal["sample_rows"] = "sample_rows"
    n: int | None = Field(default=None, ge=1)
    fraction: float | None = Field(default=None, gt=0, le=1)
    seed: int = 0
    ROWWISE: ClassVar[bool] = False
    TITLE: ClassVar[str] = "Sample rows"
    HELP: ClassVar[str] = "Keep a random subset of rows (the same subset every time)."

    def reads(self):
        return []

    def describe(self) -> str:
        size = f"{self.n:,} rows" if self.n else f"{self.fraction:.0%} of rows"
        return f"Sample {size} (seed {self.seed})"

    def fit(self, frame):
        if self.n is None and self.fraction is None:
            raise InvalidInput("sampling needs a number of rows or a fraction")
        n = self.n if self.n is not None else max(1, round(self.fraction * len(frame)))
        return self.model_copy(update={"n": int(n), "fraction": None}, deep=True)

    def is_fitted(self) -> bool:
        return self.n is not None

    def call(self):
        return "sample_rows", {"n": self.n, "seed": self.seed}


# --- dates --------------------------------------------------------------------

DATE_PART_NAMES = ("year", "quarter", "month", "day", "weekday", "dayofyear", "week", "hour",
                   "minute", "is_weekend")


class DateParts(StepBase):
    kind: Literal["date_parts"] = "date_parts"
    column: str
    parts: list[Literal[DATE_PART_NAMES]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: ["year", "month", "day", "weekday"], min_length=1)
    drop_original: bool = False
    format: str | None = None
    dayfirst: bool = False
    names: dict[str, str] | None = None      # fitted: new column per part
    fitted_format: str | None = None         # fitted: pattern used to read text dates
    TITLE: ClassVar[str] = "Date parts"
    HELP: ClassVar[str] = ("Add year, month, weekday … columns from a date column (text dates "
                           "are read with the pattern detected when the recipe is applied).")

    def reads(self):
        return [self.column]

    def describe(self) -> str:
        text = f"Date parts of {self.column}: {', '.join(self.parts)}"
        return text + (", drop the original" if self.drop_original else "")

    def is_fitted(self) -> bool:
        return self.names is not None

    def fit(self, frame):
        _require(frame, [self.column])
        series = frame[self.column]
        fmt = None
        if not _is_datetime(series):
            if _is_number(series) or pd.api.types.is_bool_dtype(series):
                raise InvalidInput(f"'{self.column}' holds numbers, not dates")
            fmt = self.format or guess_date_format(series, self.dayfirst)
            parsed = runtime.to_datetime(series, fmt, self.dayfirst)
            if series.notna().any() and parsed.notna().sum() == 0:
                raise InvalidInput(f"'{self.column}' does not read as dates (e.g. "
                                   f"{series.dropna().iloc[0]!r:.40})")
        taken: set[str] = set()
        parts = list(dict.fromkeys(self.parts))
        names = {p: _new_name(frame.columns, f"{self.column}_{p}", taken) for p in parts}
        return self.model_copy(update={"names": names, "fitted_format": fmt, "parts": parts},
                               deep=True)

    def call(self):
        return "date_parts", {"column": self.column, "parts": list(self.parts),
                              "names": self.names, "format": self.fitted_format,
                              "dayfirst": self.dayfirst, "drop_original": self.drop_original}

    def notes(self, before, after):
        if self.fitted_format is None or self.column not in before:
            return []
        parsed = runtime.to_datetime(before[self.column], self.fitted_format, self.dayfirst)
        failed = int((before[self.column].notna() & parsed.isna()).sum())
        out = [f"dates read with the pattern {self.fitted_format}"]
        if failed:
            out.append(f"{failed:,} value(s) in '{self.column}' are not dates; their parts are "
                       "missing")
        return out

    def outputs(self, columns):
        after = [c for c in columns if not (self.drop_original and c == self.column)]
        deps = {c: {c} for c in after}
        for name in (self.names or {}).values():
            after.append(name)
            deps[name] = {self.column}
        return after, deps

    def restrict(self, present, needed):
        if self.column not in present:
            return None
        parts = [p for p in self.parts if (self.names or {}).get(p) in needed]
        if not parts:
            if self.drop_original:
                return DropColumns(columns=[self.column])
            return None
        return self.model_copy(update={"parts": parts, "names": {p: self.names[p] for p in parts}},
                               deep=True)


# --- numbers ------------------------------------------------------------------

class ClipOutliers(_ColumnsStep):
    kind: Literal["clip"] = "clip"
    method: Literal["quantile", "std", "values"] = "quantile"
    lower: float | None = 0.01      # quantile (0–1) or, for "values", the bound itself
    upper: float | None = 0.99
    k: float = Field(default=3.0, gt=0)  # standard deviations, for "std"
    bounds: dict[str, list[float | None]] | None = None  # fitted: [low, high] per column
    TITLE: ClassVar[str] = "Clip outliers"
    HELP: ClassVar[str] = ("Limit extreme numbers to bounds learned from the data (quantiles, or "
                           "mean ± k standard deviations) or to values you give.")

    def describe(self) -> str:
        how = {"quantile": f"the {_shown(self.lower)}–{_shown(self.upper)} quantiles",
               "std": f"mean ± {_shown(self.k)} standard deviations",
               "values": f"[{_shown(self.lower)}, {_shown(self.upper)}]"}[self.method]
        return f"Clip {_names(self.columns)} to {how}"

    def is_fitted(self) -> bool:
        return self.bounds is not None

    def fit(self, frame):
        _require_numbers(frame, self.columns, "clipping")
        if self.method == "quantile":
            lo, hi = self.lower, self.upper
            for q in (lo, hi):
                if q is not None and not 0 <= q <= 1:
                    raise InvalidInput("quantiles are between 0 and 1 (e.g. 0.01 and 0.99)")
            if lo is not None and hi is not None and lo >= hi:
                raise InvalidInput("the lower quantile must be below the upper one")
        if self.method == "values" and None not in (self.lower, self.upper) \
                and self.lower > self.upper:
            raise InvalidInput("the lower bound must not be above the upper bound")
        bounds = {}
        for col in self.columns:
            values = _finite(frame[col])
            if values.empty and self.method != "values":
                raise InvalidInput(f"'{col}' has no numbers to learn bounds from")
            if self.method == "quantile":
                low = None if self.lower is None else float(values.quantile(self.lower))
                high = None if self.upper is None else float(values.quantile(self.upper))
            elif self.method == "std":
                mean, std = float(values.mean()), float(values.std(ddof=0))
                low, high = mean - self.k * std, mean + self.k * std
            else:
                low, high = self.lower, self.upper
            bounds[col] = [low, high]
        return self.model_copy(update={"bounds": bounds}, deep=True)

    def call(self):
        return "clip_values", {"bounds": self.bounds}

    def notes(self, before, after):
        out = []
        for col, (low, high) in (self.bounds or {}).items():
            values = before[col].astype("float64")
            n = int((values < low).sum()) if low is not None else 0
            n += int((values > high).sum()) if high is not None else 0
            out.append(f"'{col}' limited to [{_shown(low)}, {_shown(high)}]: {n:,} value(s) "
                       "clipped")
        return out

    def _limited(self, cols):
        return self.model_copy(update={"columns": cols, "bounds": _only(self.bounds, cols)},
                               deep=True)


class Scale(_ColumnsStep):
    kind: Literal["scale"] = "scale"
    method: Literal["standard", "minmax", "log"] = "standard"
    stats: dict[str, list[float]] | None = None  # fitted: [mean, std] or [min, max]
    TITLE: ClassVar[str] = "Scale numbers"
    HELP: ClassVar[str] = ("Standardise ((x − mean) / std), rescale to 0–1, or take log(1 + x) "
                           "(mirrored for negatives); means and ranges are learned once.")

    def describe(self) -> str:
        how = {"standard": "standardise", "minmax": "rescale to 0–1", "log": "log(1 + x)"}
        return f"{how[self.method].capitalize()}: {_names(self.columns)}"

    def is_fitted(self) -> bool:
        return self.method == "log" or self.stats is not None

    def fit(self, frame):
        _require_numbers(frame, self.columns, "scaling")
        if self.method == "log":
            return self.model_copy(update={"stats": None}, deep=True)
        stats = {}
        for col in self.columns:
            values = _finite(frame[col])
            if values.empty:
                raise InvalidInput(f"'{col}' has no numbers to learn a scale from")
            if self.method == "standard":
                std = float(values.std(ddof=0))
                stats[col] = [float(values.mean()), std if std > 0 else 1.0]
            else:
                stats[col] = [float(values.min()), float(values.max())]
        return self.model_copy(update={"stats": stats}, deep=True)

    def call(self):
        if self.method == "log":
            return "log_transform", {"columns": self.columns}
        if self.method == "standard":
            return "standardize", {"stats": self.stats}
        return "min_max_scale", {"ranges": self.stats}

    def _limited(self, cols):
        return self.model_copy(update={"columns": cols, "stats": _only(self.stats, cols)},
                               deep=True)


class Bin(_ColumnsStep):
    kind: Literal["bin"] = "bin"
    method: Literal["uniform", "quantile", "edges"] = "quantile"
    bins: int = Field(default=5, ge=2, le=100)
    edges: list[float] | None = None        # the user's edges, for method "edges"
    labels: Literal["range", "index"] = "range"
    replace: bool = False                   # replace the column instead of adding <col>_bin
    fitted_edges: dict[str, list[float]] | None = None
    fitted_labels: dict[str, list[str]] | None = None
    names: dict[str, str] | None = None
    TITLE: ClassVar[str] = "Bin numbers"
    HELP: ClassVar[str] = ("Group numbers into ranges of equal width, equal counts (quantiles) or "
                           "edges you give; edges are learned once, values beyond them go to the "
                           "end bins.")

    def describe(self) -> str:
        how = {"uniform": f"{self.bins} equal-width bins", "quantile": f"{self.bins} quantile "
               "bins", "edges": "the given edges"}[self.method]
        return f"Bin {_names(self.columns)} into {how}"

    def is_fitted(self) -> bool:
        return self.fitted_edges is not None and self.names is not None

    def fit(self, frame):
        _require_numbers(frame, self.columns, "binning")
        edges_out, labels_out, names = {}, {}, {}
        taken: set[str] = set()
        for col in self.columns:
            values = _finite(frame[col])
            if self.method == "edges":
                edges = sorted({float(e) for e in (self.edges or []) if math.isfinite(float(e))})
                if len(edges) < 2:
                    raise InvalidInput("binning with given edges needs at least two numbers")
            else:
                if values.nunique() < 2:
                    raise InvalidInput(f"'{col}' has fewer than two different numbers; there "
                                       "is nothing to bin")
                if self.method == "uniform":
                    raw = np.linspace(values.min(), values.max(), self.bins + 1)
                else:
                    raw = values.quantile(np.linspace(0, 1, self.bins + 1)).to_numpy()
                edges = sorted({float(e) for e in raw})
            edges_out[col] = edges
            if self.labels == "range":
                labels_out[col] = _bin_labels(edges)
            names[col] = col if self.replace else _new_name(frame.columns, f"{col}_bin", taken)
        return self.model_copy(update={"fitted_edges": edges_out, "names": names,
                                       "fitted_labels": labels_out or None}, deep=True)

    def call(self):
        return "bin_values", {"edges": self.fitted_edges, "names": self.names,
                              "labels": self.fitted_labels}

    def outputs(self, columns):
        after = list(columns)
        deps = {c: {c} for c in columns}
        for col, name in (self.names or {}).items():
            if name not in deps:
                after.append(name)
            deps[name] = {col}
        return after, deps

    def restrict(self, present, needed):
        cols = [c for c in self.columns if c in present
                and (self.replace or (self.names or {}).get(c) in needed)]
        if not cols:
            return None
        return self.model_copy(update={
            "columns": cols, "fitted_edges": _only(self.fitted_edges, cols),
            "fitted_labels": _only(self.fitted_labels, cols), "names": _only(self.names, cols)},
            deep=True)


def _bin_labels(edges: list[float]) -> list[str]:
    n = len(edges) - 1
    labels = []
    for i in range(n):
        low = "-inf" if i == 0 else f"{edges[i]:.4g}"
        high = "inf" if i == n - 1 else f"{edges[i + 1]:.4g}"
        labels.append(f"{i:02d}: [{low}, {high})")
    return labels


# --- categories and text ------------------------------------------------------

class GroupRare(_ColumnsStep):
    kind: Literal["group_rare"] = "group_rare"
    min_fraction: float = Field(default=0.01, ge=0, lt=1)
    min_count: int = Field(default=0, ge=0)
    max_categories: int | None = Field(default=None, ge=1)
    other: str = "Other"
    keep: dict[str, list[str]] | None = None  # fitted: categories kept per column
    TITLE: ClassVar[str] = "Group rare categories"
    HELP: ClassVar[str] = ("Replace categories seen in fewer than a share (or count) of rows by "
                           "one label; the kept categories are learned once, so new categories "
                           "at prediction time become that label too.")

    def describe(self) -> str:
        rule = []
        if self.min_fraction:
            rule.append(f"under {self.min_fraction:.1%} of rows")
        if self.min_count:
            rule.append(f"fewer than {self.min_count} rows")
        if self.max_categories:
            rule.append(f"beyond the top {self.max_categories}")
        return (f"Group rare categories of {_names(self.columns)} "
                f"({' or '.join(rule) or 'none'}) as '{self.other}'")

    def is_fitted(self) -> bool:
        return self.keep is not None

    def fit(self, frame):
        _require(frame, self.columns)
        bad = [c for c in self.columns if _is_number(frame[c]) and frame[c].nunique() > 50
               and pd.api.types.is_float_dtype(frame[c])]
        if bad:
            raise InvalidInput(f"{_names(bad)} holds measurements, not categories")
        keep = {}
        for col in self.columns:
            counts = frame[col].astype("str").value_counts(dropna=True)
            total = max(int(counts.sum()), 1)
            kept = counts[(counts / total >= self.min_fraction) & (counts >= self.min_count)]
            if self.max_categories:
                kept = kept.iloc[: self.max_categories]
            keep[col] = [str(v) for v in kept.index]
        return self.model_copy(update={"keep": keep}, deep=True)

    def call(self):
        return "group_rare", {"keep": self.keep, "other": self.other}

    def notes(self, before, after):
        out = []
        for col, kept in (self.keep or {}).items():
            n = int(before[col].astype("str").nunique())
            out.append(f"'{col}': {len(kept)} of {n} categories kept, the rest become "
                       f"'{self.other}'")
        return out

    def _limited(self, cols):
        return self.model_copy(update={"columns": cols, "keep": _only(self.keep, cols)},
                               deep=True)


class CleanText(_ColumnsStep):
    kind: Literal["clean_text"] = "clean_text"
    trim: bool = True
    lower: bool = False
    collapse_spaces: bool = False
    empty_as_missing: bool = False
    TITLE: ClassVar[str] = "Clean text"
    HELP: ClassVar[str] = ("Trim spaces, lowercase, collapse repeated spaces, empty text → "
                           "missing.")

    def describe(self) -> str:
        what = [w for w, on in (("trim", self.trim), ("lowercase", self.lower),
                                ("collapse spaces", self.collapse_spaces),
                                ("empty → missing", self.empty_as_missing)) if on]
        return f"Clean text of {_names(self.columns)}: {', '.join(what) or 'nothing'}"

    def fit(self, frame):
        _require(frame, self.columns)
        bad = [c for c in self.columns if _is_number(frame[c]) or _is_datetime(frame[c])
               or pd.api.types.is_bool_dtype(frame[c])]
        if bad:
            raise InvalidInput(f"{_names(bad)} does not hold text")
        if not (self.trim or self.lower or self.collapse_spaces or self.empty_as_missing):
            raise InvalidInput("choose at least one cleaning (trim, lowercase …)")
        return self.model_copy(deep=True)

    def call(self):
        return "clean_text", {"columns": self.columns, "trim": self.trim, "lower": self.lower,
                              "collapse_spaces": self.collapse_spaces,
                              "empty_as_missing": self.empty_as_missing}


# --- formulas -----------------------------------------------------------------

class Formula(StepBase):
    kind: Literal["formula"] = "formula"
    column: str = Field(min_length=1, max_length=MAX_NAME)
    expression: str = Field(min_length=1, max_length=runtime.FORMULA_MAX_CHARS)
    TITLE: ClassVar[str] = "Formula column"
    HELP: ClassVar[str] = ("A new (or replaced) column computed from others: numbers, column "
                           "names, + - * / ** %, parentheses and abs, sqrt, log, log1p, log10, "
                           "log2, exp, floor, ceil, round, min, max. Put names with spaces in "
                           "backticks: `Total Charges` / tenure.")

    @field_validator("column")
    @classmethod
    def _strip(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("the new column needs a name")
        return value

    @field_validator("expression")
    @classmethod
    def _allowed(cls, value: str) -> str:
        try:
            runtime.parse_formula(value)
        except runtime.FormulaError as exc:
            raise ValueError(str(exc)) from None
        return value

    def reads(self):
        return check_formula(self.expression).columns

    def describe(self) -> str:
        return f"{self.column} = {self.expression}"

    def fit(self, frame):
        formula = check_formula(self.expression)
        _require(frame, formula.columns)
        bad = [c for c in formula.columns if not (_is_number(frame[c])
                                                  or pd.api.types.is_bool_dtype(frame[c]))]
        if bad:
            raise InvalidInput(f"the formula uses {_names(bad)}, which "
                               f"{'holds' if len(bad) == 1 else 'hold'} {frame[bad[0]].dtype} "
                               "values, not numbers; change the type to number first")
        return self.model_copy(deep=True)

    def call(self):
        return "add_formula", {"column": self.column, "expression": self.expression}

    def notes(self, before, after):
        n = int(after[self.column].isna().sum()) if self.column in after else 0
        return [f"'{self.column}' is missing in {n:,} row(s) (missing inputs, division by zero "
                "or an undefined log/sqrt)"] if n else []

    def outputs(self, columns):
        after = list(columns) + ([self.column] if self.column not in columns else [])
        deps = {c: {c} for c in columns}
        deps[self.column] = set(self.reads())
        return after, deps

    def restrict(self, present, needed):
        if self.column not in needed or not set(self.reads()) <= present:
            return None
        return self.model_copy(deep=True)


# --- the union ----------------------------------------------------------------

Step = Annotated[
    Union[DropColumns, RenameColumns, ChangeType, Impute, DropMissing, FilterRows,
          DropDuplicates, SampleRows, DateParts, ClipOutliers, Scale, Bin, GroupRare, CleanText,
          Formula],
    Field(discriminator="kind"),
]
STEP_TYPES: dict[str, type[StepBase]] = {
    cls.model_fields["kind"].default: cls
    for cls in (DropColumns, RenameColumns, ChangeType, Impute, DropMissing, FilterRows,
                DropDuplicates, SampleRows, DateParts, ClipOutliers, Scale, Bin, GroupRare,
                CleanText, Formula)
}
_ADAPTER = TypeAdapter(Step)


def _validation_message(exc: ValidationError, data: Any) -> str:
    kind = data.get("kind") if isinstance(data, dict) else None
    problems = []
    for err in exc.errors()[:3]:
        where = ".".join(str(p) for p in err["loc"] if p != kind) or "step"
        msg = err["msg"].removeprefix("Value error, ")
        problems.append(f"{where}: {msg}")
    return f"step '{kind or '?'}' is not valid — " + "; ".join(problems)


def step_from_json(data: Any) -> StepBase:
    """One step from its JSON (a dict, a JSON string or a step); raises InvalidInput."""
    if isinstance(data, StepBase):
        return data
    if isinstance(data, (str, bytes)):
        try:
            data = json.loads(data)
        except ValueError:
            raise InvalidInput("a recipe step must be a JSON object") from None
    if not isinstance(data, dict):
        raise InvalidInput("a recipe step must be a JSON object with a 'kind'")
    kind = data.get("kind")
    if kind not in STEP_TYPES:
        raise InvalidInput(f"unknown step kind '{str(kind)[:40]}'; known kinds: "
                           + ", ".join(STEP_TYPES))
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise InvalidInput(_validation_message(exc, data)) from None


def steps_from_json(data: Any) -> list[StepBase]:
    """A recipe (list of steps) from JSON text or a list of dicts."""
    if isinstance(data, (str, bytes)):
        try:
            data = json.loads(data)
        except ValueError:
            raise InvalidInput("the recipe is not valid JSON") from None
    if isinstance(data, dict) and "steps" in data:
        data = data["steps"]
    if not isinstance(data, list):
        raise InvalidInput("a recipe is a JSON list of steps")
    out = []
    for i, item in enumerate(data, 1):
        try:
            out.append(step_from_json(item))
        except InvalidInput as exc:
            raise InvalidInput(f"step {i}: {exc}") from None
    return out


def steps_to_json(steps: list) -> list[dict]:
    """The JSON of a recipe: a list of step dicts (each with its ``kind``)."""
    return [step_from_json(s).to_json() for s in steps]


def to_json(steps: list) -> str:
    return json.dumps(steps_to_json(steps), indent=2, ensure_ascii=False)


def from_json(text: str | bytes | list) -> list[StepBase]:
    return steps_from_json(text)
