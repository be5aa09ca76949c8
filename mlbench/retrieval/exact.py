"""The ``exact`` backend: every pool in memory, ranked in full, so every metric is exact.

For each query language X the settings of X are served by *score groups*: blocks of pool columns
scored together. A dense model needs one group per X, the union of the languages its settings
search, so the monolingual, cross-lingual and multilingual settings of X all come from one score
matrix (computed in row chunks to bound memory) and one set of beat counts
(:mod:`mlbench.retrieval.fullrank`). A lexical scorer needs one group per pool, because BM25
statistics depend on the pool.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from mlbench.data.model import MemoryCandidates, StreamedCandidates, TaskData
from mlbench.encoders.base import PoolIndex, PoolScorer
from mlbench.metrics import BIAS_CUTOFFS, Metric, metric
from mlbench.metrics.rank_correlation import rank_vectors
from mlbench.results.values import SettingValues, add_rank_correlation, scored
from mlbench.retrieval.base import MEMORY_POOL_LIMIT, SCORE_CHUNK_BYTES, Job, Retrieved
from mlbench.runs import JudgedRanks, Run
from mlbench.runs.ties import id_tiekeys, top_columns
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
        needed = {p for s in settings for p in s.pool_langs(self.data.pool_langs)}
        langs = tuple(p for p in self.data.pool_langs if p in needed)
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
            langs = self.data.pool_langs if pool == ALL else (pool,)
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
            out.append(ScoreGroup(s.pool_langs(self.data.pool_langs), [s],
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
    judged: dict[str, dict[str, list[tuple[int, int]]]]  # pool lang -> group -> (column, grade > 0)
    multi: dict[str, list[tuple[int, int]]] | None  # group -> (column, grade > 0): the pool of all judged as one

    @classmethod
    def of(cls, data: TaskData, langs: tuple[str, ...]) -> _Columns:
        offsets, ids, pool_ids, bounds, judged = {}, [], [], [], {}
        for p in langs:
            cands = _memory(data, p)
            offsets[p] = len(ids)
            bounds.append((len(ids), len(ids) + len(cands)))
            judged[p] = {g: [(len(ids) + cands.index_of(c), grade) for c, grade in cs.items() if grade > 0]
                         for g, cs in data.langs[p].judged.items()}
            ids.extend(cands.ids)
            pool_ids.extend(data.pool_id(p, c) for c in cands.ids)
        multi = None
        if data.multi_judged is not None and len(langs) == len(data.pool_langs):
            where = {pid: i for i, pid in enumerate(pool_ids)}
            multi = {g: [(where[d], grade) for d, grade in cs.items() if grade > 0 and d in where]
                     for g, cs in data.multi_judged.items()}
        # tie keys from the ids of the pool of all languages: within one language's block the order is the same
        return cls(offsets, np.asarray(ids), np.asarray(pool_ids), bounds, id_tiekeys(pool_ids), judged, multi)

    def relevant(self, data: TaskData, qlang: str, groups: list[str], multi: bool = False
                 ) -> tuple[np.ndarray, np.ndarray]:
        """(queries, w) columns of each query's candidates judged above 0, ascending, -1 padded,
        and their grades: in the answer pools of ``qlang``, or (``multi``) the pool of all judged
        as one."""
        pools = [p for p in data.answer_pools(qlang) if p in self.offsets]
        found = [self.multi.get(g, []) if multi and self.multi is not None else
                 [x for p in pools for x in self.judged[p].get(g, [])] for g in groups]
        width = max([1, *(len(f) for f in found)])
        cols = np.full((len(groups), width), -1, dtype=np.int64)
        grades = np.zeros((len(groups), width), dtype=np.int64)
        for i, f in enumerate(found):
            f = sorted(f)
            cols[i, : len(f)] = [c for c, _ in f]
            grades[i, : len(f)] = [g for _, g in f]
        keep = max(1, int((cols >= 0).sum(axis=1).max(initial=0)))
        return np.ascontiguousarray(cols[:, :keep]), grades[:, :keep]


def score_chunks(n: int, columns: int, chunk_rows: int | None = None) -> list[np.ndarray]:
    """The query rows scored at once: as few chunks as the memory budget (``chunk_rows``, or
    SCORE_CHUNK_BYTES of float32 scores) allows, of equal size, since the product runs faster on
    more rows. Anything that must reproduce mlbench's scores bit for bit multiplies these shapes."""
    rows = chunk_rows or max(1, SCORE_CHUNK_BYTES // (4 * max(1, columns)))
    return np.array_split(np.arange(n), -(-n // rows)) if n else []


@dataclass
class _Counts:
    """Beat counts of one set of relevant columns over the chunks of a score group."""

    cols: np.ndarray
    grades: np.ndarray
    block: np.ndarray  # each relevant column's block, -1 for padding
    own: np.ndarray
    total: np.ndarray
    top: np.ndarray

    @classmethod
    def empty(cls, cols: np.ndarray, grades: np.ndarray, starts: np.ndarray, n_levels: int, n_blocks: int) -> _Counts:
        n, w = cols.shape
        block = np.where(cols >= 0, np.searchsorted(starts, cols, side="right") - 1, -1)
        return cls(cols, grades, block, np.zeros((n, w), dtype=np.int64), np.zeros((n, w), dtype=np.int64),
                   np.zeros((n, n_levels, n_blocks), dtype=np.int64))

    def judged(self, mask: np.ndarray, ranks_all: np.ndarray, keep: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ranks, grades, order) of the kept queries' masked relevant columns, sorted by rank
        (``order``: the sorting positions, to align anything else with them)."""
        width = max(1, int(mask.sum(axis=1).max(initial=0)))
        order = np.argsort(np.where(mask[keep], ranks_all[keep], np.inf), axis=1, kind="stable")[:, :width]
        ranks = np.take_along_axis(np.where(mask[keep], ranks_all[keep], np.inf), order, axis=1)
        grades = np.take_along_axis(np.where(mask[keep], self.grades[keep], 0), order, axis=1)
        return ranks, grades, order


def _evaluate_group(data: TaskData, qlang: str, qrows: np.ndarray, group: ScoreGroup, metrics: Sequence[str],
                    chunk_rows: int | None, depth: int, columns: dict[tuple[str, ...], _Columns],
                    clock: dict[str, float], side: dict[str, dict[str, np.ndarray]]) -> list[SettingValues]:
    """Per-query values of the settings of one score group; ``qrows`` are the evaluated queries of
    ``qlang`` (the score rows, in order). ``clock`` accumulates the seconds spent on scores and ranks;
    ``side`` gets what the rank correlation of the multilingual pool needs later ("tops": the
    top ids, "ranks": full rank vectors, per query language)."""
    from mlbench.retrieval.fullrank import beat_counts  # numba: imported by the warm-up thread first
    qd = data.langs[qlang].queries
    n = len(qrows)
    q_groups = [qd.groups[i] for i in qrows]
    q_ids = [qd.ids[i] for i in qrows]
    if group.langs not in columns:
        columns[group.langs] = _Columns.of(data, group.langs)
    cols = columns[group.langs]
    bounds, tiekey = cols.bounds, cols.tiekey
    starts = np.array([b[0] for b in bounds])
    has_all = any(s.pool == ALL for s in group.settings)
    levels = BIAS_CUTOFFS if has_all else ()
    own_multi = has_all and cols.multi is not None  # the pool of all languages has judgements of its own
    counts = {False: _Counts.empty(*cols.relevant(data, qlang, q_groups), starts, len(levels), len(bounds))}
    if own_multi:
        counts[True] = _Counts.empty(*cols.relevant(data, qlang, q_groups, multi=True), starts, len(levels),
                                     len(bounds))
    col_of = {s: (bounds[group.langs.index(s.pool)] if s.pool != ALL else (0, len(cols.ids))) for s in group.settings}
    # how deep each setting's top is needed: kept rankings, and the measures of the multilingual
    # pool's top (PEER@k, MRC@k; MRC of whole rankings keeps rank vectors instead)
    asked = [metric(m) for m in metrics]
    ranked = max([m.cutoff or 0 for m in asked if m.multilingual], default=0)
    depth_of = {s: max(depth, ranked if s.pool == ALL else 0) for s in group.settings}
    full_mrc = any(m.base == "mrc" and m.cutoff is None for m in asked)
    tops: dict[Setting, list[np.ndarray]] = {s: [] for s in group.settings if depth_of[s]}
    top_scores: dict[Setting, list[np.ndarray]] = {s: [] for s in tops}
    rank_rows: list[np.ndarray] = []
    for rows in score_chunks(n, len(cols.ids), chunk_rows):
        t0 = time.perf_counter()
        scores = np.ascontiguousarray(group.scores(rows), dtype=np.float32)
        t1 = time.perf_counter()
        for multi, c in counts.items():
            lv = levels if multi == own_multi else ()
            c.own[rows], c.total[rows], top = beat_counts(scores, c.cols[rows], bounds, tiekey, lv)
            if lv:
                c.top[rows] = top
        clock["scores_s"] += t1 - t0
        clock["ranks_s"] += time.perf_counter() - t1
        for s in tops:
            lo, hi = col_of[s]
            idx = top_columns(scores[:, lo:hi], depth_of[s], tiekey[lo:hi])
            tops[s].append(idx + lo)
            top_scores[s].append(np.take_along_axis(scores[:, lo:hi], idx, axis=1))
        if full_mrc and has_all:
            rank_rows.append(rank_vectors(scores, tiekey))
    out = []
    for s in group.settings:
        c = counts[s.pool == ALL and own_multi]
        if s.pool == ALL:
            mask, ranks_all = c.cols >= 0, 1 + c.total
        else:
            mask, ranks_all = c.block == group.langs.index(s.pool), 1 + c.own
        keep = np.flatnonzero((mask & (c.grades >= data.level)).any(axis=1))
        ranks, grades, order = c.judged(mask, ranks_all, keep)
        judged = JudgedRanks(ranks, grades, full=True)
        if s.pool == ALL:
            own_block = group.langs.index(qlang) if qlang in group.langs else -1
            judged.langs = group.langs
            judged.own = np.take_along_axis(mask[keep] & (c.block[keep] == own_block), order, axis=1)
            for li, cut in enumerate(levels):
                judged.top_counts[cut] = c.top[keep, li, :]
                judged.top_sizes[cut] = min(cut, len(cols.ids))
        ranking = qrels = None
        if depth_of[s]:
            lo, hi = col_of[s]
            ids = (cols.pool_ids if s.pool == ALL else cols.ids)[np.concatenate(tops[s])[keep]]
            ranking = Run([q_ids[i] for i in keep], ids, np.concatenate(top_scores[s])[keep],
                          full=depth_of[s] >= hi - lo)
            qrels = data.qrels(s, ranking.query_ids, [q_groups[i] for i in keep])
        if s.pool == ALL:
            if ranking is not None:
                side.setdefault("tops", {})[qlang] = ranking.ids
            if rank_rows:
                side.setdefault("ranks", {})[qlang] = np.concatenate(rank_rows)[keep]
        kept = ranking.head(depth) if depth and ranking is not None else None
        out.append(scored(s, [q_ids[i] for i in keep], [q_groups[i] for i in keep], len(qd) - len(keep), judged,
                          metrics, data.level, kept, qrels, ranking=ranking,
                          pool_size=len(cols.ids)))
    return out


def evaluate(data: TaskData, settings: Sequence[Setting], source: DenseScores | LexicalScores,
             rows: dict[str, np.ndarray], metrics: Sequence[str], chunk_rows: int | None = None,
             depth: int = 0, clock: dict[str, float] | None = None) -> list[SettingValues]:
    """Per-query metrics for every setting, in the order given; ``clock`` (if given) gets the
    seconds spent computing scores and ranking (the rest is metrics and bookkeeping)."""
    by_lang: dict[str, list[Setting]] = {}
    for s in settings:
        by_lang.setdefault(s.query_lang, []).append(s)
    done: dict[Setting, SettingValues] = {}
    columns: dict[tuple[str, ...], _Columns] = {}
    side: dict[str, dict[str, np.ndarray]] = {}
    clock = {} if clock is None else clock
    clock.update(scores_s=0.0, ranks_s=0.0)
    for lang, group_settings in by_lang.items():
        for group in source.groups(lang, group_settings):
            for res in _evaluate_group(data, lang, rows[lang], group, metrics, chunk_rows, depth, columns, clock,
                                       side):
                done[res.setting] = res
    out = [done[s] for s in settings]
    add_rank_correlation(out, metrics, side.get("tops"), side.get("ranks"))
    return out


def _warm() -> None:
    from mlbench.retrieval.fullrank import warm_up

    warm_up()
    a = np.ones((64, 384), dtype=np.float32)
    np.matmul(a, a.T)  # OpenBLAS starts its threads on the first product of a process


class ExactBackend:
    """Full ranking of every pool in memory (see the module docstring)."""

    name = "exact"
    full_ranking = True

    def __init__(self, chunk_rows: int | None = None) -> None:
        self.chunk_rows = chunk_rows

    def check(self, metrics: list[Metric], model: object, keep: int) -> None:
        """Every metric is exact on a full ranking."""

    def warm_up(self) -> threading.Thread:
        """Load the ranking kernel and start the BLAS threads in the background (the run encodes
        or reads its cache meanwhile); the first scoring call then finds both ready."""
        thread = threading.Thread(target=_warm, name="mlbench-warm-up", daemon=True)
        thread.start()
        return thread

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
            rows = {lang: data.evaluated(lang) for lang in data.query_langs}
            source = LexicalScores(data, job.model, rows)  # type: ignore[arg-type]
        clock: dict[str, float] = {}
        results = evaluate(data, job.settings, source, rows, job.metrics, self.chunk_rows, job.keep, clock)
        info = {"backend": self.name, "ranking": "full ranking of every pool in memory; ranks of the relevant "
                "candidates by beat counts per language block", "scores": "dense inner product (numpy)"
                if job.vectors is not None else f"{getattr(job.model, 'name', 'lexical')} score rows over each pool"}
        return Retrieved(results, info, {"score_metrics_s": time.perf_counter() - t0, **clock})
