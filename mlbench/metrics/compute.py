"""How each measure is computed: per query, from the ranks and grades of its judged candidates.

Every measure mlbench reports is a function of where the candidates judged above 0 land in the
ranking of the pool (:class:`mlbench.runs.ranks.JudgedRanks`), so a backend only finds those ranks
and this module turns them into numbers with trec_eval's definitions. A candidate is *relevant*
for the binary measures when its grade is at least the relevance level (trec_eval ``-l``, default
1); R is the number of relevant candidates of the query in the setting's pool:

- ``map``: average precision over the full ranking (trec_eval ``map``, not AP@k):
  (1/R) * sum_i i / rank_i over the R relevant candidates sorted by rank.
- ``map@k``: average precision with the precisions summed over the top k only, still divided by
  R (trec_eval ``map_cut.k``; also what trec_eval's ``map`` gives on a run cut at k).
- ``recall@k``: relevant in the top k / R (trec_eval ``recall.k``).
- ``precision@k``: relevant in the top k / k (trec_eval ``P.k``: a ranking shorter than k still
  divides by k).
- ``success@k``: 1 if a relevant candidate is in the top k, else 0 (trec_eval ``success.k``).
- ``ndcg@k``: sum over the candidates in the top k of grade / log2(rank + 1), divided by the same
  sum for the ideal ranking (the judged grades in descending order, cut at k): trec_eval's
  ``ndcg_cut.k`` with its default gains, the grades themselves (binary judgements: gains 1).
- ``mrr@k``: 1/rank of the first relevant candidate if it is in the top k, else 0
  (trec_eval ``recip_rank`` on a run cut at k).

``ranks`` is a (queries x w) array sorted ascending per row and padded with ``inf``, ``grades``
the aligned grades (0 in the padding).
"""

from __future__ import annotations

import numpy as np

from mlbench.metrics.measures import metric


def relevant_mask(grades: np.ndarray, level: int = 1) -> np.ndarray:
    return grades >= level


def n_relevant(grades: np.ndarray, level: int = 1) -> np.ndarray:
    return relevant_mask(grades, level).sum(axis=1)


def compute(name: str, ranks: np.ndarray, grades: np.ndarray, level: int = 1) -> np.ndarray:
    """One metric for every query (float64 array)."""
    m = metric(name)
    base, k = m.base, m.cutoff
    if ranks.shape[0] == 0:
        return np.zeros(0)
    rel = relevant_mask(grades, level)
    n_rel = rel.sum(axis=1)
    if base == "map":
        pos = np.cumsum(rel, axis=1).astype(np.float64)  # the i of the i-th relevant candidate by rank
        kept = rel & (np.isfinite(ranks) if k is None else ranks <= k)
        return np.where(kept, pos / ranks, 0.0).sum(axis=1) / n_rel
    if base == "ndcg":
        top = (grades > 0) & (ranks <= k)
        with np.errstate(divide="ignore"):
            gains = np.where(top, grades / np.log2(ranks + 1.0), 0.0).sum(axis=1)
        ideal_gains = -np.sort(-grades, axis=1)[:, :k].astype(np.float64)
        disc = 1.0 / np.log2(np.arange(2, ideal_gains.shape[1] + 2, dtype=np.float64))
        n_pos = (ideal_gains > 0).sum(axis=1)
        ideal = np.cumsum(ideal_gains * disc, axis=1)[np.arange(len(n_pos)), np.maximum(n_pos, 1) - 1]
        return gains / ideal
    top = rel & (ranks <= k)
    if base == "recall":
        return top.sum(axis=1) / n_rel
    if base == "precision":
        return top.sum(axis=1) / k
    if base == "success":
        return top.any(axis=1).astype(np.float64)
    # mrr@k: the first relevant candidate by rank
    first = np.where(rel, ranks, np.inf).min(axis=1)
    return np.where(first <= k, 1.0 / first, 0.0)


def rank_distance(ranks: np.ndarray, grades: np.ndarray, level: int = 1) -> np.ndarray:
    """Largest minus smallest rank of a query's relevant candidates in the multilingual pool
    (arXiv 2408.10536 §4.1); 0 for a query with a single relevant candidate."""
    rel = relevant_mask(grades, level)
    return np.where(rel, ranks, -np.inf).max(axis=1) - np.where(rel, ranks, np.inf).min(axis=1)
