"""Models: the registry, one model card per version, bundle download, one-click publish."""
import pandas as pd
import streamlit as st

from pages._ui import Keys, empty_state, md_escape, plot, settings, show_error, store
from studio.bundle import build_bundle, bundle_name
from studio.endpoints import publish
from studio.evaluation_charts import evaluation_rows
from studio.errors import StudioError
from studio.model_cards import data_lineage, get_version, list_model_versions, load_evaluation, stages
from studio.registry import set_notes, set_stage
from studio.report import model_report_html, report_file_name

PUBLISHED = "models_page_published"  # (endpoint, model) of the last publish, shown once

st.title("Models")
st.caption("Every registered model version with its card: how good it is, what data made it, "
           "and one click to put it behind a live endpoint.")

rows = list_model_versions(store())
if not rows:
    empty_state("No models yet. Train one: AutoML registers the best model it finds here.",
                page="pages/train.py", label="Train a model")

table = pd.DataFrame(rows)
st.dataframe(
    table[["ref", "task", "algorithm", "metric", "score", "stage", "endpoints", "created_at"]],
    hide_index=True, width="stretch",
    column_config={"ref": "model version", "score": st.column_config.NumberColumn(format="%.4f"),
                   "endpoints": st.column_config.ListColumn("serving on")},
)

refs = [r["ref"] for r in rows]
wanted = st.session_state.get(Keys.MODEL)
index = refs.index(wanted) if wanted in refs else 0
ref = st.selectbox("Model version", refs, index=index, key="models_page_ref",
                   on_change=lambda: st.session_state.pop(PUBLISHED, None))
st.session_state[Keys.MODEL] = ref
row = rows[refs.index(ref)]
version = get_version(store(), row["id"])
card = version.card or {}

top = st.columns(4)
top[0].metric("Task", version.task)
score = f"{version.score:.4f}" if version.score is not None else "–"
top[1].metric(f"CV {version.metric or 'score'}", score)
top[2].metric("Stage", version.stage)
top[3].metric("Endpoints", len(row["endpoints"]),
              help="Serving this version: " + (", ".join(row["endpoints"]) or "none"))

with st.container(border=True):
    st.markdown("**Publish this version**")
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    endpoint = left.text_input("Endpoint name", value=version.model, key=f"publish_name_{ref}",
                               help="Letters, digits, '_', '.', '-'; at most 64. Publishing to an "
                                    "endpoint that serves another version swaps it.")
    if right.button("Publish", type="primary", icon=":material/cloud_upload:", key="publish_btn"):
        try:
            ep = publish(store(), version, endpoint, actor="ui")
        except StudioError as exc:
            show_error(exc)
        else:
            st.session_state[PUBLISHED] = (ep.name, ep.model)
            st.session_state[Keys.ENDPOINT] = ep.name
            st.rerun()  # the table and the metrics above show the new endpoint
    if st.session_state.get(PUBLISHED):
        name, served = st.session_state[PUBLISHED]
        st.success(f"Endpoint {name} now serves {served}; it is live within a few seconds.",
                   icon=":material/check_circle:")
        st.code(f"{settings().base_service_url}/endpoints/{name}/invocations", language=None)
        st.page_link("pages/endpoints.py", label="Try it on the Endpoints page",
                     icon=":material/arrow_forward:")

tabs = st.tabs(["Evaluation", "Data and lineage", "Parameters", "Notes and stage", "Download"])

with tabs[0]:
    metrics = card.get("metrics") or {}
    if metrics:
        frame = pd.DataFrame({split: values for split, values in metrics.items()
                              if isinstance(values, dict)})
        st.dataframe(frame, width="stretch")
    else:
        st.caption("This version's card has no metrics.")
    try:
        evaluation = load_evaluation(store(), version)
    except StudioError as exc:
        evaluation = None
        show_error(exc)
    chart_rows = evaluation_rows(evaluation, card)
    for chart_row in chart_rows:  # curves and regression plots side by side
        for place, fig in zip(st.columns(len(chart_row)) if len(chart_row) > 1
                              else [st.container()], chart_row):
            with place:
                plot(fig)
    if not chart_rows:
        st.caption("No evaluation plots were stored with this version.")

with tabs[1]:
    lineage = data_lineage(store(), version)
    cols = st.columns(3)
    cols[0].markdown("**Dataset version**")
    cols[0].text(lineage.get("dataset") or "unknown")
    cols[1].markdown("**Uploaded file**")
    cols[1].text(lineage.get("source_name") or "unknown")
    cols[2].markdown("**Training job / trial**")
    cols[2].text(f"job {lineage.get('job_id') or '–'}, trial {lineage.get('trial_id') or '–'}, "
                 f"seed {lineage.get('seed') if lineage.get('seed') is not None else '–'}")
    if lineage["chain"]:
        st.markdown("**From the uploaded file to the training data**")
        st.dataframe(pd.DataFrame(lineage["chain"]), hide_index=True, width="stretch")
    st.markdown(f"**Target:** {md_escape(version.target)}")
    schema = card.get("input_schema") or []
    if schema:
        st.markdown("**Input columns**")
        st.dataframe(pd.DataFrame(schema).astype(str), hide_index=True, width="stretch")
    if lineage["recipe"]:
        st.markdown("**Recipe (steps applied to the data)**")
        st.json(lineage["recipe"], expanded=False)

with tabs[2]:
    st.markdown(f"**Algorithm:** {md_escape(card.get('algorithm') or 'unknown')}")
    st.json(card.get("params") or {}, expanded=True)
    versions = card.get("library_versions") or {}
    if versions:
        st.markdown("**Library versions**")
        st.dataframe(pd.DataFrame(list(versions.items()), columns=["library", "version"]),
                     hide_index=True)
    st.markdown("**sha256 of the pipeline file**")
    st.code(version.artifact_sha, language=None)

with tabs[3]:
    with st.form(f"notes_{ref}"):
        all_stages = list(stages())
        stage = st.selectbox("Stage", all_stages, index=all_stages.index(version.stage)
                             if version.stage in all_stages else 0, key=f"stage_{version.id}")
        notes = st.text_area("Intended use and notes", value=version.notes, height=160,
                             placeholder="What this model is for, who may use it, known limits…",
                             key=f"notes_{version.id}")
        if st.form_submit_button("Save", type="primary", key=f"save_{version.id}"):
            try:
                set_stage(store(), version, stage)
                set_notes(store(), version, notes)
            except StudioError as exc:
                show_error(exc)
            else:
                st.toast("Saved", icon=":material/check:")
                st.rerun()
    if version.notes:
        st.markdown("**Saved note**")
        st.text(version.notes)

with tabs[4]:
    st.write("A zip with the fitted pipeline (`model.joblib`), `model.json` (schema, classes, "
             "metrics, lineage, library versions, sha256) and a README showing how to load and "
             "call it in plain Python.")
    st.download_button("Download model bundle", data=lambda: build_bundle(store(), version),
                       file_name=bundle_name(version), mime="application/zip",
                       icon=":material/download:", key="bundle_download")
    st.divider()
    st.write("The model report: one HTML file to share with people who do not use the studio "
             "(data summary, leaderboard, evaluation plots, feature importance and the live "
             "endpoint's monitoring summary). It opens offline in any browser.")
    st.download_button("Download model report (HTML)",
                       data=lambda: model_report_html(store(), version),
                       file_name=report_file_name(version), mime="text/html",
                       icon=":material/description:", key="report_download")
