"""The ``exact`` backend: every pool in memory, ranked in full, so every metric is exact.

For each query language X the settings of X are served by *score groups*: blocks of pool columns
scored together. A dense model needs one group per X, the union of the languages its settings
search, so the monolingual, cross-lingual and multilingual settings of X all come from one score
matrix (computed in row chunks to bound memory) and one set of beat counts
(:mod:`mlbench.retrieval.fullrank`). A lexical scorer needs one group per pool, because BM25
statistics depend on the pool.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from mlbench.data.model import MemoryCandidates, StreamedCandidates, TaskData
from mlbench.encoders.base import PoolIndex, PoolScorer
from mlbench.metrics import BIAS_CUTOFFS, Metric, compute, rank_distance
from mlbench.retrieval.base import MEMORY_POOL_LIMIT, SCORE_CHUNK_BYTES, Job, Retrieved, SettingResult
from mlbench.retrieval.fullrank import beat_counts
from mlbench.retrieval.ties import id_tiekeys, topk
from mlbench.task import ALL, Setting


@dataclass
class ScoreGroup:
    langs: tuple[str, ...]  # column blocks, in order
    settings: list[Setting]
    scores: Callable[[np.ndarray], np.ndarray]  # query row indices -> (rows, columns) float32, valid until the next call


class DenseScores:
    """Inner products of query and candidate embeddings (cosine when the encoder normalises);
    ``queries[lang]`` holds the vectors of the evaluated queries, in order."""

    def __init__(self, data: TaskData, queries: dict[str, np.ndarray], candidates: dict[str, np.ndarray]) -> None:
        self.data, self.q, self.c = data, queries, candidates
        self._concat: dict[tuple[str, ...], np.ndarray] = {}
        self._buffer = np.empty(0, dtype=np.float32)

    def groups(self, lang: str, settings: list[Setting]) -> list[ScoreGroup]:
        needed = {p for s in settings for p in s.pool_langs(self.data.languages)}
        langs = tuple(p for p in self.data.languages if p in needed)
        if langs not in self._concat:
            self._concat[langs] = np.ascontiguousarray(np.concatenate([self.c[p] for p in langs]))
        cand, q = self._concat[langs], self.q[lang]
        return [ScoreGroup(langs, settings, lambda rows: self._product(q[rows], cand))]

    def _product(self, q: np.ndarray, cand: np.ndarray) -> np.ndarray:
        """q @ cand.T into one reused buffer (valid until the next call): a fresh 50 MB array per
        chunk costs its page faults again every time."""
        size = q.shape[0] * cand.shape[0]
        if self._buffer.size < size:
            self._buffer = np.empty(size, dtype=np.float32)
        return np.matmul(q, cand.T, out=self._buffer[:size].reshape(q.shape[0], cand.shape[0]))


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


_NONE = np.iinfo(np.int64).max


@dataclass
class _Columns:
    """The pool columns of a score group (the same for every query language that searches them)."""

    offsets: dict[str, int]
    ids: np.ndarray
    pool_ids: np.ndarray  # ids as in the pool of all languages
    bounds: list[tuple[int, int]]
    tiekey: np.ndarray
    group_index: dict[str, int]  # every group with a relevant candidate in these columns
    answers: dict[str, np.ndarray]  # pool lang -> (groups, most answers) columns of each group's relevant candidates

    @classmethod
    def of(cls, data: TaskData, langs: tuple[str, ...]) -> _Columns:
        offsets, ids, pool_ids, bounds, found = {}, [], [], [], {}
        for p in langs:
            cands = _memory(data, p)
            offsets[p] = len(ids)
            bounds.append((len(ids), len(ids) + len(cands)))
            found[p] = {g: [len(ids) + cands.index_of(c) for c in cs] for g, cs in data.langs[p].relevant.items()}
            ids.extend(cands.ids)
            pool_ids.extend(data.pool_id(p, c) for c in cands.ids)
        group_index = {g: i for i, g in enumerate(dict.fromkeys(g for p in langs for g in found[p]))}
        answers = {}
        for p in langs:
            table = np.full((len(group_index) + 1, max((len(v) for v in found[p].values()), default=0)), _NONE,
                            dtype=np.int64)  # the last row: groups without any relevant candidate here
            for g, cols in found[p].items():
                table[group_index[g], : len(cols)] = cols
            answers[p] = table
        # tie keys from the ids of the pool of all languages: within one language's block the order is the same
        return cls(offsets, np.asarray(ids), np.asarray(pool_ids), bounds, id_tiekeys(pool_ids), group_index, answers)

    def relevant(self, data: TaskData, qlang: str, groups: list[str]) -> np.ndarray:
        """(queries, max relevant) columns of each query's relevant candidates, ascending, -1 padded."""
        missing = len(self.group_index)
        rows = np.fromiter((self.group_index.get(g, missing) for g in groups), dtype=np.int64, count=len(groups))
        parts = [self.answers[p][rows] for p in self.offsets if data.parallel or p == qlang]
        rel = np.concatenate(parts, axis=1) if parts else np.empty((len(groups), 0), dtype=np.int64)
        rel = rel if rel.shape[1] else np.full((len(groups), 1), _NONE, dtype=np.int64)
        rel.sort(axis=1)
        rel[rel == _NONE] = -1
        keep = max(1, int((rel >= 0).sum(axis=1).max(initial=0)))
        return np.ascontiguousarray(rel[:, :keep])


