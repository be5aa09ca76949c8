"""Language fairness of one ranking per query: PEER@k (the mean rank correlation is
:mod:`mlbench.metrics.rank_correlation`). It takes plain arrays (candidate indices, grades,
language codes) so that it can be computed wherever the rankings are, and knows nothing of result
files or settings.

The Probability of Equal Expected Rank (Yang, Jänich, Mayfield, Lawrie, "Language Fairness in
Multilingual Information Retrieval", SIGIR 2024) asks, for one query in a pool that mixes
languages, whether the documents of one relevance level are ranked alike whatever their language.
For each relevance level ``r`` the ranks of that level's documents are grouped by language and a
Kruskal–Wallis statistic gives ``p_r``; ``PEER@k(q) = sum_r w_r * p_r`` (default ``w_0 = w_1 =
0.5``). A p near 1 means no evidence that language moves documents of equal relevance up or down;
a p near 0 means it does.

The definition here is the one of the authors' package, ``peer-measure`` 0.0.1 (an ir_measures
provider), to the letter, since a figure called PEER should be comparable with theirs. Read from
its source, for one query and cut-off k:

* **Levels** are the relevance levels of the query's judged documents. mlbench judges the whole
  pool (a candidate not listed as relevant is non-relevant, level 0), so level 0 is present
  whenever the pool holds a candidate not graded above 0, and the positive levels are those the
  query's grades hold. A level that the query does not have contributes nothing (it is not given
  p = 1), so weights on absent levels are simply unused.
* **Ranks** are positions 1..k in the ranking. A document of level ``r`` retrieved in the top k
  enters level ``r``'s sample of its language with its position. A document of level ``r > 0``
  *not* in the top k enters too, with one **shared tail rank** for the whole level,
  ``t_r = N_r + (u_r + 1) / 2``, where ``u_r`` is the number of level-``r`` documents not retrieved
  and ``N_r`` the number of level-``r`` entries in all (retrieved within k plus not retrieved).
  This is the reference's expression as it runs (its branch that would take the largest retrieved
  rank instead is unreachable), kept for equality; it is *not* the mean of positions
  ``k+1 .. k+u_r``, and may be smaller than a retrieved document's position. Non-relevant
  documents (level 0, and any level <= 0) enter only when retrieved in the top k.
* **Statistic**: ``H = (N - 1) * SSG / SSA`` on those values, with ``N`` entries, the group sizes
  ``n_g`` and means ``m_g``, the overall mean ``m``, ``SSG = sum_g n_g (m_g - m)^2`` and
  ``SSA = sum (x - m)^2`` (the tie-corrected Kruskal–Wallis form), and ``p_r = chi2.sf(H, G - 1)``
  with ``G`` non-empty language groups. The values are the positions themselves, not ranks taken
  again within the level, so ``p_r`` is *not* ``scipy.stats.kruskal`` of the positions (which
  would rank them first); it is scipy's test only when a level's values happen to be 1..N.
* **Edge cases** (each as the reference decides):

  - no entry at the level, or no entry of the level retrieved in the top k (only tail ranks):
    ``p_r = 1``;
  - fewer than two languages among the level's entries: ``p_r = 1`` (ranking only that
    language's documents is the fair thing to do);
  - every entry equal (``SSA = 0``, possible only when exactly one of the level's documents is
    retrieved, at position ``t_r``): ``p_r`` is NaN (0 / 0), and so is PEER (even with a weight of
    0 on that level: ``0 * nan``). It needs an even ``N_r`` (a tail rank that is a whole number),
    e.g. two languages with one relevant document each, one of them at position 3 and the other
    not retrieved.

* **Ties**: the one deliberate difference. The reference sorts a run by score and, on equal
  scores, by document id *ascending*; mlbench ranks by its own rule (score descending, then doc id
  descending: trec_eval's, :mod:`mlbench.retrieval.ties`) before any measure sees the ranking.
  PEER here takes the ranking as given, so both agree exactly when no score tie reorders the top
  k + 1, and are only claimed equal there (tests/test_fairness.py).

Metric names: ``peer@K`` (default weights 0.5 / 0.5) and ``peer@K:wL=X:wL=X...`` for other weights
(``peer@10:w0=0.3:w1=0.7``, ``peer@20:w1=0.5:w3=0.5``): ``wL=X`` gives level L the weight X, levels
not named weigh 0, and the weights must sum to 1 as the reference requires. Parts are joined by
colons rather than commas so that a name survives comma-separated metric lists (``--metrics
map,peer@10:w0=0.3:w1=0.7``) and needs no quoting in a shell. :func:`parse_peer` reads a name and
:func:`peer_name` writes the canonical one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

import numpy as np

from mlbench.errors import MlbenchError

DEFAULT_PEER_WEIGHTS: dict[int, float] = {0: 0.5, 1: 0.5}
_PEER_NAME = re.compile(r"^peer@(\d+)((?::w-?\d+=[^:]+)*)$")
_PEER_WEIGHT = re.compile(r"^w(-?\d+)=(.+)$")


# --- names ---------------------------------------------------------------------------------------

def check_weights(weights: Mapping[int, float]) -> dict[int, float]:
    """Weights per relevance level: finite, non-negative, summing to 1 (``np.isclose``, as the
    reference asserts), integer levels. Returned as a plain dict sorted by level."""
    if not weights:
        raise MlbenchError("PEER weights: at least one relevance level needs a weight")
    out: dict[int, float] = {}
    for level, w in sorted(weights.items()):
        if isinstance(level, bool) or not isinstance(level, (int, np.integer)):
            raise MlbenchError(f"PEER weights: relevance level {level!r} is not an integer")
        w = float(w)
        if not math.isfinite(w) or w < 0:
            raise MlbenchError(f"PEER weights: level {level} has weight {w!r}; weights are finite and >= 0")
        out[int(level)] = w
    total = sum(out.values())
    if not np.isclose(total, 1.0):
        raise MlbenchError(f"PEER weights {out} sum to {total:g}, not 1")
    return out


def parse_peer(name: str) -> tuple[int, dict[int, float]]:
    """``peer@10`` -> (10, {0: 0.5, 1: 0.5}); ``peer@10:w0=0.3:w1=0.7`` -> (10, {0: 0.3, 1: 0.7})."""
    m = _PEER_NAME.fullmatch(name) if isinstance(name, str) else None
    if not m:
        raise MlbenchError(f"not a PEER metric name: {name!r} (peer@K, or peer@K:w0=X:w1=Y with weights per "
                           "relevance level summing to 1)")
    k = int(m.group(1))
    if k <= 0:
        raise MlbenchError(f"metric {name!r}: the cutoff must be positive")
    if not m.group(2):
        return k, dict(DEFAULT_PEER_WEIGHTS)
    weights: dict[int, float] = {}
    for part in m.group(2)[1:].split(":"):
        level_s, value_s = _PEER_WEIGHT.fullmatch(part).groups()  # type: ignore[union-attr]  # the name regex matched
        level = int(level_s)
        if level in weights:
            raise MlbenchError(f"metric {name!r}: level {level} is weighted twice")
        try:
            weights[level] = float(value_s)
        except ValueError:
            raise MlbenchError(f"metric {name!r}: weight {value_s!r} of level {level} is not a number") from None
    return k, check_weights(weights)


def peer_name(k: int, weights: Mapping[int, float] | None = None) -> str:
    """The canonical name: ``peer@K`` for the default weights, else every weighted level in order
    (zero weights left out), each weight in Python's shortest round-trip form."""
    w = check_weights(weights if weights is not None else DEFAULT_PEER_WEIGHTS)
    if k <= 0:
        raise MlbenchError(f"PEER cutoff must be positive, got {k}")
    if w == DEFAULT_PEER_WEIGHTS:
        return f"peer@{k}"
    return f"peer@{k}" + "".join(f":w{level}={value!r}" for level, value in w.items() if value)


