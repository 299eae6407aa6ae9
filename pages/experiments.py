"""Experiments: the training history — every search, its trials, charts and models.

Jobs and trials are paged in SQL (nothing loads more than it shows); charts read
light trial points (capped); Optuna's own plots load the study only on request.
Data-derived text goes through st.dataframe / md_escape; plotly labels are
HTML-escaped.
"""
from __future__ import annotations

import html
import math
import warnings

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from pages._ui import context, empty_state, md_escape, plot, show_error
from studio import datasets as ds
from studio.automl import service
from studio.errors import StudioError
from studio.jobs import cancel_job, refresh_job_statuses, resume_job
from studio.theme import ALGORITHM_COLORS

settings, store = context()
JOBS_PAGE = 20
TRIALS_PAGE = 25
STATUSES = ["all", "running", "queued", "succeeded", "failed", "cancelled", "interrupted"]
TRIAL_STATUSES = ["all", "complete", "pruned", "failed", "stopped", "cancelled", "running"]
SORTS = {"score": "CV score (best first)", "number": "trial number (latest first)",
         "fit_time": "fit time (fastest first)", "predict_time": "prediction time (fastest first)"}

st.title("Experiments")
st.caption("Every AutoML search and its trials: compare, inspect, register any model, rerun.")

refresh_job_statuses(store)
total_jobs = service.count_searches(store)
if not total_jobs:
    empty_state("No searches yet. Start one on Train: pick a dataset and the column to predict.",
                page="pages/train.py", label="Go to Train")


def _e(text: object) -> str:
    return html.escape(str(text))


def _fmt(value, digits: int = 5) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def _worker(trial) -> str:
    """The Dask worker that evaluated the trial (``tcp://host:port``), with the workers it
    was lost on before, or "" for a trial run in the job's own process."""
    extra = trial.extra or {}
    worker = str(extra.get("worker") or "")
    lost = [str(w) for w in extra.get("lost_workers") or [] if w]
    if lost:
        worker = f"{worker or '—'} (lost on {', '.join(lost)})"
    return worker


# --- jobs ------------------------------------------------------------------------------

c1, c2 = st.columns([1, 3])
status = c1.selectbox("Status", STATUSES, key="exp_status")
status_filter = None if status == "all" else status
n_jobs = service.count_searches(store, status=status_filter)
pages = max(1, math.ceil(n_jobs / JOBS_PAGE))
page_no = c1.number_input(f"Page (of {pages})", min_value=1, max_value=pages, value=1,
                          key=f"exp_jobs_page_{status}")
jobs = service.list_searches(store, status=status_filter, limit=JOBS_PAGE,
                             offset=(int(page_no) - 1) * JOBS_PAGE)
if not jobs:
    c2.info("No search with this status.")
    st.stop()
table = pd.DataFrame([service.job_summary(j) for j in jobs])
table = table[["id", "status", "mode", "dataset", "target", "task", "metric", "trials",
               "best_score", "best_algorithm", "model", "budget_s", "created_at"]]
with c2:
    event = st.dataframe(table, hide_index=True, width="stretch", on_select="rerun",
                         selection_mode="single-row", key=f"exp_jobs_{status}_{page_no}",
                         height=min(400, 38 + 35 * len(table)))
selected = event.selection.rows if event and event.selection else []
job = jobs[selected[0]] if selected else jobs[0]
st.divider()

# --- one job -----------------------------------------------------------------------------

config, progress, result = job.config or {}, job.progress or {}, job.result or {}
st.subheader(f"Job {job.id}: {md_escape(job.name)}")
m = st.columns(5)
m[0].metric("Status", job.status)
m[1].metric("Trials", progress.get("trials_done", 0),
            help=f"pruned {progress.get('trials_pruned', 0)}, failed {progress.get('trials_failed', 0)}")
m[2].metric(f"Best {config.get('metric') or ''}", _fmt(progress.get("best_score")))
m[3].metric("Elapsed", f"{float(progress.get('elapsed_s') or 0):.0f} s")
m[4].metric("Model", result.get("model") or "—")
if job.error:
    st.warning(md_escape(job.error))
with st.expander("Configuration and result"):
    st.json({"config": config, "result": result, "validation": progress.get("validation")})

b1, b2, b3 = st.columns([2, 1, 1])
if config.get("mode", "search") == "search":
    with b1.popover("Rerun this search", icon=":material/replay:"):
        name = (config.get("dataset") or "").rpartition(":")[0]
        try:
            versions = ds.list_versions(store, name) if name else []
        except StudioError:
            versions = []
        refs = [v.ref for v in versions] or [config.get("dataset")]
        ref = st.selectbox("On dataset version", refs,
                           index=refs.index(config.get("dataset")) if config.get("dataset") in refs else 0,
                           key=f"exp_rerun_ref_{job.id}")
        if st.button("Start the same search", key=f"exp_rerun_{job.id}", type="primary"):
            try:
                new = service.rerun_search(settings, store, job.id, dataset=ref)
                st.success(f"Started job {new.id}; follow it on Train or here.")
            except StudioError as exc:
                show_error(exc)
