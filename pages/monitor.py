"""Monitor: drift, data quality, traffic and model quality of an endpoint, with alerts.

Reads stored check reports (the scheduler in the prediction service writes one
every STUDIO_MONITOR_INTERVAL_S); "Check now" and "Simulate traffic" start
background jobs, so nothing heavy runs in this script.
"""
from datetime import datetime, time as dtime, timedelta, timezone

import pandas as pd
import streamlit as st

from pages._ui import Keys, ago, context, empty_state, md_escape, plot, show_error
from studio.errors import StudioError
from studio.monitor import actions, alerts, charts, reports, rules
from studio.monitor.windows import WINDOW_LABELS

STATUS_WORD = {"ok": "OK", "warning": "WARNING", "alert": "ALERT", None: "–"}
STATUS_BADGE = {"ok": "green", "warning": "orange", "alert": "red"}
STATUS_CELL = {"ok": "background-color: #d1fae5", "warning": "background-color: #fef3c7",
               "alert": "background-color: #fee2e2"}

settings, store = context()
st.title("Monitor")


@st.cache_data(show_spinner=False, max_entries=64)
def _snapshot(home: str, report_id: int) -> dict:
    """A stored report never changes, so it is read once per report."""
    return reports.load_snapshot(store, reports.get_report(store, report_id))


@st.cache_data(show_spinner=False, max_entries=64)
def _columns(home: str, endpoint: str, model_version_id: int | None) -> list[str]:
    return reports.input_columns(store, endpoint)


@st.fragment(run_every=1.0)
def _follow_job() -> None:
    job_id = st.session_state.get(Keys.MONITOR_JOB)
    if not job_id:
        return
    job = actions.job_state(store, job_id)
    progress = job.progress or {}
    if job.status in ("queued", "running"):
        sent, total = progress.get("sent"), progress.get("total")
        if sent is not None and total:
            st.progress(min(sent / total, 1.0), text=f"{md_escape(job.name)}: sent {sent:,} of "
                                                     f"{total:,} rows")
        else:
            st.progress(0.5 if job.status == "running" else 0.0,
                        text=f"{md_escape(job.name)}: {progress.get('stage', job.status)}…")
        return
    del st.session_state[Keys.MONITOR_JOB]
    if job.status == "succeeded":
        st.toast(f"{job.name}: done", icon=":material/check_circle:")
    else:
        st.session_state["monitor_job_error"] = (
            f"{job.name}: {job.status}." + (f" {job.error}" if job.error else ""))
    st.rerun(scope="app")


endpoints = reports.list_endpoints(store)
if not endpoints:
    empty_state("No endpoints yet. Publish a model to an endpoint; once it receives traffic, its "
                "drift, data quality, traffic and accuracy show up here.",
                page="pages/models.py", label="Publish a model")

names = [e["endpoint"] for e in endpoints]
if st.session_state.get(Keys.ENDPOINT) not in names:
    st.session_state[Keys.ENDPOINT] = names[0]
top = st.columns([2, 2.6, 1.2, 1.8])
endpoint = top[0].selectbox("Endpoint", names, key=Keys.ENDPOINT)
window = top[1].radio("Window", list(WINDOW_LABELS), format_func=WINDOW_LABELS.get,
                      horizontal=True, key="monitor_window")
start = end = None
if window == "custom":
    today = datetime.now(timezone.utc).date()
    c1, c2 = st.columns(2)
    day_from = c1.date_input("From (UTC)", today - timedelta(days=1), key="monitor_from")
    day_to = c2.date_input("To (UTC, inclusive)", today, key="monitor_to")
    start = datetime.combine(day_from, dtime.min, timezone.utc).timestamp()
    end = datetime.combine(day_to + timedelta(days=1), dtime.min, timezone.utc).timestamp()

