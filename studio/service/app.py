"""The prediction service's HTTP app: ``create_app(settings)``.

Routes (DESIGN.md's contract): ``GET /ping``, ``GET /endpoints``,
``GET /endpoints/{name}``, ``POST /endpoints/{name}/invocations`` (``?explain=true``),
``POST /endpoints/{name}/feedback``, ``GET /metrics``, ``/docs``.

The invocation path is kept short: the body is read with its size checked
before parsing, parsed with orjson, validated column by column against the
training schema, turned into the estimator's matrix by the compiled fast path,
and queued to a micro-batcher that predicts every request waiting at that moment
in one call on a worker thread. Answers are serialised with orjson; the
prediction log is written by a background thread.
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response

from studio import open_store
from studio.errors import InvalidInput
from studio.names import validate_name
from studio.service import background
from studio.service.compiled import UseFallback
from studio.service.inputs import InputProblem, parse_body
from studio.service.logwriter import LogWriter, dumps_log
from studio.service.metrics import Metrics, SharedCounters
from studio.service.state import POLL_S, EndpointTable
from studio.settings import Settings

log = logging.getLogger("studio.service")
PUBLISH_S = 1.0   # how often a worker of several publishes its /metrics counters
JSON_TYPES = ("application/json", "text/json")
CSV_TYPES = ("text/csv", "application/csv")
MAX_BATCH_ROWS = 2048


def _json(obj: Any, status: int = 200, headers: dict | None = None) -> Response:
    return Response(orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS,
                                 default=str),
                    status_code=status, media_type="application/json", headers=headers)


class Problem(Exception):
    def __init__(self, status: int, message: str, details: list | None = None,
                 headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.details, self.headers = status, message, details, headers


# --- micro-batching -----------------------------------------------------------------

class Batcher:
    """Predicts every request queued at the moment in one estimator call.

    No timer: while one batch is predicted on the worker thread, new requests
    queue up and form the next batch, so a lone client pays no waiting and busy
    clients share the estimator's per-call overhead.
    """

    def __init__(self):
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="predict")
        self.pending: deque = deque()
        self.wake: asyncio.Event | None = None
        self.task: asyncio.Task | None = None
        self.batches = 0
        self.batched_requests = 0

    def start(self) -> None:
        self.wake = asyncio.Event()
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self.task:
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass
        self.executor.shutdown(wait=True)

    async def predict(self, model, batch):
        loop = asyncio.get_running_loop()
        if not model.fast:
            return await loop.run_in_executor(self.executor, model.predict, batch)
        try:
            X = model.matrix(batch)
        except UseFallback:
            return await loop.run_in_executor(self.executor, model.predict_frame, batch)
        future = loop.create_future()
        self.pending.append((model, X, future))
        self.wake.set()
        return await future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self.wake.wait()
            self.wake.clear()
            while self.pending:
                group = [self.pending.popleft()]
                model, rows = group[0][0], _rows(group[0][1])
                while self.pending and self.pending[0][0] is model and rows < MAX_BATCH_ROWS:
                    item = self.pending.popleft()
                    rows += _rows(item[1])
                    group.append(item)
                try:
                    results = await loop.run_in_executor(self.executor, _predict_group, model, group)
                except Exception as exc:  # noqa: BLE001 - each waiting request gets the error
                    for _, _, future in group:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                self.batches += 1
                self.batched_requests += len(group)
                for (_, _, future), result in zip(group, results):
                    if not future.done():
                        future.set_result(result)


def _rows(X) -> int:
    return X[0].shape[0] if isinstance(X, tuple) else X.shape[0]


def _stack(mats: list):
    if isinstance(mats[0], tuple):  # an ensemble: one matrix per member
        return tuple(_stack([m[i] for m in mats]) for i in range(len(mats[0])))
    if hasattr(mats[0], "toarray"):
        from scipy import sparse

        return sparse.vstack(mats, format="csr")
    return np.vstack(mats)


def _predict_group(model, group: list) -> list:
    if len(group) == 1:
        return [model.predict_matrix(group[0][1])]
    mats = [item[1] for item in group]
    joined = model.predict_matrix(_stack(mats))
    out, at = [], 0
    from studio.service.model import Prediction

    for m in mats:
        n = _rows(m)
        proba = joined.probabilities[at:at + n] if joined.probabilities is not None else None
        out.append(Prediction(joined.predictions[at:at + n], proba, "fast"))
        at += n
    return out


# --- the app ------------------------------------------------------------------------

def _host_allowed(host: str, allow: list[str]) -> bool:
    if "*" in allow:
        return True
    host = host.strip().lower()
    if host.startswith("["):
        name = host[: host.find("]") + 1]
    else:
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return name in allow or host in allow


class HostCheck:
    """Refuse requests whose Host header is not on the allow-list (DNS rebinding)."""

    def __init__(self, app, allow: list[str]):
        self.app = app
        self.allow = allow

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            host = ""
            for key, value in scope["headers"]:
                if key == b"host":
                    host = value.decode("latin-1")
                    break
            if not _host_allowed(host, self.allow):
                body = orjson.dumps({
                    "error": f"Host header '{host[:100]}' is not allowed by this service; "
                             "add it to STUDIO_ALLOWED_HOSTS if you reach the service under "
                             "that name", "status": 400})
                await send({"type": "http.response.start", "status": 400,
                            "headers": [(b"content-type", b"application/json"),
                                        (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


INVOCATION_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": {
            "description": "A list of records, one record, or an MLflow-style envelope.",
            "anyOf": [
                {"type": "array", "items": {"type": "object"}},
                {"type": "object", "properties": {"dataframe_split": {
                    "type": "object", "properties": {
                        "columns": {"type": "array", "items": {"type": "string"}},
                        "data": {"type": "array", "items": {"type": "array"}}},
                    "required": ["data"]}}, "required": ["dataframe_split"]},
                {"type": "object", "properties": {"dataframe_records": {
                    "type": "array", "items": {"type": "object"}}},
                 "required": ["dataframe_records"]},
                {"type": "object", "properties": {"instances": {"type": "array"}},
                 "required": ["instances"]},
                {"type": "object", "properties": {"inputs": {}}, "required": ["inputs"]},
                {"type": "object"},
            ]}},
        "text/csv": {"schema": {"type": "string",
                                "description": "CSV with a header row, or without one "
                                               "(every column in the schema's order)."}},
    },
}
FEEDBACK_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {
        "anyOf": [
            {"type": "array", "items": {"$ref": "#/components/schemas/FeedbackItem"}},
            {"type": "object", "properties": {"feedback": {
                "type": "array", "items": {"$ref": "#/components/schemas/FeedbackItem"}}},
             "required": ["feedback"]},
            {"$ref": "#/components/schemas/FeedbackItem"},
        ]}}},
}
ERRORS = {code: {"description": text, "content": {"application/json": {"schema": {
    "type": "object", "properties": {"error": {"type": "string"}}}}}}
    for code, text in ((400, "unreadable body or Host not allowed"), (401, "API key missing or wrong"),
                       (404, "unknown endpoint"), (413, "body or rows over the limit"),
                       (415, "content type not JSON or CSV"), (422, "input does not fit the schema"),
                       (503, "the endpoint's model cannot be loaded"))}


def _publish_counters(shared: SharedCounters, metrics: Metrics, gauges, stopping) -> None:
    """Every second: this worker's counters to its file (the other workers read it)."""
    while True:
        try:
            shared.publish(metrics.snapshot(gauges()))
        except Exception:  # noqa: BLE001 - metrics must never stop predictions
            log.exception("publishing this worker's metrics failed")
        if stopping.wait(PUBLISH_S):
            return


