"""``mlbench compare A.json B.json``: paired significance tests of B against A.

Registered on the main app by ``mlbench.cli`` with ``register(app)``. Output as a rich table, a
GitHub-markdown table or JSON; every format states the test, the correction (with its families)
and alpha. Input problems are one line on stderr and exit code 2.
"""

from __future__ import annotations

import io
import json
import math
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from mlbench.compare import KIND_ORDER, ComparisonReport, Row, compare
from mlbench.errors import MlbenchError
from mlbench.significance import DEFAULT_PERMUTATIONS

FORMATS = ("table", "markdown", "json")
LEGEND = "▲ B significantly better than A, ▼ significantly worse (adjusted p <= alpha); d: Cohen's d_z of B - A"


def _num(v: float | None, metric: str) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:.2f}" if metric == "rank_distance" else f"{v:.4f}"


def _delta(v: float, metric: str) -> str:
    return "-" if math.isnan(v) else (f"{v:+.2f}" if metric == "rank_distance" else f"{v:+.4f}")


def _p(p: float) -> str:
    return f"{p:.1e}" if p < 1e-4 else f"{p:.4f}"


def _d(d: float) -> str:
    if math.isnan(d):
        return "-"
    return ("+inf" if d > 0 else "-inf") if math.isinf(d) else f"{d:+.2f}"


def _ci(r: Row) -> str:
    if math.isnan(r.ci_low):
        return "-"
    return f"[{_delta(r.ci_low, r.metric)}, {_delta(r.ci_high, r.metric)}]"


def _cells(r: Row) -> list[str]:
    return [str(r.n), _num(r.mean_a, r.metric), _num(r.mean_b, r.metric), _delta(r.delta, r.metric), _ci(r),
            _p(r.p), _p(r.p_adjusted), _d(r.effect_size), r.marker]


NUM_COLS = ("n", "A", "B", "Δ B−A", "CI", "p", "p adj.", "d", "")


def _agg_label(r: Row) -> str:
    note = {"lower": " (lower is better)",
            "expected": f" (expected {r.expected:.4f})" if r.expected is not None else ""}.get(r.better, "")
    return r.metric + note


def _title(rep: ComparisonReport) -> str:
    return f"{rep.task}: {rep.metric}, A = {rep.model_a} vs B = {rep.model_b}"


def _n(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _summary_line(rep: ComparisonReport) -> str:
    t = rep.summary["all"]
    kinds = ", ".join(f"{k} {rep.summary[k]}" for k in KIND_ORDER if k in rep.summary)
    return (f"B vs A over {_n(len(rep.settings), 'setting')}: {_n(t.wins, 'win')}, {_n(t.ties, 'tie')}, "
            f"{_n(t.losses, 'loss', 'losses')} "
            f"(win/tie/loss per kind: {kinds})")


def render_table(rep: ComparisonReport, console: Console) -> None:
    console.print(f"[bold]{_title(rep)}[/bold]")
    console.print(f"A: {rep.a}\nB: {rep.b}")
    for line in rep.procedure_lines():
        console.print(line, markup=False)
    agg = Table(title="aggregates (unit: question within a query language)")
    agg.add_column("aggregate")
    agg.add_column("metric")
    for c in NUM_COLS:
        agg.add_column(c, justify="right" if c else "center", no_wrap=True)
    for r in rep.aggregates:
        agg.add_row(r.id, _agg_label(r), *_cells(r))
    console.print(agg)
    tab = Table(title=f"settings ({rep.metric}; unit: query)")
    tab.add_column("setting", no_wrap=True)
    tab.add_column("kind")
    for c in NUM_COLS:
        tab.add_column(c, justify="right" if c else "center", no_wrap=True)
    for r in rep.settings:
        tab.add_row(r.id, r.kind, *_cells(r))
    console.print(tab)
    console.print(_summary_line(rep), markup=False)
    console.print(LEGEND, markup=False)


def render_markdown(rep: ComparisonReport) -> str:
    head = "| n | A | B | Δ (B−A) | CI | p | p adj. | d | |"
    align = "|---:|---:|---:|---:|:---:|---:|---:|---:|:---:|"
    lines = [f"### {_title(rep)}", "",
             f"A: `{rep.a}`  ", f"B: `{rep.b}`", "",
             rep.procedure()[0].upper() + rep.procedure()[1:] + ".", "",
             f"**{_summary_line(rep)}**", "",
             "| aggregate | metric " + head, "|---|---" + align]
    lines += [f"| `{r.id}` | {_agg_label(r)} | " + " | ".join(_cells(r)) + " |" for r in rep.aggregates]
    lines += ["", "| setting | kind " + head, "|---|---" + align]
    lines += [f"| `{r.id}` | {r.kind} | " + " | ".join(_cells(r)) + " |" for r in rep.settings]
    lines += ["", LEGEND + "."]
    return "\n".join(lines) + "\n"


def render(rep: ComparisonReport, fmt: str, width: int | None = None) -> str:
    """The report as text in ``fmt`` (table | markdown | json); the table without colour codes."""
    if fmt == "json":
        return json.dumps(rep.to_dict(), indent=1, ensure_ascii=False, allow_nan=False) + "\n"
    if fmt == "markdown":
        return render_markdown(rep)
    buf = io.StringIO()
    render_table(rep, Console(file=buf, width=width or 160, color_system=None, highlight=False))
    return buf.getvalue()


def compare_command(
    a: Annotated[Path, typer.Argument(metavar="A.json", help="Result file of system A (the baseline).")],
    b: Annotated[Path, typer.Argument(metavar="B.json", help="Result file of system B, same task, settings and queries.")],
    metric: Annotated[str, typer.Option("--metric", "-m", help="Metric of the settings and the kind aggregates.")] = "map",
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
    from mlbench.atomic import write_text
    from mlbench.results import read_result

    try:
        if format not in FORMATS:
            raise MlbenchError(f"--format {format!r} is not one of {', '.join(FORMATS)}")
        rep = compare(read_result(a), read_result(b), metric=metric, test=test, correction=correction,
                      alpha=alpha, n_permutations=permutations, seed=seed, family=family)
        if out is not None:
            write_text(out, render(rep, format))
            Console(stderr=True).print(f"wrote {out}", markup=False, highlight=False)
        elif format == "table":
            render_table(rep, Console(highlight=False))
        else:
            sys.stdout.write(render(rep, format))
    except MlbenchError as exc:
        sys.stderr.write(f"mlbench: error: {exc}\n")
        raise typer.Exit(exc.exit_code) from None


def register(app: typer.Typer) -> None:
    """Add the ``compare`` command to ``app``."""
    app.command("compare")(compare_command)


__all__ = ["FORMATS", "compare_command", "register", "render", "render_markdown", "render_table"]
