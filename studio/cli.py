"""``python -m studio COMMAND``: the command-line interface.

Each subject registers its commands from ``studio/commands/<subject>.py``
(``register(subparsers)``; each command's function takes ``(args, settings)``
and returns an exit code). A user error prints one line on stderr and exits 2;
any other failure exits 1. Heavy libraries are imported inside commands so
``--help`` and small commands start fast.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import traceback
from typing import Any

from studio.errors import StudioError

COMMAND_MODULES = ["data", "automl", "registry", "serving", "monitor", "jobs", "run", "report"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m studio", description="Studio: a local ML studio.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"studio.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"studio.commands.{name}":
                continue
            raise
        module.register(sub)
    return parser


def print_json(obj: Any) -> None:
    """Exactly one JSON object on stdout."""
    sys.stdout.write(json.dumps(obj, default=str, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        from studio.settings import get_settings

        settings = get_settings()
        return int(args.func(args, settings) or 0)
    except StudioError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except Exception as exc:  # noqa: BLE001
        if os.environ.get("STUDIO_DEBUG"):
            traceback.print_exc()
        sys.stderr.write(f"error: {type(exc).__name__}: {exc} (set STUDIO_DEBUG=1 for details)\n")
        return 1
