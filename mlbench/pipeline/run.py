"""``mlbench run`` as a function: the one run path for every task.

1. **Plan** (:func:`plan`): every option checked once, before any work: the tasks, their loaders and
   option groups, languages, kinds, metrics against the task and against the retrieval backend, the
   backend's own options, the model's metadata.
2. **Load** the model once for all tasks, then per task: **load** the data (its loader),
   enumerate the **settings** (query language x pool), **encode** every text once
   (:mod:`mlbench.embedding`), **retrieve** with the task's backend (:mod:`mlbench.retrieval`),
   build the **result document** (:mod:`mlbench.results.document`) and **write** it with its
   per-query sidecar (and TREC files when asked).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mlbench.data.corpus import CorpusOptions
from mlbench.data.lareqa import LareqaOptions
from mlbench.data.loader import LoadRequest
from mlbench.data.loaders import get_loader, load, options_of, request, slice_of
from mlbench.data.tasks import get_task
from mlbench.embedding.embed import embed
from mlbench.embedding.store import DEFAULT_CHUNK_ROWS
from mlbench.embedding.units import Engine
from mlbench.engines import EngineOptions, open_engine
from mlbench.encoders.base import Encoder, PoolScorer
from mlbench.encoders.checkpoint import checkpoint_metadata
from mlbench.encoders.registry import DEFAULT_MODEL, EncoderOptions, check_spec, load_model, st_backed
from mlbench.errors import MlbenchError
from mlbench.metrics import Metric, parse_metrics
from mlbench.metrics.measures import measure_parameters
from mlbench.options import OptionGroup
from mlbench.pipeline.output import RunOutput
from mlbench.data.model import TaskData
from mlbench.results.build import RunFacts, build_result
from mlbench.results.model import Result
from mlbench.results.values import SettingValues
from mlbench.retrieval.base import FULL_DEPTH, Backend, Job, SearchOptions
from mlbench.retrieval.choose import choose
from mlbench.runs.run import FULL, parse_depth
from mlbench.runs.trec import write_trec
from mlbench.task import DEFAULT_TASK, Setting, TaskSpec, enumerate_settings, parse_kinds

ProgressStart = Callable[[str, int], Callable[[int], None]]


@dataclass
class RunConfig:
    """What ``mlbench run`` does. Options of one part of the pipeline are grouped: ``encoder``
    (how the model is built), ``lareqa`` and ``corpus`` (the two loaders' options: a group given to
    a task of the other format is refused by flag), ``search`` (the retrieval backend), ``engine``
    (where candidates are encoded: local, processes or Ray, :mod:`mlbench.engines`)."""

    model: str = DEFAULT_MODEL
    tasks: list[str] = field(default_factory=lambda: [DEFAULT_TASK])
    out_dir: Path = Path("results")
    kinds: str | None = None  # "mono,cross,multi"
    langs: list[str] | None = None
    max_queries: int | None = None
    metrics: list[str] | None = None  # default: the task's
    data_dir: Path | None = None
    tasks_dirs: list[Path] | None = None
    cache_dir: Path | None = None  # text embedding cache (default MLBENCH_HOME/embeddings)
    cache: bool = True  # False: vectors kept in memory only (a model that changes between calls: training)
    store_dir: Path | None = None  # corpus embedding stores (default MLBENCH_HOME/corpus)
    store_chunk_rows: int = DEFAULT_CHUNK_ROWS  # passages per store chunk (the most work an interruption loses)
    sampling: str | None = None  # checkpoint metadata (else from the folder's mlbench.json)
    base_model: str | None = None
    step: int | None = None
    trec_dir: Path | None = None
    trec_depth: int = 100
    keep_rankings: int | str | None = None  # keep the top N ("full": the whole pool) in the rankings sidecar
    command: str | None = None  # the command line that asked for this run, recorded in results
    encoder: EncoderOptions = field(default_factory=EncoderOptions)
    lareqa: LareqaOptions = field(default_factory=LareqaOptions)
    corpus: CorpusOptions = field(default_factory=CorpusOptions)
    loader_options: list[OptionGroup] = field(default_factory=list)  # other formats' groups (entry-point loaders)
    loader_args: dict[str, Any] = field(default_factory=dict)  # --loader-arg: the task's own loader's options by name
    search: SearchOptions = field(default_factory=SearchOptions)
    engine: EngineOptions = field(default_factory=EngineOptions)

    def loader_groups(self) -> tuple[OptionGroup, ...]:
        """Every loader option group the run was given; each task takes its own loader's."""
        return (self.lareqa, self.corpus, *self.loader_options)


