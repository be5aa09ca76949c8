"""The one data interface every task is loaded into, whatever its format or size.

Per language, a task's data is its queries, its candidates (that language's pool) and, per query
group, the judged candidates of that pool with their grades. Loaders (:mod:`mlbench.data.loaders`)
produce it; settings, encoding and retrieval read it and nothing else.

- **Queries**: ids, texts and groups. The group pairs a query across settings and runs: LAReQA's
  parallel question id, shared by the translations of a question; MIRACL's query id; NeuCLIR's
  topic id. A language may have queries and no candidates (NeuCLIR's English topics) or
  candidates and no queries (its Persian documents).
- **Candidates**: in memory (:class:`MemoryCandidates`: ids and texts, e.g. LAReQA's sentences) or
  streamed (:class:`StreamedCandidates`: a re-iterable source of ``(id, text)`` in corpus order
  with a known count, for corpora too large to hold).
- **Judgements**: ``LangData.judged[group]`` maps judged candidate ids of that language's pool to
  their grades (0 = judged not relevant). A candidate is relevant when its grade is at least
  ``TaskData.level`` (trec_eval's ``-l``, 1 unless the task file sets another).
- **Where a query's answers are** (:meth:`TaskData.answer_pools`, the one rule): with
  ``answers = "any"`` a group's judgements hold in every pool that judges it (LAReQA's parallel
  questions; a task whose topics are in one language and its documents in others, NeuCLIR);
  with ``"own"`` only in the query's own language's pool (MIRACL, whose query ids repeat across
  languages). The pool of all languages takes the union, unless the loader read judgements of
  that pool as one (``multi_judged``: NeuCLIR's multilingual task).
- **Ids in a mixed pool**: candidate ids are unique within a language. Where a pool mixes
  languages, an id is :meth:`TaskData.pool_id`, which starts with ``{lang}/``: the id itself when
  the loader's ids already name their language that way (``ids_name_language``: LAReQA's
  ``de/p0001/s3``), else the id with that prefix (``yo/123#0``).

A query with no relevant candidate in a setting's pool is left out of that setting (the count is
reported); a query with none in any pool of the data is never encoded or scored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlbench.errors import MlbenchError
from mlbench.runs.qrels import Qrels
from mlbench.task import ALL, Setting, TaskSpec

ANSWERS = ("any", "own")


@dataclass
class Queries:
    ids: list[str]
    texts: list[str]
    groups: list[str]

    def __len__(self) -> int:
        return len(self.ids)

    def head(self, n: int) -> Queries:
        return Queries(self.ids[:n], self.texts[:n], self.groups[:n])


class MemoryCandidates:
    """A pool held in memory: ids and the texts an encoder sees."""

    in_memory = True

    def __init__(self, ids: list[str], texts: list[str]) -> None:
        if len(ids) != len(texts):
            raise ValueError(f"{len(ids)} candidate ids but {len(texts)} texts")
        self.ids, self.texts = ids, texts
        self._index: dict[str, int] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def stream(self) -> Iterator[tuple[str, str]]:
        return iter(zip(self.ids, self.texts))

    def index_of(self, cid: str) -> int:
        """Position of a candidate id (built on first use)."""
        if self._index is None:
            self._index = {c: i for i, c in enumerate(self.ids)}
        return self._index[cid]


class StreamedCandidates:
    """A pool read from its source on every pass, never held: ``source()`` yields ``(id, text)``
    in a fixed order, ``count`` of them. ``corpus`` and ``selection`` name the pool (which corpus,
    which passages of it) for the on-disk embedding store; ``folder`` is the store's folder name
    and ``origin`` names the source in errors."""

    in_memory = False

    def __init__(self, source: Callable[[], Iterator[tuple[str, str]]], count: int, corpus: str, selection: str,
                 folder: str, origin: str) -> None:
        self.source, self.count = source, count
        self.corpus, self.selection, self.folder, self.origin = corpus, selection, folder, origin

    def __len__(self) -> int:
        return self.count

    def stream(self) -> Iterator[tuple[str, str]]:
        return self.source()

    def materialize(self, limit: int, where: str) -> MemoryCandidates:
        """Read the whole pool into memory (for a backend that ranks it in memory)."""
        if self.count > limit:
            raise MlbenchError(f"{where}: the pool has {self.count} passages, more than the {limit} a pool held in "
                               "memory may have; use --backend topk (streamed store and faiss search)")
        ids, texts = [], []
        for cid, text in self.stream():
            ids.append(cid)
            texts.append(text)
        return MemoryCandidates(ids, texts)


Candidates = MemoryCandidates | StreamedCandidates


def no_queries() -> Queries:
    return Queries([], [], [])


def no_candidates() -> MemoryCandidates:
    return MemoryCandidates([], [])


@dataclass
class LangData:
    lang: str
    queries: Queries
    candidates: Candidates
    judged: dict[str, dict[str, int]]  # group -> judged candidate id of this language's pool -> grade


@dataclass
class TaskData:
    """A loaded task (or slice of one). ``files``: provenance per language (origin, checksums);
    ``subset``: how the data was cut (None-free dict, empty for the whole task); ``facts``: loader
    facts recorded in the result's ``run.loader`` (e.g. corpus counts, pool subsets and whether the
    figures are comparable with official ones); ``warnings``: lines a run prints. ``parallel``:
    the languages' queries are translations of one another (LAReQA), so a question's languages can
    be compared with each other (micro averages, rank correlation)."""

    spec: TaskSpec
    langs: dict[str, LangData]
    answers: str
    ids_name_language: bool
    candidate_text: str
    source: str
    files: dict[str, dict[str, Any]]
    parallel: bool = False
    subset: dict[str, Any] = field(default_factory=dict)
    kinds: tuple[str, ...] = ()  # kinds of settings the data supports (default: the task's)
    facts: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    level: int = 1  # relevant at grade >= level
    multi_judged: dict[str, dict[str, int]] | None = None  # group -> pool id -> grade, the pool of all as one

    def __post_init__(self) -> None:
        self.kinds = self.kinds or self.spec.kinds
        if self.answers not in ANSWERS:
            raise ValueError(f"answers must be one of {ANSWERS}, got {self.answers!r}")

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.langs)

    @property
    def query_langs(self) -> tuple[str, ...]:
        return tuple(lang for lang, d in self.langs.items() if len(d.queries))

    @property
    def pool_langs(self) -> tuple[str, ...]:
        return tuple(lang for lang, d in self.langs.items() if len(d.candidates))

    def n_candidates(self) -> int:
        return sum(len(d.candidates) for d in self.langs.values())

    def answer_pools(self, query_lang: str) -> tuple[str, ...]:
        """The pools that may hold the answers of ``query_lang``'s queries (the module docstring)."""
        if self.answers == "any":
            return self.pool_langs
        return (query_lang,) if query_lang in self.pool_langs else ()

    def pool_id(self, lang: str, cid: str) -> str:
        """A candidate's id in a pool that mixes languages."""
        return cid if self.ids_name_language else f"{lang}/{cid}"

    def id_in_pool(self, setting: Setting, lang: str, cid: str) -> str:
        """A candidate's id in a setting's pool: its own id in a one-language pool."""
        return self.pool_id(lang, cid) if setting.pool == ALL else cid

    def judgements(self, setting: Setting, group: str) -> dict[str, int]:
        """A query group's judged candidates in a setting's pool (ids as in that pool), with grades."""
        if setting.pool == ALL and self.multi_judged is not None:
            return dict(self.multi_judged.get(group, {}))
        pools = self.answer_pools(setting.query_lang)
        out: dict[str, int] = {}
        for p in setting.pool_langs(self.pool_langs):
            if p in pools:
                out.update((self.id_in_pool(setting, p, c), g) for c, g in self.langs[p].judged.get(group, {}).items())
        return out

    def has_relevant(self, setting: Setting, group: str) -> bool:
        return any(g >= self.level for g in self.judgements(setting, group).values())

    def qrels(self, setting: Setting, query_ids: Sequence[str], groups: Sequence[str]) -> Qrels:
        """The judgements of a setting's queries, as :class:`Qrels`."""
        return Qrels({q: self.judgements(setting, g) for q, g in zip(query_ids, groups)}, self.level)

    def evaluated(self, lang: str) -> np.ndarray:
        """Indices of the queries of ``lang`` with a relevant candidate in some pool of the data:
        the only ones a run encodes and scores."""
        # has_relevant over the query's one-language pools and the judged multilingual pool, read
        # from the grades directly: the same answer without building every pool's ids (a warm run
        # of XQuAD-R spent 0.2 s here)
        level = self.level
        judged = [self.langs[p].judged for p in self.answer_pools(lang)]
        if self.multi_judged is not None:
            judged.append(self.multi_judged)
        return np.asarray([i for i, g in enumerate(self.langs[lang].queries.groups)
                           if any(grade >= level for j in judged for grade in (j.get(g) or {}).values())],
                          dtype=np.int64)

    def left_out(self, setting: Setting) -> int:
        """Queries of the setting's language with no relevant candidate in its pool."""
        return sum(1 for g in self.langs[setting.query_lang].queries.groups if not self.has_relevant(setting, g))
