"""Request bodies → validated columns, checked against the model's training schema.

Accepted bodies (the same for every endpoint):

* JSON: a list of records ``[{"col": value, ...}]``, one record ``{"col": value}``,
  or MLflow's ``{"dataframe_split": {"columns": [...], "data": [[...]]}}``,
  ``{"dataframe_records": [...]}``, ``{"instances": [...]}``, ``{"inputs": ...}``
  (records, rows in schema order, or ``{"col": [values]}``).
* ``text/csv`` with a header row, or without one (SageMaker's format: every field,
  in the schema's order).

Each value is converted by its column's training type: numbers (text numbers
accepted; ``inf`` is treated as missing, the import's rule), booleans, dates,
categories (``1``, ``1.0`` and ``"1"`` are one level). Missing values stay missing
(the pipeline imputes them as in training); unseen categories are left to the
pipeline's encoder. Extra columns are ignored and reported. Every problem found
is reported at once, naming the column (:class:`InputProblem`).
"""
from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Cells that mean "no value" (the import's default markers).
try:  # the import defines them; keep the same list when it is there
    from studio.ingest.options import DEFAULT_MISSING_MARKERS as _MARKERS
except Exception:  # noqa: BLE001
    _MARKERS = ("", "NA", "N/A", "n/a", "na", "#N/A", "NaN", "nan", "NULL", "null", "None",
                "none", "?", "-")
MISSING_MARKERS = frozenset(_MARKERS) | {""}
TRUE_WORDS = frozenset({"true", "yes", "y", "t", "1", "1.0"})
FALSE_WORDS = frozenset({"false", "no", "n", "f", "0", "0.0"})
ENVELOPES = ("dataframe_split", "dataframe_records", "instances", "inputs")


class InputProblem(Exception):
    """The request cannot be used as sent; ``status`` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 422, details: list | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.details = details or []


@dataclass
class Column:
    """How one training column is read: ``kind`` is number, bool, datetime or string."""
    name: str
    kind: str
    dtype: str
    integer: bool = False

    @classmethod
    def from_schema(cls, entry: dict) -> "Column":
        dtype = str(entry.get("dtype") or "").lower()
        semantic = entry.get("semantic") or ""
        if dtype.startswith(("int", "uint", "float")):
            kind = "number"
        elif dtype in ("bool", "boolean"):
            kind = "bool"
        elif dtype.startswith("datetime") or semantic == "datetime":
            kind = "datetime"
        elif semantic == "numeric" and not dtype:
            kind = "number"
        else:
            kind = "string"
        return cls(str(entry["name"]), kind, dtype, dtype.startswith(("int", "uint")))


@dataclass
class Batch:
    """Validated rows: converted columns by name, the rows as received, what was ignored."""
    columns: dict[str, Any]
    records: list[dict]
    n_rows: int
    ignored: list[str] = field(default_factory=list)
    infinities: int = 0
    raw: dict[str, list] = field(default_factory=dict)  # the schema's columns as received


# --- parsing -------------------------------------------------------------------------

def loads_json(body: bytes) -> Any:
    """JSON → Python; ``NaN`` and ``Infinity`` tokens are accepted (they mean missing)."""
    import orjson

    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise InputProblem("the body is not UTF-8 text; send JSON encoded as UTF-8", 400) from None
    except json.JSONDecodeError as exc:
        raise InputProblem(f"the body is not valid JSON: {exc.msg} at line {exc.lineno} "
                           f"column {exc.colno}", 400) from None


def _rows_in_order(rows: list, names: list[str], where: str) -> list[dict]:
    out = []
    for i, row in enumerate(rows):
        if isinstance(row, dict):
            out.append(row)
        elif isinstance(row, list):
            if len(row) != len(names):
                raise InputProblem(
                    f"{where}: row {i} has {len(row)} values but the model takes {len(names)} "
                    f"columns in this order: {', '.join(names)}")
            out.append(dict(zip(names, row)))
        else:
            raise InputProblem(f"{where}: row {i} is {type(row).__name__}; send an object "
                               "{\"column\": value} per row")
    return out


def records_from_json(payload: Any, schema_names: list[str]) -> list[dict]:
    """Any accepted JSON shape → a list of records."""
    if isinstance(payload, list):
        return _rows_in_order(payload, schema_names, "the list")
    if not isinstance(payload, dict):
        raise InputProblem("send a JSON list of records, one record, or an object with "
                           "'dataframe_split', 'dataframe_records', 'instances' or 'inputs'")
    keys = [k for k in ENVELOPES if k in payload]
    if len(keys) > 1:
        raise InputProblem(f"send only one of {', '.join(keys)}")
    if not keys:
        return [payload] if payload else _empty()
    key = keys[0]
    value = payload[key]
    if key == "dataframe_split":
        if not isinstance(value, dict) or not isinstance(value.get("data"), list):
            raise InputProblem("'dataframe_split' needs {\"columns\": [...], \"data\": [[...], ...]}")
        columns = value.get("columns")
        if columns is None:
            columns = schema_names
        if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
            raise InputProblem("'dataframe_split.columns' must be a list of column names")
        rows = value["data"]
        if not all(isinstance(r, list) for r in rows):
            raise InputProblem("'dataframe_split.data' must be a list of rows (lists)")
        return _rows_in_order(rows, columns, "dataframe_split")
    if isinstance(value, dict):  # columnar: {"col": [values]}
        lists = {k: v for k, v in value.items()}
        if not all(isinstance(v, list) for v in lists.values()):
            return [value]  # a single record under 'inputs'/'instances'
        lengths = {len(v) for v in lists.values()}
        if len(lengths) > 1:
            raise InputProblem(f"'{key}': every column needs the same number of values")
        n = lengths.pop() if lengths else 0
        names = list(lists)
        return [{name: lists[name][i] for name in names} for i in range(n)]
    if isinstance(value, list):
        return _rows_in_order(value, schema_names, key)
    raise InputProblem(f"'{key}' must be a list of records")


def _empty() -> list[dict]:
    raise InputProblem("the request holds no rows")


def records_from_csv(body: bytes, schema_names: list[str]) -> list[dict]:
    """CSV with a header row, or without one (every field in the schema's order)."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputProblem("the CSV is not UTF-8 text; save it as UTF-8", 400) from None
    try:
        rows = [r for r in csv.reader(io.StringIO(text, newline="")) if r]
    except csv.Error as exc:
        raise InputProblem(f"the CSV cannot be read: {exc}", 400) from None
    if not rows:
        _empty()
    known = set(schema_names)
    first = [c.strip() for c in rows[0]]
    if any(c in known for c in first):
        header, data = first, rows[1:]
        if len(set(header)) != len(header):
            raise InputProblem("the CSV header names a column twice")
        out = []
        for i, row in enumerate(data, start=2):
            if len(row) != len(header):
                raise InputProblem(f"CSV line {i} has {len(row)} fields; the header has {len(header)}")
            out.append(dict(zip(header, row)))
        return out
    for i, row in enumerate(rows, start=1):
        if len(row) != len(schema_names):
            raise InputProblem(
                f"CSV line {i} has {len(row)} fields; without a header row send exactly "
                f"{len(schema_names)} fields in this order: {', '.join(schema_names)}")
    return [dict(zip(schema_names, row)) for row in rows]


# --- conversion ----------------------------------------------------------------------

_MISSING = object()


def _is_marker(text: str) -> bool:
    return text.strip() in MISSING_MARKERS


def _number(value: Any) -> float:
    """A value as float (NaN when missing or infinite); ValueError when not a number."""
    if value is None:
        return math.nan
    t = type(value)
    if t is float or t is int or t is bool:
        f = float(value)
    elif t is str:
        if _is_marker(value):
            return math.nan
        f = float(value)
    elif isinstance(value, (int, float, np.number)):
        f = float(value)
    else:
        raise ValueError
    return f


def category_text(value: Any) -> Any:
    """One spelling per category (as the training pipeline reads them); None when missing."""
    t = type(value)
    if t is str:
        s = value.strip()
        return None if s in MISSING_MARKERS else s
    if value is None:
        return None
    if t is bool:
        return str(value)
    if t is int:
        return str(value)
    if t is float or isinstance(value, np.floating):
        if not math.isfinite(value):
            return None
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    raise ValueError


def _bool(value: Any) -> Any:
    if value is None:
        return None
    if type(value) is bool:
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value != value:  # NaN
            return None
        if value in (0, 1):
            return bool(value)
        raise ValueError
    if isinstance(value, str):
        s = value.strip()
        if s in MISSING_MARKERS:
            return None
        low = s.lower()
        if low in TRUE_WORDS:
            return True
        if low in FALSE_WORDS:
            return False
    raise ValueError


def _describe(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


class Converter:
    """Validates records against a schema and converts them column by column."""

    def __init__(self, schema: list[dict]):
        # Columns the model does not use (IDs, excluded features) are documented in the
        # schema with used=false: a request may leave them out.
        self.columns = [Column.from_schema(e) for e in schema if e.get("used", True)]
        self.names = [c.name for c in self.columns]
        self._known = set(self.names)

    def convert(self, records: list[dict], max_rows: int | None = None) -> Batch:
        n = len(records)
        if n == 0:
            _empty()
        if max_rows is not None and n > max_rows:
            raise InputProblem(f"the request holds {n} rows; the limit is {max_rows} per request "
                               "(STUDIO_MAX_REQUEST_ROWS); split it or use batch predict", 413)
        seen: set[str] = set()
        for record in records:
            if not isinstance(record, dict):
                raise InputProblem("every row must be an object {\"column\": value}")
            if len(record) != len(seen) or any(k not in seen for k in record):
                seen.update(record.keys())
        raw = {name: [r.get(name) for r in records] for name in self.names if name in seen}
        batch = self.convert_columns(raw, n, sorted(str(k) for k in seen - self._known))
        batch.records = records
        batch.raw = raw
        return batch

    def convert_columns(self, raw: dict[str, Any], n: int, ignored: list[str] | None = None,
                        row_offset: int = 0) -> Batch:
        """Columns of raw values (lists or arrays) → a validated Batch (no records)."""
        details: list[dict] = []
        for name in self.names:
            if name not in raw:
                details.append({"column": name, "problem": "missing",
                                "message": f"column '{name}' is missing"})
        columns: dict[str, Any] = {}
        infinities = 0
        for col in self.columns:
            if col.name not in raw:
                continue
            values = raw[col.name]
            try:
                if col.kind == "number":
                    arr, inf = self._numbers(values)
                    infinities += inf
                    columns[col.name] = arr
                elif col.kind == "bool":
                    columns[col.name] = [_bool(v) for v in values]
                elif col.kind == "datetime":
                    columns[col.name] = self._dates(list(values))
                else:
                    columns[col.name] = [category_text(v) for v in values]
            except (ValueError, TypeError):
                details.append(self._bad_column(col, list(values), row_offset))
        if details:
            raise InputProblem(
                "the input does not fit the model's schema: "
                + "; ".join(d["message"] for d in details), 422, details)
        return Batch(columns, [], n, list(ignored or []), infinities)

    @staticmethod
    def _numbers(values) -> tuple[np.ndarray, int]:
        if isinstance(values, np.ndarray) and values.dtype.kind in "fiub":
            arr = values.astype(np.float64, copy=True)
        else:
            try:
                arr = np.array(values, dtype=np.float64)
                if arr.ndim != 1:
                    raise ValueError
            except (ValueError, TypeError):
                arr = np.array([_number(v) for v in values], dtype=np.float64)
        inf = np.isinf(arr)
        count = int(inf.sum())
        if count:
            arr[inf] = np.nan
        return arr, count

    @staticmethod
    def _dates(values: list):
        import pandas as pd

        texts = [None if v is None or (isinstance(v, str) and _is_marker(v)) else v for v in values]
        for v in texts:
            if v is not None and not isinstance(v, (str, int, float)):
                raise ValueError
        try:
            return pd.to_datetime(pd.Series(texts, dtype=object), errors="raise", format="mixed")
        except (ValueError, TypeError, OverflowError):
            raise ValueError from None

    def _bad_column(self, col: Column, values: list, row_offset: int = 0) -> dict:
        check = {"number": _number, "bool": _bool, "string": category_text,
                 "datetime": lambda v: self._dates([v])}[col.kind]
        rows, examples = [], []
        for i, v in enumerate(values):
            try:
                check(v)
            except (ValueError, TypeError):
                rows.append(i + row_offset)
                if len(examples) < 3:
                    examples.append(_describe(v))
        expected = {"number": "a number", "bool": "true or false", "datetime": "a date",
                    "string": "text or a number"}[col.kind]
        where = f"row {rows[0]}" if len(rows) == 1 else f"{len(rows)} rows (first: {rows[0]})"
        return {"column": col.name, "problem": "wrong type", "expected": expected,
                "rows": rows[:20], "examples": examples,
                "message": f"column '{col.name}' expects {expected}; got "
                           f"{', '.join(examples)} in {where}"}

    # --- the pipeline's input, as in training --------------------------------------

    def frame(self, batch: Batch):
        """A DataFrame with the training dtypes (the pipeline's own input)."""
        import pandas as pd

        data = {}
        for col in self.columns:
            values = batch.columns[col.name]
            if col.kind == "number":
                series = pd.Series(values, dtype="float64")
                if col.integer and not series.isna().any() and (series % 1 == 0).all():
                    series = series.astype(col.dtype if col.dtype.startswith(("int", "uint"))
                                           else "int64")
            elif col.kind == "bool":
                if any(v is None for v in values):
                    series = pd.Series(values, dtype="boolean" if col.dtype == "boolean" else object)
                    if col.dtype != "boolean":
                        series = series.where(series.notna(), np.nan)
                else:
                    series = pd.Series(values, dtype="bool")
            elif col.kind == "datetime":
                series = pd.Series(values).reset_index(drop=True)
            else:
                dtype = "object" if col.dtype in ("object", "category") else "str"
                series = pd.Series(values, dtype=dtype)
                if dtype == "object":
                    series = series.where(series.notna(), np.nan)
            data[col.name] = series
        return pd.DataFrame(data)


def parse_body(body: bytes, content_type: str, converter: Converter,
               max_rows: int | None = None) -> Batch:
    """Raw body → validated Batch (raises InputProblem with the status to answer)."""
    if content_type == "text/csv":
        records = records_from_csv(body, converter.names)
    else:
        records = records_from_json(loads_json(body), converter.names)
    return converter.convert(records, max_rows)
