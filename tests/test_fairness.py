"""Language-fairness measures (mlbench.metrics.peer and mlbench.metrics.rank_correlation) against their references, on real runs.

PEER@k is checked against the authors' package (``peer-measure``, an ir_measures provider) on the
multilingual pool of a real XQuAD-R slice (de, en, zh; two articles; 149 candidates) ranked by
three real models; MRC against ``scipy.stats.spearmanr`` on the full rankings of the same runs;
MRC@k on hand-made lists whose answer is worked out by hand.
"""

from __future__ import annotations

import math
import time
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import stats

from mlbench.errors import MlbenchError
from mlbench.metrics.peer import parse_peer, peer_at_k, peer_name
from mlbench.metrics.rank_correlation import (
    mean_rank_correlation,
    mean_rank_correlation_from_top,
    parse_mrc,
    rank_vectors,
    topk_rank_correlation,
)
from mlbench.runs.ties import id_tiekeys
from mlbench.runs.ties import top_columns as topk

LANGS = ("de", "en", "zh")
MODELS = ("use-m3", "bm25", "minilm")
TOL = 1e-9


@pytest.fixture(scope="module")
def pool():
    """The slice's multilingual pool and every query's relevant candidates in it."""
    from mlbench.data.loaders import load_task
    from mlbench.data.tasks import get_task

    data = load_task(get_task("xquad-r"), list(LANGS), max_articles=2)
    ids = [data.pool_id(lang, c) for lang in LANGS for c in data.langs[lang].candidates.ids]
    at = {pid: i for i, pid in enumerate(ids)}
    queries = []
    for lang in LANGS:
        q = data.langs[lang].queries
        for qid, group in zip(q.ids, q.groups):
            rel = {at[data.pool_id(p, c)]: 1 for p in LANGS for c, g in data.langs[p].judged.get(group, {}).items() if g > 0}
            queries.append(SimpleNamespace(id=qid, lang=lang, group=group, grades=rel))
    return SimpleNamespace(
        data=data, ids=ids, tiekey=id_tiekeys(ids),
        texts=[t for lang in LANGS for t in data.langs[lang].candidates.texts],
        lang=np.array([LANGS.index(lang) for lang in LANGS for _ in data.langs[lang].candidates.ids]),
        queries=queries)


_SCORES: dict[str, list[np.ndarray]] = {}


def scores_of(model: str, pool) -> list[np.ndarray]:
    """Per query language, the (queries, pool) float32 scores of a real model, as a multilingual
    setting of a run computes them: inner products of embeddings, or BM25 over the mixed pool."""
    if model not in _SCORES:
        from mlbench.encoders.registry import load_model

        enc = load_model(model)
        queries = [pool.data.langs[lang].queries.texts for lang in LANGS]
        if hasattr(enc, "index"):
            index = enc.index(pool.texts, [LANGS[i] for i in pool.lang])
            _SCORES[model] = [np.asarray(index.score(q, lang), dtype=np.float32) for q, lang in zip(queries, LANGS)]
        else:
            cand = np.concatenate([enc.encode(pool.data.langs[lang].candidates.texts, "candidate", lang)
                                   for lang in LANGS])
            _SCORES[model] = [enc.encode(q, "query", lang) @ cand.T for q, lang in zip(queries, LANGS)]
    return _SCORES[model]


def reference_peer(pool, scores: np.ndarray, ks: tuple[int, ...], weights: dict[int, float]) -> dict[int, np.ndarray]:
    """peer-measure's PEER@k of every query (NaN where it gives none), from a run holding every pool
    candidate with its score and qrels judging the whole pool (relevant 1, every other candidate 0)."""
    import ir_measures
    from peer_measure import PEER

    mapping = {pid: LANGS[code] for pid, code in zip(pool.ids, pool.lang)}  # one object: one mapping for all cut-offs
    measures = [PEER(weights=weights, lang_mapping=mapping) @ k for k in ks]
    qrels = [ir_measures.Qrel(q.id, pid, q.grades.get(i, 0)) for q in pool.queries for i, pid in enumerate(pool.ids)]
    run = [ir_measures.ScoredDoc(q.id, pid, float(s)) for q, row in zip(pool.queries, scores)
           for pid, s in zip(pool.ids, row)]
    at = {q.id: i for i, q in enumerate(pool.queries)}
    out = {k: np.full(len(pool.queries), np.nan) for k in ks}
    with np.errstate(invalid="ignore"):
        for m in ir_measures.iter_calc(measures, qrels, run):
            out[m.measure["cutoff"]][at[m.query_id]] = m.value
    return out


