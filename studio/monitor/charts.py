"""Plotly figures for the Monitor page (built from stored reports; no streamlit here)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import plotly.graph_objects as go

from studio.monitor.drift import THRESHOLDS

STATUS_COLORS = {"ok": "#10b981", "warning": "#f59e0b", "alert": "#ef4444"}


def _time(t: float) -> datetime:
    return datetime.fromtimestamp(t, timezone.utc)


def _thresholds(fig: go.Figure, statistic: str = "wasserstein") -> None:
    warning, alert = THRESHOLDS[statistic]
    fig.add_hline(y=warning, line_dash="dot", line_color=STATUS_COLORS["warning"],
                  annotation_text=f"warning {warning:g}", annotation_position="top left")
    fig.add_hline(y=alert, line_dash="dash", line_color=STATUS_COLORS["alert"],
                  annotation_text=f"alert {alert:g}", annotation_position="top left")


def drift_scores(features: list[dict]) -> go.Figure:
    """One bar per feature (most important first), coloured by status."""
    rows = [f for f in features if f.get("score") is not None]
    fig = go.Figure(go.Bar(
        x=[f["feature"] for f in rows], y=[f["score"] for f in rows],
        marker_color=[STATUS_COLORS[f["status"]] for f in rows],
        customdata=[[f["statistic"], f["status"], f.get("importance") or 0] for f in rows],
        hovertemplate="%{x}<br>%{customdata[0]} %{y:.3g} (%{customdata[1]})"
                      "<br>importance %{customdata[2]:.2f}<extra></extra>"))
    _thresholds(fig)
    fig.update_layout(title="Drift score by feature (most important first)", height=340,
                      yaxis_title="score", xaxis_title=None, showlegend=False)
    return fig


def distribution(feature: dict) -> go.Figure:
    """Baseline vs window shares over the baseline's bins or categories."""
    hist = feature.get("histogram") or {}
    base, cur = hist.get("baseline") or [], hist.get("current") or []
    tb, tc = sum(base) or 1, sum(cur) or 1
    fig = go.Figure()
    fig.add_bar(x=hist.get("labels") or [], y=[b / tb for b in base], name="training",
                marker_color="#94a3b8")
    fig.add_bar(x=hist.get("labels") or [], y=[c / tc for c in cur], name="this window",
                marker_color="#2563eb")
    fig.update_layout(barmode="group", height=320, yaxis_tickformat=".0%",
                      title=f"{feature['feature']}: training vs this window",
                      legend=dict(orientation="h", y=1.12))
    return fig


def drift_over_time(history: list[dict], features: list[str]) -> go.Figure:
    """Each feature's drift score by check (at the end of its window), with the thresholds."""
    fig = go.Figure()
    for name in features:
        points = [h for h in history if h["feature"] == name and h["score"] is not None]
        if not points:
            continue
        fig.add_scatter(x=[p["at"] for p in points], y=[p["score"] for p in points],
                        mode="lines+markers", name=name,
                        customdata=[[p["status"], p["statistic"]] for p in points],
                        hovertemplate=f"{name}<br>%{{x}}<br>%{{customdata[1]}} %{{y:.3g}} "
                                      "(%{customdata[0]})<extra></extra>")
    _thresholds(fig)
    fig.update_layout(title="Drift score by check", height=380, yaxis_title="score",
                      xaxis_title="end of the window checked",
                      legend=dict(orientation="h", y=-0.2))
    times = [h["at"] for h in history]
    if times and (max(times) - min(times)).total_seconds() < 600:
        # one check (or a few close together): show them in a readable hour, not in µs ticks
        fig.update_xaxes(range=[max(times) - timedelta(minutes=55), max(times) + timedelta(minutes=5)])
    return fig


def traffic(series: list[dict]) -> go.Figure:
    t = [_time(p["t"]) for p in series]
    ok = [p["requests"] - p["errors_4xx"] - p["errors_5xx"] for p in series]
    fig = go.Figure()
    fig.add_bar(x=t, y=[p["per_minute"] * o / p["requests"] if p["requests"] else 0
                        for p, o in zip(series, ok)], name="answered", marker_color="#2563eb")
    fig.add_bar(x=t, y=[p["per_minute"] * p["errors_4xx"] / p["requests"] if p["requests"] else 0
                        for p in series], name="4xx", marker_color="#f59e0b")
    fig.add_bar(x=t, y=[p["per_minute"] * p["errors_5xx"] / p["requests"] if p["requests"] else 0
                        for p in series], name="5xx", marker_color="#ef4444")
    fig.update_layout(barmode="stack", title="Requests per minute", height=300,
                      legend=dict(orientation="h", y=1.15))
    return fig


def latency(series: list[dict]) -> go.Figure:
    t = [_time(p["t"]) for p in series]
    fig = go.Figure()
    for key, name, color in (("p50_ms", "p50", "#10b981"), ("p95_ms", "p95", "#f59e0b"),
                             ("p99_ms", "p99", "#ef4444")):
        fig.add_scatter(x=t, y=[p[key] for p in series], name=name, mode="lines+markers",
                        line_color=color, connectgaps=False)
    fig.update_layout(title="Latency (ms)", height=300, yaxis_title="ms",
                      legend=dict(orientation="h", y=1.15))
    return fig


def quality_over_time(quality: dict) -> go.Figure:
    metric = quality["metric"]
    series = [p for p in quality.get("series") or [] if p.get(metric) is not None]
    fig = go.Figure()
    fig.add_scatter(x=[_time(p["t"]) for p in series], y=[p[metric] for p in series],
                    mode="lines+markers", name=metric, line_color="#2563eb",
                    customdata=[p["labels"] for p in series],
                    hovertemplate="%{x}<br>%{y:.4g} on %{customdata} labels<extra></extra>")
    if quality.get("baseline") is not None:
        fig.add_hline(y=quality["baseline"], line_dash="dash", line_color="#64748b",
                      annotation_text=f"validation {quality['baseline']:.4g}",
                      annotation_position="top left")
    fig.update_layout(title=f"{metric} over time (labelled predictions)", height=320,
                      yaxis_title=metric)
    return fig
