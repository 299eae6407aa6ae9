"""Datasets and their versions: import, save, load, profile, lineage.

A dataset version is a Parquet artifact (named by its sha256) plus a row
holding its schema, import report, parent and recipe. Frames keep the pandas
index of the *root* import, so a wrangled version's rows map back to rows of
the uploaded file; the index is written to Parquet whenever it is not a plain
0..n-1 range.

Every function that changes the store does it in one transaction, after the
artifacts it points at are safely written (so a killed process leaves at most
an unreferenced file, never a row without its data).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from storage import datasets as repo
from storage.artifacts import ArtifactError
from storage.datasets import DatasetPublic, DatasetVersionPublic
from storage.store import Store
from studio.errors import IntegrityError, InvalidInput, NotFound
from studio.names import parse_ref, suggest_name, validate_name
from studio.schema import infer_schema, json_safe

__all__ = [
    "DatasetPublic", "DatasetVersionPublic", "ImportResult", "resolve_version",
    "get_version_by_id", "load_frame", "save_version", "get_profile", "list_datasets",
    "list_versions", "lineage", "import_file", "import_bytes", "target_checks",
    "load_source_bytes", "load_preview",
]


@dataclass
class ImportResult:
    version: DatasetVersionPublic
    warnings: list[str] = field(default_factory=list)
    report: dict = field(default_factory=dict)


# --- lookups --------------------------------------------------------------------

def resolve_version(store: Store, ref: str) -> DatasetVersionPublic:
    """``NAME`` (latest version) or ``NAME:V``."""
    name, version = parse_ref(ref, "dataset")
    with store.session() as session:
        found = repo.get_dataset_version(session=session, name=name, version=version)
        if found is not None:
            return found
        versions = repo.list_dataset_versions(session=session, name=name)
        names = [d.name for d in repo.list_datasets(session=session)]
    if versions:
        have = ", ".join(str(v.version) for v in sorted(versions, key=lambda v: v.version))
        raise NotFound(f"dataset '{name}' has no version {version} (it has versions {have})")
    if names:
        shown = ", ".join(names[:10]) + (" …" if len(names) > 10 else "")
        raise NotFound(f"no dataset named '{name}'; known datasets: {shown}")
    raise NotFound(f"no dataset named '{name}': the store has no datasets yet; import a file "
                   "with `python -m studio import PATH` or load a sample on the Data page")


def get_version_by_id(store: Store, version_id: int) -> DatasetVersionPublic:
    with store.session() as session:
        found = repo.get_dataset_version_by_id(session=session, version_id=int(version_id))
    if found is None:
        raise NotFound(f"no dataset version with id {version_id}")
    return found


def list_datasets(store: Store) -> list[DatasetPublic]:
    with store.session() as session:
        return repo.list_datasets(session=session)


def list_versions(store: Store, name: str) -> list[DatasetVersionPublic]:
    """Versions of ``name``, newest first."""
    with store.session() as session:
        return repo.list_dataset_versions(session=session, name=name)


def lineage(store: Store, version: DatasetVersionPublic) -> list[DatasetVersionPublic]:
    """The chain of versions that made ``version``, root first (``version`` last)."""
    chain = [version]
    seen = {version.id}
    with store.session() as session:
        current = version
        while current.parent_id is not None and current.parent_id not in seen:
            parent = repo.get_dataset_version_by_id(session=session, version_id=current.parent_id)
            if parent is None:
                break
            chain.append(parent)
            seen.add(parent.id)
            current = parent
    return list(reversed(chain))


# --- frames -------------------------------------------------------------------

def _verified_path(store: Store, sha: str, what: str) -> Path:
    try:
        return store.artifacts.path(sha)
    except ArtifactError as exc:
        raise IntegrityError(f"{what}: {exc}") from None


def load_frame(store: Store, version: DatasetVersionPublic) -> pd.DataFrame:
    """The version's data, read from its Parquet artifact after the sha256 check."""
    path = _verified_path(store, version.data_sha, f"dataset {version.ref}")
    return pd.read_parquet(path)


