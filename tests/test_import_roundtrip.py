"""Property: any frame written as delimited text (any delimiter, common encodings,
quoting as pandas does it) imports back to the same values and types."""
from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studio.ingest import read_table

NAME = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,10}", fullmatch=True)
# Text that is clearly text: starts with a letter, may hold delimiters, quotes and newlines.
TEXT = st.builds(
    lambda head, body: (head + body).strip(),
    st.sampled_from(list("abcdefgxyzÄéß")),
    st.text(alphabet=list("abc xyz,;|\t\"'\n-.é"), max_size=12),
)


@st.composite
def frames(draw):
    rows = draw(st.integers(1, 25))
    names = draw(st.lists(NAME, min_size=1, max_size=6, unique_by=str.lower))
    columns = {}
    for name in names:
        kind = draw(st.sampled_from(["int", "float", "text", "bool"]))
        if kind == "int":
            values = draw(st.lists(st.integers(-10**12, 10**12), min_size=rows, max_size=rows))
        elif kind == "float":
            values = draw(st.lists(st.one_of(
                st.floats(-1e9, 1e9, allow_nan=False, allow_infinity=False), st.just(np.nan)),
                min_size=rows, max_size=rows))
            if all(pd.isna(v) for v in values):
                values[0] = 1.5
            if all(float(v).is_integer() for v in values if not pd.isna(v)):
                values[0] = 0.25  # keep the column a float column on the way back
        elif kind == "bool":
            values = draw(st.lists(st.booleans(), min_size=rows, max_size=rows))
        else:
            values = draw(st.lists(TEXT, min_size=rows, max_size=rows))
        columns[name] = values
    return pd.DataFrame(columns)


def _roundtrip(tmp_path, frame, sep, encoding):
    text = frame.to_csv(index=False, sep=sep, lineterminator="\r\n" if sep == "|" else "\n")
    path = tmp_path / "data.csv"
    path.write_bytes(text.encode(encoding))
    return read_table(path, options={"max_upload_mb": 10})


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(frame=frames(), sep=st.sampled_from([",", ";", "\t", "|"]),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"]))
def test_frames_survive_a_round_trip_through_delimited_text(tmp_path, frame, sep, encoding):
    try:
        frame.to_csv(index=False, sep=sep).encode(encoding)
    except UnicodeEncodeError:
        encoding = "utf-8"
    table = _roundtrip(tmp_path, frame, sep, encoding)
    got = table.frame
    # Rows with no values at all are skipped by design (and counted in the report).
    frame = frame[~frame.isna().all(axis=1)].reset_index(drop=True)
    assert list(got.columns) == list(frame.columns)
    assert len(got) == len(frame)
    for col in frame.columns:
        want, have = frame[col], got[col]
        if pd.api.types.is_bool_dtype(want):
            assert have.tolist() == want.tolist(), col
        elif pd.api.types.is_numeric_dtype(want):
            assert pd.api.types.is_numeric_dtype(have), (col, have.dtype)
            np.testing.assert_allclose(have.to_numpy(dtype=float), want.to_numpy(dtype=float),
                                       rtol=1e-12, equal_nan=True)
        else:
            assert have.tolist() == want.tolist(), col


def test_integer_columns_stay_integer_and_text_stays_text(tmp_path):
    frame = pd.DataFrame({"n": [1, 2, 3], "s": ["x, y", 'say "hi"', "two\nlines"]})
    got = _roundtrip(tmp_path, frame, ",", "utf-8").frame
    assert got["n"].dtype == "int64"
    assert got["s"].tolist() == frame["s"].tolist()
