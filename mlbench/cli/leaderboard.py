"""``mlbench leaderboard`` and the placement of a run among a board's entries (``run --compare-to``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from mlbench.analysis.leaderboard import README, SORTS, load_board, place, standings
from mlbench.cli.app import Tests, command, console, tested
from mlbench.errors import MlbenchError

FORMATS = ("table", "markdown", "html", "json", "latex")


def check_placement(board: Path | str, slices: dict[str, dict]) -> None:
    """Fail before a run when ``--compare-to`` names a folder that cannot rank its tasks like with
    like: entries of each task, of the slice the run will have (``slices``: task -> planned slice)."""
    from mlbench.results.files import differences

    b = load_board(board)
    for task, planned in slices.items():
        for e in b.of_task(task):
            diff = differences(e.result.slice, planned)
            if diff:
                raise MlbenchError(f"--compare-to {board}: entry {Path(e.result.where).name} is another slice of {task} than "
                                   f"this run ({'; '.join(diff)}, entry vs this run); a leaderboard ranks like with like")


def print_placement(out: Console, results: list[Path], board: Path | str) -> None:
    from mlbench.render.standings import published_table, table
    from mlbench.render.tables import show
    from mlbench.results import read_result

    for st in place(load_board(board), [read_result(p) for p in results]):
        show(table(st), out)
        if st.published:
            show(published_table(st), out)
        new = next(r for r in st.ranks if r.entry.new)
        together = [r.entry.model for r in st.ranks if r.tier == new.tier and not r.entry.new]
        out.print(f"this run ranks {new.position} of {len(st.ranks)}, in tier {new.tier} of {st.ranks[-1].tier}, on "
                  f"{st.task} (sorted by {st.sort})"
                  + (f"; not told apart from {', '.join(together)}" if together else ""), markup=False)


@command(name="leaderboard")
@tested
def leaderboard_command(
    folder: Annotated[Optional[Path], typer.Argument(help="Leaderboard folder (with leaderboard.toml); default: the reference board shipped with mlbench.")] = None,
    task: Annotated[Optional[list[str]], typer.Option("--task", "-t", help="Only this task; may be repeated.")] = None,
    metric: Annotated[Optional[str], typer.Option(help="Metric of the kind columns (default: the task's main metric).")] = None,
    sort: Annotated[Optional[str], typer.Option(help=f"Rank by: {' | '.join(SORTS)} (default: multi where the task has it).")] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="table | markdown | html | json | latex (booktabs, Table 1 of arXiv 2408.10536)")] = "table",
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write here (atomically) instead of stdout.")] = None,
    write_readme: Annotated[bool, typer.Option("--write-readme", help="Regenerate FOLDER/README.md from the entries.")] = False,
    *, tests: Tests,
) -> None:
    """Rank the leaderboard's entries by their aggregates (mono, cross, multi, rank distance), test
    each against the next one down (paired test, corrected over the adjacent pairs) and group them
    in tiers (every pair tested); published figures are shown apart, never tested."""
    from mlbench.errors import MlbenchError
    from mlbench.files import write_text
    from mlbench.render import standings as render
    from mlbench.render.tables import plain, show

    if format not in FORMATS:
        raise MlbenchError(f"--format {format!r} is not one of {', '.join(FORMATS)}")
    board = load_board(folder)
    if write_readme:
        write_text(board.folder / README, render.readme(board))
        console(stderr=True).print(f"wrote {board.folder / README}", markup=False)
        return
    entries = [board.of_task(t) for t in task or board.tasks()]  # an unknown task fails before any test
    tables = [standings(e, metric, sort, published=board.published_of(e[0].task), **tests.options()) for e in entries]
    if format == "table" and out is None:
        for st in tables:
            for t in render.tables_of(st):
                show(t, console())
        return
    text = {"table": lambda: "\n".join(plain(t) for st in tables for t in render.tables_of(st)),
            "markdown": lambda: render.to_markdown(tables, board.title),
            "html": lambda: render.to_html(tables, board.title),
            "json": lambda: json.dumps([st.to_dict() for st in tables], indent=1) + "\n",
            "latex": lambda: render.to_latex(tables)}[format]()
    if out is not None:
        write_text(out, text)
        console(stderr=True).print(f"wrote {out}", markup=False)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
