"""Home: the state of the studio at a glance, and the short path to a first live model.

The quick start walks data → train → publish → try it → monitor on this page (an upload
imports at once, a fix is one click, training uses the default budget), and hands over
to the full pages where they do more. Names and values from data are shown through
md_escape, st.text or st.dataframe, never as HTML.
"""
from __future__ import annotations


import pandas as pd
import streamlit as st

from pages._ui import Keys, ago, context, md_escape, show_error, start_import
from studio import datasets as ds
from studio.errors import StudioError
from studio.journey import STEP_TITLES, STEPS, Fix, active_jobs, apply_fix, job_progress, \
    journey, suggest_fixes
from studio.overview import service_health, studio_overview

settings, store = context()
IMPORT = "home_import_task"      # the upload being imported: {"file", "future", "progress"}
UPLOADS = "home_upload_round"    # bumped after each import, so the uploader starts empty
NOTICE = "home_notice"           # (kind, text) shown once after a rerun
LIVE_EVERY_S = 2.0               # dashboard refresh while a job is queued or running (never idle)
ICONS = {"data": ":material/upload_file:", "train": ":material/model_training:",
         "publish": ":material/cloud_upload:", "try": ":material/bolt:",
         "monitor": ":material/monitoring:"}


@st.cache_data(ttl=5, show_spinner=False)
def _health(url: str, home: str) -> dict:
    """The service's answer, at most every 5 s (each ping waits at most about a second)."""
    return service_health(settings)


@st.cache_data(show_spinner=False, max_entries=16)
def _fixes(version_id: int, profile_sha: str | None, home: str) -> list[Fix]:
    profile = ds.get_profile(store, ds.get_version_by_id(store, version_id))
    return suggest_fixes(profile)


@st.cache_data(show_spinner="Checking the target…", max_entries=16, ttl=900)
def _plan(version_id: int, target: str, home: str) -> dict:
    from studio.automl import service

    version = ds.get_version_by_id(store, version_id)
    return service.plan_for(store, version, target).to_dict()


def _notice() -> None:
    kind, text = st.session_state.pop(NOTICE, (None, None))
    if kind == "success":
        st.success(text, icon=":material/check_circle:")
    elif kind == "error":
        st.error(text, icon=":material/error:")


# --- quick start: the steps ---------------------------------------------------------

def render_stepper(j) -> None:
    cols = st.columns(len(STEPS))
    for col, step in zip(cols, STEPS):
        title = STEP_TITLES[step]
        if j.done(step):
            col.markdown(f":green[:material/check_circle: **{title}**]")
        elif step == j.step:
            col.markdown(f":blue[{ICONS[step]} **{title}**]")
        else:
            col.markdown(f":gray[{ICONS[step]} {title}]")


def _start_import(upload, name: str) -> None:
    try:
        st.session_state[IMPORT] = start_import(store, upload, name)
    except StudioError as exc:
        st.session_state[NOTICE] = ("error", f"{upload.name} was not imported: {exc}")


def _finish_import(task: dict) -> None:
    st.session_state.pop(IMPORT, None)
    st.session_state[UPLOADS] = st.session_state.get(UPLOADS, 0) + 1
    exc = task["future"].exception()
    if exc is None:
        version = task["future"].result().version
        st.session_state[Keys.DATASET] = version.ref
        st.session_state[NOTICE] = ("success", f"Imported {task['file']} as {version.ref}: "
                                               f"{version.rows:,} rows × {version.cols} columns.")
    elif isinstance(exc, StudioError):
        st.session_state[NOTICE] = ("error", f"{task['file']} was not imported: {exc}")
    else:
        st.session_state[NOTICE] = ("error", f"{task['file']} was not imported: an unexpected "
                                             f"{type(exc).__name__} ({exc}). Try the Datasets "
                                             "page's import options, or report it.")
    st.rerun(scope="app")


def render_import() -> None:
    task = st.session_state.get(IMPORT)
    if task is not None:
        @st.fragment(run_every=0.5)
        def watch() -> None:
            if task["future"].done():
                _finish_import(task)
            fraction, message = task["progress"]
            st.progress(fraction, text=f"Importing {md_escape(task['file'])}: "
                                       f"{md_escape(message)}")

        watch()
        return
    name = st.text_input("Dataset name (optional)", key="home_import_name",
                         placeholder="taken from the file name",
                         help="Letters, digits, '_', '.', '-'. An existing name adds a version.")
    upload = st.file_uploader(
        "Upload a CSV, Excel or Parquet file: it is imported at once",
        key=f"home_upload_{st.session_state.get(UPLOADS, 0)}",
        help=f"Up to {settings.max_upload_mb} MB. The encoding, delimiter and decimal mark are "
             "recognised from the content; the Datasets page has options to override them.")
    if upload is not None:
        _start_import(upload, name.strip())
        st.rerun()


