"""Model cards: what the Models page and `python -m studio models` show of a version.

Reads the registry (``studio.registry``), the endpoints serving each version,
the evaluation JSON artifact named by ``card["evaluation_sha"]`` and the data
lineage back to the uploaded file. Nothing here imports streamlit.
"""
from __future__ import annotations

import json
from typing import Any

from storage import registry as repo
from storage.artifacts import ArtifactError
from storage.registry import STAGES, ModelVersionPublic
from storage.store import Store
from studio.errors import IntegrityError, NotFound


def list_versions(store: Store, name: str | None = None) -> list[ModelVersionPublic]:
    with store.session() as session:
        return repo.list_model_versions(session=session, name=name, limit=1000)


def list_model_versions(store: Store, name: str | None = None) -> list[dict]:
    """Every version as a plain row, newest first, with the endpoints serving it."""
    from studio.endpoints import endpoints_serving

    versions = list_versions(store, name)
    serving = endpoints_serving(store, [v.id for v in versions])
    return [
        {"model": v.model, "version": v.version, "ref": v.ref, "id": v.id, "task": v.task,
         "target": v.target, "metric": v.metric, "score": v.score, "stage": v.stage,
         "algorithm": (v.card or {}).get("algorithm"), "created_at": v.created_at.isoformat(),
         "endpoints": sorted(serving.get(v.id, []))}
        for v in versions
    ]


def model_names(store: Store) -> list[str]:
    with store.session() as session:
        return [m.name for m in repo.list_models(session=session)]


def get_version(store: Store, version_id: int) -> ModelVersionPublic:
    with store.session() as session:
        found = repo.get_model_version_by_id(session=session, version_id=version_id)
    if found is None:
        raise NotFound(f"model version id {version_id} does not exist")
    return found


def load_evaluation(store: Store, version: ModelVersionPublic) -> dict | None:
    """The evaluation JSON (confusion matrix, ROC/PR, residuals, …) or None when absent."""
    sha = (version.card or {}).get("evaluation_sha")
    if not sha:
        return None
    try:
        return json.loads(store.artifacts.read_bytes(sha))
    except ArtifactError as exc:
        raise IntegrityError(f"evaluation of model {version.ref}: {exc}") from None


def data_lineage(store: Store, version: ModelVersionPublic) -> dict[str, Any]:
    """The dataset version it was trained on and the chain back to the uploaded file."""
    card = version.card or {}
    lineage = dict(card.get("lineage") or {})
    out: dict[str, Any] = {"dataset": lineage.get("dataset"), "recipe": lineage.get("recipe") or [],
                           "source_name": lineage.get("source_name"), "job_id": lineage.get("job_id")
                           or version.job_id, "trial_id": lineage.get("trial_id") or version.trial_id,
                           "seed": lineage.get("seed"), "chain": []}
    version_id = lineage.get("dataset_version_id") or version.dataset_version_id
    if version_id:
        try:
            from studio.datasets import get_version_by_id, lineage as chain_of

            dv = get_version_by_id(store, version_id)
            out["dataset"] = dv.ref
            out["chain"] = [{"ref": v.ref, "rows": v.rows, "cols": v.cols,
                             "source_name": v.source_name, "recipe_steps": len(v.recipe or []),
                             "created_at": v.created_at.isoformat()} for v in chain_of(store, dv)]
            if out["chain"] and not out["source_name"]:
                out["source_name"] = out["chain"][0]["source_name"]
        except (NotFound, ImportError):
            pass
    return out


def stages() -> tuple[str, ...]:
    return STAGES