def tie_free(scores: np.ndarray, order: np.ndarray, k: int) -> np.ndarray:
    """Queries whose first k + 1 ranked scores are strictly decreasing: there both tie rules give
    the same top k in the same order (a tie further down cannot change PEER@k)."""
    ranked = np.take_along_axis(scores, order, axis=1)[:, : k + 1]
    return (np.diff(ranked, axis=1) < 0).all(axis=1)


def ours(pool, order: np.ndarray, k: int, weights=None) -> np.ndarray:
    return peer_at_k(list(order), [q.grades for q in pool.queries], pool.lang, k, weights)


# --- PEER@k --------------------------------------------------------------------------------------

@pytest.mark.parametrize("model", MODELS)
def test_peer_equals_the_reference_package_on_real_runs(pool, model):
    scores = np.concatenate(scores_of(model, pool))
    order = topk(scores, scores.shape[1], pool.tiekey)  # mlbench's full ranking of the pool
    if model != "bm25":  # real embeddings: no exact score tie anywhere in the full rankings
        assert (np.diff(np.sort(scores, axis=1), axis=1) != 0).all()
    for weights in ({0: 0.5, 1: 0.5}, {0: 0.3, 1: 0.7}):
        ref = reference_peer(pool, scores, (10, 100), weights)
        for k in (10, 100):
            keep = tie_free(scores, order, k)
            if model == "bm25":  # score 0 ties every candidate without a shared term (most of the other scripts)
                assert keep.sum() == (199 if k == 10 else 0), keep.sum()  # measured: 199 of 291 at k=10, none at 100
            else:
                assert keep.all()
            got = ours(pool, order, k, weights)
            assert not np.isnan(ref[k]).any()
            assert np.abs(got[keep] - ref[k][keep]).max(initial=0.0) <= TOL, (model, k, weights)
            assert 0.0 <= got.min() and got.max() <= 1.0
    # the per-query values are not all the same: the test sees the statistic, not only its edge cases
    assert len(np.unique(np.round(ours(pool, order, 10), 6))) > 20


def test_peer_differs_from_the_reference_only_by_the_tie_rule(pool):
    """BM25 ties at score 0 in every query's top 101. Given mlbench's order as its scores (rank
    descending), the reference agrees everywhere; given the raw scores, it breaks the ties by doc id
    ascending and disagrees on some queries."""
    scores = np.concatenate(scores_of("bm25", pool))
    order = topk(scores, scores.shape[1], pool.tiekey)
    as_ranked = np.empty_like(scores)
    np.put_along_axis(as_ranked, order, np.arange(scores.shape[1], 0, -1, dtype=np.float32)[None, :], axis=1)
    ref = reference_peer(pool, as_ranked, (10, 100), {0: 0.5, 1: 0.5})
    raw = reference_peer(pool, scores, (10, 100), {0: 0.5, 1: 0.5})
    for k in (10, 100):
        got = ours(pool, order, k)
        assert np.abs(got - ref[k]).max() <= TOL
        assert (np.abs(got - raw[k]) > TOL).sum() > 0
        assert np.abs(got - raw[k])[tie_free(scores, order, k)].max(initial=0.0) <= TOL


