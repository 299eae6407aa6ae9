"""Prediction capture, off the request path.

Requests append plain rows to an in-memory list (a lock and a list extend); a
thread serialises them with orjson and bulk-inserts them into ``prediction_log``
every ``settings.log_flush_s`` seconds. The inputs of large multi-row requests
(``CAPTURE_BYTES`` of JSON or more) go to a capture file beside the database first
(``storage.capture``), appended and fsynced before the rows pointing at them commit. ``close()`` (the service's shutdown)
writes what is left, so a clean stop loses nothing and a crash loses at most the
last flush interval. If the store is briefly unavailable the rows wait for the
next flush; past ``MAX_PENDING`` rows the oldest are dropped and counted.
"""
from __future__ import annotations

import logging
import os
import threading
import time

import orjson

from storage import serving as repo
from storage.store import Store

log = logging.getLogger("studio.service")
MAX_PENDING = 1_000_000
CAPTURE_BYTES = 64 * 1024   # inputs this large are kept in a capture file, not in the row


_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def dumps_log(value) -> str | None:
    """A value as the JSON text the log stores (numpy arrays welcome); text passes through."""
    if value is None or isinstance(value, str):
        return value
    try:
        return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY).decode()
    except TypeError:  # numpy scalars, odd keys: the slower, more tolerant options
        return orjson.dumps(value, option=_OPTIONS, default=str).decode()



class LogWriter:
    def __init__(self, store: Store, flush_s: float, replica: str):
        self.store = store
        self.flush_s = flush_s
        self.replica = replica
        self.written = 0
        self.dropped = 0
        self.failures = 0
        self._pending: list[tuple] = []
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, rows: list[tuple]) -> None:
        """Rows: (request_id, endpoint, model_version_id, ts, status, latency_ms, n_rows, inputs,
        outputs)."""
        with self._lock:
            self._pending.extend(rows)
            extra = len(self._pending) - MAX_PENDING
            if extra > 0:
                del self._pending[:extra]
                self.dropped += extra

    @property
    def pending(self) -> int:
        return len(self._pending)

    def flush(self) -> int:
        with self._flush_lock:
            with self._lock:
                rows, self._pending = self._pending, []
            if not rows:
                return 0
            replica = self.replica
            try:
                rows = self._capture(rows)
                records = [(r[0], r[1], r[2], r[3], r[4], r[5], r[6], dumps_log(r[7]),
                            dumps_log(r[8]), replica) for r in rows]
                with self.store.session() as session:
                    repo.insert_prediction_logs(session=session, rows=records)
            except Exception:  # noqa: BLE001 - keep them for the next flush
                self.failures += 1
                log.exception("writing %d prediction log rows failed; retrying", len(rows))
                with self._lock:
                    self._pending[:0] = rows
                return 0
            self.written += len(rows)
            return len(rows)

    def _capture(self, rows: list[tuple]) -> list[tuple]:
        """Rows whose inputs are large JSON texts get a capture-file reference instead
        (written and fsynced here, once: a retried flush keeps the reference)."""
        big = [i for i, r in enumerate(rows)
               if r[6] > 1 and isinstance(r[7], str) and len(r[7]) >= CAPTURE_BYTES]
        if not big:
            return rows
        refs = self.store.captures.append(self.replica,
                                          [rows[i][7].encode() for i in big])
        rows = list(rows)
        for i, ref in zip(big, refs):
            rows[i] = rows[i][:7] + (ref,) + rows[i][8:]
        return rows

    def _loop(self) -> None:
        try:  # Linux: a lower priority for this thread only, so requests come first
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        except (AttributeError, OSError):
            pass
        while not self._stop.wait(self.flush_s):
            self.flush()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="prediction-log", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
        for _ in range(3):
            self.flush()
            if not self._pending:
                break
            time.sleep(0.2)
