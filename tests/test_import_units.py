"""Money and percentages written as text become numbers; a quoted header may hold a line
break. Each test writes its own small file and imports it through the real store."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from studio import datasets as ds
from studio.ingest.units import parse_units


def imp(store, tmp_path, text: str, name: str = "data.csv", encoding: str = "utf-8",
        **options):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    result = ds.import_file(store, path, options=options or None)
    return result, ds.load_frame(store, result.version)


def numbers(frame: pd.DataFrame, column: str) -> list[float]:
    assert pd.api.types.is_numeric_dtype(frame[column]), frame[column].dtype
    return [float(v) for v in frame[column]]


def same(got: list[float], expected: list[float]) -> bool:
    return len(got) == len(expected) and all(
        (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b) for a, b in zip(got, expected))


def test_dollar_pound_and_signs_in_a_comma_file(store, tmp_path):
    result, frame = imp(store, tmp_path, (
        'price,gbp,neg,rate,name\n'
        '"$1,234.50",£3,-$5.00,45%,a\n'
        '$3.00,£4,$-2.25,5%,b\n'
        '$0.99,£5.5,+$1,-3%,c\n'
        '"$12,000",£0,−$7,0%,d\n'))  # the last sign is a Unicode minus
    assert same(numbers(frame, "price"), [1234.5, 3.0, 0.99, 12000.0])
    assert same(numbers(frame, "gbp"), [3.0, 4.0, 5.5, 0.0])
    assert same(numbers(frame, "neg"), [-5.0, -2.25, 1.0, -7.0])
    assert same(numbers(frame, "rate"), [45.0, 5.0, -3.0, 0.0])  # as written, not 0.45
    assert frame["name"].tolist() == ["a", "b", "c", "d"]
    assert result.report["units"] == {"price": "$", "gbp": "£", "neg": "$", "rate": "%"}
    assert result.report["conversions"]["price"]["unit"] == "$"
    assert "thousands separators" in result.report["conversions"]["price"]["rule"]
    line = next(w for w in result.warnings if w.startswith("read as numbers:"))
    assert "price ($)" in line and "gbp (£)" in line and "rate (%)" in line
    assert "45% → 45, not 0.45" in line
    # the report is kept with the version
    assert result.version.import_report["units"]["price"] == "$"


def test_percent_with_a_space_and_decimals(store, tmp_path):
    result, frame = imp(store, tmp_path, "id,share\n1,12.5 %\n2,0.5 %\n3,100 %\n4,.25%\n")
    assert same(numbers(frame, "share"), [12.5, 0.5, 100.0, 0.25])
    assert result.report["units"] == {"share": "%"}


def test_euro_before_with_decimal_comma_quoted_in_a_comma_file(store, tmp_path):
    result, frame = imp(store, tmp_path, 'item,cost\na,"€ 12,50"\nb,"€ 1,00"\nc,€ 3\n')
    assert result.report["decimal"] == "."  # the file's dialect: commas only inside quotes
    assert same(numbers(frame, "cost"), [12.5, 1.0, 3.0])
    assert result.report["units"] == {"cost": "€"}
    assert "decimal comma" in result.report["conversions"]["cost"]["rule"]


def test_decimal_comma_money_in_a_semicolon_file(store, tmp_path):
    # No plain decimal-comma column: the sniffer must see the digits behind the symbols.
    result, frame = imp(store, tmp_path, (
        "produkt;preis;summe;rabatt\n"
        "a;1.234,50 €;1 234,56 €;12,5 %\n"
        "b;12,00 €;2 000 000,01 €;3 %\n"
        "c;-3,10 €;0,99 €;0,5%\n"))
    assert result.report["delimiter"] == ";"
    assert result.report["decimal"] == ","
    assert same(numbers(frame, "preis"), [1234.5, 12.0, -3.1])
    assert same(numbers(frame, "summe"), [1234.56, 2000000.01, 0.99])
    assert same(numbers(frame, "rabatt"), [12.5, 3.0, 0.5])
    assert result.report["units"] == {"preis": "€", "summe": "€", "rabatt": "%"}


def test_no_break_spaces_between_digit_groups(store, tmp_path):
    # French formatting writes thousands with a (narrow) no-break space.
    result, frame = imp(store, tmp_path,
                        "a;b\nx;1\u202f234,56\u00a0€\ny;12\u00a0345,00 €\nz;7,00 €\n")
    assert same(numbers(frame, "b"), [1234.56, 12345.0, 7.0])


def test_accounting_negatives_and_zero(store, tmp_path):
    result, frame = imp(store, tmp_path, (
        "account,amount\n"
        'a,($5.00)\n'
        'b,"$(1,250.00)"\n'
        'c,$ -\n'
        'd,$40.10\n'
        'e,"( $ 7.5 )"\n'))
    assert same(numbers(frame, "amount"), [-5.0, -1250.0, 0.0, 40.1, -7.5])
    rule = result.report["conversions"]["amount"]["rule"]
    assert "accounting negatives in parentheses" in rule and "'-' read as zero" in rule


def test_currency_codes_and_suffixes(store, tmp_path):
    result, frame = imp(store, tmp_path, "a,b,c\nUSD 10,10 EUR,¥500\nUSD 2.5,3 EUR,¥20\n")
    assert same(numbers(frame, "a"), [10.0, 2.5])
    assert same(numbers(frame, "b"), [10.0, 3.0])
    assert same(numbers(frame, "c"), [500.0, 20.0])
    assert result.report["units"] == {"a": "USD", "b": "EUR", "c": "¥"}


def test_mixed_currencies_stay_text_with_a_warning(store, tmp_path):
    result, frame = imp(store, tmp_path, "amount,qty\n$5,1\n€7,2\n$9,3\n")
    assert frame["amount"].tolist() == ["$5", "€7", "$9"]
    assert "amount" not in (result.report.get("units") or {})
    assert result.report["mixed_units"] == {"amount": ["$", "€"]}
    warning = next(w for w in result.warnings if "mixes currencies" in w)
    assert "'amount'" in warning and "$ ×2" in warning and "€ ×1" in warning
    assert not any(w.startswith("read as numbers") for w in result.warnings)


def test_money_with_blanks_and_missing_markers(store, tmp_path):
    result, frame = imp(store, tmp_path, "id,price\n1,$10.00\n2,\n3,N/A\n4,$2.50\n5,-\n")
    assert same(numbers(frame, "price"), [10.0, np.nan, np.nan, 2.5, np.nan])
    assert result.report["missing_markers"]["price"] == {"N/A": 1, "-": 1}
    assert result.report["units"] == {"price": "$"}
    assert "mixed_types" not in result.report


def test_a_few_odd_cells_are_counted_as_mixed_types(store, tmp_path):
    rows = "".join(f"{i},${i}.50\n" for i in range(99)) + "99,ask me\n"
    result, frame = imp(store, tmp_path, "id,price\n" + rows)
    assert numbers(frame, "price")[:2] == [0.5, 1.5]
    assert math.isnan(numbers(frame, "price")[99])
    mixed = result.report["mixed_types"]["price"]
    assert mixed["converted"] is True and mixed["examples"] == ["ask me"]
    assert any("'price'" in w and "ask me" in w for w in result.warnings)
    assert result.report["units"] == {"price": "$"}


def test_many_odd_cells_keep_the_column_as_text(store, tmp_path):
    result, frame = imp(store, tmp_path,
                        "id,price\n1,$1\n2,$2\n3,$3\n4,call\n5,$5\n6,later\n7,$7\n8,$8\n")
    assert frame["price"].tolist()[:2] == ["$1", "$2"]
    assert result.report["mixed_types"]["price"]["converted"] is False
    assert any("'price' has mixed types" in w for w in result.warnings)
    assert "units" not in result.report


def test_text_that_mentions_money_or_percent_stays_text(store, tmp_path):
    result, frame = imp(store, tmp_path,
                        "promo,n\n50% off,1\nbuy 2 for $5,2\nfree shipping,3\n10% off,4\n")
    assert frame["promo"].tolist() == ["50% off", "buy 2 for $5", "free shipping", "10% off"]
    assert "units" not in result.report and "mixed_types" not in result.report


def test_a_numeric_column_with_one_percent_cell_is_not_a_percent_column(store, tmp_path):
    rows = "".join(f"{i}\n" for i in range(50)) + "5%\n"
    result, frame = imp(store, tmp_path, "x\n" + rows)
    assert "units" not in result.report
    assert result.report["mixed_types"]["x"]["examples"] == ["5%"]


def test_parse_units_on_distinct_values():
    values = pd.Series(["$1", "(€2)", "3 %", "US$4", "5", "$ -", "$5$", "($6", "1 2", "--5"],
                       dtype="str")
    units, digits, negative, ok = parse_units(values)
    assert ok.tolist() == [True, True, True, True, True, True, False, False, False, False]
    assert units.tolist()[:6] == ["$", "€", "%", "US$", "", "$"]
    assert digits.tolist()[:6] == ["1", "2", "3", "4", "5", "0"]
    assert negative.tolist()[:6] == [False, True, False, False, False, False]


# --- a quoted header holding a line break -------------------------------------------

def test_quoted_header_with_a_newline(store, tmp_path):
    result, frame = imp(store, tmp_path, '"first\nname",age\nAlice,30\nBob,40\n')
    assert list(frame.columns) == ["first name", "age"]
    assert frame["first name"].tolist() == ["Alice", "Bob"]
    assert frame["age"].tolist() == [30, 40]
    assert result.report["header_mapping"] == [["first\nname", "first name"]]
    assert any("line breaks in column names" in w and "'first name'" in w
               for w in result.warnings)
    assert "mixed_types" not in result.report


def test_quoted_header_with_crlf_newlines_and_a_multiline_value(store, tmp_path):
    result, frame = imp(store, tmp_path,
                        'id,"unit\r\nprice","note"\r\n1,$2.50,"two\r\nlines"\r\n2,$3,plain\r\n')
    assert list(frame.columns) == ["id", "unit price", "note"]
    assert frame["id"].tolist() == [1, 2]
    assert same(numbers(frame, "unit price"), [2.5, 3.0])
    assert frame["note"].tolist() == ["two\r\nlines", "plain"]


def test_quoted_header_with_a_newline_and_no_rows(store, tmp_path):
    result, frame = imp(store, tmp_path, '"a\nb";c\n')
    assert list(frame.columns) == ["a b", "c"]
    assert len(frame) == 0
