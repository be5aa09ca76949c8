"""``mlbench plot``: the plots of a result as PNG and SVG (:mod:`mlbench.render.plots`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlbench.cli.app import MetricOpt, command, console


@command(name="plot")
def plot_command(
    result: Annotated[Path, typer.Argument(metavar="RESULT", help="Result file written by mlbench run.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for RESULT-NAME.heatmap, .rankdist, .ownlang and .rankcorr (.png + .svg).")],
    metric: MetricOpt = None,
) -> None:
    """Write the plots of a result as PNG and SVG; a plot the run has no data for is left out with the reason."""
    from mlbench.render.plots import write_plots
    from mlbench.results import read_result

    res = read_result(result)
    metric = metric or res.main_metric
    res.require_metric(metric)
    out_console = console()
    for plot, paths in write_plots(res, out, metric, stem=Path(result).name.removesuffix(".json")):
        if paths is None:
            out_console.print(f"{plot.name}: left out — {plot.reason}", markup=False)
        else:
            out_console.print(f"{plot.name}: wrote {paths[0]} and {paths[1]}", markup=False)
