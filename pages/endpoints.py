"""Endpoints: the prediction service, API keys, each endpoint's history, rollback and a try-it panel."""
import math

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from pages._ui import Keys, empty_state, md_escape, plot, settings, show_error, store
from studio.endpoints import (
    create_api_key, history, list_api_keys, list_endpoints, revoke_api_key, rollback,
    rollback_candidates, unpublish,
)
from studio.errors import StudioError
from studio.model_cards import get_version
from studio.service.process import (
    endpoint_state, invoke, pid_file, service_status, snippets, start_service,
)

st.title("Endpoints")
st.caption("Published models answer HTTP requests from the prediction service. Publish a model "
           "version from the Models page; swap, roll back or try it here.")

cfg = settings()

# --- the service ------------------------------------------------------------------
status = service_status(cfg)
AUTO = "endpoints_service_autostart_tried"
if not status.up and not status.running and pid_file(cfg).exists() and not st.session_state.get(AUTO):
    # It ran before and died: restart it once; a failing start is shown, not retried forever.
    st.session_state[AUTO] = True
    with st.spinner("The prediction service stopped; restarting it…"):
        status = start_service(cfg)

with st.container(border=True):
    left, right = st.columns([4, 1], vertical_alignment="center")
    if status.up:
        left.success(f"Prediction service is up at {status.url} "
                     f"({status.endpoints} endpoint(s) ready).", icon=":material/check_circle:")
    else:
        left.warning(f"Prediction service is down at {status.url}: {status.message}.",
                     icon=":material/cloud_off:")
        if status.log_tail:
            left.markdown("**The end of its log says why:**")
            left.code(status.log_tail, language=None)
        if right.button("Start service" if not status.log_tail else "Try again",
                        icon=":material/play_arrow:", key="start_service"):
            with st.spinner("Starting the prediction service…"):
                started = start_service(cfg)
            st.session_state[AUTO] = True
            if not started.up:
                st.error(f"The service did not start: {started.message}.", icon=":material/error:")
                if started.log_tail:
                    st.code(started.log_tail, language=None)
            else:
                st.rerun()

with st.expander("API keys", icon=":material/key:"):
    if cfg.api_keys_required:
        st.write("The service requires an API key on every endpoint call (header `X-API-Key` "
                 "or `Authorization: Bearer`).")
    else:
        st.write("The service listens on loopback, so API keys are off; set "
                 "`STUDIO_REQUIRE_API_KEY=true` (or bind elsewhere) to require them.")
    with st.form("new_key", clear_on_submit=True):
        key_name = st.text_input("Name of the new key", placeholder="e.g. reporting-app")
        if st.form_submit_button("Create key", icon=":material/add:"):
            try:
                key, token = create_api_key(store(), key_name)
            except StudioError as exc:
                show_error(exc)
            else:
                st.success(f"Key {key.name} created. Copy it now: it is shown only once.")
                st.code(token, language=None)
    keys = list_api_keys(store())
    for key in keys:
        cols = st.columns([2, 2, 2, 1], vertical_alignment="center")
        cols[0].text(f"{key.name}  (sk_{key.prefix}…)")
        cols[1].text(f"created {key.created_at:%Y-%m-%d %H:%M}")
        cols[2].text("revoked" if key.revoked_at else
                     (f"last used {key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never used"))
        if not key.revoked_at and cols[3].button("Revoke", key=f"revoke_{key.id}"):
            revoke_api_key(store(), key.id)
            st.rerun()

# --- endpoints --------------------------------------------------------------------
endpoints = list_endpoints(store())
if not endpoints:
    empty_state("No endpoints yet. Open a model on the Models page and press Publish.",
                page="pages/models.py", label="Go to models")

st.dataframe(pd.DataFrame([{"endpoint": e.name, "serving": e.model or "(unpublished)",
                            "changes": e.generation, "updated": e.updated_at} for e in endpoints]),
             hide_index=True, width="stretch")
names = [e.name for e in endpoints]
wanted = st.session_state.get(Keys.ENDPOINT)
name = st.selectbox("Endpoint", names, index=names.index(wanted) if wanted in names else 0,
                    key="endpoints_page_name")
st.session_state[Keys.ENDPOINT] = name
endpoint = endpoints[names.index(name)]

api_key = None
if cfg.api_keys_required:
    api_key = st.text_input("API key for calls from this page", type="password",
                            key="endpoints_try_key") or None
live = endpoint_state(cfg, name, api_key) if status.up else None
if live and live.get("status") == "error":
    st.error(f"The service cannot serve {name}: {live.get('error')}", icon=":material/error:")
elif live and live.get("status") == "ready" and live.get("model") != endpoint.model:
    st.info(f"The service still serves {live.get('model')}; it switches to {endpoint.model} "
            "within a few seconds.", icon=":material/sync:")

tab_try, tab_history = st.tabs(["Try it", "History and rollback"])

