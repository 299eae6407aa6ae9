"""Train: set up an AutoML search on a dataset version and watch it live.

The search runs in a worker process (a job); this page only submits it and
reads its progress from the store, refreshing on its own while it runs.
Column names and labels come from user data: they are shown through
st.dataframe, st.text or md_escape, never as HTML.
"""
from __future__ import annotations

import html
import json

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from pages._ui import Keys, context, empty_state, md_escape, plot, show_error
from studio import datasets as ds
from studio.automl import service
from studio.automl.metrics import METRICS, metric_names
from studio.automl.task import RARE_OPTIONS
from studio.errors import StudioError
from studio.jobs import cancel_job, refresh_job_statuses, resume_job
from studio.theme import algorithm_color

settings, store = context()
ICON = {"error": ":material/error:", "warning": ":material/warning:", "info": ":material/info:"}
TASK_CHOICES = ["detected", "binary", "multiclass", "regression"]
ACTIVE = ("queued", "running")

st.title("Train")
st.caption("AutoML: pick a dataset and the column to predict; the studio tries many models "
           "within your time budget and registers the best one.")


@st.cache_data(show_spinner="Checking the data…", max_entries=32, ttl=900)
def _plan(version_id: int, target: str, task: str | None, metric: str | None, options: str,
          home: str) -> dict:
    version = ds.get_version_by_id(store, version_id)
    return service.plan_for(store, version, target, task=task, metric=metric,
                            options=json.loads(options)).to_dict()


def _fmt(value, digits: int = 4) -> str:
    return "—" if value is None else f"{value:.{digits}g}" if isinstance(value, float) else str(value)


# --- the live view of a search -------------------------------------------------------

def _score_chart(job) -> None:
    points = service.trial_points(store, job.id, limit=3000)
    done = [p for p in points if p["score"] is not None and p["status"] == "complete"
            and p["algorithm"] != "dummy"]
    if not done:
        st.caption("The chart fills in as trials finish.")
        return
    start = min(p["created_at"] for p in points)
    frame = pd.DataFrame(done)
    frame["seconds"] = [(t - start).total_seconds() for t in frame["created_at"]]
    higher = service.higher_is_better(job)
    best = frame["score"].cummax() if higher else frame["score"].cummin()
    fig = go.Figure()
    for algo, part in frame.groupby("algorithm"):
        fig.add_scatter(x=part["seconds"], y=part["score"], mode="markers", name=html.escape(algo),
                        customdata=part["number"], marker={"color": algorithm_color(algo)},
                        hovertemplate="trial %{customdata}<br>%{y:.5g}<extra></extra>")
    fig.add_scatter(x=frame["seconds"], y=best, mode="lines", name="best so far",
                    line={"shape": "hv", "color": "#0f172a"})
    fig.update_layout(height=300, margin={"t": 30, "b": 40}, xaxis_title="seconds into the search",
                      yaxis_title=html.escape(str(job.config.get("metric"))),
                      title="Score of each trial over time")
    plot(fig)


def _leaderboard(job, rows: list, total: int) -> None:
    if not rows:
        return
    table = pd.DataFrame([{
        "trial": r.number, "model": r.algorithm, "CV score": r.score,
        "± std": r.score_std, "fit s": r.fit_time_s, "predict ms/row": r.predict_ms_per_row,
    } for r in rows])
    st.markdown(f"**Leaderboard** — best {len(rows)} of {total} finished trials")
    st.dataframe(table, hide_index=True, width="stretch")


def _next_steps(model_ref: str) -> None:
    """Open the model, or publish it right here (to the endpoint named after the model)."""
    from studio.endpoints import endpoints_serving, publish
    from studio.registry import resolve_model_version

    cols = st.columns(3, vertical_alignment="center")
    cols[0].page_link("pages/models.py", label="Open it on Models", icon=":material/inventory_2:")
    try:
        version = resolve_model_version(store, model_ref)
    except StudioError:
        return
    serving = endpoints_serving(store, [version.id]).get(version.id, [])
    if serving:
        st.session_state[Keys.ENDPOINT] = serving[0]
        cols[1].page_link("pages/endpoints.py", label="It is live: try it",
                          icon=":material/bolt:")
    elif cols[1].button("Publish it", type="primary", icon=":material/cloud_upload:",
                        key=f"train_publish_{version.id}",
                        help="Serve this version on the endpoint named after the model "
                             "(the Models page lets you choose another name)."):
        try:
            endpoint = publish(store, version, version.model, actor="ui")
        except StudioError as exc:
            show_error(exc)
        else:
            st.session_state[Keys.ENDPOINT] = endpoint.name
            st.toast(f"Endpoint {endpoint.name} now serves {version.ref}.",
                     icon=":material/check_circle:")
            st.rerun(scope="app")


