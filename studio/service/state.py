"""What the service serves: endpoints polled from the store, models swapped without a restart.

A thread reads ``(name, generation, model_version_id)`` of every endpoint about
once a second (one small query). When a generation changes it loads the new
version *first* (sha256 checked by the registry before unpickling, fast path
compiled and verified) and only then swaps the endpoint's slot, so a request in
flight finishes on the model it started with and no request sees a half-loaded
one. A version that cannot be loaded leaves the endpoint in ``error`` with the
reason, shown by ``GET /endpoints/{name}`` and in every invocation's answer.
Active API-key hashes are refreshed by the same loop (revocation takes effect
within a second).
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Optional

from storage import registry as model_repo
from storage import serving as repo
from storage.store import Store
from studio.errors import StudioError
from studio.registry import load_pipeline
from studio.service.model import LoadedModel

log = logging.getLogger("studio.service")
POLL_S = 1.0


@dataclass
class Slot:
    name: str
    generation: int
    model_version_id: Optional[int]
    status: str                      # ready, error, unpublished
    model: Optional[LoadedModel] = None
    error: Optional[str] = None
    since: float = field(default_factory=time.time)


class EndpointTable:
    def __init__(self, store: Store, poll_s: float = POLL_S):
        self.store = store
        self.poll_s = poll_s
        self.slots: dict[str, Slot] = {}
        self.key_hashes: dict[str, int] = {}
        self.used_keys: set[int] = set()
        self.load_errors = 0
        self.swaps = 0
        self._models: dict[int, LoadedModel] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def get(self, name: str) -> Optional[Slot]:
        return self.slots.get(name)

    def _load(self, version_id: int) -> LoadedModel:
        cached = self._models.get(version_id)
        if cached is not None:
            return cached
        with self.store.session() as session:
            version = model_repo.get_model_version_by_id(session=session, version_id=version_id)
        if version is None:
            raise StudioError(f"model version id {version_id} no longer exists in the registry")
        model = LoadedModel(version, load_pipeline(self.store, version))
        self._models[version_id] = model
        return model

    def refresh(self) -> None:
        """One poll: load what changed, then swap it in."""
        with self._lock:
            with self.store.session() as session:
                states = repo.list_endpoint_states(session=session)
                self.key_hashes = repo.active_api_key_hashes(session=session)
                used, self.used_keys = self.used_keys, set()
                if used:
                    repo.touch_api_keys(session=session, key_ids=sorted(used))
            current = self.slots
            changed = [s for s in states if s.name not in current
                       or current[s.name].generation != s.generation]
            gone = set(current) - {s.name for s in states}
            if not changed and not gone:
                return
            new = dict(current)
            for name in gone:
                new.pop(name, None)
            for state in changed:
                new[state.name] = self._slot(state)
            self.slots = new  # one reference swap: requests see the old or the new table
            self.swaps += len(changed)
            live = {s.model_version_id for s in new.values() if s.model is not None}
            for vid in list(self._models):
                if vid not in live:
                    self._models.pop(vid, None)

    def _slot(self, state) -> Slot:
        if state.model_version_id is None:
            return Slot(state.name, state.generation, None, "unpublished")
        try:
            model = self._load(state.model_version_id)
        except StudioError as exc:
            self.load_errors += 1
            log.error("endpoint %s: %s", state.name, exc)
            return Slot(state.name, state.generation, state.model_version_id, "error",
                        error=str(exc))
        except Exception as exc:  # noqa: BLE001 - a broken model must not stop the service
            self.load_errors += 1
            log.exception("endpoint %s: loading version %s failed", state.name,
                          state.model_version_id)
            return Slot(state.name, state.generation, state.model_version_id, "error",
                        error=f"the model could not be loaded: {type(exc).__name__}: {exc}")
        return Slot(state.name, state.generation, state.model_version_id, "ready", model=model)

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.refresh()
            except Exception:  # noqa: BLE001 - a busy or briefly locked store: next poll
                log.exception("polling endpoints failed; retrying")

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="endpoint-poller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
