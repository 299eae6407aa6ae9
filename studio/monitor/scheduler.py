"""Scheduled checks: every ``settings.monitor_interval_s``, whether or not anyone
has the UI open.

The prediction service runs :class:`MonitorScheduler` beside its requests (its
background-task hook); ``python -m studio monitor --watch`` runs the same loop
in the foreground for setups without the service. Each tick checks the
endpoints whose last check is older than the interval; the state lives in the
store (report times), so a restart picks up where it left off. A round holds the
store lock ``monitor-checks`` (``storage.locks``), so service replicas and a
``--watch`` beside them never check the same endpoint twice at once: a round that
finds the lock taken is skipped (:class:`ChecksBusy`).
"""
from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timezone

from storage import monitoring as repo
from storage.store import Store
from studio.errors import Conflict, StudioError
from studio.monitor.windows import DEFAULT_WINDOW

log = logging.getLogger("studio.monitor")

LOCK_NAME = "monitor-checks"


class ChecksBusy(Conflict):
    """Another process (a service replica, a ``monitor --watch``) is running a round."""


def due_endpoints(store: Store, interval_s: float, now: datetime | None = None) -> list[str]:
    """Endpoints serving a model whose last check is older than ``interval_s``."""
    now = now or datetime.now(timezone.utc)
    with store.session() as session:
        endpoints = repo.list_monitored_endpoints(session=session)
        last = repo.latest_report_times(session=session)
    due = []
    for ep in endpoints:
        if ep.model_version_id is None:
            continue
        at = last.get(ep.name)
        if at is not None and at.tzinfo is None:
            at = at.replace(tzinfo=timezone.utc)
        if at is None or (now - at).total_seconds() >= interval_s:
            due.append(ep.name)
    return due


def run_due_checks(store: Store, interval_s: float, window: str = DEFAULT_WINDOW) -> list[dict]:
    """Check every due endpoint once; one failing endpoint does not stop the others.

    Raises :class:`ChecksBusy` when another process holds the round's lock."""
    from storage.locks import try_store_lock

    lock = try_store_lock(store.url, LOCK_NAME)
    if lock is None:
        raise ChecksBusy("another process (a service replica or `monitor --watch`) is running "
                         "the scheduled checks of this store")
    try:
        return _run_due_checks(store, interval_s, window)
    finally:
        lock.release()


def _run_due_checks(store: Store, interval_s: float, window: str) -> list[dict]:
    from studio.monitor.check import run_check

    done = []
    for endpoint in due_endpoints(store, interval_s):
        try:
            result = run_check(store, endpoint, window=window)
            done.append({"endpoint": endpoint, "report_id": result.report.id,
                         "status": result.report.status, "alerts": [a.id for a in result.alerts]})
        except StudioError as exc:
            done.append({"endpoint": endpoint, "error": str(exc)})
        except Exception as exc:  # noqa: BLE001 - a scheduler keeps going; the log says why
            log.exception("monitoring check of %s failed", endpoint)
            done.append({"endpoint": endpoint, "error": f"{type(exc).__name__}: {exc}"})
    return done


class MonitorScheduler:
    """A daemon thread running :func:`run_due_checks` every ``tick_s`` seconds."""

    def __init__(self, store: Store, interval_s: float, tick_s: float | None = None,
                 window: str = DEFAULT_WINDOW):
        self.store = store
        self.interval_s = float(interval_s)
        self.tick_s = float(tick_s if tick_s is not None else min(self.interval_s, 30.0))
        self.window = window
        self.runs = 0
        self.last: list[dict] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "MonitorScheduler":
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="monitor-scheduler",
                                            daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.last = run_due_checks(self.store, self.interval_s, self.window)
                self.runs += 1
            except ChecksBusy:
                log.debug("scheduled checks: another process has this round")
            except Exception:  # noqa: BLE001 - e.g. a locked store; try again next tick
                log.exception("monitoring scheduler tick failed")
            self._stop.wait(self.tick_s)


def start_scheduler(settings, store: Store) -> MonitorScheduler:
    """What the service's background hook calls; ``.stop()`` on shutdown."""
    return MonitorScheduler(store, settings.monitor_interval_s).start()


def watch(settings, store: Store, *, once: bool = False, out=None) -> None:
    """Run scheduled checks in the foreground until interrupted."""
    interval = settings.monitor_interval_s
    busy_said = False
    while True:
        try:
            items = run_due_checks(store, interval)
            busy_said = False
        except ChecksBusy as exc:
            items = []
            if not busy_said:  # said once, not every tick
                log.warning("%s; this watch waits its turn", exc)
                busy_said = True
        for item in items:
            if out is not None:
                out(item)
        if once:
            return
        time.sleep(min(interval, 30.0))
