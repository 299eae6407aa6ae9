"""The README's references are checked against the code, so they cannot drift:
the CLI table against ``studio.cli.build_parser()`` (commands and their options), the HTTP
table against the routes of ``studio.service.app.create_app``, the settings table against
``studio.settings.Settings``, and every image it shows exists."""
from __future__ import annotations

import argparse
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    match = re.search(rf"(?ms)^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def _first_cells(section: str) -> list[str]:
    """The first cell of each body row of the section's first table."""
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return [row.split("|")[1].strip() for row in rows[2:]]


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    from studio.cli import build_parser

    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _options(parser: argparse.ArgumentParser) -> set[str]:
    found = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found |= _options(sub)
        found |= {o for o in action.option_strings if o.startswith("--") and o != "--help"}
    return found


def test_cli_table_lists_every_command_with_its_options():
    documented: dict[str, set[str]] = {}
    for cell in _first_cells(_section("Command-line reference")):
        for usage in re.findall(r"`([^`]+)`", cell):
            name = usage.split()[0]
            documented.setdefault(name, set()).update(re.findall(r"--[a-z][a-z-]*", usage))
    commands = _subcommands()
    assert set(documented) == set(commands), (
        f"README lists {sorted(set(documented) - set(commands))} that the CLI lacks, and "
        f"lacks {sorted(set(commands) - set(documented))}")
    for name, parser in commands.items():
        options = _options(parser)
        if name == "apikey":  # one row for its three actions, '--json' said in words
            options.discard("--json")
        assert documented[name] == options, (
            f"`{name}`: README has {sorted(documented[name] - options)} extra and misses "
            f"{sorted(options - documented[name])}")


def test_http_table_matches_the_service_routes(tmp_path):
    from studio.service.app import create_app
    from studio.settings import get_settings

    app = create_app(get_settings(home=tmp_path / "home"))
    routes = {(method, route.path) for route in app.routes
              for method in (getattr(route, "methods", None) or ()) if method != "HEAD"
              and not route.path.startswith("/docs/oauth2")}
    documented = set()
    for cell in _first_cells(_section("HTTP API reference")):
        documented |= {tuple(pair.split(" ", 1)) for pair in re.findall(r"`([A-Z]+ /[^`]*)`",
                                                                           cell)}
    assert documented == routes, (f"README extra: {sorted(documented - routes)}; "
                                  f"missing: {sorted(routes - documented)}")


def test_settings_table_matches_the_settings_class():
    from studio.settings import Settings

    expected = {f"STUDIO_{name.upper()}" for name in Settings.model_fields}
    documented = {re.sub(r"[`\s]", "", cell) for cell in _first_cells(_section("Settings"))}
    assert documented == expected, (f"README extra: {sorted(documented - expected)}; "
                                    f"missing: {sorted(expected - documented)}")


def test_every_image_in_the_readme_exists_and_is_small():
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README)
    assert len(images) >= 10
    for image in images:
        path = ROOT / image
        assert path.exists(), f"{image} is missing: run docs/screenshots.py"
        assert path.stat().st_size < 300_000, f"{image} is over 300 KB"


def test_readme_keeps_its_sections():
    for title in ("Two commands", "Your first model in six clicks", "How it fits together",
                  "Importing data", "Cleaning data with recipes", "Training a model (AutoML)",
                  "Publishing and calling a model", "Monitoring a model",
                  "Sharing a model report", "Where the data lives", "Scaling out"):
        _section(title)
    assert "STUDIO_DATABASE_URL='postgresql+psycopg://" in README
