"""Reading an uploaded file again, the way the studio's import read it.

Exported scripts start from the original file. This module (standard library,
numpy and pandas only; copied into scripts like :mod:`studio.recipes.runtime`)
re-reads it with a *plan* built from the root version's import report and
schema (see :func:`studio.recipes.export.source_plan`):

``format``
    ``text``, ``xlsx`` or ``parquet`` (compression layers are opened by content);
``encoding``, ``delimiter``, ``quoted``, ``trailing_delimiter``, ``ragged``
    how the text is decoded and split (rows with the wrong number of fields
    and blank lines are skipped, as the import did; ``ragged`` says it met
    some);
``names``
    every column's cleaned name, in file order (header cleaning);
``columns``
    ``{name: dtype}`` of the columns the import kept, in their order: each
    is cleaned as text (control characters, surrounding spaces, missing
    markers) and converted to that dtype;
``missing_markers``, ``decimal``, ``date_formats``, ``infinities``, ``sheet``.
"""
from __future__ import annotations

import bz2
import csv
import gzip
import io
import lzma
import zipfile

import numpy as np
import pandas as pd

SOURCE_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff", b"\xff\xfe",
               b"\xfe\xff")
SOURCE_CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
SOURCE_PLAIN = r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?"
SOURCE_INFINITY = r"[-+]?(inf|Inf|INF|infinity|Infinity)"
SOURCE_THOUSANDS_COMMA = r"[-+]?\d{1,3}(,\d{3})+(\.\d+)?"
SOURCE_DECIMAL_COMMA = r"[-+]?\d+,\d+"
SOURCE_THOUSANDS_DOT = r"[-+]?\d{1,3}(\.\d{3})+(,\d+)?"
SOURCE_TRUE = ("true", "True", "TRUE")
SOURCE_FALSE = ("false", "False", "FALSE")


def source_unwrap(data):
    """(kind, bytes) after opening gzip / bzip2 / xz / zip layers; kind is text, xlsx
    or parquet."""
    for _depth in range(3):
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        elif data[:3] == b"BZh":
            data = bz2.decompress(data)
        elif data[:6] == b"\xfd7zXZ\x00":
            data = lzma.decompress(data)
        elif data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
            archive = zipfile.ZipFile(io.BytesIO(data))
            names = archive.namelist()
            if "xl/workbook.xml" in names:
                return "xlsx", data
            members = [i for i in archive.infolist() if not i.is_dir()
                       and not i.filename.startswith("__MACOSX/")
                       and not i.filename.rsplit("/", 1)[-1].startswith(".")]
            if len(members) > 1:
                suffixes = (".csv", ".tsv", ".txt", ".dat", ".psv", ".tab", ".xlsx", ".xlsm",
                            ".parquet", ".pq", ".gz")
                members = [i for i in members if i.filename.lower().endswith(suffixes)]
            data = archive.read(members[0])
        elif data[:4] == b"PAR1":
            return "parquet", data
        else:
            return "text", data
    return "text", data


def source_decode(data, encoding):
    """The text of the file: byte-order mark, NUL bytes, a final Ctrl-Z and leading blank
    lines removed."""
    for bom in SOURCE_BOMS:
        if data.startswith(bom):
            data = data[len(bom):]
            break
    text = data.decode(encoding)
    text = text.replace("\x00", "")
    stripped = text.rstrip("\x1a\r\n\t ")
    if len(stripped) != len(text) and "\x1a" in text[len(stripped):]:
        text = stripped + "\n"
    return text.lstrip()


def source_records(text, delimiter, quoted=True):
    """Records of delimited text (RFC 4180 quoting when the file has quotes)."""
    if quoted:
        return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"',
                          doublequote=True, strict=False)
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter,
                      quoting=csv.QUOTE_NONE)


def source_header(text, delimiter, quoted=True):
    """The first non-blank record: the header as written in the file."""
    for record in source_records(text, delimiter, quoted):
        if record and any(cell.strip() for cell in record):
            return record
    return []


