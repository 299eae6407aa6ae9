"""Forms of the Wrangle page: one small form per step kind.

``step_form(kind, columns)`` draws the widgets for a step kind and returns the
step as a dict (JSON, as :mod:`studio.recipes` reads it), or ``None`` while
required fields are empty. ``columns`` maps each column of the data the step
will see to its kind (number, text, date, boolean), so each form offers only
the columns it can work on.
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from studio.recipes import FUNCTIONS, STEP_TYPES

KIND_ORDER = ["drop_columns", "rename_columns", "change_type", "impute", "filter_rows",
              "drop_missing", "drop_duplicates", "date_parts", "clip", "scale", "bin",
              "group_rare", "clean_text", "formula", "sample_rows"]
OPERATOR_LABELS = {
    "==": "equals", "!=": "is not", "<": "is below", "<=": "is at most", ">": "is above",
    ">=": "is at least", "in": "is one of", "not in": "is none of", "contains": "contains",
    "does not contain": "does not contain", "is missing": "is missing",
    "is not missing": "is not missing",
}


def column_kinds(frame: pd.DataFrame) -> dict[str, str]:
    """number, boolean, date or text for each column (from its dtype)."""
    out = {}
    for col in frame.columns:
        s = frame[col]
        if pd.api.types.is_bool_dtype(s):
            out[str(col)] = "boolean"
        elif pd.api.types.is_numeric_dtype(s):
            out[str(col)] = "number"
        elif pd.api.types.is_datetime64_any_dtype(s):
            out[str(col)] = "date"
        else:
            out[str(col)] = "text"
    return out


def kind_label(kind: str) -> str:
    return STEP_TYPES[kind].TITLE


def _key(kind: str, name: str) -> str:
    return f"wr_{kind}_{name}"


def _pick(kind: str, label: str, options: list[str], *, name: str = "columns",
          help: str | None = None) -> list[str]:
    if not options:
        st.caption("No column of the right kind here.")
        return []
    return st.multiselect(label, options, key=_key(kind, name), help=help)


def step_form(kind: str, columns: dict[str, str]) -> dict | None:
    """Widgets for ``kind``; the step dict, or None while it is incomplete."""
    names = list(columns)
    numbers = [c for c, k in columns.items() if k == "number"]
    texts = [c for c, k in columns.items() if k == "text"]
    st.caption(STEP_TYPES[kind].HELP)
    form = _FORMS[kind]
    return form(kind, names, numbers, texts, columns)


def _drop_columns(kind, names, numbers, texts, columns):
    picked = _pick(kind, "Columns to drop", names)
    return {"kind": kind, "columns": picked} if picked else None


def _rename_columns(kind, names, numbers, texts, columns):
    col = st.selectbox("Column", names, index=None, key=_key(kind, "column"),
                       placeholder="Choose a column")
    new = st.text_input("New name", key=_key(kind, "new"), max_chars=255)
    if not col or not new.strip():
        return None
    return {"kind": kind, "mapping": {col: new.strip()}}


def _change_type(kind, names, numbers, texts, columns):
    picked = _pick(kind, "Columns", names)
    to = st.selectbox("New type", ["number", "integer", "boolean", "text", "datetime"],
                      key=_key(kind, "to"),
                      format_func=lambda t: {"number": "number (decimal)", "integer":
                                             "whole number", "boolean": "true / false",
                                             "text": "text", "datetime": "date"}[t])
    step = {"kind": kind, "columns": picked, "to": to}
    if to == "datetime":
        fmt = st.text_input("Date pattern (optional)", key=_key(kind, "format"),
                            placeholder="detected, e.g. %d.%m.%Y",
                            help="A strftime pattern; leave empty to detect it from the data.")
        step["dayfirst"] = st.checkbox("Day before month (01/02 = 1 February)",
                                       key=_key(kind, "dayfirst"))
        if fmt.strip():
            step["format"] = fmt.strip()
    return step if picked else None


def _impute(kind, names, numbers, texts, columns):
    strategy = st.selectbox("Fill with", ["median", "mean", "most_frequent", "constant"],
                            key=_key(kind, "strategy"),
                            format_func=lambda s: s.replace("_", " "))
    options = numbers if strategy in ("mean", "median") else names
    picked = _pick(kind, "Columns", options)
    step = {"kind": kind, "columns": picked, "strategy": strategy,
            "indicator": st.checkbox("Add a true/false column marking the filled rows",
                                     key=_key(kind, "indicator"))}
    if strategy == "constant":
        value = st.text_input("Value", key=_key(kind, "value"))
        if not value.strip():
            return None
        step["value"] = value
    return step if picked else None


def _filter_rows(kind, names, numbers, texts, columns):
    keep = st.radio("Rows that match", ["keep", "remove"], horizontal=True,
                    key=_key(kind, "keep"))
    count = int(st.number_input("Conditions", min_value=1, max_value=5, value=1, step=1,
                                key=_key(kind, "count")))
    conditions = []
    for i in range(count):
        left, middle, right = st.columns([3, 2, 3])
        col = left.selectbox("Column", names, index=None, key=_key(kind, f"col{i}"),
                             placeholder="Choose a column")
        op = middle.selectbox("Operator", list(OPERATOR_LABELS), key=_key(kind, f"op{i}"),
                              format_func=OPERATOR_LABELS.get)
        needs_value = op not in ("is missing", "is not missing")
        value = right.text_input("Value" + (" (comma-separated)" if op in ("in", "not in")
                                            else ""),
                                 key=_key(kind, f"value{i}"), disabled=not needs_value)
        if not col or (needs_value and value == ""):
            return None
        conditions.append({"column": col, "op": op, "value": value if needs_value else None})
    combine = "all"
    if count > 1:
        combine = st.radio("Combine", ["all", "any"], horizontal=True, key=_key(kind, "combine"),
                           format_func=lambda c: "all conditions" if c == "all"
                           else "any condition")
    return {"kind": kind, "conditions": conditions, "combine": combine, "keep": keep == "keep"}


def _drop_missing(kind, names, numbers, texts, columns):
    picked = _pick(kind, "Columns (empty = any column)", names)
    how = st.radio("Drop a row when", ["any", "all"], horizontal=True, key=_key(kind, "how"),
                   format_func=lambda h: "any chosen column is missing" if h == "any"
                   else "all chosen columns are missing")
    return {"kind": kind, "columns": picked, "how": how}


def _drop_duplicates(kind, names, numbers, texts, columns):
    picked = _pick(kind, "Judge on columns (empty = all columns)", names)
    keep = st.radio("Keep", ["first", "last", "none"], horizontal=True, key=_key(kind, "keep"),
                    format_func=lambda k: {"first": "the first copy", "last": "the last copy",
                                           "none": "no copy"}[k])
    return {"kind": kind, "columns": picked, "keep": keep}


def _date_parts(kind, names, numbers, texts, columns):
    dates = [c for c, k in columns.items() if k in ("date", "text")]
    col = st.selectbox("Date column", dates, index=None, key=_key(kind, "column"),
                       placeholder="Choose a column")
    parts = st.multiselect("Parts", ["year", "quarter", "month", "day", "weekday", "dayofyear",
                                     "week", "hour", "minute", "is_weekend"],
                           default=["year", "month", "day", "weekday"], key=_key(kind, "parts"))
    drop = st.checkbox("Drop the original column", key=_key(kind, "drop"))
    if not col or not parts:
        return None
    return {"kind": kind, "column": col, "parts": parts, "drop_original": drop}


def _clip(kind, names, numbers, texts, columns):
    picked = _pick(kind, "Number columns", numbers)
    method = st.selectbox("Bounds from", ["quantile", "std", "values"], key=_key(kind, "method"),
                          format_func=lambda m: {"quantile": "quantiles", "std":
                                                 "mean ± k standard deviations",
                                                 "values": "values I give"}[m])
    step = {"kind": kind, "columns": picked, "method": method}
    if method == "std":
        step["k"] = st.number_input("k", min_value=0.5, max_value=10.0, value=3.0, step=0.5,
                                    key=_key(kind, "k"))
    else:
        left, right = st.columns(2)
        lower_default, upper_default = (0.01, 0.99) if method == "quantile" else (0.0, 100.0)
        step["lower"] = left.number_input("Lower", value=lower_default, key=_key(kind, "lower"),
                                          format="%g")
        step["upper"] = right.number_input("Upper", value=upper_default,
                                           key=_key(kind, "upper"), format="%g")
    return step if picked else None


def _scale(kind, names, numbers, texts, columns):
    picked = _pick(kind, "Number columns", numbers)
    method = st.selectbox("Method", ["standard", "minmax", "log"], key=_key(kind, "method"),
                          format_func=lambda m: {"standard": "standardise (x − mean) / std",
                                                 "minmax": "rescale to 0–1",
                                                 "log": "log(1 + x)"}[m])
    return {"kind": kind, "columns": picked, "method": method} if picked else None


def _bin(kind, names, numbers, texts, columns):
    picked = _pick(kind, "Number columns", numbers)
    method = st.selectbox("Bins", ["quantile", "uniform", "edges"], key=_key(kind, "method"),
                          format_func=lambda m: {"quantile": "equal counts (quantiles)",
                                                 "uniform": "equal width",
                                                 "edges": "edges I give"}[m])
    step = {"kind": kind, "columns": picked, "method": method,
            "labels": st.radio("Label bins by", ["range", "index"], horizontal=True,
                               key=_key(kind, "labels"),
                               format_func=lambda x: "their range" if x == "range"
                               else "their number"),
            "replace": st.checkbox("Replace the column (instead of adding <column>_bin)",
                                   key=_key(kind, "replace"))}
    if method == "edges":
        text = st.text_input("Edges (comma-separated numbers)", key=_key(kind, "edges"),
                             placeholder="0, 18, 65, 120")
        try:
            step["edges"] = [float(v) for v in text.split(",") if v.strip()]
        except ValueError:
            st.warning("Edges must be numbers separated by commas.")
            return None
        if len(step["edges"]) < 2:
            return None
    else:
        step["bins"] = int(st.number_input("Number of bins", min_value=2, max_value=100,
                                           value=5, key=_key(kind, "bins")))
    return step if picked else None


def _group_rare(kind, names, numbers, texts, columns):
    picked = _pick(kind, "Category columns", [c for c, k in columns.items() if k != "date"])
    share = st.number_input("Rare below this share of rows (%)", min_value=0.0,
                            max_value=50.0, value=1.0, step=0.5, key=_key(kind, "share"))
    other = st.text_input("Label for rare categories", value="Other", key=_key(kind, "other"),
                          max_chars=64)
    if not picked or not other.strip():
        return None
    return {"kind": kind, "columns": picked, "min_fraction": share / 100, "other": other}


def _clean_text(kind, names, numbers, texts, columns):
    picked = _pick(kind, "Text columns", texts)
    a, b = st.columns(2)
    step = {"kind": kind, "columns": picked,
            "trim": a.checkbox("Trim spaces", value=True, key=_key(kind, "trim")),
            "lower": a.checkbox("Lowercase", key=_key(kind, "lower")),
            "collapse_spaces": b.checkbox("Collapse repeated spaces", key=_key(kind, "collapse")),
            "empty_as_missing": b.checkbox("Empty text → missing", key=_key(kind, "empty"))}
    return step if picked else None


def _formula(kind, names, numbers, texts, columns):
    column = st.text_input("New column", key=_key(kind, "column"), max_chars=255,
                           placeholder="e.g. price_per_unit")
    expression = st.text_input("Formula", key=_key(kind, "expression"), max_chars=1000,
                               placeholder="e.g. price / quantity")
    st.caption("Functions: " + ", ".join(FUNCTIONS) + ". Put names with spaces in "
               "backticks.")
    with st.expander("Number columns you can use"):
        st.text(", ".join(numbers) or "none")
    if not column.strip() or not expression.strip():
        return None
    return {"kind": kind, "column": column.strip(), "expression": expression}


def _sample_rows(kind, names, numbers, texts, columns):
    how = st.radio("Sample", ["fraction", "n"], horizontal=True, key=_key(kind, "how"),
                   format_func=lambda h: "a share of rows" if h == "fraction"
                   else "a number of rows")
    step = {"kind": kind, "seed": int(st.number_input("Seed", min_value=0, value=0,
                                                      key=_key(kind, "seed")))}
    if how == "fraction":
        step["fraction"] = st.number_input("Share of rows (%)", min_value=0.1, max_value=100.0,
                                           value=10.0, key=_key(kind, "fraction")) / 100
    else:
        step["n"] = int(st.number_input("Rows", min_value=1, value=1000, key=_key(kind, "n")))
    return step


_FORMS = {
    "drop_columns": _drop_columns, "rename_columns": _rename_columns,
    "change_type": _change_type, "impute": _impute, "filter_rows": _filter_rows,
    "drop_missing": _drop_missing, "drop_duplicates": _drop_duplicates,
    "date_parts": _date_parts, "clip": _clip, "scale": _scale, "bin": _bin,
    "group_rare": _group_rare, "clean_text": _clean_text, "formula": _formula,
    "sample_rows": _sample_rows,
}
assert set(_FORMS) == set(KIND_ORDER) == set(STEP_TYPES)
