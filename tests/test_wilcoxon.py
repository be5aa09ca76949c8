"""The Wilcoxon signed-rank test of mlbench.analysis.significance against scipy, on the per-query
values of two committed leaderboard results (full XQuAD-R: use-m3 and BM25, 132 settings of 1190
queries each), and its place in the smallest-reachable-p machinery."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from mlbench.analysis.significance import (
    CORRECTIONS,
    DEFAULT_PERMUTATIONS,
    TEST_NAMES,
    TESTS,
    adjust,
    paired_test,
    wilcoxon_test,
)
from mlbench.analysis.floors import reachable, resamples_for, smallest_p
from mlbench.errors import MlbenchError
from mlbench.results import read_result

BOARD = Path(__file__).resolve().parents[1] / "leaderboard"


@pytest.fixture(scope="module")
def paired() -> dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """setting -> metric -> (use-m3, bm25) per-query values, B aligned to A by query id."""
    a = read_result(BOARD / "xquad-r--use-m3.json").per_query()
    b = read_result(BOARD / "xquad-r--bm25.json").per_query()
    out = {}
    for sid, pa in a.items():
        pb = b[sid]
        at = {q: i for i, q in enumerate(pb.query_ids.tolist())}
        idx = np.array([at[q] for q in pa.query_ids.tolist()])
        assert (pb.groups[idx] == pa.groups).all()
        out[sid] = {m: (pa[m], pb[m][idx]) for m in ("map", "recall@1", "rank_distance") if m in pa}
    return out


def _scipy_p(a: np.ndarray, b: np.ndarray) -> float:
    return float(stats.wilcoxon(b - a, zero_method="pratt").pvalue)


def _holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment written out as a loop (an independent check of adjust())."""
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    out, running = np.empty(m), 0.0
    for j, i in enumerate(order):
        running = max(running, min(1.0, (m - j) * p[i]))
        out[i] = running
    return out


def test_wilcoxon_is_a_test():
    assert "wilcoxon" in TESTS and "Wilcoxon" in TEST_NAMES["wilcoxon"]


def test_wilcoxon_p_equals_scipy_on_real_per_query_values_under_every_correction(paired):
    for metric in ("map", "recall@1"):
        sids = [sid for sid in paired if metric in paired[sid]]
        ours = np.array([wilcoxon_test(*paired[sid][metric]) for sid in sids])
        ref = np.array([_scipy_p(*paired[sid][metric]) for sid in sids])
        assert len(sids) == 132
        assert np.abs(ours - ref).max() <= 1e-12
        # paired_test carries the same p (and the mean difference, B - A)
        r = paired_test(*paired["de>en"][metric], test="wilcoxon", confidence=None)
        assert r.test == "wilcoxon" and r.p == wilcoxon_test(*paired["de>en"][metric]) and r.n == 1190
        expected = {"holm": _holm(ref), "bonferroni": np.minimum(1.0, len(ref) * ref),
                    "bh": stats.false_discovery_control(ref, method="bh"), "none": ref}
        assert set(expected) == set(CORRECTIONS)
        for correction in CORRECTIONS:
            assert np.abs(adjust(ours, correction) - expected[correction]).max() <= 1e-12, (metric, correction)
        # use-m3 and BM25 differ clearly on most settings, and not on all of them
        assert 0 < (adjust(ours, "holm") <= 0.05).sum() < len(ours)