def load_preview(store: Store, version: DatasetVersionPublic, rows: int = 100) -> pd.DataFrame:
    """The first ``rows`` rows of the version, without reading the whole file."""
    import pyarrow.parquet as pq

    path = _verified_path(store, version.data_sha, f"dataset {version.ref}")
    with pq.ParquetFile(path) as pf:
        batches = pf.iter_batches(batch_size=max(1, rows))
        try:
            batch = next(batches)
        except StopIteration:
            return pd.read_parquet(path)
        import pyarrow as pa

        table = pa.Table.from_batches([batch], schema=pf.schema_arrow)
    return table.to_pandas().head(rows)


def load_source_bytes(store: Store, version: DatasetVersionPublic) -> bytes:
    """The original uploaded file of the version's root import."""
    root = lineage(store, version)[0]
    if not root.source_sha:
        raise NotFound(f"dataset {version.ref} was not imported from a file")
    try:
        return store.artifacts.read_bytes(root.source_sha)
    except ArtifactError as exc:
        raise IntegrityError(f"source file of {root.ref}: {exc}") from None


def _parquet_ready(frame: pd.DataFrame) -> pd.DataFrame:
    """Column names as unique strings; object columns of mixed types as text."""
    out = frame
    names = [str(c) for c in frame.columns]
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise InvalidInput("column names must be unique; duplicated: " + ", ".join(dupes[:10]))
    if names != list(frame.columns):
        out = out.copy()
        out.columns = names
    for col in out.columns:
        series = out[col]
        if series.dtype == object:
            kind = pd.api.types.infer_dtype(series, skipna=True)
            if kind not in ("string", "empty", "boolean", "integer", "floating", "decimal",
                            "datetime", "date", "bytes"):
                if out is frame:
                    out = frame.copy()
                out[col] = series.map(lambda v: v if v is None or (isinstance(v, float) and
                                                                   v != v) else str(v))
                out[col] = out[col].astype("str")
    return out


def _repeats(col: pd.Series, sample: int = 20_000) -> bool:
    """Whether dictionary encoding pays for ``col``: under half its sampled values distinct."""
    if len(col) > sample:
        col = col.iloc[np.random.default_rng(0).integers(0, len(col), sample)]
    try:
        return col.nunique(dropna=True) < 0.5 * max(1, col.notna().sum())
    except TypeError:  # unhashable values: let Parquet decide
        return True


