"""Export a dataset version as a standalone Python script (pandas and numpy only).

The script starts from the original uploaded file, reads it the way the import
did (the plan comes from the root version's import report and schema), then
replays every recipe in the version's lineage with the values fitted when each
was applied. Its functions are copied from :mod:`studio.recipes.source` and
:mod:`studio.recipes.runtime` — the code the studio itself runs — so the script
and the studio cannot drift apart.

Everything that comes from data (column names, notes, file names) enters the
script as a ``repr`` literal or a sanitised comment, never as code.
"""
from __future__ import annotations

import ast
import inspect
import pprint
import unicodedata
from datetime import datetime, timezone

from storage.datasets import DatasetVersionPublic
from storage.store import Store
from studio import datasets
from studio.errors import InvalidInput
from studio.recipes import runtime, source
from studio.recipes.versions import _version, recipe_chain

LINE = 96


# --- the reading plan --------------------------------------------------------------

def _date_formats(report: dict) -> list[str]:
    from studio.ingest.clean import DATE_FORMATS

    options = report.get("options") or {}
    decimal = report.get("decimal", ".")
    dayfirst = options.get("dayfirst")
    dayfirst = dayfirst if dayfirst is not None else decimal == ","
    formats = list(DATE_FORMATS)
    if dayfirst is False:  # month-first first when both read every value (as the import)
        for a, b in (("%d/%m/%Y", "%m/%d/%Y"), ("%d/%m/%y", "%m/%d/%y"),
                     ("%d-%m-%Y", "%m-%d-%Y")):
            if a in formats and b in formats:
                i, j = formats.index(a), formats.index(b)
                formats[i], formats[j] = formats[j], formats[i]
    return formats


def source_plan(store: Store, root: DatasetVersionPublic) -> dict:
    """How to read ``root``'s uploaded file again (see :mod:`studio.recipes.source`)."""
    from studio.ingest import clean_header
    from studio.ingest.options import DEFAULT_MISSING_MARKERS

    if not root.source_sha:
        raise InvalidInput(f"{root.ref} was not imported from a file, so there is no original "
                           "file for a script to start from")
    report = root.import_report or {}
    options = report.get("options") or {}
    kind, data = source.source_unwrap(datasets.load_source_bytes(store, root))
    frame = datasets.load_frame(store, root)
    plan = {
        "format": kind,
        "encoding": report.get("encoding", "utf-8"),
        "delimiter": report.get("delimiter", ","),
        "quoted": True,
        "trailing_delimiter": bool(report.get("trailing_delimiter", False)),
        "ragged": bool({"ragged_rows", "unbalanced_quote_lines"}
                       & set(report.get("skipped") or {})),
        "names": [],
        "columns": {str(c): str(frame[c].dtype) for c in frame.columns},
        "missing_markers": list(options.get("missing_markers") or DEFAULT_MISSING_MARKERS),
        "decimal": report.get("decimal", "."),
        "date_formats": _date_formats(report),
        "infinities": options.get("infinities", "missing"),
        "sheet": report.get("sheet", 0),
        "units": dict(report.get("units") or {}),
    }
    if kind == "text":
        text = source.source_decode(data, plan["encoding"])
        plan["quoted"] = '"' in text
        raw = source.source_header(text, plan["delimiter"], plan["quoted"])
        if plan["trailing_delimiter"] and raw and raw[-1] == "":
            raw = raw[:-1]
    elif kind == "xlsx":
        import io

        import pandas as pd

        head = pd.read_excel(io.BytesIO(data), sheet_name=plan["sheet"], header=None,
                             dtype=object, nrows=50).dropna(how="all")
        raw = ["" if v is None or v != v else str(v) for v in head.iloc[0].tolist()] \
            if len(head) else []
        while len(raw) > 1 and raw[-1] == "" and len(raw) > len(plan["columns"]):
            raw = raw[:-1]
    else:
        import io

        import pandas as pd

        table = pd.read_parquet(io.BytesIO(data))
        if not isinstance(table.index, pd.RangeIndex):
            table = table.reset_index()
        raw = [str(c) for c in table.columns]
    plan["names"] = clean_header(raw)[0]
    unknown = [c for c in plan["columns"] if c not in plan["names"]
               and not c.startswith("column_")]
    if unknown:
        raise InvalidInput(f"the import of {root.ref} renamed columns in a way a script cannot "
                           f"repeat ({', '.join(unknown[:5])})")
    return plan


# --- copying the studio's code -----------------------------------------------------

