"""Results out of mlbench: the long table (tsv/csv) of a result file, and TREC run and qrels files
of the rankings a run kept."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from mlbench.errors import MlbenchError
from mlbench.files import atomic_open
from mlbench.results.files import LoadedResult
from mlbench.retrieval.base import SettingResult

LONG_COLUMNS = ("task", "setting", "kind", "query_lang", "pool_lang", "metric", "value", "n_queries")


def long_rows(doc: dict[str, Any]) -> list[tuple]:
    """One row per (setting or aggregate, metric). Aggregates use setting names like
    ``mean(cross)`` and ``mean(cross,de)``."""
    task = doc["task"]["name"]
    rows: list[tuple] = []
    for s in doc["settings"]:
        for m, v in s["metrics"].items():
            rows.append((task, s["id"], s["kind"], s["query_lang"], s["pool"], m, v, s["n_queries"]))
    agg = doc["aggregates"]
    n_by_kind: dict[str, int] = {}
    for s in doc["settings"]:
        n_by_kind[s["kind"]] = n_by_kind.get(s["kind"], 0) + s["n_queries"]
    for kind, values in agg.get("kinds", {}).items():
        for m, v in values.items():
            rows.append((task, f"mean({kind})", kind, "*", "*", m, v, n_by_kind.get(kind, 0)))
    for kind, langs in agg.get("query_langs", {}).items():
        for lang, values in langs.items():
            n = sum(s["n_queries"] for s in doc["settings"] if s["kind"] == kind and s["query_lang"] == lang)
            for m, v in values.items():
                rows.append((task, f"mean({kind},{lang})", kind, lang, "*", m, v, n))
    if "multi_micro" in agg:
        for m, v in agg["multi_micro"].items():
            rows.append((task, "micro(multi)", "multi", "*", "*", m, v, n_by_kind.get("multi", 0)))
    if "rank_distance" in agg:
        rd = agg["rank_distance"]
        rows.append((task, "mean(multi)", "multi", "*", "*", "rank_distance", rd["macro"], n_by_kind.get("multi", 0)))
    return rows


def export_table(result: LoadedResult, fmt: str, out: Path | None) -> str | None:
    if fmt not in ("tsv", "csv"):
        raise MlbenchError(f"--format {fmt!r} is not one of tsv, csv")
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter="\t" if fmt == "tsv" else ",", lineterminator="\n")
    writer.writerow(LONG_COLUMNS)
    writer.writerows(long_rows(result.doc))
    if out is None:
        return buf.getvalue()
    with atomic_open(Path(out), "w") as fh:
        fh.write(buf.getvalue())
    return None


def write_trec(trec_dir: Path, task: str, tag: str, results: list[SettingResult],
               qrels: dict[str, dict[str, list[str]]], depth: int) -> None:
    """TREC run and qrels files per setting (``{task}.{q}-{pool}.run``; pool ``all`` for ``*``):
    the top ``depth`` of each kept ranking, and the relevant ids of each query in the pool."""
    for r in results:
        if r.top_ids is None:
            continue
        name = f"{task}.{r.setting.query_lang}-{'all' if r.setting.pool == '*' else r.setting.pool}"
        with atomic_open(Path(trec_dir) / f"{name}.run", "w") as fh:
            for qid, ids, scores in zip(r.query_ids, r.top_ids[:, :depth], r.top_scores[:, :depth]):
                for rank, (doc, score) in enumerate(zip(ids, scores), 1):
                    fh.write(f"{qid} Q0 {doc} {rank} {float(score):.8g} {tag}\n")
        with atomic_open(Path(trec_dir) / f"{name}.qrels", "w") as fh:
            for qid in r.query_ids:
                for doc in sorted(qrels[r.setting.id][qid]):
                    fh.write(f"{qid} 0 {doc} 1\n")
