"""AutoML benchmark: the studio's search against FLAML (and AutoGluon) on the bench datasets.

    python bench/automl.py [DATA_DIR] [--budget 60] [--only NAME ...] [--no-write]
                           [--systems studio flaml autogluon] [--autogluon-python PATH] [--merge]

AutoGluon (``autogluon.tabular`` with its LightGBM, CatBoost and XGBoost models, no torch)
is the optional third column: it runs from its own virtualenv (``bench/.autogluon-venv``,
built on first use from ``bench/requirements-autogluon.txt``; AutoGluon pins pandas < 3)
when ``autogluon`` is among ``--systems``.

Both systems get the same 80/20 split (seed 0), the same wall-clock budget and
the same cores, one fresh process per (dataset, system) so peak RSS is each
run's own. The studio runs exactly what a search job runs (plan, search,
ensemble, holdout evaluation, final refit) minus the store. Test metrics:
ROC AUC (binary), log loss and accuracy (multiclass), RMSE (regression).
Results go to bench/results/automl.json and the AutoML section of BENCHMARKS.md.

Columns dropped for both systems (from the datasets' MANIFEST): leaking columns,
and ID columns (the studio excludes them itself; FLAML would not).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

# file, target, task, columns to drop (leaks, then IDs)
DATASETS = [
    ("adult_census_income.csv", "class", "binary", []),
    ("bank_marketing_full.csv", "subscribe", "binary", ["duration"]),
    ("telco_customer_churn.csv", "Churn", "binary", ["customerID"]),
    ("titanic_train.csv", "Survived", "binary", ["PassengerId"]),
    ("wine_quality.csv", "quality", "multiclass", []),
    ("car_evaluation.csv", "class", "multiclass", []),
    ("california_housing.csv", "median_house_value", "regression", []),
    ("ames_housing.csv", "SalePrice", "regression", ["Order", "PID"]),
    ("bike_sharing_hourly.csv", "cnt", "regression", ["casual", "registered", "instant"]),
    ("insurance_charges.csv", "charges", "regression", []),
    ("kddcup99_10pct.csv.gz", "label", "multiclass", []),
]
METRIC = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}


def _name(file: str) -> str:
    return file.split(".")[0]


def _peak_rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def _split(frame, target, task, seed=0):
    import numpy as np
    from sklearn.model_selection import train_test_split

    y = frame[target]
    strat = None
    if task != "regression":
        counts = y.value_counts()
        strat = y.where(y.map(counts) >= 2, "__rare__")  # singletons cannot be stratified
    idx = np.arange(len(frame))
    train, test = train_test_split(idx, test_size=0.2, random_state=seed, stratify=strat)
    return frame.iloc[train].reset_index(drop=True), frame.iloc[test].reset_index(drop=True)


def _load(data_dir: Path, file: str, target: str, task: str, drop: list[str],
          studio_import: bool = False):
    """The same rows and split for both systems; the studio reads the file with its own
    import (as its users do: numbers stored as text, sentinels), FLAML with pandas."""
    import pandas as pd

    frame = pd.read_csv(data_dir / file)
    keep = frame[target].notna().to_numpy()
    if studio_import:
        from studio.ingest import read_table

        imported = read_table(data_dir / file).frame
        if len(imported) != len(frame):
            raise SystemExit(f"{file}: the studio's import read {len(imported)} rows, pandas "
                             f"{len(frame)}; the split would differ")
        imported.columns = frame.columns
        frame = imported
    frame = frame.drop(columns=[c for c in drop if c in frame.columns])
    frame = frame[keep].reset_index(drop=True)
    return _split(frame, target, task)


def _test_scores(task, y_test, pred=None, proba=None, classes=None) -> dict:
    import numpy as np
    from sklearn import metrics as skm

    if task == "regression":
        return {"rmse": float(np.sqrt(skm.mean_squared_error(y_test, pred)))}
    classes = list(classes)
    labels = sorted(set(classes) | set(y_test.tolist()), key=str)
    full = np.full((len(y_test), len(labels)), 1e-15)
    for j, c in enumerate(classes):
        full[:, labels.index(c)] = proba[:, j]
    full = full / full.sum(axis=1, keepdims=True)
    if task == "binary":
        positive = labels.index(classes[1])
        return {"roc_auc": float(skm.roc_auc_score(y_test == classes[1], full[:, positive]))}
    y_idx = [labels.index(v) for v in y_test.tolist()]
    return {"log_loss": float(skm.log_loss(y_idx, full, labels=list(range(len(labels))))),
            "accuracy": float(skm.accuracy_score(y_idx, full.argmax(axis=1)))}


def run_studio(train, test, target, task, budget, cores) -> dict:
    from studio.automl.engine import Search, SearchConfig
    from studio.automl.task import apply_plan, plan_problem
    from studio.schema import infer_schema

    started = time.time()
    schema = infer_schema(train)
    plan = plan_problem(train, schema, target, task=task)
    plan.raise_if_blocked()
    X, y = apply_plan(train.drop(columns=[target]), train[target], plan)
    # n_jobs=0: the studio picks its threads (up to every core, fewer when the machine is busy)
    search = Search(X, y, plan, SearchConfig(time_budget_s=budget, seed=0, n_jobs=0),
                    schema=schema, deadline=started + budget)
    search.run()
    chosen = search.select_ensemble() or search.best
    final = search.finalize(chosen)
    wall = time.time() - started
    X_test = test.drop(columns=[target])
    if task == "regression":
        scores = _test_scores(task, test[target], pred=final.pipeline.predict(X_test))
    else:
        pipe = final.pipeline
        scores = _test_scores(task, test[target], proba=pipe.predict_proba(X_test),
                              classes=pipe.classes_.tolist())
    return {"wall_s": round(wall, 2), "scores": scores, "model": final.entry.algorithm,
            "trials": search.n_done, "pruned": search.n_pruned, "refit_full": final.refit_full,
            "validation": search.validation}


def run_flaml(train, test, target, task, budget, cores) -> dict:
    import warnings

    from flaml import AutoML

    warnings.filterwarnings("ignore")
    started = time.time()
    automl = AutoML()
    X, y = train.drop(columns=[target]), train[target]
    for col in X.columns:  # FLAML wants categories, not pandas' str dtype
        if X[col].dtype == object or str(X[col].dtype) in ("str", "string"):
            X[col] = X[col].astype("category")
    X_test = test.drop(columns=[target])
    for col in X_test.columns:
        if col in X and str(X[col].dtype) == "category":
            X_test[col] = X_test[col].astype(object).astype(
                __import__("pandas").CategoricalDtype(X[col].cat.categories))
    kwargs = dict(task="regression" if task == "regression" else "classification",
                  metric=METRIC[task], time_budget=budget, n_jobs=cores, seed=0, verbose=0)
    note = ""
    try:
        automl.fit(X, y, **kwargs)
    except ValueError as exc:
        if "Invalid classes inferred" not in str(exc):
            raise
        # FLAML 2.7 + XGBoost 3 fail when a rare class is missing from FLAML's split; run it
        # again without its XGBoost learners, on a fresh clock (reported in the table)
        note = "rerun without XGBoost learners (FLAML + XGBoost 3 fail on rare classes)"
        started = time.time()
        automl = AutoML()
        automl.fit(X, y, estimator_list=["lgbm", "rf", "extra_tree", "lrl1"], **kwargs)
    wall = time.time() - started
    if automl.model is None:
        raise RuntimeError("FLAML found no model within the budget")
    if task == "regression":
        scores = _test_scores(task, test[target], pred=automl.predict(X_test))
    else:
        scores = _test_scores(task, test[target], proba=automl.predict_proba(X_test),
                              classes=list(automl.classes_))
    return {"wall_s": round(wall, 2), "scores": scores, "model": automl.best_estimator,
            "note": note}


def run_autogluon(train, test, target, task, budget, cores) -> dict:
    import shutil
    import tempfile
    import warnings

    from autogluon.tabular import TabularPredictor

    warnings.filterwarnings("ignore")
    metric = {"binary": "roc_auc", "multiclass": "log_loss",
              "regression": "root_mean_squared_error"}[task]
    folder = tempfile.mkdtemp(prefix="ag-bench-")
    try:
        started = time.time()
        predictor = TabularPredictor(label=target, problem_type=task, eval_metric=metric,
                                     path=folder, verbosity=0)
        predictor.fit(train, time_limit=budget, presets="medium_quality", num_cpus=cores,
                      num_gpus=0)
        wall = time.time() - started
        X_test = test.drop(columns=[target])
        if task == "regression":
            scores = _test_scores(task, test[target], pred=predictor.predict(X_test).to_numpy())
        else:
            proba = predictor.predict_proba(X_test)
            scores = _test_scores(task, test[target], proba=proba.to_numpy(),
                                  classes=list(proba.columns))
        import importlib.metadata as md

        return {"wall_s": round(wall, 2), "scores": scores, "model": predictor.model_best,
                "version": md.version("autogluon.tabular")}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


AUTOGLUON_VENV = ROOT / "bench" / ".autogluon-venv"


def autogluon_python(given: str | None) -> str:
    """A python with AutoGluon: the one given, or bench/.autogluon-venv (built if missing)."""
    if given:
        return given
    python = AUTOGLUON_VENV / "bin" / "python"
    if not python.exists():
        print("building bench/.autogluon-venv (first run only)…", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(AUTOGLUON_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "-r",
                        str(ROOT / "bench" / "requirements-autogluon.txt")], check=True)
    return str(python)


def child(args) -> None:
    if args.child == "studio":
        # the studio as it ships: its package sets OpenMP's passive waiting, which only works
        # if it is imported before anything starts the OpenMP runtime (as a worker does)
        import studio.automl  # noqa: F401
    spec = next(d for d in DATASETS if _name(d[0]) == args.dataset)
    file, target, task, drop = spec
    train, test = _load(Path(args.data_dir), file, target, task, drop,
                        studio_import=args.child == "studio")
    runner = {"studio": run_studio, "flaml": run_flaml, "autogluon": run_autogluon}[args.child]
    started = time.time()
    try:
        out = runner(train, test, target, task, args.budget, args.cores)
    except Exception as exc:  # noqa: BLE001 - a failure is a result: reported, not hidden
        import traceback

        traceback.print_exc()
        out = {"wall_s": round(time.time() - started, 2), "scores": {}, "model": "—",
               "error": f"{type(exc).__name__}: {str(exc)[:160]}"}
    out.update(dataset=args.dataset, system=args.child, task=task, rows=len(train) + len(test),
               peak_rss_mb=round(_peak_rss_mb(), 1))
    print("RESULT " + json.dumps(out), flush=True)


def _verdict(task, studio: dict, flaml: dict) -> str:
    metric = METRIC[task]
    a, b = studio["scores"].get(metric), flaml["scores"].get(metric)
    if a is None and b is None:
        return "n/a"
    if b is None:
        return "win"  # FLAML failed on this file
    if a is None:
        return "loss"
    if metric == "roc_auc":
        if abs(a - b) <= 0.002:
            return "tie"
        return "win" if a > b else "loss"
    rel = (a - b) / abs(b) if b else 0.0
    if abs(rel) <= 0.01:
        return "tie"
    return "win" if a < b else "loss"


def _fmt(scores: dict, error: str | None = None) -> str:
    if not scores:
        return f"failed ({error})" if error else "failed"
    return ", ".join(f"{k} {v:.4g}" for k, v in scores.items())


def write_markdown(results: list[dict], budget: float, cores: int) -> str:
    by = {(r["dataset"], r["system"]): r for r in results}
    with_ag = any(r["system"] == "autogluon" for r in results)
    ag_version = next((r.get("version") for r in results if r["system"] == "autogluon"), "?")
    lines = [
        f"Command: `python bench/automl.py ../shared/datasets --budget {budget:g}"
        f"{' --systems studio flaml autogluon' if with_ag else ''}` "
        f"({cores} cores each, same 80/20 split, seed 0; FLAML {_flaml_version()}"
        f"{f'; AutoGluon {ag_version}, presets medium_quality' if with_ag else ''}). "
        f"Machine: {platform.machine()}, {os.cpu_count()} cores.", "",
        "| dataset | task | rows | studio test | FLAML test | verdict | studio wall s | FLAML wall s "
        "| studio peak RSS MB | FLAML peak RSS MB | studio model |"
        + (" AutoGluon test | vs AutoGluon | AutoGluon wall s | AutoGluon peak RSS MB |"
           if with_ag else ""),
        "|---|---|---|---|---|---|---|---|---|---|---|" + ("---|---|---|---|" if with_ag else ""),
    ]
    ag_tally = {"win": 0, "tie": 0, "loss": 0, "n/a": 0}
    tally = {"win": 0, "tie": 0, "loss": 0, "n/a": 0}
    worst = []
    for file, _, task, _ in DATASETS:
        name = _name(file)
        s, f = by.get((name, "studio")), by.get((name, "flaml"))
        if not s or not f:
            missing = "studio" if not s else "FLAML"
            lines.append(f"| {name} | {task} | | {'failed' if not s else _fmt(s['scores'])} | "
                         f"{'failed' if not f else _fmt(f['scores'])} | {missing} failed | | | | | |")
            continue
        verdict = _verdict(task, s, f)
        tally[verdict] += 1
        metric = METRIC[task]
        a, b = s["scores"].get(metric), f["scores"].get(metric)
        if a is not None and b is not None:
            worst.append((name, metric, a, b))
        row = (f"| {name} | {task} | {s['rows']:,} | {_fmt(s['scores'], s.get('error'))} | "
               f"{_fmt(f['scores'], f.get('error'))} | "
               f"{verdict} | {s['wall_s']} | {f['wall_s']} | {s['peak_rss_mb']:.0f} | "
               f"{f['peak_rss_mb']:.0f} | {s['model']} ({s.get('trials', 0)} trials) |")
        if with_ag:
            g = by.get((name, "autogluon"))
            if g is None:
                row += " not run | | | |"
            else:
                against = _verdict(task, s, g)
                ag_tally[against] += 1
                row += (f" {_fmt(g['scores'], g.get('error'))} | {against} | {g['wall_s']} | "
                        f"{g['peak_rss_mb']:.0f} |")
        lines.append(row)
    notes = [f"{r['dataset']} ({r['system']}): {r['note']}" for r in results if r.get("note")]
    if notes:
        lines += ["", "Notes: " + "; ".join(notes) + "."]
    lines += ["", f"Studio wins {tally['win']}, ties {tally['tie']}, loses {tally['loss']} "
                  f"(tie: within 0.002 AUC or 1% log loss/RMSE)."]
    losses = []
    for name, metric, a, b in worst:
        if metric == "roc_auc" and b - a > 0.01:
            losses.append(f"{name} by {b - a:.4f} AUC")
        elif metric != "roc_auc" and b and (a - b) / abs(b) > 0.03:
            losses.append(f"{name} by {100 * (a - b) / abs(b):.1f}% {metric}")
    lines.append("Losses beyond the limits (1% AUC, 3% RMSE/log loss): "
                 + (", ".join(losses) if losses else "none") + ".")
    if with_ag:
        lines.append(f"Against AutoGluon: studio wins {ag_tally['win']}, ties {ag_tally['tie']}, "
                     f"loses {ag_tally['loss']} (same tie rule).")
    return "\n".join(lines)


def _flaml_version() -> str:
    try:
        import importlib.metadata as md

        return md.version("flaml")
    except Exception:  # noqa: BLE001
        return "?"


def update_benchmarks(section: str) -> None:
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text()
    head = "## AutoML (`bench/automl.py`)"
    start = text.index(head) + len(head)
    nxt = text.find("\n## ", start)
    end = nxt if nxt != -1 else len(text)
    path.write_text(text[:start] + "\n\n" + section.strip() + "\n" + text[end:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data_dir", nargs="?", default=str(ROOT.parent / "shared" / "datasets"))
    parser.add_argument("--budget", type=float, default=60.0, help="seconds per system and dataset")
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--only", nargs="*", help="dataset names (file stems) to run")
    parser.add_argument("--systems", nargs="*", default=["studio", "flaml"])
    parser.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    parser.add_argument("--merge", action="store_true",
                        help="keep the other systems' results from bench/results/automl.json "
                             "(same splits and budget) and rerun only --systems")
    parser.add_argument("--autogluon-python", help="a python with autogluon.tabular installed")
    parser.add_argument("--child", choices=["studio", "flaml", "autogluon"], help=argparse.SUPPRESS)
    parser.add_argument("--dataset", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return 0
    results = []
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    kept: list[dict] = []
    if args.merge and (out_dir / "automl.json").exists():
        kept = [r for r in json.loads((out_dir / "automl.json").read_text())
                if r.get("system") not in args.systems]
    for file, _, task, _ in DATASETS:
        name = _name(file)
        if args.only and name not in args.only:
            continue
        if not (Path(args.data_dir) / file).exists():
            print(f"skip {name}: {file} not in {args.data_dir}", file=sys.stderr)
            continue
        for system in args.systems:
            python = autogluon_python(args.autogluon_python) if system == "autogluon" \
                else sys.executable
            cmd = [python, __file__, args.data_dir, "--child", system, "--dataset", name,
                   "--budget", str(args.budget), "--cores", str(args.cores)]
            started = time.time()
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT,
                                  timeout=args.budget * 4 + 300)
            line = next((l for l in proc.stdout.splitlines() if l.startswith("RESULT ")), None)
            if line is None:
                print(f"{name} {system}: FAILED ({proc.returncode})\n{proc.stderr[-2000:]}",
                      file=sys.stderr)
                continue
            result = json.loads(line[len("RESULT "):])
            result["finished"] = time.strftime("%Y-%m-%d %H:%M")
            results.append(result)
            print(f"{name:<24} {system:<7} {_fmt(result['scores'], result.get('error')):<40} "
                  f"wall {result['wall_s']:>6}s "
                  f"rss {result['peak_rss_mb']:>6.0f}MB  ({time.time() - started:.0f}s)",
                  file=sys.stderr, flush=True)
            (out_dir / "automl.json").write_text(json.dumps(kept + results, indent=1))
    results = kept + results
    section = write_markdown(results, args.budget, args.cores)
    print(section)
    systems = {r["system"] for r in results}
    if not args.no_write and {"studio", "flaml"} <= systems and not args.only:
        update_benchmarks(section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
