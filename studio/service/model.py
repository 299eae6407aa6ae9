"""A model version loaded for serving: validated input → predictions (+ explanations).

Two ways to the same answer: the compiled fast path (``compiled.py``) when it
reproduces the pipeline exactly on probe rows checked at load time, else the
pipeline itself on a DataFrame with the training dtypes. Either way the answer is
the pipeline's: the fast path only replaces how the estimator's input matrix is
built, and the estimator (the rest of the pipeline) is called as it is.
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from studio.service.compiled import NotCompilable, UseFallback, compile_pipeline
from studio.service.inputs import Batch, Converter

# Classifiers whose predict() is by definition classes_[argmax(predict_proba)].
ARGMAX_CLASSIFIERS = {
    "XGBClassifier", "LogisticRegression", "RandomForestClassifier", "ExtraTreesClassifier",
    "HistGradientBoostingClassifier", "GradientBoostingClassifier", "DecisionTreeClassifier",
    "EncodedClassifier", "EnsembleClassifier", "LGBMClassifier", "KNeighborsClassifier",
    "EnsembleTail",
}


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


@dataclass
class Prediction:
    predictions: list
    probabilities: np.ndarray | None      # rows × classes, classifiers only
    path: str                              # "fast" or "pipeline"


class LoadedModel:
    """One model version ready to answer: pipeline, card, converter, fast path."""

    def __init__(self, version, pipeline: Any):
        self.version = version
        self.version_id = version.id
        self.ref = version.ref
        self.pipeline = pipeline
        self.card = version.card or {}
        self.task = self.card.get("task") or version.task
        self.is_classifier = self.task in ("binary", "multiclass")
        schema = self.card.get("input_schema") or []
        if not schema:
            raise ValueError(f"model {self.ref} has no input schema in its card")
        self.converter = Converter(schema)
        self.classes = ([_plain(c) for c in getattr(pipeline, "classes_", [])]
                        if self.is_classifier else None)
        if self.is_classifier and not self.classes:
            self.classes = list(self.card.get("classes") or [])
        self.class_keys = [str(c) for c in self.classes] if self.classes else None
        self.compiled: Any = None         # Compiled or CompiledEnsemble
        self.tail: Any = None
        self.fast_reason = ""
        self.argmax = False
        self.loaded_at = time.time()
        self._prepare()

    # --- load-time checks -----------------------------------------------------------

    def probe_records(self) -> list[dict]:
        """Rows that exercise the preprocessing: the example, missing values, unseen and
        edge values, the training range."""
        example = dict(self.card.get("example") or {})
        records = []
        base = {}
        for entry in self.card.get("input_schema") or []:
            name = entry["name"]
            value = example.get(name)
            if value is None:
                cats = entry.get("categories") or []
                value = cats[0] if cats else entry.get("min", 0)
            base[name] = value
        records.append(base)
        records.append({k: None for k in base})
        kinds = {c.name: c.kind for c in self.converter.columns}
        for entry in self.card.get("input_schema") or []:
            name = entry["name"]
            unseen = "__unseen__" if kinds.get(name) == "string" and entry.get("semantic") in (
                "categorical", "text") else None
            for value in (entry.get("min"), entry.get("max"), *(entry.get("categories") or [])[:12],
                          unseen):
                if value is not None:
                    records.append({**base, name: value})
        return records

    def _prepare(self) -> None:
        kinds = {c.name: c.kind for c in self.converter.columns}
        try:
            compiled, tail = compile_pipeline(self.pipeline, kinds)
        except NotCompilable as exc:
            self.fast_reason = str(exc)
            return
        except Exception as exc:  # noqa: BLE001 - an odd pipeline only loses the fast path
            self.fast_reason = f"{type(exc).__name__}: {exc}"
            return
        try:
            batch = self.converter.convert(self.probe_records())
            frame = self.converter.frame(batch)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                expected = compiled.reference(frame)
                got = compiled.transform(batch.columns, batch.n_rows)
                reference = self._pipeline_outputs(frame)
                mine = self._tail_outputs(tail, got)
        except UseFallback:
            self.fast_reason = "the probe rows need the pipeline (strict encoder)"
            return
        except Exception as exc:  # noqa: BLE001
            self.fast_reason = f"probe failed: {type(exc).__name__}: {exc}"
            return
        pairs = zip(expected, got) if isinstance(got, tuple) else [(expected, got)]
        same_matrix = True
        for want, have in pairs:
            want, have = self._dense(want), self._dense(have)
            same_matrix &= want.shape == have.shape and np.array_equal(want, have, equal_nan=True)
        if not same_matrix or not self._same(reference, mine):
            self.fast_reason = "compiled output differs from the pipeline's on probe rows"
            return
        self.compiled, self.tail = compiled, tail
        self.fast_reason = ""
        if self.is_classifier:
            final = tail.steps[-1][1] if hasattr(tail, "steps") else tail
            if type(final).__name__ in ARGMAX_CLASSIFIERS and not hasattr(tail, "steps"):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    labels = tail.predict(got)
                proba = mine[1]
                derived = np.asarray(tail.classes_)[np.argmax(proba, axis=1)]
                self.argmax = bool(np.array_equal(np.asarray(labels), derived))

    @staticmethod
    def _dense(X):
        return X.toarray() if hasattr(X, "toarray") else np.asarray(X, dtype=np.float64)

    @staticmethod
    def _same(a: tuple, b: tuple) -> bool:
        for x, y in zip(a, b):
            if x is None and y is None:
                continue
            if x is None or y is None:
                return False
            x, y = np.asarray(x), np.asarray(y)
            if x.shape != y.shape:
                return False
            if x.dtype.kind in "fc" and not np.array_equal(x, y, equal_nan=True):
                return False
            if x.dtype.kind not in "fc" and not (x == y).all():
                return False
        return True

    def _pipeline_outputs(self, frame) -> tuple:
        if self.is_classifier:
            return self.pipeline.predict(frame), self.pipeline.predict_proba(frame)
        return self.pipeline.predict(frame), None

    def _tail_outputs(self, tail, X) -> tuple:
        if self.is_classifier:
            return tail.predict(X), tail.predict_proba(X)
        return tail.predict(X), None

    # --- serving ------------------------------------------------------------------

    @property
    def fast(self) -> bool:
        return self.compiled is not None

    def matrix(self, batch: Batch):
        """The estimator's input for ``batch`` via the fast path (UseFallback when it can't)."""
        return self.compiled.transform(batch.columns, batch.n_rows)

    def predict_matrix(self, X) -> Prediction:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if not self.is_classifier:
                return Prediction(np.asarray(self.tail.predict(X)).tolist(), None, "fast")
            proba = np.asarray(self.tail.predict_proba(X), dtype=np.float64)
            if self.argmax:
                labels = [self.classes[i] for i in np.argmax(proba, axis=1).tolist()]
            else:
                labels = [_plain(v) for v in np.asarray(self.tail.predict(X)).tolist()]
        return Prediction(labels, proba, "fast")

    def predict_frame(self, batch: Batch) -> Prediction:
        frame = self.converter.frame(batch)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            labels = [_plain(v) for v in np.asarray(self.pipeline.predict(frame)).tolist()]
            proba = (np.asarray(self.pipeline.predict_proba(frame), dtype=np.float64)
                     if self.is_classifier else None)
        return Prediction(labels, proba, "pipeline")

    def predict(self, batch: Batch) -> Prediction:
        if self.compiled is not None:
            try:
                return self.predict_matrix(self.matrix(batch))
            except UseFallback:
                pass
        return self.predict_frame(batch)

    def describe(self) -> dict:
        return {"model": self.ref, "model_version_id": self.version_id, "task": self.task,
                "classes": self.classes, "fast_path": self.fast,
                "fast_path_note": self.fast_reason or None}
