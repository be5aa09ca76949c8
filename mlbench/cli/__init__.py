"""The ``mlbench`` command: a thin typer + rich layer over the Python API, one module per command
(:mod:`mlbench.cli.app` holds the app and its one error handler)."""

from __future__ import annotations

import sys
from typing import Any

import typer

from mlbench.cli import (  # noqa: F401 (registers commands)
    check, compare, evaluate, export, fuse, leaderboard, models, plot, report, run, sweep, tasks, train)
from mlbench.cli.app import app, fail
from mlbench.errors import MlbenchError


def _metavars(cmd: Any) -> None:
    """Help shows ``--langs LANGS``, not typer's ``--langs <str>``, no type for a flag, and an
    argument by its name alone (``RESULT``, not ``RESULT <path>``)."""
    for param in cmd.params:
        kind = getattr(param, "param_type_name", "")
        if kind == "option" and param.metavar is None:
            param.metavar = "" if param.is_flag else max(param.opts, key=len).lstrip("-").upper().replace("-", "_")
        elif kind == "argument":
            param.display_type_rich = lambda ctx: None
    for sub in getattr(cmd, "commands", {}).values():
        _metavars(sub)


def command() -> Any:
    """The click command of the app, as the console script runs it."""
    cmd = typer.main.get_command(app)
    _metavars(cmd)
    return cmd


def main() -> None:
    """Console-script entry point (click already gives usage errors exit code 2)."""
    try:
        command()(prog_name="mlbench")
    except MlbenchError as exc:  # raised outside a command (e.g. while parsing): the same one line
        sys.exit(fail(exc).exit_code)


__all__ = ["app", "command", "main"]