if job.status in ("queued", "running"):
    if b2.button("Cancel", icon=":material/stop_circle:", key=f"exp_cancel_{job.id}"):
        cancel_job(store, job.id)
        st.toast("Cancel requested.")
elif job.status in ("interrupted", "cancelled", "failed") and config.get("mode", "search") == "search":
    if b2.button("Resume", icon=":material/play_arrow:", key=f"exp_resume_{job.id}"):
        try:
            resume_job(settings, store, job.id)
            st.rerun()
        except StudioError as exc:
            show_error(exc)
if b3.button("Refresh", icon=":material/refresh:", key=f"exp_refresh_{job.id}"):
    st.rerun()

if config.get("mode") == "register":
    st.info(f"This job fitted and registered trial {config.get('trial_id')} of search job "
            f"{config.get('source_job_id')}.")
    st.stop()

tab_board, tab_charts, tab_optuna, tab_model = st.tabs(
    ["Leaderboard", "Charts", "Optuna", "Model evaluation"])

# --- leaderboard: paged, filtered, sorted in SQL -----------------------------------------

with tab_board:
    summary = service.trial_summary(store, job.id)
    f1, f2, f3, f4 = st.columns(4)
    algo = f1.selectbox("Model", ["all"] + summary["algorithms"], key=f"exp_algo_{job.id}")
    tstatus = f2.selectbox("Trial status", TRIAL_STATUSES, key=f"exp_tstatus_{job.id}")
    sort = f3.selectbox("Sort by", list(SORTS), format_func=SORTS.get, key=f"exp_sort_{job.id}")
    _, n_trials = service.leaderboard(store, job, status=None if tstatus == "all" else tstatus,
                                      algorithm=None if algo == "all" else algo, limit=1)
    tpages = max(1, math.ceil(n_trials / TRIALS_PAGE))
    tpage = f4.number_input(f"Page (of {tpages})", min_value=1, max_value=tpages, value=1,
                            key=f"exp_tpage_{job.id}_{algo}_{tstatus}_{sort}")
    trials, _ = service.leaderboard(
        store, job, sort=sort, status=None if tstatus == "all" else tstatus,
        algorithm=None if algo == "all" else algo, limit=TRIALS_PAGE,
        offset=(int(tpage) - 1) * TRIALS_PAGE)
    st.caption(f"{n_trials:,} trials match; statuses: "
               + ", ".join(f"{k} {v}" for k, v in summary["statuses"].items()))
    if not trials:
        st.info("No trial matches these filters yet.")
    else:
        # trials evaluated on a Dask cluster record the worker that ran them (extra.worker);
        # the column shows for a job that ran on a cluster, never for a local one
        on_cluster = bool(progress.get("cluster")) or any(_worker(t) for t in trials)
        board = pd.DataFrame([{
            "trial": t.number, "model": t.algorithm, "status": t.status, "CV score": t.score,
            "± std": t.score_std, "folds": len(t.fold_scores or []),
            "holdout": (t.holdout or {}).get(config.get("metric")), "fit s": t.fit_time_s,
            "predict ms/row": t.predict_ms_per_row,
            **({"worker": _worker(t) or "—"} if on_cluster else {}),
            "registered": "yes" if (t.extra or {}).get("evaluation_sha") else "",
        } for t in trials])
        picked = st.dataframe(board, hide_index=True, width="stretch", on_select="rerun",
                              selection_mode="multi-row",
                              key=f"exp_board_{job.id}_{algo}_{tstatus}_{sort}_{tpage}")
        rows = picked.selection.rows if picked and picked.selection else []
        chosen = [trials[i] for i in rows]
        if not chosen:
            st.caption("Select trials (tick rows) to compare them side by side or register one.")
        if len(chosen) >= 1:
            compare = {}
            for t in chosen:
                column = {"model": t.algorithm, "status": t.status, "CV score": _fmt(t.score),
                          "± std": _fmt(t.score_std),
                          "fold scores": ", ".join(_fmt(s, 4) for s in t.fold_scores or []),
                          "fit s": _fmt(t.fit_time_s), "predict ms/row": _fmt(t.predict_ms_per_row)}
                if _worker(t):
                    column["worker"] = _worker(t)
                for key, value in (t.holdout or {}).items():
                    column[f"holdout {key}"] = _fmt(value)
                for key, value in (t.params or {}).items():
                    column[key] = value if not isinstance(value, (list, dict)) else str(value)[:200]
                compare[f"trial {t.number}"] = column
            st.markdown("**Side by side**")
            st.dataframe(pd.DataFrame(compare).astype(str), width="stretch")
        if len(chosen) == 1 and chosen[0].status == "complete":
            t = chosen[0]
            r1, r2 = st.columns([2, 1])
            model_name = r1.text_input("Register as model", value=config.get("model_name") or
                                       (config.get("dataset") or "model").rpartition(":")[0],
                                       key=f"exp_regname_{t.id}")
            if r2.button(f"Register trial {t.number}", icon=":material/inventory_2:",
                         key=f"exp_register_{t.id}",
                         help="Fits this configuration on the training rows, evaluates it on "
                              "the holdout and registers it (as a background job)."):
                try:
                    reg = service.register_trial(settings, store, job.id, t.id,
                                                 model_name=model_name.strip() or None)
                    st.success(f"Registering in job {reg.id}; it appears on Models when done.")
                except StudioError as exc:
                    show_error(exc)
            st.session_state["exp_eval_trial"] = t.id

