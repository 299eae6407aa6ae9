"""Time windows a check looks at: the last hour, day or week, or a custom span."""
from __future__ import annotations

import time

from studio.errors import InvalidInput

WINDOWS = {"hour": 3600.0, "day": 86400.0, "week": 7 * 86400.0}
WINDOW_LABELS = {"hour": "last hour", "day": "last day", "week": "last week", "custom": "custom"}
DEFAULT_WINDOW = "hour"
# Time-bucket sizes for charts; the smallest that keeps a window to ≤ MAX_BUCKETS points.
BUCKETS = (60, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400, 7 * 86400)
MAX_BUCKETS = 120


def resolve_window(window: str = DEFAULT_WINDOW, *, now: float | None = None,
                   start: float | None = None, end: float | None = None) -> tuple[str, float, float]:
    """(name, start, end) in epoch seconds; a custom window needs start and end."""
    window = (window or DEFAULT_WINDOW).strip().lower()
    now = time.time() if now is None else float(now)
    if window == "custom" or (start is not None and window not in WINDOWS):
        if start is None or end is None:
            raise InvalidInput("a custom window needs both a start and an end")
        if not end > start:
            raise InvalidInput("the window's end must be after its start")
        return "custom", float(start), float(end)
    if window not in WINDOWS:
        raise InvalidInput(f"window '{window}' is not one of: hour, day, week, custom")
    return window, now - WINDOWS[window], now


def bucket_seconds(span: float, max_buckets: int = MAX_BUCKETS) -> int:
    for size in BUCKETS:
        if span / size <= max_buckets:
            return size
    return BUCKETS[-1]