def _live(job_id: int) -> None:
    refresh_job_statuses(store)
    try:
        job = service.get_search(store, job_id)
    except StudioError as exc:
        show_error(exc)
        st.session_state.pop(Keys.JOB, None)
        return
    progress, config, result = job.progress or {}, job.config or {}, job.result or {}
    mode = config.get("mode", "search")
    head = f"Job {job.id}: {md_escape(job.name)}"
    st.subheader(head)
    budget = float(config.get("time_budget_s") or 0) or None
    elapsed = float(progress.get("elapsed_s") or 0)
    # the trial table is the truth (progress is written with the next heartbeat)
    rows, total = service.leaderboard(store, job, status="complete", limit=10) \
        if mode == "search" else ([], 0)
    best = rows[0] if rows else None
    metric = config.get("metric") or progress.get("metric") or ""
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Status", job.status)
    c2.metric("Elapsed", f"{elapsed:.0f} s" + (f" of {budget:.0f}" if budget else ""))
    c3.metric("Trials done", total)
    c4.metric(f"Best {METRICS[metric].label if metric in METRICS else metric}".strip(),
              _fmt(best.score if best else None),
              help=f"best model so far: {best.algorithm if best else '—'}")
    if job.status in ACTIVE:
        share = min(1.0, elapsed / budget) if budget else 0.0
        st.progress(share, text=f"{progress.get('phase') or 'starting'}…")
        if st.button("Cancel search", icon=":material/stop_circle:", key=f"cancel_{job.id}"):
            cancel_job(store, job.id)
            st.toast("Cancel requested: the search stops within seconds and keeps what finished.")
    elif job.status == "succeeded":
        if result.get("model"):
            st.success(f"Registered model {md_escape(result['model'])} "
                       f"({md_escape(result.get('algorithm'))}): CV {md_escape(result.get('metric'))} "
                       f"{_fmt(result.get('score'))}, holdout "
                       f"{_fmt((result.get('holdout') or {}).get(result.get('metric')))}.",
                       icon=":material/check_circle:")
            if result.get("warning"):
                st.warning(md_escape(result["warning"]), icon=":material/warning:")
            _next_steps(result["model"])
        else:
            st.success("The search finished.", icon=":material/check_circle:")
    else:
        message = job.error or f"The search is {job.status}."
        (st.warning if job.status in ("cancelled", "interrupted") else st.error)(md_escape(message))
        if job.status in ("interrupted", "cancelled", "failed") and mode == "search":
            if st.button("Resume search", icon=":material/play_arrow:", key=f"resume_{job.id}",
                         help="Continues the same Optuna study from its stored trials."):
                try:
                    resume_job(settings, store, job.id)
                    st.rerun(scope="app")
                except StudioError as exc:
                    show_error(exc)
    if mode == "search":
        _score_chart(job)
        _leaderboard(job, rows, total)
    st.page_link("pages/experiments.py", label="All trials, charts and model evaluation on "
                 "Experiments", icon=":material/science:")
    if job.status not in ACTIVE and st.session_state.get("_train_was_active") == job.id:
        st.session_state.pop("_train_was_active")
        st.rerun(scope="app")  # stop refreshing


def _follow(job_id: int) -> None:
    refresh_job_statuses(store)
    try:
        job = service.get_search(store, job_id)
    except StudioError:
        st.session_state.pop(Keys.JOB, None)
        return
    active = job.status in ACTIVE
    if active:
        st.session_state["_train_was_active"] = job.id
    st.fragment(run_every=2.0 if active else None)(_live)(job_id)
    if st.button("Set up another search", icon=":material/add:"):
        st.session_state.pop(Keys.JOB, None)
        st.rerun()
    st.divider()


# --- the setup --------------------------------------------------------------------------

