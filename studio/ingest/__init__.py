"""Reading the files users upload into clean, typed frames.

``read_table(path, options)`` recognises the format by content (delimited text
in any common encoding, gzip/bzip2/xz/zip around it, .xlsx, Parquet), parses
it, cleans it (see :mod:`studio.ingest.clean`) and returns a :class:`Table`
with the frame, its schema, a report of everything detected or changed, and
warnings written for a person. A file that cannot be imported raises
:class:`~studio.errors.InvalidInput` naming the problem and what to do.

Every case of ``INPUT_CASES.md`` is handled here; tests in
``tests/test_import_cases.py`` hold one fixture per case.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from studio.errors import InvalidInput
from studio.ingest.clean import clean_frame, clean_header
from studio.ingest.options import DEFAULT_MISSING_MARKERS, ImportOptions
from studio.ingest.readers import (_limit_message, delimiter_name, read_delimited,
                                   read_parquet, read_xlsx, unwrap)
from studio.ingest.sniff import SAMPLE_BYTES, detect_encoding, looks_binary, sniff_dialect
from studio.schema import infer_schema

__all__ = ["Table", "ImportOptions", "DEFAULT_MISSING_MARKERS", "read_table", "max_bytes",
           "preflight", "check_size", "clean_header"]

Progress = Callable[[float, str], None]


@dataclass
class Table:
    frame: pd.DataFrame
    schema: list[dict]
    report: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    counts: dict = field(default_factory=dict, repr=False)  # text columns' value counts


def max_bytes(opts: ImportOptions) -> int:
    if opts.max_upload_mb is not None:
        return int(float(opts.max_upload_mb) * 1_000_000)
    from studio.settings import get_settings

    return int(get_settings().max_upload_mb * 1_000_000)


def check_size(size: int, opts: ImportOptions, what: str = "the file") -> None:
    """Refuse a file over the limit before reading it."""
    limit = max_bytes(opts)
    if size > limit:
        raise InvalidInput(_limit_message(limit, f"{what} ({size / 1e6:,.0f} MB)"))


def preflight(path: Path, opts: ImportOptions) -> int:
    """Checks that need no reading: the file exists, is not empty, is within the limit."""
    try:
        size = path.stat().st_size
    except (FileNotFoundError, NotADirectoryError):
        raise InvalidInput(f"no such file: {path}") from None
    if path.is_dir():
        raise InvalidInput(f"{path} is a folder, not a file")
    check_size(size, opts)
    if size == 0:
        raise InvalidInput("the file is empty (0 bytes)")
    return size


def _note(progress: Progress | None, fraction: float, message: str) -> None:
    if progress:
        progress(fraction, message)


def _text_bytes(data: bytes, opts: ImportOptions, report: dict,
                warnings: list[str]) -> tuple[bytes, str]:
    """UTF-8 bytes of a text file (BOM removed, NULs and a final Ctrl-Z stripped) and a
    decoded sample for sniffing."""
    enc = detect_encoding(data, opts.encoding)
    report["encoding"] = enc.name
    report["encoding_note"] = enc.note
    body = memoryview(data)[enc.bom:]
    if enc.name != "utf-8":
        try:
            text = bytes(body).decode(enc.name)
        except UnicodeDecodeError as exc:
            line = bytes(body[:exc.start]).count(b"\n") + 1
            raise InvalidInput(f"the file is not valid {enc.name} (line {line}); choose another "
                               "encoding (utf-8, cp1252, latin-1, utf-16)") from None
        if enc.note.startswith("not valid UTF-8"):
            warnings.append(f"encoding: {enc.note}")
        data = text.encode("utf-8")
    elif enc.bom:
        data = bytes(body)
    head = data[:SAMPLE_BYTES].decode("utf-8", "ignore")
    if looks_binary(head):
        raise InvalidInput("this file is not a text table: it is mostly binary data (control "
                           "characters). Upload a CSV, .xlsx or Parquet file")
    nul = data.count(b"\x00") if data.find(b"\x00") >= 0 else 0
    if nul:
        data = data.replace(b"\x00", b"")
        report.setdefault("control_characters", {})["(file)"] = nul
        warnings.append(f"removed {nul:,} NUL bytes from the file")
    tail = data[-64:]
    if b"\x1a" in tail:
        cut = len(tail) - len(tail.rstrip(b"\x1a\r\n\t "))
        if b"\x1a" in tail[len(tail) - cut:]:
            warnings.append("removed the end-of-file marker (Ctrl-Z, 0x1A) at the end of the "
                            "file")
            data = data[:len(data) - cut] + b"\n"
    if data[:1].isspace():
        lead = len(data) - len(data.lstrip())
        if data[:lead].count(b"\n"):
            report.setdefault("skipped", {})["leading_blank_lines"] = data[:lead].count(b"\n")
        data = data[lead:]
    if not data[:4096].strip(b" \t\r\n\x0b\x0c") and not data.strip(b" \t\r\n\x0b\x0c"):
        raise InvalidInput("the file is empty (it holds only spaces or blank lines)")
    if b"\n" not in data[:SAMPLE_BYTES] and b"\r" in data[:SAMPLE_BYTES]:
        data = data.replace(b"\r", b"\n")  # old Mac line endings
        report["line_endings"] = "CR (old Mac)"
    if not data.endswith(b"\n"):
        data += b"\n"  # a last line without its newline (or a header alone)
    return data, data[:SAMPLE_BYTES].decode("utf-8", "ignore")


def read_table(path: str | Path, options: Any = None, progress: Progress | None = None,
               data: bytes | None = None, infer: bool = True) -> Table:
    """Read ``path`` into a :class:`Table` (see the module docstring). ``data``: the file's
    bytes when the caller has read them already; ``infer=False`` leaves the schema empty
    for the caller to infer (the import does it while writing Parquet)."""
    started = time.perf_counter()
    opts = ImportOptions.from_any(options)
    path = Path(path)
    size = preflight(path, opts)
    _note(progress, 0.05, "reading the file")
    if data is None:
        data = path.read_bytes()
    report: dict[str, Any] = {"size_bytes": size}
    warnings: list[str] = []
    if opts.changed():
        report["options"] = opts.changed()
    payload = unwrap(data, max_bytes(opts))
    del data
    if payload.layers:
        report["compression"] = payload.layers
    raw_names: list[str]
    text_columns: set[str] = set()
    decimal = opts.decimal or "."
    if payload.kind == "text":
        report["format"] = "delimited text"
        _note(progress, 0.15, "detecting the encoding and the delimiter")
        text, sample = _text_bytes(payload.data, opts, report, warnings)
        payload.data = b""
        dialect = sniff_dialect(sample, opts.delimiter, opts.decimal)
        decimal = dialect.decimal
        report["delimiter"] = dialect.delimiter
        report["delimiter_name"] = delimiter_name(dialect.delimiter)
        report["decimal"] = dialect.decimal
        if dialect.note:
            report["decimal_note"] = dialect.note
        if dialect.trailing_delimiter:
            report["trailing_delimiter"] = True
        _note(progress, 0.3, "parsing (one column)" if dialect.single_column else
              f"parsing ({delimiter_name(dialect.delimiter)}-separated)")
        frame, raw_names, text_columns = read_delimited(text, dialect, opts, report, warnings)
        del text
        if dialect.single_column and frame.shape[1] == 1:
            header = str(raw_names[0]) if raw_names else ""
            hidden = [d for d in (";", ",", "\t", "|") if d in header]
            if hidden:
                warnings.append(f"the file was read as one column although its header contains "
                                f"{delimiter_name(hidden[0])}s; if it has several columns, "
                                "choose the delimiter")
    elif payload.kind == "xlsx":
        report["format"] = "xlsx"
        _note(progress, 0.3, "reading the workbook")
        frame, raw_names = read_xlsx(payload.data, opts, report, warnings)
    else:
        report["format"] = "parquet"
        _note(progress, 0.3, "reading Parquet")
        frame, raw_names = read_parquet(payload.data, report)
    _note(progress, 0.6, "cleaning values")
    counts: dict = {}
    frame = clean_frame(frame, opts, decimal=decimal, raw_names=raw_names, report=report,
                        warnings=warnings, text_columns=text_columns, counts=counts)
    counts = {k: v for k, v in counts.items() if k in frame.columns}
    _finish_warnings(frame, report, warnings)
    schema: list[dict] = []
    if infer:
        _note(progress, 0.7, "inferring column types")
        schema = infer_schema(frame, counts=counts)
    report["rows"], report["cols"] = int(len(frame)), int(frame.shape[1])
    report["seconds"] = round(time.perf_counter() - started, 3)
    return Table(frame, schema, report, warnings, counts)


def _finish_warnings(frame: pd.DataFrame, report: dict, warnings: list[str]) -> None:
    mapping = report.get("header_mapping") or []
    renamed = [m for m in mapping if m[0].strip() and m[0].strip() != m[1]]
    dupes = [m for m in renamed if m[1].rsplit("_", 1)[0] == m[0].strip()]
    if dupes:
        warnings.append("duplicate column names made unique: " + ", ".join(
            f"'{a}' → '{b}'" for a, b in dupes[:5]))
    broken = [m for m in mapping if ("\n" in m[0] or "\r" in m[0]) and m[1] not in
              {b for _, b in dupes}]
    if broken:
        warnings.append("line breaks in column names replaced by spaces: " + ", ".join(
            f"'{b}'" for _, b in broken[:5]))
    stripped = [m for m in mapping if m[0].strip() == m[1] and m[0] != m[1]]
    if stripped:
        warnings.append("spaces removed from column names: " + ", ".join(
            f"'{a}' → '{b}'" for a, b in stripped[:5]))
    units = {c: u for c, u in (report.get("units") or {}).items() if c in frame.columns}
    if units:
        line = "read as numbers: " + ", ".join(f"{c} ({u})" for c, u in units.items())
        if "%" in units.values():
            line += "; percentages keep the number as written (45% → 45, not 0.45)"
        warnings.append(line)
    markers = report.get("missing_markers") or {}
    if markers:
        total: dict[str, int] = {}
        for per in markers.values():
            for k, v in per.items():
                total[k] = total.get(k, 0) + v
        listed = ", ".join(f"'{k}' ×{v:,}" if k else f"blank ×{v:,}" for k, v in
                           sorted(total.items(), key=lambda kv: -kv[1])[:6])
        warnings.append(f"read as missing: {listed}")
    empty_rows = (report.get("skipped") or {}).get("empty_rows")
    if empty_rows:
        warnings.append(f"skipped {empty_rows:,} row{'s' if empty_rows > 1 else ''} with no "
                        "values")
    if len(frame) == 0:
        warnings.append("the file has a header but no rows: the columns are shown, but "
                        "profiling and training need data rows")
    if frame.shape[1] == 1 and len(frame):
        warnings.append("the table has a single column, so there are no features to learn "
                        "from: fine for a list, not for training")

