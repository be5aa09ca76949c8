"""Building a :class:`~mlbench.results.model.Result`: the one builder for every task, backend and
run path (``mlbench run``, ``mlbench evaluate``, ``mlbench fuse``, the training-loop evaluator).

A result holds what was evaluated (the task, its data's provenance and the slice), with what
(model, encoder description, checkpoint metadata), how (command, kinds, metrics, candidate text,
tie rule, the loader's facts, the backend and its search, the encoding, timings), where
(environment), and the numbers: each setting's means and every aggregate, computed here from
the per-query values, which stay with the result for its sidecar.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from mlbench import __version__
from mlbench.data.model import TaskData
from mlbench.provenance import environment
from mlbench.results.aggregate import aggregate
from mlbench.results.model import Aggregates, ModelInfo, Result, RunInfo, SettingScores, TaskInfo
from mlbench.runs.run import FULL
from mlbench.results.values import SettingValues
from mlbench.runs.ties import TIE_RULE


@dataclass
class RunFacts:
    """How a task was run, beside its data and values."""

    command: str | None
    model_spec: str
    model_name: str
    description: dict[str, Any]
    metadata: dict[str, Any]
    device: str
    metrics: list[str]
    main_metric: str
    encoding: dict[str, Any] = field(default_factory=dict)
    search: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    engine: dict[str, Any] = field(default_factory=dict)  # where candidates were encoded (mlbench.engines)
    measures: dict[str, dict[str, Any]] = field(default_factory=dict)  # parameters of parameterised measures
    kept_depth: int | str = FULL  # how deep kept rankings go (a number, or "full")


def setting_scores(values: list[SettingValues]) -> list[SettingScores]:
    """Each setting's means, in the order scored."""
    return [SettingScores(v.setting.id, v.setting.kind, v.setting.query_lang, v.setting.pool, len(v.query_ids),
                          v.n_left_out, v.means()) for v in values]


def _run(facts: RunFacts, values: list[SettingValues], candidate_text: str | None, loader: dict[str, Any]) -> RunInfo:
    return RunInfo(command=facts.command, kinds=sorted({v.setting.kind for v in values}), metrics=list(facts.metrics),
                   measures=dict(facts.measures), candidate_text=candidate_text, tie_rule=TIE_RULE,
                   depth=facts.search.get("depth"), loader=dict(loader), search=facts.search, encoding=facts.encoding,
                   engine=facts.engine, timings_s={k: round(v, 3) for k, v in facts.timings.items()})


def _finish(result: Result, values: list[SettingValues], facts: RunFacts) -> Result:
    result._values, result._kept_depth = values, facts.kept_depth
    return result


def build_result(data: TaskData, values: list[SettingValues], facts: RunFacts, slice_: dict[str, Any]) -> Result:
    env = environment()
    env["device"] = facts.device
    spec = data.spec
    task = TaskInfo(name=spec.name, version=spec.version, format=spec.format, main_metric=facts.main_metric,
                    languages=list(data.pool_langs), query_languages=list(data.query_langs), source=data.source,
                    data=data.files, subset=data.subset or None, relevance_level=data.level, mteb=spec.mteb)
    result = Result(task=task, model=ModelInfo(facts.model_spec, facts.model_name, facts.description, facts.metadata),
                    run=_run(facts, values, data.candidate_text, data.facts), settings=setting_scores(values),
                    aggregates=Aggregates(**aggregate(values, facts.metrics, micro=data.parallel)),
                    slice=dict(slice_), environment=env, created=_now(), mlbench_version=__version__)
    return _finish(result, values, facts)


def derived_result(base: Result, values: list[SettingValues], facts: RunFacts, derived_from: dict[str, Any]) -> Result:
    """A result made from other results of one task and slice (``mlbench fuse``): the task, slice
    and loader facts are those of ``base`` (the inputs agree on them), the numbers are ``values``',
    and ``run.derived_from`` says how it was made."""
    env = environment()
    env["device"] = facts.device
    run = _run(facts, values, base.run.candidate_text, base.run.loader)
    run.derived_from = derived_from
    result = Result(task=replace(base.task, main_metric=facts.main_metric),
                    model=ModelInfo(facts.model_spec, facts.model_name, facts.description, facts.metadata), run=run,
                    settings=setting_scores(values),
                    aggregates=Aggregates(**aggregate(values, facts.metrics, micro=base.aggregates.multi_micro is not None)),
                    slice=dict(base.slice), environment=env, created=_now(), mlbench_version=__version__)
    return _finish(result, values, facts)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
