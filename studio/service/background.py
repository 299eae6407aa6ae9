"""Tasks the prediction service runs beside requests (e.g. the monitoring scheduler).

Register a factory before the app starts, or name it in ``TASKS`` (imported
lazily, skipped when its module does not exist yet)::

    from studio.service import background

    def my_task(ctx: background.TaskContext) -> None:      # runs in its own thread
        while not ctx.stop.wait(ctx.settings.monitor_interval_s):
            ...                                           # blocking work is fine here

    async def my_async_task(ctx) -> None: ...             # or a coroutine on the event loop

    def start_mine(settings, store):                      # or start/stop style: called at
        return SomethingWithStop()                        # start, .stop() at shutdown

    background.register(my_task)

The service starts every task in its lifespan and at shutdown sets ``ctx.stop``
(threads are joined for up to 10 s; coroutines are cancelled). With several
uvicorn workers only one of them runs the tasks (``ctx.primary``; a file lock in
STUDIO_HOME decides), so a scheduler does not run once per worker.
"""
from __future__ import annotations

import asyncio
import fcntl
import importlib
import inspect
import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

log = logging.getLogger("studio.service")

TASKS: list[str] = ["studio.monitor.scheduler:start_scheduler"]
_factories: list[Callable] = []


@dataclass
class TaskContext:
    settings: Any
    store: Any
    stop: threading.Event = field(default_factory=threading.Event)
    primary: bool = True


def register(factory: Callable) -> Callable:
    """Add a task (a function taking a TaskContext); usable as a decorator."""
    if factory not in _factories:
        _factories.append(factory)
    return factory


def registered() -> list[Callable]:
    found = list(_factories)
    for target in TASKS:
        module, _, name = target.partition(":")
        try:
            func = getattr(importlib.import_module(module), name)
        except ModuleNotFoundError as exc:
            if exc.name and module.startswith(exc.name):
                continue  # not written yet
            raise
        except AttributeError:
            continue
        if func not in found:
            found.append(func)
    return found


def _arity(func: Callable) -> int:
    try:
        return len([p for p in inspect.signature(func).parameters.values()
                    if p.default is inspect.Parameter.empty])
    except (TypeError, ValueError):
        return 1


class Runner:
    """Starts and stops the registered tasks for one service process."""

    def __init__(self, settings, store):
        self.ctx = TaskContext(settings, store)
        self._threads: list[threading.Thread] = []
        self._tasks: list[asyncio.Task] = []
        self._started: list[Any] = []
        self._lock_file = None

    def _claim_primary(self) -> bool:
        path = self.ctx.settings.home / "service-background.lock"
        self._lock_file = open(path, "w")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError:
            self._lock_file.close()
            self._lock_file = None
            return False

    def start(self) -> None:
        factories = registered()
        if not factories:
            return
        self.ctx.primary = self._claim_primary()
        if not self.ctx.primary:
            log.info("background tasks run in another worker of this service")
            return
        for factory in factories:
            if inspect.iscoroutinefunction(factory):
                self._tasks.append(asyncio.get_running_loop().create_task(factory(self.ctx)))
            elif _arity(factory) == 2:
                try:
                    self._started.append(factory(self.ctx.settings, self.ctx.store))
                except Exception:  # noqa: BLE001 - a task's failure must not stop predictions
                    log.exception("background task %s failed to start", factory)
            else:
                thread = threading.Thread(target=self._guard, args=(factory,), daemon=True,
                                          name=f"task-{getattr(factory, '__name__', 'task')}")
                thread.start()
                self._threads.append(thread)

    def _guard(self, factory: Callable) -> None:
        try:
            factory(self.ctx)
        except Exception:  # noqa: BLE001 - a task's failure must not stop predictions
            log.exception("background task %s failed", getattr(factory, "__name__", factory))

    async def stop(self) -> None:
        self.ctx.stop.set()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        for thread in self._threads:
            await asyncio.to_thread(thread.join, 10)
        for started in self._started:
            if hasattr(started, "stop"):
                try:
                    await asyncio.to_thread(started.stop)
                except Exception:  # noqa: BLE001
                    log.exception("stopping background task failed")
        if self._lock_file is not None:
            self._lock_file.close()
