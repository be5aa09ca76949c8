"""The ``topk`` backend: faiss search over vector sources, the top ``depth`` kept per query.

For a dense model every pool language's vectors are a *vector source*: the on-disk store of a
streamed corpus, or the text cache's matrix of a pool held in memory. A setting's queries (those of
its language with a relevant candidate in the data) are searched over the sources of its pool
(:mod:`mlbench.retrieval.search`: exact inner product by default; ``ivf``/``hnsw`` with their
recall against exact search, and the metrics exact search would give, recorded). A lexical scorer
(BM25) indexes each pool in memory and scores every query against every pooled passage (a full
score row per query: fine for pools of up to a few million passages).

Metrics come from the top ``depth`` ids under trec_eval's tie rule: every cut-off metric up to the
depth is exact (``ndcg@10`` = ``ndcg_cut.10``, ``recall@100`` = ``recall.100``, ``mrr@10`` =
``recip_rank`` of the run cut at 10); relevance is judged > 0. Metrics that need the full ranking
(``map``, the rank distance) are refused. In a pool of all languages the own-language share of the
top 10 and 100 is counted from the kept ids.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from mlbench.data.model import MemoryCandidates, TaskData
from mlbench.embedding.store import MemoryVectors, VectorStore
from mlbench.encoders.base import Encoder
from mlbench.errors import MlbenchError
from mlbench.metrics import BIAS_CUTOFFS, Metric, recall_vs_exact, score
from mlbench.results.values import SettingValues, add_rank_correlation, scored
from mlbench.retrieval import search as S
from mlbench.retrieval.base import FULL_DEPTH, Job, Retrieved
from mlbench.runs import JudgedRanks, Qrels, Run
from mlbench.runs.ties import TIE_RULE, id_tiekeys, top_columns
from mlbench.task import ALL, Setting

BM25_QUERY_BATCH = 128


class TopkBackend:
    name = "topk"
    full_ranking = False

    def __init__(self, index: str = "exact", depth: int = 100) -> None:
        self.index = S.parse_index(index)
        self.depth = depth

    def check(self, metrics: list[Metric], model: object, keep: int) -> None:
        for m in metrics:
            if m.fits_depth(self.depth):
                continue
            if m.needs_full_ranking:
                raise MlbenchError(f"metric {m.name!r} needs the full ranking; the topk backend keeps the top {self.depth} "
                                   "passages per query (use cutoff metrics such as ndcg@10, recall@100, mrr@10, "
                                   "or --backend exact)")
            raise MlbenchError(f"metric {m.name!r}: cutoff {m.cutoff} is beyond the {self.depth} passages kept per query")
        if keep > self.depth:
            shown = "full" if keep >= FULL_DEPTH else keep
            raise MlbenchError(f"--trec-depth/--keep-rankings {shown} is beyond the {self.depth} passages the topk "
                               "backend keeps per query (--depth)")
        if model is not None and not isinstance(model, Encoder) and self.index.kind != "exact":
            raise MlbenchError(f"--index {self.index.describe()}: approximate indexes are for dense encoders; "
                               f"{getattr(model, 'name', 'this model')} scores every pooled passage")

    def prepare(self, data: TaskData) -> TaskData:
        return data

    def run(self, job: Job, progress: Callable | None = None) -> Retrieved:
        t0 = time.perf_counter()
        data, depth = job.data, self.depth
        info: dict[str, Any] = {"backend": self.name, "index": self.index.kind, "depth": depth, "tie_rule": TIE_RULE}
        rows = {lang: data.evaluated(lang) for lang in data.query_langs}
        extra: dict[Setting, dict[str, np.ndarray]] = {s: {} for s in job.settings}
        exact_tops: dict[Setting, np.ndarray] = {}
        if job.vectors is not None:
            tops = self._dense(job, rows, extra, exact_tops, info)
        else:
            tops = self._lexical(job, rows)
            info["kernel"] = "full BM25 score row per query over the pool, top-k under the tie rule"
        t1 = time.perf_counter()
        results = []
        keep_of: dict[Setting, np.ndarray] = {}
        for s in job.settings:
            scores, ids = tops[s]
            keep, run, qrels = kept_run(data, s, rows[s.query_lang], ids, scores)
            keep_of[s] = keep
            groups = [data.langs[s.query_lang].queries.groups[i] for i in rows[s.query_lang][keep]]
            kept = run.head(job.keep) if job.keep else None  # rankings kept for the result, as deep as asked
            res = scored(s, run.query_ids, groups, len(data.langs[s.query_lang].queries) - len(keep),
                         judged_ranks(data, s, run, qrels), job.metrics, data.level, kept, qrels, ranking=run,
                         pool_size=pool_size(data, s))
            res.per_query.update({k: v[keep] for k, v in extra[s].items()})
            results.append(res)
        add_rank_correlation(results, job.metrics, {v.setting.query_lang: tops[v.setting][1][keep_of[v.setting]]
                                                    for v in results if v.setting.pool == ALL})
        if exact_tops:
            _approx_report(data, job, results, exact_tops, rows, info)
        return Retrieved(results, info, {"search_s": t1 - t0, "score_metrics_s": time.perf_counter() - t1})

    def _dense(self, job: Job, rows, extra, exact_tops, info) -> dict[Setting, tuple[np.ndarray, np.ndarray]]:
        data, depth, vectors = job.data, self.depth, job.vectors
        assert vectors is not None
        sources = {lang: _source(data, lang, vectors.candidates[lang]) for lang in data.pool_langs}
        approx: dict[str, S.ApproxIndex] = {}
        tops = {}
        for s in job.settings:
            pool_langs = s.pool_langs(data.pool_langs)
            q = vectors.queries[s.query_lang]
            prefixed = [(_prefix(data, s, p), sources[p]) for p in pool_langs]
            scores, ids = S.exact_search(q, prefixed, depth).result()
            if self.index.kind != "exact":
                for p in pool_langs:
                    if p not in approx:
                        approx[p] = S.ApproxIndex(sources[p], self.index, depth)
                exact_tops[s] = ids
                scores, ids = S.approx_search(q, [(pre, approx[p]) for (pre, _), p in zip(prefixed, pool_langs)],
                                              depth).result()
                extra[s][recall_vs_exact(depth)] = S.recall_vs(ids, exact_tops[s])
            tops[s] = (scores, ids)
        if approx:
            info["params"] = {p: a.params for p, a in approx.items()}
        info["where"] = {"exact": S.placement("exact"), **({self.index.kind: S.placement(self.index.kind)} if approx else {})}
        info["kernel"] = "faiss.knn inner product (IndexFlatIP.search), blocks of store chunks, running top-k merge"
        return tops

    def _lexical(self, job: Job, rows) -> dict[Setting, tuple[np.ndarray, np.ndarray]]:
        data, depth = job.data, self.depth
        texts_of: dict[str, tuple[list[str], list[str]]] = {}
        for lang in data.pool_langs:
            cands = data.langs[lang].candidates
            if isinstance(cands, MemoryCandidates):
                texts_of[lang] = (cands.ids, cands.texts)
            else:
                pairs = list(cands.stream())
                texts_of[lang] = ([d for d, _ in pairs], [t for _, t in pairs])
        indexes: dict[str, tuple[Any, np.ndarray, np.ndarray]] = {}
        tops = {}
        for s in job.settings:
            if s.pool not in indexes:
                ids_all, texts_all, tlangs = [], [], []
                for p in s.pool_langs(data.pool_langs):
                    ids_p, texts_p = texts_of[p]
                    ids_all += [data.id_in_pool(s, p, d) for d in ids_p]
                    texts_all += texts_p
                    tlangs += [p] * len(texts_p)
                indexes[s.pool] = (job.model.index(texts_all, tlangs), np.asarray(ids_all, dtype=str),  # type: ignore[union-attr]
                                   id_tiekeys(ids_all))
            index, ids_arr, tiekey = indexes[s.pool]
            all_texts = data.langs[s.query_lang].queries.texts
            qtexts = [all_texts[i] for i in rows[s.query_lang]]
            k = min(depth, len(ids_arr))
            top_scores = np.zeros((len(qtexts), k), dtype=np.float32)
            top_idx = np.zeros((len(qtexts), k), dtype=np.int64)
            for b in range(0, len(qtexts), BM25_QUERY_BATCH):
                scores = np.asarray(index.score(qtexts[b:b + BM25_QUERY_BATCH], s.query_lang), dtype=np.float32)
                idx = top_columns(scores, k, tiekey)
                top_idx[b:b + len(idx)] = idx
                top_scores[b:b + len(idx)] = np.take_along_axis(scores, idx, axis=1)
            tops[s] = (top_scores, ids_arr[top_idx] if k else np.zeros((len(qtexts), 0), dtype=str))
        return tops


def _source(data: TaskData, lang: str, vectors: np.ndarray | VectorStore) -> VectorStore | MemoryVectors:
    if isinstance(vectors, VectorStore):
        return vectors
    cands = data.langs[lang].candidates
    assert isinstance(cands, MemoryCandidates)
    return MemoryVectors(cands.ids, vectors, f"{data.spec.name}-{lang}")


def _prefix(data: TaskData, s: Setting, lang: str) -> bytes:
    """What turns a candidate id into its id in the setting's pool."""
    return data.id_in_pool(s, lang, "").encode("utf-8")


