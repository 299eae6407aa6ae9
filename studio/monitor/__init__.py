"""Model monitoring: baselines, drift, data quality, traffic, model quality, alerts.

``baseline.compute_baseline`` runs when a model version is registered; checks
(``check.run_check``) compare a window of logged predictions with it and store
a report snapshot that the Monitor page and ``python -m studio monitor`` read.
"""