def _definitions(module) -> dict[str, tuple[int, str, set[str]]]:
    """Top-level names of ``module``: (order, source text, names it refers to)."""
    text = inspect.getsource(module)
    tree = ast.parse(text)
    out = {}
    for order, node in enumerate(tree.body):
        names: list[str] = []
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names = [node.name]
        elif isinstance(node, ast.Assign):
            names = [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names = [node.target.id]
        if not names:
            continue
        segment = ast.get_source_segment(text, node)
        used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        for name in names:
            out[name] = (order, segment, used)
    return out


def _bundle(wanted: list[str]) -> str:
    """Source of the functions and constants ``wanted`` needs, in module order."""
    blocks = []
    for module in (source, runtime):
        defs = _definitions(module)
        todo = [w for w in wanted if w in defs]
        keep: set[str] = set()
        while todo:
            name = todo.pop()
            if name in keep:
                continue
            keep.add(name)
            todo.extend(n for n in defs[name][2] if n in defs and n not in keep)
        seen = set()
        for name in sorted(keep, key=lambda n: defs[n][0]):
            order, segment, _used = defs[name]
            if order not in seen:
                seen.add(order)
                blocks.append(segment)
    return "\n\n\n".join(blocks)


# --- writing the script -----------------------------------------------------------

def _comment(text: object) -> str:
    """Text safe inside a ``#`` comment: no line breaks or other control characters."""
    cleaned = "".join(" " if unicodedata.category(ch).startswith(("C", "Z")) and ch != " "
                      else ch for ch in str(text))
    return " ".join(cleaned.split())[:300]


def _literal(value: object, indent: int) -> str:
    text = pprint.pformat(value, width=max(40, LINE - indent), sort_dicts=False, compact=True)
    if ast.literal_eval(text) != value:  # pragma: no cover - guards against odd values
        raise InvalidInput("a recipe value cannot be written into a script")
    return text.replace("\n", "\n" + " " * indent)


def _call(name: str, kwargs: dict) -> str:
    flat = ", ".join(f"{k}={_literal(v, 0)}" for k, v in kwargs.items())
    line = f"    df = {name}(df, {flat})"
    if len(line) <= LINE and "\n" not in line:
        return line
    args = "".join(f"        {k}={_literal(v, 8 + len(k) + 1)},\n" for k, v in kwargs.items())
    return f"    df = {name}(\n        df,\n{args}    )"


def export_script(store: Store, version: DatasetVersionPublic | str,
                  steps: list | None = None) -> str:
    """A standalone script that rebuilds ``version`` from its original uploaded file.

    With ``steps`` (fitted on ``version``, e.g. a recipe not yet applied),
    the script continues with them after ``version``.
    """
    version = _version(store, version)
    root, chain = recipe_chain(store, version)
    if steps:
        from studio.recipes.core import fit_recipe

        fitted, out = fit_recipe(datasets.load_frame(store, version), steps)
        chain = chain + [(None, fitted)]
        shape = (len(out), out.shape[1])
        columns = [str(c) for c in out.columns]
    else:
        shape = (version.rows, version.cols)
        columns = [str(c) for c in datasets.load_frame(store, version).columns]
    plan = source_plan(store, root)
    target = f"{version.ref} + {len(steps)} new step(s)" if steps else version.ref
    source_name = root.source_name or "the uploaded file"

    body = [f"    df = read_source(path, SOURCE)  # {_comment(root.ref)}: imported from "
            f"{_comment(source_name)}"]
    used = ["read_source"]
    previous = root.ref
    for made, recipe in chain:
        label = f"{made.ref}, made from {previous}" if made is not None else \
            f"steps not applied yet, on {previous}"
        body.append(f"\n    # --- {label}: {len(recipe)} step(s)")
        if made is not None and made.note and not made.note.startswith(f"{len(recipe)} step"):
            note = _comment(made.note)
            body.append(f"    # {note[:LINE - 6]}{'…' if len(note) > LINE - 6 else ''}")
        previous = made.ref if made is not None else previous
        for i, step in enumerate(recipe, 1):
            name, kwargs = step.call()
            used.append(name)
            body.append(f"    # {i}. {_comment(step.describe())}")
            body.append(_call(name, kwargs))
    body.append("    return df")

    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    header = [
        "#!/usr/bin/env python3",
        f"# Rebuilds the dataset version {_comment(target)} from the original file",
        f"# {_comment(source_name)}, as Studio made it. Written by Studio on {now}.",
        "#",
        "# Usage:  python THIS_SCRIPT.py ORIGINAL_FILE [OUTPUT.csv | OUTPUT.parquet]",
        "# Needs pandas and numpy (pyarrow to write Parquet, openpyxl to read .xlsx).",
        "# Every value the recipe learned (means, bounds, bin edges …) is written out below,",
        "# so the result is the same on every run.",
    ]
    script = "\n".join(header) + f'''
import argparse
import ast
import bz2
import csv
import gzip
import io
import lzma
import operator
import sys
import zipfile

import numpy as np
import pandas as pd

# How the import read the original file (from its import report).
SOURCE = {_literal(plan, 9)}

EXPECTED_SHAPE = {shape!r}
EXPECTED_COLUMNS = {_literal(columns, 19)}


# --- operations, copied from Studio ---------------------------------------------------

{_bundle(used)}


# --- the recipe -----------------------------------------------------------------------

def build(path):
    """The dataset version, rebuilt from the original file at ``path``."""
{chr(10).join(body)}


def main(argv=None):
    parser = argparse.ArgumentParser(description={("Rebuild " + target).__repr__()})
    parser.add_argument("source", help={("the original file, " + source_name).__repr__()})
    parser.add_argument("output", nargs="?", help="write the result here (.csv or .parquet)")
    args = parser.parse_args(argv)
    df = build(args.source)
    if args.output:
        if args.output.endswith((".parquet", ".pq")):
            df.to_parquet(args.output)
        else:
            df.to_csv(args.output, index=False)
    print(f"{{len(df):,}} rows x {{df.shape[1]}} columns", file=sys.stderr)
    if (len(df), df.shape[1]) != EXPECTED_SHAPE or list(df.columns) != EXPECTED_COLUMNS:
        print(f"warning: Studio's version has {{EXPECTED_SHAPE[0]:,}} rows x "
              f"{{EXPECTED_SHAPE[1]}} columns; is this the same original file?", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
'''
    ast.parse(script)  # a script that does not parse is a bug here, not the user's problem
    return script