# --- charts from light trial points ---------------------------------------------------------

with tab_charts:
    points = pd.DataFrame(service.trial_points(store, job.id, limit=5000))
    done = points[(points["status"] == "complete") & points["score"].notna()] if len(points) else points
    baseline = done[done["algorithm"] == "dummy"]["score"] if len(done) else []
    # the dummy is drawn as a line: as a point it would squash the axis
    models = done[done["algorithm"] != "dummy"] if len(done) else done
    if not len(models):
        st.info("Charts appear once models (beyond the baseline) have finished.")
    else:
        metric = _e(config.get("metric"))
        fig = px.box(models.assign(algorithm=models["algorithm"].map(_e)), x="algorithm",
                     y="score", points="all", title="CV score by model", height=360)
        if len(baseline):
            fig.add_hline(y=float(baseline.iloc[0]), line_dash="dot",
                          annotation_text="dummy baseline")
        fig.update_layout(yaxis_title=metric, xaxis_title="")
        plot(fig)
        fig = px.scatter(models.assign(algorithm=models["algorithm"].map(_e)), x="fit_time_s",
                         y="score", color="algorithm", log_x=True, hover_data=["number"],
                         color_discrete_map={_e(k): v for k, v in ALGORITHM_COLORS.items()},
                         title="Score vs fit time (all folds)", height=360)
        fig.update_layout(yaxis_title=metric, xaxis_title="fit time, seconds (log)")
        plot(fig)
        if len(points) >= 5000:
            st.caption("Charts show the latest 5,000 trials.")

# --- Optuna's own plots (load the study only on request) -----------------------------------------

with tab_optuna:
    if not job.study_name:
        st.info("This job has no Optuna study.")
    elif st.toggle("Load Optuna's plots", key=f"exp_optuna_{job.id}",
                   help="Reads every trial of the study; slower for thousands of trials."):
        import optuna.visualization as vis

        study = service.optuna_study(settings, job)
        finished = [t for t in study.trials if t.value is not None] if study else []
        if len(finished) < 2:
            st.info("Optuna's plots need at least two finished trials.")
        else:
            plot(vis.plot_optimization_history(study))
            algos = sorted({t.params.get("algorithm") for t in finished if t.params.get("algorithm")})
            pick = st.selectbox("Parameters of", algos, key=f"exp_optuna_algo_{job.id}")
            names = sorted({k for t in finished if t.params.get("algorithm") == pick
                            for k in t.params if k != "algorithm"})
            try:
                with warnings.catch_warnings():  # few trials per regime: said in the caption
                    warnings.simplefilter("ignore")
                    plot(vis.plot_param_importances(study))
                st.caption("Importances are rough until there are many trials per model.")
            except (ValueError, RuntimeError, ZeroDivisionError) as exc:
                st.caption(f"Parameter importances are not available yet ({exc}).")
            if names:
                try:
                    plot(vis.plot_parallel_coordinate(study, params=names))
                except (ValueError, RuntimeError) as exc:
                    st.caption(f"Parallel coordinates are not available ({exc}).")

# --- evaluation of a finalized model ---------------------------------------------------------------