def render_samples() -> None:
    from studio.samples import list_samples, load_sample

    for sample in list_samples():
        if st.button(sample.title, key=f"home_sample_{sample.name}", help=sample.description,
                     icon=":material/dataset:", width="stretch"):
            with st.spinner(f"Loading {sample.title}…"):
                try:
                    result = load_sample(store, sample.name)
                except StudioError as exc:
                    show_error(exc)
                    return
            st.session_state[Keys.DATASET] = result.version.ref
            st.session_state[NOTICE] = ("success", f"Loaded {result.version.ref}: "
                                                   f"{result.version.rows:,} rows.")
            st.rerun()


def render_data_step() -> None:
    left, right = st.columns([3, 2], gap="large")
    with left:
        st.markdown("**Upload your data**")
        render_import()
    with right:
        st.markdown("**…or start from a sample**")
        render_samples()


def _pick_version(j):
    """The dataset version to work on: the one chosen last, else the newest."""
    datasets = ds.list_datasets(store)
    wanted = st.session_state.get(Keys.DATASET) or (j.dataset.ref if j.dataset else "")
    name = wanted.rpartition(":")[0] or wanted
    names = [d.name for d in datasets]
    pick = st.selectbox("Dataset", names, index=names.index(name) if name in names else 0,
                        key=f"home_dataset_{j.dataset.id}")
    version = ds.list_versions(store, pick)[0]
    st.session_state[Keys.DATASET] = version.ref
    return version


def render_fixes(version) -> None:
    st.markdown("**Clean it (optional)**")
    try:
        fixes = _fixes(version.id, version.profile_sha, str(settings.home))
    except StudioError as exc:
        show_error(exc)
        return
    if not fixes:
        st.caption(f"Nothing to fix in {md_escape(version.ref)} that training would not "
                   "handle; the Wrangle page has every step if you want more.")
        return
    st.caption("One click saves a new version with the step in its recipe (it is replayed "
               "at prediction time too).")
    for fix in fixes:
        text, button = st.columns([5, 2], vertical_alignment="center")
        text.markdown(md_escape(fix.title))
        text.caption(md_escape(fix.why))
        if button.button("Apply", key=f"home_fix_{version.id}_{fix.key}",
                         icon=":material/auto_fix_high:"):
            try:
                made = apply_fix(store, version, fix)
            except StudioError as exc:
                show_error(exc)
            else:
                st.session_state[Keys.DATASET] = made.ref
                st.session_state[NOTICE] = ("success", f"Saved {made.ref}: {fix.title}.")
                st.rerun()
    st.page_link("pages/wrangle.py", label="More cleaning steps on Wrangle",
                 icon=":material/tune:")


def render_train_form(version) -> None:
    from studio.automl import service

    st.markdown("**Train a model**")
    columns = [str(c["name"]) for c in version.schema_ or []]
    target = st.selectbox("Column to predict", columns, index=None,
                          placeholder="choose the target column",
                          key=f"home_target_{version.id}")
    plan = None
    if target:
        try:
            plan = _plan(version.id, target, str(settings.home))
        except StudioError as exc:
            show_error(exc)
        else:
            st.caption(md_escape(f"{plan['task'].capitalize()}: {plan['task_reason']}. "
                                 f"{len(plan['features'])} feature columns, metric "
                                 f"{plan['metric']}."))
            for check in plan["checks"]:
                if check["level"] == "error":
                    st.error(md_escape(check["message"]), icon=":material/block:")
    budget = int(settings.train_budget_s)
    blocked = plan is not None and any(c["level"] == "error" for c in plan["checks"])
    if st.button(f"Train ({budget} s budget)", type="primary", icon=":material/rocket_launch:",
                 disabled=not target or blocked, key="home_train",
                 help="AutoML tries several model families and tunes them within the budget, "
                      "then registers the best. The Train page has every option."):
        try:
            job = service.start_search(settings, store, version_id=version.id, target=target,
                                       time_budget_s=budget)
        except StudioError as exc:
            show_error(exc)
        else:
            st.session_state[Keys.JOB] = job.id
            st.rerun()


def render_training(job) -> None:
    @st.fragment(run_every=2.0)
    def watch() -> None:
        current = active_jobs(store)
        now = next((x for x in current if x.id == job.id), None)
        if now is None:
            st.rerun(scope="app")  # finished: show the next step
        fraction, line = job_progress(now)
        st.progress(fraction or 0.0, text=f"Training {md_escape(now.name)} — {md_escape(line)}")

    watch()
    st.session_state[Keys.JOB] = job.id
    left, right = st.columns(2)
    left.page_link("pages/train.py", label="Watch the leaderboard on Train",
                   icon=":material/leaderboard:")
    if right.button("Stop early (keeps the best so far)", icon=":material/stop_circle:",
                    key=f"home_cancel_{job.id}", type="tertiary"):
        from studio.jobs import cancel_job

        cancel_job(store, job.id)
        st.toast("Stopping: the search keeps what finished.")


