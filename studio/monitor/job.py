"""The ``monitor_check`` job: optionally send simulated traffic, then run a check.

Config: ``{"endpoint", "window"?, "start"?, "end"?, "simulate"?: {"rows", "drift"?,
"feedback"?, "seed"?}}``. The Monitor page starts it with ``start_job`` so the
work runs in a worker process, never in the Streamlit script thread.
"""
from __future__ import annotations

from studio.jobs import JobContext
from studio.monitor.check import run_check
from studio.monitor.windows import DEFAULT_WINDOW


def run_check_job(ctx: JobContext) -> dict:
    config = ctx.config or {}
    endpoint = config["endpoint"]
    result: dict = {"endpoint": endpoint}
    if config.get("simulate"):
        from studio.monitor.simulate import simulate

        sim = dict(config["simulate"])
        ctx.progress(stage="sending traffic", sent=0, total=int(sim.get("rows", 0)))
        result["simulate"] = simulate(
            ctx.settings, ctx.store, endpoint, rows=int(sim.get("rows", 200)),
            drift=sim.get("drift"), feedback=float(sim.get("feedback", 0.3)),
            seed=sim.get("seed"),
            on_progress=lambda sent, total: (ctx.check_cancel(),
                                             ctx.progress(stage="sending traffic", sent=sent,
                                                          total=total)))
    ctx.check_cancel()
    ctx.progress(stage="checking")
    check = run_check(ctx.store, endpoint, window=config.get("window") or DEFAULT_WINDOW,
                      start=config.get("start"), end=config.get("end"))
    ctx.progress(stage="done", report_id=check.report.id)
    result.update(report_id=check.report.id, status=check.report.status,
                  alerts=[a.id for a in check.alerts], webhooks=check.webhooks)
    return result
