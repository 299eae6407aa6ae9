"""Schemathesis over the service's OpenAPI schema: generated requests never get a 5xx.

(Schemathesis' own pytest plugin does not work with this pytest version, so each
operation's Hypothesis strategy is driven by a plain test.)
"""
from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings

from studio.endpoints import publish
from tests.model_factory import register_test_model



def test_generated_requests_never_get_a_server_error(service):  # noqa: F811
    version = register_test_model(service.store, name="schema-churn", algorithm="xgboost")
    publish(service.store, version, "schema-churn", actor="test")
    service.wait_ready("schema-churn")
    schema = schemathesis.openapi.from_url(f"{service.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/ping", "/metrics", "/endpoints/{name}",
                                              "/endpoints/{name}/invocations",
                                              "/endpoints/{name}/feedback"}
    calls = []
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None)
        def check(case):
            if "name" in (case.path_parameters or {}) and len(calls) % 3:
                case.path_parameters["name"] = "schema-churn"  # mostly the real endpoint
            response = case.call(timeout=10)
            calls.append(response.status_code)
            assert response.status_code < 500, (case.method, case.path, case.body,
                                                response.text[:500])
            if response.status_code >= 400:
                assert "error" in response.json()  # every error is JSON with a message

        check()
    assert len(calls) >= 50 and 200 in calls
