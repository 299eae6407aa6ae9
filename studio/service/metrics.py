"""Counters for ``GET /metrics`` in the Prometheus text format.

Each service process counts its own requests. With several uvicorn workers on one port a
scrape reaches one of them at random, so every worker also publishes its counters once a
second to a small JSON file (:class:`SharedCounters`, under ``STUDIO_HOME/run/``) and
``/metrics`` answers the sum of its own live counters and the other workers' files: every
scrape sees every worker's requests (theirs as of at most a second ago).
"""
from __future__ import annotations

import bisect
import json
import os
import socket
import threading
from collections import defaultdict
from pathlib import Path

BUCKETS_MS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000)


def _label(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    def __init__(self):
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, int], int] = defaultdict(int)
        self.rows: dict[str, int] = defaultdict(int)
        self.buckets: dict[str, list[int]] = {}
        self.latency_sum: dict[str, float] = defaultdict(float)
        self.latency_count: dict[str, int] = defaultdict(int)

    def observe(self, endpoint: str, status: int, latency_ms: float, rows: int = 0) -> None:
        with self._lock:
            self.requests[(endpoint, status)] += 1
            if status == 200:
                self.rows[endpoint] += rows
                counts = self.buckets.get(endpoint)
                if counts is None:
                    counts = self.buckets[endpoint] = [0] * (len(BUCKETS_MS) + 1)
                counts[bisect.bisect_left(BUCKETS_MS, latency_ms)] += 1
                self.latency_sum[endpoint] += latency_ms / 1000.0
                self.latency_count[endpoint] += 1

    def snapshot(self, gauges: dict[str, float] | None = None) -> dict:
        """The counters as JSON-able data (what a worker publishes)."""
        with self._lock:
            return {"requests": [[e, s, n] for (e, s), n in self.requests.items()],
                    "rows": dict(self.rows),
                    "buckets": {e: list(c) for e, c in self.buckets.items()},
                    "latency_sum": dict(self.latency_sum),
                    "latency_count": dict(self.latency_count), "gauges": dict(gauges or {})}

    def add(self, snap: dict) -> None:
        """Add another worker's published counters to these."""
        with self._lock:
            for endpoint, status, n in snap.get("requests", []):
                self.requests[(str(endpoint), int(status))] += int(n)
            for endpoint, n in snap.get("rows", {}).items():
                self.rows[endpoint] += int(n)
            for endpoint, counts in snap.get("buckets", {}).items():
                mine = self.buckets.setdefault(endpoint, [0] * (len(BUCKETS_MS) + 1))
                if len(counts) == len(mine):
                    for i, n in enumerate(counts):
                        mine[i] += int(n)
            for endpoint, value in snap.get("latency_sum", {}).items():
                self.latency_sum[endpoint] += float(value)
            for endpoint, n in snap.get("latency_count", {}).items():
                self.latency_count[endpoint] += int(n)

    def render(self, gauges: dict[str, float], endpoint_info: list[tuple[str, str, str]],
               others: list[dict] | None = None) -> str:
        """The text format; ``others``: other workers' snapshots, summed in (gauges too)."""
        if others:
            total = Metrics()
            total.add(self.snapshot())
            gauges = dict(gauges)
            for snap in others:
                total.add(snap)
                for key, value in snap.get("gauges", {}).items():
                    if key in gauges:
                        gauges[key] += value
            return total.render(gauges, endpoint_info)
        lines = [
            "# HELP studio_requests_total Invocations by endpoint and HTTP status.",
            "# TYPE studio_requests_total counter",
        ]
        with self._lock:
            for (endpoint, status), n in sorted(self.requests.items()):
                lines.append(f'studio_requests_total{{endpoint="{_label(endpoint)}",'
                             f'status="{status}"}} {n}')
            lines += ["# HELP studio_predicted_rows_total Rows predicted.",
                      "# TYPE studio_predicted_rows_total counter"]
            for endpoint, n in sorted(self.rows.items()):
                lines.append(f'studio_predicted_rows_total{{endpoint="{_label(endpoint)}"}} {n}')
            lines += ["# HELP studio_request_seconds Latency of successful invocations.",
                      "# TYPE studio_request_seconds histogram"]
            for endpoint, counts in sorted(self.buckets.items()):
                ep = _label(endpoint)
                total = 0
                for bound, n in zip(BUCKETS_MS, counts):
                    total += n
                    lines.append(f'studio_request_seconds_bucket{{endpoint="{ep}",'
                                 f'le="{bound / 1000:g}"}} {total}')
                total += counts[-1]
                lines.append(f'studio_request_seconds_bucket{{endpoint="{ep}",le="+Inf"}} {total}')
                lines.append(f'studio_request_seconds_sum{{endpoint="{ep}"}} '
                             f'{self.latency_sum[endpoint]:.6f}')
                lines.append(f'studio_request_seconds_count{{endpoint="{ep}"}} '
                             f'{self.latency_count[endpoint]}')
        lines += ["# HELP studio_endpoint_info The model each endpoint serves and its state.",
                  "# TYPE studio_endpoint_info gauge"]
        for name, model, status in endpoint_info:
            lines.append(f'studio_endpoint_info{{endpoint="{_label(name)}",model="{_label(model)}",'
                         f'status="{_label(status)}"}} 1')
        for key, value in gauges.items():
            lines.append(f"# TYPE {key} gauge")
            lines.append(f"{key} {value}")
        return "\n".join(lines) + "\n"


class SharedCounters:
    """This worker's counters in ``folder/<host>_<pid>.json``, and the other live workers'.

    A file is replaced atomically (written beside, then renamed); a file of a process that
    is gone (this host, pid not running) is removed rather than summed."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.host = _safe(socket.gethostname())
        self.name = f"{self.host}_{os.getpid()}.json"
        self._last = ""

    def publish(self, snap: dict) -> None:
        text = json.dumps(snap, sort_keys=True)
        if text == self._last:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f".{self.name}.tmp"
        tmp.write_text(text)
        os.replace(tmp, self.folder / self.name)
        self._last = text

    def others(self) -> list[dict]:
        found = []
        try:
            paths = [p for p in self.folder.glob("*.json") if p.name != self.name]
        except OSError:
            return found
        from studio.jobs import pid_alive

        for path in paths:
            host, _, pid = path.stem.rpartition("_")
            if host == self.host and pid.isdigit() and not pid_alive(int(pid)):
                path.unlink(missing_ok=True)
                continue
            try:
                found.append(json.loads(path.read_text()))
            except (OSError, ValueError):
                continue  # replaced or removed meanwhile: the next scrape has it
        return found

    def remove(self) -> None:
        (self.folder / self.name).unlink(missing_ok=True)


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-." else "-" for c in text)[:60] or "host"