@dataclass
class TaskPlan:
    spec: TaskSpec
    request: LoadRequest
    kinds: tuple[str, ...]  # the kinds of the settings the run will have
    metrics: list[Metric]
    main_metric: str
    backend: Backend

    @property
    def slice(self) -> dict[str, Any]:
        """The slice the result will record (:func:`mlbench.data.loaders.slice_of`), known before
        any work, so that a run can be refused as unlike a leaderboard before it encodes."""
        return slice_of(self.request, self.kinds)


@dataclass
class Plan:
    tasks: list[TaskPlan]
    metadata: dict[str, Any]
    keep: int  # how deep rankings are kept (0: not at all), see _keep


def plan(cfg: RunConfig, model: Encoder | PoolScorer | None = None) -> Plan:
    """Check every option of ``cfg`` once, before any work; a problem is a one-line MlbenchError."""
    if not cfg.tasks:
        raise MlbenchError("no task given (--task)")
    asked = parse_metrics(cfg.metrics)
    if cfg.trec_depth <= 0:
        raise MlbenchError(f"--trec-depth must be positive, got {cfg.trec_depth}")
    if cfg.store_chunk_rows <= 0:
        raise MlbenchError(f"store chunk rows must be positive, got {cfg.store_chunk_rows}")
    keep = _keep(cfg)
    cfg.search.check()
    _check_engine(cfg, model)
    specs = [get_task(name, cfg.tasks_dirs) for name in cfg.tasks]  # an unknown task fails before any work
    plans = []
    for spec in specs:
        req = request(spec, cfg.langs, cfg.data_dir, cfg.max_queries, options_of(spec, cfg.loader_groups(), cfg.loader_args))
        loader = get_loader(spec.format)
        backend = choose(cfg.search, in_memory=not loader.streamed)
        metrics = asked or parse_metrics(list(spec.metrics))
        main = spec.main_metric if spec.main_metric in [m.name for m in metrics] else metrics[0].name
        backend.check(metrics, model, keep)
        kinds = parse_kinds(cfg.kinds, loader.kinds(req))
        plans.append(TaskPlan(spec, req, kinds, metrics, main, backend))
    if model is None:
        check_spec(cfg.model)
    local = Path(cfg.model) if Path(cfg.model).is_dir() else None
    return Plan(plans, checkpoint_metadata(local, cfg.sampling, cfg.base_model, cfg.step), keep)


def with_checkpoint_prompts(options: EncoderOptions, metadata: dict[str, Any]) -> EncoderOptions:
    """A checkpoint is evaluated with the prompts it was trained with (its ``mlbench.json``), unless
    the run names its own (a prompt, even an empty one, or a prompt name)."""
    trained = metadata.get("prompts") or {}
    given = (options.query_prompt, options.candidate_prompt, options.query_prompt_name, options.candidate_prompt_name)
    if not trained or any(v is not None for v in given):
        return options
    return replace(options, query_prompt=trained.get("query", ""), candidate_prompt=trained.get("candidate", ""))


def _check_engine(cfg: RunConfig, model: Encoder | PoolScorer | None) -> None:
    """The engine options, and whether the engine can build the model: workers build it from
    ``cfg.model`` (never from a model object given to :func:`run`)."""
    cfg.engine.check()
    if cfg.engine.engine == "local":
        return
    if model is not None:
        raise MlbenchError(f"--engine {cfg.engine.engine}: its workers build the model from --model {cfg.model!r}; a "
                           "model object passed to run() works with --engine local only")
    if cfg.engine.devices and not st_backed(cfg.model):
        raise MlbenchError(f"--devices applies to sentence-transformers models (hub ids, local folders, minilm), not "
                           f"to the plugin encoder {cfg.model!r}")
    if cfg.engine.engine == "ray" and cfg.engine.ray_address:
        from mlbench.engines.rayengine import check_reachable

        check_reachable(cfg.engine.ray_address)


def _keep(cfg: RunConfig) -> int:
    """How deep the run keeps each ranking (0: not at all): for --trec-dir and --keep-rankings."""
    keep = cfg.trec_depth if cfg.trec_dir else 0
    if cfg.keep_rankings is not None:
        depth = parse_depth(cfg.keep_rankings, "--keep-rankings")
        keep = max(keep, FULL_DEPTH if depth is None else depth)
    return keep


