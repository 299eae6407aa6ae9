"""Small frames for the AutoML tests (built from scikit-learn's bundled data: no network)."""
from __future__ import annotations

import numpy as np
import pandas as pd


def binary_frame(rows: int = 240) -> pd.DataFrame:
    """Breast cancer: string labels, an ID column, a categorical, some missing values."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True).frame.iloc[:rows, [0, 1, 2, 5, 7, 20, 21, 22, 27, 30]]
    frame = data.rename(columns=lambda c: c.replace(" ", "_")).copy()
    frame["diagnosis"] = frame.pop("target").map({0: "malignant", 1: "benign"})
    frame.insert(0, "patient_id", np.arange(5000, 5000 + len(frame)))
    frame["clinic"] = np.where(np.arange(len(frame)) % 3 == 0, "north", "south")
    frame.loc[frame.index[::17], "mean_texture"] = np.nan
    return frame.reset_index(drop=True)


def multiclass_frame() -> pd.DataFrame:
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame
    frame["cultivar"] = frame.pop("target").map({0: "barolo", 1: "grignolino", 2: "barbera"})
    return frame


def regression_frame(rows: int = 300) -> pd.DataFrame:
    """Diabetes progression with a date column (parts derived inside the pipeline)."""
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True, scaled=False).frame.iloc[:rows].copy()
    frame["visit"] = pd.date_range("2021-01-01", periods=len(frame), freq="D")
    frame["progression"] = frame.pop("target")
    return frame.reset_index(drop=True)


def save(store, name: str, frame: pd.DataFrame):
    from studio.datasets import save_version

    return save_version(store, name=name, frame=frame)
