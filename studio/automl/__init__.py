"""AutoML: task detection, preprocessing, candidate models, Optuna search, ensembles.

Layout (each file one subject):

- ``task``        detect the task from the target and check preconditions
- ``metrics``     metric registry: direction, scorer, defaults per task
- ``splits``      holdout split and validation folds (k-fold, group, time)
- ``transformers`` picklable estimators the published pipeline is made of
- ``preprocess``  per-column-type preprocessing (one ColumnTransformer)
- ``candidates``  models, their search spaces and the default portfolio
- ``ensemble``    greedy (Caruana) ensemble selection over out-of-fold predictions
- ``evaluate``    the evaluation JSON (confusion matrix, curves, residuals, importance)
- ``engine``      the search itself (pure: frames in, fitted pipeline out)
- ``service``     use cases for pages and CLI (plan, start, register, leaderboard)
- ``job``         the ``search`` job handler run by worker processes
"""

import os as _os

# OpenMP threads (XGBoost, histogram boosting) spin while they wait; on a busy laptop
# (two searches, the UI, a service) that spinning makes a 2-thread fit 5x slower than
# a 1-thread one. Passive waiting costs nothing when the machine is idle. It must be
# set before the OpenMP runtime starts, i.e. before sklearn/xgboost are imported.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
