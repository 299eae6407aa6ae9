"""Reading user files into clean frames (first cut; sniffing and cleaning follow)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from studio.errors import InvalidInput
from studio.schema import infer_schema


@dataclass
class Table:
    frame: pd.DataFrame
    schema: list[dict]
    report: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def read_table(path: Path, options=None, progress=None) -> Table:
    path = Path(path)
    if path.stat().st_size == 0:
        raise InvalidInput(f"{path.name}: the file is empty")
    frame = pd.read_csv(path, sep=None, engine="python")
    frame.columns = [str(c).strip() for c in frame.columns]
    return Table(frame, infer_schema(frame), {"format": "csv"}, [])
