"""Batch transform: a CSV file (or a dataset version) through a model version, in chunks.

Output: the input columns as read, then ``prediction`` and, for classifiers, one
``proba_<class>`` column per class. The file is read ``chunk_rows`` rows at a time
(pandas' chunked CSV reader; a dataset version's Parquet by record batches), so a
million rows never sit in memory at once. Every chunk goes through the same
validation and conversion as the prediction service (``studio.service.inputs``),
so a file and an HTTP request with the same rows get the same answers. The
output is written to a temporary file and renamed when complete: a failed or
cancelled run leaves nothing half-written.

``run_batch_job(ctx)`` is the job handler (kind ``batch_transform``); config:
``{"model_version_id": ID, "input": {"kind": "file", "sha": SHA, "name": NAME} |
{"kind": "dataset", "dataset_version_id": ID}, "chunk_rows": N}``. Its result names
the output artifact (``output_sha``) and a download name.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pandas as pd

from storage.artifacts import ArtifactError
from storage.registry import ModelVersionPublic
from storage.store import Store
from studio.errors import IntegrityError, InvalidInput, NotFound
from studio.names import suggest_name

DEFAULT_CHUNK_ROWS = 50_000


def _count_lines(path: Path) -> int:
    count = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 22):
            count += chunk.count(b"\n")
    return count


def _sniff(path: Path) -> tuple[str, str]:
    """(encoding, delimiter) from the file's first 64 KB."""
    with open(path, "rb") as fh:
        head = fh.read(65536)
    if not head.strip():
        raise InvalidInput("the file is empty")
    if b"\x00" in head:
        raise InvalidInput("the file is not a text table (it holds NUL bytes); send a CSV file")
    encoding = "utf-8-sig"
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:
            raise InvalidInput("the file is not UTF-8 text; save it as CSV UTF-8") from None
        text = head[:exc.start].decode("utf-8-sig")
    first = text.splitlines()[0] if text.splitlines() else ""
    counts = {d: first.count(d) for d in (",", ";", "\t", "|")}
    delimiter = max(counts, key=counts.get) if any(counts.values()) else ","
    return encoding, delimiter


def _csv_chunks(path: Path, chunk_rows: int) -> Iterator[pd.DataFrame]:
    encoding, delimiter = _sniff(path)
    try:
        reader = pd.read_csv(path, sep=delimiter, dtype=str, keep_default_na=False,
                             na_filter=False, chunksize=chunk_rows, encoding=encoding,
                             skip_blank_lines=True)
        for chunk in reader:
            chunk.columns = [str(c).strip() for c in chunk.columns]
            yield chunk
    except UnicodeDecodeError:
        raise InvalidInput("the file is not UTF-8 text; save it as CSV UTF-8") from None
    except pd.errors.ParserError as exc:
        raise InvalidInput(f"the CSV cannot be read: {str(exc).strip()[:300]}") from None
    except pd.errors.EmptyDataError:
        raise InvalidInput("the file is empty") from None


def _parquet_chunks(path: Path, chunk_rows: int) -> Iterator[pd.DataFrame]:
    import pyarrow.parquet as pq

    for record_batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows):
        yield record_batch.to_pandas()


def _raw_columns(chunk: pd.DataFrame, names: list[str]) -> dict[str, Any]:
    out = {}
    for name in names:
        if name not in chunk.columns:
            continue
        series = chunk[name]
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            out[name] = series.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            values = series.astype(object).where(series.notna(), None).tolist()
            out[name] = values
    return out