def create_app(settings: Settings, poll_s: float = POLL_S, log_predictions: bool = True,
               background_tasks: bool = True) -> FastAPI:
    """The service for the store ``settings`` points at (``log_predictions=False`` and
    ``background_tasks=False`` only for measuring the request path alone)."""
    replica = f"{socket.gethostname()}:{os.getpid()}"[:64]
    max_bytes = int(settings.max_request_mb * 1024 * 1024)
    metrics = Metrics()
    state: dict[str, Any] = {}
    stopping = threading.Event()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        store = open_store(settings)
        table = EndpointTable(store, poll_s=poll_s)
        await asyncio.to_thread(table.refresh)
        writer = LogWriter(store, settings.log_flush_s, replica)
        if log_predictions:
            writer.start()
        else:
            writer.add = lambda rows: None
        table.start()
        batcher = Batcher()
        batcher.start()
        runner = background.Runner(settings, store)
        if background_tasks:
            runner.start()
        state.update(store=store, table=table, writer=writer, batcher=batcher, runner=runner)
        shared = publisher = None
        if settings.service_workers > 1:  # /metrics sums every worker's counters
            shared = SharedCounters(settings.home / "run" / f"metrics-{settings.service_port}")
            state["shared"] = shared
            publisher = threading.Thread(target=_publish_counters, daemon=True,
                                         name="metrics-publisher",
                                         args=(shared, metrics, gauges, stopping))
            publisher.start()
        if settings.api_keys_required and not table.key_hashes:
            log.warning("API keys are required but none exist: create one with "
                        "`python -m studio apikey create NAME`")
        try:
            yield
        finally:
            stopping.set()
            if publisher is not None:
                await asyncio.to_thread(publisher.join, 5)
                shared.remove()
            await runner.stop()
            table.stop()
            await batcher.stop()
            await asyncio.to_thread(writer.close)

    app = FastAPI(
        title="Studio prediction service",
        description="Real-time predictions from published model versions. Send rows as JSON "
                    "(records or MLflow's envelopes) or CSV; errors are JSON with a message.",
        version="1",
        lifespan=lifespan,
    )
    allow = list(settings.host_allow_list)
    if settings.service_host not in ("0.0.0.0", "::", "") and settings.service_host.lower() not in allow:
        allow.append(settings.service_host.lower())  # the address it was bound to explicitly
    app.add_middleware(HostCheck, allow=allow)

    def api_key_id(request: Request) -> int | None:
        if not settings.api_keys_required:
            return None
        token = request.headers.get("x-api-key")
        if not token:
            auth = request.headers.get("authorization", "")
            if auth[:7].lower() == "bearer ":
                token = auth[7:].strip()
        if not token:
            raise Problem(401, "this service requires an API key: send it in the X-API-Key "
                               "header (or Authorization: Bearer KEY); create one on the "
                               "Endpoints page or with `python -m studio apikey create NAME`",
                          headers={"WWW-Authenticate": "Bearer"})
        from studio.endpoints import hash_key

        key_id = state["table"].key_hashes.get(hash_key(token))
        if key_id is None:
            raise Problem(401, "the API key is not valid (unknown or revoked)",
                          headers={"WWW-Authenticate": "Bearer"})
        state["table"].used_keys.add(key_id)
        return key_id

    def slot_for(name: str):
        try:
            validate_name(name, "endpoint name")
        except InvalidInput as exc:
            raise Problem(404, str(exc)) from None
        slot = state["table"].get(name)
        if slot is None:
            raise Problem(404, f"endpoint '{name}' does not exist; GET /endpoints lists them")
        if slot.status == "unpublished":
            raise Problem(404, f"endpoint '{name}' is not serving a model (unpublished); "
                               "publish a model version to it")
        return slot

    async def read_body(request: Request) -> bytes:
        declared = request.headers.get("content-length")
        limit_text = (f"the limit is {settings.max_request_mb:g} MB (STUDIO_MAX_REQUEST_MB); "
                      "split the rows over several requests or use batch predict")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                raise Problem(400, "the Content-Length header is not a number") from None
            if size > max_bytes:
                raise Problem(413, f"the body is {size / 1048576:.1f} MB; {limit_text}")
        chunks, total = [], 0
        async for chunk in request.stream():
            total += len(chunk)
            if total > max_bytes:
                raise Problem(413, f"the body is over {settings.max_request_mb:g} MB; {limit_text}")
            chunks.append(chunk)
        return b"".join(chunks)

    def content_kind(request: Request) -> str:
        raw = request.headers.get("content-type", "")
        media = raw.split(";")[0].strip().lower()
        if media in JSON_TYPES or (media.startswith("application/") and media.endswith("+json")):
            return "json"
        if media in CSV_TYPES:
            return "text/csv"
        shown = media or "none"
        raise Problem(415, f"content type '{shown[:80]}' is not supported; send "
                           "'Content-Type: application/json' (records or MLflow's "
                           "dataframe_split/dataframe_records/instances/inputs) or 'text/csv'")

    def error_response(exc: Problem, request_id: str | None = None) -> Response:
        body: dict[str, Any] = {"error": exc.message, "status": exc.status}
        if exc.details:
            body["details"] = exc.details
        if request_id:
            body["request_id"] = request_id
        return _json(body, exc.status, exc.headers)

    @app.get("/ping", summary="200 once the service can answer")
    async def ping() -> Response:
        table = state.get("table")
        slots = table.slots.values() if table else []
        return _json({"status": "ok", "endpoints": sum(1 for s in slots if s.status == "ready"),
                      "replica": replica})

    def gauges() -> dict[str, float]:
        table, writer, batcher = state["table"], state["writer"], state["batcher"]
        return {"studio_log_pending_rows": writer.pending, "studio_log_written_rows": writer.written,
                "studio_log_dropped_rows": writer.dropped,
                "studio_model_load_errors": table.load_errors, "studio_model_swaps": table.swaps,
                "studio_batches": batcher.batches, "studio_batched_requests": batcher.batched_requests}

    @app.get("/metrics", summary="Prometheus text format", response_class=Response)
    async def prometheus() -> Response:
        table = state["table"]
        info = [(s.name, s.model.ref if s.model else "", s.status) for s in table.slots.values()]
        shared = state.get("shared")
        others = await asyncio.to_thread(shared.others) if shared is not None else None
        return Response(metrics.render(gauges(), info, others),
                        media_type="text/plain; version=0.0.4; charset=utf-8")

    def describe(slot, request: Request) -> dict:
        base = str(request.base_url).rstrip("/")
        out: dict[str, Any] = {"name": slot.name, "status": slot.status, "generation": slot.generation,
                               "model_version_id": slot.model_version_id,
                               "invocations_url": f"{base}/endpoints/{slot.name}/invocations"}
        if slot.error:
            out["error"] = slot.error
        model = slot.model
        if model is not None:
            card = model.card
            example = card.get("example") or {}
            out.update(model.describe())
            out.update({
                "target": card.get("target"),
                "input_schema": card.get("input_schema"),
                "example_request": {"dataframe_records": [example]} if example else None,
                "metric": card.get("metric"), "metrics": card.get("metrics"),
                "loaded_at": model.loaded_at,
            })
        return out

    @app.get("/endpoints", summary="Every endpoint and what it serves")
    async def list_endpoints(request: Request) -> Response:
        try:
            api_key_id(request)
        except Problem as exc:
            return error_response(exc)
        return _json({"endpoints": [describe(s, request) for s in state["table"].slots.values()]})

    @app.get("/endpoints/{name}", summary="The endpoint's model version, input schema and an "
             "example request", responses={k: ERRORS[k] for k in (401, 404)})
    async def get_endpoint(name: str, request: Request) -> Response:
        try:
            api_key_id(request)
            slot = state["table"].get(name)
            if slot is None:
                slot_for(name)
        except Problem as exc:
            return error_response(exc)
        return _json(describe(slot, request))

    @app.post("/endpoints/{name}/invocations", summary="Predictions for one or more rows",
              openapi_extra={"requestBody": INVOCATION_BODY},
              responses={k: v for k, v in ERRORS.items() if k != 400} | {400: ERRORS[400]})
    async def invocations(name: str, request: Request, explain: bool = False) -> Response:
        started = time.perf_counter()
        ts = time.time()
        base_id = _request_id()
        endpoint = name[:64]
        version_id = None
        try:
            api_key_id(request)
            slot = slot_for(name)
            version_id = slot.model_version_id
            kind = content_kind(request)
            body = await read_body(request)
            if slot.status != "ready":
                raise Problem(503, f"endpoint '{name}' cannot serve: {slot.error}")
            model = slot.model
            batch = parse_body(body, kind, model.converter, settings.max_request_rows)
            if explain:
                result = await asyncio.get_running_loop().run_in_executor(
                    state["batcher"].executor, _predict_and_explain, model, batch)
                pred, (method, explanations) = result
            else:
                pred = await state["batcher"].predict(model, batch)
        except (Problem, InputProblem) as exc:
            problem = exc if isinstance(exc, Problem) else Problem(exc.status, exc.message, exc.details)
            latency = (time.perf_counter() - started) * 1000
            metrics.observe(endpoint, problem.status, latency)
            state["writer"].add([(base_id, endpoint, version_id, ts, problem.status, latency, 1,
                                  None, {"error": problem.message})])
            return error_response(problem, base_id)
        except Exception as exc:  # noqa: BLE001 - the answer names it; the log has the trace
            log.exception("endpoint %s: prediction failed", name)
            latency = (time.perf_counter() - started) * 1000
            message = (f"the model failed on this input: {type(exc).__name__}: {exc}"[:500])
            status = 422 if isinstance(exc, (ValueError, TypeError, KeyError)) else 500
            metrics.observe(endpoint, status, latency)
            state["writer"].add([(base_id, endpoint, version_id, ts, status, latency, 1, None,
                                  {"error": message})])
            return error_response(Problem(status, message), base_id)
        n = batch.n_rows
        ids = [base_id] if n == 1 else [f"{base_id}-{i}" for i in range(n)]
        keys = model.class_keys
        probabilities = None
        if pred.probabilities is not None and keys:
            probabilities = [dict(zip(keys, row)) for row in pred.probabilities.tolist()]
        latency = (time.perf_counter() - started) * 1000
        answer: dict[str, Any] = {"predictions": pred.predictions}
        if probabilities is not None:
            answer["probabilities"] = probabilities
            answer["classes"] = model.classes
        answer.update(request_ids=ids, model=model.ref, endpoint=name)
        if batch.ignored:
            answer["ignored_columns"] = batch.ignored
        if batch.infinities:
            answer["warnings"] = [f"{batch.infinities} infinite value(s) treated as missing"]
        if explain:
            answer["explanations"] = explanations
            answer["explanation_method"] = method
        # One log row per request. A multi-row request's inputs (column-wise) and answers
        # are serialised here, once: the writer then holds one string per request instead
        # of thousands of small objects until its flush (which cost the service more CPU in
        # allocator churn than the serialisation itself).
        if n == 1:
            output = {"prediction": pred.predictions[0]}
            if probabilities is not None:
                output["probabilities"] = probabilities[0]
            state["writer"].add([(base_id, endpoint, version_id, ts, 200, latency, 1,
                                  batch.records[0], output)])
        else:
            output = {"predictions": pred.predictions}
            if probabilities is not None:
                output["probabilities"] = pred.probabilities
                output["classes"] = keys
            state["writer"].add([(base_id, endpoint, version_id, ts, 200, latency, n,
                                  dumps_log({"columns": batch.raw}), dumps_log(output))])
        metrics.observe(endpoint, 200, latency, n)
        return _json(answer)

    @app.post("/endpoints/{name}/feedback", summary="Ground truth for earlier request ids",
              openapi_extra={"requestBody": FEEDBACK_BODY},
              responses={k: ERRORS[k] for k in (400, 401, 404, 413, 415, 422)})
    async def feedback(name: str, request: Request) -> Response:
        try:
            api_key_id(request)
            slot_for(name) if state["table"].get(name) is None else None
            if content_kind(request) != "json":
                raise Problem(415, "send feedback as JSON: [{\"request_id\": ..., \"actual\": ...}]")
            payload = _loads(await read_body(request))
            items = _feedback_items(payload)
            result = await asyncio.to_thread(_store_feedback, state, name, items)
        except Problem as exc:
            return error_response(exc)
        return _json(result)

    app.openapi_schema = None
    _add_feedback_schema(app)
    return app


