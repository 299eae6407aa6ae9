"""Formula columns: the allow-list parser, numpy evaluation, and refusal of code."""
from __future__ import annotations

import ast
import builtins

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from studio.errors import InvalidInput
from studio.recipes import check_formula, evaluate_formula
from studio.recipes.steps import Formula, step_from_json


@pytest.fixture
def frame():
    return pd.DataFrame({
        "price": [10.0, 20.0, np.nan, 5.0],
        "qty": pd.array([2, 0, 3, 4], dtype="Int64"),
        "Total Charges": [1.5, 2.5, 3.5, 4.5],
        "flag": [True, False, True, False],
        "name": ["a", "b", "c", "d"],
    }, index=[10, 11, 12, 13])


def values(series):
    return series.to_numpy(dtype="float64", na_value=np.nan)


def test_arithmetic_functions_and_backticks(frame):
    out = evaluate_formula(frame, "price * qty + `Total Charges` ** 2 - -1 % 3")
    # Python precedence: unary minus binds tighter than %, so -1 % 3 == 2
    expected = frame["price"] * frame["qty"].astype("float64") + frame["Total Charges"] ** 2 - 2
    np.testing.assert_allclose(values(out), values(expected))
    assert list(out.index) == [10, 11, 12, 13]
    np.testing.assert_allclose(values(evaluate_formula(frame, "log(price) + sqrt(abs(-4))")),
                               np.log([10, 20, np.nan, 5]) + 2)
    np.testing.assert_allclose(values(evaluate_formula(frame, "round(price / 3, 2)")),
                               np.round(np.array([10, 20, np.nan, 5]) / 3, 2))
    np.testing.assert_allclose(values(evaluate_formula(frame, "max(price, 8, qty)")),
                               [10, 20, np.nan, 8])
    np.testing.assert_allclose(values(evaluate_formula(frame, "flag * 1")), [1, 0, 1, 0])


def test_undefined_results_are_missing_never_infinite(frame):
    out = values(evaluate_formula(frame, "price / qty"))
    assert out[0] == 5.0 and np.isnan(out[1]) and np.isnan(out[2])
    assert np.isnan(values(evaluate_formula(frame, "log(price - 10)"))[0])
    assert np.isnan(values(evaluate_formula(frame, "9 ** 9 ** 9 ** 9"))).all()


def test_constant_formula_fills_every_row(frame):
    np.testing.assert_allclose(values(evaluate_formula(frame, "(1 + 2) * 3")), [9.0] * 4)


def test_columns_read_are_listed_in_order():
    assert check_formula("b * `a b` + log(c) - b").columns == ["b", "a b", "c"]


@pytest.mark.parametrize("text, says", [
    ("__import__('os').system('touch PWNED')", "attribute access"),
    ("__import__('os')", "'__import__' is not an allowed function"),
    ("open('PWNED', 'w')", "'open' is not an allowed function"),
    ("price.real", "attribute access"),
    ("price.__class__.__bases__", "attribute access"),
    ("price[0]", "indexing"),
    ("(lambda: 1)()", "lambda"),
    ("lambda x: x", "lambda"),
    ("[x for x in price]", "comprehensions"),
    ("{x: 1 for x in price}", "comprehensions"),
    ("(x for x in price)", "comprehensions"),
    ("price if qty else 1", "'if ... else'"),
    ("price > 1", "comparisons"),
    ("price and qty", "'and' / 'or'"),
    ("'text'", "only numbers"),
    ("f'{price}'", "text"),
    ("True", "only numbers"),
    ("__builtins__", "reserved"),
    ("(y := 1)", "assignment"),
    ("price; import os", "could not read"),
    ("import os", "could not read"),
    ("x = 1", "could not read"),
    ("price @ qty", "operator 'MatMult' is not allowed"),
    ("~qty", "operator 'Invert' is not allowed"),
    ("log(price, base=2)", "no named arguments"),
    ("max(price)", "takes 2 to 10"),
    ("round(price, qty)", "digits must be a whole number"),
    ("`unclosed", "not closed"),
    ("", "empty"),
    ("1" * 1001, "longer than"),
    ("(" * 300 + "1" + ")" * 300, "could not read"),
    ("-" * 400 + "1", "too long"),
    ("+".join(["qty"] * 200), "too long"),
])
def test_code_is_refused_with_a_clear_message_and_nothing_runs(frame, text, says, tmp_path,
                                                               monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidInput) as err:
        evaluate_formula(frame, text)
    assert says in str(err.value)
    assert str(err.value).startswith("formula: ")
    with pytest.raises(InvalidInput):  # a step holding it cannot even be built
        step_from_json({"kind": "formula", "column": "out", "expression": text}).fit(frame)
    assert not any(tmp_path.iterdir())  # nothing was written (no 'touch PWNED')


