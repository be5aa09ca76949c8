"""Ranks of the relevant candidates in a full ranking, without sorting whole runs.

Every metric mlbench reports is a function of where the relevant candidates land, so for each
query and each relevant candidate r we count, per block of pool columns (one block per language),
the candidates that rank before r. A pool's rank of r is 1 + the sum over the blocks it contains:
the multilingual pool's ranks come from the same counts as the single-language pools'.

Tie rule (:mod:`mlbench.retrieval.ties`): candidate j ranks before r iff s_j > s_r or
(s_j == s_r and tiekey_j > tiekey_r), ``tiekey`` being each column's position in ascending id order.

Counting uses one row-wise sort per block and a vectorised bisection for all (query, relevant)
pairs at once, so the cost per query is a sort of its row, not a comparison per (relevant,
candidate) pair. Exact ties are rare with real
embeddings but common with duplicated sentences or degenerate models; they take a slow exact path.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _insertion_points(srt: np.ndarray, rows: np.ndarray, t: np.ndarray, side: str) -> np.ndarray:
    """Row-wise ``searchsorted`` for many (row, value) pairs at once: a branch-free bisection in
    power-of-two steps over rows sorted ascending (log2(width) gathers of len(rows) elements)."""
    width = srt.shape[1]
    pos = np.zeros(len(rows), dtype=np.int64)
    flat = srt.ravel()
    base = rows.astype(np.int64) * width - 1
    step = 1 << (width.bit_length() - 1) if width else 0
    while step:
        cand = pos + step
        ok = cand <= width
        v = flat[base + np.minimum(cand, width)]
        ok &= (v <= t) if side == "right" else (v < t)
        pos = np.where(ok, cand, pos)
        step >>= 1
    return pos


def beat_counts(scores: np.ndarray, rel: np.ndarray, blocks: Sequence[tuple[int, int]],
                tiekey: np.ndarray, levels: Sequence[int] = ()) -> tuple[np.ndarray, np.ndarray]:
    """Candidates ranking before each relevant candidate, per block.

    scores: (n, m) float32, one row per query over the pool columns (finite values).
    rel: (n, k) int64 column indices of each query's relevant candidates, padded with -1.
    blocks: column ranges [lo, hi) that tile the columns.
    tiekey: (m,) tie-break keys of the columns (see module docstring).
    levels: cutoffs c for which to also count, per block, the candidates in each query's top c
    (the language mix of the top of a multilingual ranking), under the same tie rule.
    Returns counts (n, k, len(blocks)) int64, zero for padded entries, and top-c counts
    (n, len(levels), len(blocks)) int64.
    """
    n, m = scores.shape
    k = rel.shape[1]
    out = np.zeros((n, k, len(blocks)), dtype=np.int64)
    top = np.zeros((n, len(levels), len(blocks)), dtype=np.int64)
    if n == 0:
        return out, top
    cuts = [min(c, m) for c in levels]
    tails: list[np.ndarray] = []  # each block's best max(cuts) scores, ascending
    valid = rel >= 0
    qi, ri = np.nonzero(valid)
    cols = rel[qi, ri]
    t = scores[qi, cols]
    for b, (lo, hi) in enumerate(blocks):
        w = hi - lo
        if w == 0:
            continue
        srt = np.sort(scores[:, lo:hi], axis=1)
        right = _insertion_points(srt, qi, t, "right")  # candidates scoring <= t
        out[qi, ri, b] = w - right
        own = ((cols >= lo) & (cols < hi)).astype(np.int64)
        # another candidate ties with t iff the last one <= t that is not the relevant item equals t
        probe = right - 1 - own
        tied = probe >= 0
        tied[tied] = srt.ravel()[qi[tied] * w + probe[tied]] == t[tied]
        # resolve those ties by id order, exactly (rare with real models)
        for j in np.flatnonzero(tied):
            q, col = qi[j], cols[j]
            same = scores[q, lo:hi] == scores[q, col]
            out[q, ri[j], b] += int(np.count_nonzero(same & (tiekey[lo:hi] > tiekey[col])))
        if cuts:
            tails.append(srt[:, -min(max(cuts), w):])
    # the c-th best score per row (theta): every candidate above it is in its own block's top c,
    # so the blocks' tails hold all of the top c and all ties at theta up to c per block
    merged = np.concatenate(tails, axis=1) if cuts else None
    for li, c in enumerate(cuts):
        theta = np.partition(merged, merged.shape[1] - c, axis=1)[:, merged.shape[1] - c]
        ties = np.zeros((n, len(blocks)), dtype=np.int64)
        for b, tail in enumerate(tails):
            top[:, li, b] = np.count_nonzero(tail > theta[:, None], axis=1)
            ties[:, b] = np.count_nonzero(tail == theta[:, None], axis=1)
        slots = c - top[:, li, :].sum(axis=1)  # top places left for candidates equal to theta
        exact = ties.sum(axis=1) == slots
        top[exact, li, :] += ties[exact]
        for q in np.flatnonzero(~exact):  # more ties than places: the larger ids go first
            cols_eq = np.flatnonzero(scores[q] == theta[q])
            chosen = cols_eq[np.argsort(-tiekey[cols_eq], kind="stable")[: slots[q]]]
            for b, (lo, hi) in enumerate(blocks):
                top[q, li, b] += int(np.count_nonzero((chosen >= lo) & (chosen < hi)))
    return out, top
