"""Replayable recipes: typed steps that clean a dataset version into the next one.

Public API (everything else is internal):

- steps: :class:`StepBase` subclasses with a ``kind`` (``STEP_TYPES``), built
  from JSON with :func:`step_from_json` / :func:`steps_from_json`, saved with
  :func:`steps_to_json` (``to_json``/``from_json`` for text);
- :func:`preview_step` → :class:`Preview`; :func:`fit_recipe`, :func:`replay`;
- :func:`apply_recipe` (a new version with parent and recipe);
- :func:`training_input` and :class:`RecipeTransformer` for training and
  prediction; :func:`prediction_steps` for the target-free replay;
- :func:`export_script`: a standalone pandas script rebuilding a version from
  its uploaded file;
- :func:`check_formula` / :func:`evaluate_formula`: the safe formula language.
"""
from studio.recipes.core import columns_after, fit_recipe, replay, split_rowwise
from studio.recipes.formula import FUNCTIONS, check_formula, evaluate_formula
from studio.recipes.preview import Preview, preview_step
from studio.recipes.steps import (
    STEP_TYPES, StepBase, from_json, step_from_json, steps_from_json, steps_to_json, to_json,
)
from studio.recipes.transformer import MissingColumns, RecipeTransformer, prediction_steps

__all__ = [
    "FUNCTIONS", "STEP_TYPES", "MissingColumns", "Preview", "RecipeTransformer", "StepBase",
    "TrainingInput", "apply_recipe", "check_formula", "columns_after", "evaluate_formula",
    "export_script", "fit_recipe", "from_json", "prediction_steps", "preview_step",
    "recipe_chain", "replay", "split_rowwise", "step_from_json", "steps_from_json",
    "steps_to_json", "to_json", "training_input",
]


def __getattr__(name):
    # The store-facing parts import the datasets module; load them on first use.
    if name in ("apply_recipe", "training_input", "recipe_chain", "TrainingInput"):
        from studio.recipes import versions

        return getattr(versions, name)
    if name == "export_script":
        from studio.recipes.export import export_script

        return export_script
    raise AttributeError(name)
