"""The one scorer: the per-query values of one setting, measures and diagnostics, from judged ranks.

Every path to a number goes through :func:`score`: the exact backend (ranks found by beat counts
over the whole pool), the topk backend, ``mlbench evaluate`` and ``mlbench fuse`` (ranks looked up
in a run, :meth:`mlbench.runs.ranks.JudgedRanks.from_run`). In a pool of several languages it adds
the diagnostics (:mod:`mlbench.metrics.measures`): the rank distance when every rank is known, the
query language's share of the top c (``own_lang@c``), the share relevance alone would give
(``own_lang_expected``), and the mean share of each language in the top c (``lang_share``, the
result's language matrix).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mlbench.metrics.compute import compute, rank_distance, relevant_mask
from mlbench.metrics.measures import OWN_LANG_EXPECTED, RANK_DISTANCE, own_lang
from mlbench.runs.ranks import JudgedRanks


def score(ranks: JudgedRanks, metrics: Sequence[str], level: int = 1, query_lang: str | None = None,
          multilingual: bool = False) -> tuple[dict[str, np.ndarray], dict[int, dict[str, float]]]:
    """(metric -> per-query values, cut-off -> pool language -> mean share of the top c)."""
    per_query = {m: compute(m, ranks.ranks, ranks.grades, level) for m in metrics}
    shares: dict[int, dict[str, float]] = {}
    if not multilingual:
        return per_query, shares
    if ranks.full:
        per_query[RANK_DISTANCE] = rank_distance(ranks.ranks, ranks.grades, level)
    own = ranks.langs.index(query_lang) if query_lang in ranks.langs else None
    for c in sorted(ranks.top_counts):
        share = ranks.top_counts[c] / ranks.top_sizes[c]
        if own is not None:
            per_query[own_lang(c)] = share[:, own]
        shares[c] = {p: float(share[:, b].mean()) if len(share) else 0.0 for b, p in enumerate(ranks.langs)}
    if own is not None and ranks.own is not None:
        rel = relevant_mask(ranks.grades, level)
        per_query[OWN_LANG_EXPECTED] = (rel & ranks.own).sum(axis=1) / rel.sum(axis=1)
    return per_query, shares
