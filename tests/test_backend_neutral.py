"""Only storage/ knows which database it talks to: no SQLite- or PostgreSQL-only SQL in
studio/, pages/ or app.py (the same code runs on both; tests run on both)."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIALECT_ONLY = re.compile(
    r"PRAGMA\s|json_extract|json_each|sqlite_master|import sqlite3|sqlite3\.connect|"
    r"AUTOINCREMENT|datetime\('now'|pg_advisory|::jsonb|\bILIKE\b|"
    r"ON CONFLICT|with_for_update|\.dialect\.name|get_bind\(\)",
    re.IGNORECASE)


def test_no_dialect_specific_sql_above_storage():
    found = []
    for path in [*ROOT.glob("studio/**/*.py"), *ROOT.glob("pages/**/*.py"), ROOT / "app.py"]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if DIALECT_ONLY.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert found == [], "move these behind storage functions:\n" + "\n".join(found)
