"""What the Monitor page starts: checks and simulated traffic, as background jobs."""
from __future__ import annotations

from storage import jobs as job_repo
from storage.jobs import JobPublic
from storage.store import Store
from studio.errors import InvalidInput, NotFound
from studio.monitor.simulate import MAX_ROWS
from studio.monitor.windows import resolve_window
from studio.names import validate_name


def start_check(settings, store: Store, endpoint: str, window: str = "hour",
                start: float | None = None, end: float | None = None) -> JobPublic:
    from studio.jobs import start_job

    endpoint = validate_name(endpoint, "endpoint name")
    window, start, end = resolve_window(window, start=start, end=end)
    config = {"endpoint": endpoint, "window": window}
    if window == "custom":
        config.update(start=start, end=end)
    return start_job(settings, store, kind="monitor_check", config=config,
                     name=f"check {endpoint} ({window})")


def start_simulation(settings, store: Store, endpoint: str, *, rows: int, drift: str | None,
                     feedback: float = 0.3) -> JobPublic:
    from studio.jobs import start_job

    endpoint = validate_name(endpoint, "endpoint name")
    if not 1 <= int(rows) <= MAX_ROWS:
        raise InvalidInput(f"rows must be between 1 and {MAX_ROWS:,}")
    if not 0 <= feedback <= 1:
        raise InvalidInput("the feedback share must be between 0 and 1")
    config = {"endpoint": endpoint, "window": "hour",
              "simulate": {"rows": int(rows), "drift": drift or None, "feedback": float(feedback)}}
    label = f", drifting {drift}" if drift else ""
    return start_job(settings, store, kind="monitor_check", config=config,
                     name=f"simulate {rows} rows → {endpoint}{label}")


def job_state(store: Store, job_id: int) -> JobPublic:
    from studio.jobs import refresh_job_statuses

    refresh_job_statuses(store)
    with store.session() as session:
        job = job_repo.get_job(session=session, job_id=job_id)
    if job is None:
        raise NotFound(f"job {job_id} does not exist")
    return job
