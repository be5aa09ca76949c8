"""Run: the rankings of one setting's queries, the one shape of a ranking in mlbench.

A run holds, for each query (in the setting's query order), candidate ids in rank order under the
tie rule (:mod:`mlbench.runs.ties`: score descending, then doc id descending) and their scores, as
two (queries x depth) arrays: ``ids`` (``""`` past the end of a shorter ranking) and ``scores``
(NaN there). ``full`` says that every ranking covers its whole pool, so that every measure is exact
on it (``map`` and the rank distance included); otherwise it is a run cut at ``depth``.

Backends emit runs when rankings are kept; TREC files (:mod:`mlbench.runs.trec`), ranx ``Run``s
and Python dicts (:meth:`Run.from_mapping`, :meth:`Run.to_mapping`) and the rankings sidecar of a
result file (:mod:`mlbench.results.rankings`) are conversions of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from mlbench.errors import MlbenchError
from mlbench.runs.ties import rank_order

FULL = "full"  # a depth that is the whole pool


def parse_depth(value: str | int | None, flag: str) -> int | None:
    """``full`` (None: every candidate) or a positive number, as a flag gives it."""
    if value is None or value == FULL:
        return None
    try:
        depth = int(value)
    except (TypeError, ValueError):
        raise MlbenchError(f"{flag} {value!r} is neither a positive number nor 'full'") from None
    if depth <= 0:
        raise MlbenchError(f"{flag} must be positive or 'full', got {depth}")
    return depth


@dataclass
class Run:
    query_ids: list[str]
    ids: np.ndarray
    scores: np.ndarray
    full: bool = False

    def __post_init__(self) -> None:
        ids = np.asarray(self.ids, dtype=str)
        width = ids.shape[-1] if ids.ndim == 2 else (ids.size // max(1, len(self.query_ids)))
        self.ids = ids.reshape(len(self.query_ids), width)
        self.scores = np.asarray(self.scores).reshape(self.ids.shape)

    @property
    def depth(self) -> int:
        """The longest ranking's length."""
        return int((self.ids != "").sum(axis=1).max(initial=0))

    def ranking(self, row: int, depth: int | None = None) -> list[tuple[str, float]]:
        """The ranking of one query as (id, score) pairs, cut at ``depth``."""
        ids, scores = self.ids[row], self.scores[row]
        n = int((ids != "").sum())
        n = n if depth is None else min(n, depth)
        return [(str(d), float(s)) for d, s in zip(ids[:n], scores[:n])]

    def score_text(self, score: float) -> str:
        """A score as written to a TREC file: 9 significant digits tell every two float32 apart,
        17 every two float64, so trec_eval sees exactly the ties of the ranking."""
        return f"{score:.9g}" if self.scores.dtype == np.float32 else repr(score)

    def head(self, depth: int) -> Run:
        """The run cut at ``depth`` (a run cut shorter than its pools is no longer full)."""
        if depth >= self.ids.shape[1]:
            return self
        return Run(self.query_ids, self.ids[:, :depth], self.scores[:, :depth], False)

    def to_mapping(self) -> dict[str, dict[str, float]]:
        """query id -> {candidate id: score} (ranx's ``Run.from_dict`` shape)."""
        return {q: dict(self.ranking(i)) for i, q in enumerate(self.query_ids)}

    @classmethod
    def from_rankings(cls, query_ids: Sequence[str], rankings: Sequence[tuple[Sequence[str], Sequence[float]]],
                      full: bool = False) -> Run:
        """Each query's (ids, scores) in any order, put in rank order under the tie rule."""
        width = max([1, *(len(d) for d, _ in rankings)])
        ids = np.full((len(query_ids), width), "", dtype=object)
        scores = np.full((len(query_ids), width), np.nan)
        for row, (docs, values) in enumerate(rankings):
            order = rank_order(list(docs), list(values))
            ids[row, : len(order)] = [docs[i] for i in order]
            scores[row, : len(order)] = [values[i] for i in order]
        return cls(list(query_ids), ids.astype(str), scores, full)

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Mapping[str, float]], query_ids: Sequence[str] | None = None,
                     full: bool = False) -> Run:
        """From query id -> {candidate id: score} (a dict, or a ranx ``Run.to_dict()``); a query of
        ``query_ids`` the mapping lacks gets an empty ranking."""
        qids = list(query_ids) if query_ids is not None else list(mapping)
        return cls.from_rankings(qids, [(list(mapping.get(q, {})), [float(v) for v in mapping.get(q, {}).values()])
                                        for q in qids], full)
