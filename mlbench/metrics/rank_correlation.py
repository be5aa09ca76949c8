"""Language bias as disagreement between parallel queries: the mean rank correlation (MRC, MRC@k).

Mean rank correlation (MRC)
---------------------------
(Yang, Jiang, Baldwin, "Language Bias in Information Retrieval", arXiv 2509.06195.) A query ``q``
in language ``a`` and its parallel query in language ``b`` (the same question id) both rank the
same multilingual pool (the union of all languages' candidates). A language-agnostic model ranks
the pool the same way for both; ``rho(q, b)`` is the Spearman correlation of the two *full*
rankings and ``RC(q)`` its mean over the other languages ``b`` of the run that hold the question.
Ranks follow mlbench's tie rule, so every rank is distinct (``1..P``) and Spearman is exactly the
Pearson correlation of the rank vectors: with centred ranks ``c = 2 r - (P + 1)``,
``rho = c_a . c_b / (P (P^2 - 1) / 3)``. The dot products of these integers are exact in float64
while ``P (P^2 - 1) / 3 < 2^53`` (pools up to about 300,000 candidates), so the figure does not
depend on the order of summation.

The per-language-pair matrix ``M[a, b]`` is the mean of ``rho`` over the questions both languages
hold (symmetric; NaN on the diagonal, which is no pair, and where no question is shared).

Cost, measured by benchmarks/bench_fairness.py at the full XQuAD-R shape (11 languages x 1190
queries x 13,090 candidates; one core shared with another job, 2026-12): MRC 19 s and 583 MiB
allocated besides the caller's 654 MiB of scores (uint16 ranks of every row, 327 MiB, plus one
128 MiB chunk of float64 centred ranks); MRC@100 8 s.

MRC@k
-----
Full rankings of a corpus-scale pool are rarely kept; a run keeps its top k. ``rho@k(q, b)`` is
Spearman's rho with ties (the Pearson correlation of mid-ranks) over ``T``, the union of the two
top-k lists, where each list ranks its own top k ``1..k`` and gives every other member of ``T``
one shared tail rank, the mean of the places ``k+1 .. |T|`` those members would fill below its
top k: ``t = (k + 1 + |T|) / 2``. So

* two identical top-k lists (same order) give 1, and ``k >= P`` gives the full-ranking rho exactly
  (``T`` is the pool, nothing is tied);
* disjoint top-k lists give ``-1`` at k = 1, ``-8/9`` at k = 2 and approach ``-6/7`` for large k
  (each list puts its own items above the other's, which it ties in its tail);
* only what a top-k run holds is used, and candidates outside both lists, which neither ranking
  places, are left out rather than counted as agreement.

Where ``|T| = 1`` (k = 1 and the same top candidate) both vectors are constant and rho is defined
as 1: the lists agree. ``MRC@k(q)`` and the matrix are then formed as for the full rankings.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mlbench.errors import MlbenchError
from mlbench.runs.ties import top_columns

_MRC_NAME = re.compile(r"^mrc(?:@(\d+))?$")
# elements (groups x languages x pool) of float64 centred ranks held at once by the full MRC
_GRAM_ELEMENTS = 1 << 24


def parse_mrc(name: str) -> int | None:
    """``mrc`` -> None (full rankings), ``mrc@K`` -> K."""
    m = _MRC_NAME.fullmatch(name) if isinstance(name, str) else None
    if not m:
        raise MlbenchError(f"not a rank-correlation metric name: {name!r} (mrc, or mrc@K)")
    if m.group(1) is None:
        return None
    k = int(m.group(1))
    if k <= 0:
        raise MlbenchError(f"metric {name!r}: the cutoff must be positive")
    return k


# --- rank correlation ----------------------------------------------------------------------------

def rank_vectors(scores: np.ndarray, tiekey: np.ndarray, rows_per_batch: int = 256) -> np.ndarray:
    """Rank (1..P) of every column of every row under mlbench's tie rule (score descending, then
    ``tiekey`` descending: :func:`mlbench.runs.ties.id_tiekeys` of the pool ids), as the
    smallest unsigned integer type that holds P (uint16 up to 65,535 candidates)."""
    scores = np.asarray(scores)
    n, p = scores.shape
    if tiekey.shape != (p,):
        raise ValueError(f"tiekey needs one entry per column ({p}), got shape {tiekey.shape}")
    dtype = np.uint16 if p <= np.iinfo(np.uint16).max else np.uint32
    out = np.empty((n, p), dtype=dtype)
    ranks = np.broadcast_to(np.arange(1, p + 1, dtype=dtype), (min(rows_per_batch, n), p))
    for start in range(0, n, rows_per_batch):
        stop = min(n, start + rows_per_batch)
        order = top_columns(scores[start:stop], p, tiekey)
        np.put_along_axis(out[start:stop], order, ranks[: stop - start], axis=1)
    return out


def topk_rank_correlation(top_a: np.ndarray, top_b: np.ndarray, n_pool: int | None = None) -> np.ndarray:
    """rho@k of each row pair: Spearman's rho with ties over the union of the two top-k lists,
    each list's candidates outside its own top k sharing the tail rank ``(k + 1 + |T|) / 2``
    (module docstring, "MRC@k"). ``top_a``, ``top_b``: (rows, k) candidate indices in rank order.

    Computed in closed form from the overlap, so a row costs O(k log k) and nothing of size P is
    built: with m = |T|, t the tail rank, ``S1 = k(k+1)/2 + (m-k) t`` and ``S2 = k(k+1)(2k+1)/6 +
    (m-k) t^2`` (the same for both lists), ``sum ab = sum_{A and B} a b + t (S_A' + S_B')`` where
    ``S_A'`` sums the A-positions of A's items missing from B, and ``rho = (sum ab - S1^2/m) /
    (S2 - S1^2/m)``."""
    a = np.asarray(top_a, dtype=np.int64)
    b = np.asarray(top_b, dtype=np.int64)
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(f"top-k lists need two (rows, k) arrays of one shape, got {a.shape} and {b.shape}")
    n, k = a.shape
    if n == 0:
        return np.zeros(0)
    if k == 0:
        raise ValueError("top-k lists are empty")
    span = int(max(a.max(), b.max())) + 1 if n_pool is None else n_pool
    offset = np.arange(n, dtype=np.int64)[:, None] * span
    key_a, key_b = (a + offset).ravel(), (b + offset).ravel()
    order = np.argsort(key_a, kind="stable")
    sorted_a = key_a[order]
    if len(np.unique(sorted_a)) != len(sorted_a) or len(np.unique(key_b)) != len(key_b):
        raise ValueError("a candidate appears twice in one top-k list")
    at = np.minimum(np.searchsorted(sorted_a, key_b), len(sorted_a) - 1)
    shared = (sorted_a[at] == key_b).reshape(n, k)  # B's item also in A's top k
    pos_a = (order[at] % k + 1).reshape(n, k).astype(np.float64)  # its position in A
    pos_b = np.broadcast_to(np.arange(1, k + 1, dtype=np.float64), (n, k))
    c = shared.sum(axis=1).astype(np.float64)
    m = 2.0 * k - c
    t = (k + 1 + m) / 2
    s1 = k * (k + 1) / 2 + (m - k) * t
    s2 = k * (k + 1) * (2 * k + 1) / 6 + (m - k) * t * t
    both_ab = np.where(shared, pos_a * pos_b, 0.0).sum(axis=1)
    rest_a = k * (k + 1) / 2 - np.where(shared, pos_a, 0.0).sum(axis=1)
    rest_b = k * (k + 1) / 2 - np.where(shared, pos_b, 0.0).sum(axis=1)
    cov = both_ab + t * (rest_a + rest_b) - s1 * s1 / m
    var = s2 - s1 * s1 / m
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = cov / var
    return np.where(var > 0, rho, 1.0)  # |T| = 1: the same single candidate on top of both


@dataclass(frozen=True)
class RankCorrelation:
    """What :func:`mean_rank_correlation` gives.

    ``per_query[i][j]``: RC of row j of language block i (NaN where no other language holds its
    question); ``matrix[a, b]``: mean rho over the questions blocks a and b share (NaN on the
    diagonal and where none is shared); ``pairs[a, b]``: how many questions that is; ``k``: None
    for full rankings, else the cut-off of MRC@k."""

    per_query: list[np.ndarray]
    matrix: np.ndarray
    pairs: np.ndarray
    k: int | None


def _rows_by_group(groups: Sequence[Sequence[str]]) -> tuple[list[str], np.ndarray]:
    """Union of the question ids and, per (question, block), the row holding it (-1: none)."""
    index: dict[str, int] = {}
    for block in groups:
        for g in block:
            index.setdefault(str(g), len(index))
    rows = np.full((len(index), len(groups)), -1, dtype=np.int64)
    for i, block in enumerate(groups):
        for j, g in enumerate(block):
            u = index[str(g)]
            if rows[u, i] >= 0:
                raise MlbenchError(f"question id {g!r} appears twice in language block {i}; "
                                   "a rank correlation pairs one query per language and question")
            rows[u, i] = j
    return list(index), rows


def _full_rho(ranks: list[np.ndarray], rows: np.ndarray, n_pool: int) -> np.ndarray:
    """rho[u, a, b] of every question u and block pair, from exact integer dot products of the
    centred ranks (one batched Gram matrix per chunk of questions)."""
    n_units, n_blocks = rows.shape
    rho = np.full((n_units, n_blocks, n_blocks), np.nan)
    denom = n_pool * (n_pool * n_pool - 1) / 3.0
    step = max(1, _GRAM_ELEMENTS // max(1, n_blocks * n_pool))
    for start in range(0, n_units, step):
        stop = min(n_units, start + step)
        chunk = np.zeros((stop - start, n_blocks, n_pool))
        for i, r in enumerate(ranks):
            here = rows[start:stop, i] >= 0
            chunk[here, i] = 2.0 * r[rows[start:stop, i][here]] - (n_pool + 1)
        gram = np.matmul(chunk, chunk.transpose(0, 2, 1))
        present = rows[start:stop] >= 0
        both = present[:, :, None] & present[:, None, :]
        rho[start:stop] = np.where(both, gram / denom, np.nan)
    return rho


def _topk_rho(tops: list[np.ndarray], rows: np.ndarray, n_pool: int | None) -> np.ndarray:
    n_units, n_blocks = rows.shape
    rho = np.full((n_units, n_blocks, n_blocks), np.nan)
    for a in range(n_blocks):
        for b in range(a, n_blocks):
            units = np.flatnonzero((rows[:, a] >= 0) & (rows[:, b] >= 0))
            if len(units):
                r = topk_rank_correlation(tops[a][rows[units, a]], tops[b][rows[units, b]], n_pool)
                rho[units, a, b] = rho[units, b, a] = r
    return rho


def _summarise(rho: np.ndarray, rows: np.ndarray, groups: Sequence[Sequence[str]], k: int | None) -> RankCorrelation:
    """RC per query and the pair matrix from rho[u, a, b] (NaN where the pair does not exist)."""
    n_blocks = rows.shape[1]
    rho[:, np.arange(n_blocks), np.arange(n_blocks)] = np.nan  # a query with itself is no pair
    paired = ~np.isnan(rho)
    pairs = paired.sum(axis=0)
    with np.errstate(invalid="ignore"):
        matrix = np.where(pairs > 0, np.nansum(rho, axis=0) / np.maximum(pairs, 1), np.nan)
        per_unit = np.nansum(rho, axis=2) / paired.sum(axis=2)  # (units, blocks); 0/0 -> nan
    per_query = []
    for i in range(n_blocks):
        out = np.full(len(groups[i]), np.nan)
        held = rows[:, i] >= 0
        out[rows[held, i]] = per_unit[held, i]
        per_query.append(out)
    return RankCorrelation(per_query, matrix, pairs.astype(np.int64), k)


def _none(blocks: Sequence[np.ndarray], groups: Sequence[Sequence[str]], what: str) -> bool:
    """Whether there are no blocks at all; blocks and group lists must pair up."""
    if len(blocks) != len(groups):
        raise ValueError(f"{len(blocks)} {what} blocks but {len(groups)} group lists")
    return not blocks


def _empty(k: int | None) -> RankCorrelation:
    return RankCorrelation([], np.zeros((0, 0)), np.zeros((0, 0), dtype=np.int64), k)


def mean_rank_correlation_from_top(tops: Sequence[np.ndarray], groups: Sequence[Sequence[str]]) -> RankCorrelation:
    """MRC@k from kept top-k lists (what a corpus-scale run has): ``tops[i]`` is a (rows, k) array
    of candidate indices in rank order for language block i, one k for all blocks, rows paired by
    ``groups`` as in :func:`mean_rank_correlation`."""
    if _none(tops, groups, "top-k"):
        return _empty(None)
    k = tops[0].shape[1]
    for i, (t, g) in enumerate(zip(tops, groups)):
        if t.ndim != 2 or t.shape[1] != k or t.shape[0] != len(g):
            raise ValueError(f"top-k block {i} has shape {t.shape}; it needs ({len(g)}, {k})")
    _, rows = _rows_by_group(groups)
    return _summarise(_topk_rho([np.asarray(t) for t in tops], rows, None), rows, groups, k)


def mean_rank_correlation(scores: Sequence[np.ndarray], groups: Sequence[Sequence[str]], tiekey: np.ndarray,
                          k: int | None = None) -> RankCorrelation:
    """MRC (``k=None``: full rankings) or MRC@k of every query of a multilingual run.

    ``scores[i]``: (queries of language block i, P) scores against the one multilingual pool,
    columns in one fixed order for every block; ``groups[i]``: the question id of each of those
    rows (parallel queries share it; at most one row per block and question); ``tiekey``: the
    pool's tie keys (:func:`mlbench.runs.ties.id_tiekeys` of its ids).

    Cost on the XQuAD-R shape (11 blocks x 1190 rows x 13,090 columns; benchmarks/bench_fairness.py,
    one busy core): 19 s for the full form, 8 s for k = 100. Besides the score matrices the caller
    holds (float32, 654 MiB there) the full form keeps every row's ranks as uint16 (327 MiB) and
    one chunk of float64 centred ranks (128 MiB): 583 MiB at its peak."""
    if _none(scores, groups, "score"):
        return _empty(k)
    n_pool = scores[0].shape[1]
    for i, (s, g) in enumerate(zip(scores, groups)):
        if s.ndim != 2 or s.shape[1] != n_pool:
            raise ValueError(f"score block {i} has shape {s.shape}; every block needs {n_pool} columns")
        if s.shape[0] != len(g):
            raise ValueError(f"score block {i} has {s.shape[0]} rows but {len(g)} question ids")
    if k is not None and k <= 0:
        raise MlbenchError(f"rank correlation cutoff must be positive, got {k}")
    _, rows = _rows_by_group(groups)
    if k is None:
        rho = _full_rho([rank_vectors(s, tiekey) for s in scores], rows, n_pool)
    else:
        rho = _topk_rho([top_columns(s, k, tiekey) for s in scores], rows, n_pool)
    return _summarise(rho, rows, groups, k)


def mean_rank_correlation_from_ranks(ranks: Sequence[np.ndarray], groups: Sequence[Sequence[str]]) -> RankCorrelation:
    """MRC of full rankings given as rank vectors (:func:`rank_vectors`), one block per language,
    columns in one order for every block (what the exact backend keeps as it scores)."""
    if len(ranks) != len(groups):
        raise ValueError(f"{len(ranks)} rank blocks but {len(groups)} group lists")
    if not ranks:
        return RankCorrelation([], np.zeros((0, 0)), np.zeros((0, 0), dtype=np.int64), None)
    _, rows = _rows_by_group(groups)
    return _summarise(_full_rho(list(ranks), rows, ranks[0].shape[1]), rows, groups, None)


__all__ = ["RankCorrelation", "mean_rank_correlation", "mean_rank_correlation_from_ranks",
           "mean_rank_correlation_from_top", "parse_mrc", "rank_vectors", "topk_rank_correlation"]
