"""The operations recipe steps perform, written with pandas and numpy only.

This module is the single implementation of every step: the studio calls these
functions when it applies a recipe, and :mod:`studio.recipes.export` copies
their source into the standalone scripts it writes, so a script reproduces a
version with exactly the code that made it. Hence the rules here:

* import nothing but the standard library, numpy and pandas;
* take plain, already-fitted parameters (no learning happens here: means,
  bounds, edges, formats were computed when the recipe was applied and are
  passed in), so the same call gives the same output on one row or a million;
* never modify the frame passed in; keep its index (the root import's row
  numbers) untouched;
* give every output column a fixed dtype, whatever the values of the rows at
  hand, so a single row replays to exactly what the whole frame got.

Formulas are parsed with :mod:`ast` and checked against an allow-list, then
evaluated by walking the tree with numpy; user text is never executed.
"""
from __future__ import annotations

import ast
import operator

import numpy as np
import pandas as pd

# --- conversions --------------------------------------------------------------

TRUE_WORDS = ("true", "t", "yes", "y", "1", "1.0")
FALSE_WORDS = ("false", "f", "no", "n", "0", "0.0")
DATETIME_UNIT = "datetime64[us]"


def to_number(series):
    """Numbers as float64; text that is not a number becomes missing."""
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        return series.astype("float64")
    text = series.astype("str").str.strip()
    return pd.to_numeric(text, errors="coerce").astype("float64")


def to_integer(series):
    """Whole numbers as nullable Int64; fractions and non-numbers become missing."""
    values = to_number(series)
    whole = values.notna() & np.isfinite(values) & (values % 1 == 0)
    return values.where(whole).astype("Int64")


def to_boolean(series):
    """true/false, yes/no, y/n, t/f, 1/0 (any case) as nullable boolean; else missing."""
    words = series.astype("str").str.strip().str.lower()
    out = pd.Series(pd.NA, index=series.index, dtype="boolean")
    out[words.isin(TRUE_WORDS).to_numpy(dtype=bool)] = True
    out[words.isin(FALSE_WORDS).to_numpy(dtype=bool)] = False
    return out


def to_text(series):
    """Text (pandas ``str`` dtype); missing stays missing."""
    return series.astype("str")


def to_datetime(series, format=None, dayfirst=False):
    """Dates as naive datetime64[us]; times with offsets are converted to UTC.

    ``format`` is a strftime pattern, or ``"mixed"`` to read each value on its
    own (slower, but the same for one row as for many).
    """
    if pd.api.types.is_datetime64_any_dtype(series):
        out = series
        if getattr(series.dt, "tz", None) is not None:
            out = series.dt.tz_convert("UTC").dt.tz_localize(None)
        return out.astype(DATETIME_UNIT)
    text = series.astype("str").str.strip()
    parsed = pd.to_datetime(text, format=format or "mixed", dayfirst=dayfirst,
                            errors="coerce", utc=True)
    return parsed.dt.tz_localize(None).astype(DATETIME_UNIT)


CONVERTERS = {
    "number": to_number,
    "integer": to_integer,
    "boolean": to_boolean,
    "text": to_text,
}


def change_type(df, columns, to, formats=None, dayfirst=False):
    """Convert ``columns`` to ``to`` (number, integer, boolean, text, datetime)."""
    df = df.copy(deep=False)
    for col in columns:
        if to == "datetime":
            df[col] = to_datetime(df[col], (formats or {}).get(col), dayfirst)
        else:
            df[col] = CONVERTERS[to](df[col])
    return df


# --- columns ------------------------------------------------------------------

def drop_columns(df, columns):
    """Remove ``columns`` (those already absent are ignored)."""
    return df.drop(columns=[c for c in columns if c in df.columns])


def rename_columns(df, mapping):
    """Rename columns by ``{old: new}``."""
    return df.rename(columns=dict(mapping))


# --- missing values -----------------------------------------------------------

