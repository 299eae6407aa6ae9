"""Recognise what a file holds by its content, never by its name.

- :func:`detect_format`: the magic bytes (zip/xlsx, gzip, Parquet, images …).
- :func:`detect_encoding`: BOMs, the NUL pattern of UTF-16, then UTF-8,
  falling back to cp1252 and Latin-1 (and saying so).
- :func:`sniff_dialect`: the delimiter among ``, ; tab |`` chosen by how
  consistently each splits the first records (quotes respected), and the
  decimal mark.
"""
from __future__ import annotations

import codecs
import csv
import io
import re
from collections import Counter
from dataclasses import dataclass, field

from studio.errors import InvalidInput
from studio.ingest.units import strip_unit

SAMPLE_BYTES = 256 * 1024
CANDIDATES = (",", ";", "\t", "|")
SINGLE_COLUMN = "\x1f"  # the ASCII unit separator: never in a text table, so never splits
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe",
                   SINGLE_COLUMN: "none (one column)"}

# (magic bytes, format, what to tell the user when refused)
_MAGIC = [
    (b"PK\x03\x04", "zip", None),
    (b"PK\x05\x06", "zip", None),  # empty zip
    (b"\x1f\x8b", "gzip", None),
    (b"BZh", "bzip2", None),
    (b"\xfd7zXZ\x00", "xz", None),
    (b"PAR1", "parquet", None),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "xls",
     "an old Excel .xls workbook (or another Office file): open it in Excel or LibreOffice "
     "and save it as .xlsx or CSV, then import that"),
    (b"\x89PNG", "png", "a PNG image, not a text table"),
    (b"\xff\xd8\xff", "jpeg", "a JPEG image, not a text table"),
    (b"GIF8", "gif", "a GIF image, not a text table"),
    (b"%PDF", "pdf", "a PDF document, not a text table: export the table as CSV"),
    (b"7z\xbc\xaf\x27\x1c", "7z", "a 7-Zip archive: extract it and import the CSV inside"),
    (b"Rar!", "rar", "a RAR archive: extract it and import the CSV inside"),
    (b"SQLite format 3\x00", "sqlite", "an SQLite database, not a table file: export a table "
                                       "as CSV"),
    (b"\x7fELF", "elf", "a program, not a text table"),
    (b"MZ", "exe", None),  # checked further below: only refused when it is not text
    (b"ARROW1", "feather", "an Arrow/Feather file: save it as Parquet or CSV"),
]
_BOMS = [
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"),
]


def detect_format(head: bytes) -> str:
    """``zip``, ``gzip``, ``bzip2``, ``xz``, ``parquet`` or ``text``; refuses the rest."""
    for magic, kind, refusal in _MAGIC:
        if head.startswith(magic):
            if kind == "exe":
                break
            if refusal:
                raise InvalidInput(f"this file is {refusal}")
            return kind
    return "text"


@dataclass
class Encoding:
    name: str                 # Python codec name used to decode
    bom: int = 0              # bytes of byte-order mark to skip
    note: str = ""            # why, for the report


def _utf16_without_bom(head: bytes) -> str | None:
    sample = head[:4096]
    if len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    even_nul = even.count(0) / len(even)
    odd_nul = odd.count(0) / len(odd)
    if odd_nul > 0.4 and even_nul < 0.05:
        return "utf-16-le"
    if even_nul > 0.4 and odd_nul < 0.05:
        return "utf-16-be"
    return None


def _first_bad_utf8(data: bytes) -> int | None:
    """Position of the first byte that is not valid UTF-8, or None; chunked (little memory)."""
    if data.isascii():
        return None
    decoder = codecs.getincrementaldecoder("utf-8")()
    step = 8 << 20
    for start in range(0, len(data), step):
        pending = len(decoder.getstate()[0])  # bytes of a split character from the last chunk
        try:
            decoder.decode(data[start:start + step], final=start + step >= len(data))
        except UnicodeDecodeError as exc:
            return max(0, start - pending + exc.start)
    return None


def detect_encoding(data: bytes, forced: str | None = None) -> Encoding:
    for bom, name in _BOMS:
        if data.startswith(bom):
            if forced and codecs.lookup(forced).name not in (codecs.lookup(name).name, "utf-8"):
                return Encoding(forced, 0, "encoding chosen by you")
            base = "utf-8" if name == "utf-8-sig" else name
            label = {"utf-8-sig": "UTF-8 with a byte-order mark (Excel 'CSV UTF-8')",
                     "utf-16-le": "UTF-16 (Excel 'Unicode text')",
                     "utf-16-be": "UTF-16 big-endian",
                     "utf-32-le": "UTF-32", "utf-32-be": "UTF-32 big-endian"}[name]
            return Encoding(base, len(bom), f"{label}, recognised by its byte-order mark")
    if forced:
        return Encoding(forced, 0, "encoding chosen by you")
    utf16 = _utf16_without_bom(data[:4096])
    if utf16:
        return Encoding(utf16, 0, "UTF-16 without a byte-order mark, recognised by its "
                                  "pattern of zero bytes")
    bad = _first_bad_utf8(data)
    if bad is None:
        return Encoding("utf-8", 0, "UTF-8" if not data.isascii() else "UTF-8 (plain ASCII)")
    line = data.count(b"\n", 0, bad) + 1
    where = f"byte 0x{data[bad]:02X} on line {line}"
    try:
        data.decode("cp1252")
        return Encoding("cp1252", 0, f"not valid UTF-8 ({where}); read as Windows-1252 "
                                     "(cp1252). If letters look wrong, choose another encoding")
    except UnicodeDecodeError:
        return Encoding("latin-1", 0, f"not valid UTF-8 ({where}) nor Windows-1252; read as "
                                      "Latin-1. If letters look wrong, choose another encoding")