def _reference_small(ranked_docs: list[str], langs: dict[str, str], grades: dict[str, int], k: int,
                     weights: dict[int, float]) -> float:
    import ir_measures
    from peer_measure import PEER

    qrels = [ir_measures.Qrel("q", d, grades.get(d, 0)) for d in langs]
    run = [ir_measures.ScoredDoc("q", d, float(len(ranked_docs) - i)) for i, d in enumerate(ranked_docs)]
    with np.errstate(invalid="ignore"):
        (m,) = ir_measures.iter_calc([PEER(weights=weights, lang_mapping=langs) @ k], qrels, run)
    return float(m.value)


@pytest.mark.parametrize("case", [
    # two languages, one relevant document each: one at position 3, the other not retrieved. Its
    # tail rank is N + (u + 1) / 2 = 2 + 1 = 3, every value of the level is 3: 0 / 0, NaN
    dict(ranked="a2 b2 a1 b3 b1 a3", rel={"a1": 1, "b1": 1}, k=3, nan=True),
    # only one language among the relevant documents: p_1 = 1
    dict(ranked="a1 b1 a2 a3 b2 b3", rel={"a1": 1, "a2": 1}, k=4),
    # no relevant document retrieved (only tail ranks): p_1 = 1
    dict(ranked="b2 a3 a1 b1 a2 b3", rel={"a1": 1, "b1": 1}, k=2),
    # a tail rank below a retrieved position: N = 3, u = 2, t = 4.5 < 5
    dict(ranked="a2 b2 a3 b3 a1 b1 c1 c2", rel={"a1": 1, "b1": 1, "c1": 1}, k=5),
    # graded levels and weights on each, one weight on a level the query lacks (3)
    dict(ranked="a1 b2 c1 a3 b1 c2 a2 b3", rel={"a1": 2, "b1": 1, "c1": 1, "a2": 1, "c2": 2}, k=6,
         weights={0: 0.2, 1: 0.3, 2: 0.4, 3: 0.1}),
    # every candidate relevant: no level 0
    dict(ranked="a1 b1 a2 b2", rel={"a1": 1, "b1": 1, "a2": 1, "b2": 1}, k=3),
    # k beyond the ranking
    dict(ranked="a1 b1 c1 a2 b2 c2", rel={"a1": 1, "c2": 1}, k=100),
])
def test_peer_edge_cases_as_the_reference_defines_them(case):
    docs = case["ranked"].split()
    langs = {d: d[0] for d in docs}
    weights = case.get("weights", {0: 0.5, 1: 0.5})
    ref = _reference_small(docs, langs, case["rel"], case["k"], weights)
    index = {d: i for i, d in enumerate(docs)}
    got = peer_at_k([np.arange(len(docs))], [{index[d]: g for d, g in case["rel"].items()}],
                    np.array([ord(d[0]) for d in docs]), case["k"], weights)[0]
    if case.get("nan"):
        assert math.isnan(ref) and math.isnan(got)
    else:
        assert abs(got - ref) <= TOL, (got, ref)
    # the same grades as a full array (every candidate's level) give the same value
    full = np.zeros(len(docs), dtype=np.int64)
    for d, g in case["rel"].items():
        full[index[d]] = g
    again = peer_at_k([np.arange(len(docs))], [full], np.array([ord(d[0]) for d in docs]), case["k"], weights)[0]
    assert (math.isnan(again) and math.isnan(got)) or again == got


def test_peer_statistic_is_kruskal_wallis_only_on_ranks_one_to_n():
    """The reference computes H on the positions themselves; scipy's Kruskal-Wallis ranks first,
    so the two agree when a level's positions are 1..N and differ otherwise."""
    lang = np.array([0, 1, 0, 1, 0, 1, 0, 1])
    contiguous = peer_at_k([np.arange(8)], [np.ones(8, dtype=np.int64)], lang, 8, {1: 1.0})[0]
    assert abs(contiguous - stats.kruskal([1, 3, 5, 7], [2, 4, 6, 8]).pvalue) <= 1e-12
    # relevant at positions 1, 2, 3 and 8 (non-relevant between): values 1, 2, 3, 8
    grades = np.array([1, 1, 1, 0, 0, 0, 0, 1])
    spread = peer_at_k([np.arange(8)], [grades], lang, 8, {1: 1.0})[0]
    assert abs(spread - stats.kruskal([1, 3], [2, 8]).pvalue) > 0.01