def impute(df, fill, indicators=None):
    """Fill missing values with the fitted ``{column: value}``.

    ``indicators`` maps a column to the name of a new true/false column that
    records which rows were missing before filling.
    """
    df = df.copy(deep=False)
    for col, name in (indicators or {}).items():
        df[name] = df[col].isna().to_numpy(dtype=bool)
    for col, value in fill.items():
        series = df[col]
        if pd.api.types.is_datetime64_any_dtype(series):
            value = pd.Timestamp(value)
        elif isinstance(value, float) and pd.api.types.is_integer_dtype(series):
            series = series.astype("float64")
        df[col] = series.fillna(value)
    return df


def drop_missing(df, columns=None, how="any"):
    """Remove rows missing a value in ``columns`` (any column when empty)."""
    return df.dropna(subset=list(columns) or None, how=how)


# --- rows ---------------------------------------------------------------------

COMPARISONS = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
    ">": operator.gt, ">=": operator.ge,
}


def condition_mask(series, op, value=None):
    """Rows of ``series`` meeting ``op value``; missing values meet no comparison."""
    if op == "is missing":
        return series.isna().to_numpy(dtype=bool)
    if op == "is not missing":
        return series.notna().to_numpy(dtype=bool)
    present = series.notna().to_numpy(dtype=bool)
    if pd.api.types.is_datetime64_any_dtype(series):
        if isinstance(value, list):
            value = [pd.Timestamp(v) for v in value]
        elif value is not None:
            value = pd.Timestamp(value)
    if op in ("contains", "does not contain"):
        found = series.astype("str").str.lower().str.contains(str(value).lower(), regex=False)
        found = found.fillna(False).to_numpy(dtype=bool) & present
        return found if op == "contains" else present & ~found
    if op in ("in", "not in"):
        found = series.isin(list(value)).to_numpy(dtype=bool) & present
        return found if op == "in" else present & ~found
    result = COMPARISONS[op](series, value)
    return pd.Series(result).fillna(False).to_numpy(dtype=bool) & present


def filter_rows(df, conditions, combine="all", keep=True):
    """Keep (or with ``keep=False`` remove) the rows meeting the conditions.

    Each condition is ``{"column", "op", "value"}``; ``combine`` is ``all``
    (every condition) or ``any`` (at least one).
    """
    masks = [condition_mask(df[c["column"]], c["op"], c.get("value")) for c in conditions]
    if not masks:
        return df
    mask = np.logical_and.reduce(masks) if combine == "all" else np.logical_or.reduce(masks)
    return df.loc[mask if keep else ~mask]


def drop_duplicates(df, columns=None, keep="first"):
    """Remove repeated rows (judged on ``columns``, or all); ``keep`` first, last or none."""
    return df.drop_duplicates(subset=list(columns) or None,
                              keep=False if keep == "none" else keep)


def sample_rows(df, n, seed=0):
    """``n`` rows drawn without replacement, in their original order."""
    n = min(int(n), len(df))
    positions = np.sort(np.random.default_rng(seed).choice(len(df), size=n, replace=False))
    return df.iloc[positions]


# --- dates --------------------------------------------------------------------

DATE_PARTS = {
    "year": "year", "quarter": "quarter", "month": "month", "day": "day",
    "weekday": "day_of_week", "dayofyear": "day_of_year", "hour": "hour", "minute": "minute",
}


def date_parts(df, column, parts, names, format=None, dayfirst=False, drop_original=False):
    """Add one number column per part of the date in ``column``.

    ``parts`` come from year, quarter, month, day, weekday (Monday = 0),
    dayofyear, week (ISO), hour, minute, is_weekend (1 or 0); ``names`` maps a
    part to its new column's name. Parts are float64 (NaN where the date is
    missing) so models and numpy take them as they are.
    """
    df = df.copy(deep=False)
    when = to_datetime(df[column], format, dayfirst)
    for part in parts:
        if part == "week":
            values = when.dt.isocalendar().week
        elif part == "is_weekend":
            values = (when.dt.day_of_week >= 5).astype("float64").where(when.notna())
        else:
            values = getattr(when.dt, DATE_PARTS[part])
        df[names[part]] = values.astype("float64")
    if drop_original:
        df = df.drop(columns=[column])
    return df


