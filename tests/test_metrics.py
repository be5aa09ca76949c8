"""Metric parity with trec_eval (pytrec_eval) on real and random scores, ties included."""

from __future__ import annotations

import math

import numpy as np
import pytest
import pytrec_eval
from hypothesis import given, settings as hsettings, strategies as st

from mlbench.data import load_task
from mlbench.embedding.cache import EmbeddingCache, embed_texts
from mlbench.encoders.base import fingerprint
from mlbench.encoders.minilm import create as minilm
from mlbench.metrics import DEFAULT_METRICS, compute, rank_distance
from mlbench.retrieval.exact import DenseScores, evaluate
from mlbench.retrieval.fullrank import beat_counts
from mlbench.runs.ties import id_tiekeys
from mlbench.task import Setting, enumerate_settings
from mlbench.data.tasks import get_task

TREC = {"map": "map", "recall@1": "recall_1", "recall@5": "recall_5", "recall@10": "recall_10",
        "recall@100": "recall_100", "ndcg@10": "ndcg_cut_10"}
MEASURES = {"map", "recall.1,5,10,100", "ndcg_cut.10"}


def pad_ranks(rank_lists: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Ragged per-query ranks of the relevant candidates (``inf``: not retrieved) -> (sorted,
    inf-padded matrix, aligned grades: 1 for each listed candidate, 0 in the padding), the shape
    ``compute(name, ranks, grades)`` takes."""
    width = max([0, *(len(r) for r in rank_lists)])
    ranks = np.full((len(rank_lists), width), np.inf)
    grades = np.zeros((len(rank_lists), width), dtype=np.int64)
    for i, r in enumerate(rank_lists):
        ranks[i, : len(r)] = np.sort(r)
        grades[i, : len(r)] = 1
    return ranks, grades


def trec_order(run: dict[str, float]) -> list[str]:
    """Doc ids in trec_eval's order: score descending, then docno descending by strcmp (byte
    order: "s10" before "s1", since "s1" is a prefix of "s10")."""
    by_id = sorted(run, key=lambda d: d.encode("utf-8"), reverse=True)
    return sorted(by_id, key=lambda d: -run[d])  # stable: equal scores keep the id order


def trec_eval_scores(scores: np.ndarray, ids: list[str], rel: list[list[int]]) -> list[dict[str, float]]:
    """pytrec_eval on full runs (every candidate scored), plus recip_rank on runs cut at 10."""
    qrels = {f"q{i}": {ids[j]: 1 for j in r} for i, r in enumerate(rel)}
    full = {f"q{i}": {ids[j]: float(s) for j, s in enumerate(row)} for i, row in enumerate(scores)}
    ev = pytrec_eval.RelevanceEvaluator(qrels, MEASURES).evaluate(full)
    cut = {q: {d: run[d] for d in trec_order(run)[:10]} for q, run in full.items()}
    rr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(cut)
    return [{**{m: ev[f"q{i}"][t] for m, t in TREC.items()}, "mrr@10": rr[f"q{i}"]["recip_rank"]}
            for i in range(len(rel))]


def ours(scores: np.ndarray, ids: list[str], rel: list[list[int]]) -> dict[str, np.ndarray]:
    width = max(len(r) for r in rel)
    relm = np.full((len(rel), width), -1)
    for i, r in enumerate(rel):
        relm[i, : len(r)] = r
    _, before, _ = beat_counts(scores.astype(np.float32), relm, [(0, scores.shape[1])], id_tiekeys(ids))
    ranks, grades = pad_ranks([1 + before[i, : len(r)] for i, r in enumerate(rel)])
    return {m: compute(m, ranks, grades) for m in DEFAULT_METRICS}


def assert_parity(scores, ids, rel, tol=1e-9):
    mine = ours(scores, ids, rel)
    ref = trec_eval_scores(scores, ids, rel)
    for m in DEFAULT_METRICS:
        got = mine[m]
        exp = np.array([r[m] for r in ref])
        assert np.abs(got - exp).max() <= tol, (m, got, exp)


@pytest.fixture(scope="module")
def minilm_slice(tmp_path_factory):
    """Real all-MiniLM-L6-v2 embeddings of a real XQuAD-R slice (3 languages, 3 articles)."""
    data = load_task(get_task("xquad-r"), ["de", "en", "zh"], max_articles=3)
    enc = minilm()
    cache = EmbeddingCache(fingerprint(enc.describe()), enc.describe(), tmp_path_factory.mktemp("cache"))
    groups = {}
    for lang in data.languages:
        groups[("query", lang)] = data.langs[lang].queries.texts
        groups[("candidate", lang)] = data.langs[lang].candidates.texts
    emb, _ = embed_texts(enc, cache, groups)
    return data, emb


def relevant_columns(data, pool, group, query_lang):
    """Columns (in the pool's concatenated candidates) relevant to a query group."""
    off = np.cumsum([0] + [len(data.langs[p].candidates) for p in pool])
    return [int(off[k]) + data.langs[p].candidates.index_of(c) for k, p in enumerate(pool)
            for c, grade in data.judgements(Setting(query_lang, p), group).items() if grade >= data.level]


def all_rows(data):
    return {lang: np.arange(len(data.langs[lang].queries)) for lang in data.languages}


def test_parity_on_real_minilm_scores(minilm_slice):
    data, emb = minilm_slice
    cands = np.concatenate([emb[("candidate", lang)] for lang in data.languages])
    ids = [i for lang in data.languages for i in data.langs[lang].candidates.ids]
    checked = 0
    for qlang in data.languages:
        q = emb[("query", qlang)]
        scores = q @ cands.T
        rel = [relevant_columns(data, data.languages, g, qlang) for g in data.langs[qlang].queries.groups]
        keep = [i for i, r in enumerate(rel) if r]
        assert_parity(scores[keep], ids, [rel[i] for i in keep])
        checked += len(keep)
    assert checked == sum(len(d.queries) for d in data.langs.values())


def test_pipeline_equals_trec_eval_per_setting(minilm_slice):
    """The harness's own per-query numbers for mono, cross and multi settings equal trec_eval's on
    the same full rankings (pool restricted to the setting's languages)."""
    data, emb = minilm_slice
    settings = enumerate_settings(data.languages, ("mono", "cross", "multi"))
    src = DenseScores(data, {lang: emb[("query", lang)] for lang in data.languages},
                      {lang: emb[("candidate", lang)] for lang in data.languages})
    results = evaluate(data, settings, src, all_rows(data), DEFAULT_METRICS, chunk_rows=7)
    assert len(results) == 12
    for r in results:
        pool = r.setting.pool_langs(data.languages)
        cands = np.concatenate([emb[("candidate", p)] for p in pool])
        ids = [i for p in pool for i in data.langs[p].candidates.ids]
        qd = data.langs[r.setting.query_lang].queries
        rows = [qd.ids.index(q) for q in r.query_ids]
        scores = emb[("query", r.setting.query_lang)][rows] @ cands.T
        rel = [relevant_columns(data, pool, qd.groups[i], r.setting.query_lang) for i in rows]
        ref = trec_eval_scores(scores, ids, rel)
        for m in DEFAULT_METRICS:
            assert np.abs(r.per_query[m] - np.array([x[m] for x in ref])).max() <= 1e-9, (r.setting.id, m)


@hsettings(max_examples=60, deadline=None)
@given(st.data())
def test_parity_random_scores_with_ties(data):
    n_q = data.draw(st.integers(1, 5))
    n_c = data.draw(st.integers(2, 40))
    levels = data.draw(st.integers(1, 4))  # few distinct values: many ties
    scores = np.array(data.draw(st.lists(st.lists(st.integers(0, levels - 1), min_size=n_c, max_size=n_c),
                                         min_size=n_q, max_size=n_q)), dtype=np.float32) / 4
    ids = [f"d{data.draw(st.integers(0, 10**6))}-{j}" for j in range(n_c)]
    rel = [sorted(data.draw(st.sets(st.integers(0, n_c - 1), min_size=1, max_size=min(5, n_c)))) for _ in range(n_q)]
    assert_parity(scores, ids, rel)


def test_constant_scorer_is_chance_not_perfect(minilm_slice):
    data, emb = minilm_slice
    const = {k: np.ones_like(v) for k, v in emb.items()}
    settings = enumerate_settings(data.languages, ("mono", "multi"))
    src = DenseScores(data, {lang: const[("query", lang)] for lang in data.languages},
                      {lang: const[("candidate", lang)] for lang in data.languages})
    results = evaluate(data, settings, src, all_rows(data), DEFAULT_METRICS)
    for r in results:
        n_pool = sum(len(data.langs[p].candidates) for p in r.setting.pool_langs(data.languages))
        ap = r.per_query["map"].mean()
        # chance level for AP with R relevant among N is about R/N; stay within a small factor, far from 1
        n_rel = 1 if r.setting.kind == "mono" else len(data.languages)
        assert ap < 0.35 and ap < 5 * max(n_rel / n_pool, math.log(n_pool) / n_pool), (r.setting.id, ap)
    ids = data.langs["de"].candidates.ids
    assert_parity(np.zeros((3, len(ids))), ids, [[0], [5, 9], [len(ids) - 1]])


def test_tie_rule_is_docid_descending():
    """On equal scores trec_eval ranks the larger doc id first (strcmp order); so do we."""
    ids = ["a", "c", "b"]
    mine = ours(np.zeros((1, 3)), ids, [[0]])  # "a" is last of c, b, a
    assert mine["recall@1"][0] == 0 and abs(mine["map"][0] - 1 / 3) < 1e-12
    assert_parity(np.zeros((1, 3)), ids, [[0]])
    # a prefix sorts before the longer id: descending, "s10" comes before "s1"
    assert trec_order({"s1": 0.0, "s10": 0.0, "s2": 0.0, "s9": 1.0}) == ["s9", "s2", "s10", "s1"]
    ids = ["s1", "s10", "s2"]
    mine = ours(np.zeros((1, 3)), ids, [[0]])  # order s2, s10, s1: "s1" ranks 3rd
    assert mine["recall@1"][0] == 0 and abs(mine["map"][0] - 1 / 3) < 1e-12
    assert_parity(np.zeros((2, 3)), ids, [[0], [1]])


def test_rank_distance_hand_example():
    ranks, grades = pad_ranks([np.array([3, 1, 10]), np.array([7]), np.array([2, 5])])
    assert rank_distance(ranks, grades).tolist() == [9, 0, 3]


def test_rank_distance_against_slow_full_sort(minilm_slice):
    data, emb = minilm_slice
    settings = enumerate_settings(data.languages, ("multi",))
    src = DenseScores(data, {lang: emb[("query", lang)] for lang in data.languages},
                      {lang: emb[("candidate", lang)] for lang in data.languages})
    results = evaluate(data, settings, src, all_rows(data), ["map"])
    cands = np.concatenate([emb[("candidate", lang)] for lang in data.languages])
    ids = [i for lang in data.languages for i in data.langs[lang].candidates.ids]
    for r in results:
        qd = data.langs[r.setting.query_lang].queries
        slow = []
        for qid in r.query_ids:
            i = qd.ids.index(qid)
            s = emb[("query", r.setting.query_lang)][i] @ cands.T
            order = trec_order({d: float(x) for d, x in zip(ids, s)})
            pos = {d: k + 1 for k, d in enumerate(order)}
            rel_ranks = [pos[c] for c, grade in data.judgements(r.setting, qd.groups[i]).items()
                         if grade >= data.level]
            slow.append(max(rel_ranks) - min(rel_ranks))
        assert r.per_query["rank_distance"].tolist() == slow


NEW = {"map@5": "map_cut_5", "map@20": "map_cut_20", "precision@1": "P_1", "precision@5": "P_5",
       "precision@30": "P_30", "success@1": "success_1", "success@5": "success_5", "success@10": "success_10"}


@hsettings(max_examples=60, deadline=None)
@given(st.data())
def test_new_measures_equal_pytrec_eval_on_random_runs_with_ties(data):
    """map@k (map_cut.k), precision@k (P.k) and success@k (success.k) from ranks equal pytrec_eval on
    random runs with heavy ties, full and cut at a random depth (relevant candidates below the cut
    count as not retrieved; then trec_eval's map is map@depth)."""
    n_q = data.draw(st.integers(1, 5))
    n_c = data.draw(st.integers(2, 40))
    depth = data.draw(st.integers(1, n_c))
    levels = data.draw(st.integers(1, 4))
    scores = np.array(data.draw(st.lists(st.lists(st.integers(0, levels - 1), min_size=n_c, max_size=n_c),
                                         min_size=n_q, max_size=n_q)), dtype=np.float32) / 4
    ids = [f"d{data.draw(st.integers(0, 10**6))}-{j}" for j in range(n_c)]
    rel = [sorted(data.draw(st.sets(st.integers(0, n_c - 1), min_size=1, max_size=min(5, n_c)))) for _ in range(n_q)]
    qrels = {f"q{i}": {ids[j]: 1 for j in r} for i, r in enumerate(rel)}
    full = {f"q{i}": {ids[j]: float(s) for j, s in enumerate(row)} for i, row in enumerate(scores)}
    cut = {q: {d: run[d] for d in trec_order(run)[:depth]} for q, run in full.items()}
    ev = pytrec_eval.RelevanceEvaluator(qrels, {"map", "map_cut.5,20", "P.1,5,30", "success.1,5,10"})
    for run in (full, cut):
        ref = ev.evaluate(run)
        rank_lists = []
        for i, r in enumerate(rel):
            order = trec_order(run[f"q{i}"])
            pos = {d: k + 1 for k, d in enumerate(order)}
            rank_lists.append(np.array([pos.get(ids[j], np.inf) for j in r], dtype=np.float64))
        ranks, grades = pad_ranks(rank_lists)
        for name, key in {**NEW, "map": "map"}.items():
            got = compute(name, ranks, grades)
            exp = np.array([ref[f"q{i}"][key] for i in range(n_q)])
            assert np.abs(got - exp).max() <= 1e-12, (name, got, exp)
    # trec_eval's map on the run cut at the depth is map_cut at that depth
    cut_ref = ev.evaluate(cut)
    assert all(abs(cut_ref[q]["map"] - compute(f"map@{depth}", *pad_ranks([np.array(
        [{d: k + 1 for k, d in enumerate(trec_order(full[q]))}[ids[j]] for j in rel[int(q[1:])]],
        dtype=np.float64)]))[0]) <= 1e-12 for q in cut_ref)