def _request_id() -> str:
    """Time-ordered and unique: nanoseconds then 32 random bits (the log's unique index
    on request_id then grows at its end instead of at random places)."""
    return f"{time.time_ns():016x}{os.urandom(4).hex()}"


def _predict_and_explain(model, batch):
    from studio.service.explain import explain

    pred = model.predict(batch)
    return pred, explain(model, batch, pred)


def _loads(body: bytes) -> Any:
    try:
        from studio.service.inputs import loads_json

        return loads_json(body)
    except InputProblem as exc:
        raise Problem(400, exc.message) from None


def _feedback_items(payload: Any) -> list[tuple[str, Any]]:
    if isinstance(payload, dict) and "feedback" in payload:
        payload = payload["feedback"]
    if isinstance(payload, dict):
        payload = [payload]
    if not isinstance(payload, list) or not payload:
        raise Problem(422, "send a list of {\"request_id\": \"...\", \"actual\": value}")
    if len(payload) > 100_000:
        raise Problem(413, "at most 100000 feedback items per request")
    items = []
    for i, item in enumerate(payload):
        if not isinstance(item, dict) or "request_id" not in item or "actual" not in item:
            raise Problem(422, f"feedback item {i} needs 'request_id' and 'actual'")
        rid = item["request_id"]
        if not isinstance(rid, str) or not rid or len(rid) > 64:
            raise Problem(422, f"feedback item {i}: 'request_id' must be the id a prediction "
                               "returned (text, at most 64 characters)")
        actual = item["actual"]
        if isinstance(actual, (dict, list)):
            raise Problem(422, f"feedback item {i}: 'actual' must be a single value")
        if isinstance(actual, float) and actual != actual:
            actual = None
        items.append((rid, actual))
    return items


