"""Retrieval: two backends behind one protocol (:mod:`~mlbench.retrieval.base`), chosen per task
(:mod:`~mlbench.retrieval.choose`): ``exact`` full ranking in memory
(:mod:`~mlbench.retrieval.exact`, ranks by :mod:`~mlbench.retrieval.fullrank`) and ``topk`` faiss
search (:mod:`~mlbench.retrieval.topk`, :mod:`~mlbench.retrieval.search`). The tie rule both follow
is :mod:`mlbench.runs.ties`."""

from mlbench.retrieval.base import BACKENDS, Backend, Job, Retrieved, SearchOptions

__all__ = ["BACKENDS", "Backend", "Job", "Retrieved", "SearchOptions"]
