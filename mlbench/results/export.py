"""Results out of mlbench: the long table (tsv/csv) of a result, and TREC run and qrels files of
the rankings it kept (:func:`mlbench.runs.trec.write_trec`)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from mlbench.errors import MlbenchError
from mlbench.files import atomic_open
from mlbench.metrics import RANK_DISTANCE
from mlbench.results.model import Result
from mlbench.runs.run import parse_depth
from mlbench.runs.trec import write_trec

LONG_COLUMNS = ("task", "setting", "kind", "query_lang", "pool_lang", "metric", "value", "n_queries")


def long_rows(result: Result) -> list[tuple]:
    """One row per (setting or aggregate, metric). Aggregates use setting names like
    ``mean(cross)`` and ``mean(cross,de)``."""
    task = result.task.name
    rows: list[tuple] = []
    for s in result.settings:
        for m, v in s.metrics.items():
            rows.append((task, s.id, s.kind, s.query_lang, s.pool, m, v, s.n_queries))
    agg = result.aggregates
    n_by_kind: dict[str, int] = {}
    for s in result.settings:
        n_by_kind[s.kind] = n_by_kind.get(s.kind, 0) + s.n_queries
    for kind, values in agg.kinds.items():
        for m, v in values.items():
            rows.append((task, f"mean({kind})", kind, "*", "*", m, v, n_by_kind.get(kind, 0)))
    for kind, langs in agg.query_langs.items():
        for lang, values in langs.items():
            n = sum(s.n_queries for s in result.settings if s.kind == kind and s.query_lang == lang)
            for m, v in values.items():
                rows.append((task, f"mean({kind},{lang})", kind, lang, "*", m, v, n))
    if agg.multi_micro is not None:
        for m, v in agg.multi_micro.items():
            rows.append((task, "micro(multi)", "multi", "*", "*", m, v, n_by_kind.get("multi", 0)))
    if agg.rank_distance is not None:
        rows.append((task, "mean(multi)", "multi", "*", "*", RANK_DISTANCE, agg.rank_distance["macro"],
                     n_by_kind.get("multi", 0)))
    return rows


def export_table(result: Result, fmt: str, out: Path | None) -> str | None:
    if fmt not in ("tsv", "csv"):
        raise MlbenchError(f"--format {fmt!r} is not one of tsv, csv")
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter="\t" if fmt == "tsv" else ",", lineterminator="\n")
    writer.writerow(LONG_COLUMNS)
    writer.writerows(long_rows(result))
    if out is None:
        return buf.getvalue()
    with atomic_open(Path(out), "w") as fh:
        fh.write(buf.getvalue())
    return None


def export_trec(result: Result, out_dir: Path, depth: str | int | None = "full") -> list[Path]:
    """TREC run and qrels files of a result's kept rankings, cut at ``depth`` (``full``: all kept);
    a depth beyond what was kept is refused, never padded."""
    want = parse_depth(depth, "--depth")
    kept = result.rankings_depth
    rankings = result.rankings()
    if want is not None and kept is not None and want > kept:
        raise MlbenchError(f"{result.where}: --depth {want} is beyond the {kept} candidates per query kept "
                           "(field rankings.depth)")
    return write_trec(Path(out_dir), result.task.name, result.model.name, rankings, want)
