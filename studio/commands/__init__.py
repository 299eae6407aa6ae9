"""CLI command modules, one per subject; see studio/cli.py."""