busy = bool(st.session_state.get(Keys.MONITOR_JOB))
top[2].write("")
if top[2].button("Check now", icon=":material/refresh:", disabled=busy,
                 help="Measure this window now (runs in the background)"):
    try:
        st.session_state[Keys.MONITOR_JOB] = actions.start_check(
            settings, store, endpoint, window, start, end).id
        st.rerun()
    except StudioError as exc:
        show_error(exc)

entry = next(e for e in endpoints if e["endpoint"] == endpoint)
with top[3].popover("Simulate traffic", icon=":material/play_arrow:", disabled=busy):
    st.caption("Send realistic requests to the live endpoint (the prediction service must be "
               "running), with feedback for a share of them; a check follows. When the service "
               "requires API keys, a temporary key is created for the run and revoked after it.")
    rows = st.number_input("Rows", 10, 20_000, 500, step=100, key="sim_rows")
    drift_choices = ["(no drift)"] + _columns(str(settings.home), endpoint,
                                              entry["model_version_id"])
    drift = st.selectbox("Shift one column", drift_choices, key="sim_drift",
                         help="Numbers move by 1.5 standard deviations; categories swap towards "
                              "their rarest value and some never-seen ones")
    share = st.slider("Share with feedback", 0.0, 1.0, 0.3, 0.05, key="sim_feedback")
    if st.button("Send", type="primary", key="sim_send"):
        try:
            st.session_state[Keys.MONITOR_JOB] = actions.start_simulation(
                settings, store, endpoint, rows=int(rows),
                drift=None if drift == "(no drift)" else drift, feedback=share).id
            st.rerun()
        except StudioError as exc:
            show_error(exc)

if message := st.session_state.pop("monitor_job_error", None):
    st.error(message, icon=":material/error:")
if busy:
    _follow_job()

report = None if window == "custom" else reports.latest_report(store, endpoint, window)
if window == "custom":
    report = next((r for r in [reports.latest_report(store, endpoint, "custom")]
                   if r and abs(r.window_start - start) < 1 and abs(r.window_end - end) < 1), None)
if report is None:
    empty_state(f"No check of endpoint {endpoint} for the {WINDOW_LABELS[window]} yet. The "
                f"prediction service checks every endpoint every {settings.monitor_interval_s} s; "
                "press **Check now** to measure it, or **Simulate traffic** to send some.")

snap = _snapshot(str(settings.home), report.id)
open_alerts = alerts.list_alerts(store, endpoint, open_only=True, limit=50)
st.caption(f"Checked {ago(report.at)} · {WINDOW_LABELS[snap['window']]} "
           f"({datetime.fromtimestamp(snap['window_start'], timezone.utc):%Y-%m-%d %H:%M} → "
           f"{datetime.fromtimestamp(snap['window_end'], timezone.utc):%Y-%m-%d %H:%M} UTC) · "
           f"model {md_escape(snap.get('model') or '–')} · scheduled every "
           f"{settings.monitor_interval_s} s")
if snap.get("note"):
    st.info(snap["note"], icon=":material/info:")

totals, quality = snap["traffic"]["totals"], snap["quality"]
flagged = [f for f in snap["features"] if f["status"] != "ok"]
cards = st.columns(6)
cards[0].metric("Status", STATUS_WORD[snap["status"]])
cards[1].metric("Predictions", f"{snap['rows']['in_window']:,}")
cards[2].metric("Drifting features", f"{len(flagged)} of {len(snap['features'])}")
cards[3].metric("Error rate", "–" if totals["error_rate"] is None else
                f"{totals['error_rate']:.1%}")
cards[4].metric("p99 latency", "–" if totals["p99_ms"] is None else f"{totals['p99_ms']:.0f} ms")
if quality.get("value") is not None:
    delta = None if quality.get("baseline") is None else quality["value"] - quality["baseline"]
    cards[5].metric(quality["metric"], f"{quality['value']:.3f}",
                    None if delta is None else f"{delta:+.3f} vs validation",
                    delta_color="inverse" if quality.get("lower_is_better") else "normal")
else:
    cards[5].metric("Model quality", "no labels")
