"""Money and percentages written as text: ``$1,234.50``, ``€ 12,50``, ``1 234,56 €``,
``-$5.00``, ``($5.00)`` (an accounting negative), ``45%``, ``12.5 %``.

:func:`parse_units` splits each distinct value into its unit (a currency symbol or
code, or ``%``), its sign and the digits; the digits are then read by the same rules
as any number stored as text (decimal comma or thousands separators, as the file's
dialect says). A percentage keeps the number as written: ``45%`` → 45, not 0.45.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

# Longer spellings first so that "US$" is not read as "$".
CURRENCY_SYMBOLS = ("US$", "NZ$", "HK$", "CA$", "AU$", "A$", "C$", "R$", "$", "€", "£", "¥",
                    "₹", "₽", "₩", "₺", "₪", "₫", "₴", "₦", "₱", "฿", "₡", "₲", "₵", "₸", "₼",
                    "₾", "₿", "zł", "Kč", "kr", "Fr.")
CURRENCY_CODES = ("USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "NZD", "CNY", "HKD", "SGD",
                  "INR", "SEK", "NOK", "DKK", "PLN", "CZK", "HUF", "BRL", "MXN", "ZAR", "RUB",
                  "TRY", "KRW")
PERCENT = "%"
_ALTERNATIVES = "|".join(re.escape(u) for u in
                         sorted(CURRENCY_SYMBOLS + CURRENCY_CODES, key=len, reverse=True))
_UNIT = rf"(?:{_ALTERNATIVES}|%)"
# Cheap test on a sample: does a value hold anything that could be a unit at all?
UNIT_HINT = re.compile(r"[$€£¥₹₽₩₺₪₫₴₦₱฿₡₲₵₸₼₾₿%]|\b(?:" + "|".join(
    CURRENCY_CODES) + r"|zł|Kč|kr|Fr\.)(?![A-Za-z])")
_SIGN = r"[-+\u2212]"
_VALUE = re.compile(rf"""
    (?P<s1>{_SIGN})?\s*
    (?P<o1>\()?\s*
    (?P<s2>{_SIGN})?\s*
    (?:(?P<pre>{_UNIT})\s*)?
    (?P<s3>{_SIGN})?\s*
    (?P<o2>\()?\s*
    (?P<num>\d(?:[\d.,'’\s]*\d)?|[.,]\d+)?
    \s*(?P<c2>\))?
    \s*(?:(?P<post>{_UNIT}))?
    \s*(?P<c1>\))?
    \s*(?P<s4>-)?
    """, re.X)
# Spaces (also no-break and narrow no-break) or apostrophes between groups of three
# digits: "1 234 567,89", "1'234.50".
_GROUP_SPACE = re.compile(r"(?<=\d)[\s'’](?=\d{3}(?!\d))")


def strip_unit(cell: str) -> str:
    """The number part of a money or percent cell (for sniffing the decimal mark); other
    cells unchanged."""
    if not UNIT_HINT.search(cell):
        return cell
    parsed = _split(cell.strip())
    if parsed is None or parsed[1] is None:
        return cell
    return parsed[1]


def _split(text: str) -> tuple[str | None, str | None, bool] | None:
    """(unit, digits, negative) of one stripped value, or None when it is not a number
    with at most one unit. ``digits`` is None for an accounting zero (``$ -``)."""
    m = _VALUE.fullmatch(text)
    if m is None:
        return None
    pre, post, num = m.group("pre"), m.group("post"), m.group("num")
    if pre and post:
        return None
    unit = pre or post
    signs = [s for s in (m.group("s1"), m.group("s2"), m.group("s3"), m.group("s4")) if s]
    opens = bool(m.group("o1")) + bool(m.group("o2"))
    closes = bool(m.group("c1")) + bool(m.group("c2"))
    if opens != closes or opens > 1 or len(signs) > 1:
        return None
    if num is None:
        # "$ -" or "$-": how accounting formats show a zero
        if unit and unit != PERCENT and signs == ["-"] and not opens:
            return unit, None, False
        return None
    if opens and signs:
        return None
    if m.group("s4") and not unit:
        return None
    negative = bool(opens) or (bool(signs) and signs[0] in ("-", "\u2212"))
    digits = _GROUP_SPACE.sub("", num)
    if any(ch.isspace() for ch in digits):
        return None
    return unit, digits, negative


# The common forms ("$1,234.50", "-€3", "45%", "12,5 %"), read by pyarrow's regex engine
# for all values at once; the rest (parentheses, spaces between digit groups, "$ -") go
# through _split one value at a time.
_FAST = (rf"^(?P<s1>[-+\x{{2212}}])?\s*(?P<pre>{_ALTERNATIVES}|%)?\s*(?P<s2>[-+\x{{2212}}])?\s*"
         rf"(?P<num>\d(?:[\d.,]*\d)?|[.,]\d+)\s*(?P<post>{_ALTERNATIVES}|%)?$")


def parse_units(values: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series]:
    """For distinct stripped text values: (unit, digits, negative, ok) as Series aligned on
    ``values``. ``unit`` is "" for a bare number; ``digits`` "0" for an accounting zero;
    ``ok`` False where the value is not a (money or percent) number."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(values)
    units = np.full(n, "", dtype=object)
    digits = np.full(n, "", dtype=object)
    negative = np.zeros(n, dtype=bool)
    ok = np.zeros(n, dtype=bool)
    if n:
        parts = pc.extract_regex(pa.array(values, type=pa.large_string()), _FAST)
        s1, pre, s2, num, post = (parts.field(k).to_numpy(zero_copy_only=False)
                                  for k in ("s1", "pre", "s2", "num", "post"))
        matched = parts.is_valid().to_numpy(zero_copy_only=False)
        fast = matched & ~((s1 != "") & (s2 != "")) & ~((pre != "") & (post != ""))
        units[fast] = (pre[fast] + post[fast])
        digits[fast] = num[fast]
        sign = np.where(s1 != "", s1, s2)
        negative[fast] = (sign[fast] == "-") | (sign[fast] == "\u2212")
        ok[fast] = True
        text = values.to_numpy(dtype=object, na_value=None)
        for i in np.flatnonzero(~fast):
            parsed = _split(text[i]) if isinstance(text[i], str) else None
            if parsed is None:
                continue
            unit, number, neg = parsed
            units[i] = unit or ""
            digits[i] = "0" if number is None else number
            negative[i] = neg
            ok[i] = True
    index = values.index
    return (pd.Series(units, index=index, dtype="str"),
            pd.Series(digits, index=index, dtype="str"),
            pd.Series(negative, index=index), pd.Series(ok, index=index))