def source_table(text, delimiter, names, quoted=True, trailing_delimiter=False,
                 ragged=False):
    """The data records as a frame of text; blank lines and rows with the wrong number of
    fields are skipped, empty fields are missing.

    When the import met no malformed rows (``ragged`` false) pandas' C parser
    reads the records; otherwise they are read one by one so exactly the rows
    the import skipped are skipped.
    """
    if not ragged and not trailing_delimiter:
        frame = pd.read_csv(io.StringIO(text), sep=delimiter, header=0, dtype="str",
                            keep_default_na=False, na_values=[""], skip_blank_lines=True,
                            quoting=csv.QUOTE_MINIMAL if quoted else csv.QUOTE_NONE,
                            engine="c", low_memory=False)
        if frame.shape[1] == len(names):
            frame.columns = list(names)
            return frame
    width = len(names) + (1 if trailing_delimiter else 0)
    records = source_records(text, delimiter, quoted)
    header_seen = False
    rows = []
    for record in records:
        if not header_seen:
            if record and any(cell.strip() for cell in record):
                header_seen = True
            continue
        if not record:
            continue
        if len(record) == width:
            rows.append([value if value != "" else None for value in record])
    columns = list(names) + (["__trailing_delimiter__"] if trailing_delimiter else [])
    frame = pd.DataFrame(rows, columns=columns, dtype=object)
    if trailing_delimiter:
        extra = frame.pop("__trailing_delimiter__")
        if extra.notna().any():
            frame[f"column_{len(columns)}"] = extra
    return frame


def source_clean_text(series, markers):
    """Text with control characters removed, spaces stripped, missing markers → missing."""
    text = series
    if series.dtype == object:
        text = series.map(lambda v: v if v is None or isinstance(v, str) or (
            isinstance(v, float) and np.isnan(v)) else str(v))
    text = text.astype("str")
    text = text.str.replace(SOURCE_CONTROL, "", regex=True).str.strip()
    return text.mask(text.isin(list(markers)))


def source_numbers(text, decimal):
    """Numbers from cleaned text: plain numbers, infinities, then decimal commas or
    thousands separators (as the import decided them)."""
    out = pd.Series(np.nan, index=text.index, dtype="float64")
    present = text.notna().to_numpy(dtype=bool)
    plain = text.str.fullmatch(SOURCE_PLAIN).fillna(False).to_numpy(dtype=bool) & present
    out[plain] = pd.to_numeric(text[plain], errors="coerce").astype("float64").to_numpy()
    special = text.str.fullmatch(SOURCE_INFINITY).fillna(False).to_numpy(dtype=bool) & present
    out[special] = [float(v) for v in text[special]]
    rest = present & ~plain & ~special
    if not rest.any() or not text[rest].str.contains(",", regex=False).any():
        return out
    values = text[rest]
    tc = values.str.fullmatch(SOURCE_THOUSANDS_COMMA).fillna(False).to_numpy(dtype=bool)
    dc = values.str.fullmatch(SOURCE_DECIMAL_COMMA).fillna(False).to_numpy(dtype=bool)
    td = values.str.fullmatch(SOURCE_THOUSANDS_DOT).fillna(False).to_numpy(dtype=bool)
    only_decimal, only_thousands = (dc & ~tc).any(), (tc & ~dc).any()
    if decimal == "," or (only_decimal and not only_thousands):
        ok = dc | td
        converted = values[ok].str.replace(".", "", regex=False).str.replace(",", ".",
                                                                            regex=False)
    else:
        ok = tc
        converted = values[ok].str.replace(",", "", regex=False)
    if ok.any():
        out[values.index[ok]] = pd.to_numeric(converted, errors="coerce").astype(
            "float64").to_numpy()
    return out


def source_unit_numbers(text, unit, decimal):
    """Numbers from money or percentages as the import read them (``report["units"]``):
    the unit removed, ``(5)`` and a leading or trailing sign read as negatives, ``-`` alone
    as zero, spaces between groups of three digits dropped."""
    t = text.str.replace(unit, "", regex=False).str.strip()
    paren = t.str.fullmatch(r"\(.*\)").fillna(False).to_numpy(dtype=bool)
    t = t.str.replace(r"^\((.*)\)$", r"\1", regex=True).str.strip()
    t = t.str.replace("\u2212", "-", regex=False)
    t = t.str.replace(r"^([-+])\s*", r"\1", regex=True)
    t = t.str.replace(r"^(.*\d)\s*-$", r"-\1", regex=True)
    t = t.str.replace(r"(?<=\d)[\s'’](?=\d{3}(?!\d))", "", regex=True)
    t = t.mask(t == "-", "0")
    out = source_numbers(t, decimal)
    return out.where(~paren, -out)


