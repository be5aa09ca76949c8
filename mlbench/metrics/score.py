"""The one scorer: the per-query values of one setting, measures and diagnostics, from judged ranks.

Every path to a number goes through :func:`score`: the exact backend (ranks found by beat counts
over the whole pool), the topk backend, ``mlbench evaluate`` and ``mlbench fuse`` (ranks looked up
in a run, :meth:`mlbench.runs.ranks.JudgedRanks.from_run`). In a pool of several languages it adds
the diagnostics (:mod:`mlbench.metrics.measures`): the rank distance when every rank is known, the
query language's share of the top c (``own_lang@c``), the share relevance alone would give
(``own_lang_expected``), and the mean share of each language in the top c (``lang_share``, the
result's language matrix); and PEER@k from the ranking's top (``ranking``: a run at least k deep,
ids as in the pool of all languages, ``{lang}/...``). The mean rank correlation pairs queries of
different languages, so it is added after every setting is scored
(:func:`mlbench.results.values.add_rank_correlation`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mlbench.metrics.compute import rank_distance, relevant_mask
from mlbench.metrics.measures import OWN_LANG_EXPECTED, RANK_DISTANCE, compute, metric, own_lang
from mlbench.metrics.peer import parse_peer, peer_at_k
from mlbench.runs.qrels import Qrels
from mlbench.runs.ranks import JudgedRanks
from mlbench.runs.run import Run


def score(ranks: JudgedRanks, metrics: Sequence[str], level: int = 1, query_lang: str | None = None,
          multilingual: bool = False, ranking: Run | None = None, qrels: Qrels | None = None,
          pool_size: int | None = None) -> tuple[dict[str, np.ndarray], dict[int, dict[str, float]]]:
    """(metric -> per-query values, cut-off -> pool language -> mean share of the top c)."""
    per_query = {m: compute(m, ranks.ranks, ranks.grades, level) for m in metrics if not metric(m).multilingual}
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
    for name in metrics:
        if metric(name).base == "peer":
            assert ranking is not None and qrels is not None, "PEER needs the ranking's top"
            per_query[name] = peer_of_run(name, ranking, qrels, ranks.langs, pool_size)
    return per_query, shares


def peer_of_run(name: str, run: Run, qrels: Qrels, langs: Sequence[str], pool_size: int | None = None) -> np.ndarray:
    """PEER@k of each query of a run in a pool of several languages (:mod:`mlbench.metrics.peer`):
    the candidates its top k and its judgements name, with their languages from the pool ids, and a
    candidate judged 0 standing for the rest of the pool (``pool_size``: unjudged, not retrieved)."""
    k, weights = parse_peer(name)
    index: dict[str, int] = {}
    rankings, grades = [], []
    for row, qid in enumerate(run.query_ids):
        top = [d for d, _ in run.ranking(row, k)]
        judged = qrels.of(qid)
        rankings.append([index.setdefault(d, len(index)) for d in top])
        grades.append({index.setdefault(d, len(index)): g for d, g in judged.items() if g > 0})
    code = {lang: i for i, lang in enumerate(langs)}
    doc_lang = np.array([code.get(d.partition("/")[0], -1) for d in index], dtype=np.int64)
    if pool_size is None or pool_size > len(doc_lang):  # the pool's other candidates: level 0, never retrieved
        doc_lang = np.append(doc_lang, 0)
    return peer_at_k(rankings, grades, doc_lang, k, weights)