# --- PEER ----------------------------------------------------------------------------------------

def _level_p(values: np.ndarray, langs: np.ndarray, any_retrieved: bool) -> float:
    """p of one relevance level (see the module docstring for each case)."""
    if not any_retrieved:
        return 1.0
    codes, group = np.unique(langs, return_inverse=True)
    if len(codes) < 2:
        return 1.0
    n = np.bincount(group).astype(np.float64)
    mean = float(values.mean())
    group_mean = np.bincount(group, weights=values) / n
    ssg = float(np.square(group_mean - mean) @ n)
    ssa = float(np.square(values - mean).sum())
    if ssa == 0.0:
        return math.nan  # the reference divides 0 by 0
    h = (len(values) - 1) * ssg / ssa
    from scipy.stats import chi2

    return float(chi2.sf(h, len(codes) - 1))


def _grade_map(grades: Mapping[int, int] | np.ndarray, n_pool: int) -> tuple[np.ndarray, np.ndarray, set[int]]:
    """(candidate indices, their levels, the query's levels) of one query's grades: a dict
    {candidate: level} (others level 0) or a 1-d array of every candidate's level."""
    if isinstance(grades, np.ndarray):
        if grades.shape != (n_pool,):
            raise ValueError(f"a grade array needs one level per pool candidate ({n_pool}), got shape {grades.shape}")
        idx = np.flatnonzero(grades)
        return idx, grades[idx].astype(np.int64), {int(v) for v in np.unique(grades)}
    idx = np.fromiter(grades.keys(), dtype=np.int64, count=len(grades))
    lv = np.fromiter(grades.values(), dtype=np.int64, count=len(grades))
    if len(idx) and (idx.min() < 0 or idx.max() >= n_pool):
        raise ValueError(f"graded candidate index outside the pool of {n_pool}")
    levels = {int(v) for v in lv}
    if len(idx) < n_pool:  # a candidate left ungraded is non-relevant
        levels.add(0)
    return idx, lv, levels