# --- numbers ------------------------------------------------------------------

def clip_values(df, bounds):
    """Limit each column to its fitted ``[low, high]`` (``None`` = no limit)."""
    df = df.copy(deep=False)
    for col, (low, high) in bounds.items():
        df[col] = to_number(df[col]).clip(low, high)
    return df


def standardize(df, stats):
    """``(x - mean) / std`` with the fitted ``{column: [mean, std]}``."""
    df = df.copy(deep=False)
    for col, (mean, std) in stats.items():
        df[col] = (to_number(df[col]) - mean) / (std or 1.0)
    return df


def min_max_scale(df, ranges):
    """``(x - min) / (max - min)`` with the fitted ``{column: [min, max]}``."""
    df = df.copy(deep=False)
    for col, (low, high) in ranges.items():
        df[col] = (to_number(df[col]) - low) / ((high - low) or 1.0)
    return df


def log_transform(df, columns):
    """``log(1 + x)``, mirrored for negative numbers: ``sign(x) * log(1 + |x|)``."""
    df = df.copy(deep=False)
    for col in columns:
        values = to_number(df[col])
        df[col] = np.sign(values) * np.log1p(values.abs())
    return df


def bin_values(df, edges, names, labels=None):
    """Put each number into the bin of the fitted ``edges`` it falls in.

    Values below the first edge go to the first bin and above the last edge
    to the last, so new data always lands in a bin. The bin is its number
    (0.0, 1.0, … as float64) or, when ``labels`` has the column, its label.
    """
    df = df.copy(deep=False)
    for col, col_edges in edges.items():
        values = to_number(df[col]).to_numpy(dtype="float64", na_value=np.nan)
        inner = np.asarray(col_edges[1:-1], dtype="float64")
        index = np.searchsorted(inner, values, side="right")
        missing = np.isnan(values)
        col_labels = (labels or {}).get(col)
        if col_labels:
            out = pd.Series(np.asarray(col_labels, dtype=object)[index], index=df.index,
                            dtype="str").mask(missing)
        else:
            out = pd.Series(index, index=df.index, dtype="float64").mask(missing)
        df[names[col]] = out
    return df


# --- categories and text ------------------------------------------------------

def group_rare(df, keep, other="Other"):
    """Replace categories not in the fitted ``{column: [kept values]}`` by ``other``."""
    df = df.copy(deep=False)
    for col, kept in keep.items():
        text = df[col].astype("str")
        df[col] = text.where(text.isin(list(kept)) | text.isna(), other)
    return df


def clean_text(df, columns, trim=True, lower=False, collapse_spaces=False,
               empty_as_missing=False):
    """Trim, lowercase and tidy the spaces of text columns."""
    df = df.copy(deep=False)
    for col in columns:
        text = df[col].astype("str")
        if collapse_spaces:
            text = text.str.replace(r"\s+", " ", regex=True)
        if trim:
            text = text.str.strip()
        if lower:
            text = text.str.lower()
        if empty_as_missing:
            text = text.mask(text == "")
        df[col] = text
    return df


# --- formulas -----------------------------------------------------------------

class FormulaError(ValueError):
    """A formula that is not allowed or cannot be computed; the message says why."""