if open_alerts:
    st.error(f"{len(open_alerts)} open alert(s) for this endpoint: see the Alerts tab. "
             f"Latest: {md_escape(open_alerts[0].message)}", icon=":material/notifications_active:")

tabs = st.tabs(["Drift", "Drift over time", "Data quality", "Traffic", "Model quality",
                "Alerts", "Rules"])

with tabs[0]:
    if not snap["features"]:
        st.info("No drift to show: this model version has no training baseline.")
    else:
        plot(charts.drift_scores(snap["features"]))
        table = pd.DataFrame(reports.features_rows(snap))
        styled = table.style.map(lambda v: STATUS_CELL.get(v, ""), subset=["status"])
        st.dataframe(styled, hide_index=True, width="stretch", column_config={
            "importance": st.column_config.ProgressColumn(
                "importance", min_value=0.0, max_value=1.0, format="%.2f",
                help="From the model card, scaled so the most important feature is 1"),
            "score": st.column_config.NumberColumn(format="%.3f"),
            "PSI": st.column_config.NumberColumn(format="%.3f"),
            "p-value": st.column_config.NumberColumn(format="%.3g"),
        })
        st.caption("Numbers: Wasserstein distance in training standard deviations; categories: "
                   "Jensen–Shannon distance. A feature is flagged only when the change is also "
                   "significant (chi-square on the binned counts, p < 0.01).")
        pick = st.selectbox("Compare distributions of", [f["feature"] for f in snap["features"]]
                            + (["(prediction)"] if snap.get("prediction") else []),
                            key="monitor_dist_feature")
        chosen = snap["prediction"] if pick == "(prediction)" else \
            next(f for f in snap["features"] if f["feature"] == pick)
        if chosen.get("histogram"):
            plot(charts.distribution({**chosen, "feature": pick}))
        else:
            st.caption("No values of this feature in the window to compare.")

with tabs[1]:
    history = reports.history(store, endpoint, snap["window"])
    names_over_time = [f["feature"] for f in snap["features"]][:10] + ["(prediction)"]
    if len({h["report_id"] for h in history}) < 2:
        st.info("One check so far: the chart fills in as scheduled checks run "
                f"(every {settings.monitor_interval_s} s).")
    if history:
        plot(charts.drift_over_time(history, names_over_time))

with tabs[2]:
    dq = snap["data_quality"]
    st.caption(f"Checked {dq['rows_checked']:,} of {dq['rows_in_window']:,} rows in the window"
               + (" (an evenly spread sample)" if dq["sampled"] else "") + ".")
    issues = reports.issues_rows(snap)
    if issues:
        st.dataframe(pd.DataFrame(issues), hide_index=True, width="stretch",
                     column_config={"share": st.column_config.NumberColumn(format="percent")})
    else:
        st.success("No data-quality issues in this window.", icon=":material/check_circle:")
    missing = pd.DataFrame([{"feature": k, "missing (training)": v["baseline_missing_rate"],
                             "missing (window)": v["missing_rate"]}
                            for k, v in dq["features"].items()])
    if len(missing):
        st.dataframe(missing, hide_index=True, width="stretch", column_config={
            "missing (training)": st.column_config.NumberColumn(format="percent"),
            "missing (window)": st.column_config.NumberColumn(format="percent")})

with tabs[3]:
    if not totals["requests"]:
        st.info("No predictions in this window. Send some with **Simulate traffic**, or call "
                f"POST /endpoints/{endpoint}/invocations.")
    else:
        st.caption(f"{totals['requests']:,} requests ({totals.get('predictions', 0):,} "
                   f"predictions) · {totals['per_minute']:.1f} requests/min · "
                   f"4xx {totals['errors_4xx']:,} · 5xx {totals['errors_5xx']:,} · "
                   f"p50 {totals['p50_ms']} ms · p95 {totals['p95_ms']} ms · "
                   f"p99 {totals['p99_ms']} ms")
        plot(charts.traffic(snap["traffic"]["series"]))
        plot(charts.latency(snap["traffic"]["series"]))

