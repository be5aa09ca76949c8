"""``mlbench run`` for tasks of format ``ir_datasets`` (MIRACL): corpus-scale retrieval.

Per language (``miracl/{lang}/dev``, or another split ir_datasets declares):

1. **Topics and qrels** through ir_datasets (``mlbench.formats.miracl``); ``--max-queries`` keeps
   the first N topics.
2. **Scan**: the corpus is streamed once (no text is kept) to count its passages, find which judged
   passages it holds and, for a pool subset, choose the pool. Judged passages that are not in the
   corpus are an **error** when the corpus is MIRACL's whole corpus (as many passages as
   ir_datasets records); otherwise (a smaller local corpus, such as the mini pool) they are
   expected: they are dropped from the qrels, counted in ``run.qrels_outside_pool`` and the run is
   marked not comparable. All of this happens before any encoding.
3. **Pool**: the whole corpus, or a *pool subset* (``pool_subset=N``: the passages of the corpus
   judged for the queries that have a relevant passage in the corpus, plus the N other passages
   with the smallest sha256 of ``mlbench-pool-v1\\0`` + doc id, a deterministic sample independent
   of corpus order; ``pool_docids=FILE``: the doc ids listed in the file). The qrels are restricted to the pool and a query left without a relevant
   passage is left out of its setting (counted in ``n_left_out``); with the whole corpus of MIRACL
   no query is left out. A pool subset is labelled in the result (``run.pool_subset``,
   ``run.comparable_with_official: false``) and a warning line is printed.
4. **Dense encoders**: the evaluated queries are encoded through the embedding cache; the pool's
   passages are streamed into an on-disk, resumable store (``mlbench.corpus.store``) with a
   progress bar and ETA, then searched with faiss (``mlbench.corpus.search``: exact by default;
   ``ivf``/``hnsw`` with their recall against exact reported). **BM25** indexes the pool in memory
   and scores every query against every pooled passage (a full score row per query, fine for pools
   of up to a few million passages; not for MIRACL's largest corpora).
5. **Metrics** from the top ``depth`` (100) passages per query, under trec_eval's tie rule: every
   cutoff metric up to the depth (``ndcg@10`` = ``ndcg_cut.10``, ``recall@100`` = ``recall.100``,
   ``mrr@10`` = ``recip_rank`` of the run cut at 10) is exact; relevance is judged > 0, so a
   passage judged 0 counts as non-relevant. ``map`` needs the full ranking and is refused.

Settings: ``{lang}>{lang}`` (MIRACL's, monolingual). The documented extra ``multi_pool`` adds
``{lang}>*``: the queries of one language against the union of the pools of every language of
the run. Only same-language passages are judged in MIRACL, so there a passage of another language
can only count as non-relevant; doc ids are prefixed with their language (``yo/123#0``) in that
pool, since MIRACL's ids repeat across languages.
"""

from __future__ import annotations

import hashlib
import heapq
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from mlbench import __version__
from mlbench.aggregate import aggregate
from mlbench.cache import EmbeddingCache
from mlbench.corpus import search as S
from mlbench.corpus.store import DEFAULT_CHUNK_ROWS, VectorStore, build
from mlbench.encoders.base import Encoder, fingerprint
from mlbench.encoding import encode_texts
from mlbench.errors import MlbenchError
from mlbench.evaluate import SettingResult
from mlbench.formats import miracl as M
from mlbench.home import mlbench_home
from mlbench.metrics import compute, parse_metric
from mlbench.provenance import environment
from mlbench.ranking import id_tiekeys, topk
from mlbench.results import setting_entries, slug
from mlbench.settings import ALL, Setting, parse_kinds
from mlbench.taskspec import TaskSpec

DEFAULT_DEPTH = 100
POOL_SALT = b"mlbench-pool-v1\x00"
BIAS_CUTOFFS = (10, 100)
BM25_QUERY_BATCH = 128


def store_root() -> Path:
    return mlbench_home() / "corpus"


