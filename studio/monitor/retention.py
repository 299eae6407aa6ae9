"""Retention of captured traffic: prediction logs, feedback and capture files.

Captured requests grow with traffic (a busy endpoint logs millions of rows a month), so
they are kept for ``settings.capture_retention_days`` (default 90; 0 keeps everything)
and then deleted by the service's background tasks (once at start, then every
``PRUNE_EVERY_S``) or by ``python -m studio prune``. Monitoring reports are snapshots and
stay: dashboards of past windows keep working after their raw traffic is gone.
"""
from __future__ import annotations

import logging
import time

from storage import monitoring as repo
from storage.store import Store
from studio.errors import InvalidInput

log = logging.getLogger("studio.monitor")

PRUNE_EVERY_S = 6 * 3600.0
FIRST_PRUNE_AFTER_S = 60.0


def prune(store: Store, days: float, *, now: float | None = None) -> dict:
    """Delete captured traffic older than ``days``; returns what was deleted."""
    try:
        days = float(days)
    except (TypeError, ValueError):
        raise InvalidInput(f"days must be a number, not {days!r}") from None
    if not days > 0 or days != days or days == float("inf"):
        raise InvalidInput("days must be a positive number (0 means keep everything: nothing "
                           "to prune)")
    before = (time.time() if now is None else now) - days * 86_400.0
    deleted = repo.prune_logs_before(session_factory=store.session, before=before)
    deleted["capture_folders"] = store.captures.prune(before)
    deleted["before"] = before
    return deleted


def prune_task(ctx) -> None:
    """Background task of the service (see :mod:`studio.service.background`)."""
    wait = FIRST_PRUNE_AFTER_S
    while not ctx.stop.wait(wait):
        wait = PRUNE_EVERY_S
        days = ctx.settings.capture_retention_days
        if not days:
            continue
        try:
            done = prune(ctx.store, days)
            if done["prediction_logs"] or done["feedback"] or done["capture_folders"]:
                log.info("retention (%s days): deleted %d prediction logs, %d feedback rows, "
                         "%d capture folders", days, done["prediction_logs"], done["feedback"],
                         done["capture_folders"])
        except Exception:  # noqa: BLE001 - the service keeps serving; next round tries again
            log.exception("pruning captured traffic failed")
