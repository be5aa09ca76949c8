"""The ``exact`` backend: every pool in memory, ranked in full, so every metric is exact.

For each query language X the settings of X are served by *score groups*: blocks of pool columns
scored together. A dense model needs one group per X, the union of the languages its settings
search, so the monolingual, cross-lingual and multilingual settings of X all come from one score
matrix (computed in row chunks to bound memory) and one set of beat counts
(:mod:`mlbench.retrieval.fullrank`). A lexical scorer needs one group per pool, because BM25
statistics depend on the pool. Scores of the next row chunk are computed (BLAS, without the GIL)
while the current one is ranked.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from mlbench.data.model import MemoryCandidates, StreamedCandidates, TaskData
from mlbench.encoders.base import PoolIndex, PoolScorer
from mlbench.metrics import BIAS_CUTOFFS, Metric, compute, rank_distance
from mlbench.retrieval.base import DEFAULT_CHUNK_ROWS, MEMORY_POOL_LIMIT, Job, Retrieved, SettingResult
from mlbench.retrieval.fullrank import beat_counts
from mlbench.retrieval.ties import id_tiekeys, topk
from mlbench.task import ALL, Setting



@dataclass
class ScoreGroup:
    langs: tuple[str, ...]  # column blocks, in order
    settings: list[Setting]
    scores: Callable[[np.ndarray], np.ndarray]  # query row indices -> (rows, columns) float32


class DenseScores:
    """Inner products of query and candidate embeddings (cosine when the encoder normalises);
    ``queries[lang]`` holds the vectors of the evaluated queries, in order."""

    def __init__(self, data: TaskData, queries: dict[str, np.ndarray], candidates: dict[str, np.ndarray]) -> None:
        self.data, self.q, self.c = data, queries, candidates
        self._concat: dict[tuple[str, ...], np.ndarray] = {}

    def groups(self, lang: str, settings: list[Setting]) -> list[ScoreGroup]:
        needed = {p for s in settings for p in s.pool_langs(self.data.languages)}
        langs = tuple(p for p in self.data.languages if p in needed)
        if langs not in self._concat:
            self._concat[langs] = np.ascontiguousarray(np.concatenate([self.c[p] for p in langs]))
        cand, q = self._concat[langs], self.q[lang]
        return [ScoreGroup(langs, settings, lambda rows: q[rows] @ cand.T)]


class LexicalScores:
    """A pool scorer (BM25): each pool is indexed once and shared by every query language."""

    def __init__(self, data: TaskData, scorer: PoolScorer, rows: dict[str, np.ndarray]) -> None:
        self.data, self.scorer, self.rows = data, scorer, rows
        self._indexes: dict[str, PoolIndex] = {}

    def _index(self, pool: str) -> PoolIndex:
        if pool not in self._indexes:
            langs = self.data.languages if pool == ALL else (pool,)
            texts, tlangs = [], []
            for p in langs:
                t = _memory(self.data, p).texts
                texts.extend(t)
                tlangs.extend([p] * len(t))
            self._indexes[pool] = self.scorer.index(texts, tlangs)
        return self._indexes[pool]

    def groups(self, lang: str, settings: list[Setting]) -> list[ScoreGroup]:
        all_texts = self.data.langs[lang].queries.texts
        texts = [all_texts[i] for i in self.rows[lang]]
        out = []
        for s in settings:
            index = self._index(s.pool)
            out.append(ScoreGroup(s.pool_langs(self.data.languages), [s],
                                  lambda rows, index=index: np.asarray(index.score([texts[i] for i in rows], lang),
                                                                       dtype=np.float32)))
        return out


def _memory(data: TaskData, lang: str) -> MemoryCandidates:
    cands = data.langs[lang].candidates
    assert isinstance(cands, MemoryCandidates), "ExactBackend.prepare reads streamed pools into memory"
    return cands


def _evaluate_group(data: TaskData, qlang: str, qrows: np.ndarray, group: ScoreGroup, metrics: Sequence[str],
                    chunk_rows: int, depth: int, prefetch: Executor,
                    tiekeys: dict[tuple[str, ...], np.ndarray]) -> list[SettingResult]:
    """Per-query values of the settings of one score group; ``qrows`` are the evaluated queries of
    ``qlang`` (the score rows, in order)."""
    qd = data.langs[qlang].queries
    n = len(qrows)
    q_groups = [qd.groups[i] for i in qrows]
    offsets, ids, pool_ids, bounds = {}, [], [], []
    for p in group.langs:
        cands = _memory(data, p)
        offsets[p] = len(ids)
        bounds.append((len(ids), len(ids) + len(cands)))
        ids.extend(cands.ids)
        pool_ids.extend(data.pool_id(p, c) for c in cands.ids)
    if group.langs not in tiekeys:  # the same columns serve every query language
        # ids as in the pool of all languages; within one language's block the order is the same
        tiekeys[group.langs] = id_tiekeys(pool_ids)
    tiekey = tiekeys[group.langs]
    rel_lists = [[offsets[p] + _memory(data, p).index_of(c) for p in group.langs for c in data.relevant_ids(qlang, g, p)]
                 for g in q_groups]
    width = max((len(r) for r in rel_lists), default=0)
    rel = np.full((n, max(width, 1)), -1, dtype=np.int64)
    for i, r in enumerate(rel_lists):
        rel[i, : len(r)] = sorted(r)
    starts = np.array([b[0] for b in bounds])
    rel_block = np.where(rel >= 0, np.searchsorted(starts, rel, side="right") - 1, -1)
    counts = np.zeros((n, rel.shape[1], len(bounds)), dtype=np.int64)
    levels = BIAS_CUTOFFS if any(s.pool == ALL for s in group.settings) else ()
    top_counts = np.zeros((n, len(levels), len(bounds)), dtype=np.int64)
    col_of = {s: (bounds[group.langs.index(s.pool)] if s.pool != ALL else (0, len(ids))) for s in group.settings}
    tops: dict[Setting, list[np.ndarray]] = {s: [] for s in group.settings} if depth else {}
    top_scores: dict[Setting, list[np.ndarray]] = {s: [] for s in group.settings} if depth else {}
    chunks = [np.arange(start, min(n, start + chunk_rows)) for start in range(0, n, chunk_rows)]
    # score chunk i+1 (BLAS, releases the GIL) while chunk i is ranked
    pending = prefetch.submit(group.scores, chunks[0]) if chunks else None
    for c, rows in enumerate(chunks):
        scores = np.ascontiguousarray(pending.result(), dtype=np.float32)
        if c + 1 < len(chunks):
            pending = prefetch.submit(group.scores, chunks[c + 1])
        counts[rows], top_counts[rows] = beat_counts(scores, rel[rows], bounds, tiekey, levels)
        for s in tops:
            lo, hi = col_of[s]
            idx = topk(scores[:, lo:hi], depth, tiekey[lo:hi])
            tops[s].append(idx + lo)
            top_scores[s].append(np.take_along_axis(scores[:, lo:hi], idx, axis=1))
    ids_arr, pool_ids_arr = np.asarray(ids), np.asarray(pool_ids)
    results = []
    for s in group.settings:
        if s.pool == ALL:
            mask = rel >= 0
            ranks_all = 1 + counts.sum(axis=2)
        else:
            b = group.langs.index(s.pool)
            mask = rel_block == b
            ranks_all = 1 + counts[:, :, b]
        n_rel_all = mask.sum(axis=1)
        keep = np.flatnonzero(n_rel_all)
        ranks = np.sort(np.where(mask[keep], ranks_all[keep], np.inf), axis=1)[:, : max(1, int(n_rel_all.max()))]
        n_rel = n_rel_all[keep]
        per_query = {m: compute(m, ranks, n_rel) for m in metrics}
        res = SettingResult(s, [qd.ids[qrows[i]] for i in keep], [q_groups[i] for i in keep],
                            len(qd) - len(keep), per_query)
        if s.pool == ALL:
            per_query["rank_distance"] = rank_distance(ranks, n_rel)
            own = group.langs.index(qlang)
            for li, c in enumerate(levels):
                share = top_counts[keep, li, :] / min(c, len(ids))
                per_query[f"own_lang@{c}"] = share[:, own]
                res.lang_share[c] = {p: float(share[:, b].mean()) if len(keep) else 0.0
                                     for b, p in enumerate(group.langs)}
            per_query["own_lang_expected"] = (mask[keep] & (rel_block[keep] == own)).sum(axis=1) / n_rel
        if depth:
            res.top_ids = (pool_ids_arr if s.pool == ALL else ids_arr)[np.concatenate(tops[s])[keep]]
            res.top_scores = np.concatenate(top_scores[s])[keep]
        results.append(res)
    return results


def evaluate(data: TaskData, settings: Sequence[Setting], source: DenseScores | LexicalScores,
             rows: dict[str, np.ndarray], metrics: Sequence[str], chunk_rows: int = DEFAULT_CHUNK_ROWS,
             depth: int = 0) -> list[SettingResult]:
    """Per-query metrics for every setting, in the order given."""
    by_lang: dict[str, list[Setting]] = {}
    for s in settings:
        by_lang.setdefault(s.query_lang, []).append(s)
    done: dict[Setting, SettingResult] = {}
    tiekeys: dict[tuple[str, ...], np.ndarray] = {}
    with ThreadPoolExecutor(max_workers=1) as prefetch:
        for lang, group_settings in by_lang.items():
            for group in source.groups(lang, group_settings):
                for res in _evaluate_group(data, lang, rows[lang], group, metrics, chunk_rows, depth, prefetch, tiekeys):
                    done[res.setting] = res
    return [done[s] for s in settings]


class ExactBackend:
    """Full ranking of every pool in memory (see the module docstring)."""

    name = "exact"
    full_ranking = True

    def __init__(self, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> None:
        self.chunk_rows = chunk_rows

    def check(self, metrics: list[Metric], model: object, keep: int) -> None:
        """Every metric is exact on a full ranking."""

    def prepare(self, data: TaskData) -> TaskData:
        for lang, d in data.langs.items():
            if isinstance(d.candidates, StreamedCandidates):
                d.candidates = d.candidates.materialize(MEMORY_POOL_LIMIT, f"{data.spec.name} {lang}")
        return data

    def run(self, job: Job, progress: Callable | None = None) -> Retrieved:
        t0 = time.perf_counter()
        data = job.data
        if job.vectors is not None:
            source: DenseScores | LexicalScores = DenseScores(data, job.vectors.queries, job.vectors.candidates)  # type: ignore[arg-type]
            rows = job.vectors.query_rows
        else:
            rows = {lang: data.evaluated(lang) for lang in data.languages}
            source = LexicalScores(data, job.model, rows)  # type: ignore[arg-type]
        results = evaluate(data, job.settings, source, rows, job.metrics, self.chunk_rows, job.keep)
        info = {"backend": self.name, "ranking": "full ranking of every pool in memory; ranks of the relevant "
                "candidates by beat counts per language block", "scores": "dense inner product (numpy)"
                if job.vectors is not None else f"{getattr(job.model, 'name', 'lexical')} score rows over each pool"}
        return Retrieved(results, info, {"score_metrics_s": time.perf_counter() - t0})
