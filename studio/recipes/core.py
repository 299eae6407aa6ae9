"""Running recipes on frames: fit a list of steps once, replay fitted steps exactly."""
from __future__ import annotations

import pandas as pd

from studio.errors import InvalidInput
from studio.recipes.steps import StepBase, step_from_json, steps_from_json


def _located(i: int, step: StepBase, exc: InvalidInput) -> InvalidInput:
    return InvalidInput(f"step {i} ({step.describe()}): {exc}")


def fit_recipe(frame: pd.DataFrame, steps: list) -> tuple[list[StepBase], pd.DataFrame]:
    """Fit each step on the output of the ones before it; returns (fitted steps, result).

    Fitted values (means, bounds, edges …) are learned here, once, from
    ``frame``; the returned steps replay them without learning again.
    """
    fitted: list[StepBase] = []
    current = frame
    for i, raw in enumerate(steps, 1):
        step = step_from_json(raw)
        try:
            step = step.fit(current)
            current = step.apply(current)
        except InvalidInput as exc:
            raise _located(i, step, exc) from None
        fitted.append(step)
    return fitted, current


def replay(frame: pd.DataFrame, steps: list) -> pd.DataFrame:
    """Apply already-fitted steps (as stored in a version's recipe) without refitting."""
    current = frame
    for i, step in enumerate(steps_from_json(steps), 1):
        try:
            current = step.apply(current)
        except InvalidInput as exc:
            raise _located(i, step, exc) from None
    return current


def split_rowwise(steps: list) -> tuple[list[StepBase], list[StepBase]]:
    """(row-wise steps, dataset-level steps), each in recipe order."""
    parsed = steps_from_json(steps)
    return [s for s in parsed if s.ROWWISE], [s for s in parsed if not s.ROWWISE]


def columns_after(columns: list[str], steps: list) -> list[str]:
    """The column names after ``steps``, worked out without data."""
    current = list(columns)
    for step in steps_from_json(steps):
        current, _deps = step.outputs(current)
    return current
