"""CLI: jobs, worker, cancel, resume."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("jobs", help="list jobs and their status")
    p.add_argument("--json", action="store_true")
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(func=cmd_jobs)

    p = sub.add_parser("worker", help="run one job, or serve queued jobs")
    p.add_argument("job", nargs="?", type=int)
    p.add_argument("--once", action="store_true", help="exit when the queue is empty")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("cancel", help="stop a running job (what finished is kept)")
    p.add_argument("job", type=int)
    p.set_defaults(func=cmd_cancel)

    p = sub.add_parser("resume", help="resume an interrupted or cancelled job")
    p.add_argument("job", type=int)
    p.add_argument("--wait", action="store_true", help="run it here instead of in the background")
    p.set_defaults(func=cmd_resume)


def _job_row(job) -> dict:
    return {
        "id": job.id, "kind": job.kind, "status": job.status, "name": job.name,
        "progress": job.progress, "error": job.error,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


def cmd_jobs(args, settings) -> int:
    from storage import jobs as repo
    from studio import open_store
    from studio.cli import print_json
    from studio.jobs import refresh_job_statuses

    store = open_store(settings)
    refresh_job_statuses(store)
    with store.session() as session:
        jobs = repo.list_jobs(session=session, limit=args.limit)
    if args.json:
        print_json({"jobs": [_job_row(j) for j in jobs]})
        return 0
    if not jobs:
        print("no jobs yet: start one with `python -m studio train DATA --target COL`")
        return 0
    print(f"{'id':>5}  {'kind':<16} {'status':<12} name")
    for job in jobs:
        print(f"{job.id:>5}  {job.kind:<16} {job.status:<12} {job.name}")
    return 0


def cmd_worker(args, settings) -> int:
    from studio.jobs import run_job, serve_queue

    if args.job is None:
        serve_queue(settings, once=args.once)
        return 0
    job = run_job(settings, args.job)
    return 0 if job.status in ("succeeded", "cancelled") else 1


def cmd_cancel(args, settings) -> int:
    from studio import open_store
    from studio.jobs import cancel_job

    status = cancel_job(open_store(settings), args.job)
    print(f"job {args.job}: {'cancel requested' if status == 'running' else status}")
    return 0


def cmd_resume(args, settings) -> int:
    from storage import jobs as repo
    from studio import open_store
    from studio.jobs import refresh_job_statuses, run_job, resume_job
    from studio.errors import Conflict

    store = open_store(settings)
    if args.wait:
        refresh_job_statuses(store)
        with store.session() as session:
            if not repo.requeue_job(session=session, job_id=args.job):
                raise Conflict(f"job {args.job} cannot be resumed (only interrupted, failed "
                               "or cancelled jobs can)")
        job = run_job(settings, args.job)
        print(f"job {job.id}: {job.status}")
        return 0 if job.status == "succeeded" else 1
    job = resume_job(settings, store, args.job)
    print(f"job {job.id}: resumed in the background")
    return 0
