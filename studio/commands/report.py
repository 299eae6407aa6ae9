"""CLI: report (a model version as one self-contained HTML file for stakeholders)."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("report", help="write a model version's report as one HTML file")
    p.add_argument("model", metavar="MODEL", help="NAME (latest version) or NAME:VERSION")
    p.add_argument("--out", metavar="FILE.html",
                   help="where to write it (default: NAME-vVERSION-report.html here)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_report)


def cmd_report(args, settings) -> int:
    import os
    import tempfile
    from pathlib import Path

    from studio import open_store
    from studio.cli import print_json
    from studio.errors import InvalidInput
    from studio.registry import resolve_model_version
    from studio.report import model_report_html, report_file_name

    store = open_store(settings)
    version = resolve_model_version(store, args.model)
    out = Path(args.out or report_file_name(version)).expanduser()
    if out.is_dir():
        raise InvalidInput(f"{out} is a folder; give a file name such as {out / 'report.html'}")
    if not out.parent.exists():
        raise InvalidInput(f"the folder {out.parent} does not exist; create it or choose "
                           "another --out")
    text = model_report_html(store, version)
    # atomic: a reader never sees half a report, an interrupted run leaves the old file
    fd, tmp = tempfile.mkstemp(prefix=".report-", suffix=".html", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if args.json:
        print_json({"model": version.ref, "out": str(out.resolve()), "bytes": out.stat().st_size})
    else:
        print(f"wrote the report of {version.ref} to {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0
