"""The ranking kernel (mlbench.retrieval.fullrank) against a full sort of every row.

The kernel never sorts a row: it counts, prunes the top with a floor and compares order keys. Each
of those shortcuts is checked here against the plain definition: sort the row by the tie rule
(score descending, then tie key descending, -0.0 equal to +0.0) and read positions off it.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mlbench.retrieval.fullrank import beat_counts


def by_sort(scores, rel, blocks, tiekey, levels):
    """own, total and top counts read off a full sort of each row."""
    n, m = scores.shape
    block_of = np.empty(m, dtype=np.int64)
    for b, (lo, hi) in enumerate(blocks):
        block_of[lo:hi] = b
    own = np.zeros(rel.shape, dtype=np.int64)
    total = np.zeros(rel.shape, dtype=np.int64)
    top = np.zeros((n, len(levels), len(blocks)), dtype=np.int64)
    for i in range(n):
        order = sorted(range(m), key=lambda c: (-(float(scores[i, c]) + 0.0), -int(tiekey[c])))
        pos = np.empty(m, dtype=np.int64)
        pos[order] = np.arange(m)
        for j, r in enumerate(rel[i]):
            if r < 0:
                continue
            before = pos < pos[r]
            total[i, j] = before.sum()
            own[i, j] = (before & (block_of == block_of[r])).sum()
        for li, c in enumerate(levels):
            for col in order[: min(c, m)]:
                top[i, li, block_of[col]] += 1
    return own, total, top


def case(seed: int, m: int, n_values: int | None, n_blocks: int, levels: tuple[int, ...]):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 5))
    if n_values:  # few distinct values: ties everywhere, signed zeros among them
        values = np.array([-0.0, 0.0, 0.5, -0.5, 1.0, 2.0, -3.0][:n_values], dtype=np.float32)
        scores = values[rng.integers(0, len(values), size=(n, m))]
    else:
        scores = rng.standard_normal((n, m)).astype(np.float32)
    cuts = sorted(set(rng.integers(1, m, size=n_blocks - 1).tolist())) if m > 1 else []
    blocks = list(zip([0, *cuts], [*cuts, m]))
    k = int(rng.integers(1, min(8, m) + 1))
    rel = np.full((n, k), -1, dtype=np.int64)
    for i in range(n):
        r = np.sort(rng.choice(m, size=int(rng.integers(1, k + 1)), replace=False))
        rel[i, : len(r)] = r
    tiekey = rng.permutation(m).astype(np.int64)
    return scores, rel, blocks, tiekey, levels


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), m=st.integers(1, 400), n_values=st.sampled_from([None, 1, 2, 3, 7]),
       n_blocks=st.integers(1, 5), levels=st.lists(st.integers(1, 450), max_size=3, unique=True).map(tuple))
def test_counts_equal_a_full_sort(seed, m, n_values, n_blocks, levels):
    args = case(seed, m, n_values, n_blocks, levels)
    got, want = beat_counts(*args), by_sort(*args)
    for name, g, w in zip(("own", "total", "top"), got, want):
        assert np.array_equal(g, w), name


def test_signed_zeros_tie_and_larger_key_goes_first():
    """-0.0 and +0.0 are one score: the tie key decides, in the counts and in the top."""
    scores = np.array([[0.0, -0.0, 0.0, -0.0, -1.0] + [-2.0] * 60], dtype=np.float32)
    tiekey = np.arange(65, dtype=np.int64)[::-1].copy()  # column 0 has the largest key
    rel = np.array([[1, 3]])
    own, total, top = beat_counts(scores, rel, [(0, 65)], tiekey, (2,))
    assert total.tolist() == [[1, 3]] and own.tolist() == [[1, 3]]
    assert top.tolist() == [[[2]]]


def test_long_rows_take_the_pruned_top_and_still_match():
    """Rows long enough for the floor of group maxima (and relevant candidates above and below
    it), with many exact ties around the cut."""
    rng = np.random.default_rng(7)
    m = 3000
    scores = np.round(rng.standard_normal((6, m)), 1).astype(np.float32)  # ~60 distinct values
    blocks = [(0, 700), (700, 1900), (1900, m)]
    rel = np.sort(rng.choice(m, size=(6, 9), replace=False), axis=1)
    tiekey = rng.permutation(m).astype(np.int64)
    args = (scores, rel, blocks, tiekey, (10, 100))
    for g, w in zip(beat_counts(*args), by_sort(*args)):
        assert np.array_equal(g, w)
