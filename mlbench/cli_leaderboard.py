"""`mlbench leaderboard` and `mlbench run --compare-to`: thin CLI over :mod:`mlbench.leaderboard`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from mlbench.errors import MlbenchError
from mlbench.leaderboard import (
    README,
    SORTS,
    Standing,
    cells,
    columns,
    html,
    load_board,
    markdown,
    place,
    readme,
    standings,
)

FORMATS = ("table", "markdown", "html")


def rich_table(st: Standing) -> Table:
    table = Table(title=f"{st.task} — sorted by {st.sort} ({st.metric})", caption=f"Significance: {st.procedure()}")
    for h in columns(st):
        table.add_column(h, justify="right" if h == "#" or h.endswith(st.metric) or h.startswith(("rank", "own"))
                         else "left")
    for r in st.ranks:
        table.add_row(*cells(st, r), style="bold green" if r.entry.new else None)
    return table


def check_placement(board: Path, tasks: list[str]) -> None:
    """Fail before a run when ``--compare-to`` names a folder that cannot rank its tasks."""
    b = load_board(board)
    for t in tasks:
        b.of_task(t)


def print_placement(console: Console, results: list[Path], board: Path) -> None:
    from mlbench.results import read_result

    for st in place(load_board(board), [read_result(p) for p in results]):
        console.print(rich_table(st))
        new = next(r for r in st.ranks if r.entry.new)
        console.print(f"this run ranks {new.position} of {len(st.ranks)} on {st.task} (sorted by {st.sort})")


def register(app: typer.Typer) -> None:
    @app.command("leaderboard")
    def leaderboard(
        folder: Annotated[Path, typer.Argument(help="Leaderboard folder (with leaderboard.toml).")] = Path("leaderboard"),
        task: Annotated[Optional[list[str]], typer.Option("--task", "-t", help="Only this task; may be repeated.")] = None,
        metric: Annotated[Optional[str], typer.Option(help="Metric of the kind columns (default map, or the task's first).")] = None,
        sort: Annotated[Optional[str], typer.Option(help=f"Rank by: {' | '.join(SORTS)} (default: multi where the task has it).")] = None,
        format: Annotated[str, typer.Option("--format", "-f", help="table | markdown | html")] = "table",
        out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write here instead of stdout (markdown, html).")] = None,
        write_readme: Annotated[bool, typer.Option("--write-readme", help="Regenerate FOLDER/README.md from the entries.")] = False,
        permutations: Annotated[int, typer.Option(help="Permutations of the randomization test.")] = 10000,
        seed: Annotated[int, typer.Option(help="Seed of the randomization test.")] = 0,
        alpha: Annotated[float, typer.Option(help="Significance level on Holm-adjusted p.")] = 0.05,
    ) -> None:
        """Rank the leaderboard's entries by their aggregates (mono, cross, multi, rank distance), and
        test each against the next one down (paired test, Holm over the adjacent pairs)."""
        from mlbench.atomic import write_text

        if format not in FORMATS:
            raise MlbenchError(f"--format {format!r} is not one of {', '.join(FORMATS)}")
        board = load_board(folder)
        if write_readme:
            write_text(folder / README, readme(board))
            Console(stderr=True).print(f"wrote {folder / README}")
            return
        entries = [board.of_task(t) for t in task or board.tasks()]  # an unknown task fails before any test
        tables = [standings(e, metric, sort, n_permutations=permutations, seed=seed, alpha=alpha) for e in entries]
        if format == "table":
            console = Console()
            for st in tables:
                console.print(rich_table(st))
            return
        text = markdown(tables, board.title) if format == "markdown" else html(tables, board.title)
        if out is not None:
            write_text(out, text)
        else:
            sys.stdout.write(text if text.endswith("\n") else text + "\n")
