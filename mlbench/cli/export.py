"""``mlbench export``: a result file as a long table, as TREC run and qrels files (from its kept
rankings, at any depth), or as MTEB TaskResult JSON."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from mlbench.cli.app import command, console

FORMATS = ("tsv", "csv", "trec", "mteb")


@command(name="export")
def export_command(
    result: Annotated[Path, typer.Argument(help="A result file (mlbench run, evaluate or fuse).")],
    format: Annotated[str, typer.Option("--format", "-f", help="tsv | csv (long table) | trec (run + qrels files per setting, into --out DIR) | mteb (TaskResult JSON).")] = "tsv",
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write here (atomically) instead of stdout; with trec and mteb, the folder of the files.")] = None,
    depth: Annotated[str, typer.Option(help="trec: candidates per query, or 'full' (all the result kept).")] = "full",
) -> None:
    """Write a result out: the long table (task, setting, kind, query_lang, pool_lang, metric, value,
    n_queries), TREC files of its kept rankings (--keep-rankings on mlbench run; evaluate and fuse
    keep theirs), or MTEB TaskResult JSON."""
    from mlbench.errors import MlbenchError
    from mlbench.results import read_result

    if format not in FORMATS:
        raise MlbenchError(f"--format {format!r} is not one of {', '.join(FORMATS)}")
    loaded = read_result(result)
    if format == "trec":
        from mlbench.results.export import export_trec

        if out is None:
            raise MlbenchError("--format trec writes one run and one qrels file per setting: give --out DIR")
        written = export_trec(loaded, out, depth)
        console().print(f"wrote {len(written)} files to {out}", markup=False)
        return
    if format == "mteb":
        from mlbench.results.mteb import export_mteb

        for path in export_mteb(loaded, out):
            console().print(f"wrote {path}", markup=False)
        return
    from mlbench.results.export import export_table

    text = export_table(loaded, format, out)
    if text is not None:
        sys.stdout.write(text)
