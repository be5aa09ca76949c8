"""Ranks of the relevant candidates in a full ranking, without sorting whole runs.

Every metric mlbench reports is a function of where the relevant candidates land, so for each
query and each relevant candidate r we count the candidates that rank before r, in the pool
columns of the score group (every language a query language searches, one block per language).

Tie rule (:mod:`mlbench.runs.ties`): candidate j ranks before r iff s_j > s_r or
(s_j == s_r and tiekey_j > tiekey_r), ``tiekey`` being each column's position in ascending id order.

Only two counts are ever needed per relevant candidate: before it within its own language's block
(its rank in a one-language pool, mono or cross) and before it in all the columns (its rank in
the pool of all languages).

**Kernel** (compiled with numba, parallel over query rows): for each relevant candidate, one
vectorised pass over its block and one over the row count the scores above it and those equal
to it; only where another candidate ties exactly does a second pass apply the tie keys. A row of the
pool of all XQuAD-R languages (11 relevant, 13014 columns) costs about a tenth of its share of the
score product (benchmarks/bench_scoring.py). For the language mix of the top of a multilingual
ranking, a floor from interleaved group maxima leaves a few candidates per row, which a selection
on (score, tie key) cuts at each level. Comparisons are exact on the float32 scores, so every
count is that of a full sort (tests/test_fullrank.py checks it against one).
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np

# The kernels compile once (about 6 s) and are cached by numba in __pycache__ next to this file, or
# in the user's cache folder where that is not writable (NUMBA_CACHE_DIR to choose another).


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _above(x, t):
    """(candidates of x scoring above t, scoring exactly t): one vectorised pass."""
    gt = 0
    eq = 0
    for c in range(x.shape[0]):
        v = x[c]
        if v > t:
            gt += 1
        if v == t:
            eq += 1
    return gt, eq


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _before(row, lo, hi, r, t, key, tiekey):
    """Candidates of row[lo:hi] ranking before candidate r (score t, tie key ``key``)."""
    gt, eq = _above(row[lo:hi], t)
    if eq > 1 or (eq == 1 and not lo <= r < hi):  # another candidate ties with r: the larger key first
        for c in range(lo, hi):
            if row[c] == t and tiekey[c] > key:
                gt += 1
    return gt


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _kth_largest(x, k):
    """The k-th largest value of x (reordered in place): Hoare's selection."""
    lo, hi, want = 0, x.shape[0] - 1, x.shape[0] - k
    while lo < hi:
        pivot = x[(lo + hi) // 2]
        i, j = lo, hi
        while i <= j:
            while x[i] < pivot:
                i += 1
            while x[j] > pivot:
                j -= 1
            if i <= j:
                x[i], x[j] = x[j], x[i]
                i += 1
                j -= 1
        if want <= j:
            hi = j
        elif want >= i:
            lo = i
        else:
            break
    return x[want]


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _floor(maxima, k):
    """A value that at least k of ``maxima`` reach, close to their k-th largest: a bisection on
    the value with one vectorised count per step (cheaper than a selection)."""
    lo = np.float64(maxima.min())
    hi = np.float64(maxima.max())
    enough = k + k // 4 + 1
    for _ in range(32):
        if not hi > lo:
            break
        mid = lo + (hi - lo) / 2
        n = 0
        for c in range(maxima.shape[0]):
            n += maxima[c] >= mid
        if n >= k:
            lo = mid
            if n <= enough:
                break
        else:
            hi = mid
    return lo


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _order_key(row, bits, c, tiekey):
    """(score, tie key) of column c as one integer in the order of the tie rule; -0.0 == +0.0."""
    u = np.int64(bits[c])
    if row[c] == 0:
        u = np.int64(0)
    u = (u ^ 0xFFFFFFFF) if u >= 0x80000000 else (u | 0x80000000)
    return (u << 31) | tiekey[c]


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _head(row, tiekey, colblock, cmax):
    """Order keys and blocks of a superset of the row's best ``cmax`` candidates.

    The columns are cut into ``g`` interleaved groups (column c in group c % g) whose maxima take
    one vectorised pass. Each group's maximum is a different candidate, so at least ``cmax`` of
    them score at least a floor that ``cmax`` maxima reach: no candidate below it can be among the
    best ``cmax``. Returns (keys, blocks, floor); every candidate scoring >= floor is in keys."""
    m = row.shape[0]
    g = max(cmax, m // 16)
    floor = -np.inf
    if m >= 2 * g:  # on a short row every candidate is a candidate for the top
        maxima = row[:g].copy()
        for start in range(g, m, g):
            part = row[start:start + g]
            for c in range(part.shape[0]):
                v = part[c]
                maxima[c] = v if v > maxima[c] else maxima[c]  # not max(): that one does not vectorise
        floor = _floor(maxima, cmax)
    else:
        g = m
        maxima = row.copy()
    reached = 0
    for grp in range(g):
        reached += maxima[grp] >= floor
    size = reached * -(-m // g)  # at most the whole of every group whose maximum reaches the floor
    keys = np.empty(size, dtype=np.int64)
    blocks = np.empty(size, dtype=np.int64)
    bits = row.view(np.uint32)
    at = 0
    for grp in range(g):  # only those groups hold candidates
        if maxima[grp] >= floor:
            for c in range(grp, m, g):
                if row[c] >= floor:
                    keys[at] = _order_key(row, bits, c, tiekey)
                    blocks[at] = colblock[c]
                    at += 1
    return keys[:at], blocks[:at], floor


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _row(i, scores, rel, tiekey, block_starts, colblock, levels, own, total, top):
    """Row i: for each relevant j, candidates ranking before it in its own block (own[i, j]) and in
    all the columns (total[i, j]); per level and block, candidates in the row's top (top[i])."""
    row = scores[i]
    m = row.shape[0]
    n_blocks = block_starts.shape[0] - 1
    floor = np.inf
    keys = np.empty(0, dtype=np.int64)
    blocks = np.empty(0, dtype=np.int64)
    if levels.shape[0]:
        cmax = 0
        for c in levels:
            cmax = max(cmax, min(c, m))
        keys, blocks, floor = _head(row, tiekey, colblock, cmax)
        for li in range(levels.shape[0]):
            c = min(levels[li], m)
            if c == 0:
                continue
            cut = _kth_largest(keys.copy(), c)  # keys are distinct: exactly c candidates are >= cut
            for a in range(keys.shape[0]):
                if keys[a] >= cut:
                    top[i, li, blocks[a]] += 1
    bits = row.view(np.uint32)
    for j in range(rel.shape[1]):
        r = rel[i, j]
        if r < 0:
            break
        t, key, bl = row[r], tiekey[r], colblock[r]
        if t >= floor:  # every candidate before r is in the head: compare order keys there
            kr = _order_key(row, bits, r, tiekey)
            for a in range(keys.shape[0]):
                if keys[a] > kr:
                    total[i, j] += 1
                    own[i, j] += blocks[a] == bl
            continue
        for b in range(n_blocks):
            count = _before(row, block_starts[b], block_starts[b + 1], r, t, key, tiekey)
            total[i, j] += count
            if b == bl:
                own[i, j] = count


@numba.njit(cache=True, parallel=True, nogil=True)
def _kernel(scores, rel, tiekey, block_starts, colblock, levels, own, total, top):
    for i in numba.prange(scores.shape[0]):
        _row(i, scores, rel, tiekey, block_starts, colblock, levels, own, total, top)


def beat_counts(scores: np.ndarray, rel: np.ndarray, blocks: Sequence[tuple[int, int]],
                tiekey: np.ndarray, levels: Sequence[int] = ()) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidates ranking before each relevant candidate: within its own block, and in all columns.

    scores: (n, m) float32, one row per query over the pool columns (finite values).
    rel: (n, k) int64 column indices of each query's relevant candidates, padded with -1 at the
    end of each row.
    blocks: column ranges [lo, hi) that tile the columns, in order (one per language).
    tiekey: (m,) tie-break keys of the columns (see module docstring).
    levels: cutoffs c for which to also count, per block, the candidates in each query's top c
    (the language mix of the top of a multilingual ranking), under the same tie rule.
    Returns own (n, k) and total (n, k) int64 counts, zero for padded entries (a relevant
    candidate's rank is 1 + own in its language's pool, 1 + total in the pool of all the columns),
    and top-c counts (n, len(levels), len(blocks)) int64.
    """
    scores = np.ascontiguousarray(scores, dtype=np.float32)
    rel = np.ascontiguousarray(rel, dtype=np.int64)
    n = scores.shape[0]
    own = np.zeros((n, rel.shape[1]), dtype=np.int64)
    total = np.zeros((n, rel.shape[1]), dtype=np.int64)
    top = np.zeros((n, len(levels), len(blocks)), dtype=np.int64)
    if n == 0 or not len(blocks):
        return own, total, top
    starts = np.array([lo for lo, _ in blocks] + [blocks[-1][1]], dtype=np.int64)
    colblock = np.repeat(np.arange(len(blocks), dtype=np.int64), np.diff(starts))
    _kernel(scores, rel, np.ascontiguousarray(tiekey, dtype=np.int64), starts, colblock,
            np.asarray(levels, dtype=np.int64), own, total, top)
    return own, total, top


def warm_up() -> None:
    """Load the compiled kernel (numba's cache: about 0.3 s on an idle core, over 1 s on a busy
    one) with the argument types of every real call, on a tiny problem. A run calls it in a thread
    while it loads data and encodes, so that its first real call pays nothing the fifth does not."""
    scores = np.array([[0.5, 0.1, 0.3, 0.3], [0.2, 0.9, 0.4, 0.1]], dtype=np.float32)
    rel = np.array([[0, 2], [1, -1]], dtype=np.int64)
    beat_counts(scores, rel, [(0, 2), (2, 4)], np.arange(4, dtype=np.int64), (1, 2))

