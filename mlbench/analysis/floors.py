"""The smallest p-value each paired test can give, and the resamples a family of tests needs.

A resampling test cannot give a p below
``2 / (B + 1)`` (randomization; ``1 / (B + 1)`` bootstrap) with B resamples, and a correction
multiplies the smallest p of a family of m tests by m (Holm, Bonferroni, and BH for a single
rejection). With too few resamples no test can be significant: 2000 permutations over 132 settings
give at best ``132 * 2 / 2001 = 0.13 > 0.05``. :func:`resamples_for` therefore chooses
``B = max(default, ceil(20 * m / alpha))`` (the smallest reachable adjusted p is then alpha / 10)
when B is not given, and :func:`reachable` refuses a given B with which a family cannot reach
alpha. (An exact sign-flip test on n < 63 pairs has its own floor, ``2 / 2**n``, whatever B.)
The t-test and the Wilcoxon test draw no resamples: B serves only their bootstrap interval, their
floors depend on n alone, and no B is ever refused for them.

Kept apart from the tests themselves (:mod:`mlbench.analysis.significance`) because compare,
compare-many, the leaderboard and tiers all size their families here before any test is run.
"""

from __future__ import annotations

import math

from mlbench.analysis.significance import CORRECTION_NAMES, DEFAULT_PERMUTATIONS, RESAMPLING_TESTS
from mlbench.errors import MlbenchError


def _wilcoxon_floor(n: int) -> float:
    """The smallest two-sided p of ``scipy.stats.wilcoxon`` (method "auto") on n pairs.

    scipy computes the exact null distribution (n <= 50 without ties or zeros), enumerates all
    2**n sign patterns (n <= 13 with ties or zeros) or uses the normal approximation (n > 50, or
    14..50 with ties or zeros). The first two give at least ``2 / 2**n`` (all differences of one
    sign). The approximation's z is ``sum_i s_i r_i / sqrt(sum_i r_i^2)`` over the non-zero
    differences (signs s_i, mid-ranks r_i; Pratt's mean and variance), which Cauchy-Schwarz bounds
    by ``sqrt(n)``, reached when all differences are equal: ``p >= erfc(sqrt(n / 2))``."""
    approx = math.erfc(math.sqrt(n / 2.0))
    if n > 50:
        return approx
    exact = 2.0 / 2.0 ** n
    return min(1.0, exact if n <= 13 else min(exact, approx))


def smallest_p(test: str, n: int, n_permutations: int) -> float:
    """The smallest p-value ``test`` can give on ``n`` pairs with ``n_permutations`` resamples
    (which only the resampling tests depend on)."""
    if n < 2:
        return 1.0
    if test == "t":
        return 0.0
    if test == "wilcoxon":
        return _wilcoxon_floor(n)
    if test == "randomization":
        if n < 63 and 2 ** n <= n_permutations:  # exact: the observed sign pattern and its mirror image
            return min(1.0, 2.0 / 2 ** n)
        return min(1.0, 2.0 / (n_permutations + 1))
    return min(1.0, 1.0 / (n_permutations + 1))


def smallest_adjusted(p_floors: list[float], correction: str) -> float:
    """The smallest adjusted p a family can reach: its best test at its floor, the others not
    significant (m times the floor for Holm, Bonferroni and BH; the floor itself uncorrected)."""
    if not p_floors:
        return 1.0
    best = min(p_floors)
    return best if correction == "none" else min(1.0, len(p_floors) * best)


def resamples_for(family_sizes: list[int], alpha: float, correction: str, floor: int = DEFAULT_PERMUTATIONS,
                  test: str | None = None) -> int:
    """Resamples with which the largest family reaches an adjusted p of alpha / 10; for a test
    that draws none (``t``, ``wilcoxon``) just ``floor``, the bootstrap interval's resamples."""
    if test is not None and test not in RESAMPLING_TESTS:
        return floor
    m = 1 if correction == "none" else max(family_sizes, default=1)
    return max(floor, math.ceil(20 * m / alpha))


def reachable(families: dict[str, list[int]], test: str, correction: str, alpha: float,
              n_permutations: int | None, floor: int = DEFAULT_PERMUTATIONS) -> tuple[int, dict[str, float]]:
    """Resamples to use and, per family (name -> units of each test), the smallest reachable
    adjusted p. ``n_permutations=None`` chooses them (:func:`resamples_for`); a given number with
    which a family of several tests cannot reach ``alpha`` is refused in one line."""
    chosen = n_permutations if n_permutations is not None else resamples_for(
        [len(v) for v in families.values()], alpha, correction, floor, test)  # t, wilcoxon: B is for the CI only
    if chosen < 1:
        raise MlbenchError(f"--permutations must be positive, got {chosen}")
    out = {name: smallest_adjusted([smallest_p(test, n, chosen) for n in sizes], correction)
           for name, sizes in families.items()}
    if n_permutations is not None and test in RESAMPLING_TESTS:
        for name, p in out.items():
            sizes = [n for n in families[name] if n >= 63 or 2 ** n > chosen]  # floors B decides
            if sizes and p > alpha:
                need = resamples_for([len(families[name])], alpha, correction, 1)
                raise MlbenchError(
                    f"--permutations {chosen}: with {len(families[name])} tests in family '{name}' under "
                    f"{CORRECTION_NAMES[correction]} the smallest reachable adjusted p is {p:.3g} > alpha {alpha:g}, "
                    f"so no test could be significant; give --permutations {need} or more, or leave it out "
                    "(then it follows from the number of tests)")
    return chosen, out