FORMULA_MAX_CHARS = 1000
FORMULA_MAX_NODES = 300
FORMULA_FUNCTIONS = {
    # name: (numpy function, fewest arguments, most arguments)
    "abs": (np.abs, 1, 1), "sqrt": (np.sqrt, 1, 1), "log": (np.log, 1, 1),
    "log1p": (np.log1p, 1, 1), "log10": (np.log10, 1, 1), "log2": (np.log2, 1, 1),
    "exp": (np.exp, 1, 1), "floor": (np.floor, 1, 1), "ceil": (np.ceil, 1, 1),
    "round": (np.round, 1, 2), "min": (np.minimum, 2, 10), "max": (np.maximum, 2, 10),
}
FORMULA_OPERATORS = {
    ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide,
    ast.Pow: np.power, ast.Mod: np.mod,
}
FORMULA_REFUSED = {
    ast.Attribute: "attribute access ('.name')", ast.Subscript: "indexing ('[...]')",
    ast.Lambda: "lambda functions", ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions", ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions", ast.Compare: "comparisons",
    ast.BoolOp: "'and' / 'or'", ast.IfExp: "'if ... else'", ast.List: "lists",
    ast.Tuple: "tuples", ast.Dict: "dicts", ast.Set: "sets", ast.Starred: "'*' unpacking",
    ast.NamedExpr: "assignment (':=')", ast.JoinedStr: "text", ast.Await: "await",
    ast.Yield: "yield", ast.YieldFrom: "yield",
}
BACKTICK_PREFIX = "__col"


