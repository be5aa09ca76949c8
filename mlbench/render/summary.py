"""The summary ``mlbench run`` prints for each result: the main metric per kind and query language,
the rank distance, and the run's facts (encoding, timings, left-out queries, the file)."""

from __future__ import annotations

from typing import Any

from mlbench.metrics import metric as metric_of
from mlbench.render.formats import num
from mlbench.render.tables import Column, TextTable
from mlbench.results.model import Result


def table(result: Result, metric: str | None = None) -> TextTable:
    """``metric`` (default: the result's main metric) per kind and query language, with the rank
    distance (lower is less biased) when the run has it."""
    metric = metric or result.main_metric
    agg = result.aggregates
    kinds = result.kinds
    rd = agg.rank_distance
    cols = [Column("query lang")] + [Column(k, "right") for k in kinds] + ([Column("rank distance", "right")] if rd else [])
    t = TextTable(cols, title=f"{result.task.name} — {result.model.name} ({metric_of(metric).label})")
    for lang in result.task.query_languages or result.task.languages:
        row = [lang] + [num(agg.query_langs.get(k, {}).get(lang, {}).get(metric)) for k in kinds]
        if rd:
            row.append(num(rd["query_langs"].get(lang), 1))
        t.add(*row)
    row = ["macro"] + [num(agg.kinds[k].get(metric)) for k in kinds]
    if rd:
        row.append(num(rd["macro"], 1))
    t.add(*row, style="bold")
    if agg.multi_micro is not None:
        t.caption = (f"LAReQA micro {metric_of(metric).label} over all questions of the multilingual pool: "
                     f"{num(agg.multi_micro.get(metric))}")
    return t


def kinds_table(result: Result) -> TextTable:
    """Every metric of the run per kind (macro over the kind's settings), with the rank distance."""
    agg = result.aggregates
    metrics = result.metrics
    rd = (agg.rank_distance or {}).get("macro")
    t = TextTable([Column("kind")] + [Column(metric_of(m).label, "right") for m in metrics]
                  + ([Column("rank dist.", "right")] if rd is not None else []),
                  title="every metric, macro per kind")
    for k in result.kinds:
        t.add(k, *[num(agg.kinds[k].get(m)) for m in metrics],
              *([num(rd, 1) if k == "multi" else ""] if rd is not None else []))
    return t


def latex(results: list[Result], metric: str | None = None) -> str:
    """The results of a run (one task each) in the layout of Table 1 of arXiv 2408.10536: a row
    per model, ``metric`` per kind and the rank distance, best per column in bold (booktabs)."""
    from mlbench.render.latex import table1

    out = []
    for task in dict.fromkeys(r.task.name for r in results):
        of_task = [r for r in results if r.task.name == task]
        m = metric or of_task[0].main_metric
        rows = [(r.model.name, *(r.aggregates.kinds.get(k, {}).get(m) for k in ("mono", "cross", "multi")),
                 (r.aggregates.rank_distance or {}).get("macro")) for r in of_task]
        out.append(table1(rows, f"{task}: {metric_of(m).label} macro-averaged per setting kind, and the rank "
                          "distance in the multilingual pool", f"tab:mlbench-{task}", metric_of(m).label, digits=4))
    return "\n".join(out)


def facts(result: Result) -> list[str]:
    """One line each: what was encoded, how long each step took, queries left out."""
    lines = []
    enc = result.run.encoding or {}
    if enc:
        lines.append(f"encoded {enc['encoded']} texts, {enc['from_cache']} from cache ({enc['unique_texts']} unique)")
    timings = result.run.timings_s or {}
    if timings:
        lines.append("timings: " + ", ".join(f"{k.removesuffix('_s').replace('_', ' ')} {v:.1f} s" for k, v in timings.items()))
    left = {s.id: s.n_left_out for s in result.settings if s.n_left_out}
    if left:
        lines.append(f"queries left out (no relevant candidate in the pool): {sum(left.values())} over {len(left)} settings")
    return lines


def to_dict(result: Result, path: str) -> dict[str, Any]:
    """The summary as data (``mlbench run --format json``)."""
    metric = result.main_metric
    agg = result.aggregates
    return {"file": path, "task": result.task.name, "model": result.model.name, "main_metric": metric,
            "kinds": {k: v.get(metric) for k, v in agg.kinds.items()}, "kinds_all_metrics": agg.kinds,
            "query_langs": {k: {lang: v.get(metric) for lang, v in langs.items()} for k, langs in agg.query_langs.items()},
            "rank_distance": (agg.rank_distance or {}).get("macro"),
            "multi_micro": (agg.multi_micro or {}).get(metric), "settings": len(result.settings),
            "encoding": result.run.encoding, "timings_s": result.run.timings_s}
