"""``mlbench sweep``: a series of checkpoints evaluated alike (:mod:`mlbench.analysis.sweep`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from mlbench.cli.app import (DataDirOpt, KindsOpt, LangsOpt, MaxArticlesOpt, MaxQueriesOpt, MetricsOpt, TasksDirOpt,
                             Tests, command, console, split_list, tested)


@command(name="sweep")
@tested
def sweep_command(
    checkpoints: Annotated[list[Path], typer.Argument(metavar="CHECKPOINT...", help="Checkpoint folders, e.g. runs/x-x/step-* runs/x-y/step-* (one line per parent folder in the plots).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for results/, sweep.json and plots/; a stopped sweep resumes there.")] = Path("sweep"),
    task: Annotated[Optional[list[str]], typer.Option("--task", "-t", help="Task name; may be repeated. Default: xquad-r.")] = None,
    best: Annotated[Optional[str], typer.Option(help="Pick the best checkpoint by KIND:METRIC (multi:map, cross:ndcg@10) or rank-distance, and compare it with the first checkpoint of its run (paired tests).")] = None,
    langs: LangsOpt = None,
    kinds: KindsOpt = None,
    max_articles: MaxArticlesOpt = None,
    max_queries: MaxQueriesOpt = None,
    metrics: MetricsOpt = None,
    cache_dir: Annotated[Optional[Path], typer.Option(help="Embedding cache (default MLBENCH_HOME/embeddings).")] = None,
    data_dir: DataDirOpt = None,
    tasks_dir: TasksDirOpt = None,
    *, tests: Tests,
) -> None:
    """Evaluate each checkpoint (prompts from its mlbench.json), write one result file per checkpoint
    and task, the summary OUT/sweep.json and plots of mono / cross / multi, rank distance and
    own-language share against the step. Every result works with compare, check and leaderboard."""
    import shlex
    import sys

    from mlbench.analysis.sweep import sweep
    from mlbench.cli.progress import progress
    from mlbench.data.lareqa import LareqaOptions
    from mlbench.pipeline import RunConfig
    from mlbench.render import comparison
    from mlbench.render.sweep import table, write_figures
    from mlbench.render.tables import show
    from mlbench.task import DEFAULT_TASK

    cfg = RunConfig(tasks=task or [DEFAULT_TASK], kinds=kinds, langs=split_list(langs), max_queries=max_queries,
                    metrics=split_list(metrics), data_dir=data_dir, tasks_dirs=tasks_dir, cache_dir=cache_dir,
                    lareqa=LareqaOptions(max_articles=max_articles),
                    command=shlex.join(["mlbench", *sys.argv[1:]]))
    err, out_console = console(stderr=True), console()

    def done(point, reused: bool) -> None:
        how = ("already in " + str(out / "sweep.json") if reused else
               "the trainer's evaluation at this step (not encoded again)" if point.from_training else "evaluated")
        err.print(f"{point.label}: {how}",
                  markup=False, highlight=False, soft_wrap=True)

    with progress(err) as start:
        result = sweep(checkpoints, cfg, out, best, start, done, **tests.options())
    doc = result.to_dict()
    for name in result.metric:
        show(table(doc, name), out_console)
        if name in result.comparisons:
            out_console.print(f"\nfirst vs best of {result.best[name]['label'].split('/')[0]} on {name}:", markup=False)
            comparison.show_report(result.comparisons[name], out_console)
    for path in write_figures(doc, out / "plots"):
        if path.suffix == ".png":
            out_console.print(f"wrote {path} (+ .svg)", markup=False, highlight=False, soft_wrap=True)
    out_console.print(f"summary: {out / 'sweep.json'}", markup=False, highlight=False, soft_wrap=True)
