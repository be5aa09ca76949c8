"""How each measure is computed: per query, from the ranks of its relevant candidates.

Every measure mlbench reports with binary relevance is a function of where the relevant
candidates land in the ranking of the pool, so a retrieval backend only finds those ranks (the
full-ranking backend in the whole pool, a top-k backend within its top k, every relevant
candidate below the cut counting as not retrieved) and this module turns them into numbers with
trec_eval's definitions:

- ``map``: average precision over the full ranking (trec_eval ``map``, not AP@k):
  (1/R) * sum_i i / rank_i over the R relevant candidates sorted by rank.
- ``map@k``: average precision with the precisions summed over the top k only, still divided by
  R (trec_eval ``map_cut.k``; also what trec_eval's ``map`` gives on a run cut at k).
- ``recall@k``: relevant in the top k / R (trec_eval ``recall.k``).
- ``precision@k``: relevant in the top k / k (trec_eval ``P.k``: a ranking shorter than k still
  divides by k).
- ``success@k``: 1 if a relevant candidate is in the top k, else 0 (trec_eval ``success.k``).
- ``ndcg@k``: sum over relevant in the top k of 1/log2(rank+1), divided by the same sum for an
  ideal ranking of min(R, k) relevant candidates (trec_eval ``ndcg_cut.k``, binary gains).
- ``mrr@k``: 1/rank of the first relevant candidate if it is in the top k, else 0
  (trec_eval ``recip_rank`` on a run cut at k).

Ranks are 1-based; ``ranks`` is a (queries x max R) array sorted ascending per row and padded
with ``inf``; ``n_rel`` holds each query's R.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mlbench.metrics.measures import metric


def pad_ranks(rank_lists: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Ragged per-query ranks -> (sorted, inf-padded matrix, counts)."""
    n_rel = np.fromiter((len(r) for r in rank_lists), dtype=np.int64, count=len(rank_lists))
    width = int(n_rel.max()) if len(n_rel) else 0
    out = np.full((len(rank_lists), width), np.inf)
    for i, r in enumerate(rank_lists):
        out[i, : len(r)] = np.sort(r)
    return out, n_rel


def compute(name: str, ranks: np.ndarray, n_rel: np.ndarray) -> np.ndarray:
    """One metric for every query (float64 array)."""
    m = metric(name)
    base, k = m.base, m.cutoff
    if ranks.shape[0] == 0:
        return np.zeros(0)
    if base == "map":
        pos = np.arange(1, ranks.shape[1] + 1, dtype=np.float64)
        kept = np.isfinite(ranks) if k is None else ranks <= k
        return np.where(kept, pos / ranks, 0.0).sum(axis=1) / n_rel
    top = ranks <= k
    if base == "recall":
        return top.sum(axis=1) / n_rel
    if base == "precision":
        return top.sum(axis=1) / k
    if base == "success":
        return (ranks[:, 0] <= k).astype(np.float64)
    if base == "mrr":
        first = ranks[:, 0]
        return np.where(first <= k, 1.0 / first, 0.0)
    # ndcg@k
    with np.errstate(divide="ignore"):
        gains = np.where(top, 1.0 / np.log2(ranks + 1.0), 0.0).sum(axis=1)
    ideal_disc = 1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))
    ideal = np.cumsum(ideal_disc)[np.minimum(n_rel, k) - 1]
    return gains / ideal


def rank_distance(ranks: np.ndarray, n_rel: np.ndarray) -> np.ndarray:
    """Largest minus smallest rank of a query's relevant candidates in the multilingual pool
    (arXiv 2408.10536 §4.1); 0 for a query with a single relevant candidate."""
    last = ranks[np.arange(len(n_rel)), n_rel - 1]
    return last - ranks[:, 0]


def ranks_from_top(top_ids: np.ndarray, relevant: Sequence[set[str]]) -> tuple[np.ndarray, np.ndarray]:
    """(ranks, n_rel) of each query's relevant ids within its top-k ids (in rank order); relevant
    ids ranked beyond k have rank ``inf`` (not retrieved)."""
    n = len(relevant)
    width = max((len(r) for r in relevant), default=0)
    ranks = np.full((n, max(width, 1)), np.inf)
    n_rel = np.zeros(n, dtype=np.int64)
    for q, rel in enumerate(relevant):
        found = [pos + 1 for pos, d in enumerate(top_ids[q].tolist()) if d in rel]
        ranks[q, : len(found)] = found
        n_rel[q] = len(rel)
    return ranks, n_rel


def per_query_from_top(top_ids: np.ndarray, relevant: Sequence[set[str]], metrics: Sequence[str]) -> dict[str, np.ndarray]:
    """Metrics of each query from its top-k ids (in rank order) and its relevant ids (all of them,
    also those ranked beyond k, which count as not retrieved)."""
    ranks, n_rel = ranks_from_top(top_ids, relevant)
    return {m: compute(m, ranks, n_rel) for m in metrics}
