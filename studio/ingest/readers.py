"""Readers: unwrap containers (gzip, zip, bzip2, xz), then read delimited text
(pyarrow's multi-threaded CSV reader), Excel workbooks (openpyxl) or Parquet.

Readers return a frame whose columns carry clean names, and fill the report;
cleaning of values happens afterwards in :mod:`studio.ingest.clean`.
"""
from __future__ import annotations

import bz2
import gzip
import io
import lzma
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import pandas as pd

from studio.errors import InvalidInput
from studio.ingest.clean import EXTRA_COLUMN, clean_header
from studio.ingest.options import ImportOptions
from studio.ingest.sniff import DELIMITER_NAMES, Dialect, detect_format

SNIFF = 1 << 16
DATA_SUFFIXES = (".csv", ".tsv", ".txt", ".dat", ".psv", ".tab", ".xlsx", ".xlsm", ".parquet",
                 ".pq", ".gz")


@dataclass
class Payload:
    """The bytes of the table inside whatever wrapped it."""
    kind: str                      # text, xlsx, parquet
    data: bytes
    layers: list[str] = field(default_factory=list)   # e.g. ["zip: sales.csv", "gzip"]


def _mb(n: float) -> str:
    return f"{n / 1e6:,.0f} MB" if n >= 1e6 else f"{n / 1e3:,.1f} kB"


def _limit_message(limit_bytes: int, what: str) -> str:
    mb = limit_bytes / 1e6
    return (f"{what} is over the import limit of {mb:,.0f} MB; raise it by setting the "
            f"environment variable STUDIO_MAX_UPLOAD_MB (for example STUDIO_MAX_UPLOAD_MB="
            f"{int(mb * 2)}) and restarting Studio")


def _decompress(stream, limit: int, what: str) -> bytes:
    out = bytearray()
    try:
        while chunk := stream.read(1 << 20):
            out += chunk
            if len(out) > limit:
                raise InvalidInput(_limit_message(limit, f"the {what} file uncompressed"))
    except (OSError, EOFError, lzma.LZMAError, zipfile.BadZipFile) as exc:
        raise InvalidInput(f"the {what} file is damaged or incomplete ({exc}); compress it "
                           "again or import the uncompressed file") from None
    return bytes(out)


def unwrap(data: bytes, limit: int, depth: int = 0) -> Payload:
    """Open compression and archives (by content) until a table format is reached."""
    kind = detect_format(data[:64])
    if kind == "text" or kind == "parquet":
        return Payload(kind, data)
    if depth >= 2:
        raise InvalidInput("the file is compressed more than twice over; extract it and import "
                           "the table inside")
    if kind in ("gzip", "bzip2", "xz"):
        opener = {"gzip": gzip.GzipFile, "bzip2": bz2.BZ2File, "xz": lzma.LZMAFile}[kind]
        inner = _decompress(opener(fileobj=io.BytesIO(data)), limit, kind)
        payload = unwrap(inner, limit, depth + 1)
        payload.layers.insert(0, kind)
        return payload
    # zip: an Excel workbook, or an archive holding one table
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise InvalidInput("the file starts like a zip archive (or .xlsx workbook) but is "
                           "damaged; save it again and re-import") from None
    names = archive.namelist()
    if "xl/workbook.xml" in names:
        total = sum(i.file_size for i in archive.infolist())
        if total > limit * 4:
            raise InvalidInput(_limit_message(limit, "the workbook uncompressed"))
        return Payload("xlsx", data, [])
    if "word/document.xml" in names or "ppt/presentation.xml" in names:
        raise InvalidInput("this file is a Word or PowerPoint document, not a table: export "
                           "the table as CSV or .xlsx")
    members = [i for i in archive.infolist() if not i.is_dir()
               and not i.filename.startswith("__MACOSX/")
               and not PurePosixPath(i.filename).name.startswith(".")]
    if not members:
        raise InvalidInput("the zip archive holds no files")
    if len(members) > 1:
        tables = [i for i in members if PurePosixPath(i.filename).suffix.lower() in DATA_SUFFIXES]
        if len(tables) != 1:
            listed = ", ".join(i.filename for i in members[:5]) + (" …" if len(members) > 5
                                                                    else "")
            raise InvalidInput(f"the zip archive holds {len(members)} files ({listed}); put "
                               "exactly one table in it, or extract and import them one by one")
        members = tables
    info = members[0]
    if info.flag_bits & 0x1:
        raise InvalidInput("the zip archive is password-protected; extract it first")
    if info.file_size > limit:
        raise InvalidInput(_limit_message(limit, f"'{info.filename}' inside the zip archive"))
    with archive.open(info) as fh:
        inner = _decompress(fh, limit, "zip")
    payload = unwrap(inner, limit, depth + 1)
    payload.layers.insert(0, f"zip: {info.filename}")
    return payload


