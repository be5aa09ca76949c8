"""``mlbench compare``: paired significance tests of B against A (:mod:`mlbench.analysis.compare`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from mlbench.cli.app import MetricOpt, Tests, command, console, tested


@command(name="compare")
@tested
def compare_command(
    results: Annotated[list[Path], typer.Argument(metavar="A.json B.json [C.json ...]", help="Result files of one task: A (the baseline) and B in full detail; with three or more, every pair on the aggregates.")],
    metric: MetricOpt = None,
    family: Annotated[str, typer.Option(help="Correction family of the settings: all (one family) | kind (one per kind). Aggregates are their own family.")] = "all",
    format: Annotated[str, typer.Option("--format", "-f", help="table | markdown | json")] = "table",
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write here (atomically) instead of stdout.")] = None,
    *, tests: Tests,
) -> None:
    """Paired significance tests of B against A per setting and per aggregate, corrected for multiple
    comparisons; results of other languages or kinds are compared on the settings they share. With
    three or more results: every pair on every aggregate, one correction over all of them."""
    from mlbench.analysis.compare import compare
    from mlbench.analysis.compare_many import compare_many
    from mlbench.errors import MlbenchError
    from mlbench.files import write_text
    from mlbench.render.comparison import FORMATS, render, render_many, show_report
    from mlbench.results import read_result

    if format not in FORMATS:
        raise MlbenchError(f"--format {format!r} is not one of {', '.join(FORMATS)}")
    if len(results) < 2:
        raise MlbenchError("compare needs at least two result files (A.json B.json [C.json ...])")
    loaded = [read_result(p) for p in results]
    if len(loaded) > 2:
        text = render_many(compare_many(loaded, metric, **tests.options()), format)
    else:
        rep = compare(loaded[0], loaded[1], metric=metric, family=family, **tests.options())
        if out is None and format == "table":
            show_report(rep, console())
            return
        text = render(rep, format)
    if out is not None:
        write_text(out, text)
        console(stderr=True).print(f"wrote {out}", markup=False)
    else:
        sys.stdout.write(text)
