"""CLI: run (what `make run` calls)."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("run", help="start the UI and the prediction service together")
    p.add_argument("--ui-port", type=int, default=None)
    p.add_argument("--no-service", action="store_true", help="start only the UI")
    p.set_defaults(func=cmd_run)


def cmd_run(args, settings) -> int:
    from studio.launcher import run_all

    return run_all(settings, ui_port=args.ui_port, service=not args.no_service)