with tabs[4]:
    share = quality.get("label_share")
    st.caption(f"{quality['labelled']:,} of {quality['predictions']:,} predictions have ground "
               "truth" + (f" ({share:.1%})" if share is not None else "") + ".")
    if quality.get("value") is None:
        st.info("No feedback in this window yet. Send the true outcome for earlier request ids:")
        st.code(f'POST {settings.base_service_url}/endpoints/{endpoint}/feedback\n'
                '{"feedback": [{"request_id": "…", "actual": …}]}', language="text")
    else:
        rows_q = [{"metric": k, "this window": v,
                   "validation": quality["baseline_metrics"].get(k)}
                  for k, v in quality["current"].items()]
        st.dataframe(pd.DataFrame(rows_q), hide_index=True)
        if quality["series"]:
            plot(charts.quality_over_time(quality))

with tabs[5]:
    shown = alerts.list_alerts(store, endpoint, limit=100)
    st.caption(f"{len(open_alerts)} open, {len(shown) - len(open_alerts)} acknowledged "
               "(newest first).")
    if not shown:
        st.info("No alerts for this endpoint. Rules (next tab) decide when a check raises one.")
    for alert in shown:
        with st.container(border=True):
            head = st.columns([5, 1.2])
            rule_title = rules.TITLES.get((alert.evidence.get("rule") or {}).get("kind"), "rule")
            head[0].badge(STATUS_WORD[alert.severity], color=STATUS_BADGE[alert.severity])
            head[0].markdown(f"**{md_escape(rule_title)}** · {ago(alert.at)}")
            head[0].text(alert.message)
            if alert.acknowledged_at:
                head[1].caption(f"acknowledged by {md_escape(alert.acknowledged_by)}, "
                                f"{ago(alert.acknowledged_at)}")
            elif head[1].button("Acknowledge", key=f"ack_{alert.id}"):
                alerts.acknowledge(store, alert.id, by="ui")
                st.rerun()
            if alert.webhook_status:
                st.caption(f"webhook: {md_escape(alert.webhook_status)}")
            with st.expander("Evidence"):
                st.json(alert.evidence, expanded=False)

with tabs[6]:
    st.caption("Each check evaluates these rules. Changes apply from the next check.")
    for rule in alerts.ensure_default_rules(store, endpoint):
        hook = " · webhook" if rule.webhook_url else ""
        with st.expander(f"{rules.TITLES[rule.kind]} — {'on' if rule.enabled else 'off'}{hook}"):
            st.caption("Fires when " + rules.describe(rule.kind, rule.params))
            with st.form(f"rule_{rule.id}"):
                enabled = st.checkbox("Enabled", rule.enabled)
                values = {}
                for name, spec in rules.rule_spec(rule.kind).items():
                    current = rule.params.get(name, spec["default"])
                    if spec["type"] == "bool":
                        values[name] = st.checkbox(name, bool(current), help=spec["help"])
                    elif spec["type"] == "choice":
                        values[name] = st.selectbox(name, spec["choices"],
                                                    index=spec["choices"].index(current),
                                                    help=spec["help"])
                    elif spec["type"] == "int":
                        values[name] = st.number_input(name, int(spec["min"]), int(spec["max"]),
                                                       int(current), help=spec["help"])
                    else:
                        values[name] = st.number_input(name, float(spec["min"]),
                                                       float(spec["max"]), float(current),
                                                       help=spec["help"], format="%.4g")
                url = st.text_input("Webhook URL (optional)", rule.webhook_url or "",
                                    help="Alerts are POSTed here as JSON (http or https)")
                if st.form_submit_button("Save"):
                    try:
                        alerts.update_rule(store, rule.id, params=values, enabled=enabled,
                                           webhook_url=url or None)
                        st.success("Saved.")
                        st.rerun()
                    except StudioError as exc:
                        show_error(exc)