def _render_evaluation(evaluation: dict, metric: str) -> None:
    cv, holdout = evaluation.get("cv") or {}, evaluation.get("metrics") or {}
    keys = sorted(set(cv) | set(holdout), key=lambda k: (k != metric, k))
    st.dataframe(pd.DataFrame([{"metric": k, "cross-validation": cv.get(k),
                                f"{evaluation.get('rows_seen', 'holdout')} ({evaluation.get('rows', 0):,} rows)":
                                holdout.get(k)} for k in keys]), hide_index=True)
    c1, c2, c3 = st.columns(3)
    c1.metric("Fit time", f"{float(evaluation.get('fit_time_s') or 0):.2f} s")
    c2.metric("One-row prediction", f"{float(evaluation.get('predict_ms_single_row') or 0):.1f} ms")
    c3.metric("Rows fitted", f"{int(evaluation.get('fitted_rows') or 0):,}")
    if evaluation.get("confusion_matrix"):
        cm = evaluation["confusion_matrix"]
        labels = [_e(x) for x in cm["labels"]]
        fig = go.Figure(go.Heatmap(z=cm["matrix"], x=labels, y=labels, colorscale="Blues",
                                   text=cm["matrix"], texttemplate="%{text}"))
        fig.update_layout(title="Confusion matrix (rows: actual, columns: predicted)",
                          yaxis_autorange="reversed", height=420)
        plot(fig)
    if evaluation.get("roc"):
        c1, c2 = st.columns(2)
        fig = go.Figure()
        for label, curve in evaluation["roc"].items():
            fig.add_scatter(x=curve["fpr"], y=curve["tpr"], mode="lines",
                            name=f"{_e(label)} (AUC {curve['auc']:.3f})")
        fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "#94a3b8"},
                        showlegend=False)
        fig.update_layout(title="ROC curve", xaxis_title="false positive rate",
                          yaxis_title="true positive rate", height=380)
        with c1:
            plot(fig)
        fig = go.Figure()
        for label, curve in (evaluation.get("pr") or {}).items():
            fig.add_scatter(x=curve["recall"], y=curve["precision"], mode="lines",
                            name=f"{_e(label)} (AP {curve['average_precision']:.3f})")
        fig.update_layout(title="Precision–recall curve", xaxis_title="recall",
                          yaxis_title="precision", height=380)
        with c2:
            plot(fig)
    if evaluation.get("pred_vs_actual"):
        c1, c2 = st.columns(2)
        pva = evaluation["pred_vs_actual"]
        lo, hi = min(pva["actual"] + pva["predicted"]), max(pva["actual"] + pva["predicted"])
        fig = go.Figure(go.Scatter(x=pva["actual"], y=pva["predicted"], mode="markers",
                                   marker={"size": 5, "opacity": 0.6}))
        fig.add_scatter(x=[lo, hi], y=[lo, hi], mode="lines", line={"dash": "dot"}, showlegend=False)
        fig.update_layout(title="Predicted vs actual", xaxis_title="actual",
                          yaxis_title="predicted", height=380, showlegend=False)
        with c1:
            plot(fig)
        res = evaluation["residuals"]
        fig = go.Figure(go.Scatter(x=res["predicted"], y=res["residual"], mode="markers",
                                   marker={"size": 5, "opacity": 0.6}))
        fig.add_hline(y=0, line_dash="dot")
        fig.update_layout(title="Residuals (actual − predicted)", xaxis_title="predicted",
                          yaxis_title="residual", height=380)
        with c2:
            plot(fig)
    importance = evaluation.get("permutation_importance") or []
    if importance:
        top = importance[:25][::-1]
        fig = go.Figure(go.Bar(x=[r["importance"] for r in top], y=[_e(r["feature"]) for r in top],
                               orientation="h",
                               error_x={"type": "data", "array": [r.get("std", 0) for r in top]}))
        fig.update_layout(title="Permutation importance (drop in the metric when shuffled)",
                          height=max(300, 22 * len(top) + 80))
        plot(fig)
    else:
        st.caption("Permutation importance was skipped (no holdout or no time left in the budget).")


with tab_model:
    candidates = []
    if result.get("best_trial_id"):
        candidates.append(int(result["best_trial_id"]))
    if st.session_state.get("exp_eval_trial"):
        candidates.append(int(st.session_state["exp_eval_trial"]))
    found = [t for t in service.get_trials(store, list(dict.fromkeys(candidates)))
             if t.job_id == job.id]
    with_eval = [t for t in found if (t.extra or {}).get("evaluation_sha")]
    if not with_eval:
        st.info("A model is evaluated on the holdout when it is registered: the best one at the "
                "end of the search, or any trial you register from the Leaderboard tab.")
    else:
        pick = st.selectbox("Model", range(len(with_eval)),
                            format_func=lambda i: f"trial {with_eval[i].number} · "
                                                  f"{with_eval[i].algorithm}",
                            key=f"exp_eval_pick_{job.id}")
        try:
            evaluation = service.load_evaluation(store, with_eval[pick])
        except StudioError as exc:
            show_error(exc)
            evaluation = None
        if evaluation:
            _render_evaluation(evaluation, config.get("metric"))
