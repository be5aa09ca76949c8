"""``mlbench run``: evaluate a model on tasks (:func:`mlbench.pipeline.run`) and print a summary."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from mlbench.cli.app import (SUMMARY_FORMATS, SUMMARY_HELP, DataDirOpt, KindsOpt, LangsOpt, MaxArticlesOpt, MaxQueriesOpt, MetricsOpt,
                             TasksDirOpt, command, console, print_results, split_list)
from mlbench.encoders.registry import DEFAULT_MODEL
from mlbench.task import DEFAULT_TASK

CORPUS = "MIRACL (tasks of format ir_datasets): "
TOPK = "--backend topk: "
ENGINE = "Encoding engine (docs/scale.md): "


@command(name="run")
def run_command(
    model: Annotated[str, typer.Option("--model", "-m", help="Encoder: a registered name (see `mlbench models`), module:factory, or a sentence-transformers hub id / local folder.")] = DEFAULT_MODEL,
    task: Annotated[Optional[list[str]], typer.Option("--task", "-t", help=f"Task name; may be repeated. Default: {DEFAULT_TASK}.")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for result files.")] = Path("results"),
    kinds: KindsOpt = None,
    langs: LangsOpt = None,
    max_queries: MaxQueriesOpt = None,
    metrics: MetricsOpt = None,
    max_articles: MaxArticlesOpt = None,
    candidate_text: Annotated[str, typer.Option(help="LAReQA: what a candidate's text is: sentence | sentence+context.")] = "sentence",
    encoder_arg: Annotated[Optional[list[str]], typer.Option("--encoder-arg", help="key=value passed to a plugin factory; may be repeated.")] = None,
    loader_arg: Annotated[Optional[list[str]], typer.Option("--loader-arg", help="key=value: an option of the task's loader by name (a format registered under mlbench.formats); may be repeated.")] = None,
    query_prompt: Annotated[Optional[str], typer.Option(help="Prompt for queries (e.g. 'query: ' for E5; '' for none). Default: the model's own, as sentence-transformers' encode_query applies it.")] = None,
    candidate_prompt: Annotated[Optional[str], typer.Option(help="Prompt for candidates (e.g. 'passage: '). Default: the model's own (document, passage or corpus, else its default prompt).")] = None,
    query_prompt_name: Annotated[Optional[str], typer.Option(help="One of the model's own prompts for queries, by name (its config's prompts).")] = None,
    candidate_prompt_name: Annotated[Optional[str], typer.Option(help="One of the model's own prompts for candidates, by name.")] = None,
    truncate_dim: Annotated[Optional[int], typer.Option(help="Keep the first N dimensions of each embedding (Matryoshka models).")] = None,
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
    backend: Annotated[str, typer.Option(help="Retrieval: auto | exact (full ranking in memory) | topk (faiss, top --depth kept). auto: exact for pools held in memory (LAReQA), topk for streamed corpora (MIRACL).")] = "auto",
    index: Annotated[str, typer.Option(help=TOPK + "exact | ivf[:nlist=N,nprobe=N] | hnsw[:M=N,efConstruction=N,efSearch=N]; recall against exact is reported.")] = "exact",
    depth: Annotated[int, typer.Option(help=TOPK + "candidates kept per query.")] = 100,
    trec_dir: Annotated[Optional[Path], typer.Option(help="Also write TREC run and qrels files per setting here.")] = None,
    trec_depth: Annotated[int, typer.Option(help="Candidates per query in TREC runs.")] = 100,
    keep_rankings: Annotated[Optional[str], typer.Option(help="Keep the top N of every ranking ('full': the whole pool) in a rankings sidecar, for `mlbench export --format trec` and `mlbench fuse` later.")] = None,
    cache_dir: Annotated[Optional[Path], typer.Option(help="Embedding cache (default MLBENCH_HOME/embeddings).")] = None,
    store_dir: Annotated[Optional[Path], typer.Option(help="Embedding stores of streamed corpora (default MLBENCH_HOME/corpus); with --engine ray, a path every node sees.")] = None,
    store_chunk_rows: Annotated[int, typer.Option(help="Passages per store chunk: the unit of work of an engine's workers and the most work a stopped run loses (a store keeps the size it was started with).")] = 4096,
    engine: Annotated[str, typer.Option(help=ENGINE + "local (this process) | processes (worker processes on this machine) | ray (an actor pool on a Ray cluster; pip install 'mlbench[ray]').")] = "local",
    workers: Annotated[Optional[int], typer.Option(help=ENGINE + "worker processes or Ray actors (default: one per device given, else one per CPU).")] = None,
    devices: Annotated[Optional[str], typer.Option(help=ENGINE + "comma list, one per worker in turn: cuda:0,cuda:1 (processes); cuda (ray: one GPU per actor). sentence-transformers models only.")] = None,
    cpus_per_worker: Annotated[int, typer.Option(help=ENGINE + "CPUs (and compute threads) of each worker.")] = 1,
    ray_address: Annotated[Optional[str], typer.Option(help=ENGINE + "auto | HOST:PORT | ray://HOST:PORT; default: a local Ray started for the run.")] = None,
    data_dir: DataDirOpt = None,
    tasks_dir: TasksDirOpt = None,
    compare_to: Annotated[Optional[str], typer.Option("--compare-to", help="A leaderboard folder, or 'builtin' for the reference board shipped with mlbench: place this run among its entries of the same task and slice.")] = None,
    split: Annotated[Optional[str], typer.Option(help=CORPUS + "another split that ir_datasets declares (e.g. train); default: the task's source.split.")] = None,
    pool_subset: Annotated[Optional[int], typer.Option(help=CORPUS + "search only the judged passages plus N others (quick; not comparable with MIRACL figures).")] = None,
    pool_docids: Annotated[Optional[Path], typer.Option(help=CORPUS + "search only the doc ids listed in this file, one per line (not comparable).")] = None,
    ir_datasets_home: Annotated[Optional[Path], typer.Option(help=CORPUS + "ir_datasets' data folder, instead of $IR_DATASETS_HOME (files in its cache layout are read without download).")] = None,
    multi_pool: Annotated[bool, typer.Option(help=CORPUS + "also search each language's queries against the union of the languages' pools (LANG>*).")] = False,
    unchecked_files: Annotated[bool, typer.Option(help=CORPUS + "read topics and qrels whose md5 differs from ir_datasets' record (your own copies); the result is marked not comparable.")] = False,
    format: Annotated[str, typer.Option("--format", "-f", help=SUMMARY_HELP)] = "table",
) -> None:
    """Evaluate a model on every setting of the tasks; write result files and print a summary.

    With no flags: the embedded XQuAD-R (132 settings) with the multilingual USE v3 encoder,
    offline. Texts are encoded once into the on-disk cache; a second run encodes nothing.
    """
    from mlbench.cli.progress import progress
    from mlbench.data.corpus import CorpusOptions
    from mlbench.data.lareqa import LareqaOptions
    from mlbench.encoders.registry import EncoderOptions
    from mlbench.options import parse_pairs
    from mlbench.engines import EngineOptions
    from mlbench.errors import MlbenchError
    from mlbench.pipeline import RunConfig, plan, run
    from mlbench.render import summary
    from mlbench.retrieval.base import SearchOptions

    if format not in SUMMARY_FORMATS:
        raise MlbenchError(f"--format {format!r} is not one of {', '.join(SUMMARY_FORMATS)}")
    cfg = RunConfig(
        model=model, tasks=task or [DEFAULT_TASK], out_dir=out, kinds=kinds, langs=split_list(langs),
        max_queries=max_queries, metrics=split_list(metrics), data_dir=data_dir, tasks_dirs=tasks_dir,
        cache_dir=cache_dir, store_dir=store_dir, store_chunk_rows=store_chunk_rows, sampling=sampling, base_model=base_model,
        step=step, trec_dir=trec_dir, trec_depth=trec_depth, keep_rankings=keep_rankings,
        command=shlex.join(["mlbench", *sys.argv[1:]]),
        encoder=EncoderOptions(args=parse_pairs(encoder_arg, "--encoder-arg"), query_prompt=query_prompt,
                               candidate_prompt=candidate_prompt, max_seq_length=max_seq_length,
                               batch_tokens=batch_tokens, device=device, precision=precision, normalize=normalize,
                               trust_remote_code=trust_remote_code, revision=revision, truncate_dim=truncate_dim,
                               query_prompt_name=query_prompt_name, candidate_prompt_name=candidate_prompt_name),
        lareqa=LareqaOptions(max_articles=max_articles, candidate_text=candidate_text),
        corpus=CorpusOptions(split=split, pool_subset=pool_subset, pool_docids=pool_docids,
                             ir_datasets_home=ir_datasets_home, multi_pool=multi_pool, unchecked_files=unchecked_files),
        loader_args=parse_pairs(loader_arg, "--loader-arg"),
        search=SearchOptions(backend=backend, index=index, depth=depth),
        engine=EngineOptions(engine=engine, workers=workers, devices=split_list(devices),
                             cpus_per_worker=cpus_per_worker, ray_address=ray_address),
    )
    planned = plan(cfg)  # every option checked before the model is loaded
    if compare_to is not None:  # a board that cannot rank this run like with like fails before any encoding
        from mlbench.cli.leaderboard import check_placement

        check_placement(compare_to, {p.spec.name: p.slice for p in planned.tasks})
    with progress(console(stderr=format != "table")) as start:
        outputs = run(cfg, start)
    print_results(outputs, format, summary.facts)
    if compare_to is not None:
        from mlbench.cli.leaderboard import print_placement

        print_placement(console(stderr=format != "table"), [o.path for o in outputs], compare_to)
