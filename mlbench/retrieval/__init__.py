"""Retrieval: the tie rule (:mod:`~mlbench.retrieval.ties`), and two backends behind one protocol
(:mod:`~mlbench.retrieval.base`): ``exact`` full ranking in memory
(:mod:`~mlbench.retrieval.exact`, ranks by :mod:`~mlbench.retrieval.fullrank`) and ``topk`` faiss
search (:mod:`~mlbench.retrieval.topk`, :mod:`~mlbench.retrieval.search`)."""

from mlbench.retrieval.base import BACKENDS, Backend, Job, Retrieved, SearchOptions, SettingResult, choose

__all__ = ["BACKENDS", "Backend", "Job", "Retrieved", "SearchOptions", "SettingResult", "choose"]