def parse_formula(text):
    """Check ``text`` against the allow-list; returns ``(tree, columns)``.

    Allowed: numbers, column names (in backticks when they are not plain
    names, like ```Total Charges```), ``+ - * / ** %``, unary minus,
    parentheses and the functions in ``FORMULA_FUNCTIONS``. Anything else is
    refused with :class:`FormulaError` before any of it is evaluated.
    """
    text = str(text or "").strip()
    if not text:
        raise FormulaError("the formula is empty; write something like  price * quantity")
    if len(text) > FORMULA_MAX_CHARS:
        raise FormulaError(f"the formula is longer than {FORMULA_MAX_CHARS} characters")
    quoted = {}
    pieces = text.split("`")
    if len(pieces) % 2 == 0:
        raise FormulaError("a column name in backticks is not closed: add the missing '`'")
    source = []
    for i, piece in enumerate(pieces):
        if i % 2:
            key = f"{BACKTICK_PREFIX}{len(quoted)}__"
            quoted[key] = piece
            source.append(f" {key} ")
        else:
            source.append(piece)
    try:
        tree = ast.parse("".join(source).strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        detail = getattr(exc, "msg", None) or str(exc) or type(exc).__name__
        raise FormulaError(
            f"could not read the formula ({detail}); use numbers, column names, "
            "+ - * / ** %, parentheses and functions such as log(x); put a column name "
            "with spaces or symbols in backticks, like `Total Charges`") from None
    nodes = list(ast.walk(tree))
    if len(nodes) > FORMULA_MAX_NODES:
        raise FormulaError(f"the formula is too long (more than {FORMULA_MAX_NODES} parts)")
    columns = []
    function_names = {id(n.func) for n in nodes if isinstance(n, ast.Call)}
    for node in nodes:
        formula_check_node(node, quoted, columns, function_names)
    return tree, quoted, columns


def formula_check_node(node, quoted, columns, function_names):
    """Refuse any node outside the allow-list (see :func:`parse_formula`)."""
    if isinstance(node, (ast.Expression, ast.Load)) or type(node) in FORMULA_OPERATORS:
        return
    if isinstance(node, (ast.BinOp, ast.UnaryOp)):
        if isinstance(node, ast.UnaryOp) and not isinstance(node.op, (ast.USub, ast.UAdd)):
            raise FormulaError(f"the operator '{type(node.op).__name__}' is not allowed; "
                               "use + - * / ** % and unary minus")
        if isinstance(node, ast.BinOp) and type(node.op) not in FORMULA_OPERATORS:
            raise FormulaError(f"the operator '{type(node.op).__name__}' is not allowed; "
                               "use + - * / ** % and unary minus")
        return
    if isinstance(node, (ast.USub, ast.UAdd)):
        return
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise FormulaError(f"only numbers can be written as values, not {node.value!r:.40}")
        if isinstance(node.value, int) and abs(node.value) > 10**300:
            raise FormulaError("a number in the formula is too large")
        return
    if isinstance(node, ast.Name):
        if id(node) in function_names:
            return  # the name of a called function, checked with its Call
        name = quoted.get(node.id, node.id)
        if node.id.startswith("__") and node.id not in quoted:
            raise FormulaError(f"'{node.id}' is not allowed: names starting with '__' are "
                               "reserved")
        if name not in columns:
            columns.append(name)
        return
    if isinstance(node, ast.Call):
        func = node.func
        allowed = ", ".join(sorted(FORMULA_FUNCTIONS))
        if not isinstance(func, ast.Name):
            what = FORMULA_REFUSED.get(type(func), "calling the result of an expression")
            raise FormulaError(f"a formula cannot use {what}; the functions are: {allowed}")
        if func.id not in FORMULA_FUNCTIONS:
            raise FormulaError(f"'{func.id}' is not an allowed function; use one of: {allowed}")
        if node.keywords:
            raise FormulaError(f"{func.id}() takes no named arguments")
        _fn, fewest, most = FORMULA_FUNCTIONS[func.id]
        if not fewest <= len(node.args) <= most:
            want = str(fewest) if fewest == most else f"{fewest} to {most}"
            raise FormulaError(f"{func.id}() takes {want} argument(s), got {len(node.args)}")
        if func.id == "round" and len(node.args) == 2:
            digits = node.args[1]
            if not (isinstance(digits, ast.Constant) and type(digits.value) is int
                    and 0 <= digits.value <= 15):
                raise FormulaError("round(x, digits): digits must be a whole number 0 to 15")
        return
    what = FORMULA_REFUSED.get(type(node), f"'{type(node).__name__}'")
    raise FormulaError(f"a formula cannot use {what}; use numbers, column names, "
                       "+ - * / ** %, parentheses and functions such as log(x)")


def formula_values(df, tree, quoted):
    """Evaluate a checked formula tree on ``df`` with numpy; returns float64 values."""
    def column(name):
        if name not in df.columns:
            raise FormulaError(f"the formula uses '{name}', which is not a column")
        series = df[name]
        if not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)):
            raise FormulaError(f"the formula uses '{name}', which holds {series.dtype} values, "
                               "not numbers; change its type to number first")
        return series.to_numpy(dtype="float64", na_value=np.nan)

    def walk(node):
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant):
            return np.float64(node.value)
        if isinstance(node, ast.Name):
            return column(quoted.get(node.id, node.id))
        if isinstance(node, ast.UnaryOp):
            value = walk(node.operand)
            return np.negative(value) if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.BinOp):
            return FORMULA_OPERATORS[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.Call):
            fn = FORMULA_FUNCTIONS[node.func.id][0]
            if node.func.id == "round":
                digits = node.args[1].value if len(node.args) == 2 else 0
                return np.round(walk(node.args[0]), digits)
            args = [walk(a) for a in node.args]
            result = args[0]
            if len(args) == 1:
                return fn(result)
            for arg in args[1:]:
                result = fn(result, arg)
            return result
        raise FormulaError(f"a formula cannot use '{type(node).__name__}'")

    with np.errstate(all="ignore"):
        values = np.broadcast_to(np.asarray(walk(tree), dtype="float64"), (len(df),)).copy()
    values[~np.isfinite(values)] = np.nan
    return values


def add_formula(df, column, expression):
    """Set ``column`` to the value of a formula over other columns (float64).

    Division by zero, log of a negative number and other undefined results
    give a missing value, never an infinity.
    """
    tree, quoted, _columns = parse_formula(expression)
    df = df.copy(deep=False)
    df[column] = pd.Series(formula_values(df, tree, quoted), index=df.index, dtype="float64")
    return df
