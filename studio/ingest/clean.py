"""Cleaning a freshly read frame, reporting every change.

Text columns are cleaned on their *distinct* values (factorize, fix each value
once, map back), so a million-row column of five categories costs almost
nothing. Per text column, in order: control characters removed, surrounding
spaces stripped, missing markers (``NA``, ``?``, blanks …) turned into missing
values and counted, then numbers stored as text (decimal commas, thousands
separators, a few odd cells) and dates in one consistent format converted.
"""
from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from studio.ingest.options import ImportOptions
from studio.ingest.units import PERCENT, UNIT_HINT, parse_units

EXTRA_COLUMN = "__trailing_delimiter__"
SAMPLE_VALUES = 200  # distinct values looked at before a column is checked in full
_KEEP_TEXT = object()  # a column decided to stay text (no further conversion tried)
_CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
_SPACES = re.compile(r"\s+")
_INDEX_NAME = re.compile(r"^(unnamed: ?\d+(\.\d+)?|index|level_0|)$", re.I)
_PLAIN = r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?"
_THOUSANDS_COMMA = r"[-+]?\d{1,3}(,\d{3})+(\.\d+)?"
_DECIMAL_COMMA = r"[-+]?\d+,\d+"
_THOUSANDS_DOT = r"[-+]?\d{1,3}(\.\d{3})+(,\d+)?"
_LEADING_ZERO = r"[-+]?0\d+"
_DATE_HINT = re.compile(
    r"^(\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}|\d{1,2}[ -][A-Za-z]{3,9}[ -]\d{2,4}|"
    r"[A-Za-z]{3,9} \d{1,2},? \d{4})([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?"
    r"( ?(Z|[+-]\d{2}:?\d{2}))?$")
DATE_FORMATS = [
    "ISO8601", "%Y/%m/%d", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%d.%m.%Y",
    "%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%y", "%d/%m/%Y", "%m/%d/%Y",
    "%d/%m/%Y %H:%M:%S", "%m/%d/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%m/%d/%Y %H:%M",
    "%d-%m-%Y", "%m-%d-%Y", "%d/%m/%y", "%m/%d/%y", "%d %b %Y", "%d-%b-%Y", "%d %B %Y",
    "%b %d, %Y", "%B %d, %Y", "%b %d %Y",
]


def clean_header(raw: list[Any]) -> tuple[list[str], list[list[str]]]:
    """Names stripped of spaces and BOMs, blanks named, duplicates made unique visibly.

    Returns (names, mapping) where mapping lists ``[original, cleaned]`` for every
    name that changed.
    """
    names: list[str] = []
    mapping: list[list[str]] = []
    taken: set[str] = set()
    cleaned = []
    for i, original in enumerate(raw):
        text = "" if original is None or (isinstance(original, float) and np.isnan(original)) \
            else str(original)
        name = _SPACES.sub(" ", text.replace("\ufeff", "").replace("\u00a0", " ")).strip()
        cleaned.append((text, name or f"column_{i + 1}"))
    base_counts: dict[str, int] = {}
    for _, name in cleaned:
        base_counts[name] = base_counts.get(name, 0) + 1
    seen: dict[str, int] = {}
    for text, name in cleaned:
        final = name
        if base_counts[name] > 1:
            seen[name] = seen.get(name, 0) + 1
            if seen[name] > 1:
                k = seen[name]
                final = f"{name}_{k}"
                while final in taken or final in base_counts:
                    k += 1
                    final = f"{name}_{k}"
        taken.add(final)
        names.append(final)
        if final != text:
            mapping.append([text, final])
    return names, mapping


def _take(values: Any, codes: np.ndarray, index: pd.Index, name: str,
          kind: str) -> pd.Series:
    """Map per-distinct-value results back onto rows (code -1 = missing)."""
    if kind == "float":
        arr = np.asarray(values, dtype="float64")
        out = np.where(codes >= 0, arr[np.clip(codes, 0, None)] if len(arr) else np.nan, np.nan)
        return pd.Series(out, index=index, name=name)
    if kind == "datetime":
        arr = pd.DatetimeIndex(values)
        taken = arr.take(np.clip(codes, 0, None)) if len(arr) else pd.DatetimeIndex(
            [pd.NaT] * len(codes))
        taken = taken.where(codes >= 0, pd.NaT) if len(arr) else taken
        return pd.Series(taken, index=index, name=name)
    arr = pd.array(values, dtype="str")
    return pd.Series(arr.take(codes, allow_fill=True), index=index, name=name)


