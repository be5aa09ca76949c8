"""Which retrieval backend a task runs on: the one asked for, or by where its candidates live."""

from __future__ import annotations

from mlbench.errors import MlbenchError
from mlbench.retrieval.base import Backend, SearchOptions
from mlbench.retrieval.exact import ExactBackend
from mlbench.retrieval.topk import TopkBackend


def choose(options: SearchOptions, in_memory: bool) -> Backend:
    """``exact`` for pools held in memory (LAReQA), ``topk`` for streamed ones (MIRACL), unless
    ``--backend`` names one; an option of the other backend is refused by its flag."""
    name = options.backend if options.backend != "auto" else ("exact" if in_memory else "topk")
    if name == "exact":
        used = [flag for flag in options.given() if flag in ("--index", "--depth")]
        if used:
            raise MlbenchError(f"{used[0]} applies to the topk backend; this task runs on the exact backend "
                               "(full ranking in memory; give --backend topk to search with faiss)")
        return ExactBackend(options.chunk_rows)
    if options.FLAGS["chunk_rows"] in options.given():
        raise MlbenchError(f"{options.FLAGS['chunk_rows']} applies to the exact backend, not to --backend topk")
    return TopkBackend(options.index, options.depth)