# --- delimited text ----------------------------------------------------------

_COLUMN_ERROR = re.compile(r"column #(\d+): CSV conversion error to (\w+): invalid value '(.*)'",
                           re.S)


@dataclass
class _Bad:
    expected: int
    actual: int
    text: str


def _line_of(data: bytes, text: str, start: int = 0) -> tuple[int | None, int]:
    needle = text[:200].encode("utf-8", "replace")
    pos = data.find(needle, start)
    if pos < 0:
        return None, start
    return data.count(b"\n", 0, pos) + 1, pos + 1


def _header_end(data: bytes) -> int:
    """Offset just past the header record when a quoted name holds a line break
    (``"first\nname",age``): the parser's ``skip_rows`` counts lines, not records."""
    pos, inside = 0, False
    while True:
        newline = data.find(b"\n", pos)
        if newline < 0:
            return len(data)
        inside ^= data.count(b'"', pos, newline) % 2 == 1
        if not inside:
            return newline + 1
        pos = newline + 1


def _arrow_read(data: bytes, names: list[str], dialect: Dialect, column_types: dict,
                quoted: bool, body_start: int = 0):
    import pyarrow as pa
    from pyarrow import csv as pacsv

    bad: list[_Bad] = []

    def on_invalid(row) -> str:
        bad.append(_Bad(row.expected_columns, row.actual_columns, row.text))
        return "skip"

    if body_start and not data[body_start:].strip():
        # A header alone: no rows (as an empty body reads when skip_rows does the skipping).
        return pa.table({name: pa.nulls(0) for name in names}), bad
    buffer = pa.py_buffer(data)
    if body_start:
        buffer = buffer.slice(body_start)  # no copy
    table = pacsv.read_csv(
        buffer,
        read_options=pacsv.ReadOptions(column_names=names, skip_rows=0 if body_start else 1,
                                       use_threads=True,
                                       block_size=8 << 20),
        parse_options=pacsv.ParseOptions(
            delimiter=dialect.delimiter, quote_char='"' if quoted else False, double_quote=True,
            newlines_in_values=quoted, ignore_empty_lines=True, invalid_row_handler=on_invalid),
        convert_options=pacsv.ConvertOptions(
            null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=True,
            decimal_point=dialect.decimal, column_types=column_types,
            true_values=["true", "True", "TRUE"], false_values=["false", "False", "FALSE"]),
    )
    return table, bad


def _to_frame(table) -> pd.DataFrame:
    import pyarrow as pa

    # Columns with no values at all arrive as the null type; read them as empty numbers.
    for i, f in enumerate(table.schema):
        if pa.types.is_null(f.type):
            table = table.set_column(i, f.name, pa.nulls(table.num_rows, pa.float64()))
        elif pa.types.is_date(f.type):
            table = table.set_column(i, f.name, table.column(i).cast(pa.timestamp("s")))
    frame = table.to_pandas(split_blocks=True, self_destruct=True)
    return frame