def test_peer_names():
    assert parse_peer("peer@10") == (10, {0: 0.5, 1: 0.5})
    assert parse_peer("peer@10:w0=0.3:w1=0.7") == (10, {0: 0.3, 1: 0.7})
    assert parse_peer("peer@20:w3=0.5:w1=0.5") == (20, {1: 0.5, 3: 0.5})
    assert peer_name(10) == peer_name(10, {1: 0.5, 0: 0.5}) == "peer@10"
    assert peer_name(10, {0: 0.3, 1: 0.7, 2: 0.0}) == "peer@10:w0=0.3:w1=0.7"
    assert parse_peer(peer_name(5, {0: 1 / 3, 1: 2 / 3})) == (5, {0: 1 / 3, 1: 2 / 3})  # round trip, no digit lost
    for bad in ("peer", "peer@0", "peer@10:w0=0.3", "peer@10:w0=0.5:w0=0.5", "peer@10:w0=x:w1=1",
                "peer@10,w0=0.5,w1=0.5", "peer@10:w0=-0.5:w1=1.5", "PEER@10"):
        with pytest.raises(MlbenchError):
            parse_peer(bad)
    assert parse_mrc("mrc") is None and parse_mrc("mrc@100") == 100
    for bad in ("mrc@0", "mrc@", "rc@10"):
        with pytest.raises(MlbenchError):
            parse_mrc(bad)


# --- rank correlation ----------------------------------------------------------------------------

def _groups(pool) -> list[list[str]]:
    return [pool.data.langs[lang].queries.groups for lang in LANGS]


@pytest.mark.parametrize("model", ["use-m3", "bm25"])
def test_mrc_equals_scipy_spearman_on_full_rankings(pool, model):
    blocks = scores_of(model, pool)
    groups = _groups(pool)
    t0 = time.perf_counter()
    res = mean_rank_correlation(blocks, groups, pool.tiekey)
    assert time.perf_counter() - t0 < 5
    ranks = [rank_vectors(s, pool.tiekey) for s in blocks]
    row = [{g: j for j, g in enumerate(gs)} for gs in groups]
    worst = 0.0
    sums = np.zeros((3, 3))
    counts = np.zeros((3, 3), dtype=np.int64)
    for a in range(3):
        for j, g in enumerate(groups[a]):
            rhos = []
            for b in range(3):
                if b != a and g in row[b]:
                    ra, rb = ranks[a][j], ranks[b][row[b][g]]
                    rho = stats.spearmanr(ra, rb).statistic
                    if model == "use-m3":  # no score ties: the ranks are those of the raw scores
                        worst = max(worst, abs(stats.spearmanr(blocks[a][j], blocks[b][row[b][g]]).statistic - rho))
                    rhos.append(rho)
                    sums[a, b] += rho
                    counts[a, b] += 1
            assert abs(res.per_query[a][j] - np.mean(rhos)) <= TOL
    assert worst <= TOL
    assert (res.pairs == counts).all()
    off = ~np.eye(3, dtype=bool)
    assert np.abs(res.matrix[off] - sums[off] / counts[off]).max() <= TOL
    assert np.isnan(res.matrix[np.eye(3, dtype=bool)]).all()
    assert np.allclose(res.matrix, res.matrix.T, equal_nan=True)
    # mrc@k with k at least the pool is the full-ranking figure
    full_k = mean_rank_correlation(blocks, groups, pool.tiekey, k=len(pool.ids) + 5)
    for a in range(3):
        assert np.abs(full_k.per_query[a] - res.per_query[a]).max() <= TOL