def _store_feedback(state: dict, name: str, items: list[tuple[str, Any]]) -> dict:
    from storage import serving as repo

    state["writer"].flush()  # predictions made a moment ago are in the log before we look
    store = state["store"]
    with store.session() as session:
        known = repo.locate_request_ids(session=session, endpoint=name,
                                        request_ids=[rid for rid, _ in items])
        keep = [(rid, actual) for rid, actual in items if rid in known]
        unknown = sorted({rid for rid, _ in items if rid not in known})
        if not keep:
            raise Problem(422, f"none of these request ids were predicted by endpoint '{name}'",
                          [{"unknown_request_ids": unknown[:50]}])
        repo.add_feedback(session=session, endpoint=name, items=keep, ts=time.time(),
                          located=known)
    out: dict[str, Any] = {"stored": len(keep)}
    if unknown:
        out["unknown_request_ids"] = unknown[:50]
    return out


def _add_feedback_schema(app: FastAPI) -> None:
    from fastapi.openapi.utils import get_openapi

    def openapi():
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description,
                             routes=app.routes)
        schema.setdefault("components", {}).setdefault("schemas", {})["FeedbackItem"] = {
            "type": "object", "required": ["request_id", "actual"],
            "properties": {"request_id": {"type": "string", "maxLength": 64},
                           "actual": {"description": "the true value (label or number)"}}}
        app.openapi_schema = schema
        return schema

    app.openapi = openapi