@dataclass
class PoolSpec:
    mode: str = "all"  # all | judged+others | docids
    others: int = 0
    docids_file: Path | None = None
    listed: set[str] | None = None
    file_sha256: str | None = None

    def describe(self) -> str:
        if self.mode == "judged+others":
            return f"judged passages + {self.others} others"
        if self.mode == "docids":
            return f"doc ids listed in {self.docids_file}"
        return "whole corpus"


def pool_spec(pool_subset: int | None, pool_docids: Path | None) -> PoolSpec:
    if pool_subset is not None and pool_docids is not None:
        raise MlbenchError("--pool-subset and --pool-docids are exclusive: give one")
    if pool_subset is not None:
        if pool_subset < 0:
            raise MlbenchError(f"--pool-subset must be 0 or more (other passages beside the judged ones), got {pool_subset}")
        return PoolSpec("judged+others", others=pool_subset)
    if pool_docids is not None:
        path = Path(pool_docids)
        try:
            raw = path.read_bytes()
            text = raw.decode("utf-8")
        except OSError as exc:
            raise MlbenchError(f"--pool-docids {path}: cannot read it ({exc.strerror or exc})") from None
        except UnicodeDecodeError as exc:
            raise MlbenchError(f"--pool-docids {path}: not UTF-8 text ({exc})") from None
        listed = {line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")}
        if not listed:
            raise MlbenchError(f"--pool-docids {path}: lists no doc id (one per line; '#' starts a comment)")
        return PoolSpec("docids", docids_file=path, listed=listed, file_sha256=hashlib.sha256(raw).hexdigest())
    return PoolSpec()


@dataclass
class LangPlan:
    lang: str
    dataset_id: str
    topics: M.Topics
    n_corpus: int
    official: int | None
    pool_ids: set[str] | None  # None: the whole corpus
    n_pool: int
    selection: str  # store key of the pool
    qrels: dict[str, dict[str, int]]  # restricted to the pool
    eval_index: list[int]  # topics.query_ids positions with a relevant passage in the pool
    outside: dict[str, int] = field(default_factory=dict)
    listed_found: set[str] = field(default_factory=set)

    @property
    def complete(self) -> bool:
        return self.official is not None and self.n_corpus == self.official

    @property
    def eval_ids(self) -> list[str]:
        return [self.topics.query_ids[i] for i in self.eval_index]

    @property
    def eval_texts(self) -> list[str]:
        return [self.topics.query_texts[i] for i in self.eval_index]

    def relevant(self, qid: str) -> set[str]:
        return {d for d, r in self.qrels.get(qid, {}).items() if r > 0}

    def docs(self) -> Iterator[tuple[str, str]]:
        """The pool's passages, streamed from ir_datasets in corpus order."""
        for did, text in M.iter_docs(self.dataset_id):
            if self.pool_ids is None or did in self.pool_ids:
                yield did, text


def _hash(did: str) -> int:
    return int.from_bytes(hashlib.sha256(POOL_SALT + did.encode("utf-8")).digest()[:8], "big")


def scan(dataset_id: str, topics: M.Topics, pool: PoolSpec) -> LangPlan:
    """One streamed pass over the corpus: count, judged passages present, the pool."""
    judged = topics.judged()
    found: set[str] = set()
    listed_found: set[str] = set()
    # the smallest hashes over all passages, enough of them that `others` remain after removing
    # the judged ones (max-heap of negated hashes)
    keep = pool.others + len(judged) if pool.mode == "judged+others" and pool.others else 0
    heap: list[tuple[int, str]] = []
    n = 0
    for did, _ in M.iter_docs(dataset_id):
        n += 1
        if did in judged:
            found.add(did)
        if keep:
            h = _hash(did)
            if len(heap) < keep:
                heapq.heappush(heap, (-h, did))
            elif -heap[0][0] > h:
                heapq.heapreplace(heap, (-h, did))
        if pool.listed is not None and did in pool.listed:
            listed_found.add(did)
    official = M.official_count(dataset_id)
    unknown = judged - found
    if unknown and official is not None and n == official:
        first = min(unknown)
        raise MlbenchError(
            f"{topics.files['qrels']['path']}: the qrels of {dataset_id} name {len(unknown)} documents that are not in "
            f"the corpus (first: {first!r}), yet the corpus under IR_DATASETS_HOME={M.irds_home()} has all {n} passages "
            "ir_datasets records; the corpus or qrels files are not MIRACL's")
    if pool.mode == "all":
        pool_ids, member = None, found
        selection = f"all-{n}"
    elif pool.mode == "judged+others":
        # judged passages (in the corpus) of the queries that keep a relevant passage in it
        live = [q for q in topics.query_ids if any(r > 0 and d in found for d, r in topics.qrels.get(q, {}).items())]
        base = {d for q in live for d in topics.qrels[q] if d in found}
        others = [d for _, d in sorted((-nh, d) for nh, d in heap) if d not in base][: pool.others]
        pool_ids = member = base | set(others)
    else:
        pool_ids = member = listed_found
    if pool_ids is not None:
        digest = hashlib.sha256("\n".join(sorted(pool_ids)).encode("utf-8")).hexdigest()[:16]
        selection = f"sel-{len(pool_ids)}-{digest}"
    qrels = {q: {d: r for d, r in v.items() if d in member} for q, v in topics.qrels.items()}
    eval_index = [i for i, q in enumerate(topics.query_ids) if any(r > 0 for r in qrels.get(q, {}).values())]
    dropped = [(q, d, r) for q in topics.query_ids for d, r in topics.qrels.get(q, {}).items() if d not in member]
    outside = {"judged_not_in_corpus": len(unknown), "judgements_outside_pool": len(dropped),
               "relevant_outside_pool": sum(1 for _, _, r in dropped if r > 0),
               "queries_left_out": len(topics.query_ids) - len(eval_index)}
    n_pool = n if pool_ids is None else len(pool_ids)
    return LangPlan(topics.lang, dataset_id, topics, n, official, pool_ids, n_pool, selection, qrels, eval_index,
                    outside, listed_found)


def check_metrics(metrics: list[str], depth: int) -> None:
    for m in metrics:
        base, k = parse_metric(m)
        if base == "map":
            raise MlbenchError(f"metric {m!r} needs the full ranking; corpus runs keep the top {depth} passages per query "
                               f"(use cutoff metrics such as ndcg@10, recall@100, mrr@10)")
        if k is not None and k > depth:
            raise MlbenchError(f"metric {m!r}: cutoff {k} is beyond the {depth} passages kept per query")


def per_query_metrics(top_ids: np.ndarray, relevant: list[set[str]], metrics: list[str]) -> dict[str, np.ndarray]:
    """Metrics of each query from its top-k ids (in rank order) and its relevant ids (all of them,
    also those ranked beyond k, which count as not retrieved)."""
    n = len(relevant)
    width = max((len(r) for r in relevant), default=0)
    ranks = np.full((n, max(width, 1)), np.inf)
    n_rel = np.zeros(n, dtype=np.int64)
    for q, rel in enumerate(relevant):
        found = [pos + 1 for pos, d in enumerate(top_ids[q].tolist()) if d in rel]
        ranks[q, : len(found)] = found
        n_rel[q] = len(rel)
    return {m: compute(m, ranks, n_rel) for m in metrics}


def _own_lang(top_ids: np.ndarray, langs: tuple[str, ...], qlang: str) -> tuple[dict[str, np.ndarray], dict[int, dict[str, float]]]:
    per_query: dict[str, np.ndarray] = {}
    share: dict[int, dict[str, float]] = {}
    k = top_ids.shape[1]
    for c in BIAS_CUTOFFS:
        cut = min(c, k)
        if cut == 0:
            continue
        head = top_ids[:, :cut]
        by_lang = {p: np.char.startswith(head, f"{p}/").sum(axis=1) / cut for p in langs}
        per_query[f"own_lang@{c}"] = by_lang[qlang]
        share[c] = {p: float(v.mean()) if len(v) else 0.0 for p, v in by_lang.items()}
    per_query["own_lang_expected"] = np.ones(len(top_ids))  # MIRACL judges same-language passages only
    return per_query, share


def _aggregates(results: list[SettingResult], metrics: list[str]) -> dict[str, Any]:
    """Per kind: macro over settings (languages); per kind and language; for the multilingual pool
    also the own-language share of the top 10 / 100 (no rank distance: it needs the full
    ranking; no micro mean, LAReQA's number, which the command line labels as such)."""
    out = aggregate([r for r in results if r.setting.kind != "multi"], metrics)
    multi = [r for r in results if r.setting.kind == "multi" and len(r.query_ids)]
    if multi:
        means = {r.setting.query_lang: {m: float(r.per_query[m].mean()) for m in metrics} for r in multi}
        out["kinds"]["multi"] = {m: float(np.mean([v[m] for v in means.values()])) for m in metrics}
        out["query_langs"]["multi"] = means
        bias: dict[str, Any] = {}
        for c in sorted({c for r in multi for c in r.lang_share}):
            own = {r.setting.query_lang: float(r.per_query[f"own_lang@{c}"].mean()) for r in multi if c in r.lang_share}
            bias[f"top{c}"] = {"own_share": {"macro": float(np.mean(list(own.values()))), "query_langs": own},
                               "matrix": {r.setting.query_lang: r.lang_share[c] for r in multi if c in r.lang_share}}
        bias["expected_own_share"] = {"macro": 1.0, "query_langs": {r.setting.query_lang: 1.0 for r in multi}}
        out["language_bias"] = bias
    return out


def store_folder(root: Path, plan: LangPlan, fp: str) -> Path:
    name, lang, _ = M.parse_dataset_id(plan.dataset_id)
    return Path(root) / f"{slug(name)}-{slug(lang)}" / plan.selection / fp


def _settings(langs: tuple[str, ...], kinds: str | None, spec: TaskSpec, multi_pool: bool) -> list[Setting]:
    parse_kinds(kinds, spec.kinds)
    out = []
    for lang in langs:
        out.append(Setting(lang, lang))
        if multi_pool and len(langs) > 1:
            out.append(Setting(lang, ALL))
    return out


def run_corpus_task(cfg: Any, spec: TaskSpec, model: Any, description: dict[str, Any], metadata: dict[str, Any],
                    load_s: float, progress: Callable[[str, int], Callable[[int], None]] | None = None
                    ) -> tuple[dict[str, Any], list[SettingResult], dict[str, dict[str, set[str]]]]:
    """Evaluate ``model`` on an ir_datasets task. Returns the result document (without the
    per-query reference, which ``write_result`` adds), the setting results, and per setting and
    query the relevant doc ids of the pool (for TREC qrels files)."""
    depth = int(getattr(cfg, "depth", DEFAULT_DEPTH))
    if depth <= 0:
        raise MlbenchError(f"depth must be positive, got {depth}")
    metrics = list(cfg.metrics or spec.metrics)
    check_metrics(metrics, depth)
    if cfg.trec_dir and cfg.trec_depth > depth:
        raise MlbenchError(f"--trec-depth {cfg.trec_depth} is beyond the {depth} passages kept per query")
    index_spec = S.parse_index(getattr(cfg, "index", "exact"))
    dense = isinstance(model, Encoder)
    if not dense and index_spec.kind != "exact":
        raise MlbenchError(f"--index {index_spec.describe()}: approximate indexes are for dense encoders; "
                           f"{getattr(model, 'name', 'this model')} scores every pooled passage")
    pool = pool_spec(getattr(cfg, "pool_subset", None), getattr(cfg, "pool_docids", None))
    M.use_home(getattr(cfg, "ir_datasets_home", None))
    langs = spec.check_langs(cfg.langs)
    settings = _settings(langs, cfg.kinds, spec, bool(getattr(cfg, "multi_pool", False)))
    split = getattr(cfg, "split", None)
    t0 = time.perf_counter()
    plans: dict[str, LangPlan] = {}
    for lang in langs:  # every check before any encoding
        dataset_id = M.dataset_id_for(spec.source.dataset, lang, split)
        M.check_dataset(dataset_id)
        M.require_local(dataset_id, M.dataset_files(dataset_id))
    for lang in langs:
        dataset_id = M.dataset_id_for(spec.source.dataset, lang, split)
        plans[lang] = scan(dataset_id, M.load_topics(dataset_id, cfg.max_queries), pool)
    if pool.listed is not None:
        unknown = pool.listed - set().union(*(p.listed_found for p in plans.values()))
        if unknown:
            raise MlbenchError(f"--pool-docids {pool.docids_file}: {len(unknown)} listed doc ids are in none of the corpora "
                               f"of {', '.join(langs)} (first: {min(unknown)!r})")
    t1 = time.perf_counter()

    encode_info: dict[str, Any] = {}
    search_info: dict[str, Any] = {"index": index_spec.kind, "depth": depth, "tie_rule": S.TIE_RULE}
    tops: dict[Setting, tuple[np.ndarray, np.ndarray]] = {}
    extra: dict[Setting, dict[str, np.ndarray]] = {s: {} for s in settings}
    exact_tops: dict[Setting, np.ndarray] = {}
    start = (lambda label: (lambda total: progress(label, total))) if progress else (lambda label: None)
    if dense:
        fp = fingerprint(description)
        cache = EmbeddingCache(fp, description, cfg.cache_dir)
        groups = {("query", lang): plans[lang].eval_texts for lang in langs}
        emb, qstats = encode_texts(model, cache, groups, start(f"encoding {spec.name} queries"))
        root = Path(getattr(cfg, "store_dir", None) or store_root())
        chunk_rows = int(getattr(cfg, "store_chunk_rows", DEFAULT_CHUNK_ROWS))
        stores: dict[str, VectorStore] = {}
        passages: dict[str, Any] = {}
        for lang in langs:
            plan = plans[lang]
            identity = {"corpus": plan.dataset_id.rsplit("/", 1)[0], "selection": plan.selection, "doc_text": M.DOC_TEXT,
                        "encoder_fingerprint": fp, "encoder": description}
            store = VectorStore(store_folder(root, plan, fp), identity)
            stats = build(store, plan.docs(), plan.n_pool, model, lang, chunk_rows,
                          start(f"encoding {plan.dataset_id.rsplit('/', 1)[0]} passages"), where=plan.dataset_id)
            stores[lang] = store
            passages[lang] = {"passages": store.rows, "from_store": stats.from_store, "encoded": stats.encoded,
                              "chunks": len(store.chunks), "store": str(store.dir)}
        n_pass = sum(v["passages"] for v in passages.values())
        encode_info = {"unique_texts": qstats.unique + n_pass,
                       "from_cache": qstats.cached + sum(v["from_store"] for v in passages.values()),
                       "encoded": qstats.encoded + sum(v["encoded"] for v in passages.values()),
                       "batches": qstats.batches, "cache_dir": str(cache.dir), "fingerprint": fp,
                       "queries": {"unique": qstats.unique, "from_cache": qstats.cached, "encoded": qstats.encoded},
                       "passages": passages, "doc_text": M.DOC_TEXT}
        t2 = time.perf_counter()
        approx: dict[str, S.ApproxIndex] = {}
        for s in settings:
            pool_langs = s.pool_langs(langs)
            q = emb[("query", s.query_lang)]
            prefixed = [((f"{p}/".encode() if s.pool == ALL else b""), stores[p]) for p in pool_langs]
            top = S.exact_search(q, prefixed, depth)
            scores, ids = top.result()
            if index_spec.kind != "exact":
                for p in pool_langs:
                    if p not in approx:
                        approx[p] = S.ApproxIndex(stores[p], index_spec, depth)
                atop = S.approx_search(q, [(pre, approx[p]) for (pre, _), p in zip(prefixed, pool_langs)], depth)
                exact_tops[s] = ids
                scores, ids = atop.result()
                extra[s][f"recall_vs_exact@{depth}"] = S.recall_vs(ids, exact_tops[s])
            tops[s] = (scores, ids)
        if approx:
            search_info["params"] = {p: a.params for p, a in approx.items()}
        search_info["kernel"] = "faiss.knn inner product (IndexFlatIP.search), blocks of store chunks, running top-k merge"
    else:
        t2 = time.perf_counter()
        texts_of: dict[str, tuple[list[str], list[str]]] = {}
        for lang in langs:
            ids_l, texts_l = [], []
            for did, text in plans[lang].docs():
                ids_l.append(did)
                texts_l.append(text)
            texts_of[lang] = (ids_l, texts_l)
        indexes: dict[str, tuple[Any, np.ndarray, np.ndarray]] = {}
        for s in settings:
            key = s.pool
            if key not in indexes:
                pool_langs = s.pool_langs(langs)
                ids_all, texts_all, tlangs = [], [], []
                for p in pool_langs:
                    ids_p, texts_p = texts_of[p]
                    ids_all += [f"{p}/{d}" for d in ids_p] if s.pool == ALL else ids_p
                    texts_all += texts_p
                    tlangs += [p] * len(texts_p)
                ids_arr = np.asarray(ids_all, dtype=str)
                indexes[key] = (model.index(texts_all, tlangs), ids_arr, id_tiekeys(ids_all))
            index, ids_arr, tiekey = indexes[key]
            qtexts = plans[s.query_lang].eval_texts
            k = min(depth, len(ids_arr))
            top_scores = np.zeros((len(qtexts), k), dtype=np.float32)
            top_idx = np.zeros((len(qtexts), k), dtype=np.int64)
            for b in range(0, len(qtexts), BM25_QUERY_BATCH):
                scores = np.asarray(index.score(qtexts[b:b + BM25_QUERY_BATCH], s.query_lang), dtype=np.float32)
                idx = topk(scores, k, tiekey)
                top_idx[b:b + len(idx)] = idx
                top_scores[b:b + len(idx)] = np.take_along_axis(scores, idx, axis=1)
            tops[s] = (top_scores, ids_arr[top_idx] if k else np.zeros((len(qtexts), 0), dtype=str))
        search_info["kernel"] = "full BM25 score row per query over the pool, top-k under the tie rule"
    t3 = time.perf_counter()

    results: list[SettingResult] = []
    qrels_out: dict[str, dict[str, set[str]]] = {}
    for s in settings:
        plan = plans[s.query_lang]
        scores, ids = tops[s]
        prefix = f"{s.query_lang}/" if s.pool == ALL else ""
        relevant = [{prefix + d for d in plan.relevant(q)} for q in plan.eval_ids]
        qrels_out[s.id] = dict(zip(plan.eval_ids, relevant))
        per_query = per_query_metrics(ids, relevant, metrics)
        res = SettingResult(s, plan.eval_ids, plan.eval_ids, len(plan.topics.query_ids) - len(plan.eval_index), per_query,
                            top_ids=ids, top_scores=scores)
        if s.pool == ALL:
            own, share = _own_lang(ids, s.pool_langs(langs), s.query_lang)
            per_query.update(own)
            res.lang_share = share
        per_query.update(extra[s])
        results.append(res)
    if exact_tops:
        search_info["recall_vs_exact"] = {"k": depth, "settings": {r.setting.id: float(r.per_query[f"recall_vs_exact@{depth}"].mean())
                                                                   for r in results if len(r.query_ids)}}
        vals = list(search_info["recall_vs_exact"]["settings"].values())
        search_info["recall_vs_exact"]["macro"] = float(np.mean(vals)) if vals else None
        exact_metrics = {}
        for r in results:
            plan = plans[r.setting.query_lang]
            prefix = f"{r.setting.query_lang}/" if r.setting.pool == ALL else ""
            rel = [{prefix + d for d in plan.relevant(q)} for q in plan.eval_ids]
            exact_metrics[r.setting.id] = {m: (float(v.mean()) if len(v) else None)
                                           for m, v in per_query_metrics(exact_tops[r.setting], rel, metrics).items()}
        search_info["exact_metrics"] = exact_metrics
    t4 = time.perf_counter()

    reasons = []
    if pool.mode != "all":
        reasons.append(f"pool subset ({pool.describe()})")
    partial = [f"{lang}: {p.n_corpus} of {p.official} passages" for lang, p in plans.items() if not p.complete]
    if partial:
        reasons.append("local corpus smaller than MIRACL's (" + ", ".join(partial) + ")")
    if cfg.max_queries:
        reasons.append(f"first {cfg.max_queries} queries per language")
    pool_info = None
    if pool.mode != "all":
        pool_info = {"mode": pool.mode, "description": pool.describe(), "comparable_with_official": False,
                     "languages": {lang: {"passages": p.n_pool, "judged_in_pool": len(p.topics.judged() & (p.pool_ids or set())),
                                          "corpus_passages": p.n_corpus, "selection": p.selection}
                                   for lang, p in plans.items()}}
        if pool.mode == "judged+others":
            pool_info.update({"others": pool.others, "selection_rule": "the corpus passages judged for the queries that have a "
                              "relevant passage in the corpus, plus the N others with the smallest sha256('mlbench-pool-v1\\0' + doc id)"})
        else:
            pool_info.update({"file": str(pool.docids_file), "sha256": pool.file_sha256, "listed": len(pool.listed or ())})
    if reasons:
        sys.stderr.write(f"mlbench: warning: {spec.name} results are not comparable with MIRACL figures: {'; '.join(reasons)}\n")
    env = environment()
    env["device"] = getattr(model, "device", "cpu")
    dataset_pattern = M.dataset_id_for(spec.source.dataset, "{lang}", split)
    subset: dict[str, Any] = {}
    if cfg.langs:
        subset["langs"] = list(langs)
    if cfg.max_queries:
        subset["max_queries"] = cfg.max_queries
    if split:
        subset["split"] = split
    doc = {
        "schema": "mlbench.result/1",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "mlbench_version": __version__,
        "task": {"name": spec.name, "version": spec.version, "format": spec.format, "languages": list(langs),
                 "source": dataset_pattern,
                 "data": {lang: {"origin": f"ir_datasets:{p.dataset_id}", "sha256": p.topics.files["qrels"]["sha256"],
                                 "ir_datasets_home": str(M.irds_home()), "topics": p.topics.files["topics"],
                                 "qrels": p.topics.files["qrels"]} for lang, p in plans.items()},
                 "subset": subset or None},
        "model": {"spec": cfg.model, "name": getattr(model, "name", cfg.model), "encoder": description,
                  "metadata": metadata},
        "run": {"command": cfg.command, "kinds": sorted({s.kind for s in settings}), "metrics": metrics,
                "candidate_text": M.DOC_TEXT, "tie_rule": S.TIE_RULE, "depth": depth,
                "comparable_with_official": not reasons, "not_comparable_because": reasons,
                "pool_subset": pool_info,
                "corpus": {lang: {"passages": p.n_corpus, "ir_datasets_count": p.official, "complete": p.complete,
                                  "pool_passages": p.n_pool} for lang, p in plans.items()},
                "qrels_outside_pool": {lang: p.outside for lang, p in plans.items()},
                "search": search_info, "encoding": encode_info,
                "timings_s": {k: round(v, 3) for k, v in {"load_model_s": load_s, "load_data_s": t1 - t0,
                                                          "encode_s": t2 - t1, "search_s": t3 - t2,
                                                          "score_metrics_s": t4 - t3}.items()}},
        "environment": env,
        "settings": setting_entries(results),
        "aggregates": _aggregates(results, metrics),
        "per_query": {},
    }
    return doc, results, qrels_out

