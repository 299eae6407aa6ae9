"""The model report: one self-contained HTML file to share a model version with stakeholders.

``model_report_html(store, model_version) -> str`` holds the data summary (the training
dataset version, its lineage and columns), the search's leaderboard, the evaluation
plots, feature importance, and the monitoring summary of every endpoint serving the
version. Plotly's JavaScript is embedded once (no CDN, no network: it opens offline and
can be mailed), each chart as a div beside it.

Everything that comes from data or from people (column names, values, class labels,
notes, alert messages) goes through ``html.escape`` here, and through the escaping
helper of :mod:`studio.evaluation_charts` inside charts (plotly reads a few tags in
text); plotly's own JSON escapes ``<``, so no value can close the script it sits in.
"""
from __future__ import annotations

import html
from datetime import datetime, timezone
from typing import Any, Iterable

from storage.registry import ModelVersionPublic
from storage.store import Store

CSS = """
:root { --ink:#0f172a; --muted:#64748b; --line:#e2e8f0; --soft:#f1f5f9; --blue:#2563eb; }
* { box-sizing: border-box; }
body { font-family: Inter, "Segoe UI", Helvetica, Arial, sans-serif; color: var(--ink);
       margin: 0; background: #fff; font-size: 15px; line-height: 1.5; }
main { max-width: 1100px; margin: 0 auto; padding: 32px 24px 64px; }
h1 { font-size: 30px; margin: 0 0 4px; } h2 { font-size: 21px; margin: 40px 0 10px;
     padding-top: 12px; border-top: 1px solid var(--line); }
h3 { font-size: 16px; margin: 20px 0 6px; }
.muted { color: var(--muted); } .small { font-size: 13px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(160px, 1fr)); gap: 12px;
         margin: 18px 0; }
.card { border: 1px solid var(--line); border-radius: 10px; padding: 12px 14px; }
.card .label { color: var(--muted); font-size: 13px; } .card .value { font-size: 22px; }
table { border-collapse: collapse; width: 100%; margin: 8px 0 16px; font-size: 14px; }
th, td { border-bottom: 1px solid var(--line); padding: 6px 8px; text-align: left;
         vertical-align: top; }
th { background: var(--soft); font-weight: 600; } td.num { text-align: right;
     font-variant-numeric: tabular-nums; }
.badge { display: inline-block; border-radius: 999px; padding: 1px 10px; font-size: 13px; }
.ok { background: #d1fae5; } .warning { background: #fef3c7; } .alert { background: #fee2e2; }
.chart { margin: 8px 0 16px; }
nav a { color: var(--blue); margin-right: 14px; text-decoration: none; }
pre { background: var(--soft); padding: 10px; border-radius: 8px; white-space: pre-wrap;
      word-break: break-word; }
@media print { .chart { break-inside: avoid; } }
"""


def e(value: object) -> str:
    """Any value as HTML text."""
    return html.escape("" if value is None else str(value))


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _table(rows: list[dict], columns: Iterable[str] | None = None, numeric: set[str] = frozenset(),
           empty: str = "Nothing to show.") -> str:
    if not rows:
        return f'<p class="muted">{e(empty)}</p>'
    columns = list(columns or rows[0].keys())
    head = "".join(f"<th>{e(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(
            f'<td class="num">{e(_fmt(r.get(c)))}</td>' if c in numeric else
            f"<td>{e(_fmt(r.get(c)))}</td>" for c in columns) + "</tr>"
        for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cards(items: list[tuple[str, Any]]) -> str:
    return '<div class="cards">' + "".join(
        f'<div class="card"><div class="label">{e(label)}</div>'
        f'<div class="value">{e(_fmt(value))}</div></div>' for label, value in items) + "</div>"


def _badge(status: str | None) -> str:
    status = status or "not checked"
    css = status if status in ("ok", "warning", "alert") else ""
    return f'<span class="badge {css}">{e(status)}</span>'


class _Charts:
    """Figures as divs; plotly's JavaScript goes in once, in the page head."""

    def __init__(self):
        from studio.theme import apply_plotly_theme

        apply_plotly_theme()
        self.count = 0

    def div(self, fig) -> str:
        import plotly.io as pio

        if fig is None:
            return ""
        self.count += 1
        return '<div class="chart">' + pio.to_html(
            fig, full_html=False, include_plotlyjs=False, div_id=f"chart-{self.count}",
            config={"displaylogo": False, "responsive": True}) + "</div>"

    def script(self) -> str:
        if not self.count:
            return ""
        from plotly.offline import get_plotlyjs

        return f'<script type="text/javascript">{get_plotlyjs()}</script>'


