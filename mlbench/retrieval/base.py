"""Retrieval backends: from a task's data and a model's scores to per-query metrics per setting.

A backend is chosen per task (``--backend``; ``auto`` by the data):

- ``exact`` (:mod:`mlbench.retrieval.exact`): every pool held in memory and ranked in full, so
  every metric is exact, ``map`` and the rank distance included. The default for pools held in
  memory (XQuAD-R, MLQA-R). A streamed pool is read into memory first (up to
  :data:`MEMORY_POOL_LIMIT` passages per language).
- ``topk`` (:mod:`mlbench.retrieval.topk`): pools searched with faiss (exact inner product, or an
  IVF/HNSW index with its recall against exact search reported) over the vector stores of streamed
  corpora, keeping the top ``depth`` per query; cut-off metrics up to the depth are exact, metrics
  that need the full ranking are refused. The default for streamed pools (MIRACL).

Both follow the tie rule of :mod:`mlbench.runs.ties`, find the judged ranks of each query
(:class:`mlbench.runs.JudgedRanks`) and score them with the one scorer
(:func:`mlbench.results.values.scored`), so they return the same
:class:`~mlbench.results.values.SettingValues` per setting: per-query values of every metric, the
multilingual diagnostics (own-language share of the top, and with a full ranking the rank
distance) and, when rankings are kept, each setting's :class:`~mlbench.runs.Run` and its
:class:`~mlbench.runs.Qrels`. Which backend a task gets is :func:`mlbench.retrieval.choose.choose`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from mlbench.data.model import TaskData
from mlbench.embedding.embed import Embeddings
from mlbench.encoders.base import Encoder, PoolScorer
from mlbench.errors import MlbenchError
from mlbench.metrics import Metric
from mlbench.options import OptionGroup
from mlbench.results.values import SettingValues
from mlbench.task import Setting

BACKENDS = ("auto", "exact", "topk")
SCORE_CHUNK_BYTES = 128 << 20  # exact backend: the most float32 scores held at once (query rows x columns)
MEMORY_POOL_LIMIT = 1_000_000
FULL_DEPTH = 1 << 40  # a kept ranking of every candidate (--keep-rankings full): cuts are at min(depth, pool)


@dataclass
class SearchOptions(OptionGroup):
    backend: str = "auto"
    index: str = "exact"  # topk: exact | ivf[:nlist=..,nprobe=..] | hnsw[:M=..,efConstruction=..,efSearch=..]
    depth: int = 100  # topk: passages kept per query
    chunk_rows: int | None = None  # exact: query rows scored at once (default: SCORE_CHUNK_BYTES of scores)

    # chunk_rows is an API setting (RunConfig.search.chunk_rows): no command has a flag for it
    FLAGS: ClassVar[dict[str, str]] = {"backend": "--backend", "index": "--index", "depth": "--depth",
                                       "chunk_rows": "search.chunk_rows"}
    APPLIES_TO: ClassVar[str] = "retrieval"

    def check(self) -> None:
        if self.backend not in BACKENDS:
            raise MlbenchError(f"--backend {self.backend!r} is not one of {', '.join(BACKENDS)}")
        if self.depth <= 0:
            raise MlbenchError(f"--depth must be positive, got {self.depth}")
        if self.chunk_rows is not None and self.chunk_rows <= 0:
            raise MlbenchError(f"{self.FLAGS['chunk_rows']} must be positive, got {self.chunk_rows}")
        from mlbench.retrieval.search import parse_index

        parse_index(self.index)


@dataclass
class Job:
    """One task's retrieval: the data, its settings, the metrics, the model and (dense models) the
    run's embeddings. ``keep``: ranking depth to keep per query for a run export (0: none)."""

    data: TaskData
    settings: list[Setting]
    metrics: list[str]
    model: Encoder | PoolScorer
    vectors: Embeddings | None
    keep: int = 0


@dataclass
class Retrieved:
    results: list[SettingValues]
    info: dict[str, Any]  # the result's run.search
    timings: dict[str, float]  # seconds, by step


class Backend(Protocol):
    name: str
    full_ranking: bool

    def check(self, metrics: list[Metric], model: Encoder | PoolScorer | None, keep: int) -> None:
        """Refuse, before any work, what this backend cannot give exactly."""

    def prepare(self, data: TaskData) -> TaskData:
        """The data in the form this backend reads (e.g. a streamed pool read into memory)."""

    def run(self, job: Job, progress: Callable[[str, int], Callable[[int], None]] | None = None) -> Retrieved: ...