def run(cfg: RunConfig, progress: ProgressStart | None = None,
        model: Encoder | PoolScorer | None = None) -> list[RunOutput]:
    """Evaluate one model on each task of ``cfg``; returns the written result files.

    ``model`` may be passed already built (the API for wrapping or instrumenting an encoder; a
    plain ``SentenceTransformer`` is wrapped with ``cfg.encoder``'s options); otherwise
    ``cfg.model`` is resolved through the encoder registry."""
    from mlbench.encoders.sentence_transformers import from_model, is_sentence_transformer

    if is_sentence_transformer(model):
        opts = {k: v for k, v in cfg.encoder.st_options().items() if k not in ("device", "revision", "trust_remote_code")}
        model = from_model(model, **opts)
    the_plan = plan(cfg, model)
    for backend in {id(p.backend): p.backend for p in the_plan.tasks}.values():
        if hasattr(backend, "warm_up"):  # kernels load while the model and data do
            backend.warm_up()
    t_load = time.perf_counter()
    encoder = with_checkpoint_prompts(cfg.encoder, the_plan.metadata)
    model = model or load_model(cfg.model, encoder)
    for p in the_plan.tasks:  # the model type is known now: a lexical model on an approximate index
        p.backend.check(p.metrics, model, the_plan.keep)
    load_s = time.perf_counter() - t_load
    description = model.describe()
    if cfg.engine.engine != "local" and not isinstance(model, Encoder):
        raise MlbenchError(f"--engine {cfg.engine.engine} encodes with dense encoders; {cfg.model} is lexical "
                           "(it indexes the pool in one process): use --engine local")
    engine = open_engine(cfg.engine, cfg.model, encoder, model, description)  # workers start on first use
    try:
        return [_run_task(cfg, p, model, description, the_plan, load_s, progress, engine) for p in the_plan.tasks]
    finally:
        engine.close()


@dataclass
class Loaded:
    """One task's data, loaded once (and held by a training-loop evaluator across its calls), with
    the settings the run scores and the seconds the load took."""

    plan: TaskPlan
    data: TaskData
    settings: list[Setting]
    seconds: float


def load_data(p: TaskPlan) -> Loaded:
    """The task's data in the form its backend reads, and its settings; the loader's warnings go to
    stderr once."""
    t0 = time.perf_counter()
    data = p.backend.prepare(load(p.request))
    settings = enumerate_settings(data.query_langs, tuple(k for k in p.kinds if k in data.kinds), data.pool_langs)
    for line in data.warnings:
        sys.stderr.write(f"mlbench: warning: {line}\n")
    return Loaded(p, data, settings, time.perf_counter() - t0)


def score_task(cfg: RunConfig, loaded: Loaded, model: Encoder | PoolScorer, description: dict[str, Any],
               the_plan: Plan, engine: Engine, progress: ProgressStart | None = None,
               timings: dict[str, float] | None = None) -> tuple[Result, list[SettingValues]]:
    """Encode what the task needs (once per unique text), retrieve, score and build the result: the
    one scoring path of ``mlbench run`` and of the training-loop evaluator."""
    p, data = loaded.plan, loaded.data
    if any(m.base == "mrc" for m in p.metrics) and not data.parallel:
        raise MlbenchError(f"metric mrc pairs a query with its translations; {p.spec.name}'s queries are not parallel "
                           "across languages")
    t1 = time.perf_counter()
    vectors = None
    if isinstance(model, Encoder):
        vectors = embed(data, model, description, progress, cfg.cache_dir, cfg.store_dir, cfg.store_chunk_rows,
                        engine, cache=cfg.cache)
    t2 = time.perf_counter()
    metrics = [m.name for m in p.metrics]
    got = p.backend.run(Job(data, loaded.settings, metrics, model, vectors, the_plan.keep), progress)
    facts = RunFacts(command=cfg.command, model_spec=cfg.model, model_name=getattr(model, "name", cfg.model),
                     description=description, metadata=the_plan.metadata, device=getattr(model, "device", "cpu"),
                     metrics=metrics, main_metric=p.main_metric, encoding=vectors.info if vectors else {},
                     engine=engine.describe(), search=got.info, measures=measure_parameters(metrics),
                     timings={**(timings or {}), "load_data_s": loaded.seconds, "encode_s": t2 - t1, **got.timings},
                     kept_depth=FULL if the_plan.keep >= FULL_DEPTH else the_plan.keep)
    return build_result(data, got.results, facts, p.slice), got.results


def write_task(cfg: RunConfig, result: Result, values: list[SettingValues], out_dir: Path | None = None) -> RunOutput:
    """The result file (and TREC files when asked) of one task."""
    if cfg.trec_dir:
        write_trec(cfg.trec_dir, result.task.name, result.model.name,
                   {v.setting.id: (v.run, v.qrels) for v in values if v.run is not None}, cfg.trec_depth)
    if cfg.keep_rankings is None:  # kept for the TREC files only
        for v in values:
            v.run = v.qrels = None
    return RunOutput(result.to_disk(out_dir or cfg.out_dir), result, values)


def _run_task(cfg: RunConfig, p: TaskPlan, model: Encoder | PoolScorer, description: dict[str, Any],
              the_plan: Plan, load_s: float, progress: ProgressStart | None, engine: Engine) -> RunOutput:
    result, values = score_task(cfg, load_data(p), model, description, the_plan, engine, progress,
                                {"load_model_s": load_s})
    return write_task(cfg, result, values)