# --- sections -------------------------------------------------------------------------

def _resolve(store: Store, model_version) -> ModelVersionPublic:
    if isinstance(model_version, ModelVersionPublic):
        return model_version
    if isinstance(model_version, int):
        from studio.model_cards import get_version

        return get_version(store, model_version)
    from studio.registry import resolve_model_version

    return resolve_model_version(store, str(model_version))


def _summary_section(version: ModelVersionPublic) -> str:
    card = version.card or {}
    metrics = card.get("metrics") or {}
    holdout = (metrics.get("holdout") or {}).get(version.metric)
    parts = [_cards([("Task", version.task), ("Target", version.target),
                     ("Model", card.get("algorithm") or "–"),
                     (f"CV {version.metric or 'score'}", version.score),
                     (f"Holdout {version.metric or 'score'}", holdout),
                     ("Stage", version.stage)])]
    splits = {k: v for k, v in metrics.items() if isinstance(v, dict)}
    if splits:
        names = sorted({m for v in splits.values() for m in v},
                       key=lambda m: (m != version.metric, m))
        rows = [{"metric": m, **{split: values.get(m) for split, values in splits.items()}}
                for m in names]
        parts.append("<h3>Metrics</h3>" + _table(rows, ["metric", *splits], set(splits)))
    if card.get("validation"):
        parts.append(f'<p class="muted small">Validation: {e(card["validation"])}.</p>')
    classes = card.get("classes")
    if classes:
        shown = ", ".join(e(c) for c in classes[:30]) + (" …" if len(classes) > 30 else "")
        parts.append(f'<p class="small">Classes ({len(classes)}): {shown}</p>')
    if version.notes:
        parts.append(f"<h3>Intended use and notes</h3><pre>{e(version.notes)}</pre>")
    return "".join(parts)


def _data_section(store: Store, version: ModelVersionPublic) -> str:
    from studio.model_cards import data_lineage

    card = version.card or {}
    lineage = data_lineage(store, version)
    parts = [f'<p>Trained on dataset version <b>{e(lineage.get("dataset") or "unknown")}</b>'
             + (f', from the file <b>{e(lineage["source_name"])}</b>'
                if lineage.get("source_name") else "") + ".</p>"]
    if lineage["chain"]:
        parts.append("<h3>From the uploaded file to the training data</h3>" + _table(
            [{"version": c["ref"], "rows": c["rows"], "columns": c["cols"],
              "recipe steps": c["recipe_steps"], "created": c["created_at"][:16]}
             for c in lineage["chain"]], numeric={"rows", "columns", "recipe steps"}))
    if lineage["recipe"]:
        steps = "".join(f"<li>{e(_describe_step(s))}</li>" for s in lineage["recipe"])
        parts.append(f"<h3>Recipe replayed at prediction time</h3><ol>{steps}</ol>")
    profile = _profile(store, version)
    if profile:
        parts.append(_cards([("Rows", profile.get("rows")), ("Columns", profile.get("cols")),
                             ("Missing cells", profile.get("missing_cells")),
                             ("Duplicate rows", profile.get("duplicate_rows"))]))
        rows = [{"column": c["name"], "type": c.get("semantic"),
                 "missing %": c.get("missing_pct"), "distinct": c.get("distinct"),
                 "summary": _column_summary(c)} for c in profile.get("columns", [])[:200]]
        parts.append("<h3>Columns</h3>" + _table(rows, numeric={"missing %", "distinct"}))
        if len(profile.get("columns", [])) > 200:
            parts.append(f'<p class="muted small">The first 200 of {len(profile["columns"]):,}'
                         " columns.</p>")
    schema = card.get("input_schema") or []
    if schema:
        rows = [{"input column": c.get("name"), "type": c.get("semantic") or c.get("dtype"),
                 "used by the model": c.get("used", True),
                 "why not": c.get("reason", "") if c.get("used") is False else ""}
                for c in schema]
        parts.append("<h3>What the endpoint takes</h3>" + _table(rows))
    return "".join(parts)


def _describe_step(step: dict) -> str:
    try:
        from studio.recipes import step_from_json

        return step_from_json(step).describe()
    except Exception:  # noqa: BLE001 - an old or unknown step is still listed
        return str(step.get("kind", "step"))


