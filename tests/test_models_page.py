"""The Models page (AppTest): empty state, model card, evaluation plots, publish, notes/stage."""
from __future__ import annotations

from studio.endpoints import list_endpoints
from studio.model_cards import get_version
from tests.conftest import page_test
from tests.model_factory import register_test_model, sample_evaluation


def test_no_models_says_what_to_do(store):
    at = page_test("models").run()
    assert not at.exception
    assert "No models yet" in at.info[0].value


def test_card_shows_metrics_plots_and_publishes(store):
    register_test_model(store, name="churn", algorithm="logistic", n=120,
                        evaluation=sample_evaluation())
    register_test_model(store, name="churn", algorithm="xgboost", n=120)
    at = page_test("models").run()
    assert not at.exception
    assert at.selectbox(key="models_page_ref").value == "churn:2"
    assert len(at.get("plotly_chart")) == 1  # XGBoost: feature importance from the card
    at.selectbox(key="models_page_ref").select("churn:1").run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == 3  # confusion matrix, ROC, precision-recall
    assert at.metric[0].value == "binary"
    at.text_input(key="publish_name_churn:1").input("bad name!")
    at.button(key="publish_btn").click().run()
    assert "endpoint name" in at.error[0].value and list_endpoints(store) == []
    at.text_input(key="publish_name_churn:1").input("churn-live")
    at.button(key="publish_btn").click().run()
    assert not at.exception
    assert "churn-live now serves churn:1" in at.success[0].value
    assert [(e.name, e.model) for e in list_endpoints(store)] == [("churn-live", "churn:1")]


def test_notes_and_stage_are_saved(store):
    version = register_test_model(store, name="churn", algorithm="logistic", n=120)
    at = page_test("models").run()
    at.selectbox(key=f"stage_{version.id}").select("production")
    at.text_area(key=f"notes_{version.id}").input("For <b>retention</b> campaigns only")
    at.button(key=f"save_{version.id}").click().run()
    assert not at.exception
    saved = get_version(store, version.id)
    assert saved.stage == "production" and saved.notes.startswith("For <b>")
    assert any("For <b>retention</b>" in t.value for t in at.text)  # shown as text, not HTML