def _weighted(mask: np.ndarray, counts: np.ndarray) -> int:
    return int(counts[mask].sum())


def _as_numbers(values: pd.Series, decimal: str) -> tuple[pd.Series, str]:
    """Numbers from text values (already stripped, no markers); NaN where not a number."""
    plain = values.str.fullmatch(_PLAIN).fillna(False).to_numpy(dtype=bool)
    out = pd.Series(np.nan, index=values.index, dtype="float64")
    if plain.any():
        out[plain] = pd.to_numeric(values[plain], errors="coerce").astype("float64")
    special = values.str.fullmatch(r"[-+]?(inf|Inf|INF|infinity|Infinity)").fillna(False)
    if special.any():
        out[special.to_numpy(dtype=bool)] = pd.to_numeric(values[special], errors="coerce")
    rest = ~plain & ~special.to_numpy(dtype=bool)
    if not rest.any():
        return out, "plain"
    text = values[rest]
    has_comma = bool(text.str.contains(",", regex=False).any())
    if not has_comma:
        return out, "plain"
    tc = text.str.fullmatch(_THOUSANDS_COMMA).fillna(False).to_numpy(dtype=bool)
    dc = text.str.fullmatch(_DECIMAL_COMMA).fillna(False).to_numpy(dtype=bool)
    td = text.str.fullmatch(_THOUSANDS_DOT).fillna(False).to_numpy(dtype=bool)
    only_decimal, only_thousands = (dc & ~tc).any(), (tc & ~dc).any()
    if decimal == "," or (only_decimal and not only_thousands):
        # decimal comma: "4,5" → 4.5 and "1.234,5" → 1234.5
        ok = dc | td
        converted = text[ok].str.replace(".", "", regex=False).str.replace(",", ".",
                                                                          regex=False)
        rule = "decimal comma"
    else:
        ok = tc
        converted = text[ok].str.replace(",", "", regex=False)
        rule = "thousands separators"
    if ok.any() and not (only_decimal or only_thousands) and (dc[ok]).all():
        rule += " (ambiguous: every value looks like '1,234'; set the decimal option if wrong)"
    if ok.any():
        idx = text.index[ok]
        out[idx] = pd.to_numeric(converted, errors="coerce").astype("float64").to_numpy()
    return out, rule


def _as_dates(values: pd.Series, opts: ImportOptions, decimal: str
              ) -> tuple[pd.Series | None, str]:
    """Datetimes from text values when one format (or a few) reads every value."""
    sample = values.iloc[:200]
    if not len(sample) or not sample.str.fullmatch(_DATE_HINT).fillna(False).all():
        return None, ""
    dayfirst = opts.dayfirst if opts.dayfirst is not None else decimal == ","
    formats = list(DATE_FORMATS)
    if dayfirst is False:  # US order first when both read every value
        for a, b in (("%d/%m/%Y", "%m/%d/%Y"), ("%d/%m/%y", "%m/%d/%y"),
                     ("%d-%m-%Y", "%m-%d-%Y")):
            i, j = formats.index(a), formats.index(b)
            formats[i], formats[j] = formats[j], formats[i]
    result = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us]")
    used = []
    remaining = values
    for fmt in formats:
        try:
            parsed = pd.to_datetime(remaining, format=fmt, errors="coerce")
        except (ValueError, TypeError):
            continue
        if getattr(parsed.dt, "tz", None) is not None:
            parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
        hit = parsed.notna()
        if hit.any():
            result[remaining.index[hit.to_numpy()]] = parsed[hit].astype("datetime64[us]")
            used.append(fmt)
            remaining = remaining[~hit.to_numpy()]
        if remaining.empty:
            break
    if not remaining.empty or not used:
        return None, ""
    result.attrs["formats"] = used
    shown = ", ".join("ISO 8601" if f == "ISO8601" else f for f in used)
    note = f"dates in format {shown}" if len(used) == 1 else f"dates in several formats ({shown})"
    ambiguous = [f for f in used if f in ("%d/%m/%Y", "%m/%d/%Y", "%d/%m/%y", "%m/%d/%y",
                                          "%d-%m-%Y", "%m-%d-%Y")]
    if ambiguous:
        other = {"%d": "day", "%m": "month"}[ambiguous[0][:2]]
        note += (f"; values like 01/02 were read {other}-first; set dayfirst if that is "
                 "wrong")
    return result, note


