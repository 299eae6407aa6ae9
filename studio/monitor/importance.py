"""Feature importance per raw input column, from the model card.

Cards list importance of the *transformed* features (``num__age``,
``cat__city_Paris``); monitoring works on raw columns, so one-hot pieces are
summed back onto their column. Values are scaled so the largest is 1.
"""
from __future__ import annotations

import re


def _pairs(card: dict) -> list[tuple[str, float]]:
    raw = (card or {}).get("feature_importance") or []
    if isinstance(raw, dict):
        items = list(raw.items())
    else:
        items = [(d.get("feature"), d.get("importance")) for d in raw if isinstance(d, dict)]
    out = []
    for name, value in items:
        try:
            out.append((str(name), abs(float(value))))
        except (TypeError, ValueError):
            continue
    return out


def _column_of(name: str, columns: list[str]) -> str | None:
    if name in columns:
        return name
    stripped = re.sub(r"^[A-Za-z0-9]+__", "", name)  # ColumnTransformer prefix
    if stripped in columns:
        return stripped
    # one-hot: "<column>_<category>"; the longest column name that fits wins
    best = None
    for col in columns:
        if stripped.startswith(col + "_") and (best is None or len(col) > len(best)):
            best = col
    return best


def feature_importance(card: dict, columns: list[str]) -> dict[str, float]:
    """{column: importance in 0…1}; empty when the card has none."""
    totals: dict[str, float] = {}
    for name, value in _pairs(card):
        col = _column_of(name, columns)
        if col is not None:
            totals[col] = totals.get(col, 0.0) + value
    top = max(totals.values(), default=0.0)
    if top <= 0:
        return {}
    return {col: round(v / top, 4) for col, v in totals.items()}