def test_zeros_are_common_and_pratt_keeps_them(paired):
    """Half the monolingual mAP differences are exactly zero. Pratt's rule keeps those units in the
    ranking; dropping them (scipy's default, "wilcox") makes the same data look 100x more
    significant (measured: 0.0015 against 1.3e-5 on de>de). On a binary metric (recall@1) every
    non-zero |d| is 1, both rules reduce to the sign test of the non-zero differences and agree."""
    a, b = paired["de>de"]["map"]
    d = b - a
    assert (d == 0).mean() > 0.5
    pratt, dropped = wilcoxon_test(a, b), float(stats.wilcoxon(d, zero_method="wilcox").pvalue)
    assert 1e-3 < pratt < 2e-3 and dropped < 1e-4
    ra, rb = paired["de>de"]["recall@1"]
    assert (rb - ra == 0).mean() > 0.5
    sign_test = float(stats.wilcoxon(rb - ra, zero_method="wilcox").pvalue)
    assert wilcoxon_test(ra, rb) == pytest.approx(sign_test, rel=1e-12)


def test_scipy_method_branches_on_real_subsets(paired):
    """Small slices of real values reach scipy's exact (n <= 50, no ties or zeros), enumerated
    (n <= 13 with ties or zeros) and normal-approximation branches; each p equals scipy's and lies
    at or above the floor smallest_p states."""
    a, b = paired["en>*"]["map"]
    nonzero = np.flatnonzero((b - a) != 0)
    distinct = nonzero[np.unique(np.abs(b - a)[nonzero], return_index=True)[1]]
    cases = {"exact": distinct[:40], "enumerated": np.arange(12), "approximate": np.arange(30)}
    ra, rb = paired["en>*"]["recall@1"]
    cases["enumerated, zeros"] = np.arange(10)
    for name, idx in cases.items():
        for x, y in ((a, b), (ra, rb)):
            p = wilcoxon_test(x[idx], y[idx])
            d = y[idx] - x[idx]
            if not d.any():
                assert p == 1.0
                continue
            assert abs(p - float(stats.wilcoxon(d, zero_method="pratt").pvalue)) <= 1e-12, name
            assert p >= smallest_p("wilcoxon", len(idx), 0) * (1 - 1e-12), name


@pytest.mark.parametrize("n", [2, 5, 13, 14, 30, 50, 51, 200, 1190])
def test_smallest_p_is_reached(n):
    """Distinct differences of one sign reach the exact floor 2 / 2**n (n <= 50); equal ones reach
    the approximation's erfc(sqrt(n / 2)) (n > 50, or n <= 13 where it is enumerated: 2 / 2**n)."""
    floor = smallest_p("wilcoxon", n, DEFAULT_PERMUTATIONS)
    zeros = np.zeros(n)
    distinct, equal = wilcoxon_test(zeros, np.arange(1.0, n + 1)), wilcoxon_test(zeros, np.full(n, 0.25))
    assert min(distinct, equal) == pytest.approx(floor, rel=1e-9)
    if n > 50:
        assert floor == pytest.approx(math.erfc(math.sqrt(n / 2)), rel=1e-12)
    if n <= 50:
        assert floor == pytest.approx(2.0 / 2 ** n, rel=1e-12)
    assert smallest_p("wilcoxon", n, 10) == floor  # resamples play no part


def test_degenerate_cases():
    x = np.array([0.1, 0.5, 0.2])
    assert wilcoxon_test(x, x) == 1.0  # every difference zero (scipy would give NaN)
    assert wilcoxon_test(x[:1], x[:1] + 1) == 1.0  # one pair
    r = paired_test(x, x, test="wilcoxon")
    assert (r.p, r.ci_low, r.ci_high, r.effect_size) == (1.0, 0.0, 0.0, 0.0)


def test_no_resamples_are_chosen_or_refused_for_it():
    families = {"settings": [1190] * 132, "aggregates": [13090] * 6}
    chosen, floors = reachable(families, "wilcoxon", "holm", 0.05, None)
    assert chosen == DEFAULT_PERMUTATIONS == resamples_for([132, 6], 0.05, "holm", test="wilcoxon")
    assert floors["settings"] == pytest.approx(132 * math.erfc(math.sqrt(1190 / 2)))
    assert floors["settings"] < 1e-200
    # a small B is refused for a resampling test, never for the Wilcoxon test
    with pytest.raises(MlbenchError, match="--permutations 100"):
        reachable(families, "randomization", "holm", 0.05, 100)
    assert reachable(families, "wilcoxon", "holm", 0.05, 100)[0] == 100
    # on 5 pairs the exact test cannot reach 0.05 whatever B: the floor says so
    assert reachable({"tiny": [5]}, "wilcoxon", "none", 0.05, None)[1]["tiny"] == 2 / 32
    # the other tests keep their choices
    assert reachable(families, "t", "holm", 0.05, None)[0] == DEFAULT_PERMUTATIONS
    assert reachable(families, "randomization", "holm", 0.05, None)[0] == 52800


