"""Sample datasets that work offline, loaded with one click (or by ``make run``).

Three come from scikit-learn's bundled copies (no download): breast cancer
(binary), wine (multiclass), diabetes (regression). The fourth, a messy
customer-churn file, is generated deterministically and written the way real
exports look: semicolons with decimal commas, padded headers, a saved index
column, an ID column, blanks and sentinels (``N/A``, ``?``, ``-``), numbers
stored as text with blanks, day-first dates. Every sample goes through the
normal import, so its import report shows what was cleaned.
"""
from __future__ import annotations

import io
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from storage.store import Store


@dataclass(frozen=True)
class Sample:
    name: str
    title: str
    task: str
    target: str
    description: str
    build: Callable[[], tuple[str, bytes]]   # → (file name, file bytes)


def _csv(frame: pd.DataFrame, **kwargs) -> bytes:
    buf = io.StringIO()
    frame.to_csv(buf, index=False, **kwargs)
    return buf.getvalue().encode("utf-8")


def _breast_cancer() -> tuple[str, bytes]:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    frame = data.frame.drop(columns=["target"])
    frame["diagnosis"] = np.where(data.target == 0, "malignant", "benign")
    return "breast_cancer.csv", _csv(frame.round(5))


def _wine() -> tuple[str, bytes]:
    from sklearn.datasets import load_wine

    data = load_wine(as_frame=True)
    frame = data.frame.drop(columns=["target"])
    frame["cultivar"] = [f"cultivar_{t + 1}" for t in data.target]
    return "wine.csv", _csv(frame)


def _diabetes() -> tuple[str, bytes]:
    from sklearn.datasets import load_diabetes

    data = load_diabetes(as_frame=True, scaled=False)
    frame = data.frame.rename(columns={"target": "progression", "s1": "tc", "s2": "ldl",
                                       "s3": "hdl", "s4": "tch", "s5": "ltg", "s6": "glucose"})
    frame["sex"] = np.where(frame["sex"] == 1, "female", "male")
    return "diabetes.csv", _csv(frame)


def messy_customers(rows: int = 600, seed: int = 7) -> pd.DataFrame:
    """A churn table with the defects of real exports (values still clean here)."""
    rng = np.random.default_rng(seed)
    tenure = rng.integers(0, 72, rows)
    monthly = np.round(rng.uniform(18, 120, rows), 2)
    contract = rng.choice(["month-to-month", "one year", "two year"], rows, p=[0.55, 0.25, 0.2])
    support = rng.choice(["yes", "no"], rows, p=[0.3, 0.7])
    age = rng.integers(18, 85, rows).astype(float)
    signup = pd.Timestamp("2024-06-30") - pd.to_timedelta(tenure * 30 + rng.integers(0, 30, rows),
                                                          unit="D")
    logit = (-1.0 + 1.6 * (contract == "month-to-month") - 0.04 * tenure + 0.012 * monthly
             - 0.7 * (support == "yes") + rng.normal(0, 0.6, rows))
    churn = np.where(1 / (1 + np.exp(-logit)) > 0.5, "yes", "no")
    return pd.DataFrame({
        "customer_id": [f"C{100000 + i * 7}" for i in range(rows)],
        "signup_date": signup, "age": age, "contract": contract, "tech_support": support,
        "tenure_months": tenure, "monthly_charges": monthly,
        "total_charges": np.round(monthly * np.maximum(tenure, 0), 2), "churned": churn,
    })


def _messy() -> tuple[str, bytes]:
    frame = messy_customers()
    rng = np.random.default_rng(11)
    rows = len(frame)
    out = pd.DataFrame({
        "Customer ID": frame["customer_id"],
        " Signup Date ": frame["signup_date"].dt.strftime("%d.%m.%Y"),
        "Age ": frame["age"].map(lambda v: f"{v:.0f}").astype(object),
        " Contract": frame["contract"],
        "Tech support": frame["tech_support"],
        "Tenure (months)": frame["tenure_months"],
        "Monthly charges": frame["monthly_charges"].map(lambda v: f"{v:.2f}".replace(".", ",")),
        "Total charges": frame["total_charges"].map(lambda v: f"{v:.2f}".replace(".", ","))
        .astype(object),
        "Churned": frame["churned"],
    })
    sentinels = ["N/A", "?", "-", ""]
    for i in rng.choice(rows, 40, replace=False):
        out.loc[i, "Age "] = sentinels[i % 4]
    out.loc[frame["tenure_months"] == 0, "Total charges"] = " "   # new customers: blank
    for i in rng.choice(rows, 12, replace=False):
        out.loc[i, " Contract"] = "N/A"
    out.insert(0, "", range(rows))                                # a saved pandas index
    return "customers_messy.csv", _csv(out, sep=";")


SAMPLES: dict[str, Sample] = {s.name: s for s in [
    Sample("breast_cancer", "Breast cancer (binary)", "binary", "diagnosis",
           "569 tumour measurements; is it malignant or benign? (scikit-learn's copy of the "
           "Wisconsin data)", _breast_cancer),
    Sample("wine", "Wine cultivars (multiclass)", "multiclass", "cultivar",
           "178 wines, 13 chemical measurements; which of three cultivars?", _wine),
    Sample("diabetes", "Diabetes progression (regression)", "regression", "progression",
           "442 patients, 10 baseline measurements; disease progression after one year",
           _diabetes),
    Sample("customers_messy", "Customer churn, messy export (binary)", "binary", "Churned",
           "600 customers in a semicolon file with decimal commas, padded headers, a saved "
           "index, an ID column, blanks and N/A/?/- sentinels, day-first dates", _messy),
]}


def list_samples() -> list[Sample]:
    return list(SAMPLES.values())


def load_sample(store: Store, name: str):
    """Import sample ``name`` (a new version if it exists); returns the ImportResult."""
    from studio.datasets import import_file
    from studio.errors import NotFound

    sample = SAMPLES.get(name)
    if sample is None:
        raise NotFound(f"no sample named '{name}'; samples: {', '.join(SAMPLES)}")
    filename, data = sample.build()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / filename
        path.write_bytes(data)
        return import_file(store, path, name=sample.name, profile=True,
                           options={"max_upload_mb": 50})


def ensure_samples(store: Store) -> list[str]:
    """Import the samples not yet in the store; returns the names added."""
    from studio.datasets import list_datasets

    present = {d.name for d in list_datasets(store)}
    added = []
    for name in SAMPLES:
        if name not in present:
            load_sample(store, name)
            added.append(name)
    return added
