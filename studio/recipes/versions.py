"""Recipes and the store: apply a recipe as a new version, and give training its raw input."""
from __future__ import annotations

from typing import NamedTuple

import pandas as pd

from storage.datasets import DatasetVersionPublic
from storage.store import Store
from studio import datasets
from studio.errors import IntegrityError, InvalidInput
from studio.recipes.core import fit_recipe
from studio.recipes.steps import StepBase, steps_from_json, steps_to_json
from studio.recipes.transformer import RecipeTransformer, prediction_steps

VERIFY_ROWS = 200


def _version(store: Store, version: DatasetVersionPublic | str) -> DatasetVersionPublic:
    if isinstance(version, str):
        return datasets.resolve_version(store, version)
    return version


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def apply_recipe(store: Store, version: DatasetVersionPublic | str, steps: list, *,
                 note: str = "") -> DatasetVersionPublic:
    """Fit ``steps`` on ``version`` and save the result as the dataset's next version.

    The new version records ``version`` as its parent and the fitted steps as
    its recipe (JSON), so it can be replayed, exported as a script and used at
    prediction time. Nothing is stored when a step fails.
    """
    parent = _version(store, version)
    steps = steps_from_json(steps)
    if not steps:
        raise InvalidInput("the recipe has no steps; add at least one")
    frame = datasets.load_frame(store, parent)
    fitted, out = fit_recipe(frame, steps)
    if out.shape[1] == 0:
        raise InvalidInput("the recipe removes every column; keep at least one")
    if len(out) == 0:
        raise InvalidInput(f"the recipe removes all {len(frame):,} rows; check its filters")
    note = (note or "").strip()[:500] or (
        f"{_plural(len(fitted), 'step')} on {parent.ref}: "
        + "; ".join(s.describe() for s in fitted[:3]) + ("; …" if len(fitted) > 3 else ""))[:500]
    return datasets.save_version(store, name=parent.dataset, frame=out, parent=parent,
                                 recipe=steps_to_json(fitted), note=note)


Chain = list[tuple[DatasetVersionPublic, list[StepBase]]]


def recipe_chain(store: Store, version: DatasetVersionPublic | str
                 ) -> tuple[DatasetVersionPublic, Chain]:
    """(root import, [(derived version, its fitted steps), …]) from root to ``version``."""
    version = _version(store, version)
    chain = datasets.lineage(store, version)
    return chain[0], [(v, steps_from_json(v.recipe or [])) for v in chain[1:]]


class TrainingInput(NamedTuple):
    X_raw: pd.DataFrame     # root-import columns the features need, rows of the version
    y: pd.Series            # the target, from the version
    rowwise_steps: list     # JSON dicts for RecipeTransformer


def training_input(store: Store, version: DatasetVersionPublic | str, target: str,
                   *, verify: bool = True) -> TrainingInput:
    """Raw inputs, target and row-wise steps that rebuild ``version``'s features.

    ``X_raw`` holds the root import's columns (those the features come from)
    for the rows present in ``version`` (matched on the preserved row index);
    ``RecipeTransformer(rowwise_steps).fit_transform(X_raw)`` equals the
    version's columns other than ``target``. Dataset-level steps (filters,
    deduplication …) already chose the rows and are not replayed. With
    ``verify``, the first rows are checked to reproduce the version.
    """
    version = _version(store, version)
    root, chain = recipe_chain(store, version)
    steps = [step for _v, recipe in chain for step in recipe if step.ROWWISE]
    frame = datasets.load_frame(store, version)
    if target not in frame.columns:
        shown = ", ".join(map(str, frame.columns[:12])) + (" …" if frame.shape[1] > 12 else "")
        raise InvalidInput(f"'{target}' is not a column of {version.ref}; it has {shown}")
    root_frame = frame if root.id == version.id else datasets.load_frame(store, root)
    kept, inputs = prediction_steps(steps, [str(c) for c in root_frame.columns], target)
    unknown = frame.index.difference(root_frame.index)
    if len(unknown):
        raise IntegrityError(f"{_plural(len(unknown), 'row')} of {version.ref} do not match rows "
                             f"of the import {root.ref} (the row index was not kept)")
    X_raw = root_frame.loc[frame.index, inputs]
    y = frame[target]
    rowwise = steps_to_json(kept)
    if verify and len(frame):
        _verify(X_raw, frame.drop(columns=[target]), rowwise, version)
    return TrainingInput(X_raw, y, rowwise)


def _verify(X_raw: pd.DataFrame, features: pd.DataFrame, rowwise: list,
            version: DatasetVersionPublic) -> None:
    head = X_raw.iloc[:VERIFY_ROWS]
    rebuilt = RecipeTransformer(rowwise).fit(head).transform(head)
    expected = features.iloc[:VERIFY_ROWS]
    try:
        pd.testing.assert_frame_equal(rebuilt, expected, check_dtype=False,
                                      check_index_type=False)
    except AssertionError as exc:
        first = str(exc).strip().splitlines()[0][:200]
        raise IntegrityError(f"replaying the recipe of {version.ref} on its raw columns does not "
                             f"give the stored data ({first}); the version was not made by a "
                             "recipe, so it cannot be rebuilt at prediction time") from None
