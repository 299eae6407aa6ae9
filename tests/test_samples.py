"""Sample datasets: offline, one per task, one messy; ensure_samples loads only what is missing."""
from __future__ import annotations

import socket

import pytest

from studio import datasets as ds
from studio.samples import SAMPLES, ensure_samples, load_sample


@pytest.fixture
def offline(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network access attempted while loading samples")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_ensure_samples_loads_every_sample_offline_once(store, offline):
    added = ensure_samples(store)
    assert added == list(SAMPLES)
    assert len(added) >= 3
    assert ensure_samples(store) == []
    assert {d.name: d.versions for d in ds.list_datasets(store)} == {n: 1 for n in SAMPLES}
    for name in SAMPLES:
        assert ds.resolve_version(store, name).profile_sha  # profiled at load


def test_samples_cover_binary_multiclass_and_regression(store):
    ensure_samples(store)
    tasks = {}
    for sample in SAMPLES.values():
        version = ds.resolve_version(store, sample.name)
        checks = ds.get_profile(store, version, target=sample.target)["target"]
        assert not checks["blocking"], (sample.name, checks["blocking"])
        assert checks["task"] == sample.task
        tasks[sample.task] = sample.name
    assert set(tasks) == {"binary", "multiclass", "regression"}


def test_the_messy_sample_shows_what_cleaning_does(store):
    result = load_sample(store, "customers_messy")
    report = result.report
    assert report["delimiter"] == ";" and report["decimal"] == ","
    assert ["Age ", "Age"] in report["header_mapping"]
    assert report["dropped_columns"][0]["why"].startswith("a saved row index")
    assert {"N/A", "?", "-"} <= set(report["missing_markers"]["Age"])
    assert report["conversions"]["Signup Date"]["to"] == "datetime"
    schema = {c["name"]: c["semantic"] for c in result.version.schema_}
    assert schema["Customer ID"] == "identifier"
    assert schema["Total charges"] == "numeric"
    frame = ds.load_frame(store, result.version)
    assert frame["Total charges"].isna().sum() > 0  # the blank " " of new customers


def test_loading_a_sample_again_adds_a_version_and_unknown_names_are_refused(store):
    load_sample(store, "wine")
    assert load_sample(store, "wine").version.version == 2
    from studio.errors import NotFound

    with pytest.raises(NotFound, match="no sample named"):
        load_sample(store, "iris")


def test_samples_command_loads_them_once(cli):
    first = cli("samples", "--json")
    assert first.code == 0 and first.json() == {"added": list(SAMPLES)}
    again = cli("samples")
    assert again.code == 0 and "already loaded" in again.out
