"""Kept rankings: the top of each query's ranking and its qrels, in a sidecar of the result file.

``mlbench run --keep-rankings K`` (``full`` for every candidate of the pool) and every result of
``mlbench evaluate`` and ``mlbench fuse`` write ``{task}--{model slug}.rankings.npz`` beside the
result; the result records its sha256 and depth under ``rankings``. ``mlbench export --format
trec`` and ``mlbench fuse`` read it, so a run can leave mlbench at any depth after the fact.

Layout (an ordinary ``.npz``, no object arrays): ``doc_ids``, every candidate id the file names
(sorted); for setting ``i`` of the result's ``settings``, with its queries in the order of the
per-query sidecar, ``s{i}/docs`` (int32, queries x depth, indices into ``doc_ids``, -1 past the
end of a shorter ranking), ``s{i}/scores`` (float32, NaN past the end; float64 where an external
run's scores do not fit float32 exactly) and the qrels:
``s{i}/rel_rows`` (the query's row) and ``s{i}/rel_docs`` (an index into ``doc_ids``).

The file is kept separate from the per-query sidecar so that results meant to be committed
(leaderboards) stay small and rankings are only kept when asked for (sizes measured in
docs/interop.md).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from mlbench.errors import MlbenchError
from mlbench.files import npz_bytes
from mlbench.retrieval.base import SettingResult

FULL = "full"
LAYOUT = ("doc_ids; s{i}/docs (int32 into doc_ids, -1 padding), s{i}/scores (float32, NaN padding), "
          "s{i}/rel_rows, s{i}/rel_docs for settings[i], queries in per-query order")


@dataclass
class Ranking:
    """One setting's kept rankings: ``ids`` (queries x depth, ``""`` past the end of a shorter
    ranking) in rank order under the tie rule, their ``scores`` (NaN past the end) and each
    query's relevant ids in the setting's pool."""

    query_ids: list[str]
    ids: np.ndarray
    scores: np.ndarray
    relevant: list[list[str]]

    def score_text(self, score: float) -> str:
        """A score as written to a TREC file: 9 significant digits tell every two float32 apart,
        17 every two float64, so trec_eval sees exactly the ties of the ranking."""
        return f"{score:.9g}" if self.scores.dtype == np.float32 else repr(score)

    def of(self, row: int, depth: int | None = None) -> list[tuple[str, float]]:
        """The ranking of one query as (id, score) pairs, cut at ``depth``."""
        ids, scores = self.ids[row], self.scores[row]
        n = int((ids != "").sum())
        n = n if depth is None else min(n, depth)
        return [(str(d), float(s)) for d, s in zip(ids[:n], scores[:n])]


def parse_depth(value: str | int | None, flag: str) -> int | None:
    """``full`` (None: every candidate) or a positive number."""
    if value is None or value == FULL:
        return None
    try:
        depth = int(value)
    except (TypeError, ValueError):
        raise MlbenchError(f"{flag} {value!r} is neither a positive number nor 'full'") from None
    if depth <= 0:
        raise MlbenchError(f"{flag} must be positive or 'full', got {depth}")
    return depth


def rankings_bytes(results: Sequence[SettingResult], qrels: Mapping[str, Mapping[str, Sequence[str]]]) -> bytes:
    """The sidecar's bytes; ``qrels[setting id][query id]`` lists the relevant ids in its pool."""
    names: set[str] = set()
    for r in results:
        if r.top_ids is None:
            raise MlbenchError(f"setting {r.setting.id}: no ranking was kept")
        names.update(str(x) for x in np.unique(r.top_ids))
        for q in r.query_ids:
            names.update(qrels[r.setting.id][q])
    names.discard("")
    doc_ids = np.asarray(sorted(names), dtype=str)
    arrays: dict[str, np.ndarray] = {"doc_ids": doc_ids}
    for i, r in enumerate(results):
        assert r.top_ids is not None and r.top_scores is not None
        ids = np.asarray(r.top_ids, dtype=str).reshape(len(r.query_ids), -1)
        pos = np.searchsorted(doc_ids, ids).astype(np.int64)
        blank = ids == ""
        arrays[f"s{i}/docs"] = np.where(blank, -1, pos).astype(np.int32)
        scores = np.where(blank, np.nan, np.asarray(r.top_scores, dtype=np.float64))
        narrow = scores.astype(np.float32)
        # float32 (mlbench's own scores) unless that would merge two scores of an external run
        arrays[f"s{i}/scores"] = narrow if np.array_equal(narrow, scores, equal_nan=True) else scores
        rows = [(row, d) for row, q in enumerate(r.query_ids) for d in qrels[r.setting.id][q]]
        arrays[f"s{i}/rel_rows"] = np.asarray([row for row, _ in rows], dtype=np.int32)
        arrays[f"s{i}/rel_docs"] = np.searchsorted(doc_ids, np.asarray([d for _, d in rows], dtype=str)).astype(np.int32)
    return npz_bytes(arrays)


def read_rankings(blob: bytes, where: str, settings: Sequence[str], query_ids: Mapping[str, Sequence[str]]
                  ) -> dict[str, Ranking]:
    """setting id -> :class:`Ranking` from the sidecar's bytes (already checked by sha256)."""
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise MlbenchError(f"{where}: not a readable rankings file ({exc})") from None
    if "doc_ids" not in arrays:
        raise MlbenchError(f"{where}: no 'doc_ids' array")
    names = np.append(arrays["doc_ids"].astype(str), "")  # index -1: the padding
    out: dict[str, Ranking] = {}
    for i, sid in enumerate(settings):
        try:
            docs, scores = arrays[f"s{i}/docs"], arrays[f"s{i}/scores"]
            rel_rows, rel_docs = arrays[f"s{i}/rel_rows"], arrays[f"s{i}/rel_docs"]
        except KeyError as exc:
            raise MlbenchError(f"{where}: no array {exc.args[0]!r} for setting {sid}") from None
        qids = list(query_ids[sid])
        if docs.shape[0] != len(qids) or scores.shape != docs.shape:
            raise MlbenchError(f"{where}: setting {sid} has {docs.shape[0]} ranked queries, the result {len(qids)}")
        relevant: list[list[str]] = [[] for _ in qids]
        for row, d in zip(rel_rows.tolist(), rel_docs.tolist()):
            relevant[row].append(str(names[d]))
        out[sid] = Ranking(qids, names[docs], scores, relevant)
    return out