def score_chunks(n: int, columns: int, chunk_rows: int | None = None) -> list[np.ndarray]:
    """The query rows scored at once: as few chunks as the memory budget (``chunk_rows``, or
    SCORE_CHUNK_BYTES of float32 scores) allows, of equal size, since the product runs faster on
    more rows. Anything that must reproduce mlbench's scores bit for bit multiplies these shapes."""
    rows = chunk_rows or max(1, SCORE_CHUNK_BYTES // (4 * max(1, columns)))
    return np.array_split(np.arange(n), -(-n // rows)) if n else []


def _evaluate_group(data: TaskData, qlang: str, qrows: np.ndarray, group: ScoreGroup, metrics: Sequence[str],
                    chunk_rows: int | None, depth: int, columns: dict[tuple[str, ...], _Columns],
                    clock: dict[str, float]) -> list[SettingResult]:
    """Per-query values of the settings of one score group; ``qrows`` are the evaluated queries of
    ``qlang`` (the score rows, in order). ``clock`` accumulates the seconds spent on scores and ranks."""
    qd = data.langs[qlang].queries
    n = len(qrows)
    q_groups = [qd.groups[i] for i in qrows]
    if group.langs not in columns:
        columns[group.langs] = _Columns.of(data, group.langs)
    cols = columns[group.langs]
    bounds, tiekey = cols.bounds, cols.tiekey
    rel = cols.relevant(data, qlang, q_groups)
    starts = np.array([b[0] for b in bounds])
    rel_block = np.where(rel >= 0, np.searchsorted(starts, rel, side="right") - 1, -1)
    own = np.zeros((n, rel.shape[1]), dtype=np.int64)
    total = np.zeros((n, rel.shape[1]), dtype=np.int64)
    levels = BIAS_CUTOFFS if any(s.pool == ALL for s in group.settings) else ()
    top_counts = np.zeros((n, len(levels), len(bounds)), dtype=np.int64)
    col_of = {s: (bounds[group.langs.index(s.pool)] if s.pool != ALL else (0, len(cols.ids))) for s in group.settings}
    tops: dict[Setting, list[np.ndarray]] = {s: [] for s in group.settings} if depth else {}
    top_scores: dict[Setting, list[np.ndarray]] = {s: [] for s in group.settings} if depth else {}
    for rows in score_chunks(n, len(cols.ids), chunk_rows):
        t0 = time.perf_counter()
        scores = np.ascontiguousarray(group.scores(rows), dtype=np.float32)
        t1 = time.perf_counter()
        own[rows], total[rows], top_counts[rows] = beat_counts(scores, rel[rows], bounds, tiekey, levels)
        clock["scores_s"] += t1 - t0
        clock["ranks_s"] += time.perf_counter() - t1
        for s in tops:
            lo, hi = col_of[s]
            idx = topk(scores[:, lo:hi], depth, tiekey[lo:hi])
            tops[s].append(idx + lo)
            top_scores[s].append(np.take_along_axis(scores[:, lo:hi], idx, axis=1))
    results = []
    for s in group.settings:
        if s.pool == ALL:
            mask = rel >= 0
            ranks_all = 1 + total
        else:
            mask = rel_block == group.langs.index(s.pool)
            ranks_all = 1 + own
        n_rel_all = mask.sum(axis=1)
        keep = np.flatnonzero(n_rel_all)
        ranks = np.sort(np.where(mask[keep], ranks_all[keep], np.inf), axis=1)[:, : max(1, int(n_rel_all.max(initial=0)))]
        n_rel = n_rel_all[keep]
        per_query = {m: compute(m, ranks, n_rel) for m in metrics}
        res = SettingResult(s, [qd.ids[qrows[i]] for i in keep], [q_groups[i] for i in keep],
                            len(qd) - len(keep), per_query)
        if s.pool == ALL:
            per_query["rank_distance"] = rank_distance(ranks, n_rel)
            own_block = group.langs.index(qlang)
            for li, c in enumerate(levels):
                share = top_counts[keep, li, :] / min(c, len(cols.ids))
                per_query[f"own_lang@{c}"] = share[:, own_block]
                res.lang_share[c] = {p: float(share[:, b].mean()) if len(keep) else 0.0
                                     for b, p in enumerate(group.langs)}
            per_query["own_lang_expected"] = (mask[keep] & (rel_block[keep] == own_block)).sum(axis=1) / n_rel
        if depth:
            res.top_ids = (cols.pool_ids if s.pool == ALL else cols.ids)[np.concatenate(tops[s])[keep]]
            res.top_scores = np.concatenate(top_scores[s])[keep]
        results.append(res)
    return results


def evaluate(data: TaskData, settings: Sequence[Setting], source: DenseScores | LexicalScores,
             rows: dict[str, np.ndarray], metrics: Sequence[str], chunk_rows: int | None = None,
             depth: int = 0, clock: dict[str, float] | None = None) -> list[SettingResult]:
    """Per-query metrics for every setting, in the order given; ``clock`` (if given) gets the
    seconds spent computing scores and ranking (the rest is metrics and bookkeeping)."""
    by_lang: dict[str, list[Setting]] = {}
    for s in settings:
        by_lang.setdefault(s.query_lang, []).append(s)
    done: dict[Setting, SettingResult] = {}
    columns: dict[tuple[str, ...], _Columns] = {}
    clock = {} if clock is None else clock
    clock.update(scores_s=0.0, ranks_s=0.0)
    for lang, group_settings in by_lang.items():
        for group in source.groups(lang, group_settings):
            for res in _evaluate_group(data, lang, rows[lang], group, metrics, chunk_rows, depth, columns, clock):
                done[res.setting] = res
    return [done[s] for s in settings]


class ExactBackend:
    """Full ranking of every pool in memory (see the module docstring)."""

    name = "exact"
    full_ranking = True

    def __init__(self, chunk_rows: int | None = None) -> None:
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
        clock: dict[str, float] = {}
        results = evaluate(data, job.settings, source, rows, job.metrics, self.chunk_rows, job.keep, clock)
        info = {"backend": self.name, "ranking": "full ranking of every pool in memory; ranks of the relevant "
                "candidates by beat counts per language block", "scores": "dense inner product (numpy)"
                if job.vectors is not None else f"{getattr(job.model, 'name', 'lexical')} score rows over each pool"}
        return Retrieved(results, info, {"score_metrics_s": time.perf_counter() - t0, **clock})