# --- --test wilcoxon in every command that tests --------------------------------------------------

@pytest.fixture(scope="module")
def slice_results(tmp_path_factory):
    from helpers import run_cli

    out = tmp_path_factory.mktemp("wx")
    for model in ("bm25", "use-m3"):
        res = run_cli("run", "-m", model, "--langs", "de,en", "--max-articles", "2", "-o", str(out))
        assert res.returncode == 0, res.stderr
    board = out / "board"
    board.mkdir()
    lines = ['schema = "mlbench.leaderboard/1"']
    for model in ("bm25", "use-m3"):
        for suffix in (".json", ".perquery.npz"):
            (board / f"xquad-r--{model}{suffix}").write_bytes((out / f"xquad-r--{model}{suffix}").read_bytes())
        lines += ["[[entry]]", 'task = "xquad-r"', f'result = "xquad-r--{model}.json"']
    (board / "leaderboard.toml").write_text("\n".join(lines) + "\n")
    return out, board


@pytest.mark.parametrize("correction", CORRECTIONS)
def test_compare_check_and_leaderboard_take_wilcoxon_under_every_correction(slice_results, correction, tmp_path):
    import json

    from helpers import run_cli

    from mlbench.analysis.significance import CORRECTION_NAMES

    out, board = slice_results
    a, b = out / "xquad-r--bm25.json", out / "xquad-r--use-m3.json"
    res = run_cli("compare", str(a), str(b), "--test", "wilcoxon", "--correction", correction, "--format", "json")
    assert res.returncode == 0, res.stderr
    rep = json.loads(res.stdout)
    assert TEST_NAMES["wilcoxon"] in rep["procedure"] and f"correction: {CORRECTION_NAMES[correction]}" in rep["procedure"]
    row = next(r for r in rep["settings"] if r["id"] == "de>en")
    pa, pb = read_result(a).per_query()["de>en"], read_result(b).per_query()["de>en"]
    at = {q: i for i, q in enumerate(pb.query_ids.tolist())}
    vb = pb["map"][[at[q] for q in pa.query_ids.tolist()]]
    assert row["p"] == pytest.approx(_scipy_p(pa["map"], vb), rel=1e-12, abs=1e-300)
    ps = [r["p"] for r in rep["settings"]]
    assert [r["p_adjusted"] for r in rep["settings"]] == pytest.approx(adjust(ps, correction).tolist(), rel=1e-12)
    gate = run_cli("check", str(b), "--baseline", str(a), "--test", "wilcoxon", "--correction", correction,
                   "--json", str(tmp_path / "v.json"))
    assert gate.returncode in (0, 1), gate.stderr
    verdicts = json.loads((tmp_path / "v.json").read_text())
    assert TEST_NAMES["wilcoxon"] in json.dumps(verdicts) and CORRECTION_NAMES[correction] in json.dumps(verdicts)
    lb = run_cli("leaderboard", str(board), "--test", "wilcoxon", "--correction", correction, "--format", "json")
    assert lb.returncode == 0, lb.stderr
    (st,) = json.loads(lb.stdout)
    assert TEST_NAMES["wilcoxon"] in st["procedure"] and TEST_NAMES["wilcoxon"] in st["tiers"]
    assert CORRECTION_NAMES[correction] in st["tiers"] and "permutations" not in st["procedure"]
