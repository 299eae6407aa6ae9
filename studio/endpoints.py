"""Endpoints: publish a model version under a name, swap, roll back, unpublish; API keys.

The prediction service (``studio.service``) polls the ``endpoint`` table's
``generation`` column about once a second and loads the new pipeline before it
swaps the reference, so a change here is live within seconds without a restart,
and a request in flight finishes on the version it started with. Every change is
kept as an ``endpoint_event`` row: which version served when, and who changed it.

API keys are random tokens ``sk_<prefix>_<secret>``; only the sha256 of the whole
token is stored, beside the visible prefix so a person can tell keys apart.
"""
from __future__ import annotations

import hashlib
import secrets
from typing import Optional

from storage import registry as model_repo
from storage import serving as repo
from storage.artifacts import ArtifactError
from storage.registry import ModelVersionPublic
from storage.serving import ApiKeyPublic, EndpointEventPublic, EndpointPublic
from storage.store import Store
from studio.errors import Conflict, IntegrityError, InvalidInput, NotFound
from studio.names import validate_name
from studio.registry import resolve_model_version

ACTORS = ("ui", "cli", "api", "test")


def validate_endpoint_name(name: str) -> str:
    return validate_name(name, "endpoint name")


def _version(store: Store, model: "str | ModelVersionPublic | int") -> ModelVersionPublic:
    if isinstance(model, ModelVersionPublic):
        return model
    if isinstance(model, int):
        with store.session() as session:
            found = model_repo.get_model_version_by_id(session=session, version_id=model)
        if found is None:
            raise NotFound(f"model version id {model} does not exist")
        return found
    return resolve_model_version(store, model)


def _check_artifact(store: Store, version: ModelVersionPublic) -> None:
    try:
        store.artifacts.path(version.artifact_sha)
    except ArtifactError as exc:
        raise IntegrityError(f"model {version.ref} cannot be published: {exc}") from None


def publish(store: Store, model: "str | ModelVersionPublic | int", endpoint: str,
            actor: str = "cli") -> EndpointPublic:
    """Point ``endpoint`` at a model version (creating the endpoint on first use)."""
    name = validate_endpoint_name(endpoint)
    version = _version(store, model)
    _check_artifact(store, version)
    with store.session() as session:
        current = repo.get_endpoint(session=session, name=name)
        if current is not None and current.model_version_id == version.id:
            return current  # already serving it: no new generation, no history noise
        return repo.set_endpoint_version(session=session, name=name, model_version_id=version.id,
                                         action="publish", actor=actor)


def get_endpoint(store: Store, endpoint: str) -> EndpointPublic:
    name = validate_endpoint_name(endpoint)
    with store.session() as session:
        found = repo.get_endpoint(session=session, name=name)
    if found is None:
        raise NotFound(f"endpoint '{name}' does not exist; publish a model to create it")
    return found


def list_endpoints(store: Store) -> list[EndpointPublic]:
    with store.session() as session:
        return repo.list_endpoints(session=session)


def history(store: Store, endpoint: str) -> list[EndpointEventPublic]:
    """Changes to ``endpoint``, newest first."""
    found = get_endpoint(store, endpoint)
    with store.session() as session:
        return repo.list_endpoint_events(session=session, name=found.name)


def rollback_candidates(store: Store, endpoint: str) -> list[EndpointEventPublic]:
    """Earlier versions this endpoint served (newest first, one entry per version)."""
    current = get_endpoint(store, endpoint)
    seen: set[int] = set()
    found = []
    for event in history(store, endpoint):
        vid = event.model_version_id
        if vid is None or vid == current.model_version_id or vid in seen:
            continue
        seen.add(vid)
        found.append(event)
    return found


def rollback(store: Store, endpoint: str, to: "str | int | None" = None,
             actor: str = "cli") -> EndpointPublic:
    """Serve an earlier version again: ``to`` (a ref or version id) or the one before now."""
    current = get_endpoint(store, endpoint)
    if to is None:
        candidates = rollback_candidates(store, endpoint)
        if not candidates:
            raise Conflict(f"endpoint '{current.name}' has no earlier version to roll back to")
        target = _version(store, candidates[0].model_version_id)
    else:
        target = _version(store, to)
        served = {e.model_version_id for e in history(store, endpoint)}
        if target.id not in served:
            raise InvalidInput(f"endpoint '{current.name}' never served {target.ref}; "
                               "publish it instead")
    if target.id == current.model_version_id:
        raise Conflict(f"endpoint '{current.name}' already serves {target.ref}")
    _check_artifact(store, target)
    with store.session() as session:
        return repo.set_endpoint_version(session=session, name=current.name,
                                         model_version_id=target.id, action="rollback",
                                         actor=actor)


def unpublish(store: Store, endpoint: str, actor: str = "cli") -> EndpointPublic:
    """Stop serving: the endpoint answers 404 until something is published again."""
    current = get_endpoint(store, endpoint)
    if current.model_version_id is None:
        raise Conflict(f"endpoint '{current.name}' is not serving anything")
    with store.session() as session:
        return repo.set_endpoint_version(session=session, name=current.name,
                                         model_version_id=None, action="unpublish", actor=actor)


def endpoints_serving(store: Store, version_ids: list[int]) -> dict[int, list[str]]:
    with store.session() as session:
        return repo.list_endpoints_serving(session=session, model_version_ids=version_ids)


# --- API keys --------------------------------------------------------------------

def hash_key(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create_api_key(store: Store, name: str) -> tuple[ApiKeyPublic, str]:
    """A new key; the token is returned once and only its hash is stored."""
    name = validate_name(name, "API key name")
    prefix = secrets.token_hex(4)
    token = f"sk_{prefix}_{secrets.token_urlsafe(32)}"
    with store.session() as session:
        key = repo.create_api_key(session=session, name=name, prefix=prefix,
                                  key_hash=hash_key(token))
    return key, token


def list_api_keys(store: Store, include_revoked: bool = True) -> list[ApiKeyPublic]:
    with store.session() as session:
        return repo.list_api_keys(session=session, include_revoked=include_revoked)


def revoke_api_key(store: Store, key: "int | str") -> ApiKeyPublic:
    """Revoke by id or by visible prefix."""
    with store.session() as session:
        if isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
            found = repo.get_api_key(session=session, key_id=int(key))
        else:
            prefix = key.removeprefix("sk_").split("_")[0]
            found = repo.get_api_key(session=session, prefix=prefix)
        if found is None:
            raise NotFound(f"API key '{key}' does not exist; `python -m studio apikey list` shows them")
        return repo.revoke_api_key(session=session, key_id=found.id)


def check_api_key(store: Store, token: Optional[str]) -> Optional[int]:
    """The id of the active key ``token`` is, or None."""
    if not token:
        return None
    with store.session() as session:
        return repo.active_api_key_hashes(session=session).get(hash_key(token))
