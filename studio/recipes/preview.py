"""What a step would do, shown before it is added: shapes, affected rows, examples."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from studio.recipes.steps import StepBase, step_from_json

EXAMPLE_ROWS = 5
EXAMPLE_COLUMNS = 8


@dataclass
class Preview:
    """The effect of one step on a frame.

    ``affected`` counts rows whose values change (row-wise steps) or rows
    removed (dataset-level steps); ``before``/``after`` hold a few of those
    rows, limited to the columns the step touches.
    """

    step: StepBase                      # the step as fitted on the frame
    before_shape: tuple[int, int]
    after_shape: tuple[int, int]
    affected: int
    affected_label: str                 # "rows changed" or "rows removed"
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    renamed: dict[str, str] = field(default_factory=dict)
    before: pd.DataFrame = field(default_factory=pd.DataFrame)
    after: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: list[str] = field(default_factory=list)
    result: pd.DataFrame | None = field(default=None, repr=False)

    def summary(self) -> str:
        (r0, c0), (r1, c1) = self.before_shape, self.after_shape
        label = self.affected_label.replace("rows", "row") if self.affected == 1 \
            else self.affected_label
        parts = [f"{r0:,} × {c0} → {r1:,} × {c1}", f"{self.affected:,} {label}"]
        if self.added:
            parts.append(f"{len(self.added)} column(s) added")
        if self.removed:
            parts.append(f"{len(self.removed)} column(s) removed")
        if self.renamed:
            parts.append(f"{len(self.renamed)} column(s) renamed")
        return "; ".join(parts)


def _number(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _same_value(x, y) -> bool:
    numbers = (int, float, np.integer, np.floating)
    if isinstance(x, numbers) and isinstance(y, numbers) and not isinstance(x, (bool, np.bool_)) \
            and not isinstance(y, (bool, np.bool_)):
        return float(x) == float(y)
    return type(x) is type(y) and bool(x == y)


def changed_mask(before: pd.Series, after: pd.Series) -> np.ndarray:
    """Rows where ``after`` differs from ``before``.

    A missing value equals a missing value and 1 equals 1.0, but a change of
    kind counts (the text '1' → the number 1).
    """
    b_na = before.isna().to_numpy(dtype=bool)
    a_na = after.isna().to_numpy(dtype=bool)
    both = ~b_na & ~a_na
    same = np.zeros(len(before), dtype=bool)
    if both.any():
        if _number(before) and _number(after):
            left = before.to_numpy(dtype="float64", na_value=np.nan)[both]
            right = after.to_numpy(dtype="float64", na_value=np.nan)[both]
            same[both] = left == right
        elif pd.api.types.is_string_dtype(before) and pd.api.types.is_string_dtype(after) \
                and before.dtype != object and after.dtype != object:
            same[both] = before.to_numpy(dtype=object)[both] == after.to_numpy(dtype=object)[both]
        else:
            left = before.to_numpy(dtype=object)[both]
            right = after.to_numpy(dtype=object)[both]
            same[both] = [_same_value(x, y) for x, y in zip(left, right)]
    return (b_na != a_na) | (both & ~same)


def preview_step(frame: pd.DataFrame, step, *, examples: int = EXAMPLE_ROWS) -> Preview:
    """Fit ``step`` on ``frame`` and describe what applying it does.

    Raises :class:`studio.errors.InvalidInput` when the step does not fit the
    data (a missing column, text where numbers are needed …).
    """
    step = step_from_json(step).fit(frame)
    after = step.apply(frame)
    before_cols = [str(c) for c in frame.columns]
    after_cols = [str(c) for c in after.columns]
    renamed = dict(getattr(step, "mapping", {}) or {}) if step.kind == "rename_columns" else {}
    added = [c for c in after_cols if c not in before_cols and c not in renamed.values()]
    removed = [c for c in before_cols if c not in after_cols and c not in renamed]
    notes = step.notes(frame, after)
    if step.ROWWISE:
        touched = [c for c in step.reads() if c in before_cols and c in after_cols]
        mask = np.zeros(len(frame), dtype=bool)
        for col in touched:
            mask |= changed_mask(frame[col], after[col])
        if added:
            mask |= np.ones(len(frame), dtype=bool)
        rows = frame.index[mask][:examples]
        show_before = [c for c in step.reads() if c in before_cols][:EXAMPLE_COLUMNS]
        show_after = ([c for c in touched if c in after_cols] + added)[:EXAMPLE_COLUMNS]
        if renamed:
            rows = frame.index[:examples]
            show_after = [renamed.get(c, c) for c in show_before]
        preview = Preview(
            step=step, before_shape=frame.shape, after_shape=after.shape,
            affected=int(mask.sum()), affected_label="rows changed", added=added,
            removed=removed, renamed=renamed, before=frame.loc[rows, show_before],
            after=after.loc[rows, show_after], notes=notes, result=after)
    else:
        gone = frame.index.difference(after.index, sort=False)
        shown = [c for c in step.reads() if c in before_cols] or before_cols
        shown = (shown + [c for c in before_cols if c not in shown])[:EXAMPLE_COLUMNS]
        preview = Preview(
            step=step, before_shape=frame.shape, after_shape=after.shape,
            affected=int(len(frame) - len(after)), affected_label="rows removed",
            before=frame.loc[gone[:examples], shown], after=after.loc[after.index[:0], shown],
            notes=notes, result=after)
        if len(after) == 0:
            preview.notes.append("this step removes every row")
    return preview
