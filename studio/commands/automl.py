"""CLI: train (an AutoML search that registers its best model)."""
from __future__ import annotations

import sys
import time
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("train", help="run an AutoML search and register the best model")
    p.add_argument("data", help="dataset NAME or NAME:VERSION, or a file to import first")
    p.add_argument("--target", required=True, help="the column to predict")
    p.add_argument("--task", choices=["binary", "multiclass", "regression"],
                   help="override the detected task")
    p.add_argument("--metric", help="roc_auc, log_loss, accuracy, balanced_accuracy, f1, rmse, "
                                    "mae, r2, mape (default: by task)")
    p.add_argument("--time-budget", type=float, default=60.0, metavar="S",
                   help="wall-clock seconds for the whole job, final fit included (default 60)")
    p.add_argument("--trials", type=int, default=None, metavar="N", help="stop after N trials")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--name", help="model name (default: the dataset's name)")
    p.add_argument("--group", metavar="COL", help="keep each group's rows in one fold")
    p.add_argument("--time-col", metavar="COL", help="validate on later rows than it trains on")
    p.add_argument("--class-weight", choices=["auto", "balanced", "none"], default="auto")
    p.add_argument("--rare-classes", choices=["no_stratify", "merge", "drop"],
                   help="what to do with classes rarer than the number of folds")
    p.add_argument("--include", action="append", default=[], metavar="COL",
                   help="use a column left out by default (ID-like or leaking); repeatable")
    p.add_argument("--exclude", action="append", default=[], metavar="COL",
                   help="leave a column out; repeatable")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_train)


def _dataset_ref(store, data: str, quiet: bool) -> str:
    from studio import datasets
    from studio.errors import InvalidInput, NotFound

    path = Path(data)
    if path.is_file():
        imported = datasets.import_file(store, path)
        if not quiet:
            for warning in imported.warnings:
                sys.stderr.write(f"import: {warning}\n")
        sys.stderr.write(f"imported {path.name} as {imported.version.ref} "
                         f"({imported.version.rows:,} rows)\n")
        return imported.version.ref
    try:
        return datasets.resolve_version(store, data).ref
    except InvalidInput:
        if any(ch in data for ch in "/\\") or path.suffix:
            raise NotFound(f"'{data}' is neither a file nor a dataset; check the path") from None
        raise


def _line(progress: dict) -> str:
    best = progress.get("best_score")
    best_txt = f"{best:.5g}" if isinstance(best, (int, float)) else "—"
    return (f"[{progress.get('elapsed_s', 0):>6.1f}s] {progress.get('phase', 'starting'):<18} "
            f"trials {progress.get('trials_done', 0):>4}  best {progress.get('metric', '')} "
            f"{best_txt} ({progress.get('best_algorithm') or '—'})")


def cmd_train(args, settings) -> int:
    from storage import jobs as repo
    from studio import open_store
    from studio.automl import service
    from studio.cli import print_json
    from studio.errors import StudioError
    from studio.jobs import cancel_job, refresh_job_statuses

    store = open_store(settings)
    ref = _dataset_ref(store, args.data, args.json)
    options = {"group_col": args.group, "time_col": args.time_col,
               "rare_classes": args.rare_classes, "include": args.include,
               "exclude": args.exclude}
    options = {k: v for k, v in options.items() if v}
    job = service.start_search(
        settings, store, dataset=ref, target=args.target, task=args.task, metric=args.metric,
        time_budget_s=args.time_budget, max_trials=args.trials, seed=args.seed,
        class_weight=args.class_weight, options=options, model_name=args.name)
    sys.stderr.write(f"job {job.id}: searching {ref} for '{args.target}' "
                     f"({args.time_budget:g} s budget); Ctrl-C cancels\n")
    last = ""
    try:
        while True:
            time.sleep(1.0)
            refresh_job_statuses(store)
            with store.session() as session:
                job = repo.get_job(session=session, job_id=job.id)
            line = _line(job.progress or {})
            if line != last and job.progress:
                sys.stderr.write(line + "\n")
                last = line
            if job.status not in ("queued", "running"):
                break
    except KeyboardInterrupt:
        cancel_job(store, job.id)
        sys.stderr.write(f"job {job.id}: cancel requested; what finished is kept\n")
        return 130
    if job.status != "succeeded":
        message = job.error or f"the search ended as {job.status}"
        if job.status == "failed" and job.error and ":" not in job.error.split(" ")[0]:
            raise StudioError(f"job {job.id} failed: {message}")
        sys.stderr.write(f"error: job {job.id} {job.status}: {message} "
                         f"(log: {settings.home / 'logs' / f'job-{job.id}.log'})\n")
        return 1
    result = job.result or {}
    out = {"job": job.id, "model": result.get("model"), "task": result.get("task"),
           "metric": result.get("metric"), "score": result.get("score"),
           "holdout": result.get("holdout"), "algorithm": result.get("algorithm"),
           "ensemble": result.get("ensemble"), "trials": result.get("trials"),
           "elapsed_s": result.get("elapsed_s"), "dataset": ref}
    if args.json:
        print_json(out)
    else:
        print(f"model {out['model']}: {out['algorithm']} — CV {out['metric']} "
              f"{out['score']:.5g}, holdout {(out['holdout'] or {}).get(out['metric'])} "
              f"({out['trials']} trials, {out['elapsed_s']} s)")
    return 0