def render_publish_step(j) -> None:
    model = j.model
    card = model.card or {}
    holdout = (card.get("metrics") or {}).get("holdout") or {}
    score = f"{model.score:.4g}" if model.score is not None else "–"
    extra = f", holdout {holdout[model.metric]:.4g}" if model.metric in holdout else ""
    st.success(md_escape(f"AutoML registered {model.ref}: {card.get('algorithm') or 'a model'}, "
                         f"cross-validated {model.metric or 'score'} {score}{extra}."),
               icon=":material/check_circle:")
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    name = left.text_input("Endpoint name", value=model.model, key=f"home_endpoint_{model.id}",
                           help="The URL becomes /endpoints/NAME/invocations.")
    if right.button("Publish", type="primary", icon=":material/cloud_upload:",
                    key="home_publish"):
        from studio.endpoints import publish

        try:
            endpoint = publish(store, model, name.strip(), actor="ui")
        except StudioError as exc:
            show_error(exc)
        else:
            st.session_state[Keys.ENDPOINT] = endpoint.name
            st.session_state[Keys.MODEL] = model.ref
            st.session_state[NOTICE] = ("success", f"Endpoint {endpoint.name} now serves "
                                                   f"{model.ref}.")
            st.rerun()
    st.page_link("pages/models.py", label="Compare it on Models first (evaluation, report)",
                 icon=":material/inventory_2:")


def render_try_step(j, health: dict) -> None:
    st.session_state[Keys.ENDPOINT] = j.endpoint
    url = f"{settings.base_service_url}/endpoints/{j.endpoint}/invocations"
    st.markdown(md_escape(f"Endpoint {j.endpoint} serves {j.model.ref} at"))
    st.code(url, language=None)
    if not health["up"]:
        st.warning("The prediction service is not answering: start it on the Endpoints page "
                   "(`make run` starts it with the UI).", icon=":material/cloud_off:")
    st.page_link("pages/endpoints.py", label="Try it: a prediction from a form",
                 icon=":material/bolt:")


def render_monitor_step(j) -> None:
    st.session_state[Keys.ENDPOINT] = j.endpoint
    st.markdown(md_escape(f"Endpoint {j.endpoint} has answered predictions. Watch its drift, "
                          "data quality, traffic and accuracy; simulate traffic to see an "
                          "alert."))
    st.page_link("pages/monitor.py", label="Monitor it", icon=":material/monitoring:")


def render_quick_start(j, health: dict) -> None:
    render_stepper(j)
    step = j.step
    if step == "data":
        render_data_step()
        return
    if step == "train":
        if j.training:
            render_training(j.job)
            return
        if j.job is not None and j.job.status in ("failed", "cancelled", "interrupted"):
            st.warning(md_escape(f"The last search ({j.job.name}) {j.job.status}: "
                                 f"{j.job.error or 'no model was registered'}. Train again "
                                 "below, or resume it on Experiments."),
                       icon=":material/warning:")
        version = _pick_version(j)
        left, right = st.columns(2, gap="large")
        with left:
            render_fixes(version)
        with right:
            render_train_form(version)
        from studio.samples import SAMPLES

        # `make run` loads the samples: until the person adds data of their own, the
        # upload stays open here (it is what they came for)
        own_data = any(d.name not in SAMPLES for d in ds.list_datasets(store))
        with st.expander("Upload your own data, or load another sample", expanded=not own_data,
                         icon=":material/upload_file:"):
            render_data_step()
        return
    if step == "publish":
        render_publish_step(j)
    elif step == "try":
        render_try_step(j, health)
    else:
        render_monitor_step(j)


# --- the dashboard ---------------------------------------------------------------------

def render_jobs(jobs) -> None:
    """Progress of the active jobs, refreshed every LIVE_EVERY_S while there are any; when
    the set of active jobs changes the whole page reruns (counts, activity, next step)."""
    st.subheader("Running jobs")
    if not jobs:
        st.caption("Nothing running. Searches, batch predictions and monitoring checks show "
                   "their progress here.")
        return

    @st.fragment(run_every=LIVE_EVERY_S)
    def watch() -> None:
        current = active_jobs(store)
        if {x.id for x in current} != {x.id for x in jobs}:
            st.rerun(scope="app")
        for job in current:
            fraction, line = job_progress(job)
            label = f"Job {job.id} · {job.kind.replace('_', ' ')} · {md_escape(job.name)}"
            st.progress(fraction or 0.0, text=f"{label} — {md_escape(line)}")

    watch()


