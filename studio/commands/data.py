"""CLI: import, datasets, profile, samples."""
from __future__ import annotations

import sys


def register(sub) -> None:
    p = sub.add_parser("import", help="import a file as a new dataset (or a new version of N)")
    p.add_argument("path", help="CSV/TSV (any common delimiter or encoding), .gz/.zip, .xlsx "
                                "or Parquet; recognised by content")
    p.add_argument("--name", help="dataset name (default: from the file name)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--encoding", help="text encoding, e.g. cp1252 (default: detected)")
    p.add_argument("--delimiter", help="one of , ; tab | (default: detected)")
    p.add_argument("--decimal", choices=[".", ","], help="decimal mark (default: detected)")
    p.add_argument("--sheet", help="workbook sheet name or 0-based position (default: first)")
    p.add_argument("--lenient", action="store_true",
                   help="skip malformed lines (unbalanced quotes, wrong field counts) and "
                        "report them instead of refusing the file")
    p.add_argument("--missing", help="comma-separated cell values to read as missing "
                                     "(replaces the default list; use '' for blanks)")
    p.add_argument("--keep-index", action="store_true",
                   help="keep a saved row index column instead of dropping it")
    p.add_argument("--infinities", choices=["missing", "clip", "keep"],
                   help="what to do with inf/-inf (default: missing)")
    p.add_argument("--no-profile", action="store_true", help="skip profiling after import")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("datasets", help="list datasets and versions")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_datasets)

    p = sub.add_parser("profile", help="the profile of a dataset (NAME or NAME:V)")
    p.add_argument("dataset")
    p.add_argument("--target", help="also run the checks for this target column")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_profile)

    p = sub.add_parser("samples", help="load the sample datasets that are not in the store yet")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_samples)


def _options(args) -> dict:
    opts: dict = {}
    for key in ("encoding", "delimiter", "decimal", "sheet", "infinities"):
        value = getattr(args, key)
        if value is not None:
            opts[key] = value
    if args.lenient:
        opts["lenient"] = True
    if args.keep_index:
        opts["drop_index_column"] = False
    if args.missing is not None:
        opts["missing_markers"] = tuple(m.strip().strip("'\"") for m in args.missing.split(","))
    return opts


def cmd_import(args, settings) -> int:
    from studio import open_store
    from studio.cli import print_json
    from studio.datasets import import_file

    opts = _options(args)
    store = open_store(settings)
    result = import_file(store, args.path, name=args.name, options=opts,
                         profile=not args.no_profile)
    v = result.version
    if args.json:
        print_json({"dataset": v.dataset, "version": v.version, "ref": v.ref, "rows": v.rows,
                    "cols": v.cols, "warnings": result.warnings, "report": result.report,
                    "schema": [{k: c.get(k) for k in ("name", "dtype", "semantic", "missing",
                                                      "distinct", "reason")}
                               for c in v.schema_]})
        return 0
    report = result.report
    how = report.get("format", "")
    if report.get("delimiter"):
        how += f", delimiter: {report.get('delimiter_name')}, {report.get('encoding')}"
    print(f"imported {v.ref}: {v.rows:,} rows × {v.cols:,} columns ({how})")
    for warning in result.warnings:
        print(f"  ! {warning}")
    return 0


def cmd_datasets(args, settings) -> int:
    from studio import open_store
    from studio.cli import print_json
    from studio.datasets import list_datasets, list_versions

    store = open_store(settings)
    datasets = list_datasets(store)
    rows = []
    for d in datasets:
        versions = list_versions(store, d.name)
        rows.append({
            "name": d.name, "latest_version": d.latest_version, "versions": [
                {"version": v.version, "ref": v.ref, "rows": v.rows, "cols": v.cols,
                 "parent_id": v.parent_id, "recipe_steps": len(v.recipe or []),
                 "source_name": v.source_name, "note": v.note,
                 "created_at": v.created_at.isoformat()} for v in versions],
            "updated_at": d.updated_at.isoformat(),
        })
    if args.json:
        print_json({"datasets": rows})
        return 0
    if not rows:
        print("no datasets yet: import one with `python -m studio import PATH`, or load the "
              "samples with `python -m studio samples`")
        return 0
    print(f"{'dataset':<32} {'latest':>6} {'versions':>8} {'rows':>10} {'cols':>6}")
    for row in rows:
        latest = row["versions"][0] if row["versions"] else {"rows": 0, "cols": 0}
        print(f"{row['name']:<32} {row['latest_version']:>6} {len(row['versions']):>8} "
              f"{latest['rows']:>10,} {latest['cols']:>6}")
    return 0


def cmd_profile(args, settings) -> int:
    from studio import open_store
    from studio.cli import print_json
    from studio.datasets import get_profile, resolve_version

    store = open_store(settings)
    version = resolve_version(store, args.dataset)
    profile = get_profile(store, version, target=args.target)
    profile = {"dataset": version.dataset, "version": version.version, "ref": version.ref,
               **{k: v for k, v in profile.items() if k != "targets"}}
    if args.json:
        print_json(profile)
        return 0
    _print_profile(profile)
    return 0


def _print_profile(profile: dict) -> None:
    out = sys.stdout
    out.write(f"{profile['ref']}: {profile['rows']:,} rows × {profile['cols']:,} columns, "
              f"{profile.get('duplicate_rows', 0):,} duplicate rows\n")
    if profile.get("blocked"):
        out.write(f"blocked: {profile['blocked']}\n")
    if profile.get("sample"):
        out.write(f"note: {profile['sample']['note']}\n")
    out.write(f"\n{'column':<28} {'type':<12} {'missing':>8} {'distinct':>9}  summary\n")
    for col in profile["columns"]:
        stats = col.get("stats") or {}
        if "mean" in stats:
            summary = f"min {stats.get('min')}  median {stats.get('median')}  max {stats.get('max')}"
        elif col.get("top"):
            summary = "top: " + ", ".join(f"{v} ({c})" for v, c in col["top"][:3])
        else:
            summary = ""
        name = str(col["name"])
        name = name if len(name) <= 28 else name[:27] + "…"
        out.write(f"{name:<28} {col['semantic']:<12} {col.get('missing_pct', 0):>7.1f}% "
                  f"{col['distinct']:>9,}  {summary[:60]}\n")
    warnings = profile.get("warnings") or []
    target = profile.get("target")
    if target:
        out.write(f"\ntarget '{target['target']}': task {target['task']}\n")
        for msg in target.get("blocking", []):
            out.write(f"  ✗ {msg}\n")
        warnings = warnings + target.get("warnings", [])
    if warnings:
        out.write("\nwarnings:\n")
        for w in warnings:
            out.write(f"  ! {w['message']}\n")


def cmd_samples(args, settings) -> int:
    from studio import open_store
    from studio.cli import print_json
    from studio.samples import ensure_samples

    added = ensure_samples(open_store(settings))
    if args.json:
        print_json({"added": added})
    else:
        print(f"loaded: {', '.join(added)}" if added else "all samples are already loaded")
    return 0
