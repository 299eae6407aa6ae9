"""Scale-out benchmark: search throughput on 1 and 2 Dask workers, with the local search beside.

    python bench/scale.py [DATA_DIR] [--file adult_census_income.csv --target class]
                          [--budget 60] [--repeats 1] [--no-write]

One dataset, one budget, three ways to run the same search (same plan, rows, folds, seed):

- ``local``: ``Search.run`` in this process (what a job does without STUDIO_DASK_SCHEDULER);
- ``dask-1``: a LocalCluster of 1 worker process × 1 thread (the trial's model gets the
  host's cores: 2 threads here);
- ``dask-2``: 2 worker processes × 1 thread (two trials at once, 1 thread each).

Each run has an Optuna SQLite study and a file artifact store in a fresh temporary folder,
as a job does (ask/tell and the out-of-fold files cost what they cost in a job). The
clusters are started and their imports warmed before the clock starts (workers are
long-lived). Reported: trials finished per minute of search (complete + pruned + stopped
or failed), the best cross-validated score, and the job's own work per trial (ask,
submit, tell, record), which bounds how far one job can drive N machines.
Results: bench/results/scale.json and the "Scale-out" section of BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))


def _warm() -> None:
    import sklearn.ensemble  # noqa: F401
    import xgboost  # noqa: F401

    import studio.automl.distributed  # noqa: F401


def _load(path: Path, target: str):
    from studio.automl.task import apply_plan, plan_problem
    from studio.ingest import read_table
    from studio.schema import infer_schema

    frame = read_table(path).frame
    frame = frame[frame[target].notna()].reset_index(drop=True)
    schema = infer_schema(frame)
    plan = plan_problem(frame, schema, target)
    plan.raise_if_blocked()
    X, y = apply_plan(frame.drop(columns=[target]), frame[target], plan)
    return X, y, plan, schema


class _FileHooks:
    """In-memory trials, artifacts on disk (the out-of-fold files a job writes)."""

    @staticmethod
    def make(root: Path):
        from storage.artifacts import FileArtifacts
        from studio.automl.engine import Hooks

        artifacts = FileArtifacts(root)

        class FileHooks(Hooks):
            def save_bytes(self, data: bytes) -> str:
                return artifacts.put_bytes(data)

            def load_bytes(self, sha: str) -> bytes:
                return artifacts.read_bytes(sha)

        return FileHooks()


class _Timer:
    """Wall time the job spends in the loop's own work (wraps _ClusterLoop methods)."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._saved = {}

    def __enter__(self):
        from studio.automl.distributed import _ClusterLoop

        for name in ("_submit", "_finish", "_watch_workers", "_ship"):
            original = getattr(_ClusterLoop, name)
            self._saved[name] = original

            def timed(loop, *args, _name=name, _original=original, **kwargs):
                started = time.perf_counter()
                try:
                    return _original(loop, *args, **kwargs)
                finally:
                    self.seconds[_name] = self.seconds.get(_name, 0.0) + time.perf_counter() - started
                    self.calls[_name] = self.calls.get(_name, 0) + 1

            setattr(_ClusterLoop, name, timed)
        return self

    def __exit__(self, *exc):
        from studio.automl.distributed import _ClusterLoop

        for name, original in self._saved.items():
            setattr(_ClusterLoop, name, original)