def render_endpoints(health: dict) -> None:
    from studio.endpoints import list_endpoints
    from studio.monitor import reports

    st.subheader("Endpoints")
    if health["up"]:
        st.caption(f"Prediction service up at {health['url']}"
                   + (f" ({health['note']})" if health["note"] else "") + ".")
    else:
        st.warning(f"The prediction service is not answering at {health['url']}: endpoints "
                   "cannot take requests. Start it on the Endpoints page, or run `make run`.",
                   icon=":material/cloud_off:")
    endpoints = list_endpoints(store)
    if not endpoints:
        st.caption("No endpoints yet: publish a model to get one.")
        return
    monitored = {e["endpoint"]: e for e in reports.list_endpoints(store)}
    rows = []
    for ep in endpoints[:20]:
        slot = health["endpoints"].get(ep.name) or {}
        if ep.model is None:
            state = "unpublished"
        elif not health["up"]:
            state = "service down"
        elif slot.get("status") == "ready":
            state = "ready" if slot.get("model") == ep.model else "switching"
        elif slot.get("status") == "error":
            state = "error: " + str(slot.get("error") or "")[:80]
        else:
            state = slot.get("status") or "loading"
        mon = monitored.get(ep.name) or {}
        rows.append({"endpoint": ep.name, "serving": ep.model or "–", "health": state,
                     "drift check": mon.get("status") or "not yet",
                     "alerts": mon.get("open_alerts") or 0})
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    if len(endpoints) > 20:
        st.caption(f"… and {len(endpoints) - 20} more on the Endpoints page.")


def render_alerts(count: int) -> None:
    if not count:
        return
    from studio.monitor import alerts

    st.subheader("Open alerts")
    for alert in alerts.list_alerts(store, open_only=True, limit=5):
        st.warning(md_escape(f"{alert.endpoint} · {ago(alert.at)} · {alert.message}"),
                   icon=":material/notifications_active:")
    if count > 5:
        st.caption(f"… and {count - 5} more.")
    st.page_link("pages/monitor.py", label="Review and acknowledge them on Monitor",
                 icon=":material/monitoring:")


def _activity_list(activity) -> None:
    if not activity:
        st.caption("Nothing yet.")
        return
    for item in activity:
        st.markdown(f":gray[{ago(item.at)}] · {md_escape(item.text)}")


def render_activity(activity, live: bool) -> None:
    """Newest events first. While a job is active (``live``) the list re-reads the store
    every LIVE_EVERY_S (trials register models, checks raise alerts); an idle studio has
    no timer, so nothing reruns until the person does something."""
    st.subheader("Recent activity")
    if not live:
        _activity_list(activity)
        return

    @st.fragment(run_every=LIVE_EVERY_S)
    def watch() -> None:
        _activity_list(studio_overview(store)[1])

    watch()


# --- page ------------------------------------------------------------------------------

st.title("Studio")
st.caption("Upload a table, let AutoML find a model, publish it behind an HTTP endpoint and "
           "watch it in production — all on this machine.")
_notice()

j = journey(store)
counts, activity = studio_overview(store)
health = _health(settings.base_service_url, str(settings.home)) if counts.endpoints else \
    {"up": False, "url": settings.base_service_url, "endpoints": {}, "note": ""}

if j.step != "monitor":
    with st.container(border=True):
        st.subheader("Your first live model" if counts.models == 0 else "Next step")
        render_quick_start(j, health)
    if counts.datasets == 0:
        st.caption("Prefer the command line? `python -m studio import FILE`, then "
                   "`python -m studio train NAME --target COLUMN`; see the README.")
        st.stop()

cards = st.columns(5)
cards[0].metric("Datasets", counts.datasets, help=f"{counts.dataset_versions} versions in all")
cards[1].metric("Jobs running", counts.jobs_active, help=f"{counts.jobs_total} jobs in all")
cards[2].metric("Models", counts.models, help=f"{counts.model_versions} versions in all")
cards[3].metric("Live endpoints", counts.endpoints_live,
                help=f"{counts.endpoints} endpoints in all; prediction service "
                     + ("up" if health["up"] else "not answering"))
cards[4].metric("Open alerts", counts.alerts_open)

left, right = st.columns([3, 2], gap="large")
with left:
    if counts.endpoints:
        render_endpoints(health)
    render_alerts(counts.alerts_open)
    running = active_jobs(store)
    render_jobs(running)
with right:
    render_activity(activity, live=bool(running))

if j.step == "monitor":
    with st.expander("Quick start: data → train → publish → try → monitor",
                     icon=":material/route:"):
        render_stepper(j)
        render_monitor_step(j)
        st.page_link("pages/data.py", label="Add data", icon=":material/upload_file:")
        st.page_link("pages/train.py", label="Train another model",
                     icon=":material/model_training:")
