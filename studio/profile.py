"""Dataset profiles (first cut)."""
from __future__ import annotations

import pandas as pd

PROFILE_FORMAT = 1


def build_profile(frame: pd.DataFrame, schema: list[dict]) -> dict:
    return {"format": PROFILE_FORMAT, "rows": int(len(frame)), "cols": int(frame.shape[1]),
            "columns": schema, "warnings": []}


def target_checks(frame, schema, target, task=None) -> dict:
    return {"target": target, "warnings": []}
