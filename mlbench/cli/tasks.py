"""``mlbench tasks`` and ``mlbench tasks show TASK``."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from mlbench.cli.app import CONTEXT, FORMAT_HELP, DataDirOpt, TasksDirOpt, app, command, console, fail
from mlbench.errors import MlbenchError

tasks_app = typer.Typer(help="List the known tasks, or show one (`mlbench tasks show TASK`).",
                        invoke_without_command=True, context_settings=CONTEXT)
app.add_typer(tasks_app, name="tasks")
FormatOpt = Annotated[str, typer.Option("--format", "-f", help=FORMAT_HELP)]


def _check_format(format: str) -> None:
    if format not in ("table", "json"):
        raise MlbenchError(f"--format {format!r} is not one of table, json")


@tasks_app.callback()
def tasks_list(ctx: typer.Context, tasks_dir: TasksDirOpt = None, data_dir: DataDirOpt = None,
               format: FormatOpt = "table") -> None:
    """List tasks: languages, settings per kind, queries, candidates and data source."""
    if ctx.invoked_subcommand is not None:
        ctx.obj = {"tasks_dir": tasks_dir, "data_dir": data_dir}
        return
    try:
        _check_format(format)
        from mlbench.data.catalog import list_tasks
        from mlbench.render.tables import TextTable, show

        summaries = list_tasks(tasks_dir, data_dir)
        if format == "json":
            sys.stdout.write(json.dumps([s.to_dict() for s in summaries], indent=1) + "\n")
            return
        table = TextTable.of(("task", "languages", "settings mono+cross+multi", "queries", "candidates", "source"),
                             right=("queries", "candidates"), title="mlbench tasks")
        for s in summaries:
            settings = "+".join(str(s.settings.get(k, 0)) for k in ("mono", "cross", "multi"))
            table.add(f"{s.spec.name} {s.spec.version}", " ".join(s.spec.languages), settings,
                      "-" if s.queries is None else str(s.queries), "-" if s.candidates is None else str(s.candidates),
                      s.status)
        show(table, console())
    except MlbenchError as exc:
        raise fail(exc) from None


@command(tasks_app, "show")
def tasks_show(ctx: typer.Context, task: Annotated[str, typer.Argument(help="Task name, e.g. xquad-r.")],
               tasks_dir: TasksDirOpt = None, data_dir: DataDirOpt = None, format: FormatOpt = "table") -> None:
    """Per-language counts and the settings of one task."""
    from mlbench.data.catalog import settings_per_kind, summarize, task_details
    from mlbench.render.tables import TextTable, show
    from mlbench.data.tasks import get_task

    _check_format(format)
    opts = ctx.obj or {}
    tasks_dir = tasks_dir or opts.get("tasks_dir")
    data_dir = data_dir or opts.get("data_dir")
    spec = get_task(task, tasks_dir)
    summ = summarize(spec, data_dir)
    rows, left = task_details(spec, data_dir) if spec.source.type == "files" else ([], {})
    if format == "json":
        out = {**summ.to_dict(), "per_language": [r.__dict__ for r in rows], "left_out": left}
        sys.stdout.write(json.dumps(out, indent=1) + "\n")
        return
    out_console = console()
    out_console.print(f"[bold]{spec.title}[/bold] ({spec.name} {spec.version}) — {spec.description}")
    out_console.print(f"file: {spec.file}\nlicence: {spec.licence}\nsource: {spec.source.url or spec.source.dataset}",
                      markup=False)
    counts = settings_per_kind(spec)
    out_console.print("settings: " + ", ".join(f"{k} {n}" for k, n in counts.items())
                      + f" (ids: de>de mono, de>en cross, de>* multi); metrics: {', '.join(spec.metrics)}; "
                      f"main metric: {spec.main_metric}", markup=False)
    if spec.source.type != "files":
        out_console.print(f"data: {summ.status}; corpora are streamed at run time (docs/miracl.md)", markup=False)
        return
    table = TextTable.of(("lang", "queries", "candidates"), right=("queries", "candidates"),
                         title=f"{spec.name}: per language")
    for r in rows:
        table.add(r.lang, str(r.queries), str(r.candidates))
    table.add("all", str(sum(r.queries for r in rows)), str(sum(r.candidates for r in rows)), style="bold")
    show(table, out_console)
    if left:
        out_console.print("queries left out (no relevant candidate in the pool): "
                          + ", ".join(f"{k} {v}" for k, v in left.items()), markup=False)
    else:
        out_console.print("queries left out: none (every query has a relevant candidate in every pool)", markup=False)
