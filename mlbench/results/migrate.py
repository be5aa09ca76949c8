"""Result files of earlier schemas read as the current one, and the check of a result's JSON.

``mlbench.result/1`` (every file before the typed :class:`~mlbench.results.model.Result`) differs
from ``/2`` in four ways, each undone here:

- the **slice** was not recorded; it is what those versions compared: task and version, the
  languages, the kinds of the settings, ``task.subset``'s ``max_articles`` / ``max_queries`` /
  ``split``, a MIRACL pool subset's description, and the candidate text;
- the **loader's facts** (``comparable_with_official``, ``not_comparable_because``, ``pool_subset``,
  ``corpus``, ``qrels_outside_pool``) sat at the top of ``run``; they move to ``run.loader``;
- the oldest files have no ``task.main_metric``: it is the task's declared main metric when the
  task is known and the result has it, else ``map`` when the result has it, else its first metric;
- ``task.mteb`` (the MTEB task the task file says it is) and ``task.query_languages`` did not
  exist: they come from the task file when it is known, and from the settings.

Nothing else changes meaning, so the figures read back as written.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from mlbench.errors import MlbenchError
from mlbench.task import parse_setting

LOADER_FACTS = ("comparable_with_official", "not_comparable_because", "pool_subset", "corpus", "qrels_outside_pool")


def _task_file(name: str) -> Any:
    from mlbench.data.tasks import get_task  # results sit above data: the task file may say more

    try:
        return get_task(name)
    except (MlbenchError, TypeError):
        return None


def _names(value: Any) -> list[str]:
    """A /1 field meant as a list of names, read only as far as it is one (check_doc then names
    whatever is wrong with the field itself)."""
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def upgrade(doc: dict[str, Any], where: str) -> dict[str, Any]:
    """A ``/1`` document as ``/2`` (see the module docstring)."""
    doc = copy.deepcopy(doc)
    task, run = doc.get("task"), doc.get("run")
    if not isinstance(task, dict) or not isinstance(run, dict):
        return doc  # check_doc names the field
    subset = task.get("subset") if isinstance(task.get("subset"), dict) else {}
    pool = run.get("pool_subset")
    doc["slice"] = {"task": task.get("name"), "version": task.get("version"),
                    "languages": _names(task.get("languages")), "kinds": sorted(_names(run.get("kinds"))),
                    "max_articles": subset.get("max_articles"), "max_queries": subset.get("max_queries"),
                    "split": subset.get("split"),
                    "pool": pool.get("description") if isinstance(pool, dict) else None,
                    "candidate_text": run.get("candidate_text")}
    facts = {k: run.pop(k) for k in LOADER_FACTS if k in run}
    run["loader"] = facts
    spec = _task_file(task["name"]) if isinstance(task.get("name"), str) else None
    metrics = _names(run.get("metrics"))
    recorded = task.get("main_metric")
    if not (isinstance(recorded, str) and recorded in metrics):
        declared = spec.main_metric if spec is not None else None
        task["main_metric"] = declared if declared in metrics else "map" if "map" in metrics or not metrics else metrics[0]
    task.setdefault("mteb", spec.mteb if spec is not None else None)
    settings = doc.get("settings") if isinstance(doc.get("settings"), list) else []
    task.setdefault("query_languages", sorted({s.get("query_lang") for s in settings if isinstance(s, dict)
                                               and isinstance(s.get("query_lang"), str)}))
    task.setdefault("relevance_level", 1)
    return doc


def is_value(v: Any) -> bool:
    """A metric value in a result file: a number or null."""
    return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))


def is_value_tree(v: Any, depth: int) -> bool:
    """``depth`` levels of string-keyed objects ending in metric values (numbers or null)."""
    if depth == 0:
        return is_value(v)
    return isinstance(v, dict) and all(isinstance(k, str) and is_value_tree(x, depth - 1) for k, x in v.items())


REQUIRED = ("schema", "task", "slice", "model", "run", "environment", "settings", "aggregates", "per_query")


def check_doc(path: str, doc: dict[str, Any]) -> None:
    """The fields everything downstream relies on, with their types; one line naming file and field."""
    for key in REQUIRED:
        if key not in doc:
            raise MlbenchError(f"{path}: missing field '{key}'")
    for key in ("task", "model"):
        if not isinstance(doc[key], dict) or not isinstance(doc[key].get("name"), str):
            raise MlbenchError(f"{path}: field '{key}.name' is missing or not a string")
    for key in ("run", "environment", "aggregates", "slice"):
        if not isinstance(doc[key], dict):
            raise MlbenchError(f"{path}: field '{key}' must be an object")
    if not isinstance(doc["model"].get("spec", ""), str):
        raise MlbenchError(f"{path}: field 'model.spec' must be a string")
    metrics = doc["run"].get("metrics")
    if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics):
        raise MlbenchError(f"{path}: field 'run.metrics' is missing or not a list of metric names")
    langs = doc["task"].get("languages")
    if not isinstance(langs, list) or not all(isinstance(x, str) for x in langs):
        raise MlbenchError(f"{path}: field 'task.languages' is missing or not a list of language codes")
    if not isinstance(doc["task"].get("main_metric", "map"), str):
        raise MlbenchError(f"{path}: field 'task.main_metric' must be a metric name")
    if not isinstance(doc["settings"], list):
        raise MlbenchError(f"{path}: field 'settings' must be a list of objects with 'id' and 'metrics'")
    for i, s in enumerate(doc["settings"]):
        if not isinstance(s, dict):
            raise MlbenchError(f"{path}: field 'settings[{i}]' must be an object")
        for key, ok in (("id", isinstance(s.get("id"), str)), ("kind", s.get("kind") in ("mono", "cross", "multi")),
                        ("query_lang", isinstance(s.get("query_lang"), str)), ("pool", isinstance(s.get("pool"), str)),
                        ("n_queries", type(s.get("n_queries")) is int), ("metrics", is_value_tree(s.get("metrics"), 1))):
            if not ok:
                raise MlbenchError(f"{path}: field 'settings[{i}].{key}' is missing or has the wrong type")
        if type(s.get("n_left_out", 0)) is not int:
            raise MlbenchError(f"{path}: field 'settings[{i}].n_left_out' is missing or has the wrong type")
        try:
            parse_setting(s["id"])
        except MlbenchError as exc:
            raise MlbenchError(f"{path}: field 'settings[{i}].id': {exc}") from None
    agg = doc["aggregates"]
    for key in ("kinds", "query_langs"):
        if key not in agg:
            raise MlbenchError(f"{path}: missing field 'aggregates.{key}'")
    for key, depth in (("kinds", 2), ("query_langs", 3), ("multi_micro", 1)):
        if key in agg and not is_value_tree(agg[key], depth):
            raise MlbenchError(f"{path}: field 'aggregates.{key}' has the wrong shape")
    rd = agg.get("rank_distance", {"macro": None, "query_langs": {}})
    if not isinstance(rd, dict) or "macro" not in rd or not is_value(rd["macro"]):
        raise MlbenchError(f"{path}: field 'aggregates.rank_distance.macro' is missing or not a number")
    if not is_value_tree(rd.get("query_langs", {}), 1):
        raise MlbenchError(f"{path}: field 'aggregates.rank_distance.query_langs' is missing or has the wrong shape")
    _check_bias(path, agg.get("language_bias"))
    for name in ("per_query", "rankings"):
        info = doc.get(name)
        if info is None and name == "rankings":
            continue
        if not isinstance(info, dict) or not isinstance(info.get("file"), str) or not isinstance(info.get("sha256"), str):
            raise MlbenchError(f"{path}: field '{name}' must name the sidecar 'file' and its 'sha256'")
        if info["file"] in ("", ".", "..") or Path(info["file"]).name != info["file"] or "\\" in info["file"]:
            raise MlbenchError(f"{path}: field '{name}.file' must be a file name beside the result file")


def _check_bias(path: str, bias: Any) -> None:
    if bias is None:
        return
    if not isinstance(bias, dict):
        raise MlbenchError(f"{path}: field 'aggregates.language_bias' must be an object")
    for key, value in bias.items():
        if key == "expected_own_share" or not key.startswith("top"):
            continue
        if not isinstance(value, dict):
            raise MlbenchError(f"{path}: field 'aggregates.language_bias.{key}' must be an object")
        if not is_value_tree(value.get("matrix"), 2):
            raise MlbenchError(f"{path}: field 'aggregates.language_bias.{key}.matrix' is missing or has the wrong shape")
        own = value.get("own_share")
        if not isinstance(own, dict) or not is_value(own.get("macro")) or not is_value_tree(own.get("query_langs"), 1):
            raise MlbenchError(f"{path}: field 'aggregates.language_bias.{key}.own_share' is missing or has the wrong shape")
    exp = bias.get("expected_own_share")
    if not isinstance(exp, dict) or not is_value(exp.get("macro")) or not is_value_tree(exp.get("query_langs"), 1):
        raise MlbenchError(f"{path}: field 'aggregates.language_bias.expected_own_share' is missing or has the wrong shape")
