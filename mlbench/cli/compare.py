"""``mlbench compare``: paired significance tests of B against A (:mod:`mlbench.analysis.compare`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from mlbench.analysis.significance import DEFAULT_PERMUTATIONS
from mlbench.cli.app import MetricOpt, command, console


@command(name="compare")
def compare_command(
    a: Annotated[Path, typer.Argument(metavar="A.json", help="Result file of system A (the baseline).")],
    b: Annotated[Path, typer.Argument(metavar="B.json", help="Result file of system B, same task, settings and queries.")],
    metric: MetricOpt = None,
    test: Annotated[str, typer.Option(help="randomization (sign-flip permutation) | t (paired t-test) | bootstrap.")] = "randomization",
    correction: Annotated[str, typer.Option(help="holm | bonferroni | bh (Benjamini-Hochberg) | none.")] = "holm",
    alpha: Annotated[float, typer.Option(help="Significance level, applied to adjusted p-values.")] = 0.05,
    permutations: Annotated[int, typer.Option("--permutations", help="Permutations (randomization) or resamples (bootstrap, CI).")] = DEFAULT_PERMUTATIONS,
    seed: Annotated[int, typer.Option(help="Seed of the resampling.")] = 0,
    family: Annotated[str, typer.Option(help="Correction family of the settings: all (one family) | kind (one per kind). Aggregates are their own family.")] = "all",
    format: Annotated[str, typer.Option("--format", "-f", help="table | markdown | json")] = "table",
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write here (atomically) instead of stdout.")] = None,
) -> None:
    """Paired significance tests of B against A per setting and per aggregate, corrected for multiple comparisons."""
    from mlbench.analysis.compare import compare
    from mlbench.errors import MlbenchError
    from mlbench.files import write_text
    from mlbench.render.comparison import FORMATS, render, show_report
    from mlbench.results.files import read_result

    if format not in FORMATS:
        raise MlbenchError(f"--format {format!r} is not one of {', '.join(FORMATS)}")
    rep = compare(read_result(a), read_result(b), metric=metric, test=test, correction=correction,
                  alpha=alpha, n_permutations=permutations, seed=seed, family=family)
    if out is not None:
        write_text(out, render(rep, format))
        console(stderr=True).print(f"wrote {out}", markup=False)
    elif format == "table":
        show_report(rep, console())
    else:
        sys.stdout.write(render(rep, format))