def _predict_chunks(model, chunks: Iterator[pd.DataFrame], out_path: Path, *,
                    progress: Callable[[int], None] | None = None,
                    check_cancel: Callable[[], None] | None = None) -> dict:
    from studio.service.inputs import InputProblem

    tmp = out_path.with_name(f".{out_path.name}.partial")
    rows = 0
    ignored: list[str] = []
    infinities = 0
    proba_names: list[str] = []
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            for index, chunk in enumerate(chunks):
                if check_cancel:
                    check_cancel()
                n = len(chunk)
                if n == 0:
                    continue
                if index == 0:
                    ignored = [c for c in chunk.columns if c not in model.converter.names]
                    clash = [c for c in chunk.columns
                             if c == "prediction" or str(c).startswith("proba_")]
                    if clash:
                        raise InvalidInput(f"the input already has column(s) {', '.join(clash)}; "
                                           "rename them, the output adds these names")
                try:
                    batch = model.converter.convert_columns(
                        _raw_columns(chunk, model.converter.names), n, row_offset=rows)
                except InputProblem as exc:
                    raise InvalidInput(_file_message(exc)) from None
                infinities += batch.infinities
                pred = model.predict(batch)
                out = chunk.copy()
                out["prediction"] = pred.predictions
                if pred.probabilities is not None:
                    proba_names = [f"proba_{c}" for c in model.class_keys]
                    for j, col in enumerate(proba_names):
                        out[col] = pred.probabilities[:, j]
                out.to_csv(fh, header=index == 0, index=False, lineterminator="\n")
                rows += n
                if progress:
                    progress(rows)
        if rows == 0:
            raise InvalidInput("the file holds no rows")
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)
    return {"rows": rows, "out": str(out_path), "ignored_columns": ignored,
            "infinities_as_missing": infinities, "probability_columns": proba_names}


def _file_message(exc) -> str:
    """The service's 422 message, with rows counted as file rows (1 = first data row)."""
    parts = []
    for d in exc.details or []:
        if d.get("problem") == "missing":
            parts.append(f"column '{d['column']}' is missing")
        else:
            first = d["rows"][0] + 1 if d.get("rows") else "?"
            parts.append(f"column '{d['column']}' expects {d.get('expected')}; got "
                         f"{', '.join(d.get('examples', []))} (first at data row {first}, "
                         f"{len(d.get('rows', []))}{'+' if len(d.get('rows', [])) >= 20 else ''} rows)")
    return "the file does not fit the model's input: " + "; ".join(parts or [exc.message])


def _loaded(store: Store, version: ModelVersionPublic):
    from studio.registry import load_pipeline
    from studio.service.model import LoadedModel

    return LoadedModel(version, load_pipeline(store, version))


def predict_file(store: Store, version: ModelVersionPublic, in_path: Path, out_path: Path, *,
                 chunk_rows: int = DEFAULT_CHUNK_ROWS,
                 progress: Callable[[int, int], None] | None = None,
                 check_cancel: Callable[[], None] | None = None) -> dict:
    """Stream a CSV through ``version``; returns {rows, out, ignored_columns, …}."""
    if chunk_rows < 1:
        raise InvalidInput("chunk rows must be at least 1")
    in_path, out_path = Path(in_path), Path(out_path)
    if not in_path.is_file():
        raise InvalidInput(f"file '{in_path}' does not exist")
    if out_path.resolve() == in_path.resolve():
        raise InvalidInput("the output file must not be the input file")
    if not out_path.parent.exists():
        raise InvalidInput(f"folder '{out_path.parent}' does not exist")
    model = _loaded(store, version)
    total = max(0, _count_lines(in_path) - 1)
    report = (lambda done: progress(done, total)) if progress else None
    return _predict_chunks(model, _csv_chunks(in_path, chunk_rows), out_path,
                           progress=report, check_cancel=check_cancel)


def predict_dataset(store: Store, version: ModelVersionPublic, dataset_version, out_path: Path, *,
                    chunk_rows: int = DEFAULT_CHUNK_ROWS,
                    progress: Callable[[int, int], None] | None = None,
                    check_cancel: Callable[[], None] | None = None) -> dict:
    """A dataset version (its Parquet, in record batches) through ``version``."""
    try:
        path = store.artifacts.path(dataset_version.data_sha)
    except ArtifactError as exc:
        raise IntegrityError(f"dataset {dataset_version.ref}: {exc}") from None
    model = _loaded(store, version)
    report = (lambda done: progress(done, dataset_version.rows)) if progress else None
    return _predict_chunks(model, _parquet_chunks(path, chunk_rows), Path(out_path),
                           progress=report, check_cancel=check_cancel)


# --- the job -------------------------------------------------------------------------

