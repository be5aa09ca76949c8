"""Paired significance tests over per-query (or per-unit) values, and multiple-comparison corrections.

Every test takes two aligned arrays ``a`` (system A) and ``b`` (system B) of the same queries and
works on the paired differences ``d = b - a``; the reported difference is ``mean(d)``, so a
positive delta means B scores higher.

- ``randomization`` (the default): two-sided sign-flip permutation test of ``mean(d)``
  (the semantics of ``scipy.stats.permutation_test`` with ``permutation_type="samples"`` on the
  one sample ``d``, which flips the sign of each difference, i.e. swaps A and B within a pair;
  computed here as batched matrix products, 50x faster than scipy's loop on 13,000 units). Exact when
  ``2**n <= n_permutations``, otherwise Monte Carlo with ``p = 2 * min(P<=, P>=)`` and scipy's
  ``+1`` adjustment, so ``p >= 2 / (n_permutations + 1)``.
- ``t``: paired Student t-test, ``scipy.stats.ttest_rel(b, a)``.
- ``bootstrap``: paired bootstrap of ``mean(d)`` over the pairs (``scipy.stats.bootstrap`` on
  ``d``); ``p = (1 + #{|m* - mean(d)| >= |mean(d)|}) / (1 + B)`` from the centred bootstrap
  distribution (the shift method: the resampling distribution moved to mean zero stands for H0).
- ``wilcoxon``: two-sided Wilcoxon signed-rank test, ``scipy.stats.wilcoxon(d,
  zero_method="pratt")`` with scipy's own choice of method (:func:`wilcoxon_test`). It asks
  whether the differences are symmetric about zero, a location shift of their distribution, not
  whether ``mean(d)`` is zero; the reported delta and interval stay ``mean(d)``. It uses no
  resamples.

Whatever the test, the confidence interval of ``mean(d)`` is the paired bootstrap interval
(BCa; the percentile interval where BCa is undefined, e.g. almost all differences equal).
The effect size is Cohen's d for paired samples, ``d_z = mean(d) / sd(d)`` (``ddof=1``).

Degenerate cases, defined rather than left to warnings:

- all differences zero (e.g. a run compared with itself): p = 1 for every test, d_z = 0, CI (0, 0);
- all differences equal to one non-zero value v (up to rounding, 1e-12 relative): d_z = +-inf,
  CI (v, v); the randomization test keeps its answer (its smallest p), the t-test gives p = 0,
  the bootstrap test ``1 / (B + 1)`` and the Wilcoxon test scipy's answer for n equal ranks
  (its floor, :func:`smallest_p`);
- fewer than two pairs (or any test that cannot be computed): p = 1, d_z = nan.

Corrections (:func:`adjust`): ``holm`` (default; step-down, controls the family-wise error rate),
``bonferroni``, ``bh`` (Benjamini-Hochberg, false discovery rate, ``scipy.stats.false_discovery_control``)
and ``none``.

How many resamples a family of tests needs, and the smallest p each test can reach, is
:mod:`mlbench.analysis.floors`.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from mlbench.errors import MlbenchError

TESTS = ("randomization", "t", "bootstrap", "wilcoxon")
# tests whose p-value comes from B resamples, so that B bounds the smallest p they can give
RESAMPLING_TESTS = ("randomization", "bootstrap")
CORRECTIONS = ("holm", "bonferroni", "bh", "none")
DEFAULT_PERMUTATIONS = 10000
DEFAULT_CONFIDENCE = 0.95
# elements (resamples x pairs) held at once by the resampling tests; bounds memory on large runs
_BATCH_ELEMENTS = 1 << 22

TEST_NAMES = {
    "randomization": "two-sided paired randomization test (sign flips of the per-unit differences)",
    "t": "two-sided paired t-test",
    "bootstrap": "two-sided paired bootstrap test (shift method)",
    "wilcoxon": "two-sided Wilcoxon signed-rank test (Pratt's treatment of zero differences)",
}
CORRECTION_NAMES = {"holm": "Holm", "bonferroni": "Bonferroni", "bh": "Benjamini-Hochberg", "none": "none"}


def resamples_note(test: str, n_permutations: int, seed: int | None) -> str:
    """", N permutations, seed S" for the tests whose p comes from resamples, "" for the others."""
    if test not in RESAMPLING_TESTS:
        return ""
    return f", {n_permutations} {'permutations' if test == 'randomization' else 'resamples'}, seed {seed}"


@dataclass(frozen=True)
class PairedResult:
    """One paired comparison of B against A."""

    test: str
    n: int
    mean_a: float
    mean_b: float
    delta: float  # mean(b - a)
    ci_low: float
    ci_high: float
    p: float
    effect_size: float  # Cohen's d_z



def _stats():
    """scipy.stats, imported on first use: importing it costs over a second at CLI start-up."""
    from scipy import stats

    return stats

def check_test(test: str) -> str:
    if test not in TESTS:
        raise MlbenchError(f"--test {test!r} is not one of {', '.join(TESTS)}")
    return test


def check_correction(correction: str) -> str:
    if correction not in CORRECTIONS:
        raise MlbenchError(f"--correction {correction!r} is not one of {', '.join(CORRECTIONS)}")
    return correction


def _pairs(a, b) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"paired tests need two 1-d arrays of the same length, got {a.shape} and {b.shape}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("paired tests need finite values")
    return a, b


def _batch(n: int, n_resamples: int) -> int:
    return int(max(1, min(n_resamples, _BATCH_ELEMENTS // max(n, 1))))


def _rng(seed: int | None) -> np.random.Generator:
    return np.random.default_rng(seed)


def _mean(x, axis=-1):
    return np.mean(x, axis=axis)


def _all_zero(d: np.ndarray) -> bool:
    return not np.any(d)


def _constant(d: np.ndarray) -> bool:
    """All differences equal (up to rounding: a spread below 1e-12 of their magnitude)."""
    return bool(len(d)) and float(np.ptp(d)) <= 1e-12 * float(np.max(np.abs(d)))


def _sign_flip_means(d: np.ndarray, n_permutations: int, seed: int | None) -> tuple[np.ndarray, bool]:
    """Null distribution of mean(d) under random sign flips; exact (all 2**n patterns) when that is
    no more than ``n_permutations``. A batch of sign patterns is one matrix product, so 10000
    permutations of 13,000 units take well under a second."""
    n = len(d)
    if n < 63 and 2 ** n <= n_permutations:
        bits = (np.arange(2 ** n, dtype=np.int64)[:, None] >> np.arange(n, dtype=np.int64)) & 1
        return (1.0 - 2.0 * bits) @ d / n, True
    rng = _rng(seed)
    out = np.empty(n_permutations)
    step = _batch(n, n_permutations)
    for start in range(0, n_permutations, step):
        m = min(step, n_permutations - start)
        flips = rng.integers(0, 2, size=(m, n), dtype=np.int8)
        out[start:start + m] = (1.0 - 2.0 * flips) @ d / n
    return out, False


def randomization_test(a, b, n_permutations: int = DEFAULT_PERMUTATIONS, seed: int | None = 0) -> float:
    """Two-sided sign-flip permutation test of mean(b - a); p = 1 when every difference is zero.

    ``p = min(1, 2 * min(P(T <= t), P(T >= t)))`` as in ``scipy.stats.permutation_test`` (with its
    ``+1`` Monte-Carlo adjustment and its relative tolerance for ties with the observed mean)."""
    a, b = _pairs(a, b)
    d = b - a
    if len(d) < 2 or _all_zero(d):  # one pair: both sign flips are as extreme, p = 1
        return 1.0
    null, exact = _sign_flip_means(d, n_permutations, seed)
    observed = float(np.mean(d))
    gamma = abs(observed) * np.finfo(np.float64).eps * 100  # scipy's tolerance for ties with the observed mean
    adj = 0 if exact else 1
    less = (np.count_nonzero(null <= observed + gamma) + adj) / (len(null) + adj)
    greater = (np.count_nonzero(null >= observed - gamma) + adj) / (len(null) + adj)
    return float(min(1.0, 2 * min(less, greater)))


def randomization_pairs(values: list[np.ndarray], pairs: list[tuple[int, int]],
                        n_permutations: int = DEFAULT_PERMUTATIONS, seed: int | None = 0) -> list[float]:
    """:func:`randomization_test` of ``values[j]`` against ``values[i]`` for every ``(i, j)`` of
    ``pairs``, from one pass over the sign patterns: the patterns the seed draws are the same for
    every pair, so each batch is one product with all the arrays at once (``S @ V``), and a pair's
    null distribution is the difference of two columns. A table of tens of entries then costs about
    one test instead of hundreds. The p-values are the pairwise ones except where a pattern's mean
    difference ties the observed one exactly: the two roundings (``S @ (b - a)``, ``S @ b - S @ a``)
    may count it on different sides, a change of at most a few patterns in B (tests/test_tiers.py)."""
    arrays = np.stack([np.asarray(v, dtype=np.float64) for v in values], axis=1) if values else np.zeros((0, 0))
    n = arrays.shape[0]
    diffs = {(i, j): arrays[:, j] - arrays[:, i] for i, j in pairs}
    live = [(i, j) for (i, j), d in diffs.items() if n >= 2 and not _all_zero(d)]
    out = {pair: 1.0 for pair in pairs}
    if not live:
        return [out[pair] for pair in pairs]
    exact = n < 63 and 2 ** n <= n_permutations
    if exact:
        bits = (np.arange(2 ** n, dtype=np.int64)[:, None] >> np.arange(n, dtype=np.int64)) & 1
        nulls = (1.0 - 2.0 * bits) @ arrays / n
    else:
        rng = _rng(seed)
        nulls = np.empty((n_permutations, arrays.shape[1]))
        step = _batch(n, n_permutations)  # the batches of _sign_flip_means: the same draws, in the same order
        for start in range(0, n_permutations, step):
            m = min(step, n_permutations - start)
            flips = rng.integers(0, 2, size=(m, n), dtype=np.int8)
            nulls[start:start + m] = (1.0 - 2.0 * flips) @ arrays / n
    adj = 0 if exact else 1
    for i, j in live:
        null = nulls[:, j] - nulls[:, i]
        observed = float(np.mean(diffs[(i, j)]))
        gamma = abs(observed) * np.finfo(np.float64).eps * 100
        less = (np.count_nonzero(null <= observed + gamma) + adj) / (len(null) + adj)
        greater = (np.count_nonzero(null >= observed - gamma) + adj) / (len(null) + adj)
        out[(i, j)] = float(min(1.0, 2 * min(less, greater)))
    return [out[pair] for pair in pairs]


def t_test(a, b) -> float:
    """Paired t-test (``scipy.stats.ttest_rel``); p = 1 when every difference is zero or n < 2."""
    a, b = _pairs(a, b)
    d = b - a
    if len(d) < 2 or _all_zero(d):
        return 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # constant non-zero differences: t = +-inf, p = 0
        p = float(_stats().ttest_rel(b, a).pvalue)
    return 1.0 if math.isnan(p) else p


def wilcoxon_test(a, b) -> float:
    """Two-sided Wilcoxon signed-rank test of b - a (``scipy.stats.wilcoxon(b - a,
    zero_method="pratt")``, scipy's "auto" method, no continuity correction).

    Zero differences: Pratt's rule. Per-query retrieval metrics are often exactly equal for two
    systems (both rank the answer first; both miss it), so zeros are common. Wilcoxon's original
    rule ("wilcox", scipy's default) drops them and tests only the units where the systems differ:
    a handful of small gains among thousands of ties then looks as strong as the same gains alone.
    Pratt's rule keeps the zeros in the ranking of ``|d|`` (every non-zero difference ranks above
    them) and leaves their ranks out of the statistic, with the mean and variance adjusted
    accordingly (Cureton's correction, as scipy implements it), so n is the number of units and the
    zeros weaken the evidence rather than vanish. ("zsplit" would count half of each zero's rank on
    each side, which shrinks z too but is no standard test.)

    Exact or approximate: as scipy chooses (exact null distribution for n <= 50 without ties or
    zeros, enumeration of the 2**n sign patterns for n <= 13 otherwise, else the normal
    approximation), since each is the accurate choice for its case and equality with scipy then
    holds by construction. p = 1 when every difference is zero (scipy would give NaN) or n < 2."""
    a, b = _pairs(a, b)
    d = b - a
    if len(d) < 2 or _all_zero(d):
        return 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        p = float(_stats().wilcoxon(d, zero_method="pratt", alternative="two-sided", method="auto").pvalue)
    return 1.0 if math.isnan(p) else min(1.0, p)


def _bootstrap(d: np.ndarray, confidence: float, n_resamples: int, seed: int | None):
    """(ci_low, ci_high, bootstrap distribution of the mean) for non-constant d."""
    kw = dict(n_resamples=n_resamples, vectorized=True, batch=_batch(len(d), n_resamples),
              confidence_level=confidence)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # BCa is undefined for some degenerate samples; then percentile
        res = _stats().bootstrap((d,), _mean, method="BCa", rng=_rng(seed), **kw)
        lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if not (math.isfinite(lo) and math.isfinite(hi)):
            res = _stats().bootstrap((d,), _mean, method="percentile", rng=_rng(seed), **kw)
            lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return lo, hi, res.bootstrap_distribution


def bootstrap_ci(a, b, confidence: float = DEFAULT_CONFIDENCE, n_resamples: int = DEFAULT_PERMUTATIONS,
                 seed: int | None = 0) -> tuple[float, float]:
    """Paired bootstrap confidence interval of mean(b - a) (BCa, percentile as fallback)."""
    a, b = _pairs(a, b)
    d = b - a
    if len(d) == 0:
        return (math.nan, math.nan)
    if _constant(d):
        return (float(np.mean(d)), float(np.mean(d)))
    lo, hi, _ = _bootstrap(d, confidence, n_resamples, seed)
    return lo, hi


def bootstrap_test(a, b, n_resamples: int = DEFAULT_PERMUTATIONS, seed: int | None = 0) -> float:
    """Two-sided paired bootstrap test of mean(b - a) by the shift method."""
    a, b = _pairs(a, b)
    d = b - a
    if len(d) < 2 or _all_zero(d):
        return 1.0
    if _constant(d):
        return 1.0 / (n_resamples + 1)
    _, _, dist = _bootstrap(d, DEFAULT_CONFIDENCE, n_resamples, seed)
    return _shift_p(dist, float(np.mean(d)))


def _shift_p(dist: np.ndarray, observed: float) -> float:
    centred = np.abs(np.asarray(dist) - observed)
    # a tolerance so that resamples equal to the observed mean up to rounding count as "as extreme"
    hits = np.count_nonzero(centred >= abs(observed) * (1 - 1e-12))
    return float(min(1.0, (hits + 1) / (len(dist) + 1)))


def cohens_d(a, b) -> float:
    """Cohen's d for paired samples, mean(d) / sd(d) with ddof=1; 0 when all differences are zero,
    +-inf when they all equal one non-zero value, nan for fewer than two pairs."""
    a, b = _pairs(a, b)
    d = b - a
    if _all_zero(d):
        return 0.0
    if len(d) < 2:
        return math.nan
    if _constant(d):
        return math.copysign(math.inf, float(np.mean(d)))
    return float(np.mean(d) / np.std(d, ddof=1))


def paired_test(a, b, test: str = "randomization", n_permutations: int = DEFAULT_PERMUTATIONS,
                seed: int | None = 0, confidence: float | None = DEFAULT_CONFIDENCE) -> PairedResult:
    """Means, delta, bootstrap CI, p-value of ``test`` and Cohen's d_z of B against A
    (``confidence=None``: no CI, NaN bounds; a gate needs only the p-value)."""
    check_test(test)
    if n_permutations < 1:
        raise MlbenchError(f"--permutations must be positive, got {n_permutations}")
    if confidence is not None and not 0 < confidence < 1:
        raise MlbenchError(f"confidence level must be in (0, 1), got {confidence}")
    a, b = _pairs(a, b)
    n = len(a)
    if n == 0:
        nan = math.nan
        return PairedResult(test, 0, nan, nan, nan, nan, nan, 1.0, nan)
    d = b - a
    delta = float(np.mean(d))
    dist = None
    if confidence is None:
        lo = hi = math.nan
    elif _all_zero(d):
        lo = hi = 0.0
    elif _constant(d):
        lo = hi = delta
    else:
        lo, hi, dist = _bootstrap(d, confidence, n_permutations, seed)
    if test == "randomization":
        p = randomization_test(a, b, n_permutations, seed)
    elif test == "t":
        p = t_test(a, b)
    elif test == "wilcoxon":
        p = wilcoxon_test(a, b)
    elif dist is not None and n >= 2:
        p = _shift_p(dist, delta)
    else:
        p = bootstrap_test(a, b, n_permutations, seed)
    return PairedResult(test, n, float(np.mean(a)), float(np.mean(b)), delta, lo, hi, p, cohens_d(a, b))


def adjust(pvalues, correction: str = "holm") -> np.ndarray:
    """Adjusted p-values of one family, in the input order.

    holm: sort ascending, ``p_(i) * (m - i + 1)`` (i from 1), running maximum, capped at 1;
    bonferroni: ``min(1, m * p)``; bh: ``scipy.stats.false_discovery_control(p, method="bh")``;
    none: unchanged.
    """
    check_correction(correction)
    p = np.asarray(pvalues, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError("adjust() takes a 1-d array of p-values")
    if np.any(np.isnan(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError("p-values must lie in [0, 1]")
    m = len(p)
    if m == 0 or correction == "none":
        return p.copy()
    if correction == "bonferroni":
        return np.minimum(1.0, p * m)
    if correction == "bh":
        return np.minimum(1.0, _stats().false_discovery_control(p, method="bh"))
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate(np.minimum(1.0, p[order] * (m - np.arange(m))))
    out = np.empty(m)
    out[order] = stepped
    return out


__all__ = ["CORRECTIONS", "CORRECTION_NAMES", "resamples_note", "DEFAULT_CONFIDENCE", "DEFAULT_PERMUTATIONS", "RESAMPLING_TESTS", "TESTS",
           "TEST_NAMES",
           "PairedResult", "adjust", "bootstrap_ci", "bootstrap_test", "check_correction", "check_test", "cohens_d",
           "paired_test", "randomization_pairs", "randomization_test", "t_test", "wilcoxon_test"]
