"""The one data interface every task is loaded into, whatever its format or size.

Per language, a task's data is its queries, its candidates (that language's pool) and, per query
group, the relevant candidates. Loaders (:mod:`mlbench.data.loaders`) produce it; settings,
encoding and retrieval read it and nothing else.

- **Queries**: ids, texts and groups. The group pairs a query across settings and runs: LAReQA's
  parallel question id, shared by the translations of a question; MIRACL's query id.
- **Candidates**: in memory (:class:`MemoryCandidates`: ids and texts, e.g. LAReQA's sentences) or
  streamed (:class:`StreamedCandidates`: a re-iterable source of ``(id, text)`` in corpus order
  with a known count, for corpora too large to hold).
- **Relevance**: ``LangData.relevant[group]`` lists the relevant candidate ids in that language's
  pool. In a *parallel* task (LAReQA) a group is relevant in every language's pool, so a German
  question's relevant candidates in the pool of all languages are its answer sentence in every
  language; otherwise (MIRACL) only in its own language's pool.
- **Ids in a mixed pool**: candidate ids are unique within a language. Where a pool mixes
  languages, an id is :meth:`TaskData.pool_id`, which starts with ``{lang}/``: the id itself when
  the loader's ids already name their language that way (``ids_name_language``: LAReQA's
  ``de/p0001/s3``), else the id with that prefix (``yo/123#0``: MIRACL's ids repeat across
  languages).

A query with no relevant candidate in a setting's pool is left out of that setting (the count is
reported); a query with none in any pool of the data is never encoded or scored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlbench.errors import MlbenchError
from mlbench.task import ALL, Setting, TaskSpec


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


@dataclass
class LangData:
    lang: str
    queries: Queries
    candidates: Candidates
    relevant: dict[str, list[str]]  # group -> relevant candidate ids in this language's pool


@dataclass
class TaskData:
    """A loaded task (or slice of one). ``files``: provenance per language (origin, checksums);
    ``subset``: how the data was cut (None-free dict, empty for the whole task); ``run_info``:
    loader facts recorded in the result's ``run`` section (e.g. corpus counts, pool subsets and
    whether the figures are comparable with official ones); ``warnings``: lines a run prints."""

    spec: TaskSpec
    langs: dict[str, LangData]
    parallel: bool
    ids_name_language: bool
    candidate_text: str
    source: str
    files: dict[str, dict[str, Any]]
    subset: dict[str, Any] = field(default_factory=dict)
    kinds: tuple[str, ...] = ()  # kinds of settings the data supports (default: the task's)
    run_info: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.kinds = self.kinds or self.spec.kinds

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.langs)

    def n_candidates(self) -> int:
        return sum(len(d.candidates) for d in self.langs.values())

    def relevant_ids(self, query_lang: str, group: str, pool_lang: str) -> list[str]:
        if pool_lang != query_lang and not self.parallel:
            return []
        return self.langs[pool_lang].relevant.get(group, [])

    def pool_id(self, lang: str, cid: str) -> str:
        """A candidate's id in a pool that mixes languages."""
        return cid if self.ids_name_language else f"{lang}/{cid}"

    def id_in_pool(self, setting: Setting, lang: str, cid: str) -> str:
        """A candidate's id in a setting's pool: its own id in a one-language pool."""
        return self.pool_id(lang, cid) if setting.pool == ALL else cid

    def relevant_in_pool(self, setting: Setting, group: str) -> list[str]:
        """Relevant candidate ids of a query group in a setting's pool (ids as in that pool)."""
        return [self.id_in_pool(setting, p, cid) for p in setting.pool_langs(self.languages)
                for cid in self.relevant_ids(setting.query_lang, group, p)]

    def evaluated(self, lang: str) -> np.ndarray:
        """Indices of the queries of ``lang`` with a relevant candidate in some pool of the data:
        the only ones a run encodes and scores."""
        pools = self.languages if self.parallel else (lang,)
        return np.asarray([i for i, g in enumerate(self.langs[lang].queries.groups)
                           if any(self.relevant_ids(lang, g, p) for p in pools)], dtype=np.int64)

    def left_out(self, setting: Setting) -> int:
        """Queries of the setting's language with no relevant candidate in its pool."""
        groups = self.langs[setting.query_lang].queries.groups
        return sum(1 for g in groups if not any(self.relevant_ids(setting.query_lang, g, p)
                                                for p in setting.pool_langs(self.languages)))
