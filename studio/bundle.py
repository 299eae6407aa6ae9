"""A model bundle: one zip with the fitted pipeline, ``model.json`` and a README.

``model.joblib`` is the registered pipeline file byte for byte (its sha256 is in
``model.json``); ``model.json`` describes it (input schema, task, target,
classes, metrics, lineage, library versions, example); the README shows how to
check, load and call it in plain Python.
"""
from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime, timezone
from typing import Any

from storage.artifacts import ArtifactError
from storage.registry import ModelVersionPublic
from storage.store import Store
from studio.errors import IntegrityError

CARD_FIELDS = ("name", "version", "task", "target", "classes", "input_schema", "example", "metric",
               "metrics", "algorithm", "params", "feature_importance", "lineage",
               "library_versions", "sha256", "created_at")


def _studio_modules(pipeline: Any) -> list[str]:
    """Modules of studio's own classes inside the pipeline (needed on the path to load it)."""
    found: set[str] = set()
    seen: set[int] = set()

    def visit(obj: Any, depth: int = 0) -> None:
        if id(obj) in seen or depth > 8:
            return
        seen.add(id(obj))
        module = type(obj).__module__
        if module.startswith("studio"):
            found.add(module)
        children: list = []
        if isinstance(obj, (list, tuple)):
            children = list(obj)
        elif hasattr(obj, "get_params") and hasattr(obj, "__dict__"):
            children = list(vars(obj).values())
        for child in children:
            if hasattr(child, "get_params") or isinstance(child, (list, tuple)):
                visit(child, depth + 1)

    visit(pipeline)
    return sorted(found)


def model_json(version: ModelVersionPublic, pipeline: Any | None = None) -> dict:
    card = version.card or {}
    meta = {key: card.get(key) for key in CARD_FIELDS if key in card}
    meta.update({"name": version.model, "version": version.version, "task": version.task,
                 "target": version.target, "sha256": version.artifact_sha,
                 "stage": version.stage, "file": "model.joblib"})
    if pipeline is not None:
        meta["requires_modules"] = _studio_modules(pipeline)
    return meta


README = """# {ref}

A {task} model predicting `{target}`, exported from Studio on {today}.

| file | what |
|---|---|
| `model.joblib` | the fitted scikit-learn Pipeline: raw input columns → prediction |
| `model.json` | input schema, classes, metrics, lineage, library versions, sha256 |

## Load and call it

Use the library versions in `model.json` (`library_versions`){modules_note}. Only load a
model file you trust: joblib files can run code when loaded, so check the sha256 first.

```python
import hashlib, json

import joblib
import pandas as pd

meta = json.load(open("model.json"))
data = open("model.joblib", "rb").read()
assert hashlib.sha256(data).hexdigest() == meta["sha256"], "model.joblib was altered"

pipeline = joblib.load("model.joblib")
rows = pd.DataFrame([meta["example"]])          # columns as in meta["input_schema"]
print(pipeline.predict(rows))
{proba_line}```

Columns are those of `input_schema` (name, dtype); missing values are allowed and
imputed as in training; extra columns are ignored.
"""


def build_bundle(store: Store, version: ModelVersionPublic) -> bytes:
    """The zip's bytes (pipeline file checked against its sha256 first)."""
    try:
        path = store.artifacts.path(version.artifact_sha)
    except ArtifactError as exc:
        raise IntegrityError(f"model {version.ref}: {exc}") from None
    from studio.registry import load_pipeline

    pipeline = load_pipeline(store, version)
    meta = model_json(version, pipeline)
    modules = meta.get("requires_modules") or []
    modules_note = (f"; it uses Studio's own classes ({', '.join(modules)}), so run it where "
                    "the `studio` package is importable" if modules else "")
    classifier = version.task in ("binary", "multiclass")
    readme = README.format(
        ref=version.ref, task=version.task, target=version.target,
        today=datetime.now(timezone.utc).date().isoformat(), modules_note=modules_note,
        proba_line=("print(pipeline.predict_proba(rows))   # columns in meta[\"classes\"] order\n"
                    if classifier else ""),
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.write(path, "model.joblib")
        zf.writestr("model.json", json.dumps(meta, indent=2, default=str, ensure_ascii=False))
        zf.writestr("README.md", readme)
    return buffer.getvalue()


def bundle_name(version: ModelVersionPublic) -> str:
    return f"{version.model}-v{version.version}.zip"
