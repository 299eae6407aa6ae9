"""The prediction service over real HTTP: every input format, every error code, logs, feedback."""
from __future__ import annotations

import concurrent.futures
import csv
import io
import json
import time

import numpy as np
import pytest

from storage import serving as repo
from studio.endpoints import publish
from studio.registry import load_pipeline
from tests.model_factory import register_test_model, sample_records



@pytest.fixture(scope="module")
def models(service):  # noqa: F811
    out = {
        "churn": register_test_model(service.store, name="churn", task="binary", algorithm="xgboost"),
        "kinds": register_test_model(service.store, name="kinds", task="multiclass",
                                     algorithm="logistic"),
        "price": register_test_model(service.store, name="price", task="regression",
                                     algorithm="ridge"),
    }
    for name, version in out.items():
        publish(service.store, version, name, actor="test")
    for name, version in out.items():
        service.wait_ready(name, version.ref)
    return out


def _logs(service, endpoint=None, expect=None, timeout=5.0, expand=True):  # noqa: F811
    """Logged predictions (``expand=False``: logged requests, one row each)."""
    deadline = time.time() + timeout
    while True:
        with service.store.session() as session:
            rows = repo.list_prediction_logs(session=session, endpoint=endpoint, limit=100_000,
                                             expand=expand, captures=service.store.captures)
        if expect is None or len(rows) >= expect or time.time() > deadline:
            return rows
        time.sleep(0.05)


def _expected(service, version, records):  # noqa: F811
    """What the pipeline itself answers for these records."""
    pipeline = load_pipeline(service.store, version)
    from studio.service.model import LoadedModel

    model = LoadedModel(version, pipeline)
    frame = model.converter.frame(model.converter.convert(records))
    preds = pipeline.predict(frame)
    proba = pipeline.predict_proba(frame) if version.task != "regression" else None
    return preds, proba


def test_ping_and_endpoint_description(service, models):  # noqa: F811
    assert service.get("/ping").json()["status"] == "ok"
    info = service.get("/endpoints/churn").json()
    assert info["status"] == "ready" and info["model"] == "churn:1"
    assert [c["name"] for c in info["input_schema"]][:2] == ["num_0", "num_1"]
    example = info["example_request"]
    r = service.post("/endpoints/churn/invocations", json=example)
    assert r.status_code == 200, r.text
    listing = service.get("/endpoints").json()["endpoints"]
    assert {e["name"] for e in listing} >= {"churn", "kinds", "price"}


@pytest.mark.parametrize("name", ["churn", "kinds", "price"])
def test_answers_identical_to_the_pipeline(service, models, name):  # noqa: F811
    version = models[name]
    records = sample_records(40, task=version.task, seed=5,
                             string_classes=version.task != "binary")
    records[0]["num_1"] = None            # missing → imputed as in training
    records[1]["cat_0"] = "purple"        # unseen category → ignored by the encoder
    r = service.post(f"/endpoints/{name}/invocations", json=records)
    assert r.status_code == 200, r.text
    body = r.json()
    preds, proba = _expected(service, version, records)
    assert body["predictions"] == [p.item() if hasattr(p, "item") else p for p in preds]
    assert len(body["request_ids"]) == 40 and len(set(body["request_ids"])) == 40
    if proba is not None:
        got = np.array([[row[str(c)] for c in body["classes"]] for row in body["probabilities"]])
        assert np.array_equal(got, proba.astype(np.float64))


def test_every_json_envelope_and_csv_give_the_same_answer(service, models):  # noqa: F811
    records = sample_records(3, seed=11)
    names = list(records[0])
    bodies = {
        "records": records,
        "one record": records[0],
        "dataframe_split": {"dataframe_split": {"columns": names,
                                                "data": [[r[n] for n in names] for r in records]}},
        "dataframe_records": {"dataframe_records": records},
        "instances": {"instances": records},
        "inputs (columnar)": {"inputs": {n: [r[n] for r in records] for n in names}},
        "instances (lists in schema order)": {"instances": [[r[n] for n in names] for r in records]},
    }
    answers = {}
    for label, body in bodies.items():
        r = service.post("/endpoints/churn/invocations", json=body)
        assert r.status_code == 200, (label, r.text)
        answers[label] = r.json()["probabilities"]
    reference = answers["records"]
    for label, got in answers.items():
        expected = reference[:1] if label == "one record" else reference
        assert got == expected, label

    def to_csv(header: bool) -> bytes:
        out = io.StringIO()
        writer = csv.writer(out)
        if header:
            writer.writerow(names)
        for r in records:
            writer.writerow(["" if r[n] is None else r[n] for n in names])
        return out.getvalue().encode()

    for header in (True, False):
        r = service.post("/endpoints/churn/invocations", content=to_csv(header),
                         headers={"Content-Type": "text/csv"})
        assert r.status_code == 200, r.text
        assert r.json()["probabilities"] == reference


