"""Three layers, one direction: pages/ -> studio/ -> storage/."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _imports(folder: str) -> dict[str, set[str]]:
    found = {}
    for path in (ROOT / folder).rglob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


def test_studio_never_imports_streamlit_or_pages():
    bad = {f: n & {"streamlit", "pages"} for f, n in _imports("studio").items() if n & {"streamlit", "pages"}}
    assert not bad


def test_storage_imports_neither_studio_nor_streamlit():
    bad = {f: n & {"streamlit", "studio", "pages"} for f, n in _imports("storage").items()
           if n & {"streamlit", "studio", "pages"}}
    assert not bad


def test_pages_never_build_sql():
    bad = {f: n & {"sqlmodel", "sqlalchemy", "sqlite3"} for f, n in _imports("pages").items()
           if n & {"sqlmodel", "sqlalchemy", "sqlite3"}}
    assert not bad


def test_no_eval_or_query_on_user_input():
    offenders = []
    for folder in ("studio", "storage", "pages"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Call):
                    fn = node.func
                    name = fn.id if isinstance(fn, ast.Name) else getattr(fn, "attr", "")
                    builtin = isinstance(fn, ast.Name) and name in ("eval", "exec", "compile")
                    pandas_text = isinstance(fn, ast.Attribute) and name in ("query", "eval")
                    if builtin or pandas_text:
                        offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders
