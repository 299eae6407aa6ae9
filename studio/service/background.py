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
(threads are joined for up to 10 s; coroutines are cancelled). With several uvicorn
workers, or several replicas sharing one store (on one machine or several), only one
process runs the tasks (``ctx.primary``): the one holding the store lock
``service-background`` (``storage.locks``: a PostgreSQL advisory lock, or a file lock
beside a SQLite database), so a scheduler does not run once per worker or replica. The
others try again every ``CLAIM_RETRY_S`` seconds and take over when the holder stops.
"""
from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from storage.locks import try_store_lock

log = logging.getLogger("studio.service")
LOCK_NAME = "service-background"
CLAIM_RETRY_S = 15.0

TASKS: list[str] = ["studio.monitor.scheduler:start_scheduler",
                    "studio.monitor.retention:prune_task"]
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
        self._lock = None
        self._factories: list[Callable] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiter: threading.Thread | None = None

    def _claim_primary(self) -> bool:
        try:
            self._lock = try_store_lock(self.ctx.store.url, LOCK_NAME)
        except Exception:  # noqa: BLE001 - store unreachable: try again later
            log.exception("could not ask the store who runs background tasks")
            self._lock = None
        return self._lock is not None

    def start(self) -> None:
        factories = registered()
        if not factories:
            return
        self._factories = factories
        self._loop = asyncio.get_running_loop()
        self.ctx.primary = self._claim_primary()
        if self.ctx.primary:
            self._start_tasks()
            return
        log.info("background tasks run in another worker or replica of this store; "
                 "this one takes over if that one stops")
        self._waiter = threading.Thread(target=self._wait_for_turn, name="background-claim",
                                        daemon=True)
        self._waiter.start()

    def _wait_for_turn(self) -> None:
        while not self.ctx.stop.wait(CLAIM_RETRY_S):
            if self._claim_primary():
                log.info("this replica now runs the background tasks")
                self.ctx.primary = True
                self._loop.call_soon_threadsafe(self._start_tasks)
                return

    def _start_tasks(self) -> None:
        if self.ctx.stop.is_set():  # shutting down while the claim came through
            return
        for factory in self._factories:
            if inspect.iscoroutinefunction(factory):
                self._tasks.append(self._loop.create_task(factory(self.ctx)))
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
        if self._waiter is not None:
            await asyncio.to_thread(self._waiter.join, 10)
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
        if self._lock is not None:
            self._lock.release()
            self._lock = None