def read_delimited(data: bytes, dialect: Dialect, opts: ImportOptions, report: dict,
                   warnings: list[str]) -> tuple[pd.DataFrame, list[str], set[str]]:
    """Parse UTF-8 bytes; returns (frame, raw header names, columns to keep as text)."""
    raw = list(dialect.header)
    names, mapping = clean_header(raw)
    if mapping:
        report["header_mapping"] = mapping
    if dialect.trailing_delimiter:
        names = names + [EXTRA_COLUMN]
    text_columns = {names[j] for j in dialect.leading_zero_columns if j < len(raw)}
    # Quotes in the rows make the parser track quoted fields and newlines in values, which
    # is slower: a header quoted by the writer (pyarrow and R quote every name) does not
    # count, unless it holds a newline itself (an odd number of quotes on its first line).
    first_newline = data.find(b"\n")
    quoted = data.find(b'"', first_newline + 1) >= 0 if first_newline >= 0 else \
        data.find(b'"') >= 0
    body_start = 0
    if data[:max(first_newline, 0)].count(b'"') % 2:
        # The header's first line leaves a quote open: a name holds a line break.
        quoted = True
        body_start = _header_end(data)
    column_types: dict = {}
    import pyarrow as pa

    for name in text_columns:
        column_types[name] = pa.string()
    removed_lines: list[dict] = []
    for _attempt in range(60):
        try:
            table, bad = _arrow_read(data, names, dialect, column_types, quoted,
                                     body_start)
        except pa.ArrowInvalid as exc:
            message = str(exc)
            hit = _COLUMN_ERROR.search(message)
            if hit and int(hit.group(1)) < len(names):
                # Types are guessed from the first block; a later odd value needs a retry.
                name = names[int(hit.group(1))]
                value = hit.group(3)
                try:
                    float(value.replace(",", "."))
                    column_types[name] = pa.float64() if hit.group(2) == "int64" else pa.string()
                except ValueError:
                    column_types[name] = pa.string()
                continue
            raise InvalidInput(f"could not read the file as a table: {_short(message)}") from None
        total = table.num_rows + len(bad)
        multiline = [b for b in bad if "\n" in b.text and quoted]
        if multiline:
            line, _ = _line_of(data, multiline[0].text)
            where = f"line {line}" if line else "a row"
            if not opts.lenient:
                raise InvalidInput(
                    f"{where}: a quote (\") opens a field that never closes, so the rest of "
                    f"the file runs together; fix the quote in that line, or import in lenient "
                    f"mode, which skips that line and reports it")
            if line is None:
                raise InvalidInput(f"{where}: unbalanced quote that lenient mode cannot "
                                   "isolate; fix the quote and import again")
            data, dropped = _drop_line(data, line)
            removed_lines.append({"line": line, "text": dropped[:200]})
            continue
        break
    else:
        raise InvalidInput("too many malformed lines to repair; fix the file and import again")
    if removed_lines:
        report.setdefault("skipped", {})["unbalanced_quote_lines"] = removed_lines
        warnings.append("lenient mode skipped " + ", ".join(
            f"line {r['line']}" for r in removed_lines[:10]) + " (unbalanced quote)")
    blank = _blank_lines(data, table.num_rows + len(bad), quoted)
    if blank:
        report.setdefault("skipped", {})["blank_lines"] = blank
        warnings.append(f"skipped {blank:,} blank line{'s' if blank > 1 else ''}")
    if bad:
        _report_ragged(data, bad, total, len(names) - (1 if dialect.trailing_delimiter else 0),
                       opts, report, warnings)
    frame = _to_frame(table)
    return frame, raw, text_columns


def _blank_lines(data: bytes, records: int, quoted: bool) -> int:
    """Empty lines the parser skipped between rows (not counting those at the very end)."""
    newline = b"\n" if b"\n" in data[:SNIFF] or b"\r" not in data[:SNIFF] else b"\r"
    tail = data[-4096:]
    trailing = tail[len(tail.rstrip()):].count(newline)
    if not quoted:
        # Every line is a record, the header, or a blank line: count instead of scanning.
        lines = data.count(newline) + (0 if data.endswith(newline) else 1)
        return max(0, lines - (trailing - 1 if trailing else 0) - 1 - records)
    if data.find(newline + newline) < 0 and data.find(b"\n\r\n") < 0:
        return 0
    body = data[:len(data) - len(tail) + len(tail.rstrip())]
    return sum(m.count(newline) - 1 for m in re.findall(rb"\n(?:[ \t\r]*\n)+", body))


def _short(message: str) -> str:
    message = message.replace("\n", " ")
    return message[:300] + ("…" if len(message) > 300 else "")


def _drop_line(data: bytes, line: int) -> tuple[bytes, str]:
    start = 0
    for _ in range(line - 1):
        start = data.index(b"\n", start) + 1
    end = data.find(b"\n", start)
    end = len(data) if end < 0 else end + 1
    return data[:start] + data[end:], data[start:end].decode("utf-8", "replace").rstrip()


