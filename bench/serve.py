"""Prediction service benchmark: Studio's service and `mlflow models serve`, same model, same
requests, same machine, one run.

    .venv/bin/python bench/serve.py [DATA_FOLDER] [--seconds 5] [--mlflow-python PATH]

The model is the reference from the issue: an XGBoost pipeline with 300 trees on 20 numeric
and 2 categorical columns (imputation, scaling, one-hot), fitted on generated data (no data
folder is needed; the argument is accepted for symmetry with the other benchmarks).
MLflow runs from its own virtualenv (``bench/.mlflow-venv``, built on first use from
``bench/requirements-mlflow.txt``: mlflow pins a pyarrow older than the studio's, so it cannot
share the studio's venv). Without it (``--no-mlflow``) the in-process pipeline is the only
reference.

Load comes from a small asyncio HTTP/1.1 keep-alive client in this process (the same client
for both servers), so client and server share the machine's 2 cores, as a real co-located
client would. Reported: requests/s and median/p99 latency for 1 and 8 concurrent single-row
clients, rows/s for 1,000-row requests, the cost of the prediction log (Studio with and
without it), Studio with 2 workers, and a check that both servers answer exactly what the
pipeline answers.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
MLFLOW_VENV = ROOT / "bench" / ".mlflow-venv"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the model ----------------------------------------------------------------------

def build_reference(home: Path):
    from studio import open_store
    from studio.endpoints import publish
    from studio.registry import register_model
    from studio.settings import get_settings
    from tests.model_factory import build_pipeline, make_card, make_frame

    frame = make_frame(5000, task="binary", seed=0, n_numeric=20, n_categorical=2, with_bool=False)
    pipeline = build_pipeline(frame, task="binary", algorithm="xgboost", n_estimators=300)
    settings = get_settings(home=home)
    store = open_store(settings)
    version = register_model(store, name="bench", pipeline=pipeline,
                             card=make_card(frame, pipeline, task="binary", algorithm="xgboost"))
    publish(store, version, "bench", actor="bench")
    return frame.drop(columns=["target"]), pipeline, store.artifacts.path(version.artifact_sha)


def in_process_reference(X, pipeline) -> dict:
    import numpy as np

    one = X.iloc[[0]]
    times = []
    for _ in range(300):
        t = time.perf_counter()
        pipeline.predict_proba(one)
        times.append(time.perf_counter() - t)
    Xt = pipeline[0].transform(one)
    booster = pipeline[-1].get_booster()
    xgb_times = []
    for _ in range(300):
        t = time.perf_counter()
        booster.inplace_predict(np.asarray(Xt))
        xgb_times.append(time.perf_counter() - t)
    return {"pipeline_predict_proba_1row_ms": statistics.median(times[50:]) * 1000,
            "xgboost_inplace_predict_1row_ms": statistics.median(xgb_times[50:]) * 1000}


# --- servers ------------------------------------------------------------------------

def wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    import httpx

    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server did not answer {url}:\n{log.read_text()[-3000:]}")


def start_studio(home: Path, workers: int = 1, log_predictions: bool = True):
    port = free_port()
    # Scheduled monitoring checks would read the growing log in the middle of a measurement;
    # they are measured by bench/monitor.py, so they are off here.
    env = {**os.environ, "STUDIO_HOME": str(home), "PYTHONPATH": str(ROOT),
           "STUDIO_SERVICE_NO_BACKGROUND": "1"}
    if not log_predictions:
        env["STUDIO_SERVICE_NO_LOG"] = "1"
    log = home / f"studio-{port}.log"
    proc = subprocess.Popen([sys.executable, "-m", "studio", "serve", "--port", str(port),
                             "--workers", str(workers)], cwd=ROOT, env=env,
                            stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    wait_http(f"http://127.0.0.1:{port}/ping", proc, log)
    return proc, port, "/endpoints/bench/invocations"


def ensure_mlflow_python(given: str | None) -> str:
    if given:
        return given
    python = MLFLOW_VENV / "bin" / "python"
    if not python.exists():
        print("building bench/.mlflow-venv (first run only)…", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(MLFLOW_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "-r",
                        str(ROOT / "bench" / "requirements-mlflow.txt")], check=True)
    return str(python)


def start_mlflow(python: str, model_file: Path, X, workdir: Path):
    model_dir = workdir / "mlflow-model"
    script = (
        "import sys, joblib, pandas as pd, mlflow.sklearn\n"
        "from mlflow.models import infer_signature\n"
        "pipe = joblib.load(sys.argv[1]); X = pd.read_parquet(sys.argv[3])\n"
        "sig = infer_signature(X, pipe.predict_proba(X))\n"
        "mlflow.sklearn.save_model(pipe, sys.argv[2], signature=sig,"
        " pyfunc_predict_fn='predict_proba', serialization_format='cloudpickle')\n"
    )
    sample = workdir / "sample.parquet"
    X.head(200).to_parquet(sample)
    subprocess.run([python, "-c", script, str(model_file), str(model_dir), str(sample)],
                   check=True, capture_output=True)
    port = free_port()
    log = workdir / "mlflow.log"
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"file://{workdir}/mlruns",
           "PATH": f"{Path(python).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.Popen([python, "-m", "mlflow", "models", "serve", "-m", str(model_dir),
                             "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)],
                            env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    wait_http(f"http://127.0.0.1:{port}/ping", proc, log)
    return proc, port, "/invocations"


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


# --- load ---------------------------------------------------------------------------

async def _client(port: int, path: str, body: bytes, until: float, warm: float, lat: list,
                  errors: list) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    request = head + body
    while True:
        start = time.perf_counter()
        if start >= until:
            break
        writer.write(request)
        header = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in header.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await reader.readexactly(length)
        if not header.startswith(b"HTTP/1.1 200"):
            errors.append(header[:40])
        if start >= warm:
            lat.append(time.perf_counter() - start)
    writer.close()


def cpu_seconds(pid: int | None) -> float:
    """CPU time (user + system) a process has used so far (Linux /proc)."""
    if not pid:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load(port: int, path: str, body: bytes, clients: int, seconds: float,
         warmup: float = 1.0, pid: int | None = None) -> dict:
    async def run():
        now = time.perf_counter()
        lat: list = []
        errors: list = []
        await asyncio.gather(*[_client(port, path, body, now + warmup + seconds, now + warmup,
                                       lat, errors) for _ in range(clients)])
        return lat, errors

    cpu_before = cpu_seconds(pid)
    try:
        import uvloop

        lat, errors = uvloop.run(run())
    except ImportError:
        lat, errors = asyncio.run(run())
    cpu = cpu_seconds(pid) - cpu_before
    lat.sort()
    out = {"requests_per_s": len(lat) / seconds, "median_ms": statistics.median(lat) * 1000,
           "p99_ms": lat[int(len(lat) * 0.99)] * 1000, "requests": len(lat),
           "errors": len(errors)}
    if pid:  # the server's CPU per request (warm-up included in both counts' ratio)
        out["server_cpu_ms_per_request"] = cpu * 1000 / max(1, len(lat))
    return out


def bodies(X) -> tuple[bytes, bytes]:
    import orjson

    def split(frame):
        return orjson.dumps({"dataframe_split": {
            "columns": list(frame.columns),
            "data": frame.astype(object).where(frame.notna(), None).values.tolist()}})

    return split(X.iloc[[0]]), split(X.iloc[:1000])


def identical(port: int, path: str, X, pipeline, probs_key: str) -> bool:
    import httpx
    import numpy as np

    rows = X.iloc[:200]
    body = {"dataframe_split": {"columns": list(rows.columns), "data":
                                rows.astype(object).where(rows.notna(), None).values.tolist()}}
    answer = httpx.post(f"http://127.0.0.1:{port}{path}", json=body, timeout=60).json()
    expected = pipeline.predict_proba(rows).astype(np.float64)
    if probs_key == "studio":
        got = np.array([[p["0"], p["1"]] for p in answer["probabilities"]])
    else:
        got = np.array(answer["predictions"], dtype=np.float64)
    return bool(np.array_equal(got, expected))


SCENARIOS = [("1 client, 1 row", "one", 1), ("8 clients, 1 row", "one", 8),
             ("2 clients, 1000 rows", "thousand", 2)]


def compare(servers: dict, payloads: dict, seconds: float, rounds: int = 2) -> dict:
    """Each scenario on every server in turn, ``rounds`` times; the best round of each.

    Both servers are up the whole time and take turns, so a busy moment on the shared
    machine hits both rather than whichever happened to run then."""
    out: dict = {name: {} for name in servers}
    for scenario, payload, clients in SCENARIOS:
        runs: dict = {name: [] for name in servers}
        for _ in range(rounds):
            for name, (port, path) in servers.items():
                runs[name].append(load(port, path, payloads[payload], clients, seconds))
        for name in servers:
            best = max(runs[name], key=lambda r: r["requests_per_s"])
            if payload == "thousand":
                best["rows_per_s"] = best["requests_per_s"] * 1000
            best["rounds_req_s"] = [r["requests_per_s"] for r in runs[name]]
            out[name][scenario] = best
    return out


def batch_transform(home: Path, X, work: Path, rows: int) -> dict:
    """`python -m studio predict` on a CSV of ``rows`` rows: time and peak memory."""
    path = work / "batch.csv"
    block = X.sample(n=min(len(X), 50_000), replace=False, random_state=0)
    written = 0
    with open(path, "w") as fh:
        while written < rows:
            part = block.iloc[: min(len(block), rows - written)]
            part.to_csv(fh, header=written == 0, index=False)
            written += len(part)
    env = {**os.environ, "STUDIO_HOME": str(home), "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "studio", "predict", "bench", str(path), "--out",
                             str(work / "batch-out.csv")], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        return {"error": proc.stderr.read().decode()[-2000:]}
    out_rows = sum(1 for _ in open(work / "batch-out.csv")) - 1
    return {"rows": rows, "output_rows": out_rows, "seconds": seconds,
            "rows_per_s": rows / seconds, "peak_rss_mb": usage.ru_maxrss / 1024,
            "input_mb": path.stat().st_size / 1048576}


def writer_cost(work: Path, X, rows: int = 40_000) -> dict:
    """CPU the prediction-log writer spends per row (serialise + insert), measured directly."""
    from studio import open_store
    from studio.service.logwriter import LogWriter, dumps_log
    from studio.settings import get_settings

    store = open_store(get_settings(home=work / "log-home"))
    writer = LogWriter(store, 60, "bench")
    records = X.head(1000).astype(object).where(X.head(1000).notna(), None).to_dict("records")
    out = {"prediction": 1, "probabilities": {"0": 0.25, "1": 0.75}}
    # a 1,000-row request is one log row holding its records and answers as lists
    bulk_out = {"predictions": [1] * 1000, "probabilities": [[0.25, 0.75]] * 1000,
                "classes": ["0", "1"]}

    def best_of(make_rows) -> float:
        best = None
        for _ in range(3):
            writer.add(make_rows(f"{time.time_ns():016x}"))
            start = time.thread_time()
            writer.flush()
            spent = time.thread_time() - start
            best = spent if best is None else min(best, spent)
        return best

    single = best_of(lambda base: [(f"{base}-{i}", "bench", 1, time.time(), 200, 0.5, 1,
                                    records[i % 1000], out) for i in range(rows)])
    requests = rows // 1000
    # as the service logs them: serialised in the request, inputs kept in a capture file
    columns = dumps_log({"columns": {name: [r[name] for r in records] for name in records[0]}})
    answers = dumps_log(bulk_out)
    bulk = best_of(lambda base: [(f"{base}b{i}", "bench", 1, time.time(), 200, 5.0, 1000,
                                  columns, answers) for i in range(requests)])
    return {"rows": rows, "cpu_us_per_row": single / rows * 1e6,
            "bulk_cpu_us_per_prediction": bulk / (requests * 1000) * 1e6}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", nargs="?", default=str(ROOT.parent / "shared" / "datasets"),
                        help="unused: the model is fitted on generated data")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--mlflow-python", help="a python with mlflow installed")
    parser.add_argument("--no-mlflow", action="store_true")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--batch-rows", type=int, default=1_000_000,
                        help="rows for the batch-transform measurement (0 skips it)")
    args = parser.parse_args()

    results: dict = {"load_average_before": os.getloadavg()}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        home = work / "home"
        X, pipeline, model_file = build_reference(home)
        results["in_process"] = in_process_reference(X, pipeline)
        results["log_writer"] = writer_cost(work, X)
        one, thousand = bodies(X)

        payloads = {"one": one, "thousand": thousand}
        servers, procs = {}, []
        proc, port, path = start_studio(home)
        procs.append(proc)
        servers["studio"] = (port, path)
        try:
            results["studio_identical"] = identical(port, path, X, pipeline, "studio")
            if not args.no_mlflow:
                try:
                    python = ensure_mlflow_python(args.mlflow_python)
                    mproc, mport, mpath = start_mlflow(python, model_file, X, work)
                    procs.append(mproc)
                    servers["mlflow"] = (mport, mpath)
                    results["mlflow_identical"] = identical(mport, mpath, X, pipeline, "mlflow")
                except (subprocess.CalledProcessError, RuntimeError, OSError) as exc:
                    results["mlflow_error"] = str(exc)[-2000:]
            results.update(compare(servers, payloads, args.seconds))
        finally:
            for proc in procs:
                stop(proc)
        # The log's cost: the same two loads without and again with the log, alternating,
        # best of two each (the machine is shared; alternation cancels slow drifts).
        both = {True: [], False: []}
        for logged in (False, True, False, True):
            proc, port, path = start_studio(home, log_predictions=logged)
            try:
                both[logged].append({
                    "8 clients, 1 row": load(port, path, one, 8, args.seconds, pid=proc.pid),
                    "2 clients, 1000 rows": load(port, path, thousand, 2, args.seconds,
                                                 pid=proc.pid)})
            finally:
                stop(proc)
        results["log_cost"] = {}
        for name in ("8 clients, 1 row", "2 clients, 1000 rows"):
            with_log = max(r[name]["requests_per_s"] for r in both[True])
            without = max(r[name]["requests_per_s"] for r in both[False])
            cpu_log = min(r[name]["server_cpu_ms_per_request"] for r in both[True])
            cpu_nolog = min(r[name]["server_cpu_ms_per_request"] for r in both[False])
            results["log_cost"][name] = {
                "with_log_req_s": with_log, "without_log_req_s": without,
                "throughput_cost": 1 - with_log / without,
                "server_cpu_ms_per_request_with_log": cpu_log,
                "server_cpu_ms_per_request_without_log": cpu_nolog,
                "cpu_cost": 1 - cpu_nolog / cpu_log}
        proc, port, path = start_studio(home, workers=2)
        try:
            results["studio_2_workers"] = {"8 clients, 1 row": load(port, path, one, 8, args.seconds)}
        finally:
            stop(proc)
        if args.batch_rows:
            results["batch"] = batch_transform(home, X, work, args.batch_rows)
    results["load_average_after"] = os.getloadavg()
    report(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


def report(results: dict) -> None:
    print(json.dumps(results, indent=2))
    studio, mlflow = results["studio"], results.get("mlflow")
    print("\n| scenario | Studio | MLflow | ratio |\n|---|---|---|---|")
    for name in studio:
        s = studio[name]
        m = mlflow[name] if mlflow else None
        unit, key = ("rows/s", "rows_per_s") if "rows_per_s" in s else ("req/s", "requests_per_s")
        ratio = f"{s[key] / m[key]:.1f}×" if m else "–"
        print(f"| {name}: {unit} | {s[key]:,.0f} | {m[key]:,.0f} | {ratio} |" if m else
              f"| {name}: {unit} | {s[key]:,.0f} | – | – |")
        print(f"| {name}: median ms | {s['median_ms']:.2f} | "
              f"{m['median_ms']:.2f} | |" if m else f"| {name}: median ms | {s['median_ms']:.2f} | – | |")
    print(f"log writer CPU per logged row (direct): {results['log_writer']['cpu_us_per_row']:.1f} µs"
          f" single-row requests, {results['log_writer']['bulk_cpu_us_per_prediction']:.2f} µs per"
          f" prediction in 1,000-row requests")
    for name, cost in results["log_cost"].items():
        print(f"prediction log cost, {name}: {cost['cpu_cost']:.1%} of the server's CPU per "
              f"request ({cost['server_cpu_ms_per_request_with_log']:.3f} vs "
              f"{cost['server_cpu_ms_per_request_without_log']:.3f} ms); throughput "
              f"{cost['with_log_req_s']:,.0f} vs {cost['without_log_req_s']:,.0f} req/s "
              f"({cost['throughput_cost']:.1%}, best of two each)")
    print(f"Studio, 2 workers, 8 clients, 1 row: "
          f"{results['studio_2_workers']['8 clients, 1 row']['requests_per_s']:,.0f} req/s")
    print(f"in process: {results['in_process']}")
    if "batch" in results:
        print(f"batch transform: {results['batch']}")


if __name__ == "__main__":
    sys.exit(main())