def test_unknown_and_non_numeric_columns_are_named(frame):
    with pytest.raises(InvalidInput, match="'nope', which is not a column"):
        evaluate_formula(frame, "nope + 1")
    with pytest.raises(InvalidInput, match="'name'.*not numbers"):
        evaluate_formula(frame, "name * 2")
    with pytest.raises(InvalidInput, match="name.*not numbers"):
        Formula(column="x", expression="name * 2").fit(frame)


def test_evaluation_never_calls_eval_exec_or_compile(frame):
    calls = []
    saved = {name: getattr(builtins, name) for name in ("eval", "exec", "compile")}

    def spy(name):
        def watched(*args, **kwargs):
            flags = args[3] if len(args) > 3 else kwargs.get("flags", 0)
            calls.append((name, bool(flags & ast.PyCF_ONLY_AST)))
            return saved[name](*args, **kwargs)
        return watched

    try:
        for name in saved:
            setattr(builtins, name, spy(name))
        result = values(evaluate_formula(frame, "price * 2 + log(qty + 1)"))
    finally:
        for name, fn in saved.items():
            setattr(builtins, name, fn)
    # ast.parse is compile(..., PyCF_ONLY_AST): it builds a tree and never makes code.
    assert calls and all(name == "compile" and only_ast for name, only_ast in calls)
    assert result[0] == pytest.approx(20 + np.log(3))


# --- property: the evaluator agrees with numpy on random expression trees ------------

OPS = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide}
COLS = {"a": np.array([1.5, -2.0, 0.0, 7.25]), "b": np.array([3.0, 0.5, -1.0, 2.0])}


@st.composite
def expressions(draw, depth=0):
    """(text, expected numpy values) pairs built together, so no reference eval is needed."""
    choice = draw(st.integers(0, 3 if depth < 4 else 1))
    if choice == 0:
        name = draw(st.sampled_from(sorted(COLS)))
        return name, COLS[name]
    if choice == 1:
        number = draw(st.integers(-20, 20))
        return str(number), np.full(4, float(number))
    if choice == 2:
        text, value = draw(expressions(depth=depth + 1))
        fn = draw(st.sampled_from(["abs", "-", "exp"]))
        if fn == "-":
            return f"-({text})", -value
        with np.errstate(all="ignore"):
            return f"{fn}({text})", getattr(np, fn)(value)
    left, lv = draw(expressions(depth=depth + 1))
    right, rv = draw(expressions(depth=depth + 1))
    op = draw(st.sampled_from(sorted(OPS)))
    with np.errstate(all="ignore"):
        return f"({left} {op} {right})", OPS[op](lv, rv)


@settings(max_examples=80, deadline=None)
@given(expressions())
def test_random_expressions_match_numpy(pair):
    text, expected = pair
    frame = pd.DataFrame(COLS)
    with np.errstate(all="ignore"):
        expected = np.where(np.isfinite(expected), expected, np.nan)
    np.testing.assert_allclose(values(evaluate_formula(frame, text)), expected, rtol=1e-12,
                               equal_nan=True)