def source_dates(text, formats):
    """Dates from cleaned text, trying each format in turn on the values still unread."""
    result = pd.Series(pd.NaT, index=text.index, dtype="datetime64[us]")
    remaining = text.dropna()
    for fmt in formats:
        if remaining.empty:
            break
        try:
            parsed = pd.to_datetime(remaining, format=fmt, errors="coerce")
        except (ValueError, TypeError):
            continue
        if getattr(parsed.dt, "tz", None) is not None:
            parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
        hit = parsed.notna().to_numpy(dtype=bool)
        if hit.any():
            result[remaining.index[hit]] = parsed[hit].astype("datetime64[us]")
            remaining = remaining[~hit]
    return result


def source_convert(series, dtype, plan, unit=None):
    """One column as the import typed it: ``dtype`` is the dtype it has in the dataset.

    Each distinct value is cleaned and converted once, then mapped back onto
    the rows, so a long column of few values costs little.
    """
    if series.dtype != object and not pd.api.types.is_string_dtype(series):
        return series
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    distinct = source_convert_values(pd.Series(np.asarray(uniques, dtype=object),
                                               dtype=object), dtype, plan, unit)
    values = pd.api.extensions.take(distinct.array, codes, allow_fill=True)
    out = pd.Series(values, index=series.index, name=series.name)
    if dtype.startswith("float") and plan["infinities"] == "clip":
        finite = out[np.isfinite(out)]
        if len(finite):
            out = out.clip(finite.min(), finite.max())
    return out


def source_convert_values(values, dtype, plan, unit=None):
    """Distinct raw values cleaned and converted to ``dtype``'s kind."""
    text = source_clean_text(values, plan["missing_markers"])
    if dtype == "bool":
        return text.map({**{w: True for w in SOURCE_TRUE}, **{w: False for w in SOURCE_FALSE}})
    if dtype.startswith(("float", "int", "uint")):
        numbers = (source_unit_numbers(text, unit, plan["decimal"]) if unit else
                   source_numbers(text, plan["decimal"]))
        if plan["infinities"] == "missing":
            numbers = numbers.where(~np.isinf(numbers))
        return numbers
    if dtype.startswith("datetime64"):
        return source_dates(text, plan["date_formats"])
    return text


def read_source(path, plan):
    """The original file read into the frame its import produced."""
    with open(path, "rb") as fh:
        kind, data = source_unwrap(fh.read())
    if kind == "text":
        text = source_decode(data, plan["encoding"])
        frame = source_table(text, plan["delimiter"], plan["names"], plan["quoted"],
                             plan["trailing_delimiter"], plan.get("ragged", True))
    elif kind == "xlsx":
        raw = pd.read_excel(io.BytesIO(data), sheet_name=plan["sheet"], header=None,
                            dtype=object)
        raw = raw.dropna(how="all").reset_index(drop=True)
        width = len(plan["names"])
        body = raw.iloc[1:, :width].reset_index(drop=True)
        body.columns = list(plan["names"])[: body.shape[1]]
        frame = pd.DataFrame({c: body[c].astype(object).where(body[c].notna(), None)
                              .infer_objects() for c in body.columns})
    else:
        frame = pd.read_parquet(io.BytesIO(data))
        if not isinstance(frame.index, pd.RangeIndex):
            frame = frame.reset_index()
        frame.columns = list(plan["names"])
    columns = plan["columns"]
    units = plan.get("units") or {}
    frame = pd.DataFrame({name: source_convert(frame[name], dtype, plan, units.get(name))
                          for name, dtype in columns.items()}, index=frame.index)
    frame = frame[~frame.isna().all(axis=1).to_numpy()] if frame.shape[1] else frame
    for name, dtype in columns.items():
        if str(frame[name].dtype) != dtype:
            frame[name] = frame[name].astype(dtype)
    return frame.reset_index(drop=True)
