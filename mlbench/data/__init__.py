"""Data: every task loaded into one interface (:mod:`mlbench.data.model`) by its format's loader
(:mod:`mlbench.data.loaders`): ``lareqa`` files (:mod:`mlbench.data.lareqa`, verified by
:mod:`mlbench.data.sources`) and ``ir_datasets`` corpora (:mod:`mlbench.data.corpus`, read through
:mod:`mlbench.data.irds`). The XQuAD-R files ship in ``embedded/``."""

from mlbench.data.loaders import Loader, LoadRequest, get_loader, load, load_task, request
from mlbench.data.model import LangData, MemoryCandidates, Queries, StreamedCandidates, TaskData

__all__ = ["LangData", "LoadRequest", "Loader", "MemoryCandidates", "Queries", "StreamedCandidates", "TaskData",
           "get_loader", "load", "load_task", "request"]