def _profile(store: Store, version: ModelVersionPublic) -> dict | None:
    from studio import datasets
    from studio.errors import StudioError

    vid = ((version.card or {}).get("lineage") or {}).get("dataset_version_id") \
        or version.dataset_version_id
    if not vid:
        return None
    try:
        return datasets.get_profile(store, datasets.get_version_by_id(store, vid))
    except StudioError:
        return None


def _column_summary(col: dict) -> str:
    stats = col.get("stats") or {}
    if "mean" in stats:
        return f"mean {_fmt(stats['mean'])}, range {_fmt(stats.get('min'))} to " \
               f"{_fmt(stats.get('max'))}"
    if col.get("top") and col.get("semantic") != "identifier":
        return "most common: " + ", ".join(f"{v} ({c:,})" for v, c in col["top"][:3])
    if col.get("semantic") == "datetime":
        return f"{stats.get('min', '')} to {stats.get('max', '')}"
    return ""


def _leaderboard_section(store: Store, version: ModelVersionPublic) -> str:
    from studio.automl import service
    from studio.errors import StudioError

    job_id = version.job_id or ((version.card or {}).get("lineage") or {}).get("job_id")
    if not job_id:
        return '<p class="muted">This version was not made by an AutoML search.</p>'
    try:
        job = service.get_search(store, job_id)
        trials, total = service.leaderboard(store, job, status="complete", limit=15)
    except StudioError as exc:
        return f'<p class="muted">The search is not readable: {e(exc)}.</p>'
    config, progress = job.config or {}, job.progress or {}
    rows = [{"rank": i + 1, "trial": t.number, "model": t.algorithm, "CV score": t.score,
             "± std": t.score_std, "fit s": t.fit_time_s,
             "predict ms/row": t.predict_ms_per_row,
             "registered": "◀ this model" if t.id == version.trial_id else ""}
            for i, t in enumerate(trials)]
    head = (f'<p>Search job {job.id} on {e(config.get("dataset"))}: {e(config.get("task"))}, '
            f'metric {e(config.get("metric"))}, budget {_fmt(config.get("time_budget_s"))} s, '
            f'{_fmt(progress.get("trials_done", total))} trials '
            f'({e(config.get("validation") or (version.card or {}).get("validation") or "")}).'
            f' The best {len(rows)} of {total} finished trials:</p>')
    return head + _table(rows, numeric={"rank", "trial", "CV score", "± std", "fit s",
                                        "predict ms/row"})


def _evaluation_section(store: Store, version: ModelVersionPublic, charts: _Charts) -> str:
    from studio import evaluation_charts as ec
    from studio.errors import StudioError
    from studio.model_cards import load_evaluation

    card = version.card or {}
    try:
        evaluation = load_evaluation(store, version)
    except StudioError as exc:
        return f'<p class="muted">The evaluation could not be read: {e(exc)}.</p>'
    parts = []
    if evaluation and evaluation.get("rows"):
        parts.append(f'<p class="muted small">Measured on {e(evaluation.get("rows_seen"))} rows '
                     f'({_fmt(evaluation.get("rows"))}) the model did not train on.</p>')
    figures = [ec.confusion_matrix(evaluation or {}), ec.roc_curve(evaluation or {}),
               ec.pr_curve(evaluation or {}), ec.predicted_vs_actual(evaluation or {}),
               ec.residuals(evaluation or {})]
    divs = [charts.div(f) for f in figures if f is not None]
    parts += divs or ['<p class="muted">No evaluation plots were stored with this version.</p>']
    importance = ec.feature_importance(card, evaluation)
    parts.append("<h2 id=\"importance\">Feature importance</h2>")
    if importance is None:
        parts.append('<p class="muted">No feature importance was stored with this '
                     "version.</p>")
    else:
        parts.append(charts.div(importance))
        rows = sorted(ec.importance_rows(card, evaluation), key=lambda r: -(r["importance"] or 0))
        parts.append(_table([{"feature": r["feature"], "importance": r["importance"]}
                             for r in rows[:30]], numeric={"importance"}))
    return "".join(parts)


