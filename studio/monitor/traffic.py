"""Traffic and operations: requests per minute, errors and latency percentiles (a request
of many rows is one request with one latency; ``predictions`` counts its rows).

The store groups the window in SQL by time bucket and by a log-scale latency
bin (``storage.monitoring.traffic_histogram``); percentiles are read from that
histogram (each bin is about 5% wide, so p99 is within ~2.5%).
"""
from __future__ import annotations

import math
from collections import defaultdict

from storage import monitoring as repo
from storage.monitoring import LAT_BINS_PER_E
from storage.store import Store


def _bin_ms(lat_bin: int) -> float:
    return math.exp((lat_bin + 0.5) / LAT_BINS_PER_E)


def percentile(hist: dict[int, int], q: float) -> float | None:
    """The q-quantile (0…1) of a latency histogram {bin: count}."""
    total = sum(hist.values())
    if not total:
        return None
    rank = q * total
    seen = 0
    for lat_bin in sorted(hist):
        seen += hist[lat_bin]
        if seen >= rank:
            return round(_bin_ms(lat_bin), 3)
    return round(_bin_ms(max(hist)), 3)


def _stats(rows: int, e4: int, e5: int, hist: dict[int, int], minutes: float,
           predictions: int = 0) -> dict:
    return {
        "requests": rows, "per_minute": round(rows / minutes, 3) if minutes else None,
        "predictions": predictions,
        "errors_4xx": e4, "errors_5xx": e5,
        "error_rate": round((e4 + e5) / rows, 6) if rows else None,
        "p50_ms": percentile(hist, 0.50), "p95_ms": percentile(hist, 0.95),
        "p99_ms": percentile(hist, 0.99),
    }


def compute_traffic(store: Store, endpoint: str, start: float, end: float,
                    bucket_s: int) -> dict:
    """Totals for the window and one point per time bucket (empty buckets as zeros)."""
    with store.session() as session:
        cells = repo.traffic_histogram(session=session, endpoint=endpoint, start=start, end=end,
                                       bucket_s=bucket_s)
    per_bucket: dict[int, list] = defaultdict(lambda: [0, 0, 0, defaultdict(int), 0])
    total_hist: dict[int, int] = defaultdict(int)
    for cell in cells:
        acc = per_bucket[cell["bucket"]]
        acc[0] += cell["rows"]
        acc[1] += cell["errors_4xx"]
        acc[2] += cell["errors_5xx"]
        acc[4] += cell.get("predictions", 0)
        if cell["lat_bin"] is not None:
            acc[3][cell["lat_bin"]] += cell["rows"]
            total_hist[cell["lat_bin"]] += cell["rows"]
    first, last = int(start // bucket_s), int((end - 1e-9) // bucket_s)
    series = []
    for b in range(first, last + 1):
        rows, e4, e5, hist, answered = per_bucket.get(b, (0, 0, 0, {}, 0))
        lo, hi = max(b * bucket_s, start), min((b + 1) * bucket_s, end)
        point = _stats(rows, e4, e5, hist, max(hi - lo, 1e-9) / 60, answered)
        point["t"] = b * bucket_s
        series.append(point)
    totals = _stats(sum(v[0] for v in per_bucket.values()), sum(v[1] for v in per_bucket.values()),
                    sum(v[2] for v in per_bucket.values()), total_hist, (end - start) / 60,
                    sum(v[4] for v in per_bucket.values()))
    return {"bucket_s": bucket_s, "totals": totals, "series": series}