def pool_size(data: TaskData, s: Setting) -> int:
    return sum(len(data.langs[p].candidates) for p in s.pool_langs(data.pool_langs))


def kept_run(data: TaskData, s: Setting, rows: np.ndarray, ids: np.ndarray, scores: np.ndarray
             ) -> tuple[np.ndarray, Run, Qrels]:
    """Of the evaluated queries ``rows`` (and their top ``ids`` and ``scores``), those with a
    relevant candidate in the setting's pool: their positions, their run (cut at the backend's
    depth, so never full: the rank distance and ``map`` are not this backend's) and their qrels."""
    qd = data.langs[s.query_lang].queries
    keep = np.asarray([pos for pos, i in enumerate(rows) if data.has_relevant(s, qd.groups[i])], dtype=np.int64)
    qids = [qd.ids[i] for i in rows[keep]]
    run = Run(qids, ids[keep], scores[keep], full=False)
    return keep, run, data.qrels(s, qids, [qd.groups[i] for i in rows[keep]])


def judged_ranks(data: TaskData, s: Setting, run: Run, qrels: Qrels) -> JudgedRanks:
    """A run's judged ranks, with the language mix of its top in a pool of several languages (an id
    in such a pool starts with its language, :meth:`TaskData.pool_id`)."""
    if s.pool != ALL:
        return JudgedRanks.from_run(run, qrels)
    return JudgedRanks.from_run(run, qrels, s.query_lang, s.pool_langs(data.pool_langs), BIAS_CUTOFFS)


def _approx_report(data: TaskData, job: Job, results: list[SettingValues], exact_tops, rows, info) -> None:
    depth = info["depth"]
    key = recall_vs_exact(depth)
    info["recall_vs_exact"] = {"k": depth, "settings": {r.setting.id: float(r.per_query[key].mean())
                                                        for r in results if len(r.query_ids)}}
    vals = list(info["recall_vs_exact"]["settings"].values())
    info["recall_vs_exact"]["macro"] = float(np.mean(vals)) if vals else None
    exact_metrics = {}
    for r in results:
        s = r.setting
        ids = exact_tops[s]
        _, run, qrels = kept_run(data, s, rows[s.query_lang], ids, np.zeros(ids.shape, dtype=np.float32))
        per_query, _ = score(JudgedRanks.from_run(run, qrels), job.metrics, data.level)
        exact_metrics[s.id] = {m: (float(v.mean()) if len(v) else None) for m, v in per_query.items()}
    info["exact_metrics"] = exact_metrics
