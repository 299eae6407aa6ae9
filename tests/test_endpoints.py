"""Endpoints as use cases and CLI: names, publish/swap/rollback/unpublish history, API keys."""
from __future__ import annotations

import pytest

from studio.endpoints import (
    check_api_key, create_api_key, get_endpoint, history, list_api_keys, list_endpoints, publish,
    revoke_api_key, rollback, rollback_candidates, unpublish,
)
from studio.errors import Conflict, InvalidInput, NotFound
from tests.model_factory import register_test_model


@pytest.fixture
def two_versions(store):
    v1 = register_test_model(store, name="churn", algorithm="logistic", seed=1, n=120)
    v2 = register_test_model(store, name="churn", algorithm="logistic", seed=2, n=120)
    return v1, v2


@pytest.mark.parametrize("bad", ["", "a b", "x" * 65, "../etc", "-lead", "naïve", "a/b", "<script>"])
def test_endpoint_names_are_validated(store, two_versions, bad):
    with pytest.raises(InvalidInput, match="endpoint name"):
        publish(store, two_versions[0], bad)
    assert list_endpoints(store) == []


def test_publish_swap_rollback_unpublish_keep_history(store, two_versions):
    v1, v2 = two_versions
    ep = publish(store, "churn:1", "churn-prod", actor="ui")
    assert (ep.model, ep.generation) == ("churn:1", 1)
    assert publish(store, v1, "churn-prod").generation == 1  # same version: no change
    ep = publish(store, "churn", "churn-prod", actor="cli")  # latest = v2
    assert (ep.model, ep.generation) == ("churn:2", 2)
    assert [c.model for c in rollback_candidates(store, "churn-prod")] == ["churn:1"]
    ep = rollback(store, "churn-prod", actor="ui")
    assert ep.model == "churn:1"
    with pytest.raises(Conflict, match="already serves"):
        rollback(store, "churn-prod", to="churn:1")
    ep = unpublish(store, "churn-prod", actor="api")
    assert ep.model is None and ep.generation == 4
    with pytest.raises(Conflict, match="not serving"):
        unpublish(store, "churn-prod")
    events = history(store, "churn-prod")
    assert [(e.action, e.model, e.previous_model, e.actor) for e in events] == [
        ("unpublish", None, "churn:1", "api"), ("rollback", "churn:1", "churn:2", "ui"),
        ("publish", "churn:2", "churn:1", "cli"), ("publish", "churn:1", None, "ui")]
    assert events[0].at >= events[-1].at


def test_rollback_errors(store, two_versions):
    publish(store, "churn:1", "only-one")
    with pytest.raises(Conflict, match="no earlier version"):
        rollback(store, "only-one")
    with pytest.raises(InvalidInput, match="never served"):
        rollback(store, "only-one", to="churn:2")
    with pytest.raises(NotFound, match="does not exist"):
        rollback(store, "ghost")
    with pytest.raises(NotFound, match="model 'nope'"):
        publish(store, "nope:1", "x")
    with pytest.raises(NotFound):
        get_endpoint(store, "ghost")


def test_api_keys_hashed_checked_revoked(store):
    key, token = create_api_key(store, "reporting")
    other, other_token = create_api_key(store, "etl")
    assert token != other_token and token.startswith("sk_") and len(token) > 40
    assert check_api_key(store, token) == key.id
    assert check_api_key(store, token + "x") is None and check_api_key(store, None) is None
    revoke_api_key(store, f"sk_{key.prefix}")
    assert check_api_key(store, token) is None
    assert check_api_key(store, other_token) == other.id
    revoke_api_key(store, str(other.id))
    assert [k.active for k in list_api_keys(store)] == [False, False]
    with pytest.raises(NotFound):
        revoke_api_key(store, "sk_ffffffff")
    with pytest.raises(InvalidInput):
        create_api_key(store, "bad name!")


def test_cli_models_publish_endpoints_apikey(cli, store, two_versions):
    r = cli("models", "--json")
    assert r.code == 0, r.err
    model = r.json()["models"][0]
    assert model["name"] == "churn" and model["latest_version"] == 2
    assert {v["ref"] for v in model["versions"]} == {"churn:1", "churn:2"}
    r = cli("publish", "churn:1", "--endpoint", "churn", "--json")
    assert r.code == 0 and r.json()["model"] == "churn:1"
    assert r.json()["url"].endswith("/endpoints/churn/invocations")
    r = cli("publish", "churn", "--endpoint", "churn")
    assert r.code == 0 and "churn:2" in r.out
    r = cli("endpoints", "--json")
    assert r.json()["endpoints"][0]["model"] == "churn:2"
    r = cli("models")
    assert "churn:2" in r.out and "churn" in r.out
    r = cli("rollback", "churn", "--json")
    assert r.code == 0 and r.json()["model"] == "churn:1"
    r = cli("endpoints", "--history", "churn", "--json")
    assert [h["action"] for h in r.json()["history"]] == ["rollback", "publish", "publish"]
    r = cli("apikey", "create", "ci", "--json")
    token = r.json()["key"]
    assert r.code == 0 and token.startswith("sk_")
    r = cli("apikey", "list", "--json")
    assert r.json()["keys"][0]["active"] is True and token not in r.out
    assert cli("apikey", "revoke", r.json()["keys"][0]["prefix"]).code == 0
    assert cli("unpublish", "churn").code == 0


@pytest.mark.parametrize("args,words", [
    (("publish", "churn:9", "--endpoint", "x"), "does not exist"),
    (("publish", "churn", "--endpoint", "bad name"), "endpoint name"),
    (("rollback", "ghost"), "does not exist"),
    (("apikey", "revoke", "12345"), "does not exist"),
    (("publish", "churn:0", "--endpoint", "x"), "version"),
])
def test_cli_user_errors_are_one_line_exit_2(cli, two_versions, args, words):
    r = cli(*args)
    assert r.code == 2, (r.out, r.err)
    assert words in r.err and "Traceback" not in r.err and r.err.count("\n") == 1


def test_cli_lists_are_friendly_when_empty(cli):
    assert "no models yet" in cli("models").out
    assert "no endpoints yet" in cli("endpoints").out
    assert cli("models", "--json").json() == {"models": []}
