"""mlbench as a sentence-transformers evaluator: the figures of ``mlbench run`` at every evaluation of
a training loop (``SentenceTransformerTrainer(evaluator=...)``, ``SequentialEvaluator``, the legacy
``fit``), from the same code.

The task's data loads once, in ``__init__``; a bad task, language, kind or metric is an
:class:`~mlbench.errors.MlbenchError` there, naming the value. Each call encodes every unique text
of the slice once with the model as it is at that step (the model's prompts applied as ``mlbench
run`` applies them: :class:`~mlbench.encoders.sentence_transformers.SentenceTransformerEncoder`),
in memory only (the weights change between calls, so nothing goes to the embedding cache), and
scores every setting with the run path's own :func:`mlbench.pipeline.run.score_task`. It returns
plain floats named ``{name}_{kind}_{metric}`` (macro over the kind's settings: mono, cross, multi),
``{name}_rank_distance`` (lower is better) and ``{name}_own_lang@10``; ``name`` defaults to
``mlbench_{task}``; ``query_prompt`` / ``candidate_prompt`` replace the model's prompts (the reference
trainer passes the prompts it trains with, as ``mlbench run`` applies a checkpoint's), so the trainer logs ``eval_mlbench_xquad-r_multi_map``. With an
``output_path`` (the trainer gives ``OUTPUT_DIR/eval``) every call also writes an ordinary result
file under ``{output_path}/mlbench/step-{steps}/``, recording the step and epoch, which
``compare``, ``check``, ``sweep``, ``report`` and ``leaderboard`` read.

The base class is sentence-transformers' ``BaseEvaluator`` (version 6) or ``SentenceEvaluator``
(versions 3 to 5), whichever the installed version has.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlbench.data.lareqa import LareqaOptions
from mlbench.embedding.units import LocalEngine
from mlbench.encoders.sentence_transformers import from_model
from mlbench.errors import MlbenchError
from mlbench.metrics import RANK_DISTANCE, metric, own_lang
from mlbench.pipeline.run import RunConfig, load_data, plan, score_task, write_task
from mlbench.results.model import Result
from mlbench.task import KINDS


def _base() -> type:
    try:  # sentence-transformers >= 6
        from sentence_transformers.base.evaluation import BaseEvaluator

        return BaseEvaluator
    except ImportError:  # 3 to 5
        from sentence_transformers.evaluation import SentenceEvaluator

        return SentenceEvaluator


MODEL_SPEC = "sentence-transformers model in training"


def parse_primary(primary: str, kinds: list[str], metrics: list[str]) -> tuple[str, bool]:
    """``KIND:METRIC`` (``multi:map``), ``rank_distance`` or ``own_lang@10``: the unprefixed key of
    the returned figures, and whether higher is better."""
    if primary in (RANK_DISTANCE, own_lang(10)):
        if "multi" not in kinds:
            raise MlbenchError(f"primary {primary!r} is measured in the multilingual pool; the slice has no multi settings")
        return primary, metric(primary).better == "higher"
    kind, sep, name = primary.partition(":")
    if not sep or kind not in KINDS:
        raise MlbenchError(f"primary {primary!r} is not KIND:METRIC (e.g. multi:map), rank_distance or own_lang@10")
    if kind not in kinds:
        raise MlbenchError(f"primary {primary!r}: the slice has no {kind} settings (it has: {', '.join(kinds)})")
    if name not in metrics:
        raise MlbenchError(f"primary {primary!r}: metric {name!r} is not among the evaluated metrics ({', '.join(metrics)})")
    return f"{kind}_{name}", metric(name).higher_is_better


def figures(result: Result) -> dict[str, float]:
    """The flat figures of a result: each metric per kind, the rank distance, own-language share@10."""
    out = {f"{kind}_{m}": float(v) for kind, values in result.aggregates.kinds.items()
           for m, v in values.items() if v is not None}
    head = result.headline(result.main_metric)
    if head["rank_distance"] is not None:
        out[RANK_DISTANCE] = float(head["rank_distance"])
    if head["own@10"] is not None:
        out[own_lang(10)] = float(head["own@10"])
    return out


class MlbenchEvaluator(_base()):  # type: ignore[misc]
    """See the module docstring. ``kinds``: a comma list or a list (default: the task's);
    ``metrics``: default the task's; ``batch_size``: the most texts per encoding batch (batches are
    otherwise cut by tokens, as in ``mlbench run``)."""

    def __init__(self, task: str = "xquad-r", langs: list[str] | str | None = None,
                 kinds: list[str] | str | None = None, max_articles: int | None = None,
                 metrics: list[str] | str | None = None, name: str | None = None, primary: str | None = None,
                 data_dir: Path | str | None = None, batch_size: int | None = None,
                 tasks_dirs: list[Path] | None = None, query_prompt: str | None = None,
                 candidate_prompt: str | None = None) -> None:
        super().__init__()
        listed = (lambda v: [x.strip() for x in v.split(",") if x.strip()] if isinstance(v, str) else v)
        kinds_list = listed(kinds)
        self.cfg = RunConfig(model=MODEL_SPEC, tasks=[task], langs=listed(langs),
                             kinds=",".join(kinds_list) if kinds_list else None, metrics=listed(metrics),
                             data_dir=Path(data_dir) if data_dir else None, tasks_dirs=tasks_dirs,
                             lareqa=LareqaOptions(max_articles=max_articles), cache=False)
        self.plan = plan(self.cfg)
        (task_plan,) = self.plan.tasks
        self.loaded = load_data(task_plan)
        self.task = task_plan.spec.name
        self.name = name if name is not None else f"mlbench_{self.task}"
        present = sorted({s.kind for s in self.loaded.settings}, key=KINDS.index)
        if primary is None:  # the task's main metric in the widest pool the slice has
            primary = f"{present[-1]}:{task_plan.main_metric}"
        self.primary_metric, self.greater_is_better = parse_primary(primary, present,
                                                                    [m.name for m in task_plan.metrics])
        if batch_size is not None and batch_size <= 0:
            raise MlbenchError(f"batch_size must be positive, got {batch_size}")
        self.batch_size = batch_size
        self.prompts = {"query_prompt": query_prompt, "candidate_prompt": candidate_prompt}  # None: the model's own
        self.last: Result | None = None  # the result of the latest call

    def __call__(self, model: Any, output_path: str | None = None, epoch: float = -1, steps: int = -1
                 ) -> dict[str, float]:
        encoder = from_model(model, max_batch=self.batch_size, **self.prompts)
        description = encoder.describe()
        result, values = score_task(self.cfg, self.loaded, encoder, description, self.plan, LocalEngine(encoder))
        result.model.metadata = {**result.model.metadata, "step": int(steps)}
        result.run.training = {"step": int(steps), "epoch": float(epoch)}
        if output_path is not None:
            out = write_task(self.cfg, result, values, Path(output_path) / "mlbench" / f"step-{int(steps)}")
            result = out.result
        self.last = result
        metrics = self.prefix_name_to_metrics(figures(result), self.name)
        self.store_metrics_in_model_card_data(model, metrics, epoch, steps)
        return metrics

    @property
    def description(self) -> str:
        return f"mlbench {self.task}"
