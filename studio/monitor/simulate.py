"""Demo traffic: realistic requests sent to a live endpoint over HTTP.

Rows come from the model's training dataset version when it can be loaded
(then feedback carries the true target), otherwise they are drawn from the
baseline's distributions (then feedback is synthetic: the prediction, wrong at
about the validation error rate, and more often wrong when drift is asked
for). ``drift`` shifts one column: numbers by 1.5 standard deviations,
categories towards their rarest value plus a share of a never-seen one.

Requests go through the real service (``settings.base_service_url``), so they
are validated, predicted and logged exactly like a client's. When the service
requires API keys and the caller gave none, the simulator (a trusted local
process with store access) creates a key named ``studio-simulator`` for the run,
sends it as ``X-API-Key`` and revokes it when the run ends, whatever the outcome.
"""
from __future__ import annotations

import math
import time
import uuid
from typing import Any, Callable

import numpy as np

from storage import monitoring as repo
from storage.store import Store
from studio.errors import InvalidInput, NotFound, StudioError
from studio.monitor.check import _model_and_baseline

BATCH = 50
MAX_ROWS = 100_000
NEW_CATEGORY_SHARE = 0.1
NUMERIC_SHIFT_SD = 1.5
SIMULATOR_KEY_NAME = "studio-simulator"
KEY_PICKUP_S = 15.0        # the service reloads its keys every poll (1 s by default)
STALE_KEY_S = 6 * 3600     # a run killed before revoking its key: revoked by a later run


# --- rows -------------------------------------------------------------------------

def _typed(key: str, dtype: str, semantic: str) -> Any:
    if semantic == "boolean" and key in ("True", "False"):
        return key == "True"
    if dtype.startswith(("int", "Int", "uint")):
        try:
            return int(key)
        except ValueError:
            return key
    if dtype.startswith(("float", "Float")):
        try:
            return float(key)
        except ValueError:
            return key
    return key


def _sample_numeric(base: dict, n: int, rng: np.random.Generator) -> np.ndarray:
    counts = np.asarray(base.get("counts") or [], dtype="float64")
    if not counts.sum():
        return np.full(n, np.nan)
    bins = rng.choice(len(counts), size=n, p=counts / counts.sum())
    if base.get("discrete"):
        values = np.asarray(base["means"], dtype="float64")[bins]
    else:
        bounds = [base["min"], *base["edges"], base["max"]]
        lo = np.asarray(bounds[:-1], dtype="float64")[bins]
        hi = np.asarray(bounds[1:], dtype="float64")[bins]
        values = lo + (hi - lo) * rng.random(n)
    if base.get("integer"):
        values = np.round(values)
    return values