def peer_at_k(rankings: Sequence[Sequence[int] | np.ndarray], grades: Sequence[Mapping[int, int] | np.ndarray],
              doc_lang: np.ndarray, k: int, weights: Mapping[int, float] | None = None) -> np.ndarray:
    """PEER@k of each query (float64; NaN where the reference's statistic is 0 / 0).

    ``rankings[q]``: candidate indices (into the pool) in rank order, at least the top k (longer
    is fine: the rest is ignored; shorter means fewer were retrieved). ``grades[q]``: the query's
    relevance levels, ``{candidate index: level}`` (candidates not listed are level 0) or an array
    with every candidate's level. ``doc_lang``: each pool candidate's language as an integer code.
    ``weights``: level -> weight (default 0.5 for level 0 and 0.5 for level 1), summing to 1.
    """
    w = check_weights(weights if weights is not None else DEFAULT_PEER_WEIGHTS)
    if k <= 0:
        raise MlbenchError(f"PEER cutoff must be positive, got {k}")
    doc_lang = np.asarray(doc_lang)
    if doc_lang.ndim != 1:
        raise ValueError("doc_lang must be a 1-d array of language codes, one per pool candidate")
    n_pool = len(doc_lang)
    if len(rankings) != len(grades):
        raise ValueError(f"{len(rankings)} rankings but {len(grades)} grade sets")
    out = np.empty(len(rankings))
    for q, (ranking, g) in enumerate(zip(rankings, grades)):
        top = np.asarray(ranking, dtype=np.int64)[:k]
        if len(top) and (top.min() < 0 or top.max() >= n_pool):
            raise ValueError(f"query {q}: ranked candidate index outside the pool of {n_pool}")
        if len(np.unique(top)) != len(top):
            raise ValueError(f"query {q}: a candidate is ranked twice in the top {k}")
        graded, graded_level, levels = _grade_map(g, n_pool)
        # levels of the top k and which graded candidates are in it, in O(k + R): nothing pool-sized
        by_id = np.argsort(graded, kind="stable")
        sorted_graded = graded[by_id]
        at = np.minimum(np.searchsorted(sorted_graded, top), max(len(graded) - 1, 0))
        found = sorted_graded[at] == top if len(graded) else np.zeros(len(top), dtype=bool)
        top_level = np.where(found, graded_level[by_id][at] if len(graded) else 0, 0)
        in_top = np.isin(graded, top)
        positions = np.arange(1, len(top) + 1, dtype=np.float64)
        value = 0.0
        for level in sorted(levels):
            hit = top_level == level
            vals, langs = positions[hit], doc_lang[top[hit]]
            if level > 0:  # relevant documents not retrieved share one tail rank
                missing = graded[(graded_level == level) & ~in_top]
                u = len(missing)
                if u:
                    total = len(vals) + u
                    vals = np.concatenate([vals, np.full(u, total + (u + 1) / 2)])
                    langs = np.concatenate([langs, doc_lang[missing]])
            value += w.get(level, 0.0) * _level_p(vals, langs, bool(hit.any()))
        out[q] = value
    return out



__all__ = ["DEFAULT_PEER_WEIGHTS", "check_weights", "parse_peer", "peer_at_k", "peer_name"]
