"""Import options a user can set (all optional; detection fills the rest)."""
from __future__ import annotations

import codecs
from dataclasses import asdict, dataclass, fields
from typing import Any

from studio.errors import InvalidInput

# Cells that mean "no value". Compared after stripping spaces, case-sensitive.
DEFAULT_MISSING_MARKERS = (
    "", "NA", "N/A", "n/a", "na", "#N/A", "#NA", "N.A.", "n.a.", "NaN", "nan", "NAN", "NULL",
    "null", "Null", "None", "none", "?", "-", "--", "#VALUE!", "#DIV/0!", "#REF!", "<NA>",
)
DELIMITERS = {",": ",", ";": ";", "\t": "\t", "|": "|", "tab": "\t", "\\t": "\t",
              "comma": ",", "semicolon": ";", "pipe": "|"}
INFINITY_RULES = ("missing", "clip", "keep")


@dataclass
class ImportOptions:
    encoding: str | None = None          # e.g. "cp1252"; None = detect
    delimiter: str | None = None         # , ; tab |; None = sniff
    decimal: str | None = None           # "." or ","; None = detect
    sheet: str | int | None = None       # workbook sheet (name or 0-based position)
    lenient: bool = False                # skip malformed rows/lines instead of refusing
    missing_markers: tuple[str, ...] = DEFAULT_MISSING_MARKERS
    drop_index_column: bool = True       # drop a saved pandas index (Unnamed: 0 = 0..n-1)
    infinities: str = "missing"          # missing | clip | keep
    parse_dates: bool = True
    convert_mixed: bool = True           # a column of numbers with a few odd cells → numbers
    dayfirst: bool | None = None         # 01/02/2013: None = decide from the data
    max_upload_mb: float | None = None   # None = settings.max_upload_mb
    ragged_limit: float = 0.05           # refuse when more than this share of rows is malformed

    @classmethod
    def from_any(cls, value: Any) -> "ImportOptions":
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if not isinstance(value, dict):
            raise InvalidInput("import options must be a mapping of option names to values")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise InvalidInput(f"unknown import option(s): {', '.join(unknown)}; "
                               f"known: {', '.join(sorted(known))}")
        opts = cls(**{k: v for k, v in value.items() if v is not None})
        return opts.validated()

    def validated(self) -> "ImportOptions":
        if self.encoding:
            try:
                self.encoding = codecs.lookup(self.encoding).name
            except LookupError:
                raise InvalidInput(f"unknown encoding '{self.encoding}': try utf-8, cp1252, "
                                   "latin-1 or utf-16") from None
        if self.delimiter is not None:
            if self.delimiter not in DELIMITERS:
                raise InvalidInput(f"delimiter '{self.delimiter}' is not supported: use one of "
                                   "',' ';' tab '|'")
            self.delimiter = DELIMITERS[self.delimiter]
        if self.decimal not in (None, ".", ","):
            raise InvalidInput("decimal must be '.' or ','")
        if self.infinities not in INFINITY_RULES:
            raise InvalidInput(f"infinities must be one of {', '.join(INFINITY_RULES)}")
        self.missing_markers = tuple(str(m).strip() for m in self.missing_markers)
        if not 0 <= float(self.ragged_limit) <= 1:
            raise InvalidInput("ragged_limit is a share of rows between 0 and 1")
        return self

    def as_dict(self) -> dict:
        out = asdict(self)
        out["missing_markers"] = list(self.missing_markers)
        return out

    def changed(self) -> dict:
        """Only the options that differ from the defaults (for the import report)."""
        default = ImportOptions().as_dict()
        return {k: v for k, v in self.as_dict().items() if default.get(k) != v}