def run_once(mode: str, X, y, plan, schema, budget: float) -> dict:
    import optuna
    from distributed import LocalCluster

    from studio.automl import distributed as dist
    from studio.automl.engine import Search, SearchConfig, new_study
    from studio.automl.metrics import get_metric

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="studio-scale-") as tmp:
        tmp = Path(tmp)
        storage = f"sqlite:///{tmp / 'optuna.db'}"
        metric = get_metric(plan.metric, plan.task)
        study = new_study(metric, 0, storage=storage, study_name="scale",
                          constant_liar=mode != "local")
        hooks = _FileHooks.make(tmp / "artifacts")
        cluster = client = None
        workers = 0 if mode == "local" else int(mode.split("-")[1])
        if workers:
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   host="127.0.0.1", dashboard_address=None,
                                   scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                                   silence_logs=40)
            client = dist.connect(cluster.scheduler_address)
            client.wait_for_workers(workers, timeout=120)
            client.run(_warm)
        load_before = os.getloadavg()[0]
        started = time.time()
        search = Search(X, y, plan, SearchConfig(time_budget_s=budget, seed=0, n_jobs=0),
                        schema=schema, hooks=hooks, deadline=started + budget)
        timer = _Timer()
        try:
            if workers:
                with timer:
                    dist.run_on_cluster(search, study, client, schema=schema,
                                        artifact_root=tmp / "artifacts")
            else:
                search.run(study)
        finally:
            search_s = time.time() - started
            if client is not None:
                client.close()
                cluster.close()
        load_after = os.getloadavg()[0]
    finished = search.n_done + search.n_pruned + search.n_failed
    statuses = [t["status"] for t in search.hooks.trials.values()]
    own = sum(timer.seconds.get(k, 0.0) for k in ("_submit", "_finish"))
    fitting = sum(float(t.get("fit_time_s") or 0.0) for t in search.hooks.trials.values())
    slots = max(1, workers)
    threads = search.n_jobs if not workers else max(1, (os.cpu_count() or 1) // workers)
    polls = timer.calls.get("_watch_workers", 0)
    return {
        "mode": mode, "workers": workers, "search_s": round(search_s, 2), "trials": finished,
        "complete": search.n_done, "pruned": search.n_pruned,
        "stopped_or_failed": search.n_failed,
        "per_minute": round(60.0 * finished / max(search_s, 1e-9), 1),
        "best": round(float(search.best.score), 5) if search.best else None,
        "best_algorithm": search.best.algorithm if search.best else None,
        "threads_per_model": threads,
        "busy_pct": round(100.0 * fitting / max(search_s * slots, 1e-9), 1),
        "metric": search.metric.name, "rows_searched": int(len(search.search_pos)),
        "job_ms_per_trial": round(1000.0 * own / max(1, len(statuses)), 1) if workers else None,
        "poll_ms": round(1000.0 * timer.seconds.get("_watch_workers", 0.0) / max(1, polls), 1)
        if workers else None,
        "ship_s": round(timer.seconds.get("_ship", 0.0), 2) if workers else None,
        "load_avg": [round(load_before, 2), round(load_after, 2)],
    }


def write_markdown(results: list[dict], args, rows: int) -> str:
    lines = [
        f"Command: `.venv/bin/python bench/scale.py --budget {args.budget:g}"
        f"{f' --repeats {args.repeats}' if args.repeats != 1 else ''}` "
        f"({args.file}, {rows:,} rows, target `{args.target}`; {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; each run's study in SQLite and its out-of-fold "
        "files on disk, as in a job).",
        "",
        "| run | trials at once × threads per model | search s | trials | "
        "complete / pruned / stopped | trials per minute | vs dask-1 | fitting % of slot time | "
        "best CV | job ms per trial | load avg (start → end) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    base = {}
    for r in results:
        if r["mode"] == "dask-1":
            base.setdefault(r.get("repeat", 0), r["per_minute"])
    for r in results:
        ref = base.get(r.get("repeat", 0))
        ratio = f"{r['per_minute'] / ref:.2f}×" if ref else "—"
        shape = f"{max(1, r['workers'])} × {r['threads_per_model']}"
        lines.append(
            f"| {r['mode']} | {shape} | {r['search_s']:.1f} | {r['trials']} | "
            f"{r['complete']} / {r['pruned']} / {r['stopped_or_failed']} | "
            f"**{r['per_minute']:.1f}** | {ratio} | {r['busy_pct']:.0f}% | "
            f"{r['best']} ({r['best_algorithm']}) | "
            f"{r['job_ms_per_trial'] if r['job_ms_per_trial'] is not None else '—'} | "
            f"{r['load_avg'][0]} → {r['load_avg'][1]} |")
    return "\n".join(lines)


def update_benchmarks(section: str) -> None:
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text()
    head = "## Scale-out (`bench/scale.py`)"
    if head not in text:
        text = text.rstrip() + "\n\n" + head + "\n"
    start = text.index(head) + len(head)
    marker = "<!-- scale.py table -->"
    begin = text.find(marker, start)
    nxt = text.find("\n## ", start)
    end_block = text.find(marker, begin + len(marker)) if begin != -1 else -1
    if begin != -1 and end_block != -1 and (nxt == -1 or end_block < nxt):
        path.write_text(text[:begin] + marker + "\n" + section.strip() + "\n" + text[end_block:])
    else:
        end = nxt if nxt != -1 else len(text)
        path.write_text(text[:start] + "\n\n" + marker + "\n" + section.strip() + "\n" + marker
                        + "\n" + text[end:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data_dir", nargs="?", default=str(ROOT.parent / "shared" / "datasets"))
    parser.add_argument("--file", default="adult_census_income.csv")
    parser.add_argument("--target", default="class")
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--modes", nargs="+", default=["local", "dask-1", "dask-2"])
    parser.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    args = parser.parse_args()
    path = Path(args.data_dir) / args.file
    if not path.exists():
        print(f"no file {path}; pass the datasets folder as the first argument", file=sys.stderr)
        return 2
    X, y, plan, schema = _load(path, args.target)
    results = []
    for repeat in range(args.repeats):
        for mode in args.modes:
            result = run_once(mode, X, y, plan, schema, args.budget)
            result["repeat"] = repeat
            results.append(result)
            print(json.dumps(result), flush=True)
    section = write_markdown(results, args, len(X))
    print(section)
    out = ROOT / "bench" / "results" / "scale.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "rows": len(X), "results": results}, indent=1))
    if not args.no_write:
        update_benchmarks(section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
