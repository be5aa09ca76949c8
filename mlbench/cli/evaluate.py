"""``mlbench evaluate``: score an external run against a task (:func:`mlbench.pipeline.evaluate.evaluate_run`)
and print the same summary as ``mlbench run``."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from mlbench.cli.app import (SUMMARY_FORMATS, SUMMARY_HELP, DataDirOpt, KindsOpt, LangsOpt, MaxArticlesOpt, MaxQueriesOpt, TasksDirOpt,
                             command, print_results, split_list)
from mlbench.task import DEFAULT_TASK

CORPUS = "MIRACL (tasks of format ir_datasets): "


@command(name="evaluate")
def evaluate_command(
    run: Annotated[list[Path], typer.Argument(metavar="RUN", help="TREC run files, or folders of *.run files: one file per setting named like mlbench's (xquad-r.de-en.run, pool 'all' for the multilingual pool), or query ids prefixed with their setting (de>en:de/56be…).")],
    task: Annotated[str, typer.Option("--task", "-t", help="The task the run is for.")] = DEFAULT_TASK,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the result file.")] = Path("results"),
    name: Annotated[Optional[str], typer.Option(help="The system's name in the result (default: the run's tag).")] = None,
    kinds: KindsOpt = None,
    langs: LangsOpt = None,
    max_queries: MaxQueriesOpt = None,
    metrics: Annotated[Optional[str], typer.Option(help="Comma list (default: the task's; map becomes map@DEPTH on a cut run).")] = None,
    trec_measures: Annotated[Optional[str], typer.Option(help="Comma list of further trec_eval measures, computed by pytrec_eval (e.g. P.5,bpref,Rprec).")] = None,
    max_articles: MaxArticlesOpt = None,
    candidate_text: Annotated[str, typer.Option(help="LAReQA: what a candidate's text was: sentence | sentence+context.")] = "sentence",
    split: Annotated[Optional[str], typer.Option(help=CORPUS + "another split that ir_datasets declares; default: the task's source.split.")] = None,
    pool_subset: Annotated[Optional[int], typer.Option(help=CORPUS + "the pool was the judged passages plus N others.")] = None,
    ir_datasets_home: Annotated[Optional[Path], typer.Option(help=CORPUS + "ir_datasets' data folder, instead of $IR_DATASETS_HOME.")] = None,
    multi_pool: Annotated[bool, typer.Option(help=CORPUS + "the run may hold LANG>* settings (the union of the pools).")] = False,
    unchecked_files: Annotated[bool, typer.Option(help=CORPUS + "read topics and qrels whose md5 differs from ir_datasets' record; marked not comparable.")] = False,
    loader_arg: Annotated[Optional[list[str]], typer.Option("--loader-arg", help="key=value: an option of the task's loader by name (a format registered under mlbench.formats); may be repeated.")] = None,
    data_dir: DataDirOpt = None,
    tasks_dir: TasksDirOpt = None,
    format: Annotated[str, typer.Option("--format", "-f", help=SUMMARY_HELP)] = "table",
) -> None:
    """Score a run made by another tool against a task's settings and relevance: a result file like
    `mlbench run` writes (per-query values and the rankings kept), for compare, check, leaderboard,
    report, export and fuse."""
    from mlbench.data.corpus import CorpusOptions
    from mlbench.data.lareqa import LareqaOptions
    from mlbench.data.loaders import options_of, request
    from mlbench.options import parse_pairs
    from mlbench.errors import MlbenchError
    from mlbench.pipeline.evaluate import evaluate_run
    from mlbench.data.tasks import get_task

    if format not in SUMMARY_FORMATS:
        raise MlbenchError(f"--format {format!r} is not one of {', '.join(SUMMARY_FORMATS)}")
    spec = get_task(task, tasks_dir)
    lareqa = LareqaOptions(max_articles=max_articles, candidate_text=candidate_text)
    corpus = CorpusOptions(split=split, pool_subset=pool_subset, ir_datasets_home=ir_datasets_home,
                           multi_pool=multi_pool, unchecked_files=unchecked_files)
    req = request(spec, split_list(langs), data_dir, max_queries,
                  options_of(spec, (lareqa, corpus), parse_pairs(loader_arg, "--loader-arg")))
    got = evaluate_run(req, run, kinds=kinds, metrics=split_list(metrics), trec_measures=split_list(trec_measures),
                       name=name, out_dir=out, command=shlex.join(["mlbench", *sys.argv[1:]]))
    print_results([got], format, _notes)


def _notes(result) -> list[str]:
    external = result.run.external
    missing = sum(external["queries_not_in_run"].values())
    return [external["note"]] + (
        [f"{missing} evaluated queries are not in the run (they score 0, as trec_eval -c)"] if missing else [])