def _report_ragged(data: bytes, bad: list[_Bad], total: int, width: int, opts: ImportOptions,
                   report: dict, warnings: list[str]) -> None:
    examples = []
    pos = 0
    for b in bad[:3]:
        line, pos = _line_of(data, b.text, pos)
        examples.append({"line": line, "fields": b.actual, "expected": b.expected,
                         "text": b.text[:120]})
    many = sum(1 for b in bad if b.actual > b.expected)
    few = len(bad) - many
    shown = "; ".join(f"line {e['line']}: {e['fields']} fields" for e in examples)
    share = len(bad) / max(total, 1)
    summary = (f"{len(bad):,} of {total:,} rows have the wrong number of fields "
               f"(expected {width}; {many:,} too many, {few:,} too few), e.g. {shown}")
    if share > opts.ragged_limit and not opts.lenient:
        raise InvalidInput(f"{summary}. That is {share:.0%} of the rows, too many to skip "
                           "safely: check the delimiter or the quoting, or import in lenient "
                           "mode to skip them")
    report.setdefault("skipped", {})["ragged_rows"] = len(bad)
    report["ragged_examples"] = examples
    warnings.append(f"skipped {summary}")


# --- Excel and Parquet ----------------------------------------------------------

def read_xlsx(data: bytes, opts: ImportOptions, report: dict, warnings: list[str]
              ) -> tuple[pd.DataFrame, list[str]]:
    import openpyxl

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for broken files
        raise InvalidInput(f"the Excel workbook could not be opened ({type(exc).__name__}: "
                           f"{_short(str(exc))}); save it again from Excel") from None
    try:
        sheets = book.sheetnames
        if opts.sheet is None:
            sheet = sheets[0]
        elif isinstance(opts.sheet, int) or str(opts.sheet).isdigit():
            k = int(opts.sheet)
            if not 0 <= k < len(sheets):
                raise InvalidInput(f"the workbook has {len(sheets)} sheets; sheet {k} does not "
                                   "exist (0 is the first)")
            sheet = sheets[k]
        elif opts.sheet in sheets:
            sheet = opts.sheet
        else:
            raise InvalidInput(f"no sheet named '{opts.sheet}'; the sheets are: "
                               + ", ".join(sheets))
        rows = list(book[sheet].iter_rows(values_only=True))
    finally:
        book.close()
    report["sheet"] = sheet
    report["sheets"] = sheets
    if len(sheets) > 1:
        warnings.append(f"the workbook has {len(sheets)} sheets; imported '{sheet}' (choose "
                        "another with the sheet option)")
    rows = [r for r in rows if r is not None and any(v is not None and str(v).strip() != ""
                                                     for v in r)]
    if not rows:
        raise InvalidInput(f"sheet '{sheet}' is empty")
    width = max(len(r) for r in rows)
    while width > 1 and all(len(r) < width or r[width - 1] is None for r in rows):
        width -= 1
    header = [rows[0][j] if j < len(rows[0]) else None for j in range(width)]
    names, mapping = clean_header(header)
    if mapping:
        report["header_mapping"] = mapping
    body = [list(r[:width]) + [None] * (width - len(r)) for r in rows[1:]]
    columns = {}
    for j, name in enumerate(names):
        values = pd.Series([r[j] for r in body], dtype=object)
        inferred = values.infer_objects()
        columns[name] = inferred if inferred.dtype != object else values
    frame = pd.DataFrame(columns)
    return frame, ["" if h is None else str(h) for h in header]


def read_parquet(data: bytes, report: dict) -> tuple[pd.DataFrame, list[str]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several kinds for broken files
        raise InvalidInput(f"the Parquet file could not be read ({_short(str(exc))})") from None
    frame = table.to_pandas()
    if not isinstance(frame.index, pd.RangeIndex):
        frame = frame.reset_index()
    raw = [str(c) for c in frame.columns]
    names, mapping = clean_header(raw)
    if mapping:
        report["header_mapping"] = mapping
    frame.columns = names
    return frame, raw


def delimiter_name(delim: str) -> str:
    return DELIMITER_NAMES.get(delim, repr(delim))


__all__ = ["Payload", "unwrap", "read_delimited", "read_xlsx", "read_parquet", "delimiter_name"]
