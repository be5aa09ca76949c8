"""``mlbench run`` as a function: load, encode once, score, measure, write.

The model is loaded once for all tasks; each task's texts are gathered per (kind, language),
encoded once through the embedding cache, and every setting is derived from those embeddings.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mlbench import __version__
from mlbench.aggregate import aggregate
from mlbench.cache import EmbeddingCache
from mlbench.data import CANDIDATE_TEXT_MODES
from mlbench.encoders.base import Encoder, PoolScorer, fingerprint
from mlbench.encoders.identity import checkpoint_metadata
from mlbench.encoders.registry import DEFAULT_MODEL, load_model
from mlbench.encoding import Progress, encode_texts
from mlbench.errors import MlbenchError
from mlbench.evaluate import DEFAULT_CHUNK_ROWS, DenseScores, LexicalScores, SettingResult, evaluate
from mlbench.formats import load_task
from mlbench.metrics import parse_metric
from mlbench.provenance import environment
from mlbench.results import setting_entries, write_result, write_trec
from mlbench.settings import enumerate_settings, parse_kinds
from mlbench.taskspec import get_task


@dataclass
class RunConfig:
    model: str = DEFAULT_MODEL
    tasks: list[str] = field(default_factory=lambda: ["xquad-r"])
    out_dir: Path = Path("results")
    kinds: str | None = None  # "mono,cross,multi"
    langs: list[str] | None = None
    max_queries: int | None = None
    max_articles: int | None = None
    candidate_text: str = "sentence"
    metrics: list[str] | None = None  # default: the task's
    data_dir: Path | None = None
    tasks_dirs: list[Path] | None = None
    encoder_args: dict[str, Any] = field(default_factory=dict)
    st_options: dict[str, Any] = field(default_factory=dict)
    sampling: str | None = None
    base_model: str | None = None
    step: int | None = None
    trec_dir: Path | None = None
    trec_depth: int = 100
    cache_dir: Path | None = None
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    command: str | None = None  # the command line that asked for this run, recorded in results
    # tasks of format ir_datasets (MIRACL), mlbench.corpus.run; refused for the other tasks
    split: str | None = None  # another split ir_datasets declares (default: the task's, dev)
    pool_subset: int | None = None  # judged passages + N others (not comparable with MIRACL figures)
    pool_docids: Path | None = None  # or: the doc ids listed in this file
    index: str = "exact"  # exact | ivf[:nlist=..,nprobe=..] | hnsw[:M=..,efConstruction=..,efSearch=..]
    ir_datasets_home: Path | None = None  # IR_DATASETS_HOME for this process (before ir_datasets is imported)
    multi_pool: bool = False  # also {lang}>*: each language's queries against the union of the pools
    depth: int = 100  # passages kept per query
    store_dir: Path | None = None  # embedding stores (default MLBENCH_HOME/corpus)
    store_chunk_rows: int = 4096  # passages per store chunk (the most work an interruption loses)


@dataclass
class RunOutput:
    path: Path
    doc: dict[str, Any]
    results: list[SettingResult]


ProgressFactory = Callable[[str, int], Progress]


def _validate(cfg: RunConfig) -> None:
    if cfg.candidate_text not in CANDIDATE_TEXT_MODES:
        raise MlbenchError(f"--candidate-text {cfg.candidate_text!r} is not one of {', '.join(CANDIDATE_TEXT_MODES)}")
    for m in cfg.metrics or []:
        parse_metric(m)
    if cfg.max_queries is not None and cfg.max_queries <= 0:
        raise MlbenchError(f"--max-queries must be positive, got {cfg.max_queries}")
    if not cfg.tasks:
        raise MlbenchError("no task given (--task)")


CORPUS_OPTIONS = {"split": "--split", "pool_subset": "--pool-subset", "pool_docids": "--pool-docids",
                  "ir_datasets_home": "--ir-datasets-home", "multi_pool": "--multi-pool"}


def _validate_formats(cfg: RunConfig, specs: list) -> None:
    """Options of one kind of task are refused for the other kind, by name."""
    for spec in specs:
        if spec.format == "ir_datasets":
            if cfg.max_articles is not None:
                raise MlbenchError(f"--max-articles applies to LAReQA tasks, not to {spec.name} (use --pool-subset or --max-queries)")
            if cfg.candidate_text != "sentence":
                raise MlbenchError(f"--candidate-text applies to LAReQA tasks; {spec.name} passages are title + ' ' + text")
            continue
        used = [flag for key, flag in CORPUS_OPTIONS.items() if getattr(cfg, key) is not None and getattr(cfg, key) is not False]
        if cfg.index != "exact":
            used.append("--index")
        if used:
            raise MlbenchError(f"{used[0]} applies to tasks of format ir_datasets (MIRACL), not to {spec.name}")


def run(cfg: RunConfig, progress: ProgressFactory | None = None,
        model: Encoder | PoolScorer | None = None) -> list[RunOutput]:
    """Evaluate one model on each task of ``cfg``; returns the written result files.

    ``model`` may be passed already built (the API for wrapping or instrumenting an encoder);
    otherwise ``cfg.model`` is resolved through the encoder registry.
    """
    _validate(cfg)
    specs = [get_task(name, cfg.tasks_dirs) for name in cfg.tasks]  # unknown task fails before any work
    for spec in specs:
        spec.check_langs(cfg.langs)
        parse_kinds(cfg.kinds, spec.kinds)
    _validate_formats(cfg, specs)
    if any(spec.format == "ir_datasets" for spec in specs):
        from mlbench.corpus.run import check_metrics, pool_spec
        from mlbench.corpus.search import parse_index
        from mlbench.formats.miracl import use_home

        use_home(cfg.ir_datasets_home)  # before anything imports ir_datasets
        parse_index(cfg.index)
        pool_spec(cfg.pool_subset, cfg.pool_docids)
        for spec in specs:
            if spec.format == "ir_datasets":
                check_metrics(list(cfg.metrics or spec.metrics), cfg.depth)
    local_folder = Path(cfg.model) if Path(cfg.model).is_dir() else None
    metadata = checkpoint_metadata(local_folder, cfg.sampling, cfg.base_model, cfg.step)
    t_load = time.perf_counter()
    model = model or load_model(cfg.model, cfg.encoder_args, cfg.st_options)
    load_s = time.perf_counter() - t_load
    description = model.describe()
    outputs = []
    for spec in specs:
        if spec.format == "ir_datasets":
            outputs.append(_run_corpus(cfg, spec, model, description, metadata, load_s, progress))
            continue
        t0 = time.perf_counter()
        data = load_task(spec, cfg.langs, cfg.data_dir, cfg.max_articles, cfg.max_queries)
        settings = enumerate_settings(data.languages, parse_kinds(cfg.kinds, spec.kinds))
        metrics = list(cfg.metrics or spec.metrics)
        t1 = time.perf_counter()
        encode_info: dict[str, Any] = {}
        if isinstance(model, Encoder):
            cache = EmbeddingCache(fingerprint(description), description, cfg.cache_dir)
            groups = {}
            for lang in data.languages:
                groups[("query", lang)] = data.langs[lang].query_texts
                groups[("candidate", lang)] = data.langs[lang].candidate_texts(cfg.candidate_text)
            start = (lambda total: progress(f"encoding {spec.name}", total)) if progress else None
            emb, stats = encode_texts(model, cache, groups, start)
            source: DenseScores | LexicalScores = DenseScores(
                data, {lang: emb[("query", lang)] for lang in data.languages},
                {lang: emb[("candidate", lang)] for lang in data.languages})
            encode_info = {"unique_texts": stats.unique, "from_cache": stats.cached, "encoded": stats.encoded,
                           "batches": stats.batches, "cache_dir": str(cache.dir), "fingerprint": fingerprint(description)}
        else:
            source = LexicalScores(data, model, cfg.candidate_text)
        t2 = time.perf_counter()
        depth = cfg.trec_depth if cfg.trec_dir else 0
        results = evaluate(data, settings, source, metrics, cfg.chunk_rows, depth)
        t3 = time.perf_counter()
        doc = _document(cfg, spec, data, model, description, metadata, settings, results, metrics, encode_info,
                        {"load_model_s": load_s, "load_data_s": t1 - t0, "encode_s": t2 - t1, "score_metrics_s": t3 - t2})
        path = write_result(cfg.out_dir, doc, results)
        if cfg.trec_dir:
            qrels: dict[str, dict[str, set[str]]] = {r.setting.id: {} for r in results}
            for r in results:
                pool = r.setting.pool_langs(data.languages)
                for qid, g in zip(r.query_ids, r.groups):
                    qrels[r.setting.id][qid] = {data.langs[p].cand_ids[j] for p in pool for j in data.relevant(g, p)}
            write_trec(cfg.trec_dir, spec.name, doc["model"]["name"].replace(" ", "_"), results, qrels)
        outputs.append(RunOutput(path, doc, results))
    return outputs


def _run_corpus(cfg: RunConfig, spec, model, description, metadata, load_s, progress) -> RunOutput:
    """Tasks of format ir_datasets (MIRACL): streamed corpus, embedding store, faiss search."""
    from dataclasses import replace

    from mlbench.corpus.run import run_corpus_task

    doc, results, qrels = run_corpus_task(cfg, spec, model, description, metadata, load_s, progress)
    path = write_result(cfg.out_dir, doc, results)
    if cfg.trec_dir:
        cut = [replace(r, top_ids=r.top_ids[:, :cfg.trec_depth], top_scores=r.top_scores[:, :cfg.trec_depth])
               for r in results]
        write_trec(cfg.trec_dir, spec.name, doc["model"]["name"].replace(" ", "_"), cut, qrels)
    return RunOutput(path, doc, results)


def _document(cfg: RunConfig, spec, data, model, description, metadata, settings, results, metrics,
              encode_info, timings) -> dict[str, Any]:
    env = environment()
    env["device"] = getattr(model, "device", "cpu")
    return {
        "schema": "mlbench.result/1",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "mlbench_version": __version__,
        "task": {"name": spec.name, "version": spec.version, "format": spec.format,
                 "languages": list(data.languages), "source": spec.source.url or spec.source.dataset,
                 "data": data.files, "subset": data.subset or None},
        "model": {"spec": cfg.model, "name": getattr(model, "name", cfg.model), "encoder": description,
                  "metadata": metadata},
        "run": {"command": cfg.command, "kinds": sorted({s.kind for s in settings}), "metrics": metrics,
                "candidate_text": cfg.candidate_text, "tie_rule": "score desc, then doc id desc (trec_eval)",
                "encoding": encode_info, "timings_s": {k: round(v, 3) for k, v in timings.items()}},
        "environment": env,
        "settings": setting_entries(results),
        "aggregates": aggregate(results, metrics),
        "per_query": {},
    }
