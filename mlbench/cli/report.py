"""``mlbench report``: one static HTML page of a result (:mod:`mlbench.render.report`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from mlbench.cli.app import MetricOpt, Tests, command, console, tested


@command(name="report")
@tested
def report_command(
    result: Annotated[Path, typer.Argument(metavar="RESULT", help="Result file written by mlbench run (B when --against is given).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="HTML file to write (atomically).")],
    against: Annotated[Optional[Path], typer.Option("--against", help="Baseline result file (A) of the same task: adds the paired comparison and side-by-side aggregates.")] = None,
    metric: MetricOpt = None,
    *, tests: Tests,
) -> None:
    """One static HTML page: provenance, summary tables, plots and (with --against) the paired comparison."""
    from mlbench.render.report import write_report
    from mlbench.results import read_result

    res = read_result(result)
    base = read_result(against) if against is not None else None
    write_report(out, res, base, metric, test=tests.test, correction=tests.correction, alpha=tests.alpha,
                 permutations=tests.permutations, seed=tests.seed)
    console().print(f"wrote {out}", markup=False)
