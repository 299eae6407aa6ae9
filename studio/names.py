"""Validation of user-given names (datasets, models, endpoints, columns in refs)."""
from __future__ import annotations

import re

from studio.errors import InvalidInput

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


def validate_name(name: str, what: str = "name") -> str:
    """Letters, digits, ``_ . -``; starts with a letter or digit; at most 64."""
    name = (name or "").strip()
    if not _NAME.match(name):
        raise InvalidInput(
            f"{what} '{name[:80]}' is not valid: use letters, digits, '_', '.' or '-', "
            "start with a letter or digit, at most 64 characters"
        )
    return name


def suggest_name(raw: str) -> str:
    """A valid name derived from a file name or free text."""
    stem = re.sub(r"\.(csv|tsv|txt|xlsx|xls|parquet|gz|zip)$", "", raw.strip(), flags=re.I)
    stem = re.sub(r"\.(csv|tsv|txt)$", "", stem, flags=re.I)
    cleaned = re.sub(r"[^A-Za-z0-9_.\-]+", "_", stem).strip("_.-")
    return (cleaned or "dataset")[:64]


def parse_ref(ref: str, what: str = "dataset") -> tuple[str, int | None]:
    """``NAME`` or ``NAME:VERSION`` → (name, version or None)."""
    name, sep, version = (ref or "").strip().rpartition(":")
    if not sep:
        return validate_name(version, what), None
    if not version.isdigit() or int(version) < 1:
        raise InvalidInput(f"{what} reference '{ref}': the version after ':' must be a number ≥ 1")
    return validate_name(name, what), int(version)
