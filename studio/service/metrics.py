"""Counters for ``GET /metrics`` in the Prometheus text format (per service process)."""
from __future__ import annotations

import bisect
import threading
from collections import defaultdict

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

    def render(self, gauges: dict[str, float], endpoint_info: list[tuple[str, str, str]]) -> str:
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
