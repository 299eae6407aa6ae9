"""One look for every chart (pages, the model report): readable on a projector, the theme's
colours. ``apply_plotly_theme()`` registers the "studio" plotly template as the default."""
from __future__ import annotations

PALETTE = ["#2563eb", "#f97316", "#10b981", "#8b5cf6", "#ef4444", "#0ea5e9", "#eab308",
           "#64748b", "#ec4899", "#14b8a6"]
# One colour per model family on every chart, far apart enough to tell on a projector.
ALGORITHM_COLORS = {"ensemble": "#dc2626", "lgbm": "#16a34a", "xgb": "#2563eb",
                    "hgb": "#7c3aed", "rf": "#f59e0b", "et": "#92400e", "linear": "#db2777",
                    "knn": "#64748b", "dummy": "#94a3b8"}


def algorithm_color(name: str) -> str | None:
    return ALGORITHM_COLORS.get(str(name))


def apply_plotly_theme() -> None:
    import plotly.graph_objects as go
    import plotly.io as pio

    pio.templates["studio"] = go.layout.Template(
        layout=go.Layout(
            font=dict(family="Inter, Segoe UI, Helvetica, Arial, sans-serif", size=14,
                      color="#0f172a"),
            colorway=PALETTE,
            title=dict(font=dict(size=17)),
            margin=dict(l=40, r=20, t=50, b=40),
            hoverlabel=dict(font_size=13),
        )
    )
    pio.templates.default = "plotly_white+studio"
