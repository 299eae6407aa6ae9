"""The model registry: register fitted pipelines, resolve references, load safely.

A registered model version is one fitted scikit-learn ``Pipeline`` from the raw
input columns to the prediction, stored as a joblib artifact named by its
sha256, plus a card (the content of ``model.json``):

    task, target, classes, input_schema [{name, dtype, semantic, ...}], metric,
    metrics {cv: {...}, holdout: {...}}, algorithm, params,
    lineage {dataset, dataset_version_id, recipe, job_id, trial_id, seed, source_name},
    library_versions, name, version, sha256, created_at

The pipeline is unpickled only after its file's sha256 matches the registry.
"""
from __future__ import annotations

import json
import platform
import threading
from collections import OrderedDict
from datetime import datetime, timezone
from typing import Any

import joblib

from storage import registry as repo
from storage.artifacts import ArtifactError
from storage.registry import STAGES, ModelVersionPublic
from storage.store import Store
from studio.errors import IntegrityError, InvalidInput, NotFound
from studio.names import parse_ref, validate_name


def library_versions() -> dict[str, str]:
    import importlib.metadata as md

    versions = {"python": platform.python_version()}
    for dist in ("scikit-learn", "xgboost", "lightgbm", "pandas", "numpy", "optuna", "joblib", "scipy"):
        try:
            versions[dist] = md.version(dist)
        except md.PackageNotFoundError:
            pass
    return versions


def register_model(
    store: Store, *, name: str, pipeline: Any, card: dict, job_id: int | None = None,
    trial_id: int | None = None, dataset_version_id: int | None = None,
    baseline: dict | None = None, notes: str = "",
) -> ModelVersionPublic:
    """Store ``pipeline`` and record a new version of model ``name``."""
    name = validate_name(name, "model name")
    for key in ("task", "target"):
        if key not in card:
            raise InvalidInput(f"a model card needs '{key}'")
    scratch = store.artifacts.scratch_path(".joblib")
    try:
        joblib.dump(pipeline, scratch)
        sha = store.artifacts.move_in(scratch)
    finally:
        scratch.unlink(missing_ok=True)
    baseline_sha = None
    if baseline is not None:
        baseline_sha = store.artifacts.put_bytes(
            json.dumps(baseline, default=_json_default).encode()
        )
    card = {
        **card,
        "library_versions": card.get("library_versions") or library_versions(),
        "created_at": datetime.now(timezone.utc).isoformat(),
    }
    metric = card.get("metric")
    score = (card.get("metrics") or {}).get("cv", {}).get(metric) if metric else None
    with store.session() as session:
        return repo.create_model_version(
            session=session, name=name, artifact_sha=sha, card=card, task=card["task"],
            target=str(card["target"]), metric=metric, score=score, job_id=job_id,
            trial_id=trial_id, dataset_version_id=dataset_version_id,
            baseline_sha=baseline_sha, notes=notes,
        )


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def resolve_model_version(store: Store, ref: str) -> ModelVersionPublic:
    """``NAME`` (latest) or ``NAME:VERSION`` → the model version, or NotFound."""
    name, version = parse_ref(ref, "model")
    with store.session() as session:
        found = repo.get_model_version(session=session, name=name, version=version)
    if found is None:
        what = f"model '{name}'" + (f" version {version}" if version else "")
        raise NotFound(f"{what} does not exist; `python -m studio models` lists them")
    return found


_cache: "OrderedDict[str, Any]" = OrderedDict()
_cache_lock = threading.Lock()
_CACHE_SIZE = 16


def load_pipeline(store: Store, version: ModelVersionPublic) -> Any:
    """The fitted pipeline of ``version``, loaded only after its sha256 matches."""
    sha = version.artifact_sha
    with _cache_lock:
        if sha in _cache:
            _cache.move_to_end(sha)
            return _cache[sha]
    try:
        path = store.artifacts.path(sha)
    except ArtifactError as exc:
        raise IntegrityError(f"model {version.ref}: {exc}") from None
    pipeline = joblib.load(path)
    with _cache_lock:
        _cache[sha] = pipeline
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return pipeline


def load_baseline(store: Store, version: ModelVersionPublic) -> dict | None:
    if not version.baseline_sha:
        return None
    try:
        return json.loads(store.artifacts.read_bytes(version.baseline_sha))
    except ArtifactError as exc:
        raise IntegrityError(f"baseline of model {version.ref}: {exc}") from None


def set_stage(store: Store, version: ModelVersionPublic, stage: str) -> ModelVersionPublic:
    if stage not in STAGES:
        raise InvalidInput(f"stage must be one of {', '.join(STAGES)}")
    with store.session() as session:
        return repo.update_model_version(session=session, version_id=version.id, stage=stage)


def set_notes(store: Store, version: ModelVersionPublic, notes: str) -> ModelVersionPublic:
    with store.session() as session:
        return repo.update_model_version(session=session, version_id=version.id, notes=notes[:20000])