with tab_history:
    events = history(store(), name)
    if events:
        frame = pd.DataFrame([{"when": e.at, "action": e.action, "version": e.model or "–",
                               "before": e.previous_model or "–", "by": e.actor} for e in events])
        st.dataframe(frame, hide_index=True, width="stretch")
        spans = []
        now = pd.Timestamp.now(tz="UTC")
        ordered = list(reversed(events))
        for i, e in enumerate(ordered):
            end = ordered[i + 1].at if i + 1 < len(ordered) else now
            if e.model:
                spans.append(dict(version=e.model, start=pd.Timestamp(e.at), end=pd.Timestamp(end)))
        if spans:
            fig = go.Figure()
            for span in spans:
                fig.add_trace(go.Scatter(x=[span["start"], span["end"]], y=[span["version"]] * 2,
                                         mode="lines", line=dict(width=14), showlegend=False,
                                         hovertemplate="%{y}<br>%{x}<extra></extra>"))
            fig.update_layout(title="Which version served when", height=120 + 40 * len(
                {s["version"] for s in spans}), yaxis_title=None)
            plot(fig)
    candidates = rollback_candidates(store(), name)
    cols = st.columns([3, 1, 1], vertical_alignment="bottom")
    if candidates:
        choice = cols[0].selectbox("Roll back to", [c.model for c in candidates], key="rollback_to")
        if cols[1].button("Roll back", icon=":material/undo:", key="rollback_btn"):
            try:
                ep = rollback(store(), name, to=choice, actor="ui")
            except StudioError as exc:
                show_error(exc)
            else:
                st.success(f"{ep.name} now serves {ep.model} again.")
                st.rerun()
    else:
        cols[0].caption("No earlier version to roll back to.")
    if endpoint.model_version_id is not None and cols[2].button(
            "Unpublish", icon=":material/cloud_off:", key="unpublish_btn"):
        try:
            unpublish(store(), name, actor="ui")
        except StudioError as exc:
            show_error(exc)
        else:
            st.rerun()

with tab_try:
    if endpoint.model_version_id is None:
        st.info("This endpoint is unpublished. Publish a model version to it from the Models page.")
        st.stop()
    version = get_version(store(), endpoint.model_version_id)
    card = version.card or {}
    schema = card.get("input_schema") or []
    example = card.get("example") or {}
    st.caption(f"A form built from {version.ref}'s input columns. Change values and press "
               "Predict to ask the live service (what-if).")
    record = {}
    with st.form(f"try_{name}_{version.id}"):
        grid = st.columns(3)
        for i, col in enumerate(schema):
            box = grid[i % 3]
            label = str(col["name"])
            value = example.get(col["name"])
            semantic = col.get("semantic")
            dtype = str(col.get("dtype", ""))
            key = f"try_{version.id}_{i}"
            if semantic == "boolean" or dtype in ("bool", "boolean"):
                options = ["true", "false", "(missing)"]
                current = "(missing)" if value is None else ("true" if value in (True, 1, "true") else "false")
                picked = box.selectbox(label, options, index=options.index(current), key=key)
                record[col["name"]] = None if picked == "(missing)" else picked == "true"
            elif col.get("categories") and semantic in ("categorical", "text", "identifier", None):
                options = [str(c) for c in col["categories"]] + ["(missing)"]
                current = "(missing)" if value is None else str(value)
                if current not in options:
                    options.insert(0, current)
                picked = box.selectbox(label, options, index=options.index(current), key=key)
                record[col["name"]] = None if picked == "(missing)" else picked
            elif semantic == "numeric" or dtype.startswith(("int", "float", "uint")):
                low, high = col.get("min"), col.get("max")
                is_int = dtype.startswith(("int", "uint"))
                number = None if value is None or (isinstance(value, float) and math.isnan(value)) else value
                help_text = (f"training range {low:g} to {high:g}" if low is not None and high is not None
                             else None)
                if is_int:
                    entered = box.number_input(label, value=None if number is None else int(number),
                                               step=1, help=help_text, key=key)
                else:
                    entered = box.number_input(label, value=None if number is None else float(number),
                                               help=help_text, key=key, format="%.4g")
                record[col["name"]] = entered
            else:
                entered = box.text_input(label, value="" if value is None else str(value), key=key)
                record[col["name"]] = entered or None
        submitted = st.form_submit_button("Predict", type="primary", icon=":material/bolt:")
    if submitted:
        try:
            answer = invoke(cfg, name, [record], api_key=api_key, explain=True)
        except StudioError as exc:
            show_error(exc)
        else:
            prediction = answer["predictions"][0]
            st.metric("Prediction", str(prediction))
            st.caption(f"by {answer.get('model')} · request id {answer['request_ids'][0]}")
            probabilities = (answer.get("probabilities") or [None])[0]
            if probabilities:
                fig = go.Figure(go.Bar(x=list(probabilities.values()), y=list(probabilities.keys()),
                                       orientation="h", text=[f"{p:.1%}" for p in probabilities.values()],
                                       textposition="auto"))
                fig.update_layout(title="Class probabilities", xaxis=dict(range=[0, 1], tickformat=".0%"),
                                  height=120 + 40 * len(probabilities))
                plot(fig)
            explanation = (answer.get("explanations") or [None])[0]
            if explanation:
                contrib = sorted(explanation["contributions"].items(), key=lambda kv: abs(kv[1]))[-12:]
                fig = go.Figure(go.Bar(x=[v for _, v in contrib], y=[k for k, _ in contrib],
                                       orientation="h",
                                       marker_color=["#ef4444" if v < 0 else "#2563eb" for _, v in contrib]))
                toward = f" toward {explanation['class']}" if explanation.get("class") is not None else ""
                fig.update_layout(title=f"What drove it{toward} ({explanation['unit']})",
                                  height=140 + 28 * len(contrib))
                plot(fig)
    st.markdown("**Call it from code**")
    code = snippets(cfg, name, record or example, cfg.api_keys_required)
    left, right = st.columns(2)
    with left:
        st.caption("curl")
        st.code(code["curl"], language="bash")
    with right:
        st.caption("Python")
        st.code(code["python"], language="python")
    st.caption(f"More formats (CSV, MLflow's dataframe_split, ?explain=true) at "
               f"{md_escape(cfg.base_service_url)}/docs")