def _monitoring_section(store: Store, version: ModelVersionPublic, charts: _Charts) -> str:
    import plotly.graph_objects as go

    from studio.endpoints import endpoints_serving
    from studio.monitor import alerts, reports

    names = sorted(endpoints_serving(store, [version.id]).get(version.id, []))
    if not names:
        return (f'<p class="muted">{e(version.ref)} is not published to an endpoint, so there '
                "is no production traffic to summarise.</p>")
    parts = []
    for name in names:
        report = reports.latest_report(store, name)
        open_alerts = alerts.list_alerts(store, name, open_only=True, limit=20)
        parts.append(f"<h3>Endpoint {e(name)} {_badge(report.status if report else None)}</h3>")
        if report is None:
            parts.append('<p class="muted">No monitoring check yet: it runs on a schedule in '
                         "the prediction service, or with <code>python -m studio monitor "
                         f"{e(name)} --check</code>.</p>")
        else:
            s = report.summary or {}
            quality = s.get("quality") or {}
            at = report.at if report.at.tzinfo else report.at.replace(tzinfo=timezone.utc)
            parts.append(f'<p class="muted small">Checked {at:%Y-%m-%d %H:%M} UTC over the '
                         f'{e(s.get("window"))} window, model {e(s.get("model"))}.</p>')
            parts.append(_cards([
                ("Requests", s.get("requests")), ("Error rate", None if s.get("error_rate")
                                                      is None else f"{s['error_rate']:.1%}"),
                ("p99 latency ms", s.get("p99_ms")),
                ("Drifting features", sum(1 for f in (s.get("features") or {}).values()
                                          if f.get("status") != "ok")),
                (f"Live {quality.get('metric') or 'quality'}", quality.get("value"))]))
            features = s.get("features") or {}
            if features:
                ordered = sorted(features.items(), key=lambda kv: -(kv[1].get("score") or 0))
                colors = {"ok": "#10b981", "warning": "#eab308", "alert": "#ef4444"}
                top = ordered[:20][::-1]
                fig = go.Figure(go.Bar(
                    x=[f.get("score") or 0 for _, f in top],
                    y=[html.escape(str(k)) for k, _ in top], orientation="h",
                    marker_color=[colors.get(f.get("status"), "#94a3b8") for _, f in top]))
                fig.update_layout(title="Drift score by feature (latest check)",
                                  yaxis_type="category", height=max(260, 26 * len(top) + 100))
                parts.append(charts.div(fig))
                parts.append(_table([{"feature": k, "status": f.get("status"),
                                      "statistic": f.get("statistic"), "score": f.get("score")}
                                     for k, f in ordered], numeric={"score"}))
        if open_alerts:
            parts.append("<h3>Open alerts</h3>" + _table(
                [{"when": a.at.strftime("%Y-%m-%d %H:%M"), "severity": a.severity,
                  "message": a.message} for a in open_alerts]))
        else:
            parts.append(f'<p class="small">No open alerts on {e(name)}.</p>')
    return "".join(parts)


# --- the document ----------------------------------------------------------------------

def model_report_html(store: Store, model_version: "ModelVersionPublic | str | int") -> str:
    """The whole report as one HTML document (UTF-8 text)."""
    version = _resolve(store, model_version)
    card = version.card or {}
    charts = _Charts()
    sections = [
        ("summary", "Summary", _summary_section(version)),
        ("data", "Data", _data_section(store, version)),
        ("leaderboard", "Leaderboard", _leaderboard_section(store, version)),
        ("evaluation", "Evaluation", _evaluation_section(store, version, charts)),
        ("monitoring", "Monitoring", _monitoring_section(store, version, charts)),
    ]
    nav = "".join(f'<a href="#{key}">{title}</a>' for key, title, _ in sections[1:]) + \
        '<a href="#importance">Feature importance</a>'
    body = "".join(f'<h2 id="{key}">{title}</h2>{content}' if key != "summary" else content
                   for key, title, content in sections)
    now = datetime.now(timezone.utc)
    versions = card.get("library_versions") or {}
    footer = (f'<h2 id="provenance">Provenance</h2><p class="small">Pipeline file sha256 '
              f"<code>{e(version.artifact_sha)}</code>. Registered "
              f"{version.created_at:%Y-%m-%d %H:%M} UTC. Libraries: "
              + e(", ".join(f"{k} {v}" for k, v in versions.items()) or "not recorded")
              + f". Report made {now:%Y-%m-%d %H:%M} UTC by Studio.</p>")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Model report: {e(version.ref)}</title><style>{CSS}</style>"
        f"{charts.script()}</head><body><main>"
        f"<h1>Model report: {e(version.ref)}</h1>"
        f'<p class="muted">Predicts <b>{e(version.target)}</b> ({e(version.task)}). '
        f"Made by Studio from the model registry; every chart works offline.</p>"
        f"<nav>{nav}</nav>{body}{footer}</main></body></html>\n")


def report_file_name(version: ModelVersionPublic) -> str:
    from studio.names import suggest_name

    return f"{suggest_name(version.model)}-v{version.version}-report.html"