class ColumnCleaner:
    """Cleans one text column; records what it did in ``report`` and ``warnings``."""

    def __init__(self, opts: ImportOptions, decimal: str, report: dict, warnings: list[str]):
        self.opts = opts
        self.decimal = decimal
        self.report = report
        self.warnings = warnings
        self.markers = set(opts.missing_markers)
        # Value counts of the text columns, most frequent first: a by-product of cleaning
        # on distinct values that the schema and the profile reuse instead of recounting.
        self.counts: dict[str, pd.Series] = {}

    def _keep_counts(self, name: str, values: pd.Series, counts: np.ndarray) -> None:
        summed = pd.Series(counts, index=pd.Index(values.to_numpy(), dtype="str"))
        if summed.index.has_duplicates:
            summed = summed.groupby(level=0, sort=False).sum()
        self.counts[name] = summed[summed > 0].sort_values(ascending=False, kind="stable")

    def clean(self, name: str, series: pd.Series, keep_text: bool = False) -> pd.Series:
        if series.dtype == object:
            kind = pd.api.types.infer_dtype(series, skipna=True)
            if kind in ("boolean", "empty"):
                return series if kind == "boolean" else series.astype("float64")
            if kind in ("integer", "floating", "mixed-integer-float"):
                return pd.to_numeric(series, errors="coerce")
            if kind in ("datetime", "datetime64", "date"):
                return pd.to_datetime(series, errors="coerce")
            series = series.map(lambda v: v if v is None or isinstance(v, str) or (
                isinstance(v, float) and np.isnan(v)) else str(v)).astype("str")
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        u = pd.Series(pd.array(np.asarray(uniques, dtype=object), dtype="str"))
        counts = np.bincount(codes[codes >= 0], minlength=len(u)).astype("int64")
        changed = False
        ctrl = u.str.contains(_CONTROL, regex=True).fillna(False).to_numpy(dtype=bool)
        if ctrl.any():
            u = u.copy()
            u[ctrl] = u[ctrl].str.replace(_CONTROL, "", regex=True)
            n = _weighted(ctrl, counts)
            self.report.setdefault("control_characters", {})[name] = n
            self.warnings.append(f"column '{name}': control characters (such as NUL or 0x1A) "
                                 f"removed from {n:,} cells")
            changed = True
        stripped = u.str.strip()
        padded = (stripped != u).fillna(False).to_numpy(dtype=bool)
        if padded.any():
            self.report.setdefault("stripped_spaces", {})[name] = _weighted(padded, counts)
            changed = True
        marker = stripped.isin(self.markers).to_numpy(dtype=bool)
        if marker.any():
            per = pd.Series(counts[marker], index=stripped[marker].to_numpy()).groupby(
                level=0).sum()
            self.report.setdefault("missing_markers", {})[name] = {
                str(k): int(v) for k, v in per.items()}
            changed = True
        live = ~marker
        live_cells = _weighted(live, counts)
        values = stripped[live]
        if live_cells == 0:
            return pd.Series(np.nan, index=series.index, name=series.name, dtype="float64")
        if keep_text:
            self.report.setdefault("kept_as_text", {})[name] = (
                "codes with leading zeros or whole numbers too long for a number type; kept "
                "exactly as written")
        else:
            converted = self._units(name, values, counts[live], live_cells, codes, series,
                                    live)
            if converted is None:
                converted = self._numbers(name, values, counts[live], live_cells, codes,
                                          series, live)
            if converted is not None and converted is not _KEEP_TEXT:
                return converted
            if converted is None and self.opts.parse_dates:
                dates, note = _as_dates(values.reset_index(drop=True), self.opts, self.decimal)
                if dates is not None:
                    full = np.full(len(u), np.datetime64("NaT"), dtype="datetime64[us]")
                    full[np.flatnonzero(live)] = dates.to_numpy()
                    self.report.setdefault("conversions", {})[name] = {
                        "to": "datetime", "rule": note, "formats": dates.attrs.get("formats"),
                        "examples": [[str(a), str(b)] for a, b in zip(
                            values.iloc[:3], dates.iloc[:3])]}
                    return _take(full, codes, series.index, series.name, "datetime")
        if not changed:
            self._keep_counts(name, u, counts)
            return series
        self._keep_counts(name, stripped[live], counts[live])
        out_values = stripped.where(pd.Series(live, index=stripped.index))
        return _take(out_values.to_numpy(dtype=object, na_value=None), codes, series.index,
                     series.name, "str")

    def _units(self, name, values, live_counts, live_cells, codes, series, live):
        """Money or percentages (``$1,234.50``, ``(€5)``, ``45%``) as numbers; None when the
        column is not one (decided on a sample of its distinct values first), _KEEP_TEXT
        when it is but stays text (several currencies, too many values that do not read)."""
        sample = values.iloc[:SAMPLE_VALUES].tolist()
        hinted = sum(1 for v in sample if UNIT_HINT.search(v))
        if hinted == 0 or hinted < 0.5 * len(sample):
            return None
        sample_units, _, _, sample_ok = parse_units(values.iloc[:SAMPLE_VALUES])
        if (sample_ok & (sample_units != "")).sum() < 0.5 * len(sample):
            return None  # text that mentions money or percentages ("50% off")
        units, digits, negative, ok = parse_units(values)
        numbers = pd.Series(np.nan, index=values.index, dtype="float64")
        rule = "plain"
        if ok.any():
            read, rule = _as_numbers(digits[ok], self.decimal)
            numbers[ok] = np.where(negative[ok], -read.to_numpy(), read.to_numpy())
        ok = ok & numbers.notna()
        found = [u for u in pd.unique(units[ok]) if u]
        if not found:
            return None
        if len(found) > 1:
            mask = ok.to_numpy(dtype=bool) & (units != "").to_numpy(dtype=bool)
            per = pd.Series(live_counts[mask], index=units[mask].to_numpy()).groupby(
                level=0).sum().sort_values(ascending=False, kind="stable")
            listed = ", ".join(f"{u} ×{int(n):,}" for u, n in per.items())
            self.report.setdefault("mixed_units", {})[name] = sorted(found)
            self.warnings.append(f"column '{name}' mixes currencies or units ({listed}); kept "
                                 "as text, since amounts in different currencies cannot be "
                                 "compared as one number")
            return _KEEP_TEXT
        unit = found[0]
        text = values[ok.to_numpy()]
        parts = ["percent sign, the number as written (45% → 45)" if unit == PERCENT
                 else f"currency {unit}"]
        if rule != "plain":
            parts.append(rule)
        if text.str.contains("(", regex=False).any():
            parts.append("accounting negatives in parentheses")
        if not text.str.contains(r"\d", regex=True).all():
            parts.append("'-' read as zero")
        converted = self._to_numbers(name, values, numbers, ok.to_numpy(dtype=bool),
                                     "; ".join(parts), live_counts, live_cells, codes, series,
                                     live, unit=unit)
        return _KEEP_TEXT if converted is None else converted

    def _numbers(self, name, values, live_counts, live_cells, codes, series, live):
        long = values.str.fullmatch(r"[-+]?\d{19,}").fillna(False)
        if long.any():
            self.report.setdefault("kept_as_text", {})[name] = (
                f"whole numbers too long to keep exactly as numbers, such as "
                f"'{values[long].iloc[0]}' (IDs or codes)")
            return None
        if values.str.fullmatch(_LEADING_ZERO).fillna(False).any():
            example = values[values.str.fullmatch(_LEADING_ZERO).fillna(False)].iloc[0]
            self.report.setdefault("kept_as_text", {})[name] = (
                f"values with leading zeros such as '{example}' (codes, not numbers)")
            return None
        numbers, rule = _as_numbers(values, self.decimal)
        ok = numbers.notna().to_numpy() | values.str.fullmatch(r"[-+]?nan").fillna(
            False).to_numpy(dtype=bool)
        return self._to_numbers(name, values, numbers, ok, rule, live_counts, live_cells,
                                codes, series, live)

    def _to_numbers(self, name, values, numbers, ok, rule, live_counts, live_cells, codes,
                    series, live, unit: str | None = None):
        """The column as numbers when (nearly) every value read as one, else None (text);
        cells that did not read are counted as mixed types."""
        numeric_cells = int(live_counts[ok].sum())
        share = numeric_cells / live_cells
        if share == 0:
            return None
        bad_values = values[~ok]
        examples = [str(v) for v in bad_values.iloc[:5]]
        if share < 1:
            bad_cells = live_cells - numeric_cells
            few = bad_cells <= 0.02 * live_cells and len(bad_values) <= 10
            detail = (f"{share:.1%} numeric; non-numeric examples: "
                      + ", ".join(f"'{e}'" for e in examples))
            self.report.setdefault("mixed_types", {})[name] = {
                "numeric_share": round(share, 4), "examples": examples,
                "converted": bool(few and self.opts.convert_mixed)}
            if not (few and self.opts.convert_mixed):
                self.warnings.append(f"column '{name}' has mixed types ({detail}); kept as text")
                return None
            self.warnings.append(
                f"column '{name}' is {detail}: read as numbers, "
                f"{'that cell is' if bad_cells == 1 else f'those {bad_cells:,} cells are'} "
                "now missing (add them to the missing markers, or set convert_mixed off to "
                "keep the column as text)")
        full = np.full(len(live), np.nan)
        full[np.flatnonzero(live)] = numbers.to_numpy(dtype="float64")
        col = _take(full, codes, series.index, series.name, "float")
        finite = col.dropna()
        if len(finite) == len(col) and np.isfinite(finite).all() and (finite % 1 == 0).all() \
                and finite.abs().max() < 2 ** 53:
            col = col.astype("int64")
        entry = {"to": "number", "rule": rule, "cells": numeric_cells}
        if unit is not None:
            entry["unit"] = unit
        pairs = [(v, n) for v, n in zip(values[ok].iloc[:50], numbers[ok].iloc[:50])]
        interesting = [p for p in pairs if str(p[0]) != _plain_repr(p[1])] or pairs
        entry["examples"] = [[str(v), float(n)] for v, n in interesting[:3]]
        self.report.setdefault("conversions", {})[name] = entry
        if unit is not None:
            self.report.setdefault("units", {})[name] = unit
        elif rule != "plain":
            before_after = ", ".join(f"'{a}' → {b:g}" for a, b in entry["examples"])
            self.warnings.append(f"column '{name}': numbers with {rule} converted "
                                 f"({before_after})")
        return col


