"""Tiers of a leaderboard: which entries cannot be told apart.

A ranked table invites reading every step as a difference; a tier says where the data support one.
Given entries sorted by a figure (best first) and their paired per-unit values (the units of
:mod:`mlbench.analysis.compare`: queries of a setting, or questions within a query language for an
aggregate), :func:`tiers` groups them so that an entry shares a tier with the entries above it
that it is not significantly worse than.

The rule
--------
1. Every pair of entries is tested once, with a paired test of :mod:`mlbench.analysis.significance`
   (``randomization``, ``t``, ``bootstrap`` or ``wilcoxon``) on their per-unit values, and the
   ``n(n-1)/2`` p-values are corrected together as one family (``holm``, ``bonferroni``, ``bh``
   or ``none``).
2. Walking down the sorted list, the first entry opens tier 1. Each next entry joins the current
   tier unless it is *significantly worse than the tier's top entry* (adjusted p <= alpha and its
   mean is worse in the figure's direction); then it opens the next tier and becomes its top.

Why these choices:

* **Against the tier's top, not the neighbour.** Comparing neighbours chains: A ~ B ~ C can hold
  while A beats C clearly, and neighbour tests would then put A and C together. Measuring each
  entry against the best entry of its tier bounds how far a tier can stretch: nothing in a tier is
  significantly worse than its top.
* **Every pair in the family.** Which pairs the walk looks at depends on the outcomes of earlier
  tests (a new top changes every later comparison), so a family made only of "the comparisons
  made" is chosen by the data, and its correction no longer bounds the error rate. Correcting over
  all pairs, fixed before any test is run, keeps the family-wise error rate at alpha (Holm,
  Bonferroni) or the false discovery rate (BH) whatever path the walk takes. The price is
  conservatism on long tables (m grows as n^2/2); on leaderboards of tens of entries that is a few
  hundred tests, which the resampling floors below account for. The full matrix of adjusted
  p-values is kept, so a rendering can also say which entries *within* a tier differ.
* **Paired tests rather than bootstrap rank intervals.** Rank intervals answer "where could this
  entry rank", a different and harder question (they depend on every other entry at once); a tier
  boundary here is exactly a statement `mlbench compare` makes about two entries (same units, same
  test, same correction family semantics), so the two never contradict each other on what
  "significant" means.

Resamples: for a resampling test the number of resamples follows from the family size as for
``mlbench compare`` (:func:`mlbench.analysis.floors.reachable`: enough for the family to
reach alpha / 10), and the smallest reachable adjusted p is recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mlbench.analysis.significance import (
    CORRECTION_NAMES,
    TEST_NAMES,
    adjust,
    check_correction,
    check_test,
    paired_test,
    randomization_pairs,
    resamples_note,
)
from mlbench.analysis.floors import reachable
from mlbench.errors import MlbenchError


@dataclass(frozen=True)
class PairTest:
    """One test of the family: entry ``lower`` (further down the list) against entry ``upper``."""

    upper: int
    lower: int
    delta: float  # mean(lower) - mean(upper)
    p: float
    p_adjusted: float
    worse: bool  # lower is significantly worse than upper (adjusted p <= alpha, delta in the bad direction)


@dataclass(frozen=True)
class Tiering:
    """Tiers of the entries (1-based, in input order) and the record of the tests behind them.

    ``tops[t]``: index of the entry that opened tier ``t + 1``; ``decisive[i]``: for each entry
    after the first, the (upper, lower) pair whose test placed it (against its tier's top);
    ``pairs``: every test of the family; ``floor``: the smallest adjusted p the family can reach."""

    names: list[str]
    tiers: list[int]
    tops: list[int]
    decisive: list[tuple[int, int] | None]
    pairs: list[PairTest]
    test: str
    correction: str
    alpha: float
    n_permutations: int
    seed: int | None
    floor: float
    higher_is_better: bool

    def pair(self, i: int, j: int) -> PairTest:
        """The test between entries i and j (either order)."""
        lo, hi = min(i, j), max(i, j)
        for p in self.pairs:
            if (p.upper, p.lower) == (lo, hi):
                return p
        raise KeyError((i, j))

    def adjusted_matrix(self) -> np.ndarray:
        """(n, n) adjusted p of every pair, symmetric, NaN on the diagonal."""
        n = len(self.names)
        out = np.full((n, n), np.nan)
        for p in self.pairs:
            out[p.upper, p.lower] = out[p.lower, p.upper] = p.p_adjusted
        return out

    def procedure(self) -> str:
        """One sentence for a caption or a legend: what was tested and corrected, and alpha."""
        m = len(self.pairs)
        test = TEST_NAMES[self.test] + resamples_note(self.test, self.n_permutations, self.seed)
        return (f"tiers: an entry opens a new tier when it is significantly worse than the first entry of the "
                f"tier above it; {test} on the paired per-unit values; {CORRECTION_NAMES[self.correction]} "
                f"correction over all {m} pairs; alpha {self.alpha:g}")


def tiers(values: Sequence[np.ndarray], names: Sequence[str], test: str = "randomization",
          correction: str = "holm", alpha: float = 0.05, higher_is_better: bool = True,
          n_permutations: int | None = None, seed: int | None = 0) -> Tiering:
    """Tier of each entry (see the module docstring for the rule).

    ``values[i]``: entry i's per-unit values, aligned across entries (unit u of every array is the
    same query or question); entries in order, best first by the figure the table sorts on.
    ``higher_is_better=False`` for figures such as the rank distance."""
    check_test(test)
    check_correction(correction)
    if not 0 < alpha < 1:
        raise MlbenchError(f"alpha must be in (0, 1), got {alpha}")
    if len(values) != len(names):
        raise ValueError(f"{len(values)} value arrays but {len(names)} names")
    arrays = [np.asarray(v, dtype=np.float64) for v in values]
    n = len(arrays)
    if n == 0:
        raise MlbenchError("tiers need at least one entry")
    units = len(arrays[0])
    for name, a in zip(names, arrays):
        if a.ndim != 1 or len(a) != units:
            raise ValueError(f"entry {name!r}: {a.shape} values, the first entry has ({units},); "
                             "tiers need the same units for every entry")
    index = [(i, j) for i in range(n) for j in range(i + 1, n)]
    chosen, floors = reachable({"all pairs": [units] * len(index)}, test, correction, alpha, n_permutations)
    deltas = [float(np.mean(arrays[j] - arrays[i])) for i, j in index]
    if test == "randomization":  # every pair from one pass over the same sign patterns
        raw = randomization_pairs(arrays, index, chosen, seed)
    else:
        raw = [paired_test(arrays[i], arrays[j], test=test, n_permutations=chosen, seed=seed, confidence=None).p
               for i, j in index]
    adjusted = adjust(raw, correction) if raw else np.zeros(0)
    pairs = []
    for (i, j), p, q, d in zip(index, raw, adjusted, deltas):
        bad = d < 0 if higher_is_better else d > 0
        pairs.append(PairTest(i, j, float(d), float(p), float(q), bool(q <= alpha and bad)))
    worse = {(p.upper, p.lower): p.worse for p in pairs}
    tier_of = [1]
    tops = [0]
    decisive: list[tuple[int, int] | None] = [None]
    for j in range(1, n):
        top = tops[-1]
        decisive.append((top, j))
        if worse[(top, j)]:
            tops.append(j)
        tier_of.append(len(tops))
    return Tiering(list(names), tier_of, tops, decisive, pairs, test, correction, alpha, chosen, seed,
                   floors["all pairs"], higher_is_better)


__all__ = ["PairTest", "Tiering", "tiers"]