def _sample_column(name: str, base: dict, n: int, rng: np.random.Generator) -> list:
    kind, semantic, dtype = base.get("kind"), base.get("semantic", ""), base.get("dtype", "")
    missing = rng.random(n) < float(base.get("missing_rate") or 0.0)
    if kind == "numeric":
        values = [None if m or not math.isfinite(v) else
                  (int(v) if base.get("integer") and dtype.startswith("int") else float(v))
                  for v, m in zip(_sample_numeric(base, n, rng), missing)]
    elif kind == "categorical":
        top = base.get("top") or {}
        if not top:
            return [None] * n
        keys = list(top)
        p = np.asarray(list(top.values()), dtype="float64")
        picks = rng.choice(len(keys), size=n, p=p / p.sum())
        values = [None if m else _typed(keys[i], dtype, semantic) for i, m in zip(picks, missing)]
    elif kind == "text":
        lengths = _sample_numeric(base, n, rng)
        words = ["data", "model", "value", "order", "client", "note", "service", "report"]
        values = [None if m or not math.isfinite(length) else
                  " ".join(rng.choice(words, size=max(1, int(length) // 6)))[:max(1, int(length))]
                  for length, m in zip(lengths, missing)]
    elif kind == "datetime" and base.get("min") and base.get("max"):
        import pandas as pd

        lo, hi = pd.Timestamp(base["min"]).value, pd.Timestamp(base["max"]).value
        values = [None if m else pd.Timestamp(int(lo + (hi - lo) * r)).isoformat()
                  for r, m in zip(rng.random(n), missing)]
    else:  # identifiers: fresh ones
        numeric = dtype.startswith(("int", "Int"))
        values = [None if m else (int(rng.integers(10**6, 10**9)) if numeric else uuid.uuid4().hex[:12])
                  for m in missing]
    return values


def rows_from_baseline(baseline: dict, n: int, rng: np.random.Generator) -> list[dict]:
    columns = [c["name"] for c in baseline.get("columns") or []]
    data = {name: _sample_column(name, baseline["features"][name], n, rng) for name in columns}
    return [{name: data[name][i] for name in columns} for i in range(n)]


def apply_drift(rows: list[dict], column: str, base: dict, rng: np.random.Generator) -> None:
    """Shift ``column`` in place (see the module docstring)."""
    kind = base.get("kind")
    if kind in ("numeric", "text"):
        shift = NUMERIC_SHIFT_SD * (base.get("std") or abs(base.get("mean") or 1.0) or 1.0)
        for row in rows:
            value = row.get(column)
            if kind == "text" and isinstance(value, str):
                row[column] = value * 3
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                shifted = value + shift
                row[column] = int(round(shifted)) if isinstance(value, int) else float(shifted)
    elif kind == "categorical":
        top = base.get("top") or {}
        if not top:
            return
        keys = list(top)
        # the rarest category becomes the most common; some values are new altogether
        p = np.asarray(list(top.values()), dtype="float64")
        p = p[::-1] / p.sum()
        dtype, semantic = base.get("dtype", ""), base.get("semantic", "")
        allow_new = semantic != "boolean"
        for row in rows:
            if row.get(column) is None:
                continue
            if allow_new and rng.random() < NEW_CATEGORY_SHARE:
                row[column] = f"new_{column}"[:40]
            else:
                row[column] = _typed(keys[rng.choice(len(keys), p=p)], dtype, semantic)
    else:
        raise InvalidInput(f"column '{column}' is a {kind} column; drift can be simulated on "
                           "number, category or text columns")


def _rows_from_dataset(store: Store, version, baseline: dict, n: int,
                       rng: np.random.Generator) -> tuple[list[dict], list] | None:
    """Rows (and true targets) sampled from the model's training dataset, if available."""
    if not version.dataset_version_id:
        return None
    try:
        from studio.datasets import get_version_by_id, load_frame
        from studio.schema import json_safe

        frame = load_frame(store, get_version_by_id(store, version.dataset_version_id))
    except (StudioError, ImportError, OSError):
        return None
    columns = [c["name"] for c in baseline.get("columns") or []]
    target = version.target
    if target not in frame.columns or any(c not in frame.columns for c in columns) or not len(frame):
        return None
    picks = rng.integers(0, len(frame), size=n)
    sample = frame.iloc[picks]
    rows = [{c: json_safe(v) for c, v in zip(columns, values)}
            for values in sample[columns].itertuples(index=False, name=None)]
    return rows, [json_safe(v) for v in sample[target]]


def _synthetic_actuals(predictions: list, probabilities: list | None, task: str, baseline: dict,
                       drifted: bool, rng: np.random.Generator) -> list:
    from studio.monitor.performance import baseline_metric

    metrics = baseline.get("metrics")
    if task == "regression":
        pred = baseline.get("prediction") or {}
        scale = baseline_metric(metrics, "rmse") or 0.1 * (pred.get("std") or 1.0)
        scale *= 2.5 if drifted else 1.0
        return [None if p is None else float(p) + float(rng.normal(0, scale)) for p in predictions]
    accuracy = baseline_metric(metrics, "accuracy") or 0.85
    accuracy = max(0.3, accuracy - (0.3 if drifted else 0.0))
    classes = baseline.get("classes") or sorted({p for p in predictions if p is not None}, key=str)
    out = []
    for p in predictions:
        if p is None or rng.random() < accuracy or len(classes) < 2:
            out.append(p)
        else:
            others = [c for c in classes if str(c) != str(p)]
            out.append(others[int(rng.integers(len(others)))])
    return out


# --- HTTP -------------------------------------------------------------------------

def _ids(body: dict, n: int) -> list[str]:
    for key in ("request_ids", "ids", "request_id"):
        value = body.get(key)
        if isinstance(value, list) and len(value) == n:
            return [str(v) for v in value]
    return []


def _error(response) -> str:
    try:
        body = response.json()
        message = body.get("detail") or body.get("message") or body.get("error") or body
    except ValueError:
        message = response.text[:200]
    return f"HTTP {response.status_code}: {str(message)[:300]}"


class _Auth:
    """The API key requests carry: the caller's, or one created for this run (revoked after)."""

    def __init__(self, store: Store, given: str | None):
        self.store, self.given, self.token = store, given, given
        self.minted = None      # ApiKeyPublic of the key created for this run
        self.revoked = False

    @property
    def headers(self) -> dict:
        return {"X-API-Key": self.token} if self.token else {}

    def mint(self) -> None:
        from studio.endpoints import create_api_key

        _revoke_stale_keys(self.store)
        self.minted, self.token = create_api_key(self.store, SIMULATOR_KEY_NAME)

    def revoke(self) -> None:
        if self.minted is not None and not self.revoked:
            from studio.endpoints import revoke_api_key

            revoke_api_key(self.store, self.minted.id)
            self.revoked = True

    def describe(self) -> str | None:
        if self.given:
            return "given"
        return "temporary (revoked)" if self.minted is not None else None


def _revoke_stale_keys(store: Store) -> None:
    """Keys of earlier runs that were killed before they could revoke their own."""
    from storage.tables import utcnow
    from studio.endpoints import list_api_keys, revoke_api_key

    now = utcnow()
    for key in list_api_keys(store, include_revoked=False):
        created = key.created_at if key.created_at.tzinfo else key.created_at.replace(
            tzinfo=now.tzinfo)
        if key.name == SIMULATOR_KEY_NAME and (now - created).total_seconds() > STALE_KEY_S:
            revoke_api_key(store, key.id)


PUBLISH_WAIT_S = 5.0


def _authorise(client, auth: _Auth, url: str, endpoint: str, base_url: str,
               wait_s: float) -> None:
    """Make sure the service accepts our requests before sending any (a refused
    invocation would be logged as a 4xx and spoil the traffic being simulated)."""
    # an endpoint published a moment ago reaches the service with its next poll (≤ 5 s)
    published = time.monotonic() + PUBLISH_WAIT_S
    response = client.get(url, headers=auth.headers)
    while response.status_code == 404 and time.monotonic() < published:
        time.sleep(0.25)
        response = client.get(url, headers=auth.headers)
    if response.status_code == 404:
        raise NotFound(f"the service does not know endpoint '{endpoint}': {_error(response)}")
    if response.status_code != 401:
        return
    if auth.given:
        raise InvalidInput(f"the service at {base_url} refused the API key given "
                           f"({_error(response)}); `python -m studio apikey list` shows the "
                           "active keys, or leave --api-key out and the simulator creates a "
                           "temporary one")
    auth.mint()
    deadline = time.monotonic() + wait_s
    while True:
        response = client.get(url, headers=auth.headers)
        if response.status_code != 401:
            if response.status_code == 404:
                raise NotFound(f"the service does not know endpoint '{endpoint}': "
                               f"{_error(response)}")
            return
        if time.monotonic() > deadline:
            raise InvalidInput(
                f"the prediction service at {base_url} requires an API key and did not accept "
                f"the temporary key the simulator created in this studio's store within "
                f"{wait_s:.0f} s ({_error(response)}). It is probably using another store: "
                "start it from this studio (`python -m studio serve`, or `make run`) with the "
                "same STUDIO_HOME / STUDIO_DATABASE_URL, or pass a key it knows with "
                "`python -m studio simulate ... --api-key KEY`")
        time.sleep(0.2)


def simulate(settings, store: Store, endpoint: str, *, rows: int, drift: str | None = None,
             feedback: float = 0.3, seed: int | None = None, api_key: str | None = None,
             on_progress: Callable[[int, int], Any] | None = None,
             wait_for_log_s: float = 20.0, key_wait_s: float = KEY_PICKUP_S) -> dict:
    """Send ``rows`` predictions (and feedback for a share) to the live endpoint."""
    import httpx

    if not 1 <= int(rows) <= MAX_ROWS:
        raise InvalidInput(f"--rows must be between 1 and {MAX_ROWS:,}")
    if not 0.0 <= feedback <= 1.0:
        raise InvalidInput("the feedback share must be between 0 and 1")
    version, baseline, note = _model_and_baseline(store, endpoint)
    if version is None or baseline is None:
        raise InvalidInput(f"cannot simulate traffic for endpoint '{endpoint}': {note}")
    features = baseline.get("features") or {}
    if drift is not None and drift not in features:
        known = ", ".join(list(features)[:20])
        raise InvalidInput(f"column '{drift}' is not an input of endpoint '{endpoint}' "
                           f"(its columns: {known})")
    rng = np.random.default_rng(seed)
    sampled = _rows_from_dataset(store, version, baseline, rows, rng)
    source = "training dataset" if sampled else "baseline distributions"
    records, actuals = sampled if sampled else (rows_from_baseline(baseline, rows, rng), None)
    if drift is not None:
        apply_drift(records, drift, features[drift], rng)

    auth = _Auth(store, api_key)
    url = f"{settings.base_service_url}/endpoints/{endpoint}"
    ids: list[str] = []
    predictions: list = []
    probabilities: list = []
    errors: dict[str, int] = {}
    started = time.perf_counter()
    try:
        with httpx.Client(timeout=30.0) as client:
            _authorise(client, auth, url, endpoint, settings.base_service_url, key_wait_s)
            client.headers.update(auth.headers)
            for i in range(0, len(records), BATCH):
                batch = records[i:i + BATCH]
                response = client.post(f"{url}/invocations", json={"dataframe_records": batch})
                if response.status_code == 404:
                    raise NotFound(f"the service does not know endpoint '{endpoint}': "
                                   f"{_error(response)}")
                if response.status_code in (401, 403):
                    raise InvalidInput(f"the service refused the request part-way "
                                       f"({_error(response)}): was the key revoked meanwhile? "
                                       "Send the traffic again")
                if response.status_code >= 400:
                    errors[str(response.status_code)] = errors.get(str(response.status_code), 0) \
                        + len(batch)
                    ids.extend([""] * len(batch))
                    predictions.extend([None] * len(batch))
                    probabilities.extend([None] * len(batch))
                else:
                    body = response.json()
                    got = _ids(body, len(batch))
                    ids.extend(got or [""] * len(batch))
                    predictions.extend(body.get("predictions") or [None] * len(batch))
                    proba = body.get("probabilities")
                    probabilities.extend(proba if isinstance(proba, list) else [None] * len(batch))
                if on_progress:
                    on_progress(min(i + BATCH, len(records)), len(records))
            sent_ids = [r for r in ids if r]
            logged = _wait_for_log(store, sent_ids, wait_for_log_s)
            labelled = 0
            if feedback > 0 and sent_ids:
                if actuals is None:
                    actuals = _synthetic_actuals(predictions, probabilities, version.task,
                                                 baseline, drift is not None, rng)
                chosen = [i for i in range(len(records))
                          if ids[i] and actuals[i] is not None and rng.random() < feedback]
                for j in range(0, len(chosen), 500):
                    part = chosen[j:j + 500]
                    items = [{"request_id": ids[i], "actual": actuals[i]} for i in part]
                    response = client.post(f"{url}/feedback", json={"feedback": items})
                    if response.status_code >= 400:
                        raise StudioError(f"the service refused feedback: {_error(response)}")
                    labelled += len(part)
    except httpx.ConnectError:
        raise StudioError(f"the prediction service is not answering at "
                          f"{settings.base_service_url}: start it with `python -m studio serve` "
                          "(or `make run`)") from None
    except httpx.TimeoutException:
        raise StudioError(f"the prediction service at {settings.base_service_url} did not "
                          "answer within 30 s") from None
    finally:
        auth.revoke()
    return {"endpoint": endpoint, "model": version.ref, "rows": len(records),
            "answered": len(sent_ids), "errors": errors, "logged": logged,
            "feedback": labelled, "drift": drift, "source": source, "api_key": auth.describe(),
            "seconds": round(time.perf_counter() - started, 3)}


def _wait_for_log(store: Store, request_ids: list[str], timeout: float) -> int:
    """The service writes its log in the background; wait until our rows are there."""
    deadline = time.monotonic() + timeout
    while True:
        with store.session() as session:
            found = repo.count_logged_request_ids(session=session, request_ids=request_ids)
        if found >= len(request_ids) or time.monotonic() > deadline:
            return found
        time.sleep(0.2)
