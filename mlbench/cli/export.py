"""``mlbench export``: a result file as a long table."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from mlbench.cli.app import command


@command(name="export")
def export_command(
    result: Annotated[Path, typer.Argument(help="A result file written by mlbench run.")],
    format: Annotated[str, typer.Option("--format", "-f", help="tsv | csv")] = "tsv",
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write here (atomically) instead of stdout.")] = None,
) -> None:
    """Write the long table: task, setting, kind, query_lang, pool_lang, metric, value, n_queries."""
    from mlbench.results.export import export_table
    from mlbench.results.files import read_result

    text = export_table(read_result(result), format, out)
    if text is not None:
        sys.stdout.write(text)