def _setup() -> None:
    datasets = ds.list_datasets(store)
    if not datasets:
        empty_state("No dataset yet. Import a CSV or load a sample on Datasets, then come back "
                    "to train a model on it.", page="pages/data.py", label="Go to Datasets")
    names = [d.name for d in datasets]
    chosen_ref = st.session_state.get(Keys.DATASET) or ""
    default_name = chosen_ref.rpartition(":")[0] or chosen_ref
    c1, c2 = st.columns([3, 1])
    name = c1.selectbox("Dataset", names,
                        index=names.index(default_name) if default_name in names else 0,
                        key="train_dataset")
    versions = ds.list_versions(store, name)
    labels = [f"v{v.version} · {v.rows:,} rows" + (" (latest)" if i == 0 else "")
              for i, v in enumerate(versions)]
    pick = c2.selectbox("Version", range(len(versions)), format_func=lambda i: labels[i],
                        key=f"train_version_{name}")
    version = versions[pick]
    columns = [c["name"] for c in version.schema_] or []
    if not version.rows or not columns:
        empty_state(f"{version.ref} has no rows to learn from. Import data with rows first.")
    target = st.selectbox("Target: the column to predict", columns, index=None,
                          placeholder="choose a column", key=f"train_target_{version.id}")
    if not target:
        st.info("Choose the target column to see the detected task and the checks.",
                icon=":material/info:")
        return
    c1, c2 = st.columns(2)
    task_pick = c1.selectbox("Task", TASK_CHOICES, key=f"train_task_{version.id}_{target}",
                             help="Detected from the target; override it if it is wrong.")
    task = None if task_pick == "detected" else task_pick
    with st.expander("Validation, budget and options", expanded=False):
        a1, a2 = st.columns(2)
        others = [c for c in columns if c != target]
        group_col = a1.selectbox("Group column (rows of a group stay in one fold)",
                                 [None] + others, key=f"train_group_{version.id}",
                                 format_func=lambda c: "none" if c is None else c)
        time_col = a2.selectbox("Time column (validate on later rows)", [None] + others,
                                key=f"train_time_{version.id}",
                                format_func=lambda c: "none" if c is None else c)
        b1, b2, b3 = st.columns(3)
        budget = b1.number_input("Time budget (seconds, whole job)", min_value=5,
                                 max_value=86_400, value=60, step=15, key="train_budget")
        trials = b2.number_input("Trial budget (0 = no limit)", min_value=0, value=0, step=10,
                                 key="train_trials")
        seed = b3.number_input("Seed", min_value=0, value=0, step=1, key="train_seed")
        d1, d2 = st.columns(2)
        weighting = d1.selectbox("Class weighting", ["auto", "balanced", "none"],
                                 key="train_weighting",
                                 help="auto: balanced only for F1/balanced accuracy on imbalanced "
                                      "classes.")
        model_name = d2.text_input("Model name", value=version.dataset, key=f"train_model_{name}")
    rare_key = f"train_rare_{version.id}_{target}"
    include_key = f"train_include_{version.id}_{target}"
    options = {"group_col": group_col, "time_col": time_col,
               "rare_classes": st.session_state.get(rare_key),
               "include": st.session_state.get(include_key) or []}
    options = {k: v for k, v in options.items() if v}
    metric = st.session_state.get(f"train_metric_{version.id}_{target}_{task}")
    try:
        plan = _plan(version.id, target, task, metric, json.dumps(options, sort_keys=True),
                     str(settings.home))
    except StudioError as exc:
        show_error(exc)
        return
    c2.selectbox("Metric", metric_names(plan["task"]),
                 index=metric_names(plan["task"]).index(plan["metric"]),
                 format_func=lambda m: METRICS[m].label,
                 key=f"train_metric_{version.id}_{target}_{task}")
    st.markdown(f"**Task: {plan['task']}** — {md_escape(plan['task_reason'])}.")
    if plan["classes"] is not None and plan["class_counts"]:
        counts = plan["class_counts"]
        shown = ", ".join(f"{md_escape(k)}: {v:,}" for k, v in list(counts.items())[:12])
        st.caption(f"{len(counts)} classes — {shown}" + (" …" if len(counts) > 12 else ""))
    for check in plan["checks"]:
        box = {"error": st.error, "warning": st.warning, "info": st.info}[check["level"]]
        box(md_escape(check["message"]), icon=ICON[check["level"]])
        if check["code"] == "rare_classes":
            st.radio("What to do with the rare classes", list(RARE_OPTIONS),
                     index=list(RARE_OPTIONS).index(check["chosen"] or "no_stratify"),
                     format_func=lambda k: RARE_OPTIONS[k], key=rare_key, horizontal=True)
    excluded = plan["excluded"]
    if excluded or st.session_state.get(include_key):
        pool = sorted(set(excluded) | set(st.session_state.get(include_key) or []))
        st.multiselect("Left out of the features (pick any to use it anyway)", pool,
                       key=include_key)
        with st.expander(f"Why {len(excluded)} column(s) are left out"):
            st.dataframe(pd.DataFrame([{"column": k, "reason": v} for k, v in excluded.items()]),
                         hide_index=True, width="stretch")
    st.caption(f"{len(plan['features'])} feature columns; {plan['n_rows_used']:,} of "
               f"{plan['n_rows']:,} rows will be used.")
    blocked = any(c["level"] == "error" for c in plan["checks"])
    if st.button("Start search", type="primary", icon=":material/rocket_launch:",
                 disabled=blocked, help="Fix the errors above first." if blocked else None):
        try:
            job = service.start_search(
                settings, store, version_id=version.id, target=target, task=task,
                metric=st.session_state.get(f"train_metric_{version.id}_{target}_{task}"),
                time_budget_s=float(budget), max_trials=int(trials) or None, seed=int(seed),
                class_weight=weighting, options=options, model_name=model_name.strip() or None)
        except StudioError as exc:
            show_error(exc)
            return
        st.session_state[Keys.JOB] = job.id
        st.rerun()


followed = st.session_state.get(Keys.JOB)
if followed:
    _follow(int(followed))
else:
    _setup()
