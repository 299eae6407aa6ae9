"""The home page: the start path for an empty studio, counts once there is data."""
from tests.conftest import page_test


def test_empty_studio_shows_the_start_path(store):
    at = page_test("home").run()
    assert not at.exception
    assert any("Start here" in s.value for s in at.subheader)


def test_home_counts_datasets_and_escapes_names(store):
    from storage.datasets import create_dataset_version

    with store.session() as session:
        create_dataset_version(session=session, name="sales_2024", data_sha="0" * 64, rows=5,
                               cols=2, schema=[])
    at = page_test("home").run()
    assert not at.exception
    assert at.metric[0].value == "1"
    assert any("sales" in m.value for m in at.markdown)