def test_mrc_ranks_follow_the_tie_rule():
    """Equal scores rank by doc id descending (trec_eval): the larger id first."""
    ids = ["en/b", "de/a", "zh/c", "de/z"]
    scores = np.array([[0.5, 0.5, 0.1, 0.5]], dtype=np.float32)
    assert rank_vectors(scores, id_tiekeys(ids)).tolist() == [[1, 3, 4, 2]]  # en/b, de/z, de/a, zh/c


def test_mrc_at_k_on_hand_made_lists():
    # A ranks x, y first; B ranks y, z. T = {x, y, z}; A: x=1, y=2, z=tail (2+1+3)/2 = 3; B: y=1,
    # z=2, x=3. Pearson([1, 2, 3], [3, 1, 2]) = -1/2.
    x, y, z, w = 0, 1, 2, 3
    assert topk_rank_correlation(np.array([[x, y]]), np.array([[y, z]]))[0] == pytest.approx(-0.5, abs=1e-15)
    # the same two lists in the same order: 1; in swapped order: Pearson([1, 2], [2, 1]) = -1
    assert topk_rank_correlation(np.array([[x, y], [x, y]]), np.array([[x, y], [y, x]])).tolist() == [1.0, -1.0]
    # disjoint: k=1 gives -1; k=2: A = [1, 2, 3.5, 3.5], B = [3.5, 3.5, 1, 2], rho = -8/9
    assert topk_rank_correlation(np.array([[x]]), np.array([[y]]))[0] == -1.0
    assert topk_rank_correlation(np.array([[x, y]]), np.array([[z, w]]))[0] == pytest.approx(-8 / 9, abs=1e-15)
    # k=1 and the same top candidate: |T| = 1, defined as 1
    assert topk_rank_correlation(np.array([[z]]), np.array([[z]]))[0] == 1.0
    # large disjoint lists approach -6/7
    k = 2000
    far = topk_rank_correlation(np.arange(k)[None, :], np.arange(k, 2 * k)[None, :])[0]
    assert abs(far + 6 / 7) < 1e-4


def test_mrc_at_k_is_spearman_with_ties_over_the_union(pool):
    """On a real run's top 10 lists, rho@10 equals scipy's Spearman (mid-ranks for ties) of the two
    explicit rank vectors over the union of the lists, with the tail rank defined in the module."""
    blocks = scores_of("use-m3", pool)
    groups = _groups(pool)
    k = 10
    res = mean_rank_correlation(blocks, groups, pool.tiekey, k=k)
    tops = [topk(s, k, pool.tiekey) for s in blocks]
    row = {g: j for j, g in enumerate(groups[1])}
    for j, g in enumerate(groups[0]):  # de against en
        a, b = tops[0][j].tolist(), tops[1][row[g]].tolist()
        union = sorted(set(a) | set(b))
        tail = (k + 1 + len(union)) / 2
        ra = [a.index(c) + 1 if c in a else tail for c in union]
        rb = [b.index(c) + 1 if c in b else tail for c in union]
        expected = stats.spearmanr(ra, rb).statistic
        got = topk_rank_correlation(tops[0][j:j + 1], tops[1][row[g]:row[g] + 1])[0]
        assert abs(got - expected) <= TOL
    assert np.isfinite(res.matrix[0, 1]) and -1 <= res.matrix[0, 1] <= 1
    # the same from the kept top-k lists alone (a corpus-scale run keeps no score matrix)
    kept = mean_rank_correlation_from_top(tops, groups)
    assert kept.k == k and np.array_equal(kept.matrix, res.matrix, equal_nan=True)
    assert all(np.array_equal(x, y, equal_nan=True) for x, y in zip(kept.per_query, res.per_query))


def test_mrc_refuses_two_queries_of_one_question_in_a_language():
    s = np.zeros((2, 3), dtype=np.float32)
    with pytest.raises(MlbenchError, match="appears twice"):
        mean_rank_correlation([s, s], [["g1", "g1"], ["g1", "g2"]], np.arange(3))