def looks_binary(text_head: str) -> bool:
    """Mostly control characters (after decoding): not a text table."""
    if not text_head:
        return False
    sample = text_head[:65536]
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\n\r")
    return controls > 8 and controls / len(sample) > 0.10


@dataclass
class Dialect:
    delimiter: str
    decimal: str = "."
    thousands: str | None = None
    has_quotes: bool = False
    header: list[str] = field(default_factory=list)
    trailing_delimiter: bool = False
    consistency: float = 1.0
    note: str = ""
    single_column: bool = False
    leading_zero_columns: list[int] = field(default_factory=list)


def _records(sample: str, delimiter: str, limit: int = 300) -> list[list[str]]:
    reader = csv.reader(io.StringIO(sample), delimiter=delimiter, quotechar='"',
                        doublequote=True, skipinitialspace=False, strict=False)
    out = []
    try:
        for rec in reader:
            if rec and any(cell.strip() for cell in rec):
                out.append(rec)
            if len(out) >= limit:
                break
    except csv.Error:
        pass
    return out


def _field_counts(records: list[list[str]]) -> tuple[list[int], bool]:
    """Field counts per record, not counting the one empty field that a trailing delimiter
    adds (``a,b,c,``): either every line ends with it, or every data line but the header."""
    counts = [len(r) for r in records]
    body = records[1:]
    if not body or not all(len(r) > 1 and r[-1] == "" for r in body):
        return counts, False
    body_mode = Counter(len(r) for r in body).most_common(1)[0][0]
    header = records[0]
    if (len(header) == body_mode and header[-1] == "") or len(header) == body_mode - 1:
        return [len(header) - (header[-1] == "" and len(header) == body_mode)] + [
            len(r) - 1 for r in body], True
    return counts, False


_DEC_COMMA = re.compile(r"^\s*[-+]?\d+,\d+\s*$")
_DEC_COMMA_THOUSANDS = re.compile(r"^\s*[-+]?\d{1,3}(\.\d{3})+(,\d+)?\s*$")
_DEC_DOT = re.compile(r"^\s*[-+]?\d*\.\d+([eE][-+]?\d+)?\s*$")
_LEADING_ZERO = re.compile(r"^[-+]?0\d+$")
_LONG_INTEGER = re.compile(r"^[-+]?\d{19,}$")


def sniff_dialect(sample: str, forced_delimiter: str | None = None,
                  forced_decimal: str | None = None) -> Dialect:
    """Delimiter, decimal mark and header from the first records of ``sample``."""
    # The sample ends at an arbitrary byte: drop its last (maybe partial) line.
    cut = sample.rfind("\n")
    if cut > 0 and len(sample) >= SAMPLE_BYTES // 2:
        sample = sample[:cut]
    has_quotes = '"' in sample
    scored = []
    for delim in ([forced_delimiter] if forced_delimiter else CANDIDATES):
        records = _records(sample, delim)
        if not records:
            continue
        counts, trailing = _field_counts(records)
        header_n = counts[0]
        body = counts[1:] or counts
        mode, hits = Counter(body).most_common(1)[0]
        consistency = hits / len(body)
        scored.append(((header_n == mode and mode > 1, consistency if mode > 1 else 0.0, mode),
                       delim, records, trailing, consistency, mode))
    if not scored:
        raise InvalidInput("the file is empty (only blank lines or spaces)")
    scored.sort(key=lambda s: s[0], reverse=True)
    best = scored[0]
    (_, _, mode), delim, records, trailing, consistency, _ = best
    single = mode <= 1 and not forced_delimiter
    dialect = Dialect(delimiter=delim, has_quotes=has_quotes, header=records[0],
                      trailing_delimiter=trailing, consistency=consistency,
                      single_column=single)
    if trailing and dialect.header and dialect.header[-1] == "":
        dialect.header = dialect.header[:-1]
    if single:
        # One column: split on nothing, so values keep any commas or semicolons they hold.
        dialect.delimiter = SINGLE_COLUMN
        dialect.trailing_delimiter = False
        records = _records(sample, SINGLE_COLUMN)
        dialect.header = records[0][:1]
    body = records[1:]
    _decimal(dialect, body, forced_decimal)
    width = len(dialect.header)
    for j in range(width):
        # Codes with leading zeros, and whole numbers too long for a float, stay text.
        if any(len(r) > j and (_LEADING_ZERO.match(r[j].strip()) or _LONG_INTEGER.match(
                r[j].strip())) for r in body):
            dialect.leading_zero_columns.append(j)
    return dialect


def _decimal(dialect: Dialect, body: list[list[str]], forced: str | None) -> None:
    if forced:
        dialect.decimal = forced
        dialect.thousands = "." if forced == "," else None
        return
    if dialect.delimiter == ",":
        return  # an unquoted decimal comma cannot exist in a comma-separated file
    # Money and percentages count by their digits: "1.234,50 €" is a decimal comma.
    cells = [strip_unit(c) for r in body for c in r]
    comma = sum(1 for c in cells if _DEC_COMMA.match(c) or (
        "," in c and _DEC_COMMA_THOUSANDS.match(c)))
    dot = sum(1 for c in cells if _DEC_DOT.match(c))
    if comma and comma >= 3 * dot:
        dialect.decimal = ","
        dialect.thousands = "." if any(_DEC_COMMA_THOUSANDS.match(c) for c in cells) else None
        dialect.note = (f"decimal comma detected ({comma} cells like "
                        f"'{next(c for c in cells if ',' in c).strip()}')")
