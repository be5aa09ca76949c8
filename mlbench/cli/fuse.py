"""``mlbench fuse``: the kept rankings of results fused with ranx (:func:`mlbench.pipeline.fuse.fuse_results`)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from mlbench.cli.app import SUMMARY_FORMATS, SUMMARY_HELP, command, print_results


@command(name="fuse")
def fuse_command(
    results: Annotated[list[Path], typer.Argument(metavar="A.json B.json [...]", help="Two or more result files of the same task and slice, with kept rankings.")],
    method: Annotated[str, typer.Option(help="rrf | combsum | combmnz | combmax | combmin | combmed | combanz | isr | log_isr | logn_isr | bordafuse | condorcet | wsum | wmnz | w_bordafuse | w_condorcet | rbc (ranx).")] = "rrf",
    norm: Annotated[str, typer.Option(help="Score normalisation before fusing (ranx): min-max | max | sum | zmuv | rank | borda | none.")] = "min-max",
    param: Annotated[Optional[list[str]], typer.Option("--param", help="key=value for the method (e.g. k=60 for rrf, phi=0.8 for rbc); may be repeated.")] = None,
    weights: Annotated[Optional[str], typer.Option(help="Comma list of run weights (wsum, wmnz, w_bordafuse, w_condorcet).")] = None,
    name: Annotated[Optional[str], typer.Option(help="The fused system's name (default: METHOD(A+B)).")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the result file.")] = Path("results"),
    format: Annotated[str, typer.Option("--format", "-f", help=SUMMARY_HELP)] = "table",
) -> None:
    """Fuse the kept rankings of two or more results with ranx into a result of its own, scored
    like any run: BM25 and a dense model make the usual hybrid."""
    from mlbench.errors import MlbenchError
    from mlbench.results import read_result
    from mlbench.pipeline.fuse import fuse_results, parse_params

    if format not in SUMMARY_FORMATS:
        raise MlbenchError(f"--format {format!r} is not one of {', '.join(SUMMARY_FORMATS)}")
    loaded = [read_result(p) for p in results]
    got = fuse_results(loaded, method, norm, parse_params(param, weights), name, out,
                       shlex.join(["mlbench", *sys.argv[1:]]))
    print_results([got], format)