def _plain_repr(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def handle_infinities(frame: pd.DataFrame, rule: str, report: dict,
                      warnings: list[str]) -> pd.DataFrame:
    found = {}
    for col in frame.columns:
        s = frame[col]
        if not pd.api.types.is_float_dtype(s):
            continue
        arr = s.to_numpy(dtype="float64", na_value=np.nan)
        inf = np.isinf(arr)
        n = int(inf.sum())
        if not n:
            continue
        found[col] = n
        if rule == "missing":
            frame[col] = s.where(~inf)
        elif rule == "clip":
            finite = arr[np.isfinite(arr)]
            lo, hi = (finite.min(), finite.max()) if len(finite) else (0.0, 0.0)
            frame[col] = np.where(arr == np.inf, hi, np.where(arr == -np.inf, lo, arr))
    if found:
        report["infinities"] = {"rule": rule, "columns": found}
        what = {"missing": "treated as missing", "clip": "clipped to the largest finite value",
                "keep": "kept"}[rule]
        listed = ", ".join(f"'{c}' ({n})" for c, n in list(found.items())[:5])
        warnings.append(f"infinite values {what}: {listed}; the same rule applies when "
                        "predicting")
    return frame


def drop_saved_index(frame: pd.DataFrame, raw_names: list[str], opts: ImportOptions,
                     report: dict, warnings: list[str]) -> pd.DataFrame:
    """A first column left by ``to_csv`` with the index (``Unnamed: 0`` = 0..n-1)."""
    if frame.shape[1] < 2 or not raw_names or not _INDEX_NAME.match(str(raw_names[0]).strip()):
        return frame
    first = frame.iloc[:, 0]
    n = len(first)
    if n == 0 or not pd.api.types.is_integer_dtype(first):
        return frame
    values = first.to_numpy()
    if not (np.array_equal(values, np.arange(n)) or np.array_equal(values, np.arange(1, n + 1))):
        return frame
    name = frame.columns[0]
    shown = f"'{raw_names[0]}'" if str(raw_names[0]).strip() else "with no name"
    if opts.drop_index_column:
        report.setdefault("dropped_columns", []).append(
            {"name": name, "why": "a saved row index (0, 1, 2, …) written by to_csv"})
        warnings.append(f"dropped the first column ({shown}): it is a saved row index "
                        "(0, 1, 2, …), not data; import with drop_index_column off to keep it")
        return frame.iloc[:, 1:]
    warnings.append(f"the first column ({shown}, kept as '{name}') looks like a saved row "
                    "index (0, 1, 2, …); it is marked as an identifier and left out of training")
    return frame


def clean_frame(frame: pd.DataFrame, opts: ImportOptions, *, decimal: str, raw_names: list[str],
                report: dict, warnings: list[str], text_columns: set[str] | None = None,
                counts: dict | None = None) -> pd.DataFrame:
    """All cleaning steps on a frame whose columns already have clean names.

    ``counts``, when given, receives the value counts of the text columns."""
    cleaner = ColumnCleaner(opts, decimal, report, warnings)
    if counts is not None:
        cleaner.counts = counts
    text_columns = text_columns or set()
    for col in list(frame.columns):
        s = frame[col]
        if col != EXTRA_COLUMN and (s.dtype == object or pd.api.types.is_string_dtype(s)):
            cleaned = cleaner.clean(col, s, keep_text=col in text_columns)
            if cleaned is not s:  # assign only what changed: no copy of the whole frame
                frame[col] = cleaned
    if EXTRA_COLUMN in frame.columns:
        extra = frame[EXTRA_COLUMN]
        if extra.isna().all():
            frame = frame.drop(columns=[EXTRA_COLUMN])
        else:
            name = f"column_{frame.shape[1]}"
            frame = frame.rename(columns={EXTRA_COLUMN: name})
            warnings.append(f"some rows have one field more than the header; it was kept as "
                            f"column '{name}'")
    # Unnamed columns holding nothing (e.g. every line ends in a delimiter).
    empty_unnamed = [c for c in frame.columns if re.fullmatch(r"column_\d+", str(c))
                     and frame[c].isna().all() and len(frame)]
    if empty_unnamed and len(empty_unnamed) < frame.shape[1]:
        frame = frame.drop(columns=empty_unnamed)
        report.setdefault("dropped_columns", []).extend(
            {"name": c, "why": "no name and no values (a trailing delimiter)"}
            for c in empty_unnamed)
    frame = handle_infinities(frame, opts.infinities, report, warnings)
    frame = drop_saved_index(frame, raw_names, opts, report, warnings)
    if len(frame) and frame.shape[1]:
        empty_rows = frame.isna().all(axis=1).to_numpy()
        n_empty = int(empty_rows.sum())
        if n_empty:
            frame = frame[~empty_rows]
            report.setdefault("skipped", {})["empty_rows"] = n_empty
            frame = _restore_integers(frame)
    frame = frame.reset_index(drop=True)
    return frame


def _restore_integers(frame: pd.DataFrame) -> pd.DataFrame:
    """Whole-number columns that became float only because of dropped empty rows."""
    for col in frame.columns:
        s = frame[col]
        if pd.api.types.is_float_dtype(s) and len(s) and s.notna().all():
            arr = s.to_numpy()
            if np.isfinite(arr).all() and (arr % 1 == 0).all() and np.abs(arr).max() < 2 ** 53:
                frame[col] = s.astype("int64")
    return frame
