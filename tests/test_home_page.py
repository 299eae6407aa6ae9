"""The home page: the quick start step by step, the dashboard, and one-click fixes."""
import pandas as pd
import pytest

from studio.journey import Fix, apply_fix, journey, suggest_fixes
from tests.conftest import page_test


def _load(store, name="customers_messy"):
    from studio.samples import load_sample

    return load_sample(store, name).version


def _markdown(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_empty_studio_shows_the_start_path(store):
    at = page_test("home").run()
    assert not at.exception
    assert any("Your first live model" in s.value for s in at.subheader)
    labels = [b.label for b in at.button]
    assert "Wine cultivars (multiclass)" in labels
    assert not at.metric  # no dashboard before there is data
    assert journey(store).step == "data"


def test_a_sample_then_a_one_click_fix_makes_a_new_version(store):
    at = page_test("home").run()
    at.button(key="home_sample_customers_messy").click().run()
    assert not at.exception
    assert any("Loaded customers_messy:1" in s.value for s in at.success)
    assert "Fill the 40 missing values" in _markdown(at)
    assert journey(store).step == "train"
    fix = next(b for b in at.button if b.label == "Apply")
    fix.click().run()
    assert not at.exception
    made = journey(store).dataset
    assert made.ref == "customers_messy:2" and made.recipe[0]["kind"] == "impute"
    assert any("Saved customers_messy:2" in s.value for s in at.success)
    assert "of 'Age'" not in _markdown(at)  # that fix is done


def test_a_blocked_target_says_why_and_disables_training(store):
    from studio.datasets import import_bytes

    import_bytes(store, b"a,b,label\n1,2,x\n3,4,x\n5,6,x\n7,8,x\n", filename="one.csv")
    at = page_test("home").run()
    at.selectbox(key=f"home_target_{journey(store).dataset.id}").select("label").run()
    assert not at.exception
    assert at.error, "a one-class target must be explained"
    assert at.button(key="home_train").disabled


def test_a_registered_model_is_published_in_one_click(store):
    from tests.model_factory import register_test_model

    _load(store, "wine")
    version = register_test_model(store, name="wine", n=120)
    at = page_test("home").run()
    assert journey(store).step == "publish"
    assert any(f"AutoML registered {version.ref}" in s.value for s in at.success)
    at.button(key="home_publish").click().run()
    assert not at.exception
    state = journey(store)
    assert state.endpoint == "wine" and state.step == "try"
    assert any("Endpoint wine now serves wine:1" in s.value for s in at.success)
    assert "Endpoint wine serves wine:1" in _markdown(at).replace("\\", "")
    assert at.session_state["endpoint_name"] == "wine"


def test_a_bad_endpoint_name_is_refused_with_a_message(store):
    from tests.model_factory import register_test_model

    register_test_model(store, name="m1", n=80)
    at = page_test("home").run()
    at.text_input(key=f"home_endpoint_{journey(store).model.id}").input("no spaces here").run()
    at.button(key="home_publish").click().run()
    assert not at.exception
    assert at.error and "endpoint name" in at.error[0].value
    assert journey(store).endpoint is None


def test_dashboard_counts_and_escapes_names(store):
    from storage.datasets import create_dataset_version

    with store.session() as session:
        create_dataset_version(session=session, name="sales_2024", data_sha="0" * 64, rows=5,
                               cols=2, schema=[])
    at = page_test("home").run()
    assert not at.exception
    assert at.metric[0].value == "1"
    assert any("sales\\_2024" in m.value for m in at.markdown)



@pytest.fixture
def auto_reruns(monkeypatch) -> list[tuple[str, float]]:
    """The (fragment id, interval) timers the page asks the browser for: the auto_rerun
    messages Streamlit sends for ``st.fragment(run_every=...)``."""
    from streamlit.runtime.forward_msg_queue import ForwardMsgQueue

    seen: list[tuple[str, float]] = []

    def record(msg) -> None:
        if msg.HasField("auto_rerun"):
            seen.append((msg.auto_rerun.fragment_id, msg.auto_rerun.interval))

    monkeypatch.setattr(ForwardMsgQueue, "_before_enqueue_msg", record)
    return seen


def _dataset_row(store, name="sales_2024"):
    from storage.datasets import create_dataset_version

    with store.session() as session:
        create_dataset_version(session=session, name=name, data_sha="0" * 64, rows=5, cols=2,
                               schema=[])


def test_an_idle_dashboard_sets_no_timer(store, auto_reruns):
    _dataset_row(store)
    at = page_test("home").run()
    assert not at.exception
    assert any(s.value == "Recent activity" for s in at.subheader)
    assert any("Nothing running" in c.value for c in at.caption)
    assert auto_reruns == []  # an idle studio never reruns on its own


def test_running_jobs_and_recent_activity_refresh_while_a_job_is_active(store, auto_reruns):
    from storage import jobs as job_repo

    _dataset_row(store)
    with store.session() as session:
        job = job_repo.create_job(session=session, kind="monitor_check",
                                  name="check <b>churn</b>", config={"endpoint": "churn"})
    at = page_test("home").run()
    assert not at.exception
    assert at.metric[1].value == "1"  # jobs running
    # two timers: the job progress and the activity list, every LIVE_EVERY_S
    assert len(auto_reruns) == 2 and {i for _, i in auto_reruns} == {2.0}
    assert len({f for f, _ in auto_reruns}) == 2
    [bar] = [p.proto.text for p in at.get("progress")]
    assert bar.startswith(f"Job {job.id} · monitor check · check") and bar.endswith("queued")
    activity = _markdown(at)
    assert f"Job {job.id} \\(monitor\\_check\\)" in activity and "churn" in activity
    assert "queued" in activity
    assert "<b>" not in activity and "<b>" not in bar  # names are escaped

    # once the job is over, the next run sets no timer again
    with store.session() as session:
        job_repo.finish_job(session=session, job_id=job.id, status="succeeded", result={})
    auto_reruns.clear()
    at.run()
    assert not at.exception
    assert auto_reruns == [] and at.metric[1].value == "0"
    assert "succeeded" in _markdown(at)


# --- suggest_fixes --------------------------------------------------------------------

def _profile_of(store, frame: pd.DataFrame):
    import io

    from studio import datasets as ds

    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    version = ds.import_bytes(store, buf.getvalue().encode(), filename="t.csv").version
    return version, ds.get_profile(store, version)


def test_fixes_answer_what_the_profile_found_and_each_applies(store):
    frame = pd.DataFrame({
        "age": [20, None, 35, 41, None, 52, 33, 29] * 5,
        "plan": ["a", "b", None, "a", "b", "a", "a", "b"] * 5,
        "same": ["x"] * 40,
        "empty": [None] * 40,
        "y": [0, 1] * 20,
    })
    version, profile = _profile_of(store, frame)
    fixes = suggest_fixes(profile, target="y")
    kinds = [(f.step["kind"], tuple(f.step.get("columns") or ())) for f in fixes]
    assert ("drop_columns", ("same", "empty")) in kinds or \
        ("drop_columns", ("empty", "same")) in kinds
    assert ("impute", ("age",)) in kinds and ("impute", ("plan",)) in kinds
    assert all(f.title and f.why for f in fixes)
    assert len({f.key for f in fixes}) == len(fixes)
    for fix in fixes:  # every suggestion is a valid recipe step on this data
        made = apply_fix(store, version, fix)
        assert made.parent_id == version.id and made.recipe[0]["kind"] == fix.step["kind"]


def test_no_fix_for_the_target_or_for_clean_data(store):
    frame = pd.DataFrame({"x": range(30), "y": [None, 1, 0] * 10})
    _, profile = _profile_of(store, frame)
    assert suggest_fixes(profile, target="y") == []


def test_a_fix_that_fails_stores_nothing(store):
    from studio.errors import StudioError

    version, _ = _profile_of(store, pd.DataFrame({"x": [1, 2, 3]}))
    with pytest.raises(StudioError):
        apply_fix(store, version, Fix("drop", "test", {"kind": "drop_columns",
                                                        "columns": ["nope"]}))
    assert journey(store).dataset.id == version.id


def test_job_progress_lines_say_what_a_job_does():
    from datetime import datetime, timezone

    from storage.jobs import JobPublic
    from studio.journey import job_progress

    now = datetime.now(timezone.utc)
    search = JobPublic(id=1, kind="search", status="running", name="s", created_at=now,
                       config={"time_budget_s": 20, "metric": "roc_auc"},
                       progress={"elapsed_s": 5, "trials_done": 1, "best_score": 0.91,
                                 "phase": "search"})
    assert job_progress(search) == (0.25, "search: 1 trial, best roc_auc 0.91")
    batch = JobPublic(id=2, kind="batch_transform", status="running", name="b", created_at=now,
                      progress={"rows_done": 500, "rows_total": 2000})
    assert job_progress(batch) == (0.25, "500 of 2,000 rows")
    queued = JobPublic(id=3, kind="monitor_check", status="queued", name="c", created_at=now)
    assert job_progress(queued) == (None, "queued")


def test_service_health_says_what_the_live_service_serves(service):
    from studio.endpoints import publish
    from studio.overview import service_health
    from studio.settings import Settings
    from tests.model_factory import register_test_model
    from tests.service_fixtures import free_port

    version = register_test_model(service.store, name="home-health", n=80)
    publish(service.store, version, "home-health", actor="test")
    service.wait_ready("home-health", version.ref)
    health = service_health(service.settings)
    assert health["up"] and health["endpoints"]["home-health"]["status"] == "ready"
    assert health["endpoints"]["home-health"]["model"] == version.ref
    down = service_health(Settings(home=service.home, service_port=free_port()))
    assert down == {"up": False, "url": down["url"], "endpoints": {}, "note": "not answering"}


# --- shortcuts of the journey on other pages -------------------------------------------

def test_train_page_publishes_the_model_a_search_registered(store):
    from storage import jobs as job_repo
    from studio.endpoints import list_endpoints
    from tests.model_factory import register_test_model

    version = register_test_model(store, name="churn", n=80)
    with store.session() as session:
        job = job_repo.create_job(session=session, kind="search", name="churn:1 → target",
                                  config={"mode": "search", "metric": "roc_auc",
                                          "time_budget_s": 10})
        job_repo.update_job_fields(session=session, job_id=job.id, status="succeeded",
                                   result={"model": version.ref, "algorithm": "xgboost",
                                           "metric": "roc_auc", "score": 0.8})
    at = page_test("train")
    at.session_state["job_id"] = job.id
    at.run()
    assert not at.exception
    at.button(key=f"train_publish_{version.id}").click().run()
    assert not at.exception
    assert [(e.name, e.model) for e in list_endpoints(store)] == [("churn", "churn:1")]
    assert at.session_state["endpoint_name"] == "churn"
    assert not [b for b in at.button if b.key == f"train_publish_{version.id}"]  # now: try it


def test_wrangle_page_suggests_the_same_fixes_as_steps_to_add(store):
    _load(store)
    at = page_test("wrangle").run()
    assert not at.exception
    suggested = [b for b in at.button if str(b.key).startswith("wr_suggest_")]
    assert suggested and any("Suggested: Fill the 40 missing values" in c.value
                             for c in at.caption)
    suggested[0].click().run()
    assert not at.exception
    assert at.session_state["recipe_steps"][0]["kind"] == "impute"
    assert not [b for b in at.button if str(b.key).startswith("wr_suggest_")]  # a recipe now
