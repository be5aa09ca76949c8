"""The ``mlbench`` command: a thin typer + rich layer over the Python API.

Errors caused by input are printed as one line on stderr with exit code 2.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from mlbench.errors import MlbenchError

app = typer.Typer(
    help="Benchmark multilingual retrievers on XQuAD-R, MLQA-R and MIRACL.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
tasks_app = typer.Typer(help="List the known tasks, or show one (`mlbench tasks show TASK`).", invoke_without_command=True)
app.add_typer(tasks_app, name="tasks")
console = Console()

TasksDirOpt = Annotated[
    Optional[list[Path]],
    typer.Option("--tasks-dir", help="Extra folder of task files (*.toml); may be repeated."),
]
DataDirOpt = Annotated[
    Optional[Path],
    typer.Option("--data-dir", envvar="MLBENCH_DATA_DIR",
                 help="Local copy of task data in upstream layout (e.g. DIR/mlqa-r/ar.json)."),
]


@tasks_app.callback()
def tasks_list(ctx: typer.Context, tasks_dir: TasksDirOpt = None, data_dir: DataDirOpt = None) -> None:
    """List tasks: languages, settings per kind, queries, candidates and data source."""
    if ctx.invoked_subcommand is not None:
        ctx.obj = {"tasks_dir": tasks_dir, "data_dir": data_dir}
        return
    from mlbench.catalog import list_tasks

    table = Table(title="mlbench tasks")
    for col in ("task", "languages", "settings mono+cross+multi", "queries", "candidates", "source"):
        table.add_column(col, justify="right" if col in ("queries", "candidates") else "left",
                         no_wrap=col in ("task", "queries", "candidates"))
    for s in list_tasks(tasks_dir, data_dir):
        settings = "+".join(str(s.settings.get(k, 0)) for k in ("mono", "cross", "multi"))
        table.add_row(f"{s.spec.name} {s.spec.version}", " ".join(s.spec.languages), settings,
                      "-" if s.queries is None else str(s.queries),
                      "-" if s.candidates is None else str(s.candidates), s.status)
    console.print(table)


@tasks_app.command("show")
def tasks_show(ctx: typer.Context, task: Annotated[str, typer.Argument(help="Task name, e.g. xquad-r.")],
               tasks_dir: TasksDirOpt = None, data_dir: DataDirOpt = None) -> None:
    """Per-language counts and the settings of one task."""
    from mlbench.catalog import settings_per_kind, task_details
    from mlbench.taskspec import get_task

    opts = ctx.obj or {}
    tasks_dir = tasks_dir or opts.get("tasks_dir")
    data_dir = data_dir or opts.get("data_dir")
    spec = get_task(task, tasks_dir)
    console.print(f"[bold]{spec.title}[/bold] ({spec.name} {spec.version}) — {spec.description}")
    console.print(f"file: {spec.file}\nlicence: {spec.licence}\nsource: {spec.source.url or spec.source.dataset}")
    counts = settings_per_kind(spec)
    console.print("settings: " + ", ".join(f"{k} {n}" for k, n in counts.items())
                  + f" (ids: de>de mono, de>en cross, de>* multi); metrics: {', '.join(spec.metrics)}")
    if spec.source.type != "files":
        console.print(f"data: {spec.source.describe()}; loader for format {spec.format!r} is not in this version")
        return
    rows, left = task_details(spec, data_dir)
    table = Table(title=f"{spec.name}: per language")
    for col in ("lang", "queries", "candidates", "paragraphs"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(r.lang, str(r.queries), str(r.candidates), str(r.paragraphs))
    table.add_row("all", str(sum(r.queries for r in rows)), str(sum(r.candidates for r in rows)),
                  str(sum(r.paragraphs for r in rows)), style="bold")
    console.print(table)
    if left:
        console.print("queries left out (no relevant candidate in the pool): "
                      + ", ".join(f"{k} {v}" for k, v in left.items()))
    else:
        console.print("queries left out: none (every query has a relevant candidate in every pool)")


def main() -> None:
    """Console-script entry point: one-line errors and exit code 2 for bad input (click already
    gives usage errors exit code 2)."""
    try:
        app()
    except MlbenchError as exc:
        sys.stderr.write(f"mlbench: error: {exc}\n")
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
