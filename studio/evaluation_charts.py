"""Plotly figures of a model version's evaluation, for the Models page and the model report.

Reads both shapes an evaluation comes in: AutoML's (ROC and precision-recall curves keyed
by class, predicted-vs-actual and residual lists, permutation importance) and the plain
one (a single curve, ``residuals`` as actual/predicted). Labels from data are
HTML-escaped, because plotly reads a few tags in text.
"""
from __future__ import annotations

import html
from typing import Any

import plotly.graph_objects as go

GREY = "#94a3b8"


def _e(text: object) -> str:
    return html.escape(str(text))


def _curves(value: Any, x: str) -> list[tuple[str, dict]]:
    """[(label, curve)] from a curve, a list of curves or a dict of curves by class."""
    if isinstance(value, dict) and x in value:
        return [(str(value.get("label", "")), value)]
    if isinstance(value, dict):
        return [(str(k), v) for k, v in value.items() if isinstance(v, dict) and x in v]
    if isinstance(value, list):
        return [(str(v.get("label", i)), v) for i, v in enumerate(value)
                if isinstance(v, dict) and x in v]
    return []


def confusion_matrix(evaluation: dict) -> go.Figure | None:
    cm = evaluation.get("confusion_matrix")
    if not isinstance(cm, dict) or not cm.get("matrix"):
        return None
    labels = [_e(x) for x in cm.get("labels") or range(len(cm["matrix"]))]
    fig = go.Figure(go.Heatmap(z=cm["matrix"], x=labels, y=labels, colorscale="Blues",
                               text=cm["matrix"], texttemplate="%{text}", showscale=False,
                               hovertemplate="actual %{y}, predicted %{x}: %{z}<extra></extra>"))
    title = "Confusion matrix" + (" (most frequent classes)" if cm.get("truncated") else "")
    fig.update_layout(title=title, xaxis_title="predicted", yaxis_title="actual",
                      xaxis_type="category", yaxis_type="category", yaxis_autorange="reversed",
                      height=max(320, 120 + 40 * len(labels)))
    return fig


def roc_curve(evaluation: dict) -> go.Figure | None:
    curves = _curves(evaluation.get("roc"), "fpr")
    if not curves:
        return None
    fig = go.Figure()
    for label, curve in curves:
        name = _e(label or "ROC")
        if curve.get("auc") is not None:
            name += f" (AUC {curve['auc']:.3f})"
        fig.add_scatter(x=curve["fpr"], y=curve["tpr"], mode="lines", name=name)
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance",
                    line={"dash": "dot", "color": GREY})
    fig.update_layout(title="ROC curve", xaxis_title="false positive rate",
                      yaxis_title="true positive rate", height=380)
    return fig


def pr_curve(evaluation: dict) -> go.Figure | None:
    curves = _curves(evaluation.get("pr"), "recall")
    if not curves:
        return None
    fig = go.Figure()
    for label, curve in curves:
        name = _e(label or "precision-recall")
        if curve.get("average_precision") is not None:
            name += f" (AP {curve['average_precision']:.3f})"
        fig.add_scatter(x=curve["recall"], y=curve["precision"], mode="lines", name=name)
    fig.update_layout(title="Precision-recall curve", xaxis_title="recall",
                      yaxis_title="precision", height=380)
    return fig


def _pairs(evaluation: dict) -> tuple[list, list] | None:
    """(actual, predicted) of a regression evaluation, whichever shape it has."""
    pva = evaluation.get("pred_vs_actual")
    if isinstance(pva, dict) and pva.get("actual"):
        return pva["actual"], pva["predicted"]
    res = evaluation.get("residuals")
    if isinstance(res, dict) and res.get("actual"):
        return res["actual"], res["predicted"]
    if isinstance(res, dict) and res.get("residual"):
        return [p + r for p, r in zip(res["predicted"], res["residual"])], res["predicted"]
    return None


def predicted_vs_actual(evaluation: dict) -> go.Figure | None:
    pairs = _pairs(evaluation)
    if not pairs:
        return None
    actual, predicted = pairs
    lo, hi = min(actual + predicted), max(actual + predicted)
    fig = go.Figure(go.Scattergl(x=actual, y=predicted, mode="markers", name="rows",
                                 marker={"size": 6, "opacity": 0.6}))
    fig.add_scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="perfect",
                    line={"dash": "dot", "color": GREY})
    fig.update_layout(title="Predicted vs actual", xaxis_title="actual",
                      yaxis_title="predicted", height=380, showlegend=False)
    return fig


def residuals(evaluation: dict) -> go.Figure | None:
    pairs = _pairs(evaluation)
    if not pairs:
        return None
    actual, predicted = pairs
    fig = go.Figure(go.Scattergl(x=predicted, y=[a - p for a, p in zip(actual, predicted)],
                                 mode="markers", marker={"size": 6, "opacity": 0.6}))
    fig.add_hline(y=0, line_dash="dot", line_color=GREY)
    fig.update_layout(title="Residuals (actual − predicted)", xaxis_title="predicted",
                      yaxis_title="residual", height=380)
    return fig


def importance_rows(card: dict, evaluation: dict | None) -> list[dict]:
    rows = card.get("feature_importance") or (evaluation or {}).get("permutation_importance") \
        or (evaluation or {}).get("feature_importance") or []
    return [r for r in rows if isinstance(r, dict) and "feature" in r and "importance" in r]


def feature_importance(card: dict, evaluation: dict | None, top: int = 20) -> go.Figure | None:
    rows = sorted(importance_rows(card, evaluation), key=lambda r: -(r["importance"] or 0))[:top]
    if not rows:
        return None
    rows = rows[::-1]
    fig = go.Figure(go.Bar(x=[r["importance"] for r in rows], y=[_e(r["feature"]) for r in rows],
                           orientation="h",
                           error_x={"type": "data", "array": [r.get("std") or 0 for r in rows]}
                           if any(r.get("std") for r in rows) else None))
    fig.update_layout(title="Feature importance (drop in the metric when a column is shuffled)"
                      if not card.get("feature_importance") else "Feature importance",
                      yaxis_type="category", height=max(300, 26 * len(rows) + 100))
    return fig


def evaluation_rows(evaluation: dict | None, card: dict | None = None) -> list[list[go.Figure]]:
    """Every chart the evaluation supports, in reading order, as rows of one or two
    (the two curves side by side, predicted-vs-actual beside the residuals)."""
    evaluation, card = evaluation or {}, card or {}
    rows = [[confusion_matrix(evaluation)], [roc_curve(evaluation), pr_curve(evaluation)],
            [predicted_vs_actual(evaluation), residuals(evaluation)],
            [feature_importance(card, evaluation)]]
    return [kept for kept in ([f for f in row if f is not None] for row in rows) if kept]


def evaluation_figures(evaluation: dict | None, card: dict | None = None) -> list[go.Figure]:
    """Every chart the evaluation supports, in reading order."""
    return [fig for row in evaluation_rows(evaluation, card) for fig in row]
