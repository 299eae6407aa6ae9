"""Formula columns: arithmetic over columns, parsed against an allow-list.

The text is parsed with :mod:`ast` and every node is checked against an
allow-list (numbers, column names, ``+ - * / ** %``, unary minus, parentheses
and a few numpy functions) before anything is computed; evaluation walks the
tree with vectorised numpy. Nothing the user types is ever executed: there is
no ``eval``, ``exec``, ``compile`` or ``DataFrame.eval``/``query`` here. The
implementation lives in :mod:`studio.recipes.runtime` so exported scripts
carry the same checks.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from studio.errors import InvalidInput
from studio.recipes import runtime

FUNCTIONS = tuple(sorted(runtime.FORMULA_FUNCTIONS))


@dataclass(frozen=True)
class CheckedFormula:
    text: str
    columns: list[str]   # columns the formula reads, in order of appearance


def check_formula(text: str) -> CheckedFormula:
    """Parse and check ``text``; raises :class:`InvalidInput` saying what is not allowed."""
    try:
        _tree, _quoted, columns = runtime.parse_formula(text)
    except runtime.FormulaError as exc:
        raise InvalidInput(f"formula: {exc}") from None
    return CheckedFormula(text=str(text).strip(), columns=columns)


def evaluate_formula(frame: pd.DataFrame, text: str) -> pd.Series:
    """The formula's values on ``frame`` (float64; undefined results are missing)."""
    try:
        tree, quoted, _columns = runtime.parse_formula(text)
        values = runtime.formula_values(frame, tree, quoted)
    except runtime.FormulaError as exc:
        raise InvalidInput(f"formula: {exc}") from None
    return pd.Series(values, index=frame.index, dtype="float64")
