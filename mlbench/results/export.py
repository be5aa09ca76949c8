"""Results out of mlbench: the long table (tsv/csv) of a result file, and TREC run and qrels files
of the rankings a run kept."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np

from mlbench.errors import MlbenchError
from mlbench.files import atomic_open
from mlbench.results.files import LoadedResult
from mlbench.results.rankings import Ranking
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


def trec_name(task: str, setting_id: str) -> str:
    """``{task}.{q}-{pool}`` (pool ``all`` for ``*``): the stem of a setting's TREC files."""
    q, _, pool = setting_id.partition(">")
    return f"{task}.{q}-{'all' if pool == '*' else pool}"


def rankings_of(results: list[SettingResult], qrels: dict[str, dict[str, list[str]]]) -> dict[str, Ranking]:
    """The rankings a run kept, as :class:`Ranking` per setting id."""
    return {r.setting.id: Ranking(list(r.query_ids), np.asarray(r.top_ids, dtype=str), np.asarray(r.top_scores),
                                  [sorted(qrels[r.setting.id][q]) for q in r.query_ids])
            for r in results if r.top_ids is not None}


def write_trec(trec_dir: Path, task: str, tag: str, rankings: dict[str, Ranking], depth: int | None) -> list[Path]:
    """TREC run and qrels files per setting (``{task}.{q}-{pool}.run`` and ``.qrels``): the top
    ``depth`` (None: all that was kept) of each ranking, in rank order under the tie rule, and the
    relevant ids of each query in the pool. Scores are written so that every two distinct scores
    stay distinct (:meth:`Ranking.score_text`): trec_eval sees mlbench's ties and no others."""
    written = []
    tag = tag.replace(" ", "_") or "mlbench"
    for sid, r in rankings.items():
        name = trec_name(task, sid)
        with atomic_open(Path(trec_dir) / f"{name}.run", "w") as fh:
            for row, qid in enumerate(r.query_ids):
                for rank, (doc, score) in enumerate(r.of(row, depth), 1):
                    fh.write(f"{qid} Q0 {doc} {rank} {r.score_text(score)} {tag}\n")
        with atomic_open(Path(trec_dir) / f"{name}.qrels", "w") as fh:
            for qid, rel in zip(r.query_ids, r.relevant):
                for doc in sorted(rel):
                    fh.write(f"{qid} 0 {doc} 1\n")
        written += [Path(trec_dir) / f"{name}.run", Path(trec_dir) / f"{name}.qrels"]
    return written


def export_trec(result: LoadedResult, out_dir: Path, depth: str | int | None = "full") -> list[Path]:
    """TREC run and qrels files of a result's kept rankings, cut at ``depth`` (``full``: all kept);
    a depth beyond what was kept is refused, never padded."""
    from mlbench.results.rankings import parse_depth

    want = parse_depth(depth, "--depth")
    kept = result.rankings_depth
    rankings = result.rankings()
    if want is not None and kept is not None and want > kept:
        raise MlbenchError(f"{result.path}: --depth {want} is beyond the {kept} candidates per query kept "
                           "(field rankings.depth)")
    tag = result.doc["model"]["name"]
    return write_trec(Path(out_dir), result.task, tag, rankings, want)
