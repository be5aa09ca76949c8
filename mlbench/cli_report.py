"""``mlbench report RESULT [--against OTHER] -o report.html`` and ``mlbench plot RESULT -o DIR``.

Registered on the main app by ``mlbench.cli`` with ``register(app)``. The report is one static
HTML page (tables and plots embedded, no network); ``plot`` writes heatmap, rankdist and ownlang
as PNG and SVG. Input problems are one line on stderr and exit code 2.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from mlbench.errors import MlbenchError
from mlbench.significance import DEFAULT_PERMUTATIONS


def _fail(exc: MlbenchError) -> typer.Exit:
    sys.stderr.write(f"mlbench: error: {exc}\n")
    return typer.Exit(exc.exit_code)


def report_command(
    result: Annotated[Path, typer.Argument(metavar="RESULT", help="Result file written by mlbench run (B when --against is given).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="HTML file to write (atomically).")],
    against: Annotated[Optional[Path], typer.Option("--against", help="Baseline result file (A) of the same task: adds the paired comparison and side-by-side aggregates.")] = None,
    metric: Annotated[str, typer.Option("--metric", "-m", help="Metric of the tables, the heatmap and the comparison.")] = "map",
    test: Annotated[str, typer.Option(help="With --against: randomization | t | bootstrap.")] = "randomization",
    correction: Annotated[str, typer.Option(help="With --against: holm | bonferroni | bh | none.")] = "holm",
    alpha: Annotated[float, typer.Option(help="With --against: significance level on adjusted p-values.")] = 0.05,
    permutations: Annotated[int, typer.Option(help="With --against: permutations or resamples.")] = DEFAULT_PERMUTATIONS,
    seed: Annotated[int, typer.Option(help="With --against: seed of the resampling.")] = 0,
) -> None:
    """One static HTML page: provenance, summary tables, plots and (with --against) the paired comparison."""
    from mlbench.report import write_report
    from mlbench.results import read_result

    try:
        res = read_result(result)
        base = read_result(against) if against is not None else None
        write_report(out, res, base, metric, test=test, correction=correction, alpha=alpha,
                     permutations=permutations, seed=seed)
    except MlbenchError as exc:
        raise _fail(exc) from None
    print(f"wrote {out}")


def plot_command(
    result: Annotated[Path, typer.Argument(metavar="RESULT", help="Result file written by mlbench run.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for heatmap, rankdist and ownlang .png + .svg.")],
    metric: Annotated[str, typer.Option("--metric", "-m", help="Metric of the heatmap.")] = "map",
) -> None:
    """Write the plots of a result as PNG and SVG; a plot the run has no data for is left out with the reason."""
    from mlbench.plots import write_plots
    from mlbench.report import check_result
    from mlbench.results import read_result

    try:
        res = read_result(result)
        check_result(res, metric)
        written = write_plots(res.doc, out, metric)
    except MlbenchError as exc:
        raise _fail(exc) from None
    for plot, paths in written:
        if paths is None:
            print(f"{plot.name}: left out — {plot.reason}")
        else:
            print(f"{plot.name}: wrote {paths[0]} and {paths[1]}")


def register(app: typer.Typer) -> None:
    """Add the ``report`` and ``plot`` commands to ``app``."""
    app.command("report")(report_command)
    app.command("plot")(plot_command)


__all__ = ["plot_command", "register", "report_command"]
