"""The result document: one builder for every task and backend (schema in docs/results.md).

The document holds what was evaluated (task and data provenance, the slice), with what (model,
encoder description, checkpoint metadata), how (command, kinds, metrics and the main metric, the
candidate text, the tie rule, the backend and its search, the encoding, timings), where
(environment), and the numbers: the settings with their means and every aggregate. Per-query
values go to the sidecar (:mod:`mlbench.results.files`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from mlbench import __version__
from mlbench.data.model import TaskData
from mlbench.provenance import environment
from mlbench.results.aggregate import aggregate
from mlbench.retrieval.base import SettingResult
from mlbench.retrieval.ties import TIE_RULE

SCHEMA = "mlbench.result/1"


@dataclass
class RunFacts:
    """How a task was run, beside its data and results."""

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


def setting_entries(results: list[SettingResult]) -> list[dict[str, Any]]:
    """The ``settings`` list of a result file: one object per setting with its metric means."""
    return [{"id": r.setting.id, "kind": r.setting.kind, "query_lang": r.setting.query_lang,
             "pool": r.setting.pool, "n_queries": len(r.query_ids), "n_left_out": r.n_left_out,
             "metrics": {m: (float(v.mean()) if len(v) else None) for m, v in r.per_query.items()}}
            for r in results]


def build_derived_document(base: dict[str, Any], results: list[SettingResult], facts: RunFacts,
                           derived_from: dict[str, Any]) -> dict[str, Any]:
    """The document of a result made from other results of one task and slice (``mlbench fuse``):
    the task section and the loader's facts are those of ``base`` (the inputs agree on them),
    the numbers are ``results``', and ``run.derived_from`` says how it was made."""
    env = environment()
    env["device"] = facts.device
    loader_facts = {k: v for k, v in base["run"].items()
                    if k in ("candidate_text", "comparable_with_official", "not_comparable_because", "pool_subset",
                             "corpus", "qrels_outside_pool")}
    run: dict[str, Any] = {"command": facts.command, "kinds": sorted({r.setting.kind for r in results}),
                           "metrics": facts.metrics, "tie_rule": TIE_RULE, **loader_facts}
    if "depth" in facts.search:
        run["depth"] = facts.search["depth"]
    run.update({"search": facts.search, "encoding": facts.encoding, "derived_from": derived_from,
                "timings_s": {k: round(v, 3) for k, v in facts.timings.items()}})
    task = dict(base["task"], main_metric=facts.main_metric)
    return {
        "schema": SCHEMA,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "mlbench_version": __version__,
        "task": task,
        "model": {"spec": facts.model_spec, "name": facts.model_name, "encoder": facts.description,
                  "metadata": facts.metadata},
        "run": run,
        "environment": env,
        "settings": setting_entries(results),
        "aggregates": aggregate(results, facts.metrics, micro="multi_micro" in base["aggregates"]),
        "per_query": {},
    }


def build_document(data: TaskData, results: list[SettingResult], facts: RunFacts) -> dict[str, Any]:
    env = environment()
    env["device"] = facts.device
    spec = data.spec
    run: dict[str, Any] = {"command": facts.command, "kinds": sorted({r.setting.kind for r in results}),
                           "metrics": facts.metrics, "candidate_text": data.candidate_text, "tie_rule": TIE_RULE}
    if "depth" in facts.search:
        run["depth"] = facts.search["depth"]
    run.update(data.run_info)
    run.update({"search": facts.search, "encoding": facts.encoding, "engine": facts.engine,
                "timings_s": {k: round(v, 3) for k, v in facts.timings.items()}})
    return {
        "schema": SCHEMA,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "mlbench_version": __version__,
        "task": {"name": spec.name, "version": spec.version, "format": spec.format, "main_metric": facts.main_metric,
                 "languages": list(data.languages), "source": data.source, "data": data.files,
                 "subset": data.subset or None},
        "model": {"spec": facts.model_spec, "name": facts.model_name, "encoder": facts.description,
                  "metadata": facts.metadata},
        "run": run,
        "environment": env,
        "settings": setting_entries(results),
        "aggregates": aggregate(results, facts.metrics, micro=data.parallel),
        "per_query": {},
    }