def write_parquet(store: Store, frame: pd.DataFrame, schema: list[dict] | None = None) -> str:
    """Write ``frame`` as a Parquet artifact; returns its sha256.

    Dictionary encoding only for columns with repeated values (from ``schema``'s
    distinct counts, or a sample of the values): it shrinks categories and costs time on
    unique numbers.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    scratch = store.artifacts.scratch_path(".parquet")
    try:
        # preserve_index=None: a RangeIndex is stored as metadata, any other index as columns.
        table = pa.Table.from_pandas(frame, preserve_index=None)
        if schema is not None and len(frame):
            limit = max(1000, len(frame) // 10)
            use_dictionary = [e["name"] for e in schema if e.get("distinct", 0) <= limit
                              and e["name"] in table.column_names] or False
        else:  # no counts yet: judge from a sample whether a column's values repeat
            use_dictionary = [str(c) for c in frame.columns if _repeats(frame[c])] or False
        # min/max statistics of numbers that rarely repeat serve no reader of ours (the
        # studio reads whole files); categories keep theirs for other tools' filters
        plain = {f.name for f in table.schema
                 if (pa.types.is_floating(f.type) or pa.types.is_integer(f.type))
                 and f.name not in (use_dictionary or [])}
        stats = [c for c in table.column_names if c not in plain] or False
        pq.write_table(table, scratch, compression="snappy", use_dictionary=use_dictionary,
                       write_statistics=stats)
        del table
        return store.artifacts.move_in(scratch)
    except BaseException:
        scratch.unlink(missing_ok=True)
        raise


def save_version(
    store: Store, *, name: str, frame: pd.DataFrame, parent: DatasetVersionPublic | None = None,
    recipe: list | None = None, import_report: dict | None = None, source_sha: str | None = None,
    source_name: str | None = None, note: str = "",
    schema: list[dict] | Callable[[pd.DataFrame], list[dict]] | None = None,
    profile: dict | Callable[[list[dict]], dict] | None = None,
) -> DatasetVersionPublic:
    """Store ``frame`` as the next version of dataset ``name``.

    The Parquet artifact is written first, then the row in one transaction. Without
    ``schema`` (or with a function computing it from the frame) the schema is inferred
    while the Parquet file is being written. With ``profile`` (a dict from
    :func:`studio.profile.build_profile`, or a function of the schema returning one,
    which then also runs during the write) the profile is stored with the version.
    """
    from concurrent.futures import ThreadPoolExecutor

    name = validate_name(name, "dataset name")
    frame = _parquet_ready(frame)
    known = schema if isinstance(schema, list) else None
    profile_sha = None
    with ThreadPoolExecutor(1) as pool:
        # pyarrow releases the GIL while encoding: schema and profile are computed meanwhile.
        written = pool.submit(write_parquet, store, frame, known)
        try:
            if known is None:
                schema = schema(frame) if callable(schema) else infer_schema(frame)
            if profile is not None:
                built = profile(schema) if callable(profile) else profile
                profile_sha = _put_profile(store, {**built, "targets": {}})
        except BaseException:
            _discard(store, written)
            raise
        data_sha = written.result()
    report = json.loads(json.dumps(import_report or {}, default=json_safe))
    with store.session() as session:
        return repo.create_dataset_version(
            session=session, name=name, data_sha=data_sha, rows=int(len(frame)),
            cols=int(frame.shape[1]), schema=schema, import_report=report,
            source_sha=source_sha, source_name=(source_name or None) and source_name[:255],
            parent_id=parent.id if parent is not None else None,
            recipe=json.loads(json.dumps(recipe or [], default=json_safe)), note=note,
            profile_sha=profile_sha,
        )


# --- profile -----------------------------------------------------------------

def _read_json_artifact(store: Store, sha: str, what: str) -> dict:
    try:
        return json.loads(store.artifacts.read_bytes(sha))
    except ArtifactError as exc:
        raise IntegrityError(f"{what}: {exc}") from None


def _put_profile(store: Store, profile: dict) -> str:
    return store.artifacts.put_bytes(
        json.dumps(profile, default=json_safe, allow_nan=False).encode())


def _store_profile(store: Store, version: DatasetVersionPublic, profile: dict) -> str:
    sha = _put_profile(store, profile)
    with store.session() as session:
        repo.set_profile(session=session, version_id=version.id, profile_sha=sha)
    return sha


def get_profile(store: Store, version: DatasetVersionPublic, target: str | None = None) -> dict:
    """The version's profile, computed once and stored as a JSON artifact.

    With ``target``, ``profile["target"]`` holds the target checks; they are
    computed on first request for that target and kept in the stored profile
    under ``targets`` so later requests (and other processes) reuse them.
    """
    from studio import profile as profiling

    # The row may have been profiled by another process since `version` was read.
    current = get_version_by_id(store, version.id)
    profile = None
    if current.profile_sha:
        try:
            profile = _read_json_artifact(store, current.profile_sha, f"profile of {version.ref}")
        except IntegrityError:
            profile = None  # recompute a damaged profile rather than fail the page
    frame = None
    if profile is None or profile.get("format") != profiling.PROFILE_FORMAT:
        frame = load_frame(store, current)
        profile = profiling.build_profile(frame, current.schema_ or infer_schema(frame),
                                          current.import_report)
        profile["targets"] = {}
        _store_profile(store, current, profile)
    if target is None:
        return {**profile, "target": None}
    if target not in [c["name"] for c in profile["columns"]]:
        raise InvalidInput(f"target '{target}' is not a column of {version.ref}")
    cached = profile.get("targets", {}).get(target)
    if cached is None:
        if frame is None:
            frame = load_frame(store, current)
        cached = json.loads(json.dumps(
            target_checks(frame, current.schema_ or infer_schema(frame), target),
            default=json_safe))
        profile = {**profile, "targets": {**profile.get("targets", {}), target: cached}}
        _store_profile(store, current, profile)
    return {**profile, "target": cached}


def target_checks(frame: pd.DataFrame, schema: list[dict], target: str,
                  task: str | None = None) -> dict:
    """Checks before training on ``target`` (see :func:`studio.profile.target_checks`)."""
    from studio.profile import target_checks as _checks

    return _checks(frame, schema, target, task)


# --- import -------------------------------------------------------------------

def import_file(store: Store, path: str | Path, *, name: str | None = None,
                options: dict | Any | None = None, source_name: str | None = None,
                progress=None, profile: bool = False) -> ImportResult:
    """Import a file as a new dataset, or as a new version of ``name``.

    A refused file raises :class:`InvalidInput` and leaves nothing in the store.
    ``source_name`` is the file name the user knows (an upload's original name).
    ``progress(fraction, message)`` is called as the import advances. With
    ``profile=True`` the profile is computed from the frame in hand and stored too
    (saves reading the Parquet back).
    """
    from concurrent.futures import ThreadPoolExecutor

    from studio.ingest import ImportOptions, preflight, read_table

    path = Path(path)
    shown = source_name or path.name
    dataset_name = validate_name(name, "dataset name") if name else suggest_name(shown)
    options = ImportOptions.from_any(options)
    preflight(path, options)
    data = path.read_bytes()
    with ThreadPoolExecutor(1) as pool:
        # The original file is kept (so a recipe can replay from it); hashing and writing
        # it overlaps with parsing (both release the GIL).
        source = pool.submit(store.artifacts.put_bytes, data)
        try:
            # The schema is inferred later, while the Parquet file is written.
            table = read_table(path, options=options, progress=progress, data=data,
                               infer=False)
        except BaseException:
            _discard(store, source)
            raise
        finally:
            del data
        source_sha = source.result()
    try:
        built = None
        if profile:
            from studio import profile as profiling

            def built(schema: list[dict]) -> dict:
                return profiling.build_profile(table.frame, schema, table.report,
                                               counts=table.counts)
        if progress:
            progress(0.75, "saving the dataset version" + (" and profiling it" if profile
                                                            else ""))
        version = save_version(
            store, name=dataset_name, frame=table.frame, import_report=table.report,
            source_sha=source_sha, source_name=shown,
            schema=lambda frame: infer_schema(frame, counts=table.counts),
            note=f"imported from {shown}"[:500], profile=built,
        )
    except BaseException:
        _remove_if_unused(store, source_sha)
        raise
    if progress:
        progress(1.0, "done")
    return ImportResult(version=version, warnings=list(table.warnings), report=table.report)


def _discard(store: Store, future) -> None:
    """Nothing half-made: drop the source copy of a refused file unless a version uses it."""
    try:
        sha = future.result()
    except Exception:  # noqa: BLE001 - the copy failing too changes nothing for the user
        return
    _remove_if_unused(store, sha)


def _remove_if_unused(store: Store, sha: str) -> None:
    for ds in list_datasets(store):
        for v in list_versions(store, ds.name):
            if sha in (v.source_sha, v.data_sha):
                return
    store.artifacts.remove(sha)


def import_bytes(store: Store, data: bytes, *, filename: str, name: str | None = None,
                 options: dict | None = None, progress=None,
                 profile: bool = False) -> ImportResult:
    """Import an upload held in memory (the Data page) through a scratch file."""
    from studio.ingest import ImportOptions, check_size

    check_size(len(data), ImportOptions.from_any(options))
    scratch = store.artifacts.scratch_path()
    try:
        scratch.write_bytes(data)
        return import_file(store, scratch, name=name, options=options, source_name=filename,
                           progress=progress, profile=profile)
    finally:
        scratch.unlink(missing_ok=True)