def test_nan_infinity_extra_columns(service, models):  # noqa: F811
    record = sample_records(1, seed=3)[0]
    body = json.dumps([{**record, "num_0": float("inf"), "num_2": float("nan"), "unused": 1,
                        "target": 0}]).encode()  # Python writes Infinity / NaN tokens
    r = service.post("/endpoints/churn/invocations", content=body,
                     headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["ignored_columns"] == ["target", "unused"]
    assert "infinite" in answer["warnings"][0]
    same = service.post("/endpoints/churn/invocations",
                        json=[{**record, "num_0": None, "num_2": "NA"}]).json()
    assert same["probabilities"] == answer["probabilities"]  # inf treated as missing


def test_schema_errors_name_each_column(service, models):  # noqa: F811
    record = sample_records(1, seed=3)[0]
    bad = {k: v for k, v in record.items() if k not in ("num_3", "cat_1")}
    bad["num_0"] = "twelve"
    bad["member"] = "perhaps"
    r = service.post("/endpoints/churn/invocations", json=[record, bad])
    assert r.status_code == 422
    body = r.json()
    columns = {d["column"]: d for d in body["details"]}
    assert columns["num_0"]["problem"] == "wrong type" and columns["num_0"]["rows"] == [1]
    assert columns["member"]["problem"] == "wrong type"
    assert "'num_0' expects a number" in body["error"]
    assert body["request_id"]
    r = service.post("/endpoints/churn/invocations", json=[{"num_0": 1}])
    missing = {d["column"] for d in r.json()["details"] if d["problem"] == "missing"}
    assert r.status_code == 422 and missing == {"num_1", "num_2", "num_3", "cat_0", "cat_1", "member"}


@pytest.mark.parametrize("body,kind,status,words", [
    (b"{not json", "application/json", 400, "not valid JSON"),
    (b"[]", "application/json", 422, "no rows"),
    (b"42", "application/json", 422, "send a JSON list"),
    (b'{"instances": [1, 2]}', "application/json", 422, "row 0"),
    (b'{"dataframe_split": {"columns": ["a"]}}', "application/json", 422, "dataframe_split"),
    (b"a,b\n1,2\n", "text/csv", 422, "without a header"),
    (b"num_0,num_1\n1\n", "text/csv", 422, "line 2"),
    (b"\xff\xfe", "text/csv", 400, "UTF-8"),
    (b"x=1", "application/x-www-form-urlencoded", 415, "Content-Type: application/json"),
    (b"<a/>", "application/xml", 415, "text/csv"),
])
def test_bad_bodies_get_a_clear_status_and_message(service, models, body, kind, status, words):  # noqa: F811
    r = service.post("/endpoints/churn/invocations", content=body, headers={"Content-Type": kind})
    assert r.status_code == status, r.text
    assert words in r.json()["error"]


def test_unknown_endpoint_404_and_bad_name(service, models):  # noqa: F811
    r = service.post("/endpoints/nope/invocations", json=[{}])
    assert r.status_code == 404 and "does not exist" in r.json()["error"]
    assert service.get("/endpoints/nope").status_code == 404
    r = service.post("/endpoints/bad%20name!/invocations", json=[{}])
    assert r.status_code == 404


def test_size_limits_413(service, models):  # noqa: F811
    big = b"[" + b'{"num_0": 1},' * 600_000 + b'{"num_0": 1}]'  # ~7.8 MB > 6 MB
    r = service.post("/endpoints/churn/invocations", content=big,
                     headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "6 MB" in r.json()["error"]

    def chunks():  # no Content-Length: the limit is enforced while reading
        for _ in range(8):
            yield b" " * (1024 * 1024)

    r = service.post("/endpoints/churn/invocations", content=chunks(),
                     headers={"Content-Type": "application/json"})
    assert r.status_code == 413


def test_explanations_sum_to_the_margin(service, models):  # noqa: F811
    records = sample_records(4, seed=21)
    r = service.post("/endpoints/churn/invocations", params={"explain": "true"}, json=records)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["explanation_method"] == "xgboost_shap"
    for row, proba in zip(body["explanations"], body["probabilities"]):
        assert set(row["contributions"]) == {"num_0", "num_1", "num_2", "num_3", "cat_0",
                                             "cat_1", "member"}  # one-hot summed back
        margin = row["base"] + sum(row["contributions"].values())
        p = proba["1"]
        assert abs(margin - np.log(p / (1 - p))) < 1e-3
    r = service.post("/endpoints/price/invocations?explain=true", json=records)
    body = r.json()
    assert body["explanation_method"] == "linear"
    total = body["explanations"][0]["base"] + sum(body["explanations"][0]["contributions"].values())
    assert abs(total - body["predictions"][0]) < 1e-6


def test_burst_of_concurrent_requests_is_logged_completely(service, models):  # noqa: F811
    records = sample_records(50, seed=8)
    before = len(_logs(service, "kinds"))
    requests_before = len(_logs(service, "kinds", expand=False))

    def call(i):
        payload = records[i % 50: i % 50 + 1 + (i % 3)]  # 1-3 rows per request
        r = service.post("/endpoints/kinds/invocations", json=payload)
        return r.status_code, r.json()["request_ids"], payload

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(call, range(120)))
    assert all(status == 200 for status, _, _ in results)
    ids = [rid for _, rids, _ in results for rid in rids]
    rejected = service.post("/endpoints/kinds/invocations", json=[{"num_0": "x"}])
    assert rejected.status_code == 422
    logs = _logs(service, "kinds", expect=before + len(ids) + 1)
    by_id = {row.request_id: row for row in logs}
    assert set(ids) <= set(by_id)
    row = by_id[ids[0]]
    assert row.status == 200 and row.model_version_id == models["kinds"].id
    assert row.inputs == results[0][2][0] and "prediction" in row.outputs
    assert set(row.outputs["probabilities"]) == {"high", "low", "mid"}
    bad = by_id[rejected.json()["request_id"]]
    assert bad.status == 422 and bad.inputs is None and "num_0" in bad.outputs["error"]
    # one log row per request: a 3-row request is one row holding its three predictions
    requests = _logs(service, "kinds", expand=False)
    assert len(requests) == requests_before + len(results) + 1
    three = next(rids for _, rids, payload in results if len(payload) == 3)
    row = next(r for r in requests if r.request_id == three[0].rsplit("-", 1)[0])
    assert row.n_rows == 3 and all(len(v) == 3 for v in row.inputs["columns"].values())
    assert len(row.outputs["predictions"]) == 3 and row.outputs["classes"]
    assert [by_id[rid].outputs["prediction"] for rid in three] == row.outputs["predictions"]


def test_a_large_request_keeps_its_inputs_in_a_capture_file(service, models):  # noqa: F811
    from storage import monitoring
    from storage.capture import is_reference
    from studio.service.logwriter import CAPTURE_BYTES

    records = sample_records(1500, seed=12)
    assert len(json.dumps(records)) > CAPTURE_BYTES
    r = service.post("/endpoints/kinds/invocations", json=records)
    assert r.status_code == 200
    ids = r.json()["request_ids"]
    base = ids[0].rsplit("-", 1)[0]
    rows = _logs(service, "kinds", expand=False, expect=None)
    deadline = time.time() + 5
    while not any(row.request_id == base for row in rows) and time.time() < deadline:
        time.sleep(0.05)
        rows = _logs(service, "kinds", expand=False)
    row = next(row for row in rows if row.request_id == base)
    assert row.n_rows == 1500 and is_reference(row.inputs)          # a small row in the store
    assert (service.store.artifacts.root / row.inputs["capture"]).is_file()
    by_id = {p.request_id: p for p in _logs(service, "kinds")}
    assert [by_id[i].inputs for i in (ids[0], ids[777], ids[-1])] == \
        [records[0], records[777], records[-1]]
    assert by_id[ids[777]].outputs["prediction"] == r.json()["predictions"][777]
    # monitoring reads the same inputs back through the store
    with service.store.session() as session:
        sample = monitoring.sample_predictions(
            session=session, endpoint="kinds", start=row.ts - 1, end=row.ts + 1, limit=5000,
            captures=service.store.captures)
    mine = {s["request_id"]: s for s in sample if s["request_id"].startswith(base + "-")}
    assert len(mine) == 1500 and mine[ids[5]]["inputs"] == records[5]


def test_feedback_is_stored_for_known_request_ids(service, models):  # noqa: F811
    r = service.post("/endpoints/price/invocations", json=sample_records(2, task="regression"))
    ids = r.json()["request_ids"]
    r = service.post("/endpoints/price/feedback",
                     json=[{"request_id": ids[0], "actual": 101.5},
                           {"request_id": ids[1], "actual": 99},
                           {"request_id": "never-made", "actual": 1}])
    assert r.status_code == 200, r.text
    assert r.json() == {"stored": 2, "unknown_request_ids": ["never-made"]}
    with service.store.session() as session:
        stored = repo.list_feedback(session=session, endpoint="price")
    assert {(f.request_id, f.actual) for f in stored} >= {(ids[0], 101.5), (ids[1], 99)}
    r = service.post("/endpoints/price/feedback", json={"request_id": "zzz", "actual": 1})
    assert r.status_code == 422
    r = service.post("/endpoints/price/feedback", json=[{"actual": 1}])
    assert r.status_code == 422 and "request_id" in r.json()["error"]


def test_metrics_in_prometheus_format(service, models):  # noqa: F811
    service.post("/endpoints/churn/invocations", json=sample_records(1))
    text = service.get("/metrics").text
    assert 'studio_requests_total{endpoint="churn",status="200"}' in text
    assert 'studio_request_seconds_bucket{endpoint="churn",le="+Inf"}' in text
    assert 'studio_endpoint_info{endpoint="churn",model="churn:1",status="ready"} 1' in text
