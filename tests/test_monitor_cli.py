"""`python -m studio monitor / simulate / alerts / ack`."""
from __future__ import annotations

from tests.monitor_support import fresh_records, log_traffic, register_monitored_model


def test_monitor_json_follows_the_contract(cli, store):
    version, pipeline, _ = register_monitored_model(store)
    records, _ = fresh_records(300)
    drifted = [dict(r, num_0=None if r["num_0"] is None else r["num_0"] + 5) for r in records]
    log_traffic(store, endpoint="churn", version=version, pipeline=pipeline, records=drifted)
    result = cli("monitor", "churn", "--json")
    assert result.code == 0, result.err
    data = result.json()
    assert data["endpoint"] == "churn" and data["model"] == version.ref
    features = {f["feature"]: f for f in data["features"]}
    assert set(features) == {"num_0", "num_1", "num_2", "num_3", "cat_0", "cat_1", "member"}
    for f in data["features"]:
        assert {"feature", "status", "statistic", "score", "importance"} <= set(f)
        assert f["status"] in ("ok", "warning", "alert")
    assert features["num_0"]["status"] == "alert" and features["num_1"]["status"] == "ok"
    assert data["alerts"] and data["alerts"][0]["severity"] == "alert"
    # a second call reads the stored report instead of checking again
    again = cli("monitor", "churn", "--json").json()
    assert again["report_id"] == data["report_id"]
    fresh = cli("monitor", "churn", "--json", "--check").json()
    assert fresh["report_id"] != data["report_id"]

    text = cli("monitor", "churn")
    assert text.code == 0 and "num_0" in text.out and "ALERT" in text.out

    listed = cli("alerts", "churn", "--open", "--json").json()["alerts"]
    assert listed
    ack = cli("ack", str(listed[0]["id"]), "--by", "carol")
    assert ack.code == 0 and "carol" in ack.out
    remaining = cli("alerts", "churn", "--open", "--json").json()["alerts"]
    assert listed[0]["id"] not in [a["id"] for a in remaining]


def test_monitor_user_errors_are_one_line(cli, store):
    register_monitored_model(store, n=300)
    for args, message in [
        (("monitor", "nope"), "endpoint 'nope' does not exist"),
        (("monitor", "bad name!"), "is not valid"),
        (("monitor",), "name an endpoint"),
        (("monitor", "churn", "--start", "2026-01-02"), "needs both --start and --end"),
        (("monitor", "churn", "--start", "soon", "--end", "later"), "is not a date"),
        (("monitor", "churn", "--start", "2026-01-02", "--end", "2026-01-01"), "after its start"),
        (("ack", "4242"), "alert 4242 does not exist"),
        (("simulate", "churn", "--rows", "0"), "between 1 and"),
        (("simulate", "churn", "--rows", "5", "--drift", "nope"), "not an input"),
        (("simulate", "churn", "--rows", "5", "--feedback", "2"), "between 0 and 1"),
        (("simulate", "ghost", "--rows", "5"), "endpoint 'ghost' does not exist"),
    ]:
        result = cli(*args)
        assert result.code == 2, (args, result.out, result.err)
        assert message in result.err and result.err.count("\n") == 1, (args, result.err)
        assert "Traceback" not in result.err


def test_simulate_without_a_service_says_how_to_start_it(cli, store, monkeypatch):
    register_monitored_model(store, n=300)
    monkeypatch.setenv("STUDIO_SERVICE_PORT", "9")  # nothing listens on the discard port
    result = cli("simulate", "churn", "--rows", "5")
    assert result.code == 2
    assert "not answering" in result.err and "python -m studio serve" in result.err


def test_watch_once_checks_every_endpoint(cli, store):
    register_monitored_model(store, n=300)
    result = cli("monitor", "--watch", "--once", "--json")
    assert result.code == 0, result.err
    checks = result.json()["checks"]
    assert [c["endpoint"] for c in checks] == ["churn"] and checks[0]["status"] == "ok"
    again = cli("monitor", "--watch", "--once")
    assert again.code == 0 and "nothing due" in again.out