def stage_upload(store: Store, data: bytes, filename: str, max_mb: float) -> dict:
    """Keep an uploaded CSV as an artifact for a batch job; returns the job's input config."""
    if not data:
        raise InvalidInput("the file is empty")
    if len(data) > max_mb * 1024 * 1024:
        raise InvalidInput(f"the file is {len(data) / 1048576:.0f} MB; the limit is {max_mb:g} MB "
                           "(STUDIO_MAX_UPLOAD_MB); use `python -m studio predict` for bigger files")
    return {"kind": "file", "sha": store.artifacts.put_bytes(data), "name": filename[:200]}


def start_batch_job(settings, store: Store, version: ModelVersionPublic, source: dict,
                    chunk_rows: int = DEFAULT_CHUNK_ROWS):
    """Submit a batch transform and launch its worker; returns the job."""
    from studio.jobs import start_job

    if source.get("kind") not in ("file", "dataset"):
        raise InvalidInput("choose a CSV file or a dataset version to predict")
    label = source.get("name") or f"dataset version {source.get('dataset_version_id')}"
    return start_job(settings, store, kind="batch_transform",
                     name=f"predict {version.ref} on {label}"[:128],
                     config={"model_version_id": version.id, "input": source,
                             "chunk_rows": int(chunk_rows)},
                     dataset_version_id=source.get("dataset_version_id"))


def run_batch_job(ctx) -> dict:
    from storage import registry as model_repo
    from studio.datasets import get_version_by_id

    config = ctx.config
    store = ctx.store
    with store.session() as session:
        version = model_repo.get_model_version_by_id(session=session,
                                                     version_id=int(config["model_version_id"]))
    if version is None:
        raise NotFound(f"model version id {config['model_version_id']} no longer exists")
    source = config.get("input") or {}
    chunk_rows = int(config.get("chunk_rows") or DEFAULT_CHUNK_ROWS)
    out = store.artifacts.scratch_path(".csv")

    def progress(done: int, total: int) -> None:
        ctx.progress(rows_done=done, rows_total=total, stage="predicting")

    ctx.progress(stage="loading model", rows_done=0)
    try:
        if source.get("kind") == "file":
            try:
                path = store.artifacts.path(source["sha"])
            except ArtifactError as exc:
                raise IntegrityError(f"uploaded file: {exc}") from None
            result = predict_file(store, version, path, out, chunk_rows=chunk_rows,
                                  progress=progress, check_cancel=ctx.check_cancel)
            stem = suggest_name(source.get("name") or "input")
        else:
            dataset_version = get_version_by_id(store, int(source["dataset_version_id"]))
            result = predict_dataset(store, version, dataset_version, out, chunk_rows=chunk_rows,
                                     progress=progress, check_cancel=ctx.check_cancel)
            stem = suggest_name(dataset_version.ref.replace(":", "_v"))
        sha = store.artifacts.move_in(out)
    finally:
        out.unlink(missing_ok=True)
    ctx.progress(stage="done", rows_done=result["rows"], rows_total=result["rows"])
    return {"output_sha": sha, "rows": result["rows"], "model": version.ref,
            "ignored_columns": result["ignored_columns"],
            "probability_columns": result["probability_columns"],
            "infinities_as_missing": result["infinities_as_missing"],
            "download_name": f"{stem}-predictions-{version.model}-v{version.version}.csv"}


def get_batch_job(store: Store, job_id: int):
    """The job (statuses refreshed first, so a dead worker shows as interrupted)."""
    from storage import jobs as job_repo
    from studio.jobs import refresh_job_statuses

    refresh_job_statuses(store)
    with store.session() as session:
        job = job_repo.get_job(session=session, job_id=int(job_id))
    if job is None:
        raise NotFound(f"job {job_id} does not exist")
    return job


def result_bytes(store: Store, job) -> bytes:
    """The output CSV of a finished batch job (sha256 checked)."""
    sha = (job.result or {}).get("output_sha")
    if not sha:
        raise NotFound(f"job {job.id} has no output (it is {job.status})")
    try:
        return store.artifacts.read_bytes(sha)
    except ArtifactError as exc:
        raise IntegrityError(f"output of job {job.id}: {exc}") from None


def read_preview(data: bytes, rows: int = 20) -> pd.DataFrame:
    """The first rows of an output CSV, for a preview table."""
    import io

    return pd.read_csv(io.BytesIO(data), nrows=rows)

